"""Write a Keras 3 functional model in TensorFlow.js's LayersModel format, without `tensorflowjs`.

The official converter cannot be installed beside this stack and its Keras 3 output does not load
in TF.js 4.22, so the format is written here: ``model.json`` (``"format": "layers-model"``,
``modelTopology``, ``weightsManifest``) plus little-endian float32 shards of at most 4 MB.
What TF.js needs from a Keras 3 config (see DESIGN.md): ``batch_input_shape`` on InputLayers,
inbound nodes as ``[[[layer, node, tensor, {}]]]``, input/output layers as lists of triples,
and weights named ``<layer>/<weight>``.

>>> from aereport.model import build_autoencoder
>>> files = save_tfjs(build_autoencoder((28, 28)).decoder, "out/decoder")  # doctest: +SKIP
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np

from ._validation import AEReportError
from .files import atomic_path, make_folder

SHARD_BYTES = 4 * 1024 * 1024
SUPPORTED = {"InputLayer", "Dense", "Flatten", "Reshape", "Conv2D", "Conv2DTranspose", "Cropping2D",
             "ZeroPadding2D", "Activation", "ReLU", "LeakyReLU", "BatchNormalization", "Dropout",
             "UpSampling2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Add", "Concatenate",
             "LayerNormalization", "Rescaling"}


def _history(arg):
    """Keras 3's serialised tensor -> TF.js's [layer, node, tensor, kwargs]."""
    layer, node, tensor = arg["config"]["keras_history"]
    return [layer, node, tensor, {}]


def _tensors(args):
    """Flatten a call's positional args into the keras tensors they hold, in order."""
    out = []
    for a in args:
        if isinstance(a, dict) and a.get("class_name") == "__keras_tensor__":
            out.append(_history(a))
        elif isinstance(a, list):
            out.extend(_tensors(a))
    return out


def tfjs_topology(model) -> dict:
    """The model's Keras 3 config rewritten into the shape TF.js 4.22's layers loader reads.

    ``model``: a functional ``keras.Model``, or the same model as :mod:`aereport.inference` runs
    it (a ``Chain``, read from the saved archive: no TensorFlow import for an export).
    """
    from .inference import Chain

    if not isinstance(model, Chain) and (not hasattr(model, "get_config")
                                         or type(model).__name__ not in ("Functional", "Model")):
        raise AEReportError("TF.js export needs a functional keras.Model", model=type(model).__name__)
    config = copy.deepcopy(model.get_config())
    for layer in config["layers"]:
        kind = layer["class_name"]
        if kind not in SUPPORTED:
            raise AEReportError(f"TF.js export supports layers of the types {', '.join(sorted(SUPPORTED))}",
                                layer=f"{layer['config'].get('name')} ({kind})")
        cfg = layer["config"]
        if kind == "InputLayer":
            cfg["batch_input_shape"] = cfg.pop("batch_shape")
        cfg["dtype"] = "float32"
        nodes = []
        for node in layer.get("inbound_nodes", []):
            if isinstance(node, dict):
                nodes.append(_tensors(node.get("args", [])))
            else:
                nodes.append(node)
        layer["inbound_nodes"] = nodes
    for key in ("input_layers", "output_layers"):
        value = config[key]
        if value and not isinstance(value[0], list):
            value = [value]  # one input/output is stored as a bare triple in Keras 3
        config[key] = value
    from importlib.metadata import PackageNotFoundError, version  # not `import keras`: that imports TensorFlow

    try:
        keras_version = version("keras")
    except PackageNotFoundError:  # a lean install: the NumPy model of a saved archive
        keras_version = "3"
    return {"class_name": "Model", "config": config, "keras_version": f"tfjs-layers {keras_version}",
            "backend": "tensorflow"}


def export_problem(model) -> str | None:
    """Why ``model`` cannot be written for TF.js (the layer and its type), or None if it can: asked
    when a user's model is given, not after minutes of layouts.

    >>> export_problem(build_autoencoder((28, 28)).decoder) is None  # doctest: +SKIP
    True
    """
    try:
        tfjs_topology(model)
    except AEReportError as exc:
        return str(exc)
    return None


def _named_weights(model) -> list[tuple[str, np.ndarray]]:
    from .inference import Chain

    if isinstance(model, Chain):
        return model.named_weights()
    return [(f"{layer.name}/{w.name}", w.numpy()) for layer in model.layers for w in layer.weights]


def save_tfjs(model, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``model`` as a TF.js LayersModel into ``out_dir`` (``model.json`` + weight shards).

    Every file is written atomically; ``model.json`` last, so a folder with a model.json is complete.

    >>> save_tfjs(decoder, "report/decoder")  # doctest: +SKIP
    [PosixPath('report/decoder/group1-shard1of1.bin'), PosixPath('report/decoder/model.json')]
    """
    topology = tfjs_topology(model)
    out = make_folder(out_dir)

    specs, blobs = [], []
    for name, w in _named_weights(model):
        value = np.asarray(w, dtype="<f4")
        specs.append({"name": name, "shape": list(value.shape), "dtype": "float32"})
        blobs.append(value.tobytes())
    data = b"".join(blobs)
    n = max(1, -(-len(data) // SHARD_BYTES))
    paths = [f"group1-shard{i + 1}of{n}.bin" for i in range(n)]
    written = []
    for i, name in enumerate(paths):
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(data[i * SHARD_BYTES:(i + 1) * SHARD_BYTES])
        written.append(out / name)
    manifest = {"format": "layers-model", "generatedBy": "aereport", "convertedBy": "aereport.tfjs",
                "modelTopology": topology, "weightsManifest": [{"paths": paths, "weights": specs}]}
    with atomic_path(out / "model.json") as tmp:
        tmp.write_text(json.dumps(manifest))
    written.append(out / "model.json")
    return written
