"""aereport.tfjs: exported models load in real TensorFlow.js (Node and Chromium) and agree with Keras."""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import keras
import numpy as np
import pytest

from aereport import AEReportError
from aereport.model import build_autoencoder, encode
from aereport.store import Run
from aereport.tfjs import SHARD_BYTES, save_tfjs

from .conftest import aereport

JS = Path(__file__).parent / "js"


def tfjs_predict(model_dir, x) -> np.ndarray:
    inputs = Path(model_dir) / "inputs.json"
    inputs.write_text(json.dumps(np.asarray(x).tolist()))
    proc = subprocess.run(["node", str(JS / "predict.mjs"), str(model_dir), str(inputs)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    return np.array(out["data"], np.float32).reshape(out["shape"])


@pytest.mark.parametrize("preset, shape", [("seed", (28, 28)), ("dense", (28, 28)), ("conv", (218, 178)),
                                           ("conv", (64, 52, 3))])
def test_every_preset_matches_keras_in_node(tmp_path, mnist_small, preset, shape):
    keras.utils.set_random_seed(1)
    ae = build_autoencoder(shape, preset)
    z = np.random.default_rng(0).normal(0, 4, (6, 2)).astype(np.float32)
    save_tfjs(ae.decoder, tmp_path / "decoder")
    np.testing.assert_allclose(tfjs_predict(tmp_path / "decoder", z), np.asarray(ae.decoder(z)), atol=1e-5)
    images = mnist_small.images[:5] if shape == (28, 28) else np.random.default_rng(0).random((3, *shape), np.float32)
    save_tfjs(ae.encoder, tmp_path / "encoder")
    codes = encode(ae.encoder, images)
    np.testing.assert_allclose(tfjs_predict(tmp_path / "encoder", images), codes, atol=1e-5)
    np.testing.assert_allclose(tfjs_predict(tmp_path / "decoder", codes), np.asarray(ae.decoder(codes)), atol=1e-5)


BROWSER_PREDICT = """async ([manifest, weights, x]) => {
  const bytes = Uint8Array.from(atob(weights), (c) => c.charCodeAt(0));
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel(tf.io.fromMemory({modelTopology: manifest.modelTopology,
      weightSpecs: manifest.weightsManifest[0].weights, weightData: bytes.buffer}));
  const y = model.predict(tf.tensor(x));
  return {shape: y.shape, data: Array.from(await y.data())}; }"""


@pytest.mark.parametrize("preset, shape", [("seed", (28, 28)), ("dense", (28, 28)), ("conv", (64, 52, 3))])
def test_every_preset_matches_keras_in_chromium(tmp_path, browser, mnist_small, preset, shape):
    import base64

    keras.utils.set_random_seed(2)
    ae = build_autoencoder(shape, preset)
    real = mnist_small.images[:4] if shape == (28, 28) else np.random.default_rng(0).random((4, *shape), np.float32)
    page = browser.new_page()
    page.add_script_tag(path=str(JS / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"))
    try:
        for name, model, x in [("decoder", ae.decoder, encode(ae.encoder, real)),  # real images' codes
                               ("encoder", ae.encoder, real)]:
            files = save_tfjs(model, tmp_path / name)
            manifest = json.loads((tmp_path / name / "model.json").read_text())
            weights = base64.b64encode(b"".join(f.read_bytes() for f in files if f.suffix == ".bin")).decode()
            out = page.evaluate(BROWSER_PREDICT, [manifest, weights, x.tolist()])
            got = np.array(out["data"], np.float32).reshape(out["shape"])
            np.testing.assert_allclose(got, np.asarray(model(x)), atol=1e-5)
    finally:
        page.close()


def test_layout_of_the_files(tmp_path):
    ae = build_autoencoder((218, 178), "seed")  # 128×38,804 output kernel: 20 MB of weights
    files = save_tfjs(ae.decoder, tmp_path)
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert manifest["format"] == "layers-model" and {"modelTopology", "weightsManifest"} <= set(manifest)
    shards = [f for f in files if f.suffix == ".bin"]
    assert len(shards) == 5 and all(f.stat().st_size <= SHARD_BYTES for f in shards)
    names = [w["name"] for w in manifest["weightsManifest"][0]["weights"]]
    assert names[:2] == [f"{ae.decoder.layers[1].name}/kernel", f"{ae.decoder.layers[1].name}/bias"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files)  # no temp files


def test_unsupported_layer_is_named():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.GaussianNoise(0.1, name="noisy")(inputs))
    with pytest.raises(AEReportError, match=r"TF.js export supports layers of the types .*Received: layer='noisy \(GaussianNoise\)'"):
        save_tfjs(model, "/nonexistent/never-written")


def test_cli_export_and_the_seed_snippet_in_chromium(trained_run, tmp_path, browser):
    """`aereport export-tfjs`, then the tutorial's own HTML served by an HTTP server loads the decoder."""
    out = tmp_path / "site"
    aereport("export-tfjs", trained_run, out)
    assert (out / "decoder" / "model.json").is_file() and (out / "encoder" / "model.json").is_file()
    shutil.copy(JS / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js", out)
    (out / "index.html").write_text("""<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>
<script src='tf.min.js'></script>
<script>
tf.loadLayersModel('decoder/model.json').then(function(model) {
  var y = tf.tensor2d([[10, 50]]);
  window.prediction = Array.from(model.predict(y).dataSync());
});
</script></body></html>""")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.wait_for_function("() => window.prediction !== undefined", timeout=60000)
        got = np.array(page.evaluate("() => window.prediction"), np.float32)
        page.close()
    finally:
        server.shutdown()
    decoder = Run(trained_run).load_autoencoder().decoder
    expected = np.asarray(decoder(np.array([[10, 50]], np.float32)))[0].ravel()
    assert got.shape == (784,)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def _own_model_with_batch_norm():
    from aereport.own import from_models

    layers = keras.layers
    encoder = keras.Sequential([keras.Input((784,)), layers.Dense(32), layers.BatchNormalization(),
                                layers.Activation("relu"), layers.Dense(3)])
    decoder = keras.Sequential([keras.Input((3,)), layers.Dense(32), layers.BatchNormalization(),
                                layers.Dropout(0.1), layers.Dense(784, activation="sigmoid")])
    return from_models(encoder, decoder, (28, 28))


@pytest.mark.parametrize("preset, shape", [("seed", (28, 28)), ("dense", (28, 28)), ("conv", (64, 52, 3)),
                                           ("own", (28, 28))])
def test_the_saved_archive_writes_the_same_tfjs_files_as_keras(tmp_path, preset, shape):
    """An export reads the models from the run's archive with NumPy (no TensorFlow import):
    the files it writes are Keras's own, byte for byte."""
    from aereport.inference import load_autoencoder

    keras.utils.set_random_seed(3)
    ae = _own_model_with_batch_norm() if preset == "own" else build_autoencoder(shape, preset)
    ae.model.save(tmp_path / "autoencoder.keras")
    chains = load_autoencoder(tmp_path / "autoencoder.keras")
    assert chains is not None, "the archive is one the NumPy models run"
    for name in ("encoder", "decoder"):
        ours = save_tfjs(getattr(chains, name), tmp_path / "numpy" / name)
        theirs = save_tfjs(getattr(ae, name), tmp_path / "keras" / name)
        assert [f.name for f in ours] == [f.name for f in theirs]
        for a, b in zip(ours, theirs):
            assert a.read_bytes() == b.read_bytes(), f"{name}/{a.name} differs"


def test_pooling_upsampling_dilation_and_normalisation_layers_match_keras_in_node(tmp_path):
    L = keras.layers
    keras.utils.set_random_seed(2)
    x = inputs = keras.Input((3,))
    x = L.Reshape((7, 7, 2))(L.Dense(98, activation="relu", use_bias=False)(x))
    x = L.Conv2D(2, 3, dilation_rate=2, padding="same", use_bias=False)(x)
    x = L.UpSampling2D(2)(x)
    skip = L.Conv2D(4, 3, padding="same")(x)
    x = L.Add()([L.Conv2D(4, 1)(x), skip])
    x = L.Concatenate()([L.MaxPooling2D(2, padding="same")(x), L.AveragePooling2D(2)(x)])
    x = L.LayerNormalization()(x)
    x = L.UpSampling2D((4, 4))(x)
    out = L.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    decoder = keras.Model(inputs, out)
    for layer in decoder.layers:  # LayerNormalization's gamma and beta off their 1 and 0
        if isinstance(layer, L.LayerNormalization):
            layer.set_weights([w + np.random.default_rng(0).normal(0, 0.3, w.shape) for w in layer.get_weights()])
    z = np.random.default_rng(0).normal(0, 2, (4, 3)).astype(np.float32)
    save_tfjs(decoder, tmp_path / "decoder")
    np.testing.assert_allclose(tfjs_predict(tmp_path / "decoder", z), np.asarray(decoder(z)), atol=1e-5)
    images_in = keras.Input((28, 28, 1))
    pooled = keras.Model(images_in, L.Dense(2)(L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(images_in))))
    images = np.random.default_rng(1).random((3, 28, 28, 1), np.float32)
    save_tfjs(pooled, tmp_path / "encoder")
    np.testing.assert_allclose(tfjs_predict(tmp_path / "encoder", images), np.asarray(pooled(images)), atol=1e-5)
