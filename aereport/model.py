"""Keras 3 autoencoders: named presets of an encoder, a decoder and the stacked model.

Functional models only, each named (``encoder``, ``decoder``, ``autoencoder``) so a saved run
can be taken apart again. Nothing here imports a UI library.

>>> ae = build_autoencoder((28, 28), preset="dense")
>>> ae.encoder.output_shape, ae.decoder.output_shape
((None, 2), (None, 28, 28))
"""
from __future__ import annotations

import math

import numpy as np

from ._quiet import require
from ._validation import AEReportError, check_choice, check_positive_int
from .autoencoder import Autoencoder, architecture  # noqa: F401  architecture: the model's layers, for users

PRESETS = ("dense", "seed", "conv", "vae")
CUSTOM = "custom"  # a run around a user's own encoder and decoder (see aereport.own)
DEFAULT_PRESET = "dense"


def _dense_coders(img_shape, latent_dim, n_layers, n_units, activation, output_activation):
    keras = require("keras")
    layers = keras.layers

    pixels = math.prod(img_shape)
    x = inputs = keras.Input(img_shape, name="image")
    x = layers.Flatten()(x)
    for _ in range(n_layers):
        x = layers.Dense(n_units, activation=activation)(x)
    z = layers.Dense(latent_dim, name="latent")(x)
    encoder = keras.Model(inputs, z, name="encoder")

    x = z_in = keras.Input((latent_dim,), name="z")
    for _ in range(n_layers):
        x = layers.Dense(n_units, activation=activation)(x)
    x = layers.Dense(pixels, activation=output_activation)(x)
    decoder = keras.Model(z_in, layers.Reshape(img_shape)(x), name="decoder")
    return encoder, decoder


_CUSTOM_OBJECTS: dict = {}


def custom_objects() -> dict:
    """The layers of aereport's presets that Keras must know to load a saved run (the ``vae``
    preset's :class:`KLSampling`), by their registered names.

    >>> sorted(custom_objects())  # doctest: +SKIP
    ['aereport>KLSampling']
    """
    if not _CUSTOM_OBJECTS:
        keras = require("keras")
        ops = keras.ops

        @keras.saving.register_keras_serializable(package="aereport")
        class KLSampling(keras.layers.Layer):
            """A VAE's code: ``z_mean + exp(z_log_var / 2)·ε`` while training and ``z_mean``
            otherwise, adding ``beta`` times the KL divergence from N(0, I) to the loss, per
            pixel as the compiled MSE is (``pixels``: the values of one image).
            """

            def __init__(self, beta: float = 1.0, pixels: int = 1, **kwargs):
                super().__init__(**kwargs)
                self.beta, self.pixels = float(beta), int(pixels)
                self.seed_generator = keras.random.SeedGenerator(0)

            def call(self, inputs, training=None):
                mean, log_var = inputs
                kl = -0.5 * ops.mean(ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
                self.add_loss(self.beta * kl / self.pixels)
                if not training:
                    return mean
                epsilon = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
                return mean + ops.exp(0.5 * log_var) * epsilon

            def get_config(self):
                return {**super().get_config(), "beta": self.beta, "pixels": self.pixels}

        _CUSTOM_OBJECTS[keras.saving.get_registered_name(KLSampling)] = KLSampling
    return dict(_CUSTOM_OBJECTS)


def _vae(img_shape, latent_dim, n_layers, n_units, beta):
    """The dense preset as a VAE: the encoder gives ``[z_mean, z_log_var]``; the stacked model
    samples its code through :class:`KLSampling` and so trains on MSE plus ``beta``·KL."""
    keras = require("keras")
    layers = keras.layers

    kl_sampling = custom_objects()["aereport>KLSampling"]
    x = inputs = keras.Input(img_shape, name="image")
    x = layers.Flatten()(x)
    for _ in range(n_layers):
        x = layers.Dense(n_units, activation="relu")(x)
    encoder = keras.Model(inputs, [layers.Dense(latent_dim, name="z_mean")(x), layers.Dense(latent_dim, name="z_log_var")(x)],
                          name="encoder")
    _, decoder = _dense_coders(img_shape, latent_dim, n_layers, n_units, "relu", "sigmoid")
    x = keras.Input(img_shape, name="image")
    code = kl_sampling(beta, math.prod(img_shape), name="kl_sampling")(encoder(x))
    return encoder, decoder, keras.Model(x, decoder(code), name="autoencoder")


def _conv_coders(img_shape, latent_dim, n_layers, n_units):
    """Strided convolutions down, transposed convolutions up, cropped back to ``img_shape``.

    ``n_layers`` conv blocks halve the resolution each; ``n_units`` is the widest block's
    filter count and the size of the dense layer before the latent code.
    """
    keras = require("keras")
    layers = keras.layers

    h, w = img_shape[:2]
    channels = img_shape[2] if len(img_shape) == 3 else 1
    filters = [max(8, n_units // 2 ** (n_layers - 1 - i)) for i in range(n_layers)]

    x = inputs = keras.Input(img_shape, name="image")
    if len(img_shape) == 2:
        x = layers.Reshape((h, w, 1))(x)
    for f in filters:
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(n_units, activation="relu")(x)
    encoder = keras.Model(inputs, layers.Dense(latent_dim, name="latent")(x), name="encoder")

    # Each stride-2 "same" conv maps n -> ceil(n / 2); the decoder grows back past the
    # original size and crops the excess, so any H×W works.
    sh, sw = h, w
    for _ in filters:
        sh, sw = -(-sh // 2), -(-sw // 2)
    x = z_in = keras.Input((latent_dim,), name="z")
    x = layers.Dense(n_units, activation="relu")(x)
    x = layers.Dense(sh * sw * filters[-1], activation="relu")(x)
    x = layers.Reshape((sh, sw, filters[-1]))(x)
    for f in reversed(filters[:-1]):
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="sigmoid")(x)
    dh, dw = sh * 2 ** len(filters) - h, sw * 2 ** len(filters) - w
    if dh or dw:
        x = layers.Cropping2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)))(x)
    if len(img_shape) == 2:
        x = layers.Reshape((h, w))(x)
    return encoder, keras.Model(z_in, x, name="decoder")


