"""What is done to a run as a whole: open its dataset, lay it out, train it, make the demo runs.

The steps between a run directory (:mod:`aereport.store`) and a report: each function takes a
run and leaves it complete or as it was. :func:`train_more` and :func:`lay_out` are what a
:class:`~aereport.background.Worker` runs for a served report, in its low-priority child.
Nothing here imports a UI library.

>>> run = prepare_run("runs/sample", load_dataset(), TrainingConfig(), epochs=20)  # doctest: +SKIP
>>> layouts = ensure_layouts(run, dataset_for(run), run.load_autoencoder(numpy=True), ["ae", "pca"])  # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from ._validation import AEReportError
from .data import Dataset, load_dataset
from .autoencoder import model_version
from .layouts import LAYOUTS, compute_layouts
from .model import Autoencoder, encode
from .store import LAYOUTS as LAYOUTS_FILE, Run, sweep
from .training import TrainingConfig, check_compatible, load_or_build, new_run, train

FACE_SIZE = (109, 89)  # half of CelebA's aligned 218×178, aspect kept


def dataset_for(run: Run) -> Dataset:
    """Load the dataset a run was trained on, from the spec in its config.

    >>> dataset_for(Run("runs/mnist")).name  # doctest: +SKIP
    'mnist'
    """
    spec = run.dataset_spec
    options = dict(spec["options"])
    # A dataset kept inside the run is named relative to it, so the folder can move.
    if "path" in options and not Path(options["path"]).is_absolute():
        options["path"] = str(run.path / options["path"])
    if "size" in options:
        options["size"] = tuple(options["size"])
    return load_dataset(spec["name"], **options)


def default_layouts(cached: dict) -> list[str]:
    """What a run shows unless asked otherwise: its cached layouts plus 'ae', or all for a new run.

    >>> default_layouts({}), default_layouts({"pca": None})
    (['ae', 'umap', 'tsne', 'pca'], ['ae', 'pca'])
    """
    return list(dict.fromkeys(["ae", *cached])) if cached else list(LAYOUTS)


def ensure_layouts(run: Run, dataset: Dataset, ae: Autoencoder, names, cached: dict | None = None,
                   on_start: Callable[[str], None] | None = None,
                   on_done: Callable[[str, np.ndarray], None] | None = None) -> dict[str, dict]:
    """The layouts ``names`` of the run: what ``cached`` (default: the run's layouts file) lacks is
    computed and saved into the run as soon as it is done, so an interrupted session keeps every
    layout it finished. ``on_done(name, xy)`` follows each save.

    >>> ensure_layouts(run, dataset, ae, ["ae", "pca"])["pca"]["xy"].shape  # doctest: +SKIP
    (70000, 2)
    """
    check_compatible(ae, dataset, f"run {run.path}")  # before minutes of layout work, not after
    cached = run.load_layouts() if cached is None else cached
    # Layouts of another number of images belong to another dataset: recomputed, not mixed in.
    current = {k: v for k, v in cached.items() if len(v["xy"]) == len(dataset)}
    if set(names) - set(current):
        with run.layouts_lock():  # every writer holds it while writing: no live temporary is swept
            sweep(run.path / LAYOUTS_FILE)  # what a killed computation left half-written

    def save(name, entry):
        current[name] = entry
        run.update_layouts({name: entry}, dataset.labels)
        if on_done:
            on_done(name, entry["xy"])

    return compute_layouts(dataset.images, names, encoder=ae.encoder, model_version=model_version(ae),
                           cache=current, on_start=on_start, on_done=save)


def check_finite(ae: Autoencoder, dataset: Dataset, where: str) -> None:
    """Refuse a model that draws nothing true: weights, codes or decodes that are not finite.

    A run whose weights are NaN (a training that diverged, a damaged file) was served and every
    decode was a blank or garbage picture with no word of why. Checked on a few images (the
    first 64), so opening a run of any size costs milliseconds.

    >>> check_finite(run.load_autoencoder(numpy=True), dataset, "runs/mnist/autoencoder.keras")  # doctest: +SKIP
    """
    bad = [i for i, w in enumerate(ae.model.get_weights()) if not np.isfinite(w).all()]
    if bad:
        raise AEReportError(f"{where}: the model's weights are not finite (NaN or infinite in {len(bad)} of "
                            f"{len(ae.model.get_weights())} arrays; did training diverge?); retrain it, e.g. with "
                            "a lower --learning-rate", weights_not_finite=len(bad))
    codes = encode(ae.encoder, dataset.images[:64])
    if not np.isfinite(codes).all():
        raise AEReportError(f"{where}: the encoder's codes of the dataset's first images are not finite; "
                            "the model does not fit these images", codes_not_finite=int((~np.isfinite(codes)).sum()))
    images = np.asarray(ae.decoder.predict_on_batch(codes))
    if not np.isfinite(images).all():
        raise AEReportError(f"{where}: the decoder's images are not finite; retrain the model",
                            pixels_not_finite=int((~np.isfinite(images)).sum()))


def describe(run: Run, safe_mode: bool = True) -> str:
    """What a run holds, as ``aereport info`` prints it — its dataset and label names, model, epochs,
    test MSE, each layout with its parameters, its size on disk — as far as each part can be read:
    a damaged one is said, not raised.

    >>> print(describe(Run("runs/mnist")))  # doctest: +SKIP
    """
    import time

    cfg = run.config
    try:
        h = run.history
        trained = f"epochs: {len(h)}" + (f", last loss {h[-1]['loss']:.5f}" if h else "")
    except AEReportError as exc:
        trained = f"epochs: unknown ({exc})"
    size = sum(p.stat().st_size for p in run.path.rglob("*") if p.is_file())
    lines = [f"run: {run.path} ({size / 1e6:.1f} MB on disk)", f"dataset: {cfg.get('dataset')}",
             f"images: {cfg.get('n_images')} of shape {cfg.get('img_shape')}",
             f"model: preset={cfg.get('preset')} latent_dim={cfg.get('latent_dim')}"
             + (f" beta={cfg.get('beta', 1.0):g}" if cfg.get("preset") == "vae" else "")
             + ("" if run.has_model else " (no trained model yet)"), trained, *_labels_and_mse(run, safe_mode)]
    notes: list[str] = []
    try:
        layouts = run.load_layouts(notes)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime((run.path / LAYOUTS_FILE).stat().st_mtime)) \
            if layouts else ""
        lines.append(f"layouts{f' (saved {when})' if when else ''}:" + ("" if layouts else " none"))
        lines += [f"  {entry['key']}" for entry in layouts.values()] + [f"  {note}" for note in notes]
    except AEReportError as exc:
        lines.append(f"layouts: unreadable ({exc})")
    return "\n".join(lines)


def _labels_and_mse(run: Run, safe_mode: bool) -> list[str]:
    """The dataset's label names and the model's test MSE (held-out images, else all), or why not."""
    try:
        dataset = dataset_for(run)
    except AEReportError as exc:
        return [f"labels: unknown (the dataset cannot be read: {exc})"]
    names = ", ".join(dataset.categories) if dataset.labels is not None else "none"
    if not run.has_model:
        return [f"labels: {names}"]
    try:
        ae = run.load_autoencoder(safe_mode, numpy=True)
    except AEReportError as exc:
        return [f"labels: {names}", f"reconstruction MSE: unknown ({exc})"]
    held_out = dataset.test_mask if dataset.test_mask is not None and dataset.test_mask.any() else None
    images = dataset.images[held_out] if held_out is not None else dataset.images
    total = sum(float(np.sum((np.asarray(ae.model(images[i:i + 4096])) - images[i:i + 4096]) ** 2))
                for i in range(0, len(images), 4096))  # in batches: the whole set at once is ~2 GB at 70k
    which = f"the {len(images):,} test images" if held_out is not None else f"all {len(images):,} images"
    return [f"labels: {names}", f"reconstruction MSE: {total / images.size:.5f} on {which}"]


# --- the runs a fresh install serves -----------------------------------------------------------

def ensure_default_run(run_dir: str | os.PathLike, epochs: int = 20, callbacks=()) -> Run:
    """The embedded MNIST sample's run at ``run_dir``, trained with the default preset if missing.

    This is what a fresh install serves: it needs no download and no data directory.

    >>> ensure_default_run("~/.cache/aereport/runs/mnist-sample")  # doctest: +SKIP
    """
    return prepare_run(run_dir, None, TrainingConfig(), epochs, callbacks)


def ensure_faces_run(run_dir: str | os.PathLike, folder: str | os.PathLike, epochs: int = 40,
                     size: tuple[int, int] = FACE_SIZE, callbacks=()) -> Run:
    """A convolutional autoencoder with a 2-D latent space on a folder of face photographs
    (the seed's CelebA figure, in color), trained at ``run_dir`` if it holds no model yet.

    >>> ensure_faces_run("runs/faces", "img_align_celeba")  # doctest: +SKIP
    """
    options = {"path": str(Path(folder).expanduser().resolve()), "size": list(size), "color": "rgb"}
    config = TrainingConfig(preset="conv", latent_dim=2, n_layers=3, dataset={"name": "folder", "options": options})
    return prepare_run(run_dir, None, config, epochs, callbacks)


def prepare_run(run_dir: str | os.PathLike, dataset: Dataset | None, config: TrainingConfig, epochs: int,
                callbacks=(), keep_dataset: bool = False, extra: dict | None = None) -> Run:
    """A run at ``run_dir`` trained for at least ``epochs`` epochs: the one there, trained on if it
    holds fewer (aereport's own runs: the embedded sample's, a notebook's cache), else a new run of
    ``config`` on ``dataset`` (loaded from ``config.dataset`` when None).

    Never trains over other files: a folder holding something but no run is refused. A new run
    that fails before its first checkpoint is removed (see :meth:`aereport.store.Run.creating`),
    so the corrected call just works.

    >>> prepare_run("runs/sample", load_dataset(), TrainingConfig(), epochs=20)  # doctest: +SKIP
    """
    path = Path(run_dir).expanduser()
    if Run.exists(path):
        run = Run(path)
        remaining = epochs - run.epochs_done
        if remaining > 0 or not run.has_model:
            dataset = dataset if dataset is not None else dataset_for(run)
            train(run, dataset, max(remaining, 0), callbacks=callbacks, ae=load_or_build(run))
        return run
    Run.check_new(path)
    with Run.creating(path):
        if dataset is None:
            dataset = load_dataset(config.dataset["name"], **config.dataset.get("options", {}))
        run = new_run(path, config, dataset, keep_dataset=keep_dataset, extra=extra)
        train(run, dataset, epochs, callbacks=callbacks, ae=load_or_build(run))
    return run


# --- what a served report's background process runs ---------------------------------------------

_LOADED: dict = {}  # in a training child: (run dir, safe mode) -> (run, dataset, model), kept between calls


def train_more(run_dir: str, epochs: int, safe_mode: bool = True,
               progress: Callable[[dict], None] | None = None) -> dict:
    """Train the run ``epochs`` more epochs, checkpointing each, in this process; report
    :class:`~aereport.status.Status` values through ``progress``.

    Run in a :class:`~aereport.background.Worker` by a served report: the worker keeps the model
    and dataset loaded between calls. Returns ``{"weights": [...], "ae": (n, 2) layout,
    "codes": (n, d)}`` of the trained model.

    >>> Worker().call(train_more, "runs/mnist", 1)["ae"].shape  # doctest: +SKIP
    (70000, 2)
    """
    from .callbacks import Progress

    key = (str(run_dir), bool(safe_mode))
    if key not in _LOADED:
        run = Run(run_dir)
        _LOADED[key] = (run, dataset_for(run), load_or_build(run, safe_mode))
    run, dataset, ae = _LOADED[key]
    train(run, dataset, epochs, callbacks=[Progress(progress or (lambda values: None), run.history)], ae=ae)
    layout = ensure_layouts(run, dataset, ae, ["ae"])["ae"]["xy"]
    return {"weights": ae.model.get_weights(), "ae": layout, "codes": encode(ae.encoder, dataset.images)}


def lay_out(run_dir: str, names: list[str], safe_mode: bool = True,
            progress: Callable[[tuple[str, np.ndarray]], None] | None = None) -> list[str]:
    """Compute the run's missing layouts ``names``, each saved into the run and reported as
    ``progress((name, xy))`` the moment it is done; returns the names.

    Run in a :class:`~aereport.background.Worker` by a served report: UMAP and t-SNE take
    minutes of both cores, which the report's visitors must not wait on.

    >>> Worker().call(lay_out, "runs/mnist", ["umap"], progress=print)  # doctest: +SKIP
    """
    run = Run(run_dir)
    ae = run.load_autoencoder(safe_mode, numpy=True)  # no TensorFlow import where NumPy runs it
    report = (lambda name, xy: progress((name, xy))) if progress else None
    ensure_layouts(run, dataset_for(run), ae, names, on_done=report)
    return list(names)
