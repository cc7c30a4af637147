"""Which samples: inside a drawn box or lasso, nearest a position, nearest a sample.

Pure numpy/scipy, shared by the views (linked selection, hover, neighbours) and the tests.

>>> xy = np.array([[0, 0], [1, 1], [5, 5]], float)
>>> in_box(xy, (-1, -1, 2, 2)).tolist()
[0, 1]
"""
from __future__ import annotations

import numpy as np


def in_box(xy: np.ndarray, bounds) -> np.ndarray:
    """Indices of the points inside ``bounds = (x0, y0, x1, y1)`` (either corner order).

    >>> in_box(np.array([[0.5, 0.5]]), (1, 1, 0, 0)).tolist()
    [0]
    """
    x0, y0, x1, y1 = bounds
    keep = ((xy[:, 0] >= min(x0, x1)) & (xy[:, 0] <= max(x0, x1))
            & (xy[:, 1] >= min(y0, y1)) & (xy[:, 1] <= max(y0, y1)))
    return np.flatnonzero(keep)


def in_polygon(xy: np.ndarray, polygon) -> np.ndarray:
    """Indices of the points inside a closed ``polygon`` ((m, 2) vertices; even-odd rule).

    >>> in_polygon(np.array([[0.5, 0.5], [2, 2]]), [(0, 0), (1, 0), (1, 1), (0, 1)]).tolist()
    [0]
    """
    poly = np.asarray(polygon, np.float64)
    if poly.ndim != 2 or len(poly) < 3:
        return np.zeros(0, np.int64)
    x, y = xy[:, 0:1].astype(np.float64), xy[:, 1:2].astype(np.float64)
    (ax, ay), (bx, by) = poly.T, np.roll(poly, -1, axis=0).T
    # Only points within the polygon's bounding box can be inside: test those against every edge.
    box = in_box(xy, (poly[:, 0].min(), poly[:, 1].min(), poly[:, 0].max(), poly[:, 1].max()))
    x, y = x[box], y[box]
    crosses = (ay > y) != (by > y)
    # Edges the ray does not cross divide by 0 (their result is unused); a nearly flat edge it
    # crosses can overflow to ±inf, which compares as the huge true value would.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        at = ax + (y - ay) * (bx - ax) / (by - ay)
    inside = (crosses & (x < at)).sum(axis=1) % 2 == 1
    return box[inside]


def nearest_pixels(images: np.ndarray, index: int, k: int, norms: np.ndarray | None = None) -> np.ndarray:
    """The ``k`` samples nearest sample ``index`` in pixel space (Euclidean), nearest first,
    itself excluded. ``norms``: precomputed squared norms of the flattened images (faster).

    >>> nearest_pixels(np.array([[0.], [3.], [1.], [10.]]), 0, 2).tolist()
    [2, 1]
    """
    flat = images.reshape(len(images), -1)
    norms = (flat * flat).sum(axis=1) if norms is None else norms
    d = norms - 2 * flat @ flat[index] + norms[index]
    d[index] = np.inf
    k = min(k, len(images) - 1)
    part = np.argpartition(d, k)[:k] if k < len(d) else np.arange(len(d))
    return part[np.argsort(d[part], kind="stable")][:k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of ``a``'s samples that ``b`` holds too: how many of a sample's true
    neighbours a projection keeps next to it (1.0 = all).

    >>> overlap(np.array([1, 2, 3, 4]), np.array([4, 3, 9, 8]))
    0.5
    """
    return len(np.intersect1d(a, b)) / max(len(a), 1)
