"""Your own Keras autoencoder, as it comes: an encoder and a decoder, or one model split at its
bottleneck; a VAE's encoder with several outputs; a code of any shape.

Whatever the user gives is wrapped into the three functional models a run holds (``encoder``:
images → one flat code per image; ``decoder``: flat codes → images; ``autoencoder``: both
stacked), sharing the user's weights. Chains of layers are re-applied one by one, and other
graphs (a residual decoder's ``Add``) layer by layer too, so the wrapped models are flat graphs
that the NumPy runner (:mod:`aereport.inference`) and the TF.js writer can read.

Everything is checked when the model is given, before any layout work: which encoder output
is the code, whether that code is deterministic, whether the decoder takes it, what the
bottleneck is.

>>> ae = from_models(vae.encoder, vae.decoder, (28, 28))             # doctest: +SKIP
>>> encoder, decoder = split_autoencoder(conv_ae, "max_pooling2d_1")  # doctest: +SKIP
"""
from __future__ import annotations

import math

import numpy as np

from ._quiet import require
from ._validation import AEReportError
from .autoencoder import Autoencoder
from .model import _shape

# Names a VAE's encoder gives its outputs (keras.io: z_mean, z_log_var, z).
MEAN_NAMES = ("z_mean", "mean", "mu", "z_mu", "code_mean")
LOG_VAR_NAMES = ("z_log_var", "log_var", "logvar", "z_logvar", "log_variance")


def from_models(encoder, decoder, img_shape: tuple[int, ...], *, code: str | None = None,
                log_var: str | None = None, sample: np.ndarray | None = None,
                learning_rate: float | None = None, loss="mse", input_scale: float | None = None) -> Autoencoder:
    """Wrap a user's own trained Keras encoder and decoder as an :class:`Autoencoder`.

    The encoder may take the images flattened or with a channel axis, and the decoder may
    output them flattened (they are reshaped in the model, not copied). The code may have any
    size or shape: a feature map ``(h, w, c)`` is flattened for the layouts and reshaped back
    for the decoder. An encoder with several outputs (a VAE's ``[z_mean, z_log_var, z]``)
    gives its positions from ``code`` (found by name: ``z_mean``, ``mean``, ``mu``), never from
    a sampled ``z``. With ``sample`` (a few images), a code that differs between two encodings
    of the same images is refused. ``input_scale``: what the model's pixels were multiplied by in
    its training (255 for raw 0..255 pixels; the report's images are in [0, 1]); a decoder whose
    images are off that scale is refused with the scale to give. The stacked model is compiled
    with ``loss`` (MSE unless the user's own is known: :func:`compiled_loss`).

    >>> ae = from_models(my_encoder, my_decoder, (28, 28))  # doctest: +SKIP
    >>> ae.latent_dim                                        # doctest: +SKIP
    16
    """
    keras = require("keras")
    layers = keras.layers

    img_shape = _shape(img_shape)
    for role, m in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(m, keras.Model):
            raise AEReportError(f"{role} must be a keras.Model", **{role: type(m).__name__})
        try:
            m.input_shape
        except (AttributeError, ValueError):
            raise AEReportError(f"{role} has no known input shape; build it (call it once on data, or "
                                "start it with keras.Input) before passing it", **{role: m.name}) from None
    encoder = _code_output(encoder, code, log_var)
    enc_in = tuple(encoder.input_shape[1:])
    if None in enc_in or math.prod(enc_in) != math.prod(img_shape):
        raise AEReportError(f"encoder expects inputs of shape {enc_in} but the images are {img_shape}",
                            image_shape=img_shape)
    if input_scale is not None and not (isinstance(input_scale, (int, float)) and math.isfinite(input_scale)
                                        and input_scale > 0):
        raise AEReportError("input_scale must be a positive number (255 for a model trained on 0..255 pixels)",
                            input_scale=input_scale)
    x = inputs = keras.Input(img_shape, name="image")
    if input_scale not in (None, 1):
        x = layers.Rescaling(float(input_scale), name="input_scale")(x)
    if enc_in != img_shape:
        x = layers.Reshape(enc_in)(x)
    z = _call_flat(encoder, x)
    z, log_var_out = (z[0], z[1]) if isinstance(z, (list, tuple)) else (z, None)
    code_shape = tuple(z.shape[1:])
    if None in code_shape:
        raise AEReportError("encoder must output a code of a fixed shape per image", code_shape=code_shape)
    latent_dim = math.prod(code_shape)
    if len(code_shape) > 1:  # a feature map: flat for the layouts, its shape again for the decoder
        z = layers.Flatten(name="code_flat")(z)
    dec_in = tuple(decoder.input_shape[1:])
    if dec_in not in (code_shape, (latent_dim,)):
        raise AEReportError(f"decoder expects inputs of shape {dec_in}; it must take the encoder's codes",
                            code_shape=code_shape)
    # A VAE's encoder keeps [z_mean, z_log_var]: positions come from the first, σ from the second.
    wrapped_encoder = keras.Model(inputs, [z, log_var_out] if log_var_out is not None else z, name="encoder")
    mean_encoder = keras.Model(inputs, z, name="encoder_mean") if log_var_out is not None else wrapped_encoder
    y = z_in = keras.Input((latent_dim,), name="z")
    if dec_in != (latent_dim,):
        y = layers.Reshape(dec_in, name="code_shape")(y)
    y = _call_flat(decoder, y)
    if math.prod(y.shape[1:]) != math.prod(img_shape):
        raise AEReportError(f"decoder must output images of {img_shape}", output_shape=tuple(y.shape[1:]))
    if tuple(y.shape[1:]) != img_shape:
        y = layers.Reshape(img_shape)(y)
    if input_scale not in (None, 1):
        y = layers.Rescaling(1 / float(input_scale), name="output_scale")(y)
    wrapped_decoder = keras.Model(z_in, y, name="decoder")
    if sample is not None:
        _check_deterministic(mean_encoder, encoder, sample)
        _check_scale(mean_encoder, wrapped_decoder, sample, input_scale)
    x = keras.Input(img_shape, name="image")
    codes = wrapped_encoder(x)
    model = keras.Model(x, wrapped_decoder(codes[0] if log_var_out is not None else codes), name="autoencoder")
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(learning_rate or 1e-3))
    # Built now, so a saved copy holds (zero) optimizer state and loads without a warning.
    model.optimizer.build(model.trainable_variables)
    return Autoencoder(mean_encoder, wrapped_decoder, model)


