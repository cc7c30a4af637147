"""A run's saved Keras models run with NumPy, so a report server never imports TensorFlow.

Importing TensorFlow takes 4-5 s of a server's start on two cores (BENCHMARKS.md, "Server cold
start"), yet all a server runs of the model is small: the decoder for a tap, the encoder once
per model. This module reads a ``.keras`` archive — its ``config.json`` and the weights in
``model.weights.h5``, exactly as Keras saved them — and runs models that are chains of the
layers in ``LAYERS``, or graphs of them (a skip connection, a VAE encoder's two heads). Anything
else (another layer, a layer called twice, a setting it does not implement) is left to Keras:
:func:`load_autoencoder` returns None and the caller loads the file with Keras. Nothing here
executes code from the file.

>>> ae = load_autoencoder("runs/mnist/autoencoder.keras")               # doctest: +SKIP
>>> ae.decoder.predict_on_batch(np.zeros((1, 2), np.float32)).shape     # doctest: +SKIP
(1, 28, 28)
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import zipfile
from typing import Callable

import numpy as np

from .blas import blas_threads
from .autoencoder import Autoencoder


def _sigmoid(x):
    # exp of a large negative argument overflows to inf, whose reciprocal is the right 0.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softplus": lambda x: np.logaddexp(0, x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),  # Keras's default negative_slope
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
}


class Unsupported(Exception):
    """The model holds something this module does not run; Keras must load it."""


def _activation(config: dict):
    name = config.get("activation", "linear")
    if name is None:
        return "linear", ACTIVATIONS["linear"]
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise Unsupported(f"activation {name!r}")
    return name, ACTIVATIONS[name]


def _require(config: dict, **expected) -> None:
    """Refuse settings this module does not implement (a silent wrong picture is worse than a slow start)."""
    for key, value in expected.items():
        got = config.get(key, value)
        if (list(got) if isinstance(got, (list, tuple)) else got) != value:
            raise Unsupported(f"{key}={got!r}")


def _kernel_and_bias(config, weights):
    """A layer's kernel and its bias (zero for ``use_bias=False``)."""
    return weights[0], (weights[1] if config.get("use_bias", True) else np.float32(0))


def _dense(config, weights):
    _require(config, quantization_config=None, lora_rank=None)
    kernel, bias = _kernel_and_bias(config, weights)
    name, act = _activation(config)
    return name, lambda x: act(np.matmul(x, kernel) + bias)


def _conv_geometry(config) -> tuple[int, int, int, int, str]:
    _require(config, data_format="channels_last", groups=1, lora_rank=None)
    (kh, kw), (sh, sw) = config["kernel_size"], config["strides"]
    if config["padding"] not in ("same", "valid"):
        raise Unsupported(f"padding={config['padding']!r}")
    return kh, kw, sh, sw, config["padding"]


def _before(size_in: int, size_out: int, k: int, s: int, padding: str) -> int:
    """Rows of zero padding before the input, as TensorFlow pads a 'same' convolution."""
    return max((size_out - 1) * s + k - size_in, 0) // 2 if padding == "same" else 0


