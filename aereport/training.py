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
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ._validation import AEReportError, check_choice, check_non_negative_int, check_positive_int
from .data import Dataset
from .model import CUSTOM, PRESETS, Autoencoder, build_autoencoder, default_batch_size
from .store import Run, save_dataset


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

    def __post_init__(self):
        check_choice("preset", self.preset, PRESETS + (CUSTOM,))
        check_positive_int("latent_dim", self.latent_dim)
        check_positive_int("n_layers", self.n_layers)
        if self.n_units is not None:
            check_positive_int("n_units", self.n_units)
        if self.batch_size is not None:
            check_positive_int("batch_size", self.batch_size)
        if self.learning_rate is not None and not (0 < float(self.learning_rate) < 10):
            raise AEReportError(
                f"learning_rate must be a positive number below 10. Received: learning_rate={self.learning_rate!r}")
        check_non_negative_int("seed", self.seed)

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
    record = dataclasses.asdict(config)
    record["img_shape"] = list(dataset.image_shape)
    record["n_images"] = len(dataset)
    record.update(extra or {})
    if keep_dataset:
        if Run.exists(path):
            Run.create(path, record)  # raises the usual "a run already exists there"
        Path(path).expanduser().mkdir(parents=True, exist_ok=True)
        record["dataset"] = save_dataset(path, dataset)
    return Run.create(path, record)


def adopt_run(path: str | os.PathLike, ae: Autoencoder, dataset: Dataset, seed: int = 0) -> Run:
    """A run around models trained elsewhere (see :func:`aereport.model.from_models`).

    The run keeps the images and the models, so it can be reopened, served, exported and
    trained further like any other; its history starts empty.

    >>> run = adopt_run("runs/mine", from_models(enc, dec, (28, 28)), ds)  # doctest: +SKIP
    """
    check_compatible(ae, dataset, "the encoder")
    from .layouts import model_version

    config = TrainingConfig(preset=CUSTOM, latent_dim=ae.latent_dim, seed=seed)
    run = new_run(path, config, dataset, keep_dataset=True, extra={"adopted_model": model_version(ae)})
    try:
        run.save_epoch(ae, [])
    except Exception as exc:  # Keras refuses models it cannot serialise (custom layers, Lambdas)
        for leftover in run.path.iterdir():  # no half-made run that would later be read as valid
            leftover.unlink()
        raise AEReportError(f"cannot save your model into {run.path} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); register custom layers "
                            "with keras.saving.register_keras_serializable") from None
    return run


def load_or_build(run: Run, safe_mode: bool = True) -> Autoencoder:
    """The run's latest checkpoint, or a freshly initialised model (seeded) if it has none.
    ``safe_mode``: see :meth:`aereport.store.Run.load_autoencoder`.

    >>> load_or_build(Run("runs/mnist")).latent_dim  # doctest: +SKIP
    2
    """
    import keras

    if run.has_model:
        return run.load_autoencoder(safe_mode)
    cfg = TrainingConfig.from_dict(run.config)
    keras.utils.set_random_seed(cfg.seed)
    return build_autoencoder(tuple(run.config["img_shape"]), cfg.preset, cfg.latent_dim, cfg.n_layers,
                             cfg.n_units, cfg.learning_rate)


def check_compatible(ae: Autoencoder, dataset: Dataset, where: str = "model") -> None:
    """Raise if ``dataset``'s images do not fit the model's input shape."""
    if tuple(ae.img_shape) != tuple(dataset.image_shape):
        raise AEReportError(
            f"{where} expects images of shape {tuple(ae.img_shape)} but dataset {dataset.name!r} has "
            f"{tuple(dataset.image_shape)}; train a new run for this dataset")


def split(dataset: Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """(training images, held-out images): the dataset's own test split when it has one."""
    if dataset.test_mask is not None and dataset.test_mask.any() and not dataset.test_mask.all():
        return dataset.images[~dataset.test_mask], dataset.images[dataset.test_mask]
    return dataset.images, None


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
    import keras

    epochs = check_non_negative_int("epochs", epochs)
    ae = ae or load_or_build(run)
    check_compatible(ae, dataset, f"run {run.path}")
    cfg = TrainingConfig.from_dict(run.config)
    x_train, x_val = split(dataset)
    history = run.history
    run.sweep_checkpoint()  # this process is the run's one trainer from here on
    for cb in callbacks:
        if hasattr(cb, "set_plan"):
            cb.set_plan(len(history), len(history) + epochs, int(np.ceil(len(x_train) / cfg.batch_size_or_default)))
    for epoch in range(len(history), len(history) + epochs):
        keras.utils.set_random_seed(cfg.seed + epoch)
        start = time.perf_counter()
        fit = ae.model.fit(x_train, x_train, batch_size=cfg.batch_size_or_default, epochs=epoch + 1,
                           initial_epoch=epoch, shuffle=True, verbose=0, callbacks=list(callbacks),
                           validation_data=(x_val, x_val) if x_val is not None else None)
        record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 3)}
        record.update({k: float(v[-1]) for k, v in fit.history.items()})
        history.append(record)
        run.save_epoch(ae, history)
        for cb in callbacks:
            if hasattr(cb, "on_checkpoint"):
                cb.on_checkpoint(record)
    return ae
