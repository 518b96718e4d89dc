"""Each torchvision data module reads the files where torchvision's own dataset class does, and
a missing file is named with the folder and both fixes."""

import pytest
from torchvision import datasets

import ridgeline.data as data
from ridgeline.config.builds import data_module
from ridgeline.data import DATASETS, MissingDataError, TorchvisionDataModule

VISION = sorted(n for n, cls in DATASETS.items() if issubclass(cls, TorchvisionDataModule))


def test_the_torchvision_datasets_are_registered():
    assert VISION == ["cifar10", "cifar100", "fashion_mnist", "mnist"]


@pytest.mark.parametrize("name", VISION)
def test_files_in_place_are_what_torchvision_finds(tmp_path, name):
    """Empty files at the expected paths: the data module finds all of them, and torchvision's
    own existence check (MNIST) or file list (CIFAR) agrees."""
    dm = data_module(name, root=str(tmp_path))
    with pytest.raises(MissingDataError):
        dm.check_available()
    dm.data_dir.mkdir(parents=True)
    for f in dm.expected_files():
        (dm.data_dir / f).touch()
    dm.check_available()
    cls = dm.dataset_cls
    if issubclass(cls, datasets.MNIST):
        assert cls._check_exists(_bare(cls, tmp_path))
    else:
        listed = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        assert sorted(p.name for p in dm.data_dir.iterdir()) == sorted(listed)


def _bare(cls, root):
    """A torchvision MNIST-like dataset object with only its root set (no file is read)."""
    obj = cls.__new__(cls)
    obj.root = str(root)
    return obj


def test_a_missing_file_names_the_folder_and_both_fixes(tmp_path):
    dm = data_module("cifar100", root=str(tmp_path))
    with pytest.raises(MissingDataError) as err:
        dm.check_available()
    message = str(err.value)
    assert str(tmp_path / "cifar-100-python") in message
    assert "data.download=true" in message and "copy the cifar100 files" in message


def test_data_module_names_are_the_config_targets():
    for name, cls in DATASETS.items():
        assert getattr(data, cls.__name__) is cls and cls.name == name
