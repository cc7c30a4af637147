"""One run held in memory — dataset, model, layouts — shared read-only by every view and session.

:class:`ReportState` is the single state object the views receive. A run opened from its folder
runs its model with NumPy (:mod:`aereport.inference`), so a server never imports TensorFlow;
training happens in another process. It imports no UI library:
training runs on a worker thread and only changes this object's parameters; each browser
session copies them into its own :class:`Status` (see ``aereport.views``), so no thread but
the session's own ever touches its document.

>>> state = ReportState.open("runs/mnist")  # doctest: +SKIP
>>> state.decode_position("ae", 10, 50)[0].shape  # doctest: +SKIP
(28, 28)
"""
from __future__ import annotations

import atexit
import concurrent.futures
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import param

from ._validation import AEReportError, check_choice, check_positive_int
from .data import Dataset, load_dataset
from .layouts import LAYOUT_TITLES, LAYOUTS, compute_layouts, model_version
from .model import Autoencoder, architecture, encode, reconstruct
from .store import LAYOUTS as LAYOUTS_FILE, Run, sweep
from .training import check_compatible, load_or_build, train
from .worker import TrainingWorker


NEIGHBOURS = 8
POLL_LAYOUTS_S = 1.0  # how often the run's layouts file is read while a layout process works
MARGIN = 2  # positions decode up to this many data extents beyond the data, then are clamped


