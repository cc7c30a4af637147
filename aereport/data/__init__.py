"""Image datasets: one registry of named loaders, each returning a validated :class:`Dataset`.

Every loader returns images as float32 in [0, 1] with shape ``N×H×W`` (grayscale) or
``N×H×W×C`` (C = 3), plus optional integer labels. Each format has its module: ``idx``
(MNIST and Fashion-MNIST), ``folder`` (picture files), ``arrays`` (``.npy``/``.npz``); every
file is read only if it is a regular file and fits in memory (:mod:`aereport.files`). Nothing
here imports a UI library.

>>> ds = load_dataset("mnist-sample")
>>> ds.images.shape, ds.images.dtype
((5000, 28, 28), dtype('float32'))
"""
from __future__ import annotations

import inspect
from typing import Callable

from .._validation import AEReportError, check_choice
from .arrays import load_array
from .dataset import Dataset, validate_images, validate_labels
from .folder import IMAGE_SUFFIXES, load_folder
from .idx import (DATA_DIR_ENV, FASHION_NAMES, MNIST_FILES, load_fashion_mnist, load_mnist, load_mnist_sample,
                  read_idx)

__all__ = ["DATASETS", "DATA_DIR_ENV", "DEFAULT_DATASET", "Dataset", "FASHION_NAMES", "IMAGE_SUFFIXES",
           "MNIST_FILES", "load_array", "load_dataset", "load_fashion_mnist", "load_folder", "load_mnist",
           "load_mnist_sample", "read_idx", "validate_images", "validate_labels"]

DATASETS: dict[str, Callable[..., Dataset]] = {
    "mnist-sample": load_mnist_sample,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "folder": load_folder,
    "array": load_array,
}
DEFAULT_DATASET = "mnist-sample"


def load_dataset(name: str = DEFAULT_DATASET, /, **options) -> Dataset:
    """Load a dataset from the registry by name.

    Parameters
    ----------
    name : one of ``DATASETS``: 'mnist-sample' (embedded, offline), 'mnist', 'fashion-mnist',
        'folder', 'array'
    options : the loader's keyword arguments (``data_dir``, ``path``, ``size``, ``color``, ...)

    >>> load_dataset("mnist-sample").label_names[:3]
    ('0', '1', '2')
    """
    check_choice("dataset", name, DATASETS)
    loader = DATASETS[name]
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise AEReportError(f"dataset {name!r} takes {', '.join(accepted) or 'no options'}", unknown=unknown)
    given = {k: v for k, v in options.items() if v is not None}
    needed = [k for k, p in accepted.items() if p.default is inspect.Parameter.empty and k not in given]
    if needed:
        flags = ", ".join(f"{k}= (CLI: --{k.replace('_', '-')})" for k in needed)
        raise AEReportError(f"dataset {name!r} needs {flags}", options=given)
    return loader(**given)
