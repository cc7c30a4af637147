"""Messy input, as people will bring it: each case gets one line naming the input and what was
expected, the CLI exits 2 with no traceback, and nothing half-made is left behind.

(More cases live beside the features they guard: test_data, test_cli, test_training, test_explore.)
"""
from __future__ import annotations

import gzip
import json
import shutil
import string
import struct

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from aereport import AEReportError
from aereport.latent import MARGIN
from aereport.data.idx import IDX_TYPES
from aereport.data import (load_array, load_folder, load_mnist, read_idx, validate_images,
                           validate_labels)

from .conftest import CELEBA_DIR, MNIST_DIR, run_cli

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def idx_bytes(arr: np.ndarray, code: int) -> bytes:
    dtype = np.dtype(IDX_TYPES[code])
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(dtype).tobytes()


# --- file parsers: property-based --------------------------------------------------------

@FAST
@given(st.binary(max_size=300), st.booleans())
def test_read_idx_on_any_bytes_returns_an_array_or_one_clear_error(tmp_path, raw, compress):
    path = tmp_path / "any.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    try:
        arr = read_idx(path)
    except AEReportError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert isinstance(arr, np.ndarray)


@FAST
@given(st.sampled_from(sorted(IDX_TYPES)), hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
       st.booleans(), st.data())
def test_read_idx_round_trips_every_type_and_shape(tmp_path, code, shape, compress, data):
    dtype = np.dtype(IDX_TYPES[code])
    arr = data.draw(hnp.arrays(dtype, shape, elements=None if dtype.kind != "f" else st.floats(-1e3, 1e3, width=32)))
    raw = idx_bytes(arr, code)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    np.testing.assert_array_equal(read_idx(path), arr)


@FAST
@given(st.binary(min_size=1, max_size=200), st.integers(0, 199))
def test_a_truncated_idx_is_never_read_as_valid(tmp_path, tail, cut):
    raw = idx_bytes(np.frombuffer(tail, np.uint8).reshape(1, -1, 1), 0x08)
    path = tmp_path / "t.idx"
    path.write_bytes(raw[: min(cut, len(raw) - 1)])
    with pytest.raises(AEReportError):
        read_idx(path)


@FAST
@given(st.binary(max_size=400), st.sampled_from([".npy", ".npz"]))
def test_load_array_on_any_bytes_returns_a_dataset_or_one_clear_error(tmp_path, raw, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(raw)
    try:
        ds = load_array(path)
    except AEReportError as exc:
        assert "\n" not in str(exc)
    else:
        assert ds.images.dtype == np.float32


@FAST
@given(hnp.arrays(st.sampled_from([np.float32, np.float64, np.uint8, np.int16]),
                  hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=4)))
def test_validate_images_accepts_only_what_it_can_show(arr):
    try:
        out = validate_images(arr, "arr")
    except AEReportError as exc:
        assert str(exc).startswith("arr: ")
    else:  # whatever passes is a stack of finite images in [0, 1]
        assert out.dtype == np.float32 and out.ndim in (3, 4) and len(out) >= 1
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@FAST
@given(st.lists(st.text(string.ascii_letters + string.digits + " \t._-", max_size=30), max_size=8))
def test_labels_file_parser(tmp_path, lines):
    folder = tmp_path / "imgs"
    folder.mkdir(exist_ok=True)
    Image.new("L", (4, 4)).save(folder / "a.png")
    (tmp_path / "labels.txt").write_text("\n".join(lines))
    try:
        ds = load_folder(folder, labels=tmp_path / "labels.txt")
    except AEReportError as exc:
        assert "labels.txt" in str(exc)
    else:
        wanted = {p[0]: p[1] for p in (line.split() for line in lines) if len(p) == 2}
        assert ds.label_names == (wanted["a.png"],)


@FAST
@given(st.text(max_size=12))
def test_size_argument_parser(text):
    import argparse

    from aereport.cli import _size

    try:
        h, w = _size(text)
    except argparse.ArgumentTypeError as exc:
        assert repr(text) in str(exc)
    else:
        assert h >= 1 and w >= 1


# --- loaders -----------------------------------------------------------------------------

