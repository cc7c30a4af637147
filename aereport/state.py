"""One run held in memory — dataset, model, layouts — shared read-only by every view and session.

:class:`ReportState` is the single state object the views receive. It imports no UI library:
training runs on a worker thread and only changes this object's parameters; each browser
session copies them into its own :class:`Status` (see ``aereport.views``), so no thread but
the session's own ever touches its document.

>>> state = ReportState.open("runs/mnist")  # doctest: +SKIP
>>> state.decode(10, 50).shape               # doctest: +SKIP
(28, 28)
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Callable

import numpy as np
import param

from ._validation import AEReportError, check_positive_int
from .data import Dataset, load_dataset
from .layouts import LAYOUTS, compute_layouts, model_version
from .model import Autoencoder, architecture, decode_at, reconstruct
from .store import Run
from .training import check_compatible, load_or_build, train


class Status(param.Parameterized):
    """What a view shows about training and the current model; mirrored per browser session."""

    epoch = param.Integer(default=0, bounds=(0, None), doc="Epochs the model has been trained for")
    loss = param.Number(default=None, allow_None=True, doc="Latest training loss (MSE)")
    progress = param.Number(default=0.0, bounds=(0, 1), doc="Fraction of the current Train request done")
    training = param.Boolean(default=False, doc="Whether a Train request is running")
    history = param.List(default=[], item_type=dict, doc="One record per finished epoch")
    version = param.String(default="", doc="Fingerprint of the model's weights; changes after training")
    message = param.String(default="", doc="The last error or notice for the user")

    def snapshot(self) -> dict:
        return {k: getattr(self, k) for k in Status.param if k != "name"}


class ReportState(Status):
    """A run loaded once: its dataset, autoencoder and layouts, plus training status.

    Parameters
    ----------
    run : the run directory
    dataset : its images (loaded from the run's config when not given)
    layouts : ``{name: (n, 2) array}``
    """

    def __init__(self, run: Run, dataset: Dataset, ae: Autoencoder, layouts: dict[str, np.ndarray], **params):
        history = run.history
        super().__init__(epoch=len(history), history=history,
                         loss=history[-1]["loss"] if history else None, version=model_version(ae), **params)
        self.run, self.dataset, self.ae = run, dataset, ae
        self.layouts = dict(layouts)
        self._lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="aereport-train")

    @classmethod
    def open(cls, run_dir: str | os.PathLike, dataset: Dataset | None = None, layouts=LAYOUTS,
             on_start: Callable[[str], None] | None = None,
             on_done: Callable[[str], None] | None = None) -> "ReportState":
        """Load a trained run; compute and cache any of ``layouts`` it does not hold yet.

        >>> ReportState.open("runs/mnist").layouts.keys()  # doctest: +SKIP
        dict_keys(['ae', 'umap', 'tsne', 'pca'])
        """
        run = Run(run_dir)
        dataset = dataset if dataset is not None else dataset_for(run)
        ae = run.load_autoencoder()
        check_compatible(ae, dataset, f"run {run.path}")  # before minutes of layout work, not after
        computed = ensure_layouts(run, dataset, ae, layouts, run.load_layouts(), on_start, on_done)
        return cls(run, dataset, ae, {k: v["xy"] for k, v in computed.items()})

    # --- what the views ask for ------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray | None:
        return self.dataset.labels

    @property
    def architecture(self) -> list[dict]:
        return architecture(self.ae)

    def decode(self, x: float, y: float) -> np.ndarray:
        """The decoder's image at latent ``(x, y)``."""
        return decode_at(self.ae.decoder, x, y)

    def sample(self, seed: int | None = None) -> tuple[int, np.ndarray, np.ndarray]:
        """A random image of the dataset: ``(index, image, reconstruction)``."""
        i = int(np.random.default_rng(seed).integers(len(self.dataset)))
        image = self.dataset.images[i]
        return i, image, reconstruct(self.ae.model, image[None])[0]

    # --- training ----------------------------------------------------------------------------
    def train_async(self, epochs: int = 1) -> concurrent.futures.Future:
        """Train ``epochs`` more epochs on a worker thread; the 'ae' layout follows the new model.

        >>> state.train_async(2).result()  # doctest: +SKIP
        """
        from .callbacks import ParamProgress

        epochs = check_positive_int("epochs", epochs)
        with self._lock:
            if self.training:
                raise AEReportError("training is already running; wait for it to finish")
            self.param.update(training=True, progress=0.0, message="")

        def work():
            try:
                train(self.run, self.dataset, epochs, callbacks=[ParamProgress(self)], ae=self.ae)
                version = model_version(self.ae)
                ae_layout = ensure_layouts(self.run, self.dataset, self.ae, ["ae"], self.run.load_layouts())
                self.layouts = {**self.layouts, "ae": ae_layout["ae"]["xy"]}
                self.param.update(version=version, training=False, progress=1.0)
            except Exception as exc:  # the worker must always hand back a usable state
                self.param.update(training=False, message=f"Training failed: {exc}")
                raise

        return self._executor.submit(work)


def dataset_for(run: Run) -> Dataset:
    """Load the dataset a run was trained on, from the spec in its config."""
    spec = run.config.get("dataset") or {}
    if "name" not in spec:
        raise AEReportError(f"{run.path}: config.json names no dataset; expected {{'dataset': {{'name': ...}}}}")
    return load_dataset(spec["name"], **spec.get("options", {}))


def ensure_layouts(run: Run, dataset: Dataset, ae: Autoencoder, names, cached: dict,
                   on_start: Callable[[str], None] | None = None,
                   on_done: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Compute what ``cached`` lacks of ``names`` and save each into the run as soon as it is done,
    so an interrupted session keeps every layout it finished."""
    current = dict(cached)

    def save(name, entry):
        current[name] = entry
        run.save_layouts(current, dataset.labels)
        if on_done:
            on_done(name)

    return compute_layouts(dataset.images, names, encoder=ae.encoder, model_version=model_version(ae),
                           cache=cached, on_start=on_start, on_done=save)


def ensure_default_run(run_dir: str | os.PathLike, epochs: int = 20, callbacks=()) -> Run:
    """The embedded MNIST sample's run at ``run_dir``, trained with the default preset if missing.

    This is what a fresh install serves: it needs no download and no data directory.

    >>> ensure_default_run("~/.cache/aereport/runs/mnist-sample")  # doctest: +SKIP
    """
    from .training import TrainingConfig

    if Run.exists(run_dir) and Run(run_dir).has_model:
        return Run(run_dir)
    return prepare_run(run_dir, load_dataset(), TrainingConfig(), epochs, callbacks)


def prepare_run(run_dir: str | os.PathLike, dataset: Dataset, config, epochs: int,
                callbacks=()) -> Run:
    """Make sure ``run_dir`` holds a model trained for at least ``epochs`` epochs (create it if needed).

    >>> prepare_run("runs/sample", load_dataset(), TrainingConfig(), epochs=20)  # doctest: +SKIP
    """
    from .training import new_run

    run = Run(run_dir) if Run.exists(run_dir) else new_run(run_dir, config, dataset)
    remaining = epochs - run.epochs_done
    if remaining > 0 or not run.has_model:
        train(run, dataset, max(remaining, 0), callbacks=callbacks, ae=load_or_build(run))
    return run
