"""The file layout checked before Lightning is imported equals torchvision's own."""

import os
from pathlib import Path

import pytest
from torchvision import datasets

from ridgeline.data import files

CLASSES = {
    "mnist": datasets.MNIST,
    "fashion_mnist": datasets.FashionMNIST,
    "cifar10": datasets.CIFAR10,
    "cifar100": datasets.CIFAR100,
}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_layout_matches_torchvision(name):
    cls = CLASSES[name]
    if issubclass(cls, datasets.MNIST):
        folder = Path(cls.__name__) / "raw"
        names = [os.path.basename(url).removesuffix(".gz") for url, _ in cls.resources]
    else:
        folder = Path(cls.base_folder)
        names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    assert files.data_dir(name, "/r") == Path("/r") / folder
    assert sorted(files.expected_files(name)) == sorted(names)


def test_check_files_names_the_path_and_both_fixes(tmp_path):
    with pytest.raises(files.MissingDataError) as err:
        files.check_files("cifar100", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "cifar-100-python") in message
    assert "data.download=true" in message and "copy the cifar100 files" in message
    files.check_files("mnist_mini", tmp_path)  # not a torchvision dataset: nothing to check


def test_data_module_names_are_the_config_targets():
    import ridgeline.data as data

    for name, cls_name in files.DATA_MODULES.items():
        assert getattr(data, cls_name).name == name
