"""kill -9 at the worst moments: training, layouts and export never leave a file that is read
as valid but is not, and at most the running epoch is lost."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aereport.store import Run

from .conftest import aereport

# The CLI, with os.replace paused (forever) the N-th time it would rename a finished temporary
# file onto NAME: the test kills the process there, with the new file written but not in place.
DRIVER = """
import os, sys, time
name, nth = os.environ["PAUSE_AT"].split(":")
seen, real = [0], os.replace

def replace(src, dst):
    if os.path.basename(dst) == name:
        seen[0] += 1
        if seen[0] == int(nth):
            print("PAUSED", src, flush=True)
            time.sleep(3600)
    real(src, dst)

os.replace = replace
from aereport.cli import main
sys.exit(main(sys.argv[1:]))
"""


def kill_when_paused(args, pause_at: str, timeout: float = 240) -> Path:
    """Run the CLI until it pauses before renaming ``pause_at`` ('file:n'), kill -9 it there, and
    return the temporary file it had written."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PAUSE_AT": pause_at, "TF_CPP_MIN_LOG_LEVEL": "2"})
    deadline = time.time() + timeout
    try:
        for line in proc.stdout:
            if line.startswith("PAUSED"):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return Path(line.split(" ", 1)[1].strip())
            assert time.time() < deadline
        raise AssertionError(f"never reached {pause_at}:\n{proc.stderr.read()[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def digits(mnist, tmp_path):
    path = tmp_path / "digits.npz"
    np.savez(path, images=(mnist.images[:1500] * 255).astype(np.uint8), labels=mnist.labels[:1500])
    return path


def train_args(run, digits, epochs):
    return ["train", "--run", run, "--dataset", "array", "--path", digits, "--epochs", epochs, "--preset", "seed"]


@pytest.mark.parametrize("pause_at, done", [
    ("autoencoder.keras:3", 2),  # epoch 3's model written, not yet in place
    ("history.json:3", 2),       # epoch 3's models in place, its history record not
])
def test_kill_during_a_checkpoint_loses_at_most_that_epoch(tmp_path, digits, pause_at, done):
    run = tmp_path / "run"
    leftover = kill_when_paused(train_args(run, digits, 10), pause_at)
    assert leftover.exists()  # the process really died with a file half-way to its place
    assert Run(run).epochs_done == done and Run(run).load_autoencoder().latent_dim == 2
    resumed = aereport(*train_args(run, digits, 1))
    assert f"resuming {run} after epoch {done}" in resumed.stderr
    assert Run(run).epochs_done == done + 1
    assert not leftover.exists()  # swept when training resumed


def test_kill_at_random_moments_then_resume(tmp_path, digits):
    run = tmp_path / "run"
    rng = np.random.default_rng(0)
    for _ in range(3):
        before = Run(run).epochs_done if Run.exists(run) else 0
        proc = subprocess.Popen([str(Path(sys.executable).with_name("aereport")),
                                 *map(str, train_args(run, digits, 50))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 240
        while not (Run.exists(run) and Run(run).epochs_done >= before + 2):  # a moment into training
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = Run(run)
        assert after.epochs_done >= before + 2
        after.load_autoencoder()  # whatever moment it died at, the run loads
    aereport(*train_args(run, digits, 1))


@pytest.fixture
def laid_out(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "layouts.parquet").unlink()
    return run


def test_kill_while_saving_layouts_keeps_every_finished_one(laid_out):
    # Killed as the second layout's file is about to replace the first's (t-SNE's here took a
    # minute of the suite for the same check).
    leftover = kill_when_paused(["layouts", "--run", laid_out, "--only", "pca,ae"], "layouts.parquet:2")
    assert leftover.exists()
    assert set(Run(laid_out).load_layouts()) == {"pca"}  # the autoencoder's file never took its place
    out = aereport("layouts", "--run", laid_out, "--only", "pca,ae").stdout
    assert "pca: 5,000 points (cached)" in out and "ae: 5,000 points in" in out
    assert set(Run(laid_out).load_layouts()) == {"pca", "ae"}
    assert not leftover.exists()


def test_kill_while_exporting_leaves_no_report(trained_run, tmp_path):
    target = tmp_path / "out" / "report.html"
    leftover = kill_when_paused(["export", trained_run, target], "report.html:1")
    assert leftover.exists() and not target.exists()  # never a half page under the real name
    aereport("export", trained_run, target)
    assert target.stat().st_size > 1e6 and not leftover.exists()
    assert target.read_text().rstrip().endswith("</html>")


# --- kill -9 at random moments: every file of the run is its old or a new complete version --------

def complete(path: Path) -> None:
    """Raise unless ``path`` is a whole file of its kind."""
    import json
    import zipfile

    import pyarrow.parquet as pq

    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
    elif path.suffix == ".parquet":
        pq.read_table(path)
    elif path.suffix in (".npy", ".npz"):
        np.load(path, allow_pickle=False)


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and not p.name.startswith(".")}


def assert_whole(run: Path, before: dict[str, bytes]) -> None:
    """Each file under a real name is as it was, or a new complete version; the run opens."""
    for p in run.iterdir():
        if p.is_file() and not p.name.startswith(".") and before.get(p.name) != p.read_bytes():
            complete(p)
    r = Run(run)
    r.history, r.load_layouts(), r.load_autoencoder(numpy=True)


def kill_at_random(args, rng, low: float, high: float) -> int:
    """Start the CLI, kill -9 it after a random moment in [low, high] s; its exit code (or -9)."""
    proc = subprocess.Popen([str(Path(sys.executable).with_name("aereport")), *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        proc.wait(timeout=rng.uniform(low, high))
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait()


def test_kill_at_random_moments_of_layouts_and_export(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    rng = np.random.default_rng(7)
    for _ in range(3):  # layouts being computed and saved: umap and t-SNE take seconds on 5,000 images
        (run / "layouts.parquet").unlink(missing_ok=True)
        before = snapshot(run)
        kill_at_random(["layouts", "--run", run, "--only", "ae,pca,umap"], rng, 2, 12)
        assert_whole(run, before)
    assert aereport("layouts", "--run", run, "--only", "ae,pca").returncode == 0  # resumes
    before = snapshot(run)
    target = tmp_path / "out" / "report.html"
    for _ in range(3):  # an export: the run untouched, the report absent or whole
        kill_at_random(["export", run, target], rng, 2, 14)
        assert snapshot(run) == before
        if target.exists():
            assert target.read_text().rstrip().endswith("</html>")


def test_kill_the_served_training_process_at_random_moments(trained_run, tmp_path):
    """Train ! of a served report runs in the state's training process: killed there at random
    moments, the run keeps whole files, opens, and trains on."""
    from aereport.state import ReportState

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    state = ReportState.open(run)
    rng = np.random.default_rng(3)
    try:
        for _ in range(3):
            before = snapshot(run)
            job = state.train_async(20)
            deadline = time.time() + 120
            while state._trainer.pid is None and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(3, 9))  # its imports, then somewhere in its epochs and checkpoints
            if state._trainer.pid is not None:
                os.kill(state._trainer.pid, signal.SIGKILL)
            with pytest.raises(Exception):
                job.result(timeout=120)
            assert_whole(run, before)
        done = Run(run).epochs_done
        state.train_async(1).result(timeout=300)
        assert Run(run).epochs_done == done + 1
    finally:
        state._trainer.close()