def check_loss(loss):
    """``loss`` if Keras knows it (a name such as ``"mse"``, or a ``keras.losses.Loss``), else a
    clear error.

    >>> check_loss("mse")  # doctest: +SKIP
    'mse'
    """
    keras = require("keras")

    try:
        keras.losses.get(loss)
    except (ValueError, TypeError):
        raise AEReportError("loss must be a Keras loss: a name such as 'mse' or 'binary_crossentropy', or a "
                            "keras.losses.Loss", loss=loss) from None
    return loss


def compiled_loss(model) -> tuple[object | None, str | None]:
    """The loss ``model`` was compiled with, if aereport can train with it (a Keras loss by name or
    a built-in Loss), else None and why: Train must never silently optimise another objective.

    >>> compiled_loss(conv_ae)  # doctest: +SKIP
    ('binary_crossentropy', None)
    """
    keras = require("keras")

    loss = getattr(model, "loss", None)
    if loss is None:
        return None, "it came uncompiled, so the loss it was trained with is unknown"
    try:
        if isinstance(loss, str):
            keras.losses.get(loss)
            return loss, None
        if isinstance(loss, keras.losses.Loss) and type(loss).__module__.startswith("keras."):
            return keras.losses.deserialize(keras.losses.serialize(loss)), None
    except (ValueError, TypeError):
        pass
    return None, f"its loss ({getattr(loss, '__name__', type(loss).__name__)}) is its own, not a Keras loss"


