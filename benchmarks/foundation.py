"""Foundation numbers on full MNIST (70k): load, train 8 epochs per preset, encode, each layout, memory.

    python benchmarks/foundation.py --data-dir ../shared/data/mnist [--sklearn-tsne]

Prints one line per stage; BENCHMARKS.md records the output and this command.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def stage(name, fn):
    start = time.perf_counter()
    out = fn()
    print(f"{name:<34} {time.perf_counter() - start:8.1f} s", flush=True)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--sklearn-tsne", action="store_true", help="also time scikit-learn's TSNE on all 70k")
    args = p.parse_args()

    import keras

    from aereport.data import load_mnist
    from aereport.layouts import PCALayout, TSNELayout, UMAPLayout, LatentLayout
    from aereport.model import build_autoencoder, default_batch_size, mse

    ds = stage("load MNIST 70k", lambda: load_mnist(args.data_dir))
    x_train, x_test = ds.images[~ds.test_mask], ds.images[ds.test_mask]
    models = {}
    for preset in ("seed", "dense"):
        keras.utils.set_random_seed(0)
        ae = build_autoencoder((28, 28), preset)
        bs = default_batch_size(preset)
        stage(f"train {preset} {args.epochs} epochs (bs {bs})",
              lambda: ae.model.fit(x_train, x_train, batch_size=bs, epochs=args.epochs, verbose=0))
        print(f"  {preset}: test-set MSE {mse(ae.model, x_test):.5f}", flush=True)
        models[preset] = ae
    ae = models["dense"]
    stage("encode 70k (dense)", lambda: LatentLayout(ae.encoder).fit_transform(ds.images))
    stage("layout pca", lambda: PCALayout().fit_transform(ds.images))
    stage("layout umap (PCA-50, first in process)", lambda: UMAPLayout().fit_transform(ds.images))
    stage("layout tsne openTSNE (PCA-50)", lambda: TSNELayout().fit_transform(ds.images))
    if args.sklearn_tsne:
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        x50 = PCA(50, random_state=0).fit_transform(ds.images.reshape(len(ds.images), -1))
        stage("layout tsne scikit-learn (PCA-50)", lambda: TSNE(random_state=0, n_jobs=2).fit_transform(x50))

    from aereport.model import decode_at

    decode_at(ae.decoder, 0.0, 0.0)
    times = []
    for x in np.linspace(-5, 5, 200):
        t = time.perf_counter()
        decode_at(ae.decoder, x, -x)
        times.append(time.perf_counter() - t)
    print(f"decode_at server-side p50 {np.median(times) * 1e3:.2f} ms, p95 {np.percentile(times, 95) * 1e3:.2f} ms")
    print(f"peak memory (max RSS) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
