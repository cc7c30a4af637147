"""Users' own Keras autoencoders as keras.io writes them: the VAE of examples/generative/vae.py (an
encoder with outputs [z_mean, z_log_var, z], a subclassed VAE with its own train_step), the
convolutional autoencoder of examples/vision/autoencoder.py (ONE model, a 7×7×32 feature-map code)
and a residual decoder; each trained briefly on real MNIST, then explored, reopened from its run
(NumPy or Keras), decoded by TF.js in Node to Keras's pixels, and exported offline."""
from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

import aereport
from aereport import AEReportError
from aereport.export import export_report, field_size
from aereport.store import Run
from aereport.tfjs import save_tfjs
from aereport.training import train
from aereport.inference import Chain
from aereport.variational import kl_per_dimension
from aereport.views.training import TrainingView

from .test_tfjs import tfjs_predict

LATENT = 2


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit (keras.io's VAE)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            total_loss = reconstruction_loss + ops.mean(ops.sum(kl_loss, axis=1))
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}


@pytest.fixture(scope="module")
def digits(mnist_small):
    return mnist_small.subset(np.arange(600))


@pytest.fixture(scope="module")
def vae(digits):
    """keras.io's VAE, word for word but for one short epoch."""
    keras.utils.set_random_seed(0)
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(LATENT, name="z_mean")(x)
    z_log_var = layers.Dense(LATENT, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = keras.Input(shape=(LATENT,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")
    model = VAE(encoder, decoder)
    model.compile(optimizer=keras.optimizers.Adam())
    model.fit_history = model.fit(digits.images[..., None], epochs=2, batch_size=128, verbose=0)
    return model


def keras_io_conv_autoencoder(images: np.ndarray, epochs: int = 1) -> keras.Model:
    """keras.io's convolutional autoencoder (examples/vision/autoencoder.py), as it writes it:
    one Model, compiled with binary cross-entropy, trained on ``images`` (N, 28, 28)."""
    keras.utils.set_random_seed(0)
    inputs = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(inputs, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    autoencoder.fit(images[..., None], images[..., None], epochs=epochs, batch_size=128, verbose=0)
    return autoencoder


@pytest.fixture(scope="module")
def conv_autoencoder(digits):
    return keras_io_conv_autoencoder(digits.images)


def _second_pooling(model):
    """The keras.io conv autoencoder's bottleneck: its second MaxPooling2D, 7×7×32."""
    return [layer for layer in model.layers if isinstance(layer, layers.MaxPooling2D)][1]


def _decodes_as_keras(report, decoder, tmp_path):
    """The report's decode of a tapped position is the Keras decoder's image of the same code, and
    so is TF.js's (in Node) of the run's saved decoder; and the run reopens and decodes the same."""
    latent = report.state.latent
    (x0, y0), (x1, y1) = latent.extent("ae")
    x, y = x0 + 0.37 * (x1 - x0), y0 + 0.61 * (y1 - y0)
    z = latent.code_at("ae", x, y)[0][None].astype(np.float32)
    keras_image = np.asarray(decoder.predict_on_batch(z.reshape(1, *decoder.input_shape[1:])))
    np.testing.assert_allclose(latent.decode("ae", x, y)[0], keras_image.reshape(28, 28), atol=1e-5)
    reopened = aereport.open(report.state.run.path)
    np.testing.assert_allclose(reopened.state.latent.decode("ae", x, y)[0], keras_image.reshape(28, 28), atol=1e-5)
    save_tfjs(reopened.state.ae.decoder, tmp_path / "decoder")
    np.testing.assert_allclose(tfjs_predict(tmp_path / "decoder", z).reshape(28, 28), keras_image.reshape(28, 28),
                               atol=1e-5)
    return reopened


def test_the_keras_io_vae_places_each_digit_at_its_mean(vae, digits, tmp_path):
    report = aereport.explore(digits.images, digits.labels, encoder=vae.encoder, decoder=vae.decoder,
                              layouts=("ae",), run_dir=tmp_path / "run", history=vae.fit_history)
    z_mean = np.asarray(vae.encoder.predict(digits.images[..., None], verbose=0)[0])
    np.testing.assert_allclose(report.state.layouts["ae"], z_mean, atol=1e-4)  # the mean, twice the same
    reopened = _decodes_as_keras(report, vae.decoder, tmp_path)
    # σ kept: the KL each dimension pays, in memory and served with NumPy from the run
    z_log_var = np.asarray(vae.encoder.predict(digits.images[..., None], verbose=0)[1])
    for state in (report.state, reopened.state):
        np.testing.assert_allclose(state.variational["log_var"], z_log_var, atol=1e-4)
        np.testing.assert_allclose(state.variational["kl"], kl_per_dimension(z_mean, z_log_var), rtol=1e-4)
    assert isinstance(reopened.state.ae.encoder, Chain)  # the keras.io VAE's encoder runs with NumPy
    # Their training, shown; and never continued with another objective (MSE instead of ELBO).
    for state in (report.state, reopened.state):
        assert [r["loss"] for r in state.history] == pytest.approx(vae.fit_history.history["loss"])
        assert state.trained_by == "you (2 epochs)" and "came apart" in state.not_trainable
    view = TrainingView(state=reopened.state)
    view.__panel__()
    assert view._train_button.disabled
    with pytest.raises(AEReportError, match=r"is not trained by aereport: its encoder and decoder came apart"):
        train(reopened.state.run, reopened.state.dataset, 1)
    assert len(Run(reopened.state.run.path).history) == 2


def test_a_sampled_code_is_refused_and_the_mean_named(vae, digits, tmp_path):
    sampled = keras.Model(vae.encoder.inputs, vae.encoder.outputs[2])
    with pytest.raises(AEReportError, match=r"encoder's code is random: two encodings of the same images differ "
                                            r"by up to .*code='z_mean'"):
        aereport.explore(digits.images, encoder=sampled, decoder=vae.decoder, run_dir=tmp_path / "run")
    with pytest.raises(AEReportError, match=r"encoder has no output named 'zz'; its outputs are z_mean, z_log_var"):
        aereport.explore(digits.images, encoder=vae.encoder, decoder=vae.decoder, code="zz", run_dir=tmp_path / "r")
    assert not (tmp_path / "run").exists() and not (tmp_path / "r").exists()


def test_the_keras_io_conv_autoencoder_as_one_model_with_a_feature_map_code(conv_autoencoder, digits, tmp_path):
    # The narrowest layer (the second pooling, 7×7×32) is found; its code is flattened for the
    # layouts and reshaped for the decoder.
    report = aereport.explore(digits.images, digits.labels, autoencoder=conv_autoencoder, layouts=("ae",),
                              run_dir=tmp_path / "run")
    assert report.state.ae.latent_dim == 7 * 7 * 32
    cut = _second_pooling(conv_autoencoder).output
    decoder = keras.Model(cut, conv_autoencoder.outputs)
    reopened = _decodes_as_keras(report, decoder, tmp_path)
    # The whole model's reconstruction, through the run's own (NumPy) models.
    x = digits.images[:16]
    np.testing.assert_allclose(reopened.state.ae.model(x), conv_autoencoder.predict(x[..., None], verbose=0)[..., 0],
                               atol=1e-5)
    assert field_size(report.state.ae.latent_dim) == 30  # the exported field stays small: 30×30×1568
    # Train goes on with the model's own loss, binary cross-entropy, as keras.io compiled it.
    assert report.state.not_trainable is None and report.state.ae.model.loss == "binary_crossentropy"
    train(reopened.state.run, reopened.state.dataset, 1)
    assert keras.saving.load_model(reopened.state.run.path / "autoencoder.keras").loss == "binary_crossentropy"
    page = export_report(report.state.run.path, tmp_path / "report.html")
    assert page.stat().st_size < 15e6, page.stat().st_size  # 1,568-D codes as JSON decimals: 125 MB at 64×64


def test_a_bottleneck_is_named_or_the_candidates_listed(conv_autoencoder, digits, tmp_path):
    narrowest = re.escape(_second_pooling(conv_autoencoder).name)  # Keras numbers its default names per process
    with pytest.raises(AEReportError, match=rf"no inner layer named 'code'; the narrowest are: {narrowest} "
                                            r"\(1568 values\)"):
        aereport.explore(digits.images, autoencoder=conv_autoencoder, bottleneck="code", run_dir=tmp_path / "run")
    twins = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(4, name="a"),
                              layers.Dense(4, name="b"), layers.Dense(784), layers.Reshape((28, 28))])
    with pytest.raises(AEReportError, match=r"several equally narrow layers \(a \(4 values\), b \(4 values\)\)"):
        aereport.explore(digits.images, autoencoder=twins, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def residual(digits):
    """A plain encoder and a residual decoder (Add, Concatenate), trained together briefly."""
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(64, activation="relu"),
                                layers.Dense(8)], name="enc")
    z = keras.Input((8,))
    h = layers.Dense(64, activation="relu")(z)
    h = layers.Add()([h, layers.Dense(64, activation="relu")(h)])  # a skip connection
    h = layers.Concatenate()([h, layers.Dense(16)(z)])
    out = layers.Reshape((28, 28))(layers.Dense(784, activation="sigmoid")(h))
    decoder = keras.Model(z, out, name="dec")
    model = keras.Sequential([encoder, decoder])
    model.compile("adam", "mse")
    model.fit(digits.images, digits.images, epochs=1, batch_size=128, verbose=0)
    return encoder, decoder


def test_a_residual_decoder(residual, digits, tmp_path):
    encoder, decoder = residual
    report = aereport.explore(digits.images, encoder=encoder, decoder=decoder, layouts=("ae",),
                              run_dir=tmp_path / "run")
    # flat: the decoder's own layers, not one nested model, so TF.js can load it
    assert "Add" in {type(layer).__name__ for layer in report.state.ae.decoder.layers}
    reopened = _decodes_as_keras(report, decoder, tmp_path)
    assert isinstance(reopened.state.ae.decoder, Chain)  # served with NumPy: no TensorFlow for a graph


def test_flat_images_take_image_shape(digits, tmp_path):
    flat = digits.images.reshape(len(digits), -1)
    with pytest.raises(AEReportError, match=r"need reshaping to \(N, H, W\) first \(explore: image_shape=\(H, W\)\)"):
        aereport.explore(flat, run_dir=tmp_path / "run")
    with pytest.raises(AEReportError, match=r"image_shape=\(27, 28\) needs flat images of shape \(N, 756\)"):
        aereport.explore(flat, image_shape=(27, 28), run_dir=tmp_path / "run")


def test_a_layer_the_page_cannot_run_is_said_when_the_model_is_given(digits, tmp_path, monkeypatch):
    import warnings

    import aereport.layouts

    encoder = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(2)])
    decoder = keras.Sequential([keras.Input((2,)), layers.Dense(784, activation="sigmoid"),
                                layers.UnitNormalization(name="unit"), layers.Reshape((28, 28))])
    # Recorded at warnings.warn itself: catch_warnings is not thread-safe, and a thread a former
    # test left running may restore the module's hooks while this one records.
    said, said_before_layouts, real = [], [], aereport.layouts.LayoutProgress
    monkeypatch.setattr(warnings, "warn", lambda message, *a, **k: said.append(str(message)))

    def progress(*args, **kwargs):  # the layouts begin: what has been said by now
        said_before_layouts.extend(said)
        return real(*args, **kwargs)
    monkeypatch.setattr(aereport.layouts, "LayoutProgress", progress)
    aereport.explore(digits.images, encoder=encoder, decoder=decoder, layouts=("ae",), run_dir=tmp_path / "r")
    assert any(re.search(r"cannot be exported as a page \(TF.js\).*Received: layer='unit \(UnitNormalization\)'"
                         r".*run it with Keras", s) for s in said_before_layouts), said_before_layouts


