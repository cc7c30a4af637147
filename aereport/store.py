"""The run directory: one folder per trained model, the single source of truth on disk.

::

    config.json      what was trained on what (dataset spec, preset, sizes, seed)
    autoencoder.keras the stacked model with its optimizer state (the resume checkpoint)
    encoder.keras, decoder.keras   the two halves, for users and exporters
    history.json     one record per finished epoch: loss, val_loss, seconds
    layouts.parquet  x, y per layout for every image, plus label and index
    sprites.npy      one small uint8 thumbnail per image (the views' images on zoom)

Every file is written through :mod:`aereport.files` (a temporary name, then a rename), and every
file read is checked: a damaged one is one line naming it, never a traceback or a wrong picture.
A run is never made over what a folder already holds, and a new run that fails before its first
checkpoint leaves nothing behind (:meth:`Run.creating`).

>>> run = Run.create("runs/demo", {"preset": "dense"})  # doctest: +SKIP
>>> run.config["preset"]                                   # doctest: +SKIP
'dense'
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from ._validation import AEReportError
from .files import as_path, atomic_path, make_folder, read_text, regular_file, sweep, write_json

CONFIG, HISTORY, LAYOUTS, DATASET = "config.json", "history.json", "layouts.parquet", "dataset.npz"
SPRITES = "sprites.npy"
LOCK = ".layouts.lock"
MODEL, ENCODER, DECODER = "autoencoder.keras", "encoder.keras", "decoder.keras"
FILES = (CONFIG, HISTORY, LAYOUTS, DATASET, SPRITES, MODEL, ENCODER, DECODER)

# What a config's fields must be, where present: (test, what the message says is expected).
_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a positive integer")
_CONFIG_FIELDS = {
    "preset": (lambda v: isinstance(v, str), "a preset name"),
    "latent_dim": _INT, "n_layers": _INT, "n_images": _INT,
    "n_units": (lambda v: v is None or _INT[0](v), "a positive integer or null"),
    "batch_size": (lambda v: v is None or _INT[0](v), "a positive integer or null"),
    "learning_rate": (lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                                              and math.isfinite(v) and v > 0), "a positive number or null"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "img_shape": (lambda v: isinstance(v, list) and len(v) in (2, 3) and all(_INT[0](s) for s in v),
                  "[height, width] or [height, width, channels]"),
    "dataset": (lambda v: isinstance(v, dict) and isinstance(v.get("name"), str)
                and isinstance(v.get("options", {}), dict), "{'name': str, 'options': {...}}"),
}


def save_dataset(folder: str | os.PathLike, dataset) -> dict:
    """Keep a copy of in-memory images in a run folder (``dataset.npz``), so the run can be
    reopened and served without the notebook that made it; returns the config's dataset spec.

    Images that are exact multiples of 1/255 are stored as uint8 (a quarter of the size).

    >>> save_dataset("runs/mine", Dataset.from_arrays(images))  # doctest: +SKIP
    {'name': 'array', 'options': {'path': 'dataset.npz', 'name': 'array'}}
    """
    images = dataset.images
    as_bytes = np.round(images * np.float32(255))
    if np.array_equal(as_bytes / np.float32(255), images):
        images = as_bytes.astype(np.uint8)
    arrays = {"images": images}
    if dataset.labels is not None:
        arrays["labels"] = dataset.labels
    if dataset.label_names is not None:
        arrays["label_names"] = np.array(dataset.label_names, dtype=str)
    if dataset.test_mask is not None:
        arrays["test_mask"] = dataset.test_mask
    with atomic_path(Path(folder).expanduser() / DATASET) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return {"name": "array", "options": {"path": DATASET, "name": dataset.name}}


class Run:
    """A run directory on disk. Create it with :meth:`create`, open it with ``Run(path)``.

    >>> Run("runs/mnist").history  # doctest: +SKIP
    [{'epoch': 1, 'loss': 0.05, ...}]
    """

    def __init__(self, path: str | os.PathLike):
        self.path = as_path(path, "run")
        if not (self.path / CONFIG).is_file():
            raise AEReportError(f"{self.path}: not a run directory (no {CONFIG}); create one with "
                                "`aereport train --run`", run=str(self.path))
        self.config = self._read_json(CONFIG, dict)
        for key, (ok, expected) in _CONFIG_FIELDS.items():
            if key in self.config and not ok(self.config[key]):
                raise AEReportError(f"{self.path / CONFIG}: {key} must be {expected}; the file is damaged",
                                    **{key: self.config[key]})

    @classmethod
    def create(cls, path: str | os.PathLike, config: dict, *, exist_ok: bool = False) -> "Run":
        """Make a new run directory holding ``config``; refuses to overwrite another run."""
        path = as_path(path, "run")
        if (path / CONFIG).exists() and not exist_ok:
            raise AEReportError(f"{path}: a run already exists there; resume it with "
                                "`aereport train --run` or choose a new folder", run=str(path))
        make_folder(path)
        write_json(path / CONFIG, config)
        return cls(path)

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (as_path(path, "run") / CONFIG).is_file()

    @staticmethod
    def check_new(path: str | os.PathLike) -> Path:
        """Refuse to start a run at ``path`` unless it is a new or empty folder: a folder of other
        files (an old run that lost its ``config.json``, someone's photos) is never trained over.

        >>> Run.check_new("runs/new")  # doctest: +SKIP
        PosixPath('runs/new')
        """
        path = as_path(path, "run")
        if path.exists() and not path.is_dir():
            raise AEReportError(f"{path}: is a file, not a folder; --run names the folder of a run", run=str(path))
        if path.is_dir():
            found = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
            if found:
                ours = [name for name in found if name in FILES]
                hint = (f"it holds run files ({', '.join(ours)}) but no {CONFIG}: the run is damaged, and "
                        "nothing is trained over it" if ours else "it is not a run")
                raise AEReportError(f"{path}: the folder is not empty and {hint}; choose an empty or new folder",
                                    files=found[:5])
        return path

    @staticmethod
    @contextlib.contextmanager
    def creating(path: str | os.PathLike) -> Iterator[None]:
        """Undo a new run that fails before its first checkpoint: what the block wrote into
        ``path`` is removed (and the folder, if the block made it), so the corrected command
        starts afresh instead of being refused as "already holds a run".

        >>> with Run.creating("runs/new"):  # doctest: +SKIP
        ...     train(new_run("runs/new", config, dataset), dataset, 8)
        """
        path = as_path(path, "run")
        existed = path.exists()
        before = {p.name for p in path.iterdir()} if existed else set()
        try:
            yield
        except BaseException:
            if path.is_dir() and not (path / MODEL).is_file():
                for p in path.iterdir():
                    if p.name not in before:
                        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
                if not existed:
                    with contextlib.suppress(OSError):
                        path.rmdir()
            raise

    def _read_json(self, name: str, kind: type):
        p = self.path / name
        if not p.exists():
            return kind()
        try:
            obj = json.loads(read_text(p, "a JSON file"))
        except ValueError as exc:
            if isinstance(exc, AEReportError):
                raise
            raise AEReportError(f"{p}: corrupt JSON ({exc}); delete the file or the run", file=str(p)) from None
        if not isinstance(obj, kind):
            raise AEReportError(f"{p}: expected a JSON {kind.__name__}", type=type(obj).__name__)
        return obj

    @property
    def dataset_spec(self) -> dict:
        """The config's dataset: ``{"name": str, "options": dict}``."""
        spec = self.config.get("dataset") or {}
        if "name" not in spec:
            raise AEReportError(f"{self.path}: config.json names no dataset; expected {{'dataset': {{'name': ...}}}}",
                                dataset=spec)
        return {"name": spec["name"], "options": dict(spec.get("options", {}))}

    # --- training state ---------------------------------------------------------------
    @property
    def history(self) -> list[dict]:
        """One record per finished epoch (``epoch``, ``loss``, ...); a damaged file is an error."""
        history = self._read_json(HISTORY, list)
        for i, record in enumerate(history):
            if not (isinstance(record, dict) and isinstance(record.get("loss"), (int, float))
                    and not isinstance(record.get("loss"), bool)):
                raise AEReportError(f"{self.path / HISTORY}: record {i} is not an epoch record with a numeric "
                                    "'loss'; the file is damaged", record=record)
        return history

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def sweep_checkpoint(self) -> None:
        """Remove half-written checkpoint files of a killed training (before training resumes)."""
        for name in (MODEL, ENCODER, DECODER, HISTORY):
            sweep(self.path / name)

    def save_epoch(self, ae, history: list[dict]) -> None:
        """Checkpoint after an epoch: models first, then the history that says they exist."""
        self._save_model(ae.model, MODEL)
        self._save_model(ae.encoder, ENCODER)
        self._save_model(ae.decoder, DECODER)
        write_json(self.path / HISTORY, history)

    def _save_model(self, model, name: str) -> None:
        with atomic_path(self.path / name, suffix=".keras") as tmp:
            model.save(tmp)

    @property
    def has_model(self) -> bool:
        return (self.path / MODEL).is_file()

    def require_model(self) -> None:
        """Raise, saying how to go on, unless the run holds its trained model: commands that show
        a run never train one in its place."""
        if not self.has_model:
            raise AEReportError(f"{self.path}: the run holds no trained model ({MODEL} is missing); train it "
                                f"with `aereport train --run {self.path}` (it resumes from the last complete "
                                "epoch, or starts from the run's config)", missing=MODEL)

    def load_autoencoder(self, safe_mode: bool = True, numpy: bool = False):
        """The stacked model (compiled, with optimizer state) taken apart.

        Keras's safe mode is on: a model holding a ``Lambda`` layer would run Python code from
        the file, so it is refused unless ``safe_mode=False`` (CLI: ``--trust-model``).

        ``numpy=True``: the same weights as :mod:`aereport.inference`'s NumPy models, for a
        process that only runs the model (a report server: no TensorFlow import), when they can
        run it; otherwise, and for training, Keras's.

        >>> Run("runs/mnist").load_autoencoder().latent_dim  # doctest: +SKIP
        2
        """
        self.require_model()
        p = regular_file(self.path / MODEL, "a Keras model archive")
        if not zipfile.is_zipfile(p):
            raise AEReportError(f"{p}: not a Keras model archive (a .keras file is a zip; this one is truncated or "
                                "damaged); train the run again or restore the file", bytes=p.stat().st_size)
        if numpy:
            from .inference import load_autoencoder

            try:
                ae = load_autoencoder(p)
            except Exception:  # noqa: BLE001 - a damaged archive: Keras's loader below says what is wrong
                ae = None
            if ae is not None:
                return ae
        from ._quiet import require
        from .model import Autoencoder, custom_objects

        keras = require("keras")  # a model only Keras runs: the train extra

        try:
            model = keras.models.load_model(p, safe_mode=safe_mode, custom_objects=custom_objects())
        except Exception as exc:  # Keras raises many types for bad archives; report one line
            first = str(exc).splitlines()[0] if str(exc) else ""
            if safe_mode and "safe_mode" in str(exc):
                raise AEReportError(
                    f"{p}: the model holds a Lambda layer, whose Python code would run on loading; "
                    "refused. Only if you trust this file: pass --trust-model (Python: safe_mode=False)",
                    safe_mode=True) from None
            raise AEReportError(f"{p}: cannot load the model", error=f"{type(exc).__name__}: {first}") from None
        try:
            return Autoencoder.from_model(model)
        except ValueError:
            raise AEReportError(f"{p}: expected a model with layers named 'encoder' and 'decoder'",
                                layers=[layer.name for layer in model.layers]) from None

    # --- layouts ------------------------------------------------------------------------
    def load_layouts(self, notes: list[str] | None = None) -> dict[str, dict]:
        """Cached layouts: ``{name: {"xy": (n, 2) float32, "key": str}}`` (empty if none).

        A layout with points that are not finite is left out (and said in ``notes``): it is
        computed again rather than drawn as nothing.
        """
        import pyarrow.parquet as pq

        p = self.path / LAYOUTS
        if not p.exists():
            return {}
        regular_file(p, "a layouts file (parquet)")
        try:
            table = pq.read_table(p)
            meta = json.loads((table.schema.metadata or {}).get(b"aereport", b"{}"))
            keys = meta.get("keys", {}) if isinstance(meta, dict) else None
            if not isinstance(keys, dict):
                raise ValueError("its metadata names no layouts")
        except Exception as exc:  # pyarrow's errors for damaged files vary by version
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AEReportError(f"{p}: corrupt layouts cache; delete it to recompute", error=first) from None
        cols = set(table.column_names)
        out = {}
        for name, key in keys.items():
            if {f"{name}_x", f"{name}_y"} <= cols:
                xy = np.column_stack([table[f"{name}_x"].to_numpy(), table[f"{name}_y"].to_numpy()]).astype(np.float32)
                if not np.isfinite(xy).all():
                    if notes is not None:
                        notes.append(f"{p}: layout {name!r} has positions that are not finite; computed again")
                    continue
                out[name] = {"xy": xy, "key": str(key)}
        return out

    @contextlib.contextmanager
    def layouts_lock(self) -> Iterator[None]:
        """Hold the run's layouts file for a read-modify-write.

        Several processes write layouts into one run: a served report's background layouts, its
        training process (the 'ae' layout of each new model), ``aereport layouts``. The kernel
        drops the lock of a killed holder, so a crash never leaves the run locked.
        """
        import fcntl

        with open(self.path / LOCK, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def update_layouts(self, entries: dict[str, dict], labels: np.ndarray | None) -> dict[str, dict]:
        """Add or replace ``entries`` in the layouts file and keep what others wrote there
        meanwhile (layouts of another number of images are dropped); returns the file's layouts.

        >>> run.update_layouts({"pca": {"xy": xy, "key": "pca-70000"}}, labels)  # doctest: +SKIP
        """
        n = len(next(iter(entries.values()))["xy"])
        with self.layouts_lock():
            try:
                current = {k: v for k, v in self.load_layouts().items() if len(v["xy"]) == n}
            except AEReportError:  # a damaged file holds nothing to keep
                current = {}
            current.update(entries)
            self.save_layouts(current, labels)
        return current

    def save_layouts(self, layouts: dict[str, dict], labels: np.ndarray | None) -> None:
        """Write every layout into one parquet file (atomically); other writers of the run's
        layouts go through :meth:`update_layouts`."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = len(next(iter(layouts.values()))["xy"])
        cols = {"index": pa.array(np.arange(n, dtype=np.int64))}
        if labels is not None:
            cols["label"] = pa.array(np.asarray(labels, np.int64))
        for name, entry in layouts.items():
            cols[f"{name}_x"] = pa.array(entry["xy"][:, 0].astype(np.float32))
            cols[f"{name}_y"] = pa.array(entry["xy"][:, 1].astype(np.float32))
        meta = {"keys": {name: e["key"] for name, e in layouts.items()}}
        table = pa.table(cols).replace_schema_metadata({"aereport": json.dumps(meta)})
        with atomic_path(self.path / LAYOUTS) as tmp:
            pq.write_table(table, tmp)

    # --- sprites ------------------------------------------------------------------------
    def load_sprites(self, n: int) -> np.ndarray | None:
        """The thumbnail atlas (memory-mapped), or None if missing, unreadable or not of ``n`` images."""
        p = self.path / SPRITES
        try:
            atlas = np.load(regular_file(p, "a thumbnail atlas"), mmap_mode="r")
        except (OSError, ValueError):  # AEReportError is a ValueError: not a regular file
            return None
        return atlas if atlas.dtype == np.uint8 and atlas.ndim in (3, 4) and len(atlas) == n else None

    def save_sprites(self, atlas: np.ndarray) -> None:
        """Write the thumbnail atlas (atomically)."""
        with atomic_path(self.path / SPRITES) as tmp:
            np.save(tmp, np.ascontiguousarray(atlas, np.uint8))


def check_output(out: str | os.PathLike, run: Run, name: str = "out") -> Path:
    """Refuse an output path that would damage a run: inside the run's folder (its config, its
    models), the run's folder itself, or a folder holding another run.

    >>> check_output("report.html", Run("runs/mnist"))  # doctest: +SKIP
    PosixPath('report.html')
    """
    out = as_path(out, name)
    target, home = out.resolve(), run.path.resolve()
    if target == home or home in target.parents:
        raise AEReportError(f"{name} {out}: inside the run folder {run.path}; an export never writes into a run. "
                            "Choose a path outside it", **{name: str(out)})
    if target.is_dir() and (target / CONFIG).is_file():
        raise AEReportError(f"{name} {out}: the folder holds another run; choose another path", **{name: str(out)})
    return out
