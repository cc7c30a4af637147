"""Images from NumPy files: ``.npy`` (one array) or ``.npz`` (images, labels and more by name).

Headers are read before any data: an array is loaded only if the file holds all the bytes its
header promises and this machine has the memory for it (a header claiming 2.8 PiB used to end in
a ``MemoryError``), and never through pickle.

>>> load_array("digits.npz").images.shape  # doctest: +SKIP
(100, 28, 28)
"""
from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from .._validation import AEReportError
from ..files import as_path, check_memory, regular_file
from .dataset import Dataset

# What NumPy raises for damaged .npy/.npz files (a .npz is a zip archive).
NUMPY_FILE_ERRORS = (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile, KeyError)
NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def _check_header(f, source: str, size: int | None = None) -> None:
    """Read a .npy header from ``f`` and refuse what cannot be loaded: objects (pickle), more bytes
    than the file holds (of ``size``, when known), more than this machine's memory."""
    try:
        version = np.lib.format.read_magic(f)
        reader = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"unknown .npy format version {version}")
        shape, _, dtype = reader(f, max_header_size=10000)
    except Exception as exc:  # noqa: BLE001 - NumPy parses the header with literal_eval: any error it meets
        raise AEReportError(f"{source}: not a readable .npy header", error=f"{type(exc).__name__}: {exc}") from None
    if dtype.hasobject:
        raise AEReportError(f"{source}: holds Python objects, which load only through pickle; expected numbers",
                            dtype=str(dtype))
    count = int(np.prod(shape, dtype=object))
    nbytes = count * dtype.itemsize
    if size is not None and nbytes > size - f.tell():
        raise AEReportError(f"{source}: its header promises {nbytes:,} bytes of data but the file holds "
                            f"{size - f.tell():,}; the file is truncated or corrupt", shape=shape)
    # the array, and the float32 images made of it
    check_memory(nbytes + 4 * count, source, f"an array of shape {shape}")


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """The array of a ``.npy`` file, after its header is checked.

    >>> load_npy("labels.npy").shape  # doctest: +SKIP
    (100,)
    """
    path = regular_file(as_path(path, "path"), "a .npy file")
    with open(path, "rb") as f:
        _check_header(f, str(path), os.fstat(f.fileno()).st_size)
        f.seek(0)
        return np.load(f, allow_pickle=False)


@contextlib.contextmanager
def open_npz(path: Path) -> Iterator[np.lib.npyio.NpzFile]:
    """``np.load`` of a ``.npz`` archive whose every member's header was checked first."""
    path = regular_file(path, "a .npz file")
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".npy"):
                with archive.open(info) as member:
                    _check_header(member, f"{path} ({info.filename})", None)
                    check_memory(info.file_size, f"{path} ({info.filename})", "its data")
    with np.load(path, allow_pickle=False) as f:
        yield f


def load_array(path: str | os.PathLike, labels: str | os.PathLike | None = None,
               name: str | None = None) -> Dataset:
    """Images from a ``.npy`` file, or a ``.npz`` holding ``images``/``x`` (and ``labels``/``y``,
    optionally ``label_names`` and a boolean ``test_mask``). Which one a file is, its content says.

    >>> load_array("digits.npz").images.shape  # doctest: +SKIP
    (100, 28, 28)
    """
    path = regular_file(as_path(path, "path"), "a .npy or .npz image array")
    if name is not None and not isinstance(name, str):
        raise AEReportError("name must be a str", name=name)
    with open(path, "rb") as f:
        magic = f.read(6)
    y = names = test = None
    try:
        if magic.startswith(NPY_MAGIC):
            x = load_npy(path)
        elif magic.startswith(ZIP_MAGIC):
            with open_npz(path) as f:
                xkey = next((k for k in ("images", "x", "X") if k in f.files), None)
                if xkey is None:
                    raise AEReportError(f"{path}: expected an array named 'images' or 'x'", arrays=sorted(f.files))
                x = f[xkey]
                ykey = next((k for k in ("labels", "y") if k in f.files), None)
                y = f[ykey] if ykey else None
                names = f["label_names"].tolist() if "label_names" in f.files else None
                test = f["test_mask"] if "test_mask" in f.files else None
        else:
            raise AEReportError(f"{path}: expected a .npy or .npz file (NumPy's formats)", first_bytes=magic.hex())
    except NUMPY_FILE_ERRORS as exc:
        if isinstance(exc, AEReportError):
            raise
        raise AEReportError(f"{path}: not a readable numpy file", error=str(exc).splitlines()[0] if str(exc) else
                            type(exc).__name__) from None
    if labels is not None:
        lp = as_path(labels, "labels")
        try:
            y = load_npy(lp)
        except NUMPY_FILE_ERRORS as exc:
            if isinstance(exc, AEReportError):
                raise
            raise AEReportError(f"{lp}: not a readable .npy label file", error=str(exc).splitlines()[0]) from None
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, (str, int)) for n in names)):
        raise AEReportError(f"{path}: label_names must be a 1-D array of names", label_names=names)
    if test is not None and (test.shape != (len(x),) if x.ndim else True):
        raise AEReportError(f"{path}: test_mask must hold one bool per image", shape=test.shape)
    return Dataset.from_arrays(x, y, name=name or path.stem, label_names=names, test_mask=test, source=str(path))
