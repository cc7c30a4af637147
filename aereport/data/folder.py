"""Images from a folder of picture files (JPEG, PNG, ...), labelled by subfolder or a labels file.

Every file's header is read before its pixels: an image larger than :data:`MAX_PIXELS` (a
decompression bomb, or ``--size 100000x100000``) is refused, and so is a folder whose images
would not fit in this machine's memory. Any bit depth reads as [0, 1]: a 16-bit PNG by its
16-bit range, not clipped to 8 bits.

>>> load_folder("../shared/data/faces/celeba", size=(64, 52)).images.shape  # doctest: +SKIP
(1500, 64, 52)
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from .._validation import AEReportError, check_choice, check_positive_int
from ..files import as_path, check_memory, read_text
from .dataset import Dataset

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS), per image
# Pillow's modes of more than 8 bits a channel, and the value that is white in each
_WIDE = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1.0}


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        h, w = (int(s) for s in size)
        ok = [h, w] == list(size) and min(h, w) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise AEReportError("size must be (height, width) with positive integers", size=size)
    if h * w > MAX_PIXELS:
        raise AEReportError(f"size must be at most {MAX_PIXELS:,} pixels an image", size=size)
    return h, w


def _fit_size(img, size: tuple[int, int]):
    """Resize to cover ``size`` (H, W) keeping the aspect ratio, then center-crop."""
    from PIL import Image

    h, w = size
    scale = max(h / img.height, w / img.width)
    new = (max(w, round(img.width * scale)), max(h, round(img.height * scale)))
    img = img.resize(new, Image.Resampling.LANCZOS)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def _open(path: Path):
    """``PIL.Image.open`` without its warning of a large image: the size is checked by the caller."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def read_image(path: Path, color: str = "gray", size: tuple[int, int] | None = None) -> np.ndarray:
    """One picture file, (H, W) gray or (H, W, 3) RGB, resized to ``size``: uint8 for 8-bit files,
    float32 in [0, 1] for wider ones (16-bit PNGs, float TIFFs).

    >>> read_image(Path("a.png")).dtype  # doctest: +SKIP
    dtype('uint8')
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with _open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise AEReportError(f"{path}: image is {img.width}×{img.height} pixels, more than the "
                                    f"{MAX_PIXELS:,} an image may have", pixels=img.width * img.height)
            if img.mode in _WIDE:
                # Pillow's 8-bit conversion clips a 16-bit image at 255 (nearly all white): scale instead.
                img.load()
                white = _WIDE[img.mode]
                gray = Image.fromarray(np.asarray(img, np.float32) / np.float32(white), "F")
                if size is not None:
                    gray = _fit_size(gray, size)
                arr = np.clip(np.asarray(gray, np.float32), 0, 1)
                return np.repeat(arr[..., None], 3, axis=-1) if color == "rgb" else arr
            img = img.convert("L" if color == "gray" else "RGB")
            if size is not None:
                img = _fit_size(img, size)
            return np.asarray(img, np.uint8)
    except AEReportError:
        raise
    except Image.DecompressionBombError as exc:
        raise AEReportError(f"{path}: image is larger than an image may be (a decompression bomb?)",
                            error=str(exc).splitlines()[0]) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise AEReportError(f"{path}: not a readable image", error=str(exc).splitlines()[0] if str(exc) else
                            type(exc).__name__) from None


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

    check_choice("color", color, ["gray", "rgb"])
    if limit is not None:
        check_positive_int("limit", limit)
    size = _check_size(size)
    root = as_path(path, "path")
    if not root.is_dir():
        raise AEReportError(f"{root}: not a folder; expected a folder of image files", path=str(root))
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if limit is not None:
        files = files[:limit]
    if not files:
        raise AEReportError(f"{root}: no image files found (looked for {', '.join(IMAGE_SUFFIXES)})", path=str(root))
    labels_path = as_path(labels, "labels") if labels is not None else None  # a bad one refused before the pixels
    if size is None:  # the first file's size stands for all (others must match it)
        try:
            with _open(files[0]) as first:
                shape = (first.height, first.width)
        except Exception:  # noqa: BLE001 - read_image below says what is wrong with it
            shape = (1, 1)
    else:
        shape = size
    channels = 3 if color == "rgb" else 1
    check_memory(len(files) * shape[0] * shape[1] * channels * 4, str(root), f"{len(files):,} images")

    arrays, first = [], None
    for p in files:
        arr = read_image(p, color, size)
        if first is None:
            first = (p, arr.shape)
        elif arr.shape != first[1]:
            raise AEReportError(
                f"{p}: image is {arr.shape[1]}×{arr.shape[0]} but {first[0].name} is "
                f"{first[1][1]}×{first[1][0]}; pass size=(height, width) (CLI: --size HxW) to resize",
                shape=arr.shape[:2])
        arrays.append(arr)

    if any(a.dtype != np.uint8 for a in arrays):  # a wider file among them: all as [0, 1] floats
        arrays = [a.astype(np.float32) / np.float32(255) if a.dtype == np.uint8 else a for a in arrays]
    y, names = None, None
    if labels_path is not None:
        y, names = _labels_from_file(labels_path, files)
    elif len({p.parent for p in files}) > 1:
        # ImageFolder convention: one subfolder per class.
        y, names = _codes([p.parent.relative_to(root).as_posix() for p in files])
    return Dataset.from_arrays(np.stack(arrays), y, name=root.name, label_names=names, source=str(root))


def _codes(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    names = sorted(set(values))
    lookup = {v: i for i, v in enumerate(names)}
    return np.array([lookup[v] for v in values], np.int64), names


def _labels_from_file(path: Path, files: Sequence[Path]) -> tuple[np.ndarray, list[str]]:
    if not path.exists():
        raise AEReportError(f"{path}: labels file not found; expected lines of '<file name> <label>'",
                            labels=str(path))
    table = {}
    for n, line in enumerate(read_text(path, "a labels file of '<file name> <label>' lines").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise AEReportError(f"{path}:{n}: expected '<file name> <label>'", line=line)
        table[parts[0]] = parts[1]
    missing = [p.name for p in files if p.name not in table]
    if missing:
        raise AEReportError(f"{path}: no label for {len(missing)} image(s)", first_missing=missing[0])
    return _codes([table[p.name] for p in files])