def _shape(img_shape) -> tuple[int, ...]:
    """``img_shape`` as a tuple of 2 or 3 positive ints, or a clear error."""
    try:
        shape = tuple(int(s) for s in img_shape)
        ok = list(shape) == list(img_shape) and len(shape) in (2, 3) and min(shape) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise AEReportError("img_shape must be (height, width) or (height, width, channels)", img_shape=img_shape)
    return shape


def build_autoencoder(img_shape: tuple[int, ...], preset: str = DEFAULT_PRESET, latent_dim: int = 2,
                      n_layers: int = 2, n_units: int | None = None,
                      learning_rate: float | None = None, beta: float = 1.0) -> Autoencoder:
    """Build and compile an autoencoder.

    Parameters
    ----------
    img_shape : (H, W) or (H, W, 3)
    preset : ``"seed"`` reproduces the tutorial exactly (Dense layers with no activation,
        linear output); ``"dense"`` (default) uses ReLU hidden layers and a sigmoid output;
        ``"conv"`` is convolutional, for larger images such as faces; ``"vae"`` is the dense
        preset as a variational autoencoder (positions from its mean, trained on MSE + beta·KL)
    latent_dim : size of the code; 2 puts the latent space on a plane
    n_layers : hidden layers (dense) or conv blocks (conv) on each side
    n_units : units per hidden layer (default 128 for seed/conv, 256 for dense)
    learning_rate : Adam's learning rate (default: Keras's 1e-3)
    beta : the weight of the KL term of the ``vae`` preset (per pixel, as its MSE)

    >>> build_autoencoder((28, 28), preset="seed").model.count_params()
    235924
    """
    keras = require("keras")

    check_choice("preset", preset, PRESETS)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    n_layers = check_positive_int("n_layers", n_layers)
    n_units = check_positive_int("n_units", n_units if n_units is not None else default_units(preset))
    img_shape = _shape(img_shape)

    if preset == "seed":
        encoder, decoder = _dense_coders(img_shape, latent_dim, n_layers, n_units, None, None)
    elif preset == "dense":
        encoder, decoder = _dense_coders(img_shape, latent_dim, n_layers, n_units, "relu", "sigmoid")
    elif preset == "conv":
        encoder, decoder = _conv_coders(img_shape, latent_dim, n_layers, n_units)
    if preset == "vae":
        if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
            raise AEReportError("beta must be a number >= 0 (the weight of the KL term)", beta=beta)
        encoder, decoder, model = _vae(img_shape, latent_dim, n_layers, n_units, float(beta))
    else:
        x = keras.Input(img_shape, name="image")
        model = keras.Model(x, decoder(encoder(x)), name="autoencoder")
    optimizer = keras.optimizers.Adam(learning_rate if learning_rate is not None else 1e-3)
    model.compile(loss="mse", optimizer=optimizer)
    return Autoencoder.from_model(model)


