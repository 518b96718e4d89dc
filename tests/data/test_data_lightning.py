"""The stream loader inside a real Trainer: epochs advance, and a mid-epoch resume continues."""

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import ModelCheckpoint

from ridgeline.config.builds import data_module
from ridgeline.data import StreamSeeds


class Recorder(pl.LightningModule):
    """Records the labels of every training batch; trains a linear layer per stream."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 3)
        self.seen: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.seen.append(y.clone())
        return F.cross_entropy(self.layer(x.flatten(2)).flatten(0, 1), y.flatten())

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.layer(x.flatten(1)), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(tmp_path, ckpt_path=None):
    dm = data_module("synthetic", n_train=40, n_test=10, dim=4, num_classes=3, batch_size=8)
    dm.set_streams([StreamSeeds(0, 0), StreamSeeds(1, 1)])
    module = Recorder()
    checkpoint = ModelCheckpoint(tmp_path / "ckpt", every_n_train_steps=7, save_top_k=-1)
    trainer = pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        use_distributed_sampler=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[checkpoint],
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    return module.seen


@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_trainer_epochs_and_mid_epoch_resume(tmp_path):
    seen = fit(tmp_path)
    assert len(seen) == 15  # 3 epochs of 5 batches
    for e in range(3):
        labels = torch.cat(seen[5 * e : 5 * e + 5], dim=1)
        assert all(sorted(row.tolist()) == sorted(labels[0].tolist()) for row in labels)
    assert not torch.equal(seen[0], seen[5])  # each epoch a new order
    resumed = fit(tmp_path / "again", ckpt_path=tmp_path / "ckpt" / "epoch=1-step=7.ckpt")
    assert len(resumed) == 8  # epoch 1 from its third batch, then epoch 2
    assert all(torch.equal(a, b) for a, b in zip(seen[7:], resumed, strict=True))