def _mnist_dir(tmp_path, **replace):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in MNIST_DIR.glob("*.gz"):
        (folder / f.name).symlink_to(f)
    for name, raw in replace.items():
        (folder / name).unlink()
        (folder / name).write_bytes(raw)
    return folder


def test_idx_labels_that_do_not_match_the_images(tmp_path):
    labels = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")[:9000]
    folder = _mnist_dir(tmp_path, **{"t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels, 0x08))})
    with pytest.raises(AEReportError, match="t10k-labels-idx1-ubyte.gz: 9000 labels for 10000 images"):
        load_mnist(folder)


def test_idx_labels_where_images_belong(tmp_path):
    labels = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    folder = _mnist_dir(tmp_path, **{"t10k-images-idx3-ubyte.gz": labels})
    with pytest.raises(AEReportError, match=r"t10k-images-idx3-ubyte.gz: expected a 3-D image IDX file"):
        load_mnist(folder)


def test_idx_header_claiming_more_data_than_the_file_holds(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 10 ** 9, 28, 28) + b"\0" * 100)
    with pytest.raises(AEReportError, match="truncated or corrupt"):
        read_idx(path)


@pytest.mark.parametrize("content, message", [
    (b"", "not an IDX file"),
    (gzip.compress(b"", mtime=0), "not an IDX file"),
], ids=["empty", "empty-gzip"])
def test_empty_idx_files(tmp_path, content, message):
    (tmp_path / "e.gz").write_bytes(content)
    with pytest.raises(AEReportError, match=message):
        read_idx(tmp_path / "e.gz")


@pytest.mark.parametrize("content, message", [
    (lambda tmp: np.savez(tmp / "mnist.npz", x_train=np.zeros((2, 4, 4))), "expected a Keras-style .npz"),
    (lambda tmp: (tmp / "mnist.npz").write_bytes(b"PK\x03\x04 broken zip"), "not a readable .npz"),
])
def test_broken_keras_npz(tmp_path, content, message):
    content(tmp_path)
    with pytest.raises(AEReportError, match=f"mnist.npz: {message}"):
        load_mnist(tmp_path)


def test_gray_and_rgb_photos_mixed_in_one_folder(tmp_path):
    Image.new("L", (6, 5), 200).save(tmp_path / "a.png")
    Image.new("RGB", (6, 5), (10, 200, 30)).save(tmp_path / "b.png")
    assert load_folder(tmp_path, color="gray").images.shape == (2, 5, 6)
    rgb = load_folder(tmp_path, color="rgb").images
    assert rgb.shape == (2, 5, 6, 3) and np.allclose(rgb[0, 0, 0], 200 / 255)  # gray spread to 3 channels


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b""), "not a readable image"),
    (lambda p: p.write_bytes(min((CELEBA_DIR / "img_align_celeba").glob("*.jpg")).read_bytes()[:300]),
     "not a readable image"),
])
def test_empty_and_truncated_photos(tmp_path, write, message):
    Image.new("L", (6, 6)).save(tmp_path / "good.png")
    write(tmp_path / "bad.jpg")
    with pytest.raises(AEReportError, match=f"bad.jpg: {message}"):
        load_folder(tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    (dict(limit=0), "limit must be a positive integer"),
    (dict(size=(0, 5)), r"size must be \(height, width\)"),
    (dict(color="cmyk"), "color must be one of"),
    (dict(labels="missing.txt"), "labels file not found"),
])
def test_folder_options(tmp_path, kwargs, message):
    Image.new("L", (6, 6)).save(tmp_path / "a.png")
    with pytest.raises(AEReportError, match=message):
        load_folder(tmp_path, **kwargs)


def test_labels_file_without_an_entry_for_every_image(tmp_path):
    for name in ("a.png", "b.png"):
        Image.new("L", (6, 6)).save(tmp_path / name)
    (tmp_path / "labels.txt").write_text("a.png 1\n")
    with pytest.raises(AEReportError, match="labels.txt: no label for 1 image"):
        load_folder(tmp_path, labels=tmp_path / "labels.txt")
    (tmp_path / "labels.txt").write_text("a.png 1 extra\n")
    with pytest.raises(AEReportError, match=r"labels.txt:1: expected '<file name> <label>'"):
        load_folder(tmp_path, labels=tmp_path / "labels.txt")