def test_a_model_trained_on_raw_pixels_is_found_out_and_takes_input_scale(digits, tmp_path):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(32, activation="relu"),
                                layers.Dense(2)], name="raw_enc")
    decoder = keras.Sequential([keras.Input((2,)), layers.Dense(32, activation="relu"), layers.Dense(784),
                                layers.Reshape((28, 28))], name="raw_dec")
    model = keras.Sequential([encoder, decoder])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    raw = digits.images * 255  # as keras.datasets.mnist gives them
    model.fit(raw, raw, epochs=40, batch_size=64, verbose=0)
    with pytest.raises(AEReportError, match=r"the decoder draws values up to .* here, and fed 0..255 pixels draws on that "
                                            r"scale and fits the images better: a model trained on raw pixels needs "
                                            r"input_scale=255"):
        aereport.explore(digits.images, encoder=encoder, decoder=decoder, run_dir=tmp_path / "run")
    report = aereport.explore(digits.images, encoder=encoder, decoder=decoder, input_scale=255, layouts=("ae",),
                              run_dir=tmp_path / "run", loss="mse")
    np.testing.assert_allclose(report.state.layouts["ae"], encoder.predict(raw, verbose=0), rtol=1e-4, atol=1e-3)
    reopened = aereport.open(report.state.run.path)  # NumPy: the scales are Rescaling layers
    x = digits.images[:8]
    np.testing.assert_allclose(reopened.state.ae.model(x), model.predict(x * 255, verbose=0) / 255, atol=1e-5)
    save_tfjs(reopened.state.ae.decoder, tmp_path / "decoder")
    z = encoder.predict(raw[:4], verbose=0)
    np.testing.assert_allclose(tfjs_predict(tmp_path / "decoder", z), decoder.predict(z, verbose=0) / 255, atol=1e-5)
    assert report.state.not_trainable is None  # loss= given: Train goes on with it


