"""Every reader of user files, fed random bytes, truncations and mutations of valid files: a valid
result or one clear ``AEReportError`` naming the file — never another exception, never a hang."""
from __future__ import annotations

import contextlib
import gzip
import io
import signal
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aereport import AEReportError
from aereport.data import load_array, load_folder, read_idx
from aereport.store import Run

EXAMPLES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LIMIT_S = 5  # each example: a hang fails the test instead of stopping the suite


@contextlib.contextmanager
def within(seconds: float = LIMIT_S):
    def expire(*_):
        raise TimeoutError(f"a reader took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mutations(n: int):
    """A truncation point and a few (position, byte) replacements of an ``n``-byte file."""
    return st.tuples(st.integers(0, n), st.lists(st.tuples(st.integers(0, max(n - 1, 0)), st.integers(0, 255)),
                                                  max_size=6))


def mutate(raw: bytes, change) -> bytes:
    cut, flips = change
    out = bytearray(raw[:cut] if cut < len(raw) else raw)
    for at, value in flips:
        if at < len(out):
            out[at] = value
    return bytes(out)


def read_or_refuse(path, read):
    """``read(path)``, which may only succeed or raise one line naming the file."""
    with within():
        try:
            return read(path)
        except AEReportError as exc:
            assert "\n" not in str(exc) and path.name in str(exc), str(exc)
            return None


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


VALID_IDX = gzip.compress(_idx(np.arange(3 * 5 * 4).reshape(3, 5, 4)), mtime=0)


@EXAMPLES
@given(mutations(len(VALID_IDX)))
def test_mutated_idx_files(tmp_path, change):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(mutate(VALID_IDX, change))
    arr = read_or_refuse(path, read_idx)
    assert arr is None or isinstance(arr, np.ndarray)


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, images=np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4), labels=np.array([0, 1, 1]),
             label_names=np.array(["a", "b"]), test_mask=np.array([False, True, False]))
    return buf.getvalue()


VALID_NPZ = _npz()
_buf = io.BytesIO()
np.save(_buf, np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4))
VALID_NPY = _buf.getvalue()


@EXAMPLES
@given(st.sampled_from(["npz", "npy"]), st.data())
def test_mutated_array_files(tmp_path, kind, data):
    raw = VALID_NPZ if kind == "npz" else VALID_NPY
    path = tmp_path / f"images.{kind}"
    path.write_bytes(mutate(raw, data.draw(mutations(len(raw)))))
    ds = read_or_refuse(path, load_array)
    assert ds is None or (ds.images.dtype == np.float32 and np.isfinite(ds.images).all())


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(8 * 6, dtype=np.uint8).reshape(8, 6) * 5).save(buf, fmt)
    return buf.getvalue()


VALID_IMAGES = {"png": _image("PNG"), "jpg": _image("JPEG")}


@EXAMPLES
@given(st.sampled_from(["png", "jpg"]), st.data())
def test_mutated_pictures_in_a_folder(tmp_path, kind, data):
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    raw = VALID_IMAGES[kind]
    (folder / f"a.{kind}").write_bytes(mutate(raw, data.draw(mutations(len(raw)))))
    with within():
        try:
            ds = load_folder(folder, size=(8, 6))
        except AEReportError as exc:
            assert "\n" not in str(exc) and f"a.{kind}" in str(exc) or "imgs" in str(exc)
        else:
            assert ds.images.shape == (1, 8, 6) and np.isfinite(ds.images).all()


@EXAMPLES
@given(st.binary(max_size=200))
def test_any_bytes_as_a_labels_file(tmp_path, raw):
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    Image.new("L", (4, 4)).save(folder / "a.png")
    (tmp_path / "labels.txt").write_bytes(raw)
    with within():
        try:
            ds = load_folder(folder, labels=tmp_path / "labels.txt")
        except AEReportError as exc:
            assert "labels.txt" in str(exc) and "\n" not in str(exc)
        else:
            assert ds.labels.tolist() == [0]


@pytest.fixture(scope="module")
def run_files(trained_run):
    return {name: (trained_run / name).read_bytes() for name in ("config.json", "history.json", "layouts.parquet")}


def _fresh(tmp_path, run_files, name, raw):
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    for other, content in run_files.items():
        (run / other).write_bytes(raw if other == name else content)
    return run


@EXAMPLES
@given(st.data())
def test_mutated_config_of_a_run(tmp_path, run_files, data):
    raw = run_files["config.json"]
    run = _fresh(tmp_path, run_files, "config.json", mutate(raw, data.draw(mutations(len(raw)))))
    opened = read_or_refuse(run / "config.json", lambda p: Run(p.parent))
    if opened is not None:  # what opens is a config of the right kinds
        assert isinstance(opened.config, dict)
        with within():
            try:
                assert isinstance(opened.dataset_spec["options"], dict)
            except AEReportError as exc:
                assert "config.json" in str(exc)


@EXAMPLES
@given(st.booleans(), st.data())
def test_mutated_or_random_history_of_a_run(tmp_path, run_files, random, data):
    raw = run_files["history.json"]
    content = data.draw(st.binary(max_size=300)) if random else mutate(raw, data.draw(mutations(len(raw))))
    run = _fresh(tmp_path, run_files, "history.json", content)
    history = read_or_refuse(run / "history.json", lambda p: Run(p.parent).history)
    assert history is None or all(isinstance(r["loss"], (int, float)) for r in history)


@EXAMPLES
@given(st.data())
def test_mutated_layouts_of_a_run(tmp_path, run_files, data):
    raw = run_files["layouts.parquet"]
    run = _fresh(tmp_path, run_files, "layouts.parquet", mutate(raw, data.draw(mutations(len(raw)))))
    layouts = read_or_refuse(run / "layouts.parquet", lambda p: Run(p.parent).load_layouts())
    for entry in (layouts or {}).values():
        assert entry["xy"].ndim == 2 and entry["xy"].shape[1] == 2 and np.isfinite(entry["xy"]).all()
