"""Training with a checkpoint every epoch, resume after interruption, and progress callbacks.

Each epoch is seeded with ``seed + epoch``, so a run that was interrupted and resumed gives the
same weights as one that ran straight through (same seed, same result).

>>> from aereport.data import load_dataset
>>> ds = load_dataset("mnist-sample")
>>> run = new_run("runs/demo", TrainingConfig(dataset={"name": "mnist-sample"}), ds)  # doctest: +SKIP
>>> ae = train(run, ds, epochs=2)                                                       # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ._quiet import require
from ._validation import AEReportError, check_choice, check_non_negative_int, check_number, check_positive_int
from .data import Dataset
from .files import check_memory
from .model import CUSTOM, PRESETS, Autoencoder, build_autoencoder, default_batch_size, default_units
from .store import Run, save_dataset


SEED_MAX = 2 ** 31 - 1  # NumPy's, Python's and TensorFlow's seeds all take it (each epoch adds one)
# The held-out loss needs no gradients: large batches cost the epoch least (a 64-image batch size
# made validation a fifth of the seed preset's epoch).
VALIDATION_BATCH = 2048


@dataclasses.dataclass
class TrainingConfig:
    """What to train: the model preset and sizes, batch size, seed and the dataset it is for.

    >>> TrainingConfig(preset="seed").batch_size_or_default
    64
    """

    preset: str = "dense"
    latent_dim: int = 2
    n_layers: int = 2
    n_units: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 0
    dataset: dict = dataclasses.field(default_factory=lambda: {"name": "mnist-sample"})
    beta: float = 1.0  # the vae preset's weight of its KL term

    def __post_init__(self):
        check_choice("preset", self.preset, PRESETS + (CUSTOM,))
        check_positive_int("latent_dim", self.latent_dim)
        check_positive_int("n_layers", self.n_layers, maximum=64)
        if self.n_units is not None:
            check_positive_int("n_units", self.n_units, maximum=65536)
        if self.batch_size is not None:
            check_positive_int("batch_size", self.batch_size, maximum=1 << 20)
        if self.learning_rate is not None:
            check_number("learning_rate", self.learning_rate, 0, 10)
        check_non_negative_int("seed", self.seed, maximum=SEED_MAX)
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not 0 <= self.beta <= 1e6:
            raise AEReportError("beta must be a number from 0 to 1e6 (the vae preset's weight of its KL term)",
                                beta=self.beta)
        if not (isinstance(self.dataset, dict) and isinstance(self.dataset.get("name"), str)):
            raise AEReportError("dataset must be a spec {'name': str, 'options': {...}}", dataset=self.dataset)

    def check_fits(self, img_shape: tuple[int, ...]) -> None:
        """Refuse a model that cannot be what was meant for images of ``img_shape``: a code
        wider than an image, or more weights than this machine's memory holds while training.

        >>> TrainingConfig(latent_dim=1000).check_fits((28, 28))
        Traceback (most recent call last):
        ...
        aereport._validation.AEReportError: latent_dim must be at most the values of one image (784 for images of shape (28, 28)): a wider code compresses nothing. Received: latent_dim=1000
        """
        if self.preset == CUSTOM:  # a user's model is what it is (keras.io's conv code is wider than its image)
            return
        values = math.prod(img_shape)
        if self.latent_dim > values:
            raise AEReportError(f"latent_dim must be at most the values of one image ({values} for images of shape "
                                f"{tuple(img_shape)}): a wider code compresses nothing", latent_dim=self.latent_dim)
        units = self.n_units or default_units(self.preset)
        params = 2 * (values * units + (self.n_layers - 1) * units * units + units * self.latent_dim)
        # weights, their gradients and Adam's two moments, in float32
        check_memory(16 * params, f"a model of {params:,} weights (n_units={units}, n_layers={self.n_layers})",
                     "training")

    @property
    def batch_size_or_default(self) -> int:
        return self.batch_size or default_batch_size(self.preset)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainingConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


def new_run(path: str | os.PathLike, config: TrainingConfig, dataset: Dataset,
            keep_dataset: bool = False, extra: dict | None = None) -> Run:
    """Create a run directory for ``config`` on ``dataset`` (not yet trained).

    ``keep_dataset`` stores the images in the run (for in-memory arrays that no loader can
    find again); the config then names that copy.

    >>> new_run("runs/x", TrainingConfig(), load_dataset())  # doctest: +SKIP
    """
    config.check_fits(dataset.image_shape)
    record = dataclasses.asdict(config)
    if config.batch_size is None:  # recorded, so that resuming trains on as the run began
        held_out = _held_out(dataset)
        n_train = len(dataset) - (0 if held_out is None else int(held_out.sum()))
        record["batch_size"] = default_batch_size(config.preset, n_train)
    record["img_shape"] = list(dataset.image_shape)
    record["n_images"] = len(dataset)
    record.update(extra or {})
    if keep_dataset:
        if Run.exists(path):
            Run.create(path, record)  # raises the usual "a run already exists there"
        Path(path).expanduser().mkdir(parents=True, exist_ok=True)
        record["dataset"] = save_dataset(path, dataset)
    return Run.create(path, record)


NOT_TRAINABLE = "not_trainable"  # a run's config key: why Train cannot go on with this model


def adopt_run(path: str | os.PathLike, ae: Autoencoder, dataset: Dataset, seed: int = 0,
              extra: dict | None = None, history: list[dict] | None = None,
              not_trainable: str | None = None) -> Run:
    """A run around models trained elsewhere (see :func:`aereport.own.from_models`).

    The run keeps the images and the models, so it can be reopened, served, exported and
    trained further like any other; ``history`` (:func:`user_history`) holds the epochs they
    were trained for. ``not_trainable``: why aereport must not train them further (their
    objective is not one it knows), which the report says instead of a Train button.

    >>> run = adopt_run("runs/mine", from_models(enc, dec, (28, 28)), ds)  # doctest: +SKIP
    """
    check_compatible(ae, dataset, "the encoder")
    from .autoencoder import model_version

    config = TrainingConfig(preset=CUSTOM, latent_dim=ae.latent_dim, seed=seed)
    extra = {"adopted_model": model_version(ae), **(extra or {})}
    if not_trainable:
        extra[NOT_TRAINABLE] = not_trainable
    with Run.creating(path):  # no half-made run that would later be read as valid
        run = new_run(path, config, dataset, keep_dataset=True, extra=extra)
        try:
            run.save_epoch(ae, list(history or []))
        except Exception as exc:  # Keras refuses models it cannot serialise (custom layers, Lambdas)
            raise AEReportError(f"cannot save your model into {run.path}; register custom layers with "
                                "keras.saving.register_keras_serializable",
                                error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return run


def user_history(history) -> list[dict]:
    """A Keras ``History`` (what ``model.fit`` returns) or its ``.history`` dict as a run's epoch
    records: ``[{"epoch": 1, "loss": ..., "val_loss": ...}, ...]``.

    >>> user_history({"loss": [0.3, 0.2]})
    [{'epoch': 1, 'loss': 0.3}, {'epoch': 2, 'loss': 0.2}]
    """
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or "loss" not in logs:
        raise AEReportError("history must be what model.fit returns (a keras History) or its .history dict, with "
                            "a 'loss' per epoch", history=type(history).__name__)
    records = []
    for key in ["loss", *(k for k in logs if k != "loss")]:
        values = logs[key]
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            raise AEReportError("history must hold one number per epoch for each metric", metric=key) from None
        if key != "loss" and len(values) != len(logs["loss"]):
            raise AEReportError(f"history's {key!r} has {len(values)} epochs, its 'loss' {len(logs['loss'])}",
                                metric=key)
        for i, value in enumerate(values):
            if key == "loss":
                records.append({"epoch": i + 1})
            records[i][key] = value
    if not all(np.isfinite(r["loss"]) for r in records):
        raise AEReportError("history's loss must be finite", history=[r["loss"] for r in records][:8])
    return records


def load_or_build(run: Run, safe_mode: bool = True) -> Autoencoder:
    """The run's latest checkpoint, or a freshly initialised model (seeded) if it has none.
    ``safe_mode``: see :meth:`aereport.store.Run.load_autoencoder`.

    >>> load_or_build(Run("runs/mnist")).latent_dim  # doctest: +SKIP
    2
    """
    keras = require("keras")

    if run.has_model:
        return run.load_autoencoder(safe_mode)
    cfg = TrainingConfig.from_dict(run.config)
    keras.utils.set_random_seed(cfg.seed)
    return build_autoencoder(tuple(run.config["img_shape"]), cfg.preset, cfg.latent_dim, cfg.n_layers,
                             cfg.n_units, cfg.learning_rate, beta=cfg.beta)


def check_compatible(ae: Autoencoder, dataset: Dataset, where: str = "model") -> None:
    """Raise if ``dataset``'s images do not fit the model's input shape."""
    if tuple(ae.img_shape) != tuple(dataset.image_shape):
        raise AEReportError(
            f"{where} expects images of shape {tuple(ae.img_shape)} but dataset {dataset.name!r} has "
            f"{tuple(dataset.image_shape)}; train a new run for this dataset", image_shape=tuple(dataset.image_shape))


def _held_out(dataset: Dataset) -> np.ndarray | None:
    """The dataset's test split as a mask, when it has one that leaves images on both sides."""
    mask = dataset.test_mask
    return mask if mask is not None and mask.any() and not mask.all() else None