@pytest.fixture(scope="module")
def conv_run(conv_autoencoder, digits, tmp_path_factory):
    run = tmp_path_factory.mktemp("conv") / "run"
    aereport.explore(digits.images, digits.labels, autoencoder=conv_autoencoder, layouts=("ae",), run_dir=run)
    return run


def test_the_keras_io_vae_served_and_exported_decodes_keras_pixels(vae, digits, browser, tmp_path):
    run = tmp_path / "run"
    aereport.explore(digits.images, digits.labels, encoder=vae.encoder, decoder=vae.decoder, layouts=("ae",),
                     run_dir=run)
    _served_and_exported_as_keras(run, vae.decoder, browser, tmp_path)


def test_the_conv_autoencoder_served_and_exported_decodes_keras_pixels(conv_run, conv_autoencoder, browser,
                                                                       tmp_path):
    cut = _second_pooling(conv_autoencoder).output
    _served_and_exported_as_keras(conv_run, keras.Model(cut, conv_autoencoder.outputs), browser, tmp_path)


def test_the_residual_decoder_served_and_exported_decodes_keras_pixels(residual, digits, browser, tmp_path):
    encoder, decoder = residual
    run = tmp_path / "run"
    aereport.explore(digits.images, encoder=encoder, decoder=decoder, layouts=("ae",), run_dir=run)
    _served_and_exported_as_keras(run, decoder, browser, tmp_path)