def split_autoencoder(model, bottleneck: str | None = None):
    """An autoencoder that is ONE Keras model, split at its bottleneck layer into an encoder (the
    model's input to that layer's output) and a decoder (that output to the model's output).

    ``bottleneck``: the layer's name; found when one layer's output is clearly the narrowest
    (the fewest values, once the model has narrowed), else the error lists the candidates.

    >>> encoder, decoder = split_autoencoder(conv_ae, "max_pooling2d_1")  # doctest: +SKIP
    """
    keras = require("keras")

    if not isinstance(model, keras.Model):
        raise AEReportError("autoencoder must be a keras.Model", autoencoder=type(model).__name__)
    if bottleneck is not None and not isinstance(bottleneck, str):
        raise AEReportError("bottleneck must be a layer's name", bottleneck=bottleneck)
    inner = _inner_layers(model)
    if not inner:
        raise AEReportError("autoencoder must be a functional or Sequential model of layers, with an input",
                            autoencoder=model.name)
    sizes = {layer.name: math.prod(layer.output.shape[1:]) for layer in inner}
    if bottleneck is None:
        narrowest = min(sizes.values())
        found = [name for name, size in sizes.items() if size == narrowest]
        if len(found) != 1:
            listed = ", ".join(f"{n} ({sizes[n]} values)" for n in found)
            raise AEReportError(f"autoencoder has several equally narrow layers ({listed}); pass "
                                "bottleneck='…' naming the code's layer", bottleneck=None)
        bottleneck = found[0]
    if bottleneck not in sizes:
        listed = ", ".join(f"{n} ({s} values)" for n, s in sorted(sizes.items(), key=lambda kv: kv[1])[:6])
        raise AEReportError(f"autoencoder has no inner layer named {bottleneck!r}; the narrowest are: {listed}",
                            bottleneck=bottleneck)
    cut = model.get_layer(bottleneck).output
    encoder = keras.Model(model.inputs, cut, name=f"{model.name}_encoder")
    try:
        decoder = keras.Model(cut, model.outputs, name=f"{model.name}_decoder")
    except Exception as exc:  # keras says which tensor the output still needs
        raise AEReportError(f"autoencoder cannot be split at {bottleneck!r}: its output also depends on layers "
                            f"before it ({exc})", bottleneck=bottleneck) from None
    return encoder, decoder


def _inner_layers(model) -> list:
    """The layers between a model's input and output (the candidates for a bottleneck)."""
    keras = require("keras")

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    try:
        outputs = {id(t) for t in model.outputs}
    except (AttributeError, ValueError):  # a subclassed model has no graph to split
        return []
    return [layer for layer in layers if id(layer.output) not in outputs]


def _code_output(encoder, code: str | None, log_var: str | None):
    """``encoder`` with one output, the named (or recognised) code of a several-output encoder;
    or two, ``[code, log_var]``, when a VAE's log-variance is named or recognised too."""
    keras = require("keras")

    outputs = encoder.outputs if hasattr(encoder, "outputs") else None
    if not outputs or len(outputs) == 1:
        if code is not None:
            raise AEReportError("code= names one of several encoder outputs; this encoder has one", code=code)
        return encoder
    names = [t._keras_history.operation.name for t in outputs]  # the layer that made each output
    if code is None:
        found = [n for n in names if n.lower() in MEAN_NAMES]
        if len(found) != 1:
            raise AEReportError(f"encoder has {len(names)} outputs ({', '.join(names)}); pass code='…' naming the "
                                "one that places each image (a VAE's mean, not its sampled z)", outputs=names)
        code = found[0]
    if code not in names:
        raise AEReportError(f"encoder has no output named {code!r}; its outputs are {', '.join(names)}", code=code)
    if log_var is not None and log_var not in names:
        raise AEReportError(f"encoder has no output named {log_var!r}; its outputs are {', '.join(names)}",
                            log_var=log_var)
    if log_var is None:  # a VAE's log-variance, found by name: its σ is kept beside the mean
        found = [n for n in names if n.lower() in LOG_VAR_NAMES]
        log_var = found[0] if len(found) == 1 else None
    picked = [outputs[names.index(code)]]
    if log_var is not None and tuple(outputs[names.index(log_var)].shape[1:]) == tuple(picked[0].shape[1:]) \
            and len(picked[0].shape) == 2:
        picked.append(outputs[names.index(log_var)])
    return keras.Model(encoder.inputs, picked if len(picked) > 1 else picked[0], name=f"{encoder.name}_{code}")


