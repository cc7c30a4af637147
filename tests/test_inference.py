"""aereport.inference: the served process's NumPy models give Keras's outputs, or step aside for Keras."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from aereport.inference import Chain, load_autoencoder
from aereport.autoencoder import model_version
from aereport.model import architecture, build_autoencoder
from aereport.own import from_models
from aereport.store import Run


def _perturbed(ae, seed=0):
    """Non-zero biases and off-initial kernels, so a swapped or ignored weight shows."""
    rng = np.random.default_rng(seed)
    ae.model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in ae.model.get_weights()])
    return ae


@pytest.mark.parametrize("shape, preset, options", [
    ((28, 28), "dense", {}),
    ((28, 28), "seed", {}),
    ((28, 28), "dense", {"latent_dim": 16, "n_layers": 3}),
    ((28, 28), "conv", {"n_layers": 2}),
    ((109, 89, 3), "conv", {"n_layers": 3}),  # the face app's model: odd sizes, cropped back
    ((13, 7, 3), "conv", {"n_layers": 2, "latent_dim": 5}),
])
def test_numpy_models_match_keras(tmp_path, mnist_small, shape, preset, options):
    ae = _perturbed(build_autoencoder(shape, preset=preset, **options))
    ae.model.save(tmp_path / "autoencoder.keras")
    ours = load_autoencoder(tmp_path / "autoencoder.keras")
    assert isinstance(ours.decoder, Chain)
    if shape == (28, 28):
        x = mnist_small.images[:64]
    else:
        x = np.random.default_rng(1).random((16, *shape), dtype=np.float32)
    z = np.asarray(ae.encoder.predict_on_batch(x))
    np.testing.assert_allclose(ours.encoder(x), z, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(ours.decoder.predict_on_batch(z), ae.decoder.predict_on_batch(z), atol=2e-6)
    np.testing.assert_allclose(ours.model(x), ae.model.predict_on_batch(x), atol=2e-6)
    # Far codes too: Keras's picture, not NaN (at 1e4 float32 rounding alone moves a
    # logit near 0 by 1e-3, in either implementation).
    far = np.array([[50] * ours.latent_dim, [1e4] * ours.latent_dim, [-1e4] * ours.latent_dim], np.float32)
    far_images = ours.decoder(far)
    assert np.isfinite(far_images).all()
    np.testing.assert_allclose(far_images, ae.decoder.predict_on_batch(far), atol=1e-3, rtol=1e-4)
    assert (ours.latent_dim, ours.img_shape) == (ae.latent_dim, ae.img_shape)
    assert model_version(ours) == model_version(ae)  # the layouts cache keys agree
    assert architecture(ours) == architecture(ae)
    assert ours.model.count_params() == ae.model.count_params()


def test_set_weights_after_training_in_another_process(tmp_path):
    """The server takes the training process's weights (Keras's order) into its NumPy models."""
    ae = build_autoencoder((28, 28), preset="conv", n_layers=2)
    ae.model.save(tmp_path / "autoencoder.keras")
    ours = load_autoencoder(tmp_path / "autoencoder.keras")
    _perturbed(ae, seed=3)
    ours.model.set_weights(ae.model.get_weights())
    z = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_allclose(ours.decoder(z), ae.decoder.predict_on_batch(z), atol=2e-6)
    assert model_version(ours) == model_version(ae)


def test_a_tap_sized_decode_runs_blas_on_one_thread(tmp_path):
    """OpenBLAS's workers spin ~0.1 s after a multithreaded call: a tap's few codes stay on the
    calling thread, while a whole dataset's encoding keeps the process's threads."""
    from threadpoolctl import threadpool_info

    ae = build_autoencoder((28, 28), preset="dense")
    ae.model.save(tmp_path / "autoencoder.keras")
    ours = load_autoencoder(tmp_path / "autoencoder.keras")
    default = max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
    seen = []
    first = ours.decoder.layers[0]
    call = first["call"]
    first["call"] = lambda x: seen.append(max(lib["num_threads"] for lib in threadpool_info()
                                               if lib["user_api"] == "blas")) or call(x)
    ours.decoder.predict_on_batch(np.zeros((9, 2), np.float32))  # a tap's path strip
    ours.decoder(np.zeros((5000, 2), np.float32))
    assert seen == [1, default]
    # and the limit is lifted afterwards, also after decodes in several threads at once (each
    # restoring its own "before" out of order would leave the process on one thread)
    first["call"] = call
    import threading

    threads = [threading.Thread(target=lambda: [ours.decoder(np.zeros((3, 2), np.float32)) for _ in range(200)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas") == default


def _saved(tmp_path, encoder, decoder, shape=(28, 28)):
    ae = from_models(encoder, decoder, shape)
    ae.model.save(tmp_path / "autoencoder.keras")
    return load_autoencoder(tmp_path / "autoencoder.keras")


def test_layers_and_settings_it_does_not_run_are_left_to_keras(tmp_path):
    dense_decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(784, activation="sigmoid")])
    with_layer = lambda layer: keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), layer,  # noqa: E731
                                                  keras.layers.Dense(2)])
    # A layer class it does not know; an activation it does not know; a setting it does not implement.
    assert _saved(tmp_path, with_layer(keras.layers.UnitNormalization()), dense_decoder) is None
    assert _saved(tmp_path, with_layer(keras.layers.Dense(8, activation="hard_sigmoid")), dense_decoder) is None
    assert _saved(tmp_path, with_layer(keras.layers.RMSNormalization()), dense_decoder) is None
    grouped = keras.Sequential([keras.Input((28, 28, 2)), keras.layers.Conv2D(4, 3, groups=2),
                                keras.layers.Flatten(), keras.layers.Dense(2)])
    assert _saved(tmp_path, grouped, keras.Sequential([keras.Input((2,)), keras.layers.Dense(28 * 28 * 2)]),
                  (28, 28, 2)) is None
    # A layer called twice (shared weights on two paths) is no graph this module runs.
    x = inputs = keras.Input((28, 28))
    flat = keras.layers.Flatten()(x)
    shared = keras.layers.Dense(784)
    twice = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Add()([shared(flat), shared(shared(flat))])))
    assert _saved(tmp_path, twice, dense_decoder) is None


def test_graphs_a_skip_connection_and_merges_match_keras(tmp_path, mnist_small):
    """Not only chains: a residual encoder (Add) and a decoder that concatenates, subtracts,
    multiplies and averages its branches."""
    L = keras.layers
    x = inputs = keras.Input((28, 28))
    flat = L.Flatten()(x)
    h = L.Dense(32, activation="relu")(flat)
    h = L.Add()([h, L.Dense(32, activation="relu")(h)])
    encoder = keras.Model(inputs, L.Dense(4)(h))
    z = keras.Input((4,))
    a, b = L.Dense(16, activation="tanh")(z), L.Dense(16, activation="sigmoid")(z)
    m = L.Concatenate()([L.Subtract()([a, b]), L.Multiply()([a, b]), L.Average()([a, b]), L.Maximum()([a, b])])
    decoder = keras.Model(z, L.Reshape((28, 28))(L.Dense(784, activation="sigmoid")(m)))
    _numpy_matches_keras(tmp_path, encoder, decoder, mnist_small.images[:32])


def test_the_layers_it_runs_beyond_the_presets(tmp_path, mnist_small):
    encoder = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 5, strides=(2, 1), padding="valid"),
                                keras.layers.BatchNormalization(), keras.layers.Activation("tanh"),
                                keras.layers.Dropout(0.3), keras.layers.Flatten(),
                                keras.layers.Dense(16, activation="elu"), keras.layers.Dense(3, activation="softplus")])
    decoder = keras.Sequential([keras.Input((3,)), keras.layers.Dense(7 * 7 * 4, activation="leaky_relu"),
                                keras.layers.Reshape((7, 7, 4)),
                                keras.layers.Conv2DTranspose(4, 4, strides=4, padding="valid", activation="silu"),
                                keras.layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")])
    ae = _perturbed(from_models(encoder, decoder, (28, 28)))
    ae.model.save(tmp_path / "autoencoder.keras")
    ours = load_autoencoder(tmp_path / "autoencoder.keras")
    x = mnist_small.images[:32]
    np.testing.assert_allclose(ours.model(x), ae.model.predict_on_batch(x), atol=5e-6)


def _numpy_matches_keras(tmp_path, encoder, decoder, x):
    """The user's models wrapped and perturbed, saved, and run by NumPy: its encoder and stacked
    model give Keras's outputs on ``x``. Returns (the Keras autoencoder, the NumPy one)."""
    ae = _perturbed(from_models(encoder, decoder, (28, 28)))
    ae.model.save(tmp_path / "autoencoder.keras")
    ours = load_autoencoder(tmp_path / "autoencoder.keras")
    assert ours is not None, "these layers and settings run with NumPy"
    np.testing.assert_allclose(ours.encoder(x), ae.encoder.predict_on_batch(x), atol=5e-6)
    np.testing.assert_allclose(ours.model(x), ae.model.predict_on_batch(x), atol=5e-6)
    return ae, ours


