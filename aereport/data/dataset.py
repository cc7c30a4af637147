"""A dataset: images in [0, 1] with optional labels, validated once, whatever it was read from.

>>> ds = Dataset.from_arrays(np.zeros((2, 4, 4)), name="zeros")
>>> len(ds), ds.image_shape
(2, (4, 4))
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from .._validation import AEReportError


UNLABELLED = "all"  # the one category of a dataset without labels


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

    @property
    def categories(self) -> list[str]:
        """The display names of the labels, in code order (one, ``"all"``, without labels).

        >>> Dataset.from_arrays(np.zeros((2, 1, 1)), [0, 2]).categories
        ['0', '1', '2']
        """
        if self.labels is None:
            return [UNLABELLED]
        n = int(self.labels.max()) + 1
        return [self.label_text(i) for i in range(max(n, len(self.label_names or ())))]

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
    try:
        arr = np.asarray(images)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects NumPy cannot stack
        raise AEReportError(f"{source}: expected a numeric image array", error=str(exc).splitlines()[0]) from None
    if arr.dtype == object or np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number)
                                                           or arr.dtype == bool):
        raise AEReportError(f"{source}: expected a numeric image array", dtype=str(arr.dtype))
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise AEReportError(f"{source}: expected images of shape (N, H, W) or (N, H, W, 3); flat images "
                            "(N, H*W) need reshaping to (N, H, W) first (explore: image_shape=(H, W))", shape=arr.shape)
    if arr.shape[0] == 0:
        raise AEReportError(f"{source}: expected at least one image", shape=arr.shape)
    if min(arr.shape[1:3]) < 1:
        raise AEReportError(f"{source}: images must be at least 1×1 pixel", shape=arr.shape)
    if arr.dtype == np.uint8:
        # One lookup, one array: astype then divide made two (a 70k MNIST: 0.85 s -> 0.2 s), with
        # the same float32 values.
        return _UNIT[arr]
    bad = ~np.isfinite(arr)  # checked before the cast: a huge float64 would become inf
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(arr), -1).any(axis=1))[0, 0])
        raise AEReportError(f"{source}: images contain NaN or infinite values; expected finite pixel values in [0, 1]",
                            first_bad_image=first)
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 1:
        raise AEReportError(f"{source}: expected pixel values in [0, 1] (or uint8 0..255)", min=lo, max=hi)
    return arr.astype(np.float32, copy=False)


def validate_labels(labels, n: int, source: str) -> np.ndarray:
    """Return ``labels`` as an int64 array of length ``n``, or raise naming ``source``.

    >>> validate_labels([1.0, 2.0], 2, "y").dtype
    dtype('int64')
    """
    try:
        arr = np.asarray(labels)
    except (ValueError, TypeError) as exc:
        raise AEReportError(f"{source}: expected one integer label per image", error=str(exc).splitlines()[0]) from None
    if arr.ndim != 1 or len(arr) != n:
        raise AEReportError(f"{source}: expected one label per image ({n} labels)", labels_shape=arr.shape)
    if not np.issubdtype(arr.dtype, np.number):
        # Text labels become codes; the names are kept by the caller where it has them.
        raise AEReportError(f"{source}: expected integer labels (text labels: pass codes and label_names)",
                            dtype=str(arr.dtype))
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise AEReportError(f"{source}: expected integer labels", first_non_integer=float(arr[bad][0]))
    out = arr.astype(np.int64)
    if out.min() < 0:
        raise AEReportError(f"{source}: expected labels >= 0", min=int(out.min()))
    return out