def _check_deterministic(wrapped, given, sample: np.ndarray) -> None:
    """Refuse a code that two encodings of the same images do not agree on (a sampled ``z``)."""
    sample = np.asarray(sample[:32], np.float32)
    a, b = (np.asarray(wrapped.predict_on_batch(sample)) for _ in range(2))
    gap = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not gap > 1e-5:
        return
    means = [layer.name for layer in given.layers if any(m in layer.name.lower() for m in ("mean", "mu"))]
    hint = (f"; use the deterministic output (code={means[0]!r} of the full encoder)" if means
            else "; give the encoder's mean (a VAE's z_mean), not a sampled code")
    raise AEReportError("encoder's code is random: two encodings of the same images differ by up to "
                        f"{gap:.3g}{hint}", encoder=given.name)


def _check_scale(encoder, decoder, sample: np.ndarray, input_scale) -> None:
    """Refuse a model that draws far off [0, 1], or that, fed 0..255 pixels, draws on that scale
    and fits the images better than fed the report's [0, 1]: one trained on raw pixels needs
    ``input_scale=255``. (A [0, 1] model fed 0..255 saturates: a sigmoid stays within 1, a linear
    output's extrapolation fits worse.)"""
    x = np.asarray(sample[:32], np.float32)
    if not len(x):
        return
    drawn = np.asarray(decoder.predict_on_batch(encoder.predict_on_batch(x)))
    top = float(np.nanmax(np.abs(drawn)))
    raw_scale = False
    if input_scale is None:
        raw = np.asarray(decoder.predict_on_batch(encoder.predict_on_batch(x * 255)))
        raw_scale = (float(np.nanmax(np.abs(raw))) > 20
                     and float(np.mean((raw / 255 - x) ** 2)) < float(np.mean((drawn - x) ** 2)))
    if top > 2 or raw_scale:
        raise AEReportError(f"the decoder draws values up to {top:.4g} here"
                            + (", and fed 0..255 pixels draws on that scale and fits the images better" * raw_scale)
                            + ": a model trained on raw pixels needs input_scale=255 (the scale its inputs had)",
                            input_scale=input_scale)


def _chain(model) -> list | None:
    """The layers of ``model`` if it is a plain chain (each layer feeds only the next), else None.

    Read from the model's config, which describes its own graph only (calling its layers again
    elsewhere adds nodes to the layers, not to the config).
    """
    keras = require("keras")

    if isinstance(model, keras.Sequential):
        return list(model.layers)
    try:
        config = model.get_config()
    except Exception:  # subclassed models without get_config
        return None
    layers = config.get("layers") or []
    for prev, layer in zip(layers, layers[1:]):
        nodes = layer.get("inbound_nodes") or []
        args = nodes[0].get("args", []) if len(nodes) == 1 and isinstance(nodes[0], dict) else []
        history = args[0].get("config", {}).get("keras_history") if len(args) == 1 and isinstance(args[0], dict) else None
        if not history or history[0] != prev["config"]["name"]:
            return None
    if not layers or layers[0]["class_name"] != "InputLayer":
        return None
    return [model.get_layer(layer["config"]["name"]) for layer in layers[1:]]


def _call_flat(model, x):
    """``model(x)``, but with its layers applied one by one: the wrapped model then has one flat
    graph, which the TF.js writer can export, and shares the user's weights."""
    keras = require("keras")

    layers = _chain(model)
    if layers is not None:
        for layer in layers:
            x = _call_flat(layer, x) if isinstance(layer, keras.Model) else layer(x)
        return x
    run = getattr(model, "_run_through_graph", None)
    if run is None or type(model).__name__ != "Functional":
        return model(x)  # a subclassed model: nested whole (Keras serves it; TF.js cannot)
    # A graph that is no chain (a residual Add, a Concatenate): Keras's own walk of a functional
    # model's nodes in order (Functional.call does the same), with each layer applied to our
    # tensors; keras-team/keras has no public "call layer by layer" (Functional._run_through_graph).
    flat = lambda op: (lambda *a, **k: _call_flat(op, *a)) if isinstance(op, keras.Model) else op  # noqa: E731
    return run(x, operation_fn=flat)
