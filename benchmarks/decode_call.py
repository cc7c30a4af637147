"""Server-side cost of decoding one tap: the Keras decoder called three ways, and the NumPy one.

    python benchmarks/decode_call.py --run runs/mnist70k

Prints the median over 300 calls of: Keras's eager call, ``predict_on_batch`` and a
``tf.function``; the same weights as :mod:`aereport.inference`'s NumPy model (what a served report
runs); and ``ReportState.decode_position`` (neighbour lookup included, on UMAP if cached).
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def median_ms(f, n=300):
    f()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    args = p.parse_args()
    import tensorflow as tf

    from aereport.state import ReportState

    state = ReportState.open(args.run)
    dec = state.run.load_autoencoder().decoder  # Keras's
    z = np.array([[1.0, 2.0]], np.float32)
    graph = tf.function(lambda z: dec(z, training=False),
                        input_signature=[tf.TensorSpec([1, state.ae.latent_dim], tf.float32)])
    rows = {"Keras: eager decoder(z)": lambda: np.asarray(dec(z, training=False)),
            "Keras: decoder.predict_on_batch(z)": lambda: np.asarray(dec.predict_on_batch(z)),
            "Keras: tf.function": lambda: np.asarray(graph(z)),
            f"{type(state.ae.decoder).__name__} (the served decoder)": lambda: state.ae.decoder(z),
            "decode_position('ae', x, y)": lambda: state.latent.decode("ae", 1.0, 2.0)}
    if "umap" in state.layouts:
        rows["decode_position('umap', x, y) (8-NN blend)"] = lambda: state.latent.decode("umap", 1.0, 2.0)
    for name, f in rows.items():
        print(f"{name}: {median_ms(f):.3f} ms")


if __name__ == "__main__":
    main()
