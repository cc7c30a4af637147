"""The run directory: one folder per trained model, the single source of truth on disk.

::

    config.json      what was trained on what (dataset spec, preset, sizes, seed)
    autoencoder.keras the stacked model with its optimizer state (the resume checkpoint)
    encoder.keras, decoder.keras   the two halves, for users and exporters
    history.json     one record per finished epoch: loss, val_loss, seconds
    layouts.parquet  x, y per layout for every image, plus label and index
    sprites.npy      one small uint8 thumbnail per image (the views' images on zoom)

Every file is written to a temporary name in the same folder and renamed into place, so a
crash never leaves a half-written artifact under a real name.

>>> run = Run.create("runs/demo", {"preset": "dense"})  # doctest: +SKIP
>>> run.config["preset"]                                   # doctest: +SKIP
'dense'
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from ._validation import AEReportError

CONFIG, HISTORY, LAYOUTS, DATASET = "config.json", "history.json", "layouts.parquet", "dataset.npz"
SPRITES = "sprites.npy"
LOCK = ".layouts.lock"
MODEL, ENCODER, DECODER = "autoencoder.keras", "encoder.keras", "decoder.keras"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    >>> with atomic_path("out.json") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sweep(path: str | os.PathLike) -> None:
    """Delete temporaries :func:`atomic_path` left beside ``path`` when a writer was killed
    mid-write; call it only where no other writer of ``path`` can be running.

    >>> sweep("runs/mnist/history.json")  # doctest: +SKIP
    """
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.*"):
        leftover.unlink(missing_ok=True)


def check_writable(folder: str | os.PathLike, name: str) -> None:
    """Raise unless files can be created in ``folder`` (or its nearest existing parent, where
    the folder is still to be made); ``name`` is what the message calls it.

    Probes with a real temporary file: permission bits say nothing for root or read-only mounts.

    >>> check_writable("reports", "--out reports/mnist.html")  # doctest: +SKIP
    """
    folder = Path(folder).expanduser()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise AEReportError(f"{name}: cannot write there ({exc.strerror or exc} in {existing})") from None


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as JSON atomically.

    >>> write_json("history.json", [])  # doctest: +SKIP
    """
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=_json_default))


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (tuple, np.ndarray)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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
        self.path = Path(path).expanduser()
        if not (self.path / CONFIG).is_file():
            raise AEReportError(f"{self.path}: not a run directory (no {CONFIG}); create one with "
                                "`aereport train`")
        self.config = self._read_json(CONFIG, dict)

    @classmethod
    def create(cls, path: str | os.PathLike, config: dict, *, exist_ok: bool = False) -> "Run":
        """Make a new run directory holding ``config``; refuses to overwrite another run."""
        path = Path(path).expanduser()
        if (path / CONFIG).exists() and not exist_ok:
            raise AEReportError(f"{path}: a run already exists there; resume it with "
                                "`aereport train --run` or choose a new folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
            write_json(path / CONFIG, config)
        except OSError as exc:
            raise AEReportError(f"{path}: cannot write the run directory ({exc.strerror})") from None
        return cls(path)

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (Path(path).expanduser() / CONFIG).is_file()

    def _read_json(self, name: str, kind: type):
        p = self.path / name
        try:
            obj = json.loads(p.read_text())
        except FileNotFoundError:
            return kind()
        except (OSError, ValueError) as exc:
            raise AEReportError(f"{p}: corrupt JSON ({exc}); delete the file or the run") from None
        if not isinstance(obj, kind):
            raise AEReportError(f"{p}: expected a JSON {kind.__name__}. Received: {type(obj).__name__}")
        return obj

    # --- training state ---------------------------------------------------------------
    @property
    def history(self) -> list[dict]:
        return self._read_json(HISTORY, list)

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
        p = self.path / MODEL
        if not p.is_file():
            raise AEReportError(f"{self.path}: no trained model yet ({MODEL} missing); run `aereport train`")
        if numpy:
            from .inference import load_autoencoder

            try:
                ae = load_autoencoder(p)
            except Exception:  # noqa: BLE001 - a damaged archive: Keras's loader below says what is wrong
                ae = None
            if ae is not None:
                return ae
        import keras

        from .model import Autoencoder
        try:
            model = keras.models.load_model(p, safe_mode=safe_mode)
        except Exception as exc:  # Keras raises many types for bad archives; report one line
            first = str(exc).splitlines()[0] if str(exc) else ""
            if safe_mode and "safe_mode" in str(exc):
                raise AEReportError(
                    f"{p}: the model holds a Lambda layer, whose Python code would run on loading; "
                    "refused. Only if you trust this file: pass --trust-model (Python: safe_mode=False)"
                ) from None
            raise AEReportError(f"{p}: cannot load the model ({type(exc).__name__}: {first})") from None
        try:
            return Autoencoder.from_model(model)
        except ValueError:
            raise AEReportError(f"{p}: expected a model with layers named 'encoder' and 'decoder'") from None

    # --- layouts ------------------------------------------------------------------------
    def load_layouts(self) -> dict[str, dict]:
        """Cached layouts: ``{name: {"xy": (n, 2) float32, "key": str}}`` (empty if none)."""
        import pyarrow.parquet as pq

        p = self.path / LAYOUTS
        if not p.is_file():
            return {}
        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow's errors for damaged files vary by version
            raise AEReportError(f"{p}: corrupt layouts cache ({exc}); delete it to recompute") from None
        meta = json.loads((table.schema.metadata or {}).get(b"aereport", b"{}"))
        cols = set(table.column_names)
        out = {}
        for name, key in meta.get("keys", {}).items():
            if {f"{name}_x", f"{name}_y"} <= cols:
                xy = np.column_stack([table[f"{name}_x"].to_numpy(), table[f"{name}_y"].to_numpy()])
                out[name] = {"xy": xy.astype(np.float32), "key": key}
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
            atlas = np.load(p, mmap_mode="r")
        except (OSError, ValueError):
            return None
        return atlas if atlas.dtype == np.uint8 and atlas.ndim in (3, 4) and len(atlas) == n else None

    def save_sprites(self, atlas: np.ndarray) -> None:
        """Write the thumbnail atlas (atomically)."""
        with atomic_path(self.path / SPRITES) as tmp:
            np.save(tmp, np.ascontiguousarray(atlas, np.uint8))
