"""One run held in memory — dataset, model, layouts — shared read-only by every view and session.

:class:`ReportState` is the single state object the views receive: a
:class:`~aereport.status.Status` (what the views show about training and layouts) holding the
run, its dataset, its model and its :class:`~aereport.latent.LatentMap` (every question about
positions and codes goes there). A run opened from its folder runs its model with NumPy, so a
server never imports TensorFlow; training and layouts run in low-priority child processes
(:mod:`aereport.background`) and only change this object's parameters and its map.

>>> state = ReportState.open("runs/mnist")  # doctest: +SKIP
>>> state.latent.decode("ae", 10, 50)[0].shape  # doctest: +SKIP
(28, 28)
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Callable, Sequence

import numpy as np

from ._validation import AEReportError, check_names, check_positive_int
from .background import Worker, WorkerDied
from .cache import RenderCache
from .data import Dataset
from .latent import NEIGHBOURS, LatentMap
from .autoencoder import model_version
from .layouts import LAYOUT_TITLES, LAYOUTS
from .model import CUSTOM, Autoencoder, architecture, encode, reconstruct
from .runs import check_finite, dataset_for, default_layouts, ensure_layouts, lay_out, train_more
from .status import Status
from .store import MODEL, Run
from .training import NOT_TRAINABLE
from .variational import active_units, kl_per_dimension, log_variances, prior_codes


class ReportState(Status):
    """A run loaded once: its dataset, autoencoder and layouts, plus training status.

    Parameters
    ----------
    run : the run directory
    dataset : its images
    ae : its autoencoder (NumPy models, or Keras models of a notebook's own)
    layouts : ``{name: (n, 2) array}``
    in_process : train ``ae`` on a thread of this process (a model handed in from memory), not
        in a background process that loads the run's checkpoint
    safe_mode : see :meth:`aereport.store.Run.load_autoencoder` (for the processes that load it)
    notes : what was skipped of a damaged run, shown to the user
    """

    def __init__(self, run: Run, dataset: Dataset, ae: Autoencoder, layouts: dict[str, np.ndarray], *,
                 in_process: bool = False, safe_mode: bool = True, notes: Sequence[str] = (), **params):
        history, notes = _history(run, list(notes))
        super().__init__(epoch=len(history), history=history, layouts_ready=list(layouts), message="; ".join(notes),
                         loss=history[-1]["loss"] if history else None, version=model_version(ae), **params)
        self.run, self.dataset, self.ae = run, dataset, ae
        self.latent = LatentMap(ae.decoder, lambda: encode(ae.encoder, dataset.images), layouts,
                                direct=ae.latent_dim == 2)
        self._lock = threading.Lock()
        self._safe_mode = safe_mode
        self._trainer = None if in_process else Worker()  # keeps the model loaded between Train clicks
        self._layouter = Worker(keep_alive=False)  # its imports and memory go when its layouts are done
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="aereport-train")
        self._cache: dict = {}
        self.renders = RenderCache()  # the planes' rasters, shared by every session of this run

    @classmethod
    def open(cls, run_dir: str | os.PathLike, dataset: Dataset | None = None, layouts=None,
             on_start: Callable[[str], None] | None = None,
             on_done: Callable[[str, np.ndarray], None] | None = None, *, ae: Autoencoder | None = None,
             safe_mode: bool = True, background: bool = False) -> "ReportState":
        """Load a trained run; compute and cache any of ``layouts`` it does not hold yet.

        ``background=True``: only the autoencoder's layout is computed before returning; the
        other missing ones follow in a background process (:meth:`compute_async`), so a server
        answers its first visitor in seconds, not after minutes of UMAP and t-SNE.

        ``layouts=None``: the layouts the run holds (plus 'ae'), or all of them for a run that
        holds none — opening a run never starts minutes of UMAP/t-SNE it was not asked for.
        ``ae``: the run's model already in memory (not read back from disk; it then trains on a
        thread of this process); ``safe_mode``: see :meth:`aereport.store.Run.load_autoencoder`.
        A model that draws nothing finite is refused; a damaged history or layouts file is
        skipped, and the report says so.

        >>> ReportState.open("runs/mnist").layouts.keys()  # doctest: +SKIP
        dict_keys(['ae', 'umap', 'tsne', 'pca'])
        """
        run = Run(run_dir)
        in_process = ae is not None
        if ae is None:
            run.require_model()
        dataset = dataset if dataset is not None else dataset_for(run)
        # NumPy models where they can run it: the server and the export never import TensorFlow.
        ae = ae if ae is not None else run.load_autoencoder(safe_mode, numpy=True)
        check_finite(ae, dataset, str(run.path / MODEL))
        notes: list[str] = []
        try:
            cached = run.load_layouts(notes)  # a layout that is not finite is left out, and said
        except AEReportError as exc:
            cached = {}
            notes.append(f"{exc}; the layouts are computed again")
        names = default_layouts(cached) if layouts is None else check_names("layouts", layouts, LAYOUTS)
        now = [n for n in names if n == "ae" or n in cached or not background]
        computed = ensure_layouts(run, dataset, ae, now, cached, on_start, on_done)
        state = cls(run, dataset, ae, {k: v["xy"] for k, v in computed.items()}, in_process=in_process,
                    safe_mode=safe_mode, notes=notes)
        state.compute_async([n for n in names if n not in computed])
        return state

    # --- what the views ask for ------------------------------------------------------------
    @property
    def layouts(self) -> dict[str, np.ndarray]:
        """Every layout ready now: ``{name: (n, 2) array}``."""
        return self.latent.layouts

    @property
    def labels(self) -> np.ndarray | None:
        return self.dataset.labels

    @property
    def architecture(self) -> list[dict]:
        return architecture(self.ae)

    @property
    def not_trainable(self) -> str | None:
        """Why Train must not go on with this model (a user's, whose objective aereport does not
        know), or None."""
        return self.run.config.get(NOT_TRAINABLE)

    @property
    def trained_by(self) -> str:
        """Who trained the model, in words: ``aereport (8 epochs)``, ``you (12 epochs)``."""
        n = len(self.history)
        epochs = f"{n} epoch{'s' * (n != 1)}" if n else "epochs not given"
        return f"{'you' if self.run.config.get('preset') == CUSTOM else 'aereport'} ({epochs})"

    @property
    def direct(self) -> bool:
        """Whether the 'ae' layout *is* the latent space, so a position there decodes directly."""
        return self.latent.direct

    def _cached(self, key, compute):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]

    @property
    def sprites(self) -> np.ndarray:
        """One uint8 thumbnail per image (see :func:`aereport.sprites.build_atlas`), built on first
        use and kept in the run folder, so later servers of the run only map it from disk."""
        return self._cached("sprites", self._load_or_build_sprites)

    def _load_or_build_sprites(self) -> np.ndarray:
        atlas = self.run.load_sprites(len(self.dataset))
        if atlas is None:
            from .sprites import build_atlas

            atlas = build_atlas(self.dataset.images)
            try:
                self.run.save_sprites(atlas)
            except (OSError, AEReportError):  # a read-only run still gets thumbnails, built again next time
                pass
        return atlas

    def neighbours(self, index: int, k: int = NEIGHBOURS) -> dict[str, np.ndarray]:
        """The ``k`` nearest samples of sample ``index``, nearest first: in pixel space
        (``"pixels"``) and on every layout — compare them to see how faithful each projection is here.

        >>> state.neighbours(42)["umap"]  # doctest: +SKIP
        array([ 1093, 60211, ...])
        """
        from .selection import nearest_pixels

        n = len(self.dataset)
        if isinstance(index, bool) or not hasattr(index, "__index__") or not 0 <= int(index) < n:
            raise AEReportError(f"index must be an integer in [0, {n})", index=index)
        index, k = int(index), min(check_positive_int("k", k), n - 1)
        flat = self.dataset.images.reshape(n, -1)
        norms = self._cached("norms", lambda: np.einsum("ij,ij->i", flat, flat))
        out = {"pixels": nearest_pixels(self.dataset.images, index, k, norms)}
        for name in list(self.layouts):
            out[name] = self.latent.neighbours(name, index, k)
        return out

    def sample_index(self, seed: int | None = None) -> int:
        """The index of the dataset image that :meth:`sample` shows for ``seed``."""
        return int(np.random.default_rng(seed).integers(len(self.dataset)))

    @property
    def variational(self) -> dict | None:
        """A VAE's extras, for the model shown now: ``{"log_var": (n, d), "sigma": (n, d), "kl": (d,)
        mean KL per dimension, "active": (d,) bool}``; None for another autoencoder. Computed once a
        model.

        >>> state.variational["active"].sum()  # doctest: +SKIP
        2
        """
        version = self.version
        cached = getattr(self, "_variational", None)
        if cached is None or cached[0] != version:
            log_var = log_variances(self.ae, self.dataset.images)
            extras = None
            if log_var is not None:
                kl = kl_per_dimension(self.latent.codes, log_var)
                extras = {"log_var": log_var, "sigma": np.exp(0.5 * log_var), "kl": kl, "active": active_units(kl)}
            cached = self._variational = (version, extras)
        return cached[1]

    def prior_samples(self, n: int = 16, seed: int = 0) -> np.ndarray:
        """``n`` images decoded from codes drawn from the prior N(0, I) (a VAE's generator).

        >>> state.prior_samples(16, seed=3).shape  # doctest: +SKIP
        (16, 28, 28)
        """
        return self.latent.decode_codes(prior_codes(n, self.ae.latent_dim, seed))

    def sample(self, seed: int | None = None) -> tuple[int, np.ndarray, np.ndarray]:
        """A random image of the dataset: ``(index, image, reconstruction)``."""
        i = self.sample_index(seed)
        image = self.dataset.images[i]
        return i, image, reconstruct(self.ae.model, image[None])[0]

    # --- work in other processes ---------------------------------------------------------------
    def compute_async(self, names: Sequence[str]) -> concurrent.futures.Future:
        """Compute the layouts ``names`` (those not ready yet) in a background process, one after
        the other; each is saved into the run and joins :attr:`layouts` as soon as it is done.

        >>> state.compute_async(["umap", "tsne"]).result()  # doctest: +SKIP
        """
        names = [n for n in check_names("layouts", names, LAYOUTS)
                 if n not in self.layouts and n not in self.layouts_pending]
        done = concurrent.futures.Future()
        if not names:
            done.set_result(dict(self.layouts))
            return done
        self.layouts_pending = [*self.layouts_pending, *names]

        def ready(item):
            name, xy = item
            self.latent = self.latent.replace(**{name: xy})
            self.param.update(layouts_ready=[*self.layouts_ready, name],
                              layouts_pending=[n for n in self.layouts_pending if n != name])

        def finished(future):
            self.layouts_pending = [n for n in self.layouts_pending if n not in names]
            error = future.exception()
            if isinstance(error, AEReportError):
                failed = [LAYOUT_TITLES[n] for n in names if n not in self.layouts]
                self.message = f"Layout {', '.join(failed)} failed: {error}"
            elif error is not None:
                done.set_exception(error)
                return
            done.set_result(dict(self.layouts))

        self._layouter.submit(lay_out, str(self.run.path), names, self._safe_mode,
                              progress=ready).add_done_callback(finished)
        return done

    def train_async(self, epochs: int = 1) -> concurrent.futures.Future:
        """Train ``epochs`` more epochs in the background; the 'ae' layout follows the new model.

        A run read from disk trains in a background process and only the new weights come back;
        a model handed in from memory trains on a thread of this process.

        >>> state.train_async(2).result()  # doctest: +SKIP
        """
        epochs = check_positive_int("epochs", epochs)
        with self._lock:
            if self.training:
                raise AEReportError("training is already running; wait for it to finish", training=True)
            self.param.update(training=True, progress=0.0, message="")

        def work():
            try:
                if self._trainer is not None:
                    try:
                        result = self._trainer.call(train_more, str(self.run.path), epochs, self._safe_mode,
                                                    progress=lambda values: self.param.update(**values))
                    except WorkerDied as exc:
                        raise AEReportError("the training process stopped; the run keeps every finished "
                                            "epoch: press Train again to continue", exit_code=exc.exit_code) from None
                    self.ae.model.set_weights(result["weights"])
                    layout, codes = result["ae"], result["codes"]
                else:
                    from .callbacks import ParamProgress
                    from .training import train

                    train(self.run, self.dataset, epochs, callbacks=[ParamProgress(self)], ae=self.ae)
                    layout = ensure_layouts(self.run, self.dataset, self.ae, ["ae"])["ae"]["xy"]
                    codes = encode(self.ae.encoder, self.dataset.images)
                self.latent = self.latent.replace(codes=codes, ae=layout)
                self.param.update(version=model_version(self.ae), training=False, progress=1.0)
            except Exception as exc:  # the worker must always hand back a usable state
                self.param.update(training=False, message=f"Training failed: {exc}")
                raise

        return self._executor.submit(work)


def _history(run: Run, notes: list[str]) -> tuple[list[dict], list[str]]:
    """The run's training history, or none and a note when its file is damaged."""
    try:
        return run.history, notes
    except AEReportError as exc:
        return [], [*notes, f"{exc}; shown without the training history"]