def split(dataset: Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """(training images, held-out images): the dataset's own test split when it has one."""
    held_out = _held_out(dataset)
    if held_out is None:
        return dataset.images, None
    return dataset.images[~held_out], dataset.images[held_out]


def train(run: Run, dataset: Dataset, epochs: int, callbacks: Sequence = (),
          ae: Autoencoder | None = None) -> Autoencoder:
    """Train ``epochs`` more epochs, checkpointing the run after each one.

    Parameters
    ----------
    run : the run directory; training continues from its last checkpoint
    dataset : images matching the run's ``img_shape``
    epochs : how many epochs to add
    callbacks : Keras callbacks (e.g. :class:`ProgressBar`), called through every epoch
    ae : an already loaded model of this run to keep training (skips loading)

    >>> ae = train(Run("runs/mnist"), load_dataset("mnist"), epochs=1)  # doctest: +SKIP
    """
    keras = require("keras")

    from .callbacks import RunCheckpoint

    epochs = check_non_negative_int("epochs", epochs)
    if epochs and run.config.get(NOT_TRAINABLE):
        raise AEReportError(f"{run.path} is not trained by aereport: {run.config[NOT_TRAINABLE]}", run=str(run.path))
    ae = ae or load_or_build(run)
    check_compatible(ae, dataset, f"run {run.path}")
    cfg = TrainingConfig.from_dict(run.config)
    x_train, x_val = split(dataset)
    history = run.history
    run.sweep_checkpoint()  # this process is the run's one trainer from here on
    if not epochs:
        return ae
    first, steps = len(history), int(np.ceil(len(x_train) / cfg.batch_size_or_default))
    for cb in callbacks:
        if hasattr(cb, "set_plan"):
            cb.set_plan(first, first + epochs, steps)
    keras.utils.set_random_seed(cfg.seed + first)
    # One fit for all the epochs: each fit call traces its step function again (~0.4 s, more
    # than a whole epoch of a small dataset). The checkpoint is a callback at each epoch's end.
    ae.model.fit(batches(x_train, cfg.batch_size_or_default, cfg.seed, first, first + epochs),
                 epochs=first + epochs, initial_epoch=first, steps_per_epoch=steps, verbose=0,
                 callbacks=[RunCheckpoint(run, ae, history, callbacks), *callbacks],
                 shuffle=False,  # the batches come shuffled, in an order fixed by seed and epoch
                 validation_data=(x_val, x_val) if x_val is not None else None,
                 validation_batch_size=VALIDATION_BATCH)
    return ae


def batches(images: np.ndarray, batch_size: int, seed: int, first: int, last: int) -> "tf.data.Dataset":  # noqa: F821
    """``(x, x)`` batches for epochs ``first`` to ``last - 1``, each epoch in its own shuffled order,
    fixed by ``seed`` and the epoch's number — so a resumed run sees the batches a straight one does.

    The images are one tensor and each batch is a gather from it inside TensorFlow: fed numpy
    arrays, ``fit`` spent half its time slicing and converting batches in Python (the seed's model
    trained at ~23,000 samples/s instead of ~50,000, BENCHMARKS.md).

    >>> ds = batches(np.zeros((10, 28, 28), "float32"), 4, seed=0, first=0, last=2)
    >>> [int(x.shape[0]) for x, _ in ds]
    [4, 4, 2, 4, 4, 2]
    """
    tf = require("tensorflow")

    images = tf.constant(images)
    n = int(images.shape[0])

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    return (tf.data.Dataset.range(first, last).flat_map(epoch)
            .map(lambda i: (tf.gather(images, i),) * 2).prefetch(2))
