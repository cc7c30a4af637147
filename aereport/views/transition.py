"""Animated layout switches: every point flies from its place in one layout to its place in the next.

The seed's MNIST figure moved its points between UMAP, t-SNE and the autoencoder's layout over
about a second (GSAP's Power4 ease). Here the browser does it (``_JS``): the server sends
each point's start and end as fractions of the plot's frame once, and the page draws the frames
on a canvas over the plane, so the Datashader raster of the new layout can be computed and
arrive underneath while the points are still flying.
"""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, CustomJS

DURATION_MS = 1000
NAME = "layout-transition"
_EMPTY = {"u0": [], "v0": [], "u1": [], "v1": [], "c": []}


def abgr(colors: list[str]) -> list[int]:
    """``#rrggbb`` colors as the opaque little-endian RGBA words a Bokeh RGBA image holds."""
    return [0xFF000000 | int(h[5:7], 16) << 16 | int(h[3:5], 16) << 8 | int(h[1:3], 16) for h in colors]


def add_transition(fig, colors: list[str], name: str = NAME) -> ColumnDataSource:
    """Give a Bokeh figure an animated layout switch; returns the source to set with
    :func:`transition_data` (setting it starts the animation in the page). The page keeps its
    record in ``window.aereportTransitions[name]``.

    >>> source = add_transition(figure(), ["#1f77b4", "#ff7f0e"])  # doctest: +SKIP
    """
    points = ColumnDataSource(dict(_EMPTY), name=f"{name}-points")
    # A hidden renderer carries the points into the document (a model nothing refers to never
    # reaches the page) and names the transition for scripts and tests.
    carrier = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "x": [0], "y": [0], "dw": [0], "dh": [0]})
    carrier = fig.image_rgba("image", x="x", y="y", dw="dw", dh="dh", source=carrier, name=name, visible=False)
    carrier.tags = [points]  # given to image_rgba, tags land on the glyph, not the renderer
    points.js_on_change("data", CustomJS(args=dict(points=points, fig=fig, name=name, palette=abgr(colors),
                                                   duration=DURATION_MS), code=_JS))
    return points


def fractions(xy: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Each point's position as fractions of a viewport (0 at the left/bottom edge, 1 at the other)."""
    def frac(v, lo, hi):
        return ((v - lo) / ((hi - lo) or 1.0)).astype(np.float32)
    return frac(xy[:, 0], *x_range), frac(xy[:, 1], *y_range)


def extent(xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y ranges a plot of the whole layout shows (Datashader's bounds: min to max)."""
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return (float(x0), float(x1)), (float(y0), float(y1))


def transition_data(start: np.ndarray, x_range, y_range, end: np.ndarray,
                    codes: np.ndarray | None) -> dict[str, np.ndarray]:
    """The points source's data for a switch from layout ``start``, seen over ``x_range`` and
    ``y_range`` (the plot's viewport now), to layout ``end`` seen whole.

    >>> data = transition_data(state.layouts["ae"], (-3, 3), (-3, 3), state.layouts["umap"], state.labels)  # doctest: +SKIP
    """
    if x_range is None or y_range is None or None in (*x_range, *y_range):
        x_range, y_range = extent(start)
    u0, v0 = fractions(start, x_range, y_range)
    u1, v1 = fractions(end, *extent(end))
    codes = np.zeros(len(start), np.uint8) if codes is None else np.asarray(codes)
    c = codes.astype(np.uint8 if codes.max(initial=0) < 256 else np.uint16)
    return {"u0": u0, "v0": v0, "u1": u1, "v1": v1, "c": c}


_JS = """
// An animated layout switch (CustomJS on the transition's points source, run when its data is set).
// Columns: u0, v0 (where each point is drawn now, as fractions of the plot's frame from its left and
// bottom edges), u1, v1 (where the next layout will draw it) and c (its label code). Every frame
// eases all points one step and splats them into a canvas laid over the plot's frame: the cost is
// a loop over the points and one putImageData, whatever the point count. Drawing through a Bokeh
// glyph instead repainted the whole plot each frame: 15 fps against 60 (benchmarks/transition.py).
// args: points, fig, palette (ABGR per label), duration (ms).
const d = points.data, n = d.u0 ? d.u0.length : 0;
const anim = points._aereport || (points._aereport = {});
if (anim.raf) cancelAnimationFrame(anim.raf);
anim.raf = null;
const view = Bokeh.index.find_one(fig);
if (n === 0 || view == null) { if (anim.canvas) anim.canvas.style.display = "none"; return; }
const box = view.frame.bbox, W = Math.max(1, Math.round(box.width)), H = Math.max(1, Math.round(box.height));
const canvas = anim.canvas || (anim.canvas = document.createElement("canvas"));
const layer = view.canvas_view.overlays_el;  // above the plot's canvases, below its tools' events
if (canvas.parentNode !== layer) layer.append(canvas);
Object.assign(canvas.style, { position: "absolute", left: `${box.x0}px`, top: `${box.y0}px`, width: `${W}px`,
                              height: `${H}px`, pointerEvents: "none", imageRendering: "pixelated", display: "block" });
canvas.width = W; canvas.height = H;
canvas.className = "aereport-transition";
const ctx = canvas.getContext("2d"), frame = ctx.createImageData(W, H), px = new Uint32Array(frame.data.buffer);
const dot = n < 20000 ? 2 : 1;  // few points: 2×2 pixels, or they vanish in a sparse frame
const u0 = d.u0, v0 = d.v0, u1 = d.u1, v1 = d.v1, c = d.c;
// GSAP's Power4.easeInOut, the seed's transition: slow out of the old layout, slow into the new.
const ease = (t) => t < 0.5 ? 16 * t ** 5 : 1 - 16 * (1 - t) ** 5;
const log = window.aereportTransitions || (window.aereportTransitions = {});
const rec = log[name] = { n, frames: 0, start: performance.now(), frame_ms: [], done: false, pixels: px, shape: [H, W] };
function draw(now) {
  const t0 = performance.now();
  const t = Math.min(1, Math.max(0, (now - rec.start) / duration)), p = ease(t);
  px.fill(0xffffffff);
  for (let i = 0; i < n; i++) {
    const x = Math.floor((u0[i] + (u1[i] - u0[i]) * p) * W), y = Math.floor((v0[i] + (v1[i] - v0[i]) * p) * H);
    if (x < 0 || y < 0 || x > W - dot || y > H - dot) continue;
    const col = palette[c[i]];
    for (let a = 0; a < dot; a++) for (let b = 0; b < dot; b++) px[(H - 1 - y - a) * W + x + b] = col;  // row 0 on top
  }
  ctx.putImageData(frame, 0, 0);
  rec.frames++; rec.t = t; rec.p = p;
  rec.frame_ms.push(performance.now() - t0);
  if (t < 1) { anim.raf = requestAnimationFrame(draw); return; }
  rec.done = true;
  rec.ms = performance.now() - rec.start;
  canvas.style.display = "none";  // the new layout's raster is under it by now
  points.data = { u0: [], v0: [], u1: [], v1: [], c: [] };  // nor need the server keep the columns
}
draw(rec.start);
"""
