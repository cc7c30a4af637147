"""t-SNE's iterations after early exaggeration: the layout phase's time against t-SNE's quality.

    python benchmarks/tsne_iterations.py --data-dir ../shared/data/mnist [--iters 500,250] [--sizes 70000]
                                         [--repeats 2] [--png DIR]

For each size (a fixed random subset of MNIST, as ``versus_seed.py`` takes it) and each count of
``TSNELayout(n_iter=...)``, a fresh process runs the layout phase as ``aereport train`` does
(``compute_layouts(images, ["umap", "tsne"])``: one PCA and neighbour search, UMAP in a child
process beside t-SNE from 20,000 points) and reports its wall time, each layout's time, and the
t-SNE layout's 10-nearest-neighbour accuracy and trustworthiness as ``versus_seed.py`` computes
them. The counts alternate within each repeat: this machine is noisy. ``--png`` draws each t-SNE
layout with Datashader, to look at what the iterations change.
"""
from __future__ import annotations

import argparse
import functools
import os
import time

import numpy as np

from versus_seed import in_child


def one(data_dir: str, n: int, n_iter: int, png: str | None) -> dict:
    from aereport import layouts
    from versus_seed import quality, subset, trust_sample

    # compute_layouts makes each layout with its defaults; this fresh process gets another default.
    layouts.TSNELayout = functools.partial(layouts.TSNELayout, n_iter=n_iter)
    ds = subset(data_dir, n)
    started, seconds = {}, {}
    start = time.perf_counter()
    out = layouts.compute_layouts(ds.images, ["umap", "tsne"],
                                  on_start=lambda name: started.__setitem__(name, time.perf_counter()),
                                  on_done=lambda name, _: seconds.__setitem__(name, time.perf_counter() - started[name]))
    wall = time.perf_counter() - start
    xy = out["tsne"]["xy"]
    if png:
        draw(xy, ds.labels, os.path.join(png, f"tsne-{n}-iter{n_iter}.png"), f"{n:,} points, n_iter={n_iter}")
    return {"wall": wall, **seconds, **quality(ds.images, ds.labels, xy, trust_sample(n)),
            "extent": float(np.ptp(xy, axis=0).max())}


def draw(xy: np.ndarray, labels: np.ndarray, path: str, title: str) -> None:
    import datashader as ds
    import datashader.transfer_functions as tf
    import pandas as pd
    from PIL import ImageDraw

    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": pd.Categorical(labels)})
    agg = ds.Canvas(600, 600).points(df, "x", "y", ds.count_cat("label"))
    img = tf.set_background(tf.spread(tf.shade(agg, how="eq_hist"), px=1), "white").to_pil()
    ImageDraw.Draw(img).text((8, 8), title, fill="black")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img.save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--sizes", default="70000")
    p.add_argument("--iters", default="500,250", help="comma-separated TSNELayout(n_iter=...) to compare")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--png", default=None, help="a folder to draw each t-SNE layout in")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for n in map(int, args.sizes.split(",")):
        for r in range(args.repeats):
            for n_iter in map(int, args.iters.split(",")):
                out = in_child(one, args.data_dir, n, n_iter, args.png)
                print(f"{n:>6} points, repeat {r + 1}, n_iter {n_iter:>4}: layout phase {out['wall']:6.1f} s "
                      f"(t-SNE {out['tsne']:5.1f} s, UMAP {out['umap']:5.1f} s); t-SNE 10-NN accuracy "
                      f"{out['knn10']:.4f}, trustworthiness {out['trust']:.4f}, extent {out['extent']:.0f}",
                      flush=True)


if __name__ == "__main__":
    main()
