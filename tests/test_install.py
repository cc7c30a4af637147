"""aereport installs as a library people trust: a wheel built from this checkout, in two fresh
virtual environments. Without the ``train`` extra it serves, opens and exports a run the other
(with ``train-cpu``) trained, computes layouts of a run for the other to serve and export, never
imports TensorFlow, ships its JavaScript, and names the extra when asked to train."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, free_port, wait_for_port

TFJS = ROOT / "tests" / "js" / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"


@pytest.fixture(scope="module")
def lean(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel of this checkout and its dependencies (as constraints.txt
    pins them), without the train extra: its ``bin`` folder."""
    tmp = tmp_path_factory.mktemp("install")
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", tmp / "dist", ROOT], check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("aereport-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", tmp / "venv"], check=True)
    out = subprocess.run([tmp / "venv" / "bin" / "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return tmp / "venv" / "bin"


@pytest.fixture(scope="module")
def full(lean) -> Path:
    """A second fresh venv with the same wheel and its train extra (tensorflow-cpu, keras): its
    ``bin`` folder."""
    root = lean.parent.parent
    wheel = next((root / "dist").glob("aereport-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", root / "full"], check=True)
    out = subprocess.run([root / "full" / "bin" / "pip", "install", "-q", "-c", ROOT / "constraints.txt",
                          f"{wheel}[train-cpu]"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "full" / "bin"


@pytest.fixture(scope="module")
def wheel_run(full, tmp_path_factory) -> Path:
    """A run trained by the full install's CLI (one epoch on the embedded sample)."""
    run = tmp_path_factory.mktemp("made-by-full") / "run"
    made = subprocess.run([full / "aereport", "train", "--run", run, "--epochs", "1", "--layouts", "ae,pca"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-3000:]
    return run


def _serves(bin_: Path, run: Path, env: dict, log: Path) -> None:
    """``aereport serve`` of that venv answers its first page for ``run``."""
    port = free_port()
    with open(log, "w") as out:
        server = subprocess.Popen([bin_ / "aereport", "serve", "--run", run, "--port", str(port)], stdout=out,
                                  stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_port(server, port, log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:
                assert page.status == 200 and b"aereport" in page.read()
        finally:
            server.terminate()
            server.wait(20)


def test_the_lean_install_has_no_tensorflow_and_ships_its_scripts(lean):
    out = subprocess.run([lean / "python", "-c", """
import importlib.util, sys
import aereport
from aereport.views.scripts import script
print(importlib.util.find_spec("tensorflow") is None, importlib.util.find_spec("keras") is None,
      len(script("runtime.js")) > 1000, "tensorflow" in sys.modules)
"""], capture_output=True, text=True, cwd=lean)
    assert out.stdout.split() == ["True", "True", "True", "False"], out.stderr


def test_the_lean_install_opens_exports_and_serves_a_run_the_full_install_trained(lean, wheel_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(wheel_run, run)
    env = {**os.environ, "AEREPORT_TFJS": str(TFJS)}
    opened = subprocess.run([lean / "python", "-c", f"""
import sys, aereport
report = aereport.open({str(run)!r})
print(len(report.state.layouts), report.state.latent.decode("ae", 0.0, 0.0)[0].shape, "tensorflow" in sys.modules)
"""], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert opened.stdout.split() == ["2", "(28,", "28)", "False"], opened.stderr[-2000:]
    exported = subprocess.run([lean / "aereport", "export", run, tmp_path / "report.html"], capture_output=True,
                              text=True, env=env)
    assert exported.returncode == 0 and (tmp_path / "report.html").stat().st_size > 1e6, exported.stderr[-2000:]
    _serves(bin_=lean, run=run, env=env, log=tmp_path / "serve.log")


def test_the_lean_install_lays_out_a_run_the_full_install_serves_and_names_the_extra_to_train(
        lean, full, wheel_run, tmp_path):
    from aereport.store import Run

    run = tmp_path / "run"
    shutil.copytree(wheel_run, run)
    (run / "layouts.parquet").unlink()
    laid = subprocess.run([lean / "aereport", "layouts", "--run", run, "--only", "ae,pca"], capture_output=True,
                          text=True)
    assert laid.returncode == 0 and set(Run(run).load_layouts()) == {"ae", "pca"}, laid.stderr[-2000:]
    env = {**os.environ, "AEREPORT_TFJS": str(TFJS)}
    exported = subprocess.run([full / "aereport", "export", run, tmp_path / "report.html"], capture_output=True,
                              text=True, env=env)
    assert exported.returncode == 0 and (tmp_path / "report.html").stat().st_size > 1e6, exported.stderr[-2000:]
    _serves(bin_=full, run=run, env=env, log=tmp_path / "serve.log")
    start = time.perf_counter()
    trained = subprocess.run([lean / "aereport", "train", "--run", tmp_path / "new", "--epochs", "1"],
                             capture_output=True, text=True)
    assert trained.returncode == 2 and "pip install 'aereport[train]'" in trained.stderr, trained.stderr[-2000:]
    assert "Received: missing='keras'" in trained.stderr and "Traceback" not in trained.stderr
    assert not (tmp_path / "new").exists() and time.perf_counter() - start < 60