def test_dilation_no_bias_and_layer_normalisation_match_keras(tmp_path, mnist_small):
    L = keras.layers
    encoder = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3, dilation_rate=2, padding="same"),
                                L.Conv2D(4, 3, dilation_rate=(3, 2), use_bias=False, activation="relu"),
                                L.Flatten(), L.Dense(16, use_bias=False), L.LayerNormalization(),
                                L.LayerNormalization(center=False), L.Dense(3)])
    decoder = keras.Sequential([keras.Input((3,)), L.Dense(7 * 7 * 2, use_bias=False, activation="relu"),
                                L.LayerNormalization(scale=False), L.Reshape((7, 7, 2)),
                                L.Conv2DTranspose(2, 3, strides=4, padding="same", use_bias=False),
                                L.Conv2D(1, 3, padding="same", activation="sigmoid")])
    ae, ours = _numpy_matches_keras(tmp_path, encoder, decoder, mnist_small.images[:32])
    # the page's decoder written from the archive is the one written from Keras: names and bytes
    from aereport.tfjs import save_tfjs

    for name, model in (("ours", ours.decoder), ("keras", ae.decoder)):
        save_tfjs(model, tmp_path / name)
    manifests = [json.loads((tmp_path / name / "model.json").read_text())["weightsManifest"] for name in ("ours", "keras")]
    assert manifests[0] == manifests[1]
    assert (tmp_path / "ours" / "group1-shard1of1.bin").read_bytes() == (tmp_path / "keras" / "group1-shard1of1.bin").read_bytes()


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_pooling_upsampling_and_rescaling_match_keras(tmp_path, mnist_small, padding):
    """The keras.io convolutional autoencoder's layers (MaxPooling2D, UpSampling2D), on odd sizes
    where 'same' pads unevenly, and the rest a decoder or an encoder commonly holds."""
    L = keras.layers
    encoder = keras.Sequential([keras.Input((28, 28, 1)), L.Rescaling(255.0), L.Rescaling(1 / 255.0),
                                L.Conv2D(4, 3, padding="same", activation="relu"),
                                L.MaxPooling2D(2, padding=padding), L.AveragePooling2D(3, strides=2, padding=padding),
                                L.Conv2D(6, 1), L.GlobalAveragePooling2D(), L.Dense(3)])
    decoder = keras.Sequential([keras.Input((3,)), L.Dense(7 * 7 * 2, activation="relu"), L.Reshape((7, 7, 2)),
                                L.UpSampling2D(2), L.Conv2D(2, 3, padding="same", activation="relu"),
                                L.UpSampling2D((2, 2)), L.Conv2D(1, 3, padding="same", activation="sigmoid")])
    _numpy_matches_keras(tmp_path, encoder, decoder, mnist_small.images[:32])


