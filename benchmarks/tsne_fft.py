"""openTSNE's FFT gradients on NumPy's transforms against SciPy's: t-SNE's time and quality.

    python benchmarks/tsne_fft.py --data-dir ../shared/data/mnist [--sizes 20000,70000] [--repeats 1]

For each size (the first N images of MNIST) and each transform (``numpy``: openTSNE's own
``numpy.fft``, one thread; ``scipy-1`` and ``scipy-N``: ``scipy.fft`` on 1 and on all cores, as
``aereport.layouts.opentsne_fft_by_scipy`` sets), a fresh process computes the PCA and neighbour
graph (untimed) and then ``TSNELayout().fit_transform`` (timed), and reports the layout's
10-nearest-neighbour accuracy and trustworthiness as ``versus_seed.py`` computes them. The
variants alternate within each repeat: this machine is noisy.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from versus_seed import in_child


def one(data_dir: str, n: int, fft: str) -> dict:
    from aereport import layouts, neighbours
    from aereport.data import load_mnist
    from versus_seed import quality

    real = layouts.opentsne_fft_by_scipy
    if fft == "numpy":  # a fresh process: openTSNE keeps its own numpy.fft
        layouts.opentsne_fft_by_scipy = lambda workers: None
    elif fft == "scipy-1":
        layouts.opentsne_fft_by_scipy = lambda workers: real(1)
    ds = load_mnist(data_dir)
    images, labels = ds.images[:n], ds.labels[:n]
    neighbours.neighbour_graph(images, 50, 0)
    start = time.perf_counter()
    xy = layouts.TSNELayout().fit_transform(images)
    seconds = time.perf_counter() - start
    subset = np.sort(np.random.default_rng(0).permutation(n)[:5000])
    return {"seconds": seconds, **quality(images, labels, xy, subset)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--sizes", default="20000,70000")
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    variants = ["numpy", "scipy-1", f"scipy-{os.cpu_count()}"]
    for n in map(int, args.sizes.split(",")):
        for r in range(args.repeats):
            for fft in variants:
                out = in_child(one, args.data_dir, n, fft)
                print(f"{n:>6} points, repeat {r + 1}, {fft:>8}: t-SNE {out['seconds']:6.1f} s, "
                      f"10-NN accuracy {out['knn10']:.4f}, trustworthiness {out['trust']:.4f}", flush=True)


if __name__ == "__main__":
    main()