class Status(param.Parameterized):
    """What a view shows about training and the current model; mirrored per browser session."""

    epoch = param.Integer(default=0, bounds=(0, None), doc="Epochs the model has been trained for")
    loss = param.Number(default=None, allow_None=True, doc="Latest training loss (MSE)")
    progress = param.Number(default=0.0, bounds=(0, 1), doc="Fraction of the current Train request done")
    training = param.Boolean(default=False, doc="Whether a Train request is running")
    history = param.List(default=[], item_type=dict, doc="One record per finished epoch")
    version = param.String(default="", doc="Fingerprint of the model's weights; changes after training")
    message = param.String(default="", doc="The last error or notice for the user")
    layouts_ready = param.List(default=[], item_type=str, doc="The layouts that can be drawn")
    layouts_pending = param.List(default=[], item_type=str,
                                 doc="Layouts computing in the background, the one under way first")

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

    def __init__(self, run: Run, dataset: Dataset, ae: Autoencoder, layouts: dict[str, np.ndarray],
                 worker: "TrainingWorker | None" = None, safe_mode: bool = True, **params):
        history = run.history
        super().__init__(epoch=len(history), history=history, layouts_ready=list(layouts),
                         loss=history[-1]["loss"] if history else None, version=model_version(ae), **params)
        self.run, self.dataset, self.ae = run, dataset, ae
        self.layouts = dict(layouts)
        self._lock = threading.Lock()
        self._neighbours: dict[tuple[str, str], tuple[str, object]] = {}  # see _cached
        self._codes: tuple[str, np.ndarray] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="aereport-train")
        self._layout_lock = threading.Lock()  # one background layout process at a time
        self._safe_mode = safe_mode  # for the processes that load the run's model again
        self.worker = worker

    @classmethod
    def open(cls, run_dir: str | os.PathLike, dataset: Dataset | None = None, layouts=None,
             on_start: Callable[[str], None] | None = None,
             on_done: Callable[[str], None] | None = None, *, ae: Autoencoder | None = None,
             safe_mode: bool = True, background: bool = False) -> "ReportState":
        """Load a trained run; compute and cache any of ``layouts`` it does not hold yet.

        ``background=True``: only the autoencoder's layout is computed before returning; the
        other missing ones follow in a background process (:meth:`compute_async`), so a server
        answers its first visitor in seconds, not after minutes of UMAP and t-SNE.

        ``layouts=None``: the layouts the run holds (plus 'ae'), or all of them for a run that
        holds none — opening a run never starts minutes of UMAP/t-SNE it was not asked for.
        ``ae``: the run's model already in memory (not read back from disk; it then trains on a
        thread of this process, where a model read from the run trains in a
        :class:`~aereport.worker.TrainingWorker` process); ``safe_mode``: see
        :meth:`aereport.store.Run.load_autoencoder`.

        >>> ReportState.open("runs/mnist").layouts.keys()  # doctest: +SKIP
        dict_keys(['ae', 'umap', 'tsne', 'pca'])
        """
        run = Run(run_dir)
        dataset = dataset if dataset is not None else dataset_for(run)
        worker = TrainingWorker(run.path, safe_mode) if ae is None else None
        # NumPy models where they can run it: the server and the export then never import
        # TensorFlow (the training process does).
        ae = ae if ae is not None else run.load_autoencoder(safe_mode, numpy=True)
        cached = run.load_layouts()
        layouts = default_layouts(cached) if layouts is None else list(layouts)
        now = [n for n in layouts if n == "ae" or n in cached or not background]
        computed = ensure_layouts(run, dataset, ae, now, cached, on_start, on_done)
        state = cls(run, dataset, ae, {k: v["xy"] for k, v in computed.items()}, worker=worker,
                    safe_mode=safe_mode)
        state.compute_async([n for n in layouts if n not in computed])
        return state

    # --- what the views ask for ------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray | None:
        return self.dataset.labels

    @property
    def architecture(self) -> list[dict]:
        return architecture(self.ae)

    @property
    def direct(self) -> bool:
        """Whether the 'ae' layout *is* the latent space, so a position there decodes directly."""
        return self.ae.latent_dim == 2

    @property
    def codes(self) -> np.ndarray:
        """Every image's latent code, (n, latent_dim); computed once per model version."""
        version = self.version
        if self._codes is None or self._codes[0] != version:
            self._codes = (version, encode(self.ae.encoder, self.dataset.images))
        return self._codes[1]

    def latent_at(self, layout: str, x: float, y: float, k: int = NEIGHBOURS) -> tuple[np.ndarray, str]:
        """The latent code for a position on ``layout``, and how it was found.

        On the 2-D latent plane the position is the code. Elsewhere (UMAP, t-SNE, PCA, or the
        2-D view of a wider latent space) no exact inverse exists, so the code is the
        inverse-distance-weighted mean of the ``k`` nearest samples' codes: a tap between two
        clusters blends them, a tap on a sample gives (nearly) its own code.

        >>> z, how = state.latent_at("umap", 3.0, -1.5)  # doctest: +SKIP
        """
        if not (np.isfinite(x) and np.isfinite(y)):
            raise AEReportError(f"position must be finite. Received: x={x!r}, y={y!r}")
        if layout not in self.layouts:
            raise AEReportError(f"layout must be one of {sorted(self.layouts)}. Received: layout={layout!r}")
        x, y, clamped = self._clamp(layout, x, y)
        note = " (the tap was far outside the data: moved to the edge of the decoded range)" if clamped else ""
        if layout == "ae" and self.direct:
            return np.array([x, y], np.float32), "decoder at this latent position" + note
        k = min(k, len(self.dataset))
        z = self._blend(layout, np.array([[x, y]]), k)[0]
        return z, f"decoder at the weighted mean latent code of the {k} nearest samples" + note

    def _clamp(self, layout: str, x: float, y: float) -> tuple[float, float, bool]:
        """Keep a position within the data's extent widened by ``MARGIN`` extents on every side.

        Beyond that a code is nothing the decoder was trained near: huge codes saturate it into
        the same meaningless blot (or overflow to NaN), a wrong picture with no word of why.
        """
        xy = self.layouts[layout]
        lo, hi = self._cached(("extent", layout), lambda: (xy.min(axis=0), xy.max(axis=0)))
        span = np.maximum(hi - lo, 1e-6)
        cx, cy = np.clip([x, y], lo - MARGIN * span, hi + MARGIN * span)
        return float(cx), float(cy), (cx, cy) != (x, y)

    def _blend(self, layout: str, points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
        """Inverse-distance-weighted mean code of the ``k`` nearest samples, for each point."""
        dist, idx = self._tree(layout).query(points, k=min(k, len(self.dataset)))
        dist, idx = dist.reshape(len(points), -1), idx.reshape(len(points), -1)
        weights = 1.0 / np.maximum(dist, 1e-9)
        z = np.einsum("pk,pkd->pd", weights, self.codes[idx]) / weights.sum(axis=1, keepdims=True)
        return z.astype(np.float32)

    def latent_field(self, layout: str = "ae", size: int = 64) -> dict:
        """:meth:`latent_at` sampled on a ``size``×``size`` grid over ``layout``'s extent, for pages
        without a server (bilinear interpolation between nodes stands in for the neighbour search).

        Returns ``{"bounds": (x0, y0, x1, y1), "size": size, "codes": (size, size, d) array}``,
        row ``i`` at ``y0 + i·(y1−y0)/(size−1)``.
        """
        xy = self.layouts[layout]
        (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
        gx, gy = np.meshgrid(np.linspace(x0, x1, size), np.linspace(y0, y1, size))
        codes = self._blend(layout, np.column_stack([gx.ravel(), gy.ravel()]))
        return {"bounds": tuple(float(v) for v in (x0, y0, x1, y1)), "size": size,
                "codes": codes.reshape(size, size, -1)}

    def decode_position(self, layout: str, x: float, y: float) -> tuple[np.ndarray, str]:
        """The image for a position on any layout, and the method that produced it.

        >>> image, how = state.decode_position("ae", 10, 50)  # doctest: +SKIP
        """
        z, how = self.latent_at(layout, x, y)
        # A NumPy model runs its layers (0.05 ms); a Keras one its compiled graph (0.5 ms, where
        # an eager call takes 3.6 ms).
        return np.asarray(self.ae.decoder.predict_on_batch(z[None]))[0], how

    def _tree(self, layout: str):
        from scipy.spatial import cKDTree

        xy = self.layouts[layout]
        return self._cached(("tree", layout), lambda: cKDTree(xy))

    def _cached(self, key: tuple, make):
        """``make()``, kept per layout; the 'ae' layout's entries per model version, and only the
        newest: a server that trains for hours must not keep a KD-tree of every version."""
        version = self.version if key[-1] == "ae" else ""
        entry = self._neighbours.get(key)
        if entry is None or entry[0] != version:
            entry = self._neighbours[key] = (version, make())
        return entry[1]

    # --- exploring: thumbnails, hover, selection, neighbours, paths -----------------------
    @property
    def sprites(self) -> np.ndarray:
        """One uint8 thumbnail per image (see :func:`aereport.sprites.build_atlas`), built on first
        use and kept in the run folder, so later servers of the run only map it from disk."""
        return self._cached(("sprites",), self._load_or_build_sprites)

    def _load_or_build_sprites(self) -> np.ndarray:
        atlas = self.run.load_sprites(len(self.dataset))
        if atlas is None:
            from .sprites import build_atlas

            atlas = build_atlas(self.dataset.images)
            try:
                self.run.save_sprites(atlas)
            except OSError:  # a read-only run still gets thumbnails, built again next time
                pass
        return atlas

    def nearest(self, layout: str, x: float, y: float, visible: np.ndarray | None = None,
                k: int = 64) -> int | None:
        """The index of the sample nearest ``(x, y)`` on ``layout`` among those ``visible`` (a bool
        mask; all by default), or None when none of the ``k`` nearest is visible.

        >>> state.nearest("umap", 3.0, -1.5)  # doctest: +SKIP
        5121
        """
        if layout not in self.layouts:
            raise AEReportError(f"layout must be one of {sorted(self.layouts)}. Received: layout={layout!r}")
        if not (np.isfinite(x) and np.isfinite(y)):
            return None
        _, idx = self._tree(layout).query([x, y], k=min(k if visible is not None else 1, len(self.dataset)))
        for i in np.atleast_1d(idx):
            if visible is None or visible[i]:
                return int(i)
        return None

    def select(self, layout: str, box=None, polygon=None) -> np.ndarray:
        """Indices of the samples of ``layout`` inside ``box = (x0, y0, x1, y1)`` or ``polygon``
        (vertices), sorted.

        >>> state.select("ae", box=(-1, -1, 1, 1))  # doctest: +SKIP
        array([   3,   17, ...])
        """
        from .selection import in_box, in_polygon

        xy = self.layouts[layout]
        return in_box(xy, box) if box is not None else in_polygon(xy, polygon)

    def neighbours(self, index: int, k: int = NEIGHBOURS) -> dict[str, np.ndarray]:
        """The ``k`` nearest samples of sample ``index``, nearest first: in pixel space
        (``"pixels"``) and on every layout — compare them to see how faithful each projection is here.

        >>> state.neighbours(42)["umap"]  # doctest: +SKIP
        array([ 1093, 60211, ...])
        """
        from .selection import nearest_pixels

        index = int(index)
        if not 0 <= index < len(self.dataset):
            raise AEReportError(f"index must be in [0, {len(self.dataset)}). Received: index={index}")
        k = min(k, len(self.dataset) - 1)
        flat = self.dataset.images.reshape(len(self.dataset), -1)
        norms = self._cached(("norms",), lambda: np.einsum("ij,ij->i", flat, flat))
        out = {"pixels": nearest_pixels(self.dataset.images, index, k, norms)}
        for name, xy in self.layouts.items():
            _, idx = self._tree(name).query(xy[index], k=k + 1)
            out[name] = np.array([i for i in idx if i != index][:k])
        return out

    def decode_path(self, layout: str, start, end, steps: int = 9) -> np.ndarray:
        """Images decoded at ``steps`` evenly spaced positions from ``start`` to ``end`` (both (x, y)
        on ``layout``, ends included): a walk through the latent space.

        >>> state.decode_path("ae", (0, 0), (2, 1)).shape  # doctest: +SKIP
        (9, 28, 28)
        """
        steps = check_positive_int("steps", steps)
        t = np.linspace(0.0, 1.0, steps)[:, None]
        points = (1 - t) * np.asarray(start, np.float64) + t * np.asarray(end, np.float64)
        codes = np.stack([self.latent_at(layout, float(x), float(y))[0] for x, y in points])
        return np.asarray(self.ae.decoder.predict_on_batch(codes))

    def sample_index(self, seed: int | None = None) -> int:
        """The index of the dataset image that :meth:`sample` shows for ``seed``."""
        return int(np.random.default_rng(seed).integers(len(self.dataset)))

    def sample(self, seed: int | None = None) -> tuple[int, np.ndarray, np.ndarray]:
        """A random image of the dataset: ``(index, image, reconstruction)``."""
        i = self.sample_index(seed)
        image = self.dataset.images[i]
        return i, image, reconstruct(self.ae.model, image[None])[0]

    # --- work in other processes ---------------------------------------------------------------
    def compute_async(self, names: Sequence[str]) -> concurrent.futures.Future:
        """Compute the layouts ``names`` (those not ready yet) in a background process, one after
        the other; each is saved into the run and joins :attr:`layouts` as soon as it is done.

        The process is ``aereport layouts`` at the lowest priority: UMAP and t-SNE take minutes
        of both cores, and the report's visitors must not wait on them.

        >>> state.compute_async(["umap", "tsne"]).result()  # doctest: +SKIP
        """
        for name in names:
            check_choice("layout", name, LAYOUTS)
        names = [n for n in dict.fromkeys(names) if n not in self.layouts and n not in self.layouts_pending]
        if not names:
            done = concurrent.futures.Future()
            done.set_result(dict(self.layouts))
            return done
        self.layouts_pending = [*self.layouts_pending, *names]

        future = concurrent.futures.Future()

        def work():
            try:
                compute()
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)
            else:
                future.set_result(dict(self.layouts))

        def compute():
            def ready(name, xy):
                self.layouts = {**self.layouts, name: xy}
                self.layouts_ready = [*self.layouts_ready, name]
                self.layouts_pending = [n for n in self.layouts_pending if n != name]

            with self._layout_lock:
                try:
                    _layouts_in_child(self.run, names, len(self.dataset), self._safe_mode, ready)
                except AEReportError as exc:
                    failed = [LAYOUT_TITLES[n] for n in names if n not in self.layouts]
                    self.param.update(message=f"Layout {', '.join(failed)} failed: {exc}")
                finally:
                    self.layouts_pending = [n for n in self.layouts_pending if n not in names]

        # A daemon thread, not an executor's: Python joins executor threads at exit, before any
        # atexit hook, so a stopped server waited minutes for the layout under way.
        threading.Thread(target=work, name="aereport-layouts", daemon=True).start()
        return future

    def train_async(self, epochs: int = 1) -> concurrent.futures.Future:
        """Train ``epochs`` more epochs in the background; the 'ae' layout follows the new model.

        With a :attr:`worker` the epochs run in its process and only the new weights come back;
        without one (a model handed in from memory) on a thread of this process.

        >>> state.train_async(2).result()  # doctest: +SKIP
        """
        epochs = check_positive_int("epochs", epochs)
        with self._lock:
            if self.training:
                raise AEReportError("training is already running; wait for it to finish")
            self.param.update(training=True, progress=0.0, message="")

        def work():
            try:
                if self.worker is not None:
                    result = self.worker.train(epochs, on_update=lambda values: self.param.update(**values))
                    self.ae.model.set_weights(result["weights"])
                    ae_layout = result["ae"]
                    # The codes too: re-encoding every image here would hold up the next taps.
                    self._codes = (model_version(self.ae), result["codes"])
                else:
                    from .callbacks import ParamProgress

                    train(self.run, self.dataset, epochs, callbacks=[ParamProgress(self)], ae=self.ae)
                    ae_layout = ensure_layouts(self.run, self.dataset, self.ae, ["ae"],
                                               self.run.load_layouts())["ae"]["xy"]
                self.layouts = {**self.layouts, "ae": ae_layout}
                self.param.update(version=model_version(self.ae), training=False, progress=1.0)
            except Exception as exc:  # the worker must always hand back a usable state
                self.param.update(training=False, message=f"Training failed: {exc}")
                raise

        return self._executor.submit(work)


# The layout process: lowest priority, and it dies with the server (on Linux; a server stopped
# by a signal runs no atexit hooks), then it is the CLI.
_CHILD = """import os, sys
os.nice(19)
from aereport.layouts import die_with_parent
die_with_parent()
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the server ended before the line above
from aereport.cli import main
sys.exit(main(sys.argv[2:]))"""
_children: set = set()


def _layouts_in_child(run: Run, names: list[str], n: int, safe_mode: bool,
                      ready: Callable[[str, np.ndarray], None]) -> None:
    """``aereport layouts --run RUN --only NAMES`` at the lowest priority, in one process so the
    layouts share its imports and UMAP and t-SNE their neighbour search; ``ready(name, xy)`` as
    each lands in the run's layouts file (written atomically, so a read never sees half of one)."""
    import subprocess
    import sys
    import tempfile

    argv = [sys.executable, "-c", _CHILD, str(os.getpid()), "layouts", "--run", str(run.path),
            "--only", ",".join(names)] + ([] if safe_mode else ["--trust-model"])
    with tempfile.TemporaryFile("w+") as err:  # a pipe could fill with progress lines and stall it
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, text=True)
        _children.add(child)
        waiting = list(names)
        try:
            while waiting:
                finished = child.poll() is not None
                try:
                    found = run.load_layouts()
                except AEReportError:
                    found = {}
                for name in [w for w in waiting if w in found and len(found[w]["xy"]) == n]:
                    waiting.remove(name)
                    ready(name, found[name]["xy"])
                if finished:
                    break
                try:
                    child.wait(timeout=POLL_LAYOUTS_S)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            _children.discard(child)
        if waiting:
            err.seek(0)
            lines = [line for line in err.read().splitlines() if line.strip() and "%|" not in line]
            raise AEReportError(lines[-1].removeprefix("aereport: error: ") if lines
                                else f"the layout process stopped (exit code {child.returncode})")


