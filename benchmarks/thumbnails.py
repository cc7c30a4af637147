"""How many points can be drawn as thumbnails per zoom: the render time of the detail raster
(sprites.render) against the number of points in view, on full MNIST, beside the Datashader
render of the same viewport. Sets THUMBNAILS_AT (aereport/sprites.py).

    python benchmarks/thumbnails.py --data-dir ../shared/data/mnist
"""
from __future__ import annotations

import argparse
import time

import datashader as ds
import datashader.transfer_functions as tf
import numpy as np
import pandas as pd

from aereport.data import load_mnist
from aereport.layouts import PCALayout
from aereport.sprites import Viewport, build_atlas, render
from decode_call import median_ms

WIDTH, HEIGHT = 800, 520  # the Embeddings plane on a 1400-px-wide window


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    args = p.parse_args()
    mnist = load_mnist(args.data_dir)
    t = time.perf_counter()
    atlas = build_atlas(mnist.images)
    print(f"atlas of {len(atlas):,} thumbnails {atlas.shape[1:]}: built in {time.perf_counter() - t:.2f} s, "
          f"{atlas.nbytes / 2**20:.0f} MiB")
    xy = PCALayout().fit_transform(mnist.images)
    palette = np.array([[31, 119, 180], [255, 127, 14]] * 5, np.uint8)
    centre = np.median(xy, axis=0)
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": pd.Categorical(mnist.labels)})
    print(f"{'in view':>8} {'thumbnails ms':>14} {'datashader ms':>14}")
    for target in (100, 300, 1000, 3000, 10000):
        # The square around the centre holding about `target` points.
        r = np.sort(np.abs(xy - centre).max(axis=1))[target - 1]
        vp = Viewport(centre[0] - r, centre[0] + r, centre[1] - r, centre[1] + r, WIDTH, HEIGHT)
        n = int(vp.contains(xy).sum())
        thumbs = median_ms(n=7, f=lambda: render(xy, vp, atlas=atlas, labels=mnist.labels, palette=palette, limit=10**9))
        canvas = ds.Canvas(WIDTH, HEIGHT, x_range=(vp.x0, vp.x1), y_range=(vp.y0, vp.y1))
        shade = median_ms(n=7, f=lambda: tf.dynspread(tf.shade(canvas.points(df, "x", "y", ds.count_cat("label"))),
                                          threshold=0.8, max_px=4))
        print(f"{n:>8,} {thumbs:>14.1f} {shade:>14.1f}")


if __name__ == "__main__":
    main()
