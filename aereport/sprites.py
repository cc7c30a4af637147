"""Thumbnails of the dataset drawn where its points lie: the sprite atlas and the rasters made from it.

Datashader shows where points are; zoomed in far enough, a reader wants to see *what* they
are. :func:`build_atlas` makes one small uint8 thumbnail per image (kept in the run folder);
:func:`render` paints a viewport as an RGBA raster — each visible point as its thumbnail when few
enough are in view, a veil with the selected samples on top when there is a selection.
Pure numpy: the views turn the raster into a HoloViews ``RGB`` over the plot.

>>> atlas = build_atlas(np.random.default_rng(0).random((5, 28, 28)))
>>> vp = Viewport(0, 1, 0, 1, 200, 100)
>>> render(np.random.default_rng(1).random((5, 2)), vp, atlas=atlas).shape
(100, 200, 4)
"""
from __future__ import annotations

import base64
import io
from typing import NamedTuple

import numpy as np

MAX_SIDE = 32  # a thumbnail's longest side in pixels: MNIST keeps its 28, faces shrink to 32
THUMBNAILS_AT = 1000  # at most this many points in view are drawn as thumbnails (BENCHMARKS.md)
VEIL = 170  # alpha of the white veil over unselected points while a selection is shown
# Fewer points in view, larger thumbnails: native size from GROW_FROM points up, twice it at a
# quarter of that and below (the scale grows as the inverse square root of the count between).
GROW_FROM, MAX_SCALE = 400, 2.0


class Viewport(NamedTuple):
    """The data range a plot shows and its size in screen pixels."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int
    height: int

    def pixels(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column and row (row 0 at the top) of each point, as integers; may fall off the raster."""
        col = (xy[:, 0] - self.x0) / ((self.x1 - self.x0) or 1) * self.width
        row = (self.y1 - xy[:, 1]) / ((self.y1 - self.y0) or 1) * self.height
        return np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Which points lie inside the viewport."""
        return ((xy[:, 0] >= min(self.x0, self.x1)) & (xy[:, 0] <= max(self.x0, self.x1))
                & (xy[:, 1] >= min(self.y0, self.y1)) & (xy[:, 1] <= max(self.y0, self.y1)))


def build_atlas(images: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """One uint8 thumbnail per image, its longest side at most ``max_side`` pixels.

    Gray images give (n, h, w), RGB images (n, h, w, 3). Built once per run and stored
    beside the model (``sprites.npy``), so zooming never resizes images.

    >>> build_atlas(np.zeros((3, 109, 89, 3))).shape
    (3, 32, 26, 3)
    """
    images = np.asarray(images)
    h, w = images.shape[1:3]
    scale = min(1.0, max_side / max(h, w))
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    as_bytes = np.clip(np.round(images * 255), 0, 255).astype(np.uint8)
    if (th, tw) == (h, w):
        return as_bytes
    from PIL import Image

    out = np.empty((len(images), th, tw, *images.shape[3:]), np.uint8)
    for i, img in enumerate(as_bytes):
        out[i] = np.asarray(Image.fromarray(img).resize((tw, th), Image.Resampling.LANCZOS))
    return out


def colors_of(index: np.ndarray, labels: np.ndarray | None, palette: np.ndarray | None) -> np.ndarray:
    """(len(index), 3) uint8: each sample's label color from ``palette`` ((k, 3) uint8), black without."""
    if labels is None or palette is None:
        return np.zeros((len(index), 3), np.uint8)
    return palette[labels[index] % len(palette)]