def default_units(preset: str) -> int:
    """Hidden-layer width a preset uses when ``n_units`` is not given."""
    return 256 if preset in ("dense", "vae") else 128


# Adam needs steps, not epochs: at 256 images a batch, the 4,299 training images of a 5,000-image
# MNIST subset make 17 steps an epoch, and 8 epochs left the default model behind the tutorial's
# linear one (test MSE 0.0577 against 0.0568; at batch 64, 0.0492). Smaller datasets get smaller
# batches, down to the tutorial's 64 (BENCHMARKS.md "Training").
MIN_STEPS_PER_EPOCH = 100


def default_batch_size(preset: str, n_train: int | None = None) -> int:
    """The batch size a preset trains ``n_train`` images with when none is given.

    The seed trained with ``batch_size=64``. The other presets take 256 images a batch (faster
    per image) or, when that leaves fewer than ``MIN_STEPS_PER_EPOCH`` steps an epoch, 128 or
    64. Without ``n_train``: 256 (what runs created before sizes mattered recorded as ``None``).

    >>> default_batch_size("dense", 60_000), default_batch_size("dense", 17_000), default_batch_size("dense", 5_000)
    (256, 128, 64)
    """
    if preset == "seed":
        return 64
    for size in (256, 128):
        if n_train is None or n_train / size >= MIN_STEPS_PER_EPOCH:
            return size
    return 64


def encode(encoder, images: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Latent codes of ``images`` (N, ...) as float32 (N, latent_dim), in batches.

    >>> encode(build_autoencoder((4, 4)).encoder, np.zeros((3, 4, 4))).shape
    (3, 2)
    """
    out = [np.asarray(encoder(images[i:i + batch_size], training=False))
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float32)


def reconstruct(model, images: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """The autoencoder's output for ``images``, same shape.

    >>> reconstruct(build_autoencoder((4, 4)).model, np.zeros((1, 4, 4))).shape
    (1, 4, 4)
    """
    return np.concatenate([np.asarray(model(images[i:i + batch_size], training=False))
                           for i in range(0, len(images), batch_size)])


def mse(model, images: np.ndarray) -> float:
    """Mean squared reconstruction error over ``images``.

    >>> round(mse(build_autoencoder((2, 2)).model, np.zeros((1, 2, 2))), 3) >= 0
    True
    """
    return float(np.mean((reconstruct(model, images) - images) ** 2))


def decode_at(decoder, x: float, y: float) -> np.ndarray:
    """The decoder's image for the latent point ``(x, y)``; shape ``img_shape``, float32.

    ``predict_on_batch`` runs the compiled graph (0.5 ms); ``predict`` spends tens of
    milliseconds a call in setup, and an eager call 3.6 ms.

    >>> decode_at(build_autoencoder((28, 28)).decoder, 10, 50).shape
    (28, 28)
    """
    z = np.array([[x, y]], dtype=np.float32)
    if not np.all(np.isfinite(z)):
        raise AEReportError("latent position must be finite", x=x, y=y)
    if decoder.input_shape[-1] != 2:
        raise AEReportError("decode_at needs a decoder with a 2-D latent input", latent_dim=decoder.input_shape[-1])
    return np.asarray(decoder.predict_on_batch(z))[0]
