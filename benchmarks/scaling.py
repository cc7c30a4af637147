"""How each layout method's time grows with the number of points: 5k, 20k, 70k MNIST digits.

    python benchmarks/scaling.py --data-dir ../shared/data/mnist [--sizes 5000,20000,70000]

For each size (a fixed random subset of MNIST, as ``versus_seed.py`` takes it) a fresh process
first runs every method once on 500 images, so imports and numba compiles are not counted, then
times each stage alone, one after the other (not UMAP beside t-SNE, as ``aereport train`` runs
them), on one shared neighbour graph as ``compute_layouts`` builds it:

- ``ae``: encode with the default model (the same arithmetic trained or not);
- ``pca``: the PCA layout of the raw pixels;
- ``graph``: PCA-50 and the exact 91-neighbour search that UMAP and t-SNE share;
- ``umap``, ``tsne``: each layout from that graph.

Prints the seconds per size and, between consecutive sizes, the growth exponent k of
time ∝ n^k (log of the time ratio over log of the size ratio).
"""
from __future__ import annotations

import argparse
import math
import os
import time

from versus_seed import in_child

METHODS = ("ae", "pca", "graph", "umap", "tsne")


def stages(images):
    """Each method as a zero-argument callable on ``images``, in the order they are timed."""
    from aereport import layouts, neighbours
    from aereport.model import build_autoencoder

    encoder = build_autoencoder(images.shape[1:]).encoder
    umap, tsne = layouts.UMAPLayout(), layouts.TSNELayout()
    graph = lambda: neighbours.neighbour_graph(images, umap.pca, umap.random_state)  # noqa: E731
    return {"ae": lambda: layouts.LatentLayout(encoder).fit_transform(images),
            "pca": lambda: layouts.PCALayout().fit_transform(images),
            "graph": graph,
            "umap": lambda: umap.fit_graph(*graph()),  # the graph is kept: computed once above
            "tsne": lambda: tsne.fit_transform(images)}


def one(data_dir: str, n: int) -> dict:
    from versus_seed import subset

    images = subset(data_dir, n).images
    for fn in stages(images[:500]).values():  # imports and compiles, off the clock
        fn()
    seconds = {}
    for name, fn in stages(images).items():
        start = time.perf_counter()
        fn()
        seconds[name] = time.perf_counter() - start
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--sizes", default="5000,20000,70000")
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sizes = [int(s) for s in args.sizes.split(",")]
    times = {}
    for n in sizes:
        times[n] = in_child(one, args.data_dir, n)
        print(f"{n:>6} points: " + ", ".join(f"{m} {times[n][m]:.2f} s" for m in METHODS), flush=True)
    print(f"\n{'method':<8}" + "".join(f"{n:>10,}" for n in sizes)
          + "".join(f"{f'k {a // 1000}k-{b // 1000}k':>14}" for a, b in zip(sizes, sizes[1:])))
    for m in METHODS:
        growth = "".join(f"{math.log(times[b][m] / times[a][m]) / math.log(b / a):>14.2f}"
                         for a, b in zip(sizes, sizes[1:]))
        print(f"{m:<8}" + "".join(f"{times[n][m]:>9.2f}s" for n in sizes) + growth)


if __name__ == "__main__":
    main()