def _conv2d(config, weights):
    kh, kw, sh, sw, padding = _conv_geometry(config)
    dh, dw = config.get("dilation_rate") or (1, 1)
    kernel, bias = _kernel_and_bias(config, weights)  # (kh, kw, in, out)
    name, act = _activation(config)
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1  # the dilated kernel's extent

    def call(x):
        n, h, w, _ = x.shape
        ho, wo = ((-(-h // sh), -(-w // sw)) if padding == "same" else ((h - eh) // sh + 1, (w - ew) // sw + 1))
        top, left = _before(h, ho, eh, sh, padding), _before(w, wo, ew, sw, padding)
        xp = np.zeros((n, max(h + top, (ho - 1) * sh + eh), max(w + left, (wo - 1) * sw + ew), x.shape[3]), x.dtype)
        xp[:, top:top + h, left:left + w] = x
        out = np.zeros((n, ho, wo, kernel.shape[3]), np.float32)
        for a in range(kh):
            for b in range(kw):
                out += xp[:, a * dh:a * dh + (ho - 1) * sh + 1:sh, b * dw:b * dw + (wo - 1) * sw + 1:sw] @ kernel[a, b]
        return act(out + bias)

    return name, call


def _conv2d_transpose(config, weights):
    kh, kw, sh, sw, padding = _conv_geometry(config)
    _require(config, output_padding=None, dilation_rate=[1, 1])
    kernel, bias = _kernel_and_bias(config, weights)  # (kh, kw, out, in)
    name, act = _activation(config)

    def call(x):
        n, h, w, _ = x.shape
        # The gradient of the convolution that maps an ho×wo image to h×w.
        ho, wo = ((h * sh, w * sw) if padding == "same" else (h * sh + max(kh - sh, 0), w * sw + max(kw - sw, 0)))
        top, left = _before(ho, h, kh, sh, padding), _before(wo, w, kw, sw, padding)
        full = np.zeros((n, max((h - 1) * sh + kh, top + ho), max((w - 1) * sw + kw, left + wo), kernel.shape[2]),
                        np.float32)
        for a in range(kh):
            for b in range(kw):
                full[:, a:a + (h - 1) * sh + 1:sh, b:b + (w - 1) * sw + 1:sw] += x @ kernel[a, b].T
        return act(full[:, top:top + ho, left:left + wo] + bias)

    return name, call


def _batch_norm(config, weights):
    _require(config, axis=-1, center=True, scale=True)
    gamma, beta, mean, var = weights
    scale = gamma / np.sqrt(var + np.float32(config.get("epsilon", 1e-3)))
    return None, lambda x: (x - mean) * scale + beta


def _layer_norm(config, weights):
    _require(config, rms_scaling=False)
    axis = config.get("axis", -1)
    if axis not in (-1, [-1]):
        raise Unsupported(f"axis={axis!r}")
    weights = list(weights)
    gamma = weights.pop(0) if config.get("scale", True) else np.float32(1)
    beta = weights.pop(0) if config.get("center", True) else np.float32(0)
    eps = np.float32(config.get("epsilon", 1e-3))

    def call(x):
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * gamma + beta

    return None, call


def _reshape(config, weights):
    shape = tuple(config["target_shape"])
    return None, lambda x: x.reshape((len(x), *shape))


def _cropping2d(config, weights):
    _require(config, data_format="channels_last")
    (t, b), (l, r) = config["cropping"]
    return None, lambda x: x[:, t:x.shape[1] - b, l:x.shape[2] - r]


def _activation_layer(config, weights):
    return _activation(config)


def _identity(config, weights):
    return None, lambda x: x


def _flatten(config, weights):
    _require(config, data_format="channels_last")
    return None, lambda x: x.reshape(len(x), -1)


def _pool2d(reduce):
    def build(config, weights):
        _require(config, data_format="channels_last")
        (kh, kw), (sh, sw) = config["pool_size"], config.get("strides") or config["pool_size"]
        padding = config["padding"]
        if padding not in ("same", "valid"):
            raise Unsupported(f"padding={padding!r}")

        def call(x):
            n, h, w, c = x.shape
            ho, wo = ((-(-h // sh), -(-w // sw)) if padding == "same" else ((h - kh) // sh + 1, (w - kw) // sw + 1))
            top, left = _before(h, ho, kh, sh, padding), _before(w, wo, kw, sw, padding)
            # Padding is ignored by the pooling, as TensorFlow's: -inf for a max, left out of a mean.
            fill = -np.inf if reduce is np.max else np.nan
            xp = np.full((n, max(h + top, (ho - 1) * sh + kh), max(w + left, (wo - 1) * sw + kw), c), fill, np.float32)
            xp[:, top:top + h, left:left + w] = x
            windows = np.stack([xp[:, a:a + (ho - 1) * sh + 1:sh, b:b + (wo - 1) * sw + 1:sw]
                                for a in range(kh) for b in range(kw)])
            return reduce(windows, axis=0) if reduce is np.max else np.nanmean(windows, axis=0)

        return None, call
    return build


def _global_average_pooling2d(config, weights):
    _require(config, data_format="channels_last", keepdims=False)
    return None, lambda x: x.mean(axis=(1, 2))


def _upsampling2d(config, weights):
    _require(config, data_format="channels_last", interpolation="nearest")
    sh, sw = config["size"]
    return None, lambda x: x.repeat(sh, axis=1).repeat(sw, axis=2)


def _rescaling(config, weights):
    scale, offset = config["scale"], config["offset"]
    if not all(isinstance(v, (int, float)) for v in (scale, offset)):
        raise Unsupported("Rescaling by an array")
    return None, lambda x: x * np.float32(scale) + np.float32(offset)


def _merge(combine):
    def build(config, weights):
        axis = config.get("axis", -1)
        return None, (lambda xs: np.concatenate(xs, axis=axis)) if combine is None else combine
    return build


# Layers that take a list of tensors.
MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}

# Each layer's weights in the order Keras saves them, by the names TF.js's loader asks for.
WEIGHT_NAMES = {
    "Dense": ("kernel", "bias"), "Conv2D": ("kernel", "bias"), "Conv2DTranspose": ("kernel", "bias"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "LayerNormalization": ("gamma", "beta"),
}

LAYERS = {
    "Dense": _dense, "Conv2D": _conv2d, "Conv2DTranspose": _conv2d_transpose,
    "BatchNormalization": _batch_norm, "Reshape": _reshape, "Flatten": _flatten,
    "Cropping2D": _cropping2d, "Activation": _activation_layer, "Dropout": _identity,
    "MaxPooling2D": _pool2d(np.max), "AveragePooling2D": _pool2d(np.mean),
    "GlobalAveragePooling2D": _global_average_pooling2d, "UpSampling2D": _upsampling2d, "Rescaling": _rescaling,
    "LayerNormalization": _layer_norm,
    "Add": _merge(lambda xs: sum(xs[1:], xs[0])), "Subtract": _merge(lambda xs: xs[0] - xs[1]),
    "Multiply": _merge(lambda xs: np.prod(np.stack(xs), axis=0)), "Average": _merge(lambda xs: sum(xs[1:], xs[0]) / len(xs)),
    "Maximum": _merge(lambda xs: np.max(np.stack(xs), axis=0)), "Minimum": _merge(lambda xs: np.min(np.stack(xs), axis=0)),
    "Concatenate": _merge(None),
}


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``: the weights file names a layer by its class, not its name."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_keys(layers: list[dict]) -> list[str]:
    """Each layer's group in ``model.weights.h5``: its class in snake case, numbered on repeats
    in the order of the model's layers (Keras's ``saving_lib._save_container_state``)."""
    used: dict[str, int] = {}
    keys = []
    for layer in layers:
        name = _snake(layer["class_name"])
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        keys.append(name)
    return keys


# A tap decodes a handful of codes: batches this small run on the calling thread (see .blas).
SMALL_BATCH = 1024


class Chain:
    """A functional model run with NumPy: a chain of layers, or a graph of them (a residual
    decoder's ``Add`` or ``Concatenate``, a VAE encoder's two heads ``[z_mean, z_log_var]``).

    Offers what a report server and the TF.js writer call on a Keras model: calling it (its first
    output), ``predict_on_batch``, ``get_weights``/``set_weights``, ``count_params``,
    ``input_shape``/``output_shape``, ``get_config`` (the model's config as Keras saved it), and
    :meth:`log_var` (a second output).
    """

    def __init__(self, config: dict, group):
        layers = config["layers"]
        if not layers or layers[0]["class_name"] != "InputLayer":
            raise Unsupported("a model that does not start with its input")
        names = [layer["name"] for layer in layers]
        inputs = config.get("input_layers") or [None]
        inputs = [inputs] if isinstance(inputs[0], str) else inputs
        if len(inputs) != 1 or not inputs[0] or inputs[0][0] != names[0]:
            raise Unsupported("a model with more than one input")
        # Each layer's inputs, by their place in the config (Keras writes a graph's layers in
        # the order they run): 0 is the model's input.
        self._sources: list[list[int]] = []
        for i, layer in enumerate(layers[1:], start=1):
            sources = [names.index(name) if name in names else -1 for name in _inbound(layer)]
            if not sources or min(sources) < 0 or max(sources) >= i:
                raise Unsupported(f"layer {layer['name']!r} is not fed by the layers before it")
            self._sources.append(sources)
        outputs = config.get("output_layers") or [None]
        outputs = [outputs] if isinstance(outputs[0], str) else outputs  # one output: a bare triple
        if not 1 <= len(outputs) <= 2 or any(not o or o[0] not in names or o[1:] != [0, 0] for o in outputs):
            raise Unsupported("a model of one output (or a VAE encoder's two)")
        self._outputs = [names.index(o[0]) for o in outputs]
        # When each value is last needed: a graph's intermediate images are freed as it runs.
        self._last_use = {j: max([i + 1 for i, src in enumerate(self._sources) if j in src] + [0])
                          for j in range(len(layers))}
        self.name, self._config = config["name"], config
        shape = layers[0]["config"].get("batch_shape") or layers[0]["config"].get("batch_input_shape")
        self.input_shape = tuple(shape)
        keys = _weight_keys(layers)
        self.layers: list[dict] = [_layer(layer, key, group) for layer, key in zip(layers[1:], keys[1:])]
        values = self._run(np.zeros((1, *self.input_shape[1:]), np.float32), keep=True)
        for layer, value in zip(self.layers, values[1:]):  # one pass on zeros: shapes, and a check it runs
            layer["shape"] = tuple(value.shape[1:])
        self.output_shape = (None, *values[self._outputs[0]].shape[1:])

    def _run(self, x: np.ndarray, keep: bool = False) -> list:
        """Every layer's value on ``x`` (the input first); those no later layer or output needs
        are dropped as it goes, unless ``keep``."""
        values: list = [x]
        wanted = set(self._outputs)
        layers = self.layers  # the list as it is now (see set_weights)
        for i, (layer, sources) in enumerate(zip(layers, self._sources), start=1):
            args = [values[j] for j in sources]
            values.append(layer["call"](args if layer["kind"] in MERGES else args[0]))
            if not keep:
                for j in sources:
                    if self._last_use[j] <= i and j not in wanted:
                        values[j] = None
        return values

    def log_var(self, x) -> np.ndarray | None:
        """A VAE encoder's second output (``z_log_var``) for images ``x``, or None for others."""
        if len(self._outputs) < 2:
            return None
        with blas_threads(1 if len(x) <= SMALL_BATCH else None):
            return self._run(np.asarray(x, np.float32))[self._outputs[1]].astype(np.float32, copy=False)

    def __call__(self, x, training: bool = False) -> np.ndarray:
        x = np.asarray(x, np.float32)
        with blas_threads(1 if len(x) <= SMALL_BATCH else None):
            out = self._run(x)[self._outputs[0]]
        return out.astype(np.float32, copy=False)

    def predict_on_batch(self, x) -> np.ndarray:
        return self(x)

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer["weights"]]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Rebuild every layer over new weights (Keras's order: layer by layer)."""
        weights, layers = list(weights), []
        for layer in self.layers:
            new = [np.asarray(weights.pop(0), np.float32) for _ in layer["weights"]]
            activation, call = LAYERS[layer["kind"]](layer["config"], new)
            layers.append({**layer, "activation": activation, "call": call, "weights": new})
        # One assignment: a decode running meanwhile (a tap while training ends) uses the old
        # model or the new one, never half of each.
        self.layers = layers

    def count_params(self) -> int:
        return sum(w.size for w in self.get_weights())

    def get_config(self) -> dict:
        return copy.deepcopy(self._config)

    def named_weights(self) -> list[tuple[str, np.ndarray]]:
        """``("<layer>/<weight>", array)`` for every weight, in :meth:`get_weights`'s order."""
        return [(f"{layer['name']}/{name}", w) for layer in self.layers
                for name, w in zip(_weight_names(layer), layer["weights"], strict=True)]


def _weight_names(layer: dict) -> tuple[str, ...]:
    """The names of the weights a layer holds, as TF.js's loader asks for them (a layer without
    a bias, or a LayerNormalization without scale or centre, holds fewer)."""
    names, config = WEIGHT_NAMES.get(layer["kind"], ()), layer["config"]
    if not config.get("use_bias", True):
        names = tuple(n for n in names if n != "bias")
    if layer["kind"] == "LayerNormalization":
        names = tuple(n for n, on in (("gamma", config.get("scale", True)), ("beta", config.get("center", True))) if on)
    return names


def _inbound(layer: dict) -> list[str]:
    """The names of the layers whose outputs feed ``layer`` (from its config; a merge layer has
    several), or [] for what this module does not run: a layer called twice, a tensor of a
    layer's other outputs, a keyword that changes the call."""
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) != 1 or not isinstance(nodes[0], dict):
        return []
    # mask=None and training=False change nothing at inference; any other keyword might.
    if any(v not in (None, False) for v in (nodes[0].get("kwargs") or {}).values()):
        return []
    tensors, pending = [], list(nodes[0].get("args", []))
    while pending:
        arg = pending.pop(0)
        if isinstance(arg, list):
            pending[:0] = arg
        elif isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
            history = arg.get("config", {}).get("keras_history") or []
            if len(history) != 3 or history[1:] != [0, 0]:
                return []
            tensors.append(history[0])
        else:
            return []
    return tensors


def _layer(layer: dict, key: str, group) -> dict:
    """One layer of a chain, over its weights in the archive's group ``key``."""
    build = LAYERS.get(layer["class_name"])
    if build is None or layer.get("module") not in (None, "keras.layers"):
        raise Unsupported(f"layer class {layer['class_name']!r}")
    vars_ = group["layers"][key]["vars"] if key in group["layers"] else {}
    weights = [np.asarray(vars_[str(i)], np.float32) for i in range(len(vars_))]
    activation, call = build(layer["config"], weights)
    return {"name": layer["name"], "kind": layer["class_name"], "config": layer["config"],
            "activation": activation, "call": call, "weights": weights}


class Stacked:
    """``decoder(encoder(x))``, as the run's stacked ``autoencoder`` model."""

    def __init__(self, encoder: Chain, decoder: Chain):
        self.encoder, self.decoder = encoder, decoder
        self.input_shape, self.output_shape = encoder.input_shape, decoder.output_shape

    def __call__(self, x, training: bool = False) -> np.ndarray:
        return self.decoder(self.encoder(x))

    predict_on_batch = __call__

    def get_weights(self) -> list[np.ndarray]:
        return self.encoder.get_weights() + self.decoder.get_weights()

    def set_weights(self, weights: list[np.ndarray]) -> None:
        n = len(self.encoder.get_weights())
        self.encoder.set_weights(weights[:n])
        self.decoder.set_weights(weights[n:])

    def count_params(self) -> int:
        return self.encoder.count_params() + self.decoder.count_params()


def load_autoencoder(path: str | os.PathLike) -> Autoencoder | None:
    """The stacked autoencoder saved at ``path`` (a ``.keras`` file) as NumPy models, or None
    when it holds something only Keras can run.

    Raises ``OSError``/``KeyError``/``ValueError`` for a file that is no readable Keras archive
    (the caller lets Keras load it and report the error in its words).

    >>> load_autoencoder("runs/mnist/autoencoder.keras").latent_dim  # doctest: +SKIP
    2
    """
    import h5py

    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        with archive.open("model.weights.h5") as raw, h5py.File(raw, "r") as weights:
            try:
                return _autoencoder(config, weights)
            except Unsupported:
                return None


def _autoencoder(config: dict, weights) -> Autoencoder:
    if config.get("class_name") != "Functional":
        raise Unsupported(f"model class {config.get('class_name')!r}")
    layers = config["config"]["layers"]
    parts = {}
    for layer, key in zip(layers, _weight_keys(layers)):
        if layer["class_name"] == "Functional" and layer["name"] in ("encoder", "decoder"):
            parts[layer["name"]] = Chain(layer["config"], weights["layers"][key])
    # Between them, at most the vae preset's KLSampling: the mean, at inference.
    between = [layer for layer in layers[1:] if layer["name"] not in ("encoder", "decoder")]
    if set(parts) != {"encoder", "decoder"} or len(layers) - len(between) != 3 or any(
            layer.get("registered_name") != "aereport>KLSampling" for layer in between):
        raise Unsupported("not an input, an encoder and a decoder")
    encoder, decoder = parts["encoder"], parts["decoder"]
    if len(encoder.output_shape) != 2 or decoder.input_shape[1:] != encoder.output_shape[1:] \
            or math.prod(decoder.output_shape[1:]) != math.prod(encoder.input_shape[1:]):
        raise Unsupported("encoder and decoder do not fit together")
    return Autoencoder(encoder, decoder, Stacked(encoder, decoder))