def tiles(atlas: np.ndarray, index: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """RGBA tiles for the samples ``index``: RGB thumbnails as they are; gray ones as ink in their
    ``colors`` ((len(index), 3) uint8) on a translucent white card."""
    picked = np.asarray(atlas[index])
    if picked.ndim == 4:
        alpha = np.full(picked.shape[:3] + (1,), 255, np.uint8)
        return np.concatenate([picked, alpha], axis=-1)
    ink = picked[..., None].astype(np.float32) / 255
    color = colors.astype(np.float32)
    # Darkened label color, so a light hue (yellow) still reads against the white card.
    rgb = 255 * (1 - ink) + 0.8 * color[:, None, None, :] * ink
    # A translucent card: it hides the Datashader dot under the digit, not the digits it overlaps.
    alpha = 150 + 105 * ink
    return np.concatenate([rgb, alpha], axis=-1).round().astype(np.uint8)


def scale_for(count: int) -> float:
    """How much larger than native the thumbnails of ``count`` points in view are drawn.

    >>> scale_for(1000), scale_for(400), scale_for(100), scale_for(3)
    (1.0, 1.0, 2.0, 2.0)
    """
    return float(min(MAX_SCALE, max(1.0, (GROW_FROM / max(count, 1)) ** 0.5)))


def enlarge(rgba: np.ndarray, scale: float) -> np.ndarray:
    """Tiles (n, h, w, 4) drawn ``scale`` times larger, each pixel a block (nearest neighbour:
    a digit's pixels stay sharp).

    >>> enlarge(np.zeros((2, 28, 28, 4), np.uint8), 1.5).shape
    (2, 42, 42, 4)
    """
    if scale == 1:
        return rgba
    h, w = rgba.shape[1:3]
    rows = (np.arange(round(h * scale)) / scale).astype(np.int64)
    cols = (np.arange(round(w * scale)) / scale).astype(np.int64)
    return rgba[:, rows][:, :, cols]


def paste(canvas: np.ndarray, rgba: np.ndarray, col: np.ndarray, row: np.ndarray) -> None:
    """Paste tiles ``rgba`` (n, h, w, 4) centred on pixels ``(col, row)`` of ``canvas`` (H, W, 4);
    where they overlap, the more opaque pixel wins, so overlapping digits both keep their ink."""
    n, h, w = rgba.shape[:3]
    if n == 0:
        return
    rows = row[:, None, None] - h // 2 + np.arange(h)[None, :, None]
    cols = col[:, None, None] - w // 2 + np.arange(w)[None, None, :]
    rows, cols = np.broadcast_to(rows, (n, h, w)), np.broadcast_to(cols, (n, h, w))
    keep = (rows >= 0) & (rows < canvas.shape[0]) & (cols >= 0) & (cols < canvas.shape[1])
    # Little-endian RGBA packed as uint32 puts alpha in the top byte: max() compares opacity first.
    packed = canvas.view(np.uint32)[..., 0]
    values = np.ascontiguousarray(rgba, np.uint8).view(np.uint32)[..., 0]
    np.maximum.at(packed, (rows[keep], cols[keep]), values[keep])


def dots(canvas: np.ndarray, col: np.ndarray, row: np.ndarray, rgb: np.ndarray, radius: int = 1) -> None:
    """Square dots of ``2·radius+1`` pixels in the colors ``rgb`` ((n, 3) uint8) at ``(col, row)``."""
    side = 2 * radius + 1
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    paste(canvas, np.broadcast_to(rgba[:, None, None, :], (len(rgb), side, side, 4)), col, row)


def render(xy: np.ndarray, viewport: Viewport, *, atlas: np.ndarray | None = None,
           labels: np.ndarray | None = None, palette: np.ndarray | None = None,
           visible: np.ndarray | None = None, selected: np.ndarray | None = None,
           limit: int = THUMBNAILS_AT) -> np.ndarray:
    """The detail raster over ``viewport``: (height, width, 4) uint8, transparent where empty.

    - thumbnails of every point in view (of those ``visible``, a bool mask) when at most
      ``limit`` are in view and an ``atlas`` is given, larger the fewer are in view (up to
      ``MAX_SCALE`` times their native size, :func:`scale_for`);
    - otherwise, with a ``selected`` index array: a white veil dimming the plane, and the
      selected points as dots in their label's color (``palette[labels]``) on top (or their
      thumbnails when zoomed in, the others then staying under the veil).

    >>> int(render(np.zeros((1, 2)), Viewport(-1, 1, -1, 1, 4, 4), selected=np.array([0]))[2, 2, 3])
    255
    """
    canvas = np.zeros((viewport.height, viewport.width, 4), np.uint8)
    n = len(xy)
    show = viewport.contains(xy)
    if visible is not None:
        show &= visible
    chosen = None
    if selected is not None:
        chosen = np.zeros(n, bool)
        chosen[selected] = True
        canvas[...] = (255, 255, 255, VEIL)
    in_view = np.flatnonzero(show if chosen is None else show & chosen)
    col, row = viewport.pixels(xy[in_view])
    colors = colors_of(in_view, labels, palette)
    if atlas is not None and 0 < len(in_view) <= limit:
        paste(canvas, enlarge(tiles(atlas, in_view, colors), scale_for(len(in_view))), col, row)
    elif chosen is not None:
        dots(canvas, col, row, colors)
    return canvas


def grid(images: np.ndarray, columns: int = 10, gap: int = 1) -> np.ndarray:
    """Images (n ≥ 1, h, w[, 3]) in [0, 1] tiled row by row with ``gap`` white pixels between them.

    >>> grid(np.zeros((12, 28, 28)), columns=10).shape
    (57, 289)
    """
    images = np.asarray(images, np.float32)
    n, (h, w) = len(images), images.shape[1:3]
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    out = np.ones((rows * (h + gap) - gap, columns * (w + gap) - gap, *images.shape[3:]), np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = img
    return out


def png_data_uri(rgba: np.ndarray) -> str:
    """An (H, W, 4) uint8 image as a ``data:image/png`` URI (for a page that asks for no file).

    >>> png_data_uri(np.zeros((1, 1, 4), np.uint8))[:22]
    'data:image/png;base64,'
    """
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