@pytest.mark.parametrize("make, message", [
    (lambda t: (t / "x.txt").write_text("1 2 3"), "expected a .npy or .npz file"),
    (lambda t: np.save(t / "x.npy", np.array([{"a": 1}], dtype=object)), "holds Python objects, which load only through pickle"),
    (lambda t: np.savez(t / "x.npz", images=np.zeros((3, 4, 4)), test_mask=np.ones(2, bool)),
     "test_mask must hold one bool per image"),
    (lambda t: np.savez(t / "x.npz", images=np.zeros((3, 4, 4)), labels=np.array(["a", "b", "c"])),
     "expected integer labels"),
    (lambda t: np.save(t / "x.npy", np.zeros((2, 3, 4, 4, 1))), r"shape \(N, H, W\)"),
    (lambda t: np.save(t / "x.npy", np.ones((2, 4, 4)) * 1j), "numeric image array"),
    (lambda t: np.save(t / "x.npy", np.zeros((3, 0, 4))), "at least 1×1 pixel"),
])
def test_array_files(tmp_path, make, message):
    make(tmp_path)
    path = next(tmp_path.glob("x.*"))
    with pytest.raises(AEReportError, match=message) as err:
        load_array(path)
    assert str(path) in str(err.value)


def test_label_file_of_the_wrong_length(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 4, 4)))
    np.save(tmp_path / "y.npy", np.arange(5))
    with pytest.raises(AEReportError, match=r"expected one label per image \(3 labels\)"):
        load_array(tmp_path / "x.npy", labels=tmp_path / "y.npy")


def test_labels_nan():
    with pytest.raises(AEReportError, match="expected integer labels"):
        validate_labels([0, np.nan], 2, "y")


# --- the CLI ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["fit"], "invalid choice: 'fit'"),
    (["serve", "--run", "{run}", "--port", "99999"], "port must be a positive integer up to 65,535. Received: port=99999"),
    (["train", "--run", "{tmp}/r", "--learning-rate", "-1"], "learning_rate must be a finite number above 0 and below 10"),
    (["train", "--run", "{tmp}/r", "--learning-rate", "nan"], "learning_rate must be a finite number above 0 and below 10"),
    (["train", "--run", "{tmp}/r", "--limit", "0"], "limit must be a positive integer. Received: limit=0"),
    (["export", "{run}", "/proc/report.html"], "/proc/report.html: cannot write there"),
    (["export", "{tmp}/nothing", "{tmp}/out.html"], "not a run directory"),
    (["info", "--run", "{tmp}/nothing"], "not a run directory"),
    (["train", "--run", "{run}", "--preset", "conv"], "already holds a run with preset='dense'"),
    (["train", "--run", "{run}", "--dataset=fashion-mnist"], "already holds a run with dataset='mnist-sample'"),
    (["train", "--run", "{run}", "--latent-dim", "8"], "already holds a run with latent_dim=2"),
])
def test_cli_arguments(capsys, tmp_path, trained_run, args, message):
    code, err = run_cli(capsys, *[a.format(tmp=tmp_path, run=trained_run) for a in args])
    assert code == 2 and message in err, err
    assert not (tmp_path / "r").exists() and not (tmp_path / "out.html").exists()


def test_port_already_in_use(capsys, trained_run):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, err = run_cli(capsys, "serve", "--run", trained_run, "--port", port)
    assert code == 2 and f"--port {port}: cannot listen on 127.0.0.1:{port} (Address already in use)" in err


# --- run directories ----------------------------------------------------------------------

def _not_an_autoencoder(run):
    inp = keras.Input((28, 28))
    keras.Model(inp, keras.layers.Flatten()(inp)).save(run / "autoencoder.keras")


def _dataset_swapped(run):
    cfg = json.loads((run / "config.json").read_text())
    cfg["dataset"] = {"name": "array", "options": {"path": "dataset.npz"}}
    (run / "config.json").write_text(json.dumps(cfg))
    np.savez(run / "dataset.npz", images=np.zeros((5, 10, 10), np.uint8))


