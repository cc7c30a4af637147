"""An autoencoder as three models — encoder, decoder, the two stacked — whatever runs them.

Keras models (:mod:`aereport.model`) and the NumPy models a server runs
(:mod:`aereport.inference`) are both held as an :class:`Autoencoder`, and both describe their
layers the same way (:func:`architecture`).

>>> from aereport.model import build_autoencoder
>>> build_autoencoder((28, 28)).latent_dim
2
"""
from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Autoencoder:
    """The three models of an autoencoder; ``model`` is ``decoder(encoder(x))``, compiled."""

    encoder: "keras.Model"  # noqa: F821
    decoder: "keras.Model"  # noqa: F821
    model: "keras.Model"  # noqa: F821

    @property
    def latent_dim(self) -> int:
        return int(self.encoder.output_shape[-1])

    @property
    def img_shape(self) -> tuple[int, ...]:
        return tuple(self.encoder.input_shape[1:])

    @classmethod
    def from_model(cls, model) -> "Autoencoder":
        """Take a stacked model (as saved in a run) apart into encoder and decoder. A VAE's
        encoder (outputs ``[z_mean, z_log_var]``) places each image at its mean."""
        encoder = model.get_layer("encoder")
        if len(encoder.outputs) > 1:
            import keras

            encoder = keras.Model(encoder.inputs, encoder.outputs[0], name="encoder_mean")
        return cls(encoder, model.get_layer("decoder"), model)


def architecture(ae: Autoencoder) -> list[dict]:
    """The layers of ``ae`` in order, for diagrams: ``[{"name", "kind", "units", "part"}, ...]``.

    ``units`` is the layer's output size (neurons for Dense, values for other layers).

    >>> [l["units"] for l in architecture(build_autoencoder((28, 28), preset="seed"))]
    [784, 128, 128, 2, 128, 128, 784]
    """
    rows = [{"name": "input", "kind": "Input", "units": math.prod(ae.img_shape), "part": "input"}]
    for part, model in (("encoder", ae.encoder), ("decoder", ae.decoder)):
        for layer in _layers(model):
            if layer["kind"] in ("InputLayer", "Flatten", "Reshape", "Cropping2D"):
                continue
            shape = tuple(layer["shape"])
            rows.append({"name": layer["name"], "kind": layer["kind"], "units": math.prod(shape),
                         "shape": shape, "part": part, "activation": layer["activation"]})
    rows[-1]["part"] = "output"
    return rows


def _layers(model):
    """``{"name", "kind", "shape", "activation"}`` of every layer, nested models flattened; a NumPy
    model (:class:`aereport.inference.Chain`) lists its own, as these records."""
    layers = list(model.layers)
    if layers and isinstance(layers[0], dict):
        yield from layers
        return
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            act = getattr(layer, "activation", None)
            yield {"name": layer.name, "kind": type(layer).__name__, "shape": layer.output.shape[1:],
                   "activation": getattr(act, "__name__", None)}


def model_version(ae) -> str:
    """A short fingerprint of a model's weights (changes whenever training changes them).

    >>> from aereport.model import build_autoencoder
    >>> len(model_version(build_autoencoder((4, 4))))
    12
    """
    h = hashlib.sha1()
    for w in ae.encoder.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:12]

