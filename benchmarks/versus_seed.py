"""aereport's pipeline against the tutorial's, side by side: time per stage, ratio, quality.

    python benchmarks/versus_seed.py --data-dir ../shared/data/mnist --sizes 5000,20000,70000

For each size (a fixed random subset of MNIST's 70k, its own train/test split kept), two pipelines
run one after the other, each in a fresh process so each pays its own imports and compiles and
reports its own peak memory:

- **reference** — the tutorial's code exactly: its ``Autoencoder`` class (Dense 128 → 128 → 2 and
  back, no activations), ``fit(X, X, batch_size=64, epochs=8)``, ``encoder.predict``,
  ``umap.UMAP()`` and ``sklearn.manifold.TSNE()`` with their defaults on the 784 raw pixels;
- **aereport** — what ``aereport train --epochs 8 --layouts ae,pca,umap,tsne`` does: the default
  preset, checkpoints every epoch, PCA-50 before UMAP, openTSNE; with ``--latent-dims 2,8`` once
  per code size (``--latent-dim 8``: the same pipeline with an 8-D code, whose latent layout is
  the code's PCA), each against the same reference run.

Quality, computed afterwards for both: test-set reconstruction MSE; for every 2-D layout the
10-nearest-neighbour label accuracy (5-fold cross-validated) and scikit-learn's trustworthiness
(10 neighbours, on the same random 5,000 points for every layout: it needs all pairwise distances).
Prints one table per size and writes everything to ``--json``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time

import numpy as np

EPOCHS = 8
STAGES = ("train", "encode", "umap", "tsne")


def subset(data_dir: str, n: int):
    from aereport.data import Dataset, load_mnist

    ds = load_mnist(data_dir)
    if n >= len(ds.images):
        return ds
    keep = np.sort(np.random.default_rng(0).permutation(len(ds.images))[:n])
    return Dataset(ds.images[keep], ds.labels[keep], name=f"mnist-{n}", test_mask=ds.test_mask[keep])


def reference(data_dir: str, n: int, train_only: bool = False) -> dict:
    """The tutorial's pipeline, written as the tutorial writes it."""
    import keras
    from keras.layers import Dense, Flatten, Input, Reshape
    from keras.models import Model

    class Autoencoder:
        def __init__(self, img_shape=(218, 178), latent_dim=2, n_layers=2, n_units=128):
            i = h = Input(img_shape)
            h = Flatten()(h)
            for _ in range(n_layers):
                h = Dense(n_units)(h)
            o = Dense(latent_dim)(h)
            self.encoder = Model(inputs=[i], outputs=[o])
            i = h = Input((latent_dim,))
            for _ in range(n_layers):
                h = Dense(n_units)(h)
            h = Dense(img_shape[0] * img_shape[1])(h)
            o = Reshape(img_shape)(h)
            self.decoder = Model(inputs=[i], outputs=[o])
            i = Input(img_shape)
            o = self.decoder(self.encoder(i))
            self.model = Model(inputs=[i], outputs=[o])
            self.model.compile(loss="mse", optimizer="adam")

    ds = subset(data_dir, n)
    X, x_train, x_test = ds.images, ds.images[~ds.test_mask], ds.images[ds.test_mask]
    times, layouts = {}, {}
    keras.utils.set_random_seed(0)
    autoencoder = Autoencoder(img_shape=(28, 28))
    with timed(times, "train"):
        autoencoder.model.fit(x_train, x_train, batch_size=64, epochs=EPOCHS, verbose=0)
    with timed(times, "encode"):
        layouts["ae"] = autoencoder.encoder.predict(X, verbose=0)
    test_mse = float(np.mean((autoencoder.model.predict(x_test, verbose=0) - x_test) ** 2))
    if train_only:
        return finish(times, layouts, test_mse, len(x_train))
    import umap
    from sklearn.manifold import TSNE

    with timed(times, "umap"):
        layouts["umap"] = umap.UMAP().fit_transform(X.reshape(len(X), -1))
    with timed(times, "tsne"):
        layouts["tsne"] = TSNE().fit_transform(X.reshape(len(X), -1))
    return finish(times, layouts, test_mse, len(x_train))


def ours(data_dir: str, n: int, train_only: bool = False, preset: str = "dense", batch_size: int | None = None,
         latent_dim: int = 2) -> dict:
    """What `aereport train --epochs 8 --layouts ae,pca,umap,tsne [--latent-dim N]` runs."""
    import keras  # noqa: F401  imported before the clock starts, as in reference()

    from aereport.model import mse
    from aereport.runs import ensure_layouts
    from aereport.training import TrainingConfig, load_or_build, new_run, train

    ds = subset(data_dir, n)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = new_run(os.path.join(tmp, "run"), TrainingConfig(preset=preset, batch_size=batch_size,
                                                                  latent_dim=latent_dim), ds)
        ae = load_or_build(run)  # built before the clock starts, as in reference()
        with timed(times, "train"):
            train(run, ds, EPOCHS, ae=ae)
        test_mse = mse(ae.model, ds.images[ds.test_mask])
        n_train = int((~ds.test_mask).sum())
        # Steady state: an epoch after the first (which traces), its validation included.
        epoch_rate = n_train / float(np.median([r["seconds"] for r in run.history[1:]] or [np.nan]))
        if train_only:
            return {**finish(times, {}, test_mse, n_train), "epoch_samples_per_s": epoch_rate}
        started = {}
        done = lambda name: times.__setitem__(name, time.perf_counter() - started[name])  # noqa: E731
        layouts_start = time.perf_counter()
        out = ensure_layouts(run, ds, ae, ["ae", "pca", "umap", "tsne"], {},
                             on_start=lambda name: started.__setitem__(name, time.perf_counter()),
                             on_done=done)
        # UMAP runs beside t-SNE (from 20k points): the stages overlap, so the total is wall time.
        wall = times["train"] + time.perf_counter() - layouts_start
    times["encode"] = times.pop("ae")
    return {**finish(times, {k: v["xy"] for k, v in out.items()}, test_mse, n_train), "epoch_samples_per_s": epoch_rate,
            "wall": wall}