@atexit.register
def _stop_children() -> None:
    # A layout process outliving its server would go on using both cores for minutes.
    for child in list(_children):
        child.kill()


def default_layouts(cached: dict) -> list[str]:
    """What a run shows unless asked otherwise: its cached layouts plus 'ae', or all for a new run."""
    return list(dict.fromkeys(["ae", *cached])) if cached else list(LAYOUTS)


def field_at(field: dict, x: float, y: float) -> np.ndarray:
    """Bilinear interpolation of a :meth:`ReportState.latent_field` at ``(x, y)`` (clamped to
    its extent) — exactly what the exported page computes before it decodes.

    >>> field_at(state.latent_field(), 0.5, -1.0).shape  # doctest: +SKIP
    (16,)
    """
    x0, y0, x1, y1 = field["bounds"]
    n, codes = field["size"], field["codes"]
    fx = np.clip((x - x0) / ((x1 - x0) or 1) * (n - 1), 0, n - 1)
    fy = np.clip((y - y0) / ((y1 - y0) or 1) * (n - 1), 0, n - 1)
    i, j = min(int(fy), n - 2), min(int(fx), n - 2)
    ty, tx = fy - i, fx - j
    return ((1 - ty) * ((1 - tx) * codes[i, j] + tx * codes[i, j + 1])
            + ty * ((1 - tx) * codes[i + 1, j] + tx * codes[i + 1, j + 1])).astype(np.float32)