def _dataset_gone(run):
    _dataset_swapped(run)
    (run / "dataset.npz").unlink()


@pytest.mark.parametrize("damage, command, message", [
    (lambda r: (r / "config.json").write_text("{oops"), "info", "config.json: corrupt JSON"),
    (lambda r: (r / "config.json").write_text("[1, 2]"), "info", "config.json: expected a JSON dict"),
    (lambda r: (r / "history.json").write_text("{}"), "train", "history.json: expected a JSON list"),
    (lambda r: (r / "history.json").write_text("[1, 2]"), "train", "history.json: record 0 is not an epoch record"),
    (lambda r: (r / "layouts.parquet").write_bytes(b"PAR1 damaged"), "layouts", "corrupt layouts cache"),
    (lambda r: (r / "autoencoder.keras").unlink(), "layouts", "holds no trained model (autoencoder.keras is missing)"),
    (lambda r: (r / "autoencoder.keras").write_bytes((r / "autoencoder.keras").read_bytes()[:5000]),
     "layouts", "autoencoder.keras: not a Keras model archive"),
    (_not_an_autoencoder, "layouts", "expected a model with layers named 'encoder' and 'decoder'"),
    (_dataset_swapped, "layouts", "expects images of shape (28, 28) but dataset 'dataset' has (10, 10)"),
    (_dataset_gone, "layouts", "dataset.npz: file not found"),
    (lambda r: (r / "config.json").write_text(json.dumps({"preset": "dense"})), "layouts",
     "config.json names no dataset"),
])
def test_damaged_run_directories(capsys, tmp_path, trained_run, damage, command, message):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    damage(run)
    code, err = run_cli(capsys, command, "--run", run, *(["--only", "pca"] if command == "layouts" else []))
    assert code == 2 and message in err, err
    assert str(run) in err


def test_a_run_pointed_at_fewer_images_recomputes_its_layouts(capsys, tmp_path, trained_run):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["dataset"] = {"name": "array", "options": {"path": "dataset.npz"}}
    (run / "config.json").write_text(json.dumps(cfg))
    np.savez(run / "dataset.npz", images=np.random.default_rng(0).integers(0, 255, (50, 28, 28), np.uint8))
    code, out = run_cli(capsys, "layouts", "--run", run, "--only", "pca", stream="out")
    assert code == 0 and "pca: 50 points in" in out  # not the 5,000 cached ones


# --- positions from the UI ------------------------------------------------------------------

@pytest.fixture(scope="module")
def state(trained_run):
    from aereport.state import ReportState

    return ReportState.open(trained_run)


@pytest.mark.parametrize("layout, x, y", [("ae", 1e30, -1e30), ("ae", -3e38, 5.0), ("pca", 1e12, 0.0),
                                          ("tsne", 0.0, -1e9)])
def test_positions_far_outside_the_data_are_clamped_and_said_so(state, layout, x, y):
    image, how = state.latent.decode(layout, x, y)
    assert np.isfinite(image).all() and "far outside the data" in how
    xy = state.layouts[layout]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    edge = np.clip([x, y], lo - MARGIN * (hi - lo), hi + MARGIN * (hi - lo))
    np.testing.assert_array_equal(image, state.latent.decode(layout, *edge)[0])


@pytest.mark.parametrize("layout, x, y, message", [
    ("ae", float("nan"), 0.0, "position must be finite"),
    ("ae", 0.0, float("inf"), "position must be finite"),
    ("isomap", 0.0, 0.0, "layout must be one of"),
])
def test_positions_that_cannot_be_decoded(state, layout, x, y, message):
    with pytest.raises(AEReportError, match=message):
        state.latent.decode(layout, x, y)


def test_training_requests_while_busy_or_empty(state):
    with pytest.raises(AEReportError, match="epochs must be a positive integer"):
        state.train_async(0)
    state.training = True  # as while another session's request runs
    try:
        with pytest.raises(AEReportError, match="training is already running"):
            state.train_async(1)
    finally:
        state.training = False
