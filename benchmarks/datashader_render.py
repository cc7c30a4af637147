"""Re-render time of a plane on zoom and pan: full MNIST's 70k points and a synthetic 10M-point layout.

    python benchmarks/datashader_render.py --data-dir ../shared/data/mnist

Each viewport (the whole layout, zoomed 2×, 8× and 32× around the centre, and panned) is
rendered three ways, side by side — aggregate by label into an 800×520 canvas, shade with the
views' color key, spread sparse pixels — and timed as the median of 5 renders after a first one
(numba compiled): Datashader alone (``tf``), HoloViews' ``datashade`` + ``dynspread`` (what the
planes ran before), and the planes' own ``shade_plane`` (its spreading included, no cache).
Bokeh's serialization of the image is not in these figures.
"""
from __future__ import annotations

import argparse

import datashader as ds
import datashader.transfer_functions as tf
import holoviews as hv
import numpy as np
import pandas as pd
from holoviews.operation.datashader import datashade, dynspread

from aereport.data import load_mnist
from aereport.layouts import PCALayout
from aereport.views.plane import shade_plane, shading
from aereport.views.style import categories, color_key
from decode_call import median_ms

WIDTH, HEIGHT = 800, 520  # the Embeddings plane on a 1400-px-wide window


def synthetic(n: int, labels: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points drawn around MNIST's layout (each a real point plus noise), with its labels."""
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(xy), n)
    spread = xy.std(axis=0) * 0.02
    return (xy[pick] + rng.normal(0, 1, (n, 2)) * spread).astype(np.float32), labels[pick]


def viewports(xy: np.ndarray):
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    for zoom in (1, 2, 8, 32):
        yield f"zoom {zoom}x", (cx - w / 2 / zoom, cx + w / 2 / zoom), (cy - h / 2 / zoom, cy + h / 2 / zoom)
    yield "pan", (cx - w / 4 + w / 8, cx + w / 4 + w / 8), (cy - h / 4 - h / 8, cy + h / 4 - h / 8)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--sizes", default="70000,10000000")
    args = p.parse_args()
    mnist = load_mnist(args.data_dir)
    base = PCALayout().fit_transform(mnist.images)
    key = color_key(mnist)
    print(f"{'points':>12} {'viewport':>9} {'tf ms':>8} {'datashade ms':>13} {'aereport ms':>12}")
    for n in (int(s) for s in args.sizes.split(",")):
        xy, labels = (base, mnist.labels) if n == len(base) else synthetic(n, mnist.labels, base)
        # As the views' frame(): x, y and the label as a categorical Datashader aggregates by.
        df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1],
                           "label": pd.Categorical.from_codes(labels, categories=categories(mnist))})
        points = hv.Points(df, ["x", "y"], ["label"])
        op = shade_plane.with_options(cache=None)  # the render itself: repeats of one viewport would be hits
        spread = dict(threshold=op.spread_threshold, max_px=op.spread_px)
        times = {"tf": [], "datashade": [], "aereport": []}
        for name, xr, yr in viewports(xy):
            view = dict(x_range=tuple(map(float, xr)), y_range=tuple(map(float, yr)), width=WIDTH, height=HEIGHT,
                        dynamic=False)
            options = shading(key)  # the planes' aggregator, color key and minimum alpha

            def bare():
                canvas = ds.Canvas(WIDTH, HEIGHT, x_range=xr, y_range=yr)
                aggregate = canvas.points(df, "x", "y", options["aggregator"])
                return tf.dynspread(tf.shade(aggregate, color_key=key, min_alpha=options["min_alpha"]), **spread)

            def holoviews():
                return dynspread(datashade(points, **view, **options), dynamic=False, **spread)

            def ours():
                return op(points, **view, **options)

            # one after another on the same viewport (median_ms calls each once first: numba compiled)
            for label, f in (("tf", bare), ("datashade", holoviews), ("aereport", ours)):
                times[label].append(median_ms(n=5, f=f))
            print(f"{n:>12,} {name:>9} {times['tf'][-1]:>8.1f} {times['datashade'][-1]:>13.1f} "
                  f"{times['aereport'][-1]:>12.1f}", flush=True)
        print(f"{n:>12,} {'median':>9} {np.median(times['tf']):>8.1f} {np.median(times['datashade']):>13.1f} "
              f"{np.median(times['aereport']):>12.1f}", flush=True)

if __name__ == "__main__":
    main()
