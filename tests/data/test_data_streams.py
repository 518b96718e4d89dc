import pytest
import torch

from ridgeline.data import CropFlip, StreamLoader, StreamSeeds

N_TRAIN, BATCH = 70, 8  # 8 batches per epoch, 6 examples dropped


ONE_STREAM = (StreamSeeds(0, 0),)


def loader(streams=ONE_STREAM, augment=True, **kwargs):
    """Inputs whose pixels encode the example index, labels equal to the index."""
    x = torch.arange(N_TRAIN, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)
    y = torch.arange(N_TRAIN)
    return StreamLoader(x, y, streams, BATCH, CropFlip(padding=1) if augment else None, **kwargs)


def epoch(dl):
    return [(x.clone(), y.clone()) for x, y in dl]


def assert_same(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_shapes_length_and_drop_last():
    streams = [StreamSeeds(i, i) for i in range(3)]
    batches = epoch(loader(streams))
    assert len(loader(streams)) == len(batches) == N_TRAIN // BATCH
    x, y = batches[0]
    assert x.shape == (3, BATCH, 1, 4, 4) and y.shape == (3, BATCH)
    assert y.dtype == torch.long


def test_each_epoch_is_a_permutation_and_epochs_differ():
    dl = loader(augment=False)
    first, second = epoch(dl), epoch(dl)
    for batches in (first, second):
        seen = torch.cat([y[0] for _, y in batches])
        assert len(seen) == len(set(seen.tolist())) == N_TRAIN // BATCH * BATCH
    assert not torch.equal(first[0][1], second[0][1])
    assert dl.state_dict() == {"epoch": 1, "batch_idx": N_TRAIN // BATCH}


def test_reproducible_and_independent_of_global_seed_and_other_streams():
    torch.manual_seed(1)
    a = epoch(loader([StreamSeeds(3, 4)]))
    torch.manual_seed(2)
    b = epoch(loader([StreamSeeds(7, 7), StreamSeeds(3, 4)]))
    assert_same(a, [(x[1:], y[1:]) for x, y in b])


def test_seeds_change_order_and_augmentation_separately():
    base = epoch(loader([StreamSeeds(0, 0)]))
    other_data = epoch(loader([StreamSeeds(1, 0)]))
    other_aug = epoch(loader([StreamSeeds(0, 1)]))
    assert not torch.equal(base[0][1], other_data[0][1])
    assert torch.equal(base[0][1], other_aug[0][1])
    assert not torch.equal(base[0][0], other_aug[0][0])


def test_global_rng_untouched():
    state = torch.get_rng_state()
    epoch(loader([StreamSeeds(0, 0), StreamSeeds(1, 1)]))
    assert torch.equal(torch.get_rng_state(), state)


def test_ddp_shards_concatenate_to_the_single_process_batch():
    streams = [StreamSeeds(0, 5), StreamSeeds(1, 6)]
    whole = epoch(loader(streams))
    r0 = epoch(loader(streams, rank=0, world_size=2))
    r1 = epoch(loader(streams, rank=1, world_size=2))
    assert r0[0][0].shape == (2, BATCH // 2, 1, 4, 4)
    joined = [
        (torch.cat([a[0], b[0]], 1), torch.cat([a[1], b[1]], 1))
        for a, b in zip(r0, r1, strict=True)
    ]
    assert_same(whole, joined)


def test_batch_size_must_divide_by_world_size():
    with pytest.raises(ValueError, match="data.batch_size=8 must be divisible.*3"):
        loader(world_size=3)


@pytest.mark.parametrize("stop", [0, 3, N_TRAIN // BATCH])
def test_state_dict_resumes_at_the_next_batch(stop):
    reference = loader()
    full = epoch(reference) + epoch(reference) + epoch(reference)
    interrupted = loader()
    iterator = iter(interrupted)
    for _ in range(stop):
        next(iterator)
    resumed = loader()
    resumed.load_state_dict(interrupted.state_dict())
    rest = epoch(resumed) + epoch(resumed)  # the rest of the epoch, then the next one
    per_epoch = N_TRAIN // BATCH
    assert len(rest) == 2 * per_epoch - stop % per_epoch
    assert_same(full[stop : stop + len(rest)], rest)


def test_unconsumed_iter_does_not_advance_and_set_epoch_repeats():
    dl = loader()
    iter(dl)  # Lightning probes iterability once before training
    first = epoch(dl)
    assert_same(first, epoch(loader()))
    dl.set_epoch(0)
    assert_same(first, epoch(dl))
    assert_same(epoch(dl), epoch(loader(epoch=1)))