def dataset_for(run: Run) -> Dataset:
    """Load the dataset a run was trained on, from the spec in its config."""
    spec = run.config.get("dataset") or {}
    if "name" not in spec:
        raise AEReportError(f"{run.path}: config.json names no dataset; expected {{'dataset': {{'name': ...}}}}")
    options = dict(spec.get("options", {}))
    # A dataset kept inside the run is named relative to it, so the folder can move.
    if "path" in options and not Path(options["path"]).is_absolute():
        options["path"] = str(run.path / options["path"])
    return load_dataset(spec["name"], **options)


def ensure_layouts(run: Run, dataset: Dataset, ae: Autoencoder, names, cached: dict,
                   on_start: Callable[[str], None] | None = None,
                   on_done: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Compute what ``cached`` lacks of ``names`` and save each into the run as soon as it is done,
    so an interrupted session keeps every layout it finished."""
    check_compatible(ae, dataset, f"run {run.path}")  # before minutes of layout work, not after
    # Layouts of another number of images belong to another dataset: recomputed, not mixed in.
    current = {k: v for k, v in cached.items() if len(v["xy"]) == len(dataset)}
    if set(names) - set(current):
        with run.layouts_lock():  # every writer holds it while writing: no live temporary is swept
            sweep(run.path / LAYOUTS_FILE)  # what a killed computation left half-written

    def save(name, entry):
        current[name] = entry
        run.update_layouts({name: entry}, dataset.labels)
        if on_done:
            on_done(name)

    return compute_layouts(dataset.images, names, encoder=ae.encoder, model_version=model_version(ae),
                           cache=current, on_start=on_start, on_done=save)


def ensure_default_run(run_dir: str | os.PathLike, epochs: int = 20, callbacks=()) -> Run:
    """The embedded MNIST sample's run at ``run_dir``, trained with the default preset if missing.

    This is what a fresh install serves: it needs no download and no data directory.

    >>> ensure_default_run("~/.cache/aereport/runs/mnist-sample")  # doctest: +SKIP
    """
    from .training import TrainingConfig

    if Run.exists(run_dir) and Run(run_dir).has_model:
        return Run(run_dir)
    return prepare_run(run_dir, load_dataset(), TrainingConfig(), epochs, callbacks)


FACE_SIZE = (109, 89)  # half of CelebA's aligned 218×178, aspect kept


def ensure_faces_run(run_dir: str | os.PathLike, folder: str | os.PathLike, epochs: int = 40,
                     size: tuple[int, int] = FACE_SIZE, callbacks=()) -> Run:
    """A convolutional autoencoder with a 2-D latent space on a folder of face photographs
    (the seed's CelebA figure, in color), trained at ``run_dir`` if it holds no model yet.

    >>> ensure_faces_run("runs/faces", "img_align_celeba")  # doctest: +SKIP
    """
    from .training import TrainingConfig

    if Run.exists(run_dir) and Run(run_dir).has_model:
        return Run(run_dir)
    options = {"path": str(Path(folder).expanduser().resolve()), "size": list(size), "color": "rgb"}
    config = TrainingConfig(preset="conv", latent_dim=2, n_layers=3, dataset={"name": "folder", "options": options})
    return prepare_run(run_dir, load_dataset("folder", **options), config, epochs, callbacks)


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
