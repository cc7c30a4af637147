"""A user's run is sacred and bad input is one clear line (issue #31), tried as a careless or
hostile user would: commands never train, write or rename over what they were not asked to
change; damaged files are named; a failed command leaves nothing half-made; nothing hangs."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aereport import AEReportError
from aereport.store import Run

from .conftest import MNIST_DIR, aereport, free_port, run_cli
from .test_files import device_node


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def run(run_copy):
    return run_copy


# --- work lost or overwritten --------------------------------------------------------------------

@pytest.mark.parametrize("missing, message", [
    ("config.json", "holds run files (autoencoder.keras, dataset.npz"),
    ("autoencoder.keras", "the run holds no trained model (autoencoder.keras is missing); train it with `aereport train --run"),
])
def test_showing_a_run_that_lost_a_file_never_trains_in_its_place(capsys, run, missing, message):
    (run / missing).unlink()
    before = hashes(run)
    code, err = run_cli(capsys, "serve", "--run", run, "--port", free_port())
    assert code == 2 and message.replace("dataset.npz", "") in err and str(run) in err, err
    code, err = run_cli(capsys, "export", run, run.parent / "report.html")
    assert code == 2 and str(run) in err
    if missing == "autoencoder.keras":
        import aereport

        with pytest.raises(AEReportError, match="holds no trained model"):
            aereport.open(run)
        code, out = run_cli(capsys, "info", "--run", run)
        assert code == 0
    assert hashes(run) == before and not (run.parent / "report.html").exists()


def test_an_export_never_writes_into_a_run(capsys, run, tmp_path):
    before = hashes(run)
    for args in ([run, run / "config.json"], [run, run, "--format", "dir"], [run, run / "site", "--format", "dir"]):
        code, err = run_cli(capsys, "export", *args)
        assert code == 2 and "an export never writes into a run" in err, err
    other = tmp_path / "other"
    shutil.copytree(run, other)
    code, err = run_cli(capsys, "export", run, other, "--format", "dir")
    assert code == 2 and "the folder holds another run" in err
    code, err = run_cli(capsys, "export-tfjs", run, run / "models")
    assert code == 2 and "an export never writes into a run" in err
    assert hashes(run) == before == hashes(other)


def test_an_export_onto_a_device_is_refused_and_the_device_stays(capsys, run, tmp_path):
    node = device_node(tmp_path / "full")
    code, err = run_cli(capsys, "export", run, node)
    assert code == 2 and "full: is a device" in err
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_an_export_the_disk_cannot_take_fails_loudly(run, tmp_path):
    """The disk fills (a file-size limit stands in for it): exit 2, one line, no report."""
    import resource
    import signal

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))

    target = tmp_path / "out" / "report.html"
    proc = subprocess.run([str(Path(sys.executable).with_name("aereport")), "export", str(run), str(target)],
                          capture_output=True, text=True, preexec_fn=limited)
    assert proc.returncode == 2, proc.stderr
    assert "report.html: cannot write the report (File too large); nothing was written" in proc.stderr
    assert "Traceback" not in proc.stderr and not target.exists() and os.listdir(target.parent) == []


def test_explore_into_another_runs_folder_is_refused(run, mnist_small):
    import aereport

    before = hashes(run)
    with pytest.raises(AEReportError, match="holds a run of other images or another model; choose a new folder"):
        aereport.explore(mnist_small.images[:100], run_dir=run, epochs=1)
    assert hashes(run) == before


# --- silently wrong pictures ---------------------------------------------------------------------

@pytest.fixture
def nan_run(run):
    from aereport.store import Run

    r = Run(run)
    ae = r.load_autoencoder()
    ae.model.set_weights([np.full_like(w, np.nan) for w in ae.model.get_weights()])
    r.save_epoch(ae, r.history)
    return run


def test_a_model_whose_weights_are_not_finite_is_refused_not_drawn(capsys, nan_run, tmp_path):
    import aereport

    message = "autoencoder.keras: the model's weights are not finite"
    with pytest.raises(AEReportError, match=message):
        aereport.open(nan_run)
    code, err = run_cli(capsys, "serve", "--run", nan_run, "--port", free_port())
    assert code == 2 and message in err
    code, err = run_cli(capsys, "export", nan_run, tmp_path / "r.html")
    assert code == 2 and message in err and not (tmp_path / "r.html").exists()


def test_a_16_bit_png_keeps_its_brightness(tmp_path):
    from aereport.data import load_folder

    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")  # mode I;16
    assert Image.open(tmp_path / "ramp.png").mode.startswith("I")
    Image.fromarray((ramp // 257).astype(np.uint8)).save(tmp_path / "ramp8.png")
    images = load_folder(tmp_path).images
    assert images.dtype == np.float32 and abs(images[0].mean() - 0.5) < 0.01  # clipped to 8 bits it was ~1.0
    np.testing.assert_allclose(images[0], images[1], atol=1 / 255)  # the 8-bit copy reads the same
    rgb = load_folder(tmp_path, color="rgb", size=(16, 32)).images
    assert rgb.shape == (2, 16, 32, 3) and abs(rgb[0].mean() - 0.5) < 0.02


def test_an_empty_run_argument_never_means_this_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["train", "--run", ""], ["serve", "--run", ""], ["info", "--run", ""]):
        code, err = run_cli(capsys, *command)
        assert code == 2 and "run must be a path (a non-empty str or os.PathLike). Received: run=''" in err
    assert os.listdir(tmp_path) == []


# --- hangs and tracebacks ------------------------------------------------------------------------

def test_idx_files_that_are_named_pipes_do_not_hang(tmp_path):
    from aereport.data import load_mnist

    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        os.mkfifo(tmp_path / name)
    start = time.monotonic()
    with pytest.raises(AEReportError, match="is a named pipe; expected an IDX file"):
        load_mnist(tmp_path)
    assert time.monotonic() - start < 2


def _idx(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def test_train_and_test_images_of_different_sizes(tmp_path):
    from aereport.data import load_mnist

    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).symlink_to(MNIST_DIR / name)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx(np.zeros((3, 14, 14))))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(3)))
    with pytest.raises(AEReportError, match=r"t10k-images-idx3-ubyte: its images are \(14, 14\) but "
                                            r"train-images-idx3-ubyte.gz's are \(28, 28\); expected one image size"):
        load_mnist(tmp_path)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` pixels and holds almost nothing: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [10_000, 50_000])  # over Pillow's limit, and over twice it (Pillow's own error)
def test_decompression_bombs_and_absurd_sizes(capsys, tmp_path, side):
    from aereport.data import load_folder

    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "bomb.png").write_bytes(_png_header(side, side))
    with pytest.raises(AEReportError, match=r"bomb.png: image is (larger than an image may be|.* pixels, more than)"):
        load_folder(tmp_path / "imgs")
    code, err = run_cli(capsys, "train", "--run", tmp_path / "r", "--dataset", "folder", "--path", tmp_path / "imgs",
                        "--size", "100000x100000")
    assert code == 2 and "size must be at most 89,478,485 pixels an image" in err and not (tmp_path / "r").exists()


def test_array_files_that_lie(tmp_path):
    from aereport.data import load_array

    with open(tmp_path / "huge.npy", "wb") as f:  # a header claiming 2.8 PiB, and no data
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 48, 2 ** 2, 3)})
    with pytest.raises(AEReportError, match=r"huge.npy: its header promises 13,510,798,882,111,488 bytes of data but "
                                            r"the file holds 0; the file is truncated or corrupt"):
        load_array(tmp_path / "huge.npy")
    np.save(tmp_path / "x.npy", np.zeros((3, 4, 4), np.uint8))
    shutil.copy(tmp_path / "x.npy", tmp_path / "y.npz")  # .npy content under a .npz name: read by its content
    assert load_array(tmp_path / "y.npz").images.shape == (3, 4, 4)
    (tmp_path / "labels.txt").write_bytes(b"a.png \xff\xfe\x00binary")
    (tmp_path / "imgs").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "imgs" / "a.png")
    from aereport.data import load_folder

    with pytest.raises(AEReportError, match=r"labels.txt: not UTF-8 text \(byte 6 is 0xff\)"):
        load_folder(tmp_path / "imgs", labels=tmp_path / "labels.txt")


@pytest.mark.parametrize("call, message", [
    (lambda: __import__("aereport").load_dataset("array"), r"dataset 'array' needs path= \(CLI: --path\). Received: options=\{\}"),
    (lambda: __import__("aereport").load_dataset("array", path=5), r"path must be a path .* Received: path=5"),
    (lambda: __import__("aereport").load_dataset("folder", path=".", size="x"), r"size must be \(height, width\) with positive integers. Received: size='x'"),
    (lambda: __import__("aereport").load_dataset(7), "dataset must be one of .* Received: dataset=7"),
    (lambda: __import__("aereport").explore(np.zeros((3, 4, 4)), epochs="8"), "epochs must be a positive integer. Received: epochs='8'"),
    (lambda: __import__("aereport").explore(np.zeros((3, 4, 4)), layouts="isomap"),
     r"layouts must be among \['ae', 'umap', 'tsne', 'pca'\]. Received: layouts='isomap'"),
    (lambda: __import__("aereport").explore(np.zeros((3, 784))), r"expected images of shape \(N, H, W\) or \(N, H, W, 3\); flat images"),
    (lambda: __import__("aereport").explore([[1, 2], [3]]), "images: expected a numeric image array"),
])
def test_api_calls_with_the_wrong_types(call, message):
    with pytest.raises(AEReportError, match=message):
        call()


def test_explore_with_a_file_for_a_run_dir_and_bad_epochs_leaves_nothing(tmp_path):
    import aereport

    (tmp_path / "taken").write_text("mine")
    with pytest.raises(AEReportError, match="run_dir must be a folder"):
        aereport.explore(np.zeros((3, 4, 4)), run_dir=tmp_path / "taken")
    with pytest.raises(AEReportError, match="epochs must be a positive integer. Received: epochs=-1"):
        aereport.explore(np.zeros((3, 4, 4)), run_dir=tmp_path / "new", epochs=-1)
    assert sorted(os.listdir(tmp_path)) == ["taken"]


# --- half-made runs and misleading words --------------------------------------------------------

@pytest.fixture
def digits(mnist_small, tmp_path):
    path = tmp_path / "digits.npz"
    np.savez(path, images=(mnist_small.images[:300] * 255).astype(np.uint8), labels=mnist_small.labels[:300])
    return path


def test_a_failed_new_run_leaves_nothing_and_the_corrected_command_just_works(capsys, tmp_path, digits):
    args = ["train", "--run", tmp_path / "r", "--dataset", "array", "--path", digits, "--epochs", "1", "--preset", "seed"]
    code, err = run_cli(capsys, *args, "--seed", str(2 ** 40))
    assert code == 2 and "seed must be an integer >= 0 and <= 2,147,483,647. Received: seed=1099511627776" in err
    code, err = run_cli(capsys, *args, "--latent-dim", "1000000")
    assert code == 2 and "latent_dim must be at most the values of one image (784" in err
    assert not (tmp_path / "r").exists()
    out = aereport(*args, "--seed", "3")  # not refused as "already holds a run with seed=..."
    assert "1 epochs, loss" in out.stdout and json.loads((tmp_path / "r" / "config.json").read_text())["seed"] == 3


def test_serve_on_a_host_that_does_not_exist_names_the_address(capsys, trained_run):
    code, err = run_cli(capsys, "serve", "--run", trained_run, "--address", "no.such.host.invalid",
                        "--allow-origin", "no.such.host.invalid:5006", "--port", free_port())
    assert code == 2 and "--address no.such.host.invalid: no such host or address here" in err and "--port" not in err


# --- a damaged run opens as far as it can ---------------------------------------------------------

def test_a_run_with_a_damaged_history_opens_without_it_and_says_so(capsys, run, tmp_path):
    import aereport

    (run / "history.json").write_text("[1, 2, 3]")
    before = hashes(run)
    code, out = run_cli(capsys, "info", "--run", run)
    assert code == 0
    report = aereport.open(run)
    assert report.state.history == [] and "history.json: record 0 is not an epoch record" in report.state.message
    assert "shown without the training history" in report.state.message
    assert "epochs: unknown (" in run_cli.out and "history.json: record 0" in run_cli.out
    from aereport.export import export_report

    target = export_report(run, tmp_path / "r.html")
    assert "shown without the training history" in target.read_text()
    assert hashes(run) == before


def test_a_run_with_damaged_layouts_opens_and_computes_them_again(capsys, run):
    import aereport
    import pyarrow.parquet as pq

    table = pq.read_table(run / "layouts.parquet")
    pq.write_table(table.replace_schema_metadata({"aereport": "{not json"}), run / "layouts.parquet")
    code, _ = run_cli(capsys, "info", "--run", run)
    assert code == 0 and "layouts: unreadable (" in run_cli.out and "corrupt layouts cache" in run_cli.out
    report = aereport.open(run, layouts=["ae", "pca"])
    assert set(report.state.layouts) == {"ae", "pca"}
    assert "layouts.parquet: corrupt layouts cache" in report.state.message
    assert set(Run(run).load_layouts()) == {"ae", "pca"}


def test_a_layout_that_is_not_finite_is_computed_again_and_said(run):
    import aereport

    layouts = Run(run).load_layouts()
    xy = layouts["pca"]["xy"].copy()
    xy[10] = np.nan
    Run(run).save_layouts({**layouts, "pca": {**layouts["pca"], "xy": xy}}, None)
    report = aereport.open(run, layouts=["ae", "pca"])
    assert np.isfinite(report.state.layouts["pca"]).all()
    assert "layouts.parquet: layout 'pca' has positions that are not finite; computed again" in report.state.message