def _served_and_exported_as_keras(run, decoder, browser, tmp_path):
    """The run as `aereport serve` shows it (a tap decodes, with NumPy, the position's code: itself
    on a 2-D plane, else the blend of the nearest samples' codes) and as its exported page does
    (TF.js, offline, through its field for a wide code): Keras's pixels for the same code, to 1e-5;
    the page under 15 MB with no request."""
    import subprocess
    import sys
    from pathlib import Path

    from aereport.latent import field_at

    from .bokeh_page import READ
    from .conftest import assert_no_traceback, free_port, wait_for_port
    from .test_browser import open_tab, tap, wait_for
    from .test_export import open_offline

    state = aereport.open(run).state

    def keras_image(z):
        return np.asarray(decoder.predict_on_batch(z.reshape(1, *decoder.input_shape[1:]))).reshape(28, 28)

    def shown(page):
        d = page.evaluate(READ, "decoded-image")
        return np.flipud(np.asarray(d["image"], np.float32).reshape(d["shape"]))

    def tapped(page, fx, fy):
        old = page.evaluate(READ, "decoder-marker")
        marker = tap(page, "decoder-marker", fx, fy,
                     lambda: (m := page.evaluate(READ, "decoder-marker")) and m["x"] != old["x"] and m)
        return marker["x"][0], marker["y"][0]

    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen([str(Path(sys.executable).with_name("aereport")), "serve", "--run", str(run),
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(server, port, tmp_path / "serve.log")
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=60000)
            open_tab(page, "Decoder", "decoder-marker")
            expected = keras_image(state.latent.code_at("ae", *tapped(page, 0.4, 0.55))[0])
            wait_for(page, lambda: np.abs(shown(page) - expected).max() <= 1e-5, timeout=90)
            page.close()
        finally:
            server.terminate()
            server.wait(20)
    assert_no_traceback(tmp_path / "serve.log")

    out = export_report(run, tmp_path / "report.html")
    field = None if state.direct else state.latent.field("ae", field_size(state.ae.latent_dim))
    context, page, blocked, errors, _ = open_offline(browser, out)
    try:
        page.get_by_text("Decoder", exact=True).first.click()
        page.wait_for_timeout(500)
        x, y = tapped(page, 0.6, 0.4)
        z = np.array([x, y], np.float32) if field is None else field_at(field, x, y)
        expected = keras_image(z)
        wait_for(page, lambda: np.abs(shown(page) - expected).max() <= 1e-5, timeout=90)
        assert blocked == [] and errors == [] and out.stat().st_size < 15e6
    finally:
        context.close()


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="nope"), r"loss must be a Keras loss: a name such as 'mse'.* Received: loss='nope'"),
    (dict(history=[0.3, 0.2]), r"history must be what model.fit returns .* Received: history='list'"),
    (dict(history={"loss": [0.3, "x"]}), r"history must hold one number per epoch .* Received: metric='loss'"),
    (dict(history={"loss": [0.3], "val_loss": [0.2, 0.1]}), r"history's 'val_loss' has 2 epochs, its 'loss' 1"),
    (dict(history={"loss": [float("nan")]}), r"history's loss must be finite"),
    (dict(input_scale=0), r"input_scale must be a positive number .* Received: input_scale=0"),
    (dict(code="z_mean"), r"code= names one of several encoder outputs; this encoder has one"),
    (dict(autoencoder="model"), r"pass autoencoder= \(one model\) or encoder= and decoder=, not both"),
])
def test_bad_own_model_arguments_get_one_clear_line(residual, digits, tmp_path, kwargs, message):
    encoder, decoder = residual
    with pytest.raises(AEReportError, match=message):
        aereport.explore(digits.images, encoder=encoder, decoder=decoder, run_dir=tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def test_a_bottleneck_or_history_needs_a_model(digits, tmp_path):
    with pytest.raises(AEReportError, match=r"bottleneck= names a layer of autoencoder=, which is missing"):
        aereport.explore(digits.images, bottleneck="code", run_dir=tmp_path / "run")
    with pytest.raises(AEReportError, match=r"history= is the loss of your own model"):
        aereport.explore(digits.images, history={"loss": [0.1]}, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
