"""Positions on a layout → latent codes → images: the one place a position's code is worked out.

A :class:`LatentMap` holds a run's 2-D layouts, the latent code of every image and the decoder.
On the autoencoder's own 2-D latent plane a position *is* a code. On any other layout (UMAP,
t-SNE, PCA, or the 2-D view of a wider code) no inverse exists, and a position's code is the
inverse-distance-weighted mean of the codes of its ``k`` nearest samples: a tap between two
clusters blends them, a tap on a sample gives (nearly) its own code. Served views, notebooks and
the exported page all ask this object; the page, which has no neighbour search, gets a grid of
blended codes (:meth:`LatentMap.field`) that it interpolates as :func:`field_at` does (its
JavaScript twin, ``views/js/math.js``, is tested against it).

Pure: arrays in, arrays out, no UI, no files. A new model or a new layout makes a new map
(:meth:`LatentMap.replace`), so a tap running meanwhile sees one map or the other, never half.

>>> import numpy as np
>>> decoder = lambda z: np.repeat(z[:, :1], 4, axis=1).reshape(-1, 2, 2)
>>> m = LatentMap(decoder, np.array([[0.0, 0.0], [1.0, 1.0]]), {"ae": np.array([[0.0, 0.0], [1.0, 1.0]])})
>>> m.code_at("ae", 0.5, 0.25)[0].tolist()
[0.5, 0.25]
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ._validation import AEReportError, check_positive_int
from .selection import in_box, in_polygon

NEIGHBOURS = 8  # samples whose codes a position off the latent plane blends
MARGIN = 2  # positions decode up to this many data extents beyond the data, then are clamped
FAR = " (the position was far outside the data: moved to the edge of the decoded range)"


class LatentMap:
    """A run's layouts, codes and decoder: what a position on any layout decodes to.

    Parameters
    ----------
    decoder : a model with ``predict_on_batch(codes (m, d)) -> images (m, ...)``, or a function
    codes : (n, d) float array, every image's code; or a function returning it (called once, when
        first needed: encoding a whole dataset need not delay a server's start)
    layouts : ``{name: (n, 2) array}``
    direct : whether the 'ae' layout is the latent space itself (default: a 2-D code)
    k : how many nearest samples a blended code averages

    >>> m = LatentMap(decoder, codes, {"ae": codes, "umap": xy})  # doctest: +SKIP
    >>> image, how = m.decode("umap", 3.0, -1.5)                   # doctest: +SKIP
    """

    def __init__(self, decoder, codes, layouts: dict[str, np.ndarray], *, direct: bool | None = None,
                 k: int = NEIGHBOURS):
        self.decoder = decoder
        self.layouts = dict(layouts)
        self.k = check_positive_int("k", k)
        self._codes = codes if callable(codes) else np.asarray(codes, np.float32)
        self._direct = direct
        self._lock = threading.Lock()
        self._memo: dict = {}  # (what, layout) -> value, for arrays this map holds (see _once)

    # --- what the map holds ----------------------------------------------------------------------
    @property
    def codes(self) -> np.ndarray:
        """Every image's latent code, (n, d) float32."""
        if callable(self._codes):
            with self._lock:
                if callable(self._codes):
                    self._codes = np.asarray(self._codes(), np.float32)
        return self._codes

    @property
    def direct(self) -> bool:
        """Whether the 'ae' layout is the latent space itself, so a position there is a code."""
        if self._direct is None:
            return self.codes.shape[1] == 2
        return self._direct

    def replace(self, *, decoder=None, codes=None, **layouts: np.ndarray) -> "LatentMap":
        """A new map with some layouts (and the codes or decoder) replaced; what it shares with
        this one (the neighbour search of an unchanged layout) is not computed again.

        >>> m2 = m.replace(umap=new_xy)  # doctest: +SKIP
        """
        new = LatentMap(self.decoder if decoder is None else decoder, self._codes if codes is None else codes,
                        {**self.layouts, **layouts}, direct=self._direct, k=self.k)
        new._memo = {key: value for key, value in self._memo.items() if key[1] not in layouts}
        return new

    def check(self, layout: str) -> np.ndarray:
        """The points of ``layout``, or a clear error naming the layouts there are."""
        xy = self.layouts.get(layout)
        if xy is None:
            raise AEReportError(f"layout must be one of {sorted(self.layouts)}", layout=layout)
        return xy

    def _once(self, what: str, layout: str, compute: Callable):
        key = (what, layout)
        value = self._memo.get(key)
        if value is None:
            value = self._memo[key] = compute()
        return value

    def extent(self, layout: str) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest x and y of ``layout``'s points."""
        xy = self.check(layout)
        return self._once("extent", layout, lambda: (xy.min(axis=0), xy.max(axis=0)))

    def tree(self, layout: str):
        """A KD-tree over ``layout``'s points (built once per layout)."""
        from scipy.spatial import cKDTree

        xy = self.check(layout)
        return self._once("tree", layout, lambda: cKDTree(xy))

    # --- positions -> codes -> images ------------------------------------------------------------
    def clamp(self, layout: str, points) -> tuple[np.ndarray, np.ndarray]:
        """``points`` (m, 2) kept within the data's extent widened by ``MARGIN`` extents on every
        side, and which were moved.

        Beyond that a code is nothing the decoder was trained near: huge codes saturate it into
        the same meaningless blot (or overflow to NaN), a wrong picture with no word of why.
        """
        points = np.asarray(points, np.float64).reshape(-1, 2)
        if not np.isfinite(points).all():
            bad = points[~np.isfinite(points).all(axis=1)][0]
            raise AEReportError("position must be finite", x=float(bad[0]), y=float(bad[1]))
        lo, hi = self.extent(layout)
        span = np.maximum(hi - lo, 1e-6)
        clamped = np.clip(points, lo - MARGIN * span, hi + MARGIN * span)
        return clamped, (clamped != points).any(axis=1)

    def codes_at(self, layout: str, points) -> np.ndarray:
        """The code of each position ``points`` (m, 2) on ``layout``: (m, d) float32 (clamped as
        :meth:`clamp` says)."""
        points, _ = self.clamp(layout, points)
        if layout == "ae" and self.direct:
            return points.astype(np.float32)
        return self.blend(layout, points)

    def blend(self, layout: str, points: np.ndarray) -> np.ndarray:
        """The inverse-distance-weighted mean code of the ``k`` samples nearest each point."""
        codes = self.codes
        k = min(self.k, len(codes))
        dist, idx = self.tree(layout).query(np.asarray(points, np.float64).reshape(-1, 2), k=k)
        dist, idx = dist.reshape(len(points), -1), idx.reshape(len(points), -1)
        weights = 1.0 / np.maximum(dist, 1e-9)
        z = np.einsum("pk,pkd->pd", weights, codes[idx]) / weights.sum(axis=1, keepdims=True)
        return z.astype(np.float32)

    def how(self, layout: str, clamped: bool = False) -> str:
        """How a position on ``layout`` becomes a code, as the Decoder says it."""
        if layout == "ae" and self.direct:
            text = "decoder at this latent position"
        else:
            text = f"decoder at the weighted mean latent code of the {min(self.k, len(self.codes))} nearest samples"
        return text + (FAR if clamped else "")

    def code_at(self, layout: str, x: float, y: float) -> tuple[np.ndarray, str]:
        """The code for position ``(x, y)`` on ``layout``, and how it was found.

        >>> z, how = m.code_at("umap", 3.0, -1.5)  # doctest: +SKIP
        """
        points, moved = self.clamp(layout, [[x, y]])
        return self.codes_at(layout, points)[0], self.how(layout, bool(moved[0]))

    def decode_codes(self, codes: np.ndarray) -> np.ndarray:
        """The decoder's images of ``codes`` (m, d)."""
        codes = np.asarray(codes, np.float32)
        run = getattr(self.decoder, "predict_on_batch", self.decoder)
        return np.asarray(run(codes))

    def decode(self, layout: str, x: float, y: float) -> tuple[np.ndarray, str]:
        """The image for position ``(x, y)`` on ``layout``, and how it was made.

        >>> image, how = m.decode("ae", 10, 50)  # doctest: +SKIP
        """
        z, how = self.code_at(layout, x, y)
        return self.decode_codes(z[None])[0], how

    def path(self, layout: str, a, b, n: int = 7) -> np.ndarray:
        """Images decoded at ``n`` evenly spaced positions from ``a`` to ``b`` (both (x, y) on
        ``layout``, ends included): a walk through the latent space, (n, ...) in one batch.

        >>> m.path("ae", (0, 0), (2, 1), 9).shape  # doctest: +SKIP
        (9, 28, 28)
        """
        n = check_positive_int("n", n)
        t = np.linspace(0.0, 1.0, n)[:, None]
        points = (1 - t) * np.asarray(a, np.float64) + t * np.asarray(b, np.float64)
        return self.decode_codes(self.codes_at(layout, points))

    def spread(self) -> np.ndarray:
        """σ of each latent dimension over the dataset's codes (computed once per map)."""
        return self._once("spread", "", lambda: self.codes.std(axis=0))

    def traversal_spec(self, steps: int = 9, spread: float = 3.0, most: int = 8) -> dict:
        """What a traversal sweeps: ``dims``, the ``most`` dimensions whose codes spread widest
        (largest σ first), their ``sigma``, and ``steps`` images from ``-spread``·σ to
        ``+spread``·σ; JSON-ready, as the exported page's ``runtime.traverse`` reads it.

        >>> m.traversal_spec()["dims"]  # doctest: +SKIP
        [1, 6, 5, 4, 0, 2, 7, 3]
        """
        sigma = self.spread()
        dims = np.argsort(-sigma, kind="stable")[:check_positive_int("most", most)]
        return {"dims": dims.tolist(), "sigma": sigma[dims].tolist(), "steps": check_positive_int("steps", steps),
                "spread": float(spread)}

    def traversal(self, code: np.ndarray, spec: dict | None = None) -> np.ndarray:
        """Latent traversal around ``code`` (d,): for each dimension of ``spec``
        (:meth:`traversal_spec`; its defaults when None), its images sweeping that dimension alone
        around its value. Returns ``(rows, steps, H, W[, C])``; :func:`traversal_codes` gives the
        codes.

        >>> m.traversal(m.code_at("ae", 0.5, 1.0)[0]).shape  # doctest: +SKIP
        (8, 9, 28, 28)
        """
        spec = spec or self.traversal_spec()
        images = self.decode_codes(traversal_codes(code, spec["sigma"], spec["dims"], spec["steps"], spec["spread"]))
        return images.reshape(len(spec["dims"]), spec["steps"], *images.shape[1:])

    def field(self, layout: str = "ae", size: int = 64) -> dict:
        """:meth:`codes_at` on a ``size``×``size`` grid over ``layout``'s extent, for a page with no
        neighbour search: :func:`field_at` (and the page) interpolate between its nodes.

        Returns ``{"bounds": (x0, y0, x1, y1), "size": size, "codes": (size, size, d) array}``,
        row ``i`` at ``y0 + i·(y1−y0)/(size−1)``.

        >>> m.field("ae", 16)["codes"].shape  # doctest: +SKIP
        (16, 16, 8)
        """
        size = check_positive_int("size", size)
        if size < 2:
            raise AEReportError("size must be at least 2", size=size)
        (x0, y0), (x1, y1) = self.extent(layout)
        gx, gy = np.meshgrid(np.linspace(x0, x1, size), np.linspace(y0, y1, size))
        codes = self.codes_at(layout, np.column_stack([gx.ravel(), gy.ravel()]))
        return {"bounds": tuple(float(v) for v in (x0, y0, x1, y1)), "size": size,
                "codes": codes.reshape(size, size, -1)}

    def manifold(self, layout: str, bounds: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
        """The decoded manifold over a viewport (keras.io's ``plot_latent_space``, for any layout
        and code): an ``(ny, nx)`` grid of images decoded at the centres of the grid's cells over
        ``bounds`` = ``(x0, x1, y0, y1)``, as :meth:`decode` decodes each; row 0 is the top (the
        highest y). Returns ``(ny, nx, H, W[, C])``.

        >>> m.manifold("ae", (-3, 3, -3, 3), (10, 10)).shape  # doctest: +SKIP
        (10, 10, 28, 28)
        """
        nx, ny = (check_positive_int(name, n) for name, n in zip(("nx", "ny"), shape))
        xs, ys = manifold_centres(bounds, (nx, ny))
        gx, gy = np.meshgrid(xs, ys[::-1])
        images = self.decode_codes(self.codes_at(layout, np.column_stack([gx.ravel(), gy.ravel()])))
        return images.reshape(ny, nx, *images.shape[1:])

    # --- samples near a position -----------------------------------------------------------------
    def nearest(self, layout: str, x: float, y: float, visible: np.ndarray | None = None,
                k: int = 64) -> int | None:
        """The sample nearest ``(x, y)`` on ``layout`` among those ``visible`` (a bool mask; all by
        default), or None when none of the ``k`` nearest is visible (or the position is not finite).

        >>> m.nearest("umap", 3.0, -1.5)  # doctest: +SKIP
        5121
        """
        xy = self.check(layout)
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        _, idx = self.tree(layout).query([x, y], k=min(k if visible is not None else 1, len(xy)))
        for i in np.atleast_1d(idx):
            if visible is None or visible[i]:
                return int(i)
        return None

    def neighbours(self, layout: str, index: int, k: int) -> np.ndarray:
        """The ``k`` samples nearest sample ``index`` on ``layout``, nearest first, itself excluded."""
        xy = self.check(layout)
        _, idx = self.tree(layout).query(xy[index], k=min(k + 1, len(xy)))
        return np.array([i for i in np.atleast_1d(idx) if i != index][:k], np.int64)

    def select(self, layout: str, box=None, polygon=None) -> np.ndarray:
        """Indices of the samples of ``layout`` inside ``box = (x0, y0, x1, y1)`` or ``polygon``
        (its vertices), sorted.

        >>> m.select("ae", box=(-1, -1, 1, 1))  # doctest: +SKIP
        array([   3,   17, ...])
        """
        xy = self.check(layout)
        return in_box(xy, box) if box is not None else in_polygon(xy, polygon)


def traversal_codes(code, sigma, dims, steps: int = 9, spread: float = 3.0) -> np.ndarray:
    """The codes of a traversal: for each dimension ``dims[r]`` (its spread ``sigma[r]``), ``steps``
    copies of ``code`` with that dimension moved from ``-spread``·σ to ``+spread``·σ of its value,
    row after row: ``(len(dims) · steps, d)`` float32.

    >>> traversal_codes(np.zeros(2), [1.0], [1], 3).tolist()
    [[0.0, -3.0], [0.0, 0.0], [0.0, 3.0]]
    """
    code = np.asarray(code, np.float64)
    offsets = np.linspace(-spread, spread, check_positive_int("steps", steps))
    codes = np.repeat(code[None], len(dims) * steps, axis=0)
    for r, (dim, s) in enumerate(zip(dims, sigma)):
        codes[r * steps:(r + 1) * steps, int(dim)] = code[int(dim)] + offsets * float(s)
    return codes.astype(np.float32)


def manifold_centres(bounds, shape) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of the centres of an ``(nx, ny)`` grid's cells over ``bounds`` = ``(x0, x1,
    y0, y1)``, both ascending (``manifoldCentres`` in ``views/js/math.js`` is its twin).

    >>> [c.tolist() for c in manifold_centres((0, 4, 0, 1), (2, 1))]
    [[1.0, 3.0], [0.5]]
    """
    x0, x1, y0, y1 = (float(v) for v in bounds)
    nx, ny = shape
    return x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx, y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny


def manifold_shape(width: int, height: int, image_shape, spacing: float = 1.5, most: int = 24) -> tuple[int, int]:
    """How many images across and down a manifold over a ``width``×``height`` plot holds: each
    drawn at about ``spacing`` times its native size, between 2 and ``most`` a side.

    >>> manifold_shape(600, 420, (28, 28))
    (14, 10)
    """
    h, w = image_shape[:2]
    return (int(np.clip(width // (spacing * w), 2, most)), int(np.clip(height // (spacing * h), 2, most)))


def mosaic(images: np.ndarray) -> np.ndarray:
    """An ``(ny, nx, H, W[, C])`` grid of images as one ``(ny·H, nx·W[, C])`` image, row 0 on top.

    >>> mosaic(np.arange(8.0).reshape(1, 2, 2, 2)).tolist()
    [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]]
    """
    ny, nx, h, w = images.shape[:4]
    return images.swapaxes(1, 2).reshape(ny * h, nx * w, *images.shape[4:])


def field_at(field: dict, x: float, y: float) -> np.ndarray:
    """Bilinear interpolation of a :meth:`LatentMap.field` at ``(x, y)`` (clamped to its extent):
    the code the exported page decodes there (``code()`` in ``views/js/math.js``).

    >>> f = {"bounds": (0, 0, 1, 1), "size": 2, "codes": np.arange(8.0).reshape(2, 2, 2)}
    >>> field_at(f, 0.5, 0.5).tolist()
    [3.0, 4.0]
    """
    x0, y0, x1, y1 = field["bounds"]
    n, codes = field["size"], field["codes"]
    fx = np.clip((x - x0) / ((x1 - x0) or 1) * (n - 1), 0, n - 1)
    fy = np.clip((y - y0) / ((y1 - y0) or 1) * (n - 1), 0, n - 1)
    i, j = min(int(fy), n - 2), min(int(fx), n - 2)
    ty, tx = fy - i, fx - j
    return ((1 - ty) * ((1 - tx) * codes[i, j] + tx * codes[i, j + 1])
            + ty * ((1 - tx) * codes[i + 1, j] + tx * codes[i + 1, j + 1])).astype(np.float32)