class timed:
    def __init__(self, times: dict, name: str):
        self.times, self.name = times, name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.times[self.name] = time.perf_counter() - self.start


def finish(times, layouts, test_mse, n_train) -> dict:
    return {"times": times, "layouts": {k: np.asarray(v, np.float32) for k, v in layouts.items()},
            "test_mse": test_mse, "train_samples_per_s": n_train * EPOCHS / times["train"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_child(fn, *args):
    """``fn(*args)`` in a fresh interpreter: its own imports, compiles and peak memory."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(fn, *args).result()


def quality(images, labels, xy, subset_idx) -> dict:
    from sklearn.manifold import trustworthiness
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    acc = cross_val_score(KNeighborsClassifier(10), xy, labels, cv=5).mean()
    flat = images[subset_idx].reshape(len(subset_idx), -1)
    return {"knn10": float(acc), "trust": float(trustworthiness(flat, xy[subset_idx], n_neighbors=10))}


def trust_sample(n: int) -> np.ndarray:
    """The 5,000 points (or all ``n``) that trustworthiness is measured on: it needs all their pairwise distances."""
    return np.random.default_rng(1).choice(n, min(5000, n), replace=False)


def report(n: int, ref: dict, owns: dict[str, dict], ds) -> dict:
    """Print one size's table (the reference, then each of ours with its ratio) and return its figures."""
    def row(name, ref_cell, own_cells):
        print(f"{name:<22}{ref_cell:>12}" + "".join(f"{c:>18}{'':>8}" for c in own_cells))

    print(f"\n## {n:,} images ({int((~ds.test_mask).sum()):,} train / {int(ds.test_mask.sum()):,} test)")
    print(f"{'stage':<22}{'reference':>12}" + "".join(f"{who:>18}{'ratio':>8}" for who in owns))
    for stage in STAGES + ("total",):
        r = sum(ref["times"].values()) if stage == "total" else ref["times"][stage]
        cells = ""
        for own in owns.values():
            o = own.get("wall", sum(own["times"].values())) if stage == "total" else own["times"][stage]
            cells += f"{o:>17.1f}s{r / o:>7.1f}x"
        print(f"{stage:<22}{r:>11.1f}s{cells}")
    row("(aereport pca)", "", [f"{own['times']['pca']:.1f}s" for own in owns.values()])
    for name, fmt in (("train samples/s", "{train_samples_per_s:,.0f}"), ("test MSE", "{test_mse:.4f}"),
                      ("peak RSS", "{peak_rss_mb:,.0f}MB")):
        row(name, fmt.format(**ref), [fmt.format(**own) for own in owns.values()])
    idx = trust_sample(len(ds.images))
    whos = {"reference": ref, **owns}
    out = {"n": n, **{who: strip(res) for who, res in whos.items()}, "quality": {}}
    for name in ("ae", "umap", "tsne", "pca"):
        q = {who: quality(ds.images, ds.labels, res["layouts"][name], idx)
             for who, res in whos.items() if name in res["layouts"]}
        out["quality"][name] = q
        for measure, title in (("knn10", "10-NN accuracy"), ("trust", "trustworthiness")):
            cells = [f"{q[w][measure]:.3f}" if w in q else "-" for w in whos]
            row(f"{name} {title}", cells[0], cells[1:])
    return out


def strip(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "layouts"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--sizes", default="5000,20000,70000", help="comma-separated subset sizes")
    p.add_argument("--json", default="versus_seed.json", help="where to write every figure")
    p.add_argument("--preset", default="dense", help="aereport's model preset (default: the default)")
    p.add_argument("--batch-size", type=int, default=None, help="aereport's batch size (default: the preset's)")
    p.add_argument("--latent-dims", default="2", help="comma-separated code sizes of aereport's model, "
                   "each its own pipeline against the same reference (default: 2, the default model)")
    p.add_argument("--train-only", action="store_true", help="only train and compare throughput and test MSE")
    args = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress in a log file as it happens
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        ref = in_child(reference, args.data_dir, n, args.train_only)
        owns = {("aereport" if d == 2 else f"aereport {d}-D"): in_child(ours, args.data_dir, n, args.train_only,
                                                                         args.preset, args.batch_size, d)
                for d in map(int, args.latent_dims.split(","))}
        if args.train_only:
            for who, own in owns.items():
                print(f"{n:,} images: samples/s reference {ref['train_samples_per_s']:,.0f} (test MSE "
                      f"{ref['test_mse']:.4f}), {who} {args.preset} batch {args.batch_size or 'default'} "
                      f"{own['train_samples_per_s']:,.0f} (test MSE {own['test_mse']:.4f}; per epoch after the "
                      f"first, validation included: {own['epoch_samples_per_s']:,.0f}), ratio "
                      f"{own['train_samples_per_s'] / ref['train_samples_per_s']:.1f}x", flush=True)
            results.append({"n": n, "reference": strip(ref), **{who: strip(own) for who, own in owns.items()}})
        else:
            results.append(report(n, ref, owns, subset(args.data_dir, n)))
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