def test_a_served_run_never_imports_tensorflow(trained_run, tmp_path):
    """Opening a run, building the report, decoding on every layout and exporting it (TF.js
    files included): no TensorFlow import (4-5 s of a server's start, 7-10 s of an export)."""
    code = f"""
import sys
from aereport.export import export_report
from aereport.report import Report
from aereport.state import ReportState
state = ReportState.open({str(trained_run)!r})
Report(state=state).__panel__()
for layout in state.layouts:
    state.latent.decode(layout, 0.5, -0.5)
state.sample(0)
export_report(state, {str(tmp_path / "report.html")!r})
export_report(state, {str(tmp_path / "site")!r}, fmt="dir")
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_computing_layouts_never_imports_tensorflow(trained_run, tmp_path):
    """`aereport layouts` (what a server runs for a run's missing layouts) encodes with the NumPy
    models and imports umap-learn without the TensorFlow its package pulls in for ParametricUMAP."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "layouts.parquet").unlink()
    code = f"""
import sys
from aereport.cli import main
main(["layouts", "--run", {str(run)!r}, "--only", "ae,umap"])
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "TensorFlow was imported"
from umap.parametric_umap import ParametricUMAP  # still there for a user who asks for it
assert "tensorflow" in sys.modules
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
    assert set(Run(run).load_layouts()) == {"ae", "umap"}
