"""Every code block of the README, run as written (with shorter training where it says 8 or 20 epochs)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from aereport.store import Run

from .conftest import ROOT, SHARED, free_port, wait_for_port

README = ROOT / "README.md"
FASTER = {"--epochs 8": "--epochs 1", "--epochs 20": "--epochs 1", "ae,pca,umap,tsne": "ae,pca"}


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)


def commands(block: str) -> list[str]:
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture
def workdir(tmp_path):
    """A folder laid out like the repository: ../shared beside it, apps/ inside."""
    (tmp_path / "shared").symlink_to(SHARED.parent)
    work = tmp_path / "repo"
    work.mkdir()
    (work / "apps").symlink_to(ROOT / "apps")
    return work


def serve_and_fetch(argv, cwd, env, log, path="/"):
    port = free_port()
    argv = [a.format(port=port) for a in argv] if any("{port}" in a for a in argv) else argv + ["--port", str(port)]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    try:
        wait_for_port(proc, port, log, timeout=300)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as r:
            assert r.status == 200 and b"bokeh" in r.read().lower()
    finally:
        proc.terminate()
        proc.wait(30)


def test_setup_commands(trained_run, tmp_path):
    serve_block, test_block = blocks("bash")[:2]
    assert commands(serve_block) == ["make serve"] and commands(test_block) == ["make test"]
    # `make test` is what CI runs (.ci/run); `make serve` serves the run in $AEREPORT_RUN here
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    env = {**os.environ, "AEREPORT_RUN": str(trained_run), "TF_CPP_MIN_LOG_LEVEL": "2"}
    serve_and_fetch(["make", "--no-print-directory", "serve", "ARGS=--port {port}"], ROOT, env, tmp_path / "make.log")


def test_cli_apps_and_export_blocks(workdir, tmp_path):
    cli, apps, export = blocks("bash")[2:5]
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "TF_CPP_MIN_LOG_LEVEL": "2",
           "HOME": str(tmp_path / "home")}
    # Runs are independent: each `train` starts at once, beside the others; a line that uses a
    # run waits for its training first.
    training: dict[str, subprocess.Popen] = {}

    def trained(run: str) -> None:
        proc = training.pop(run)
        proc.wait(timeout=900)
        assert proc.returncode == 0, proc.log.read_text()[-2000:]

    for line in commands(cli):
        for slow, fast in FASTER.items():
            line = line.replace(slow, fast)
        argv = shlex.split(line)
        run = argv[argv.index("--run") + 1] if "--run" in argv else None
        if argv[:2] == ["aereport", "train"]:
            log = tmp_path / f"train-{len(training)}.log"  # a file: a progress bar could fill a pipe
            training[run] = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                             stderr=open(log, "w"))
            training[run].log = log
            continue
        if run in training:
            trained(run)
        if argv[:2] == ["aereport", "serve"]:
            serve_and_fetch(argv, workdir, env, tmp_path / "serve.log")
        else:
            proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr[-2000:]
    for run in list(training):
        trained(run)
    assert set(Run(workdir / "runs" / "mnist").load_layouts()) == {"ae", "pca"}
    assert Run(workdir / "runs" / "faces").config["img_shape"] == [109, 89, 3]
    assert Run(workdir / "runs" / "mnist8").config["latent_dim"] == 8

    # The export lines are independent: run side by side (each mostly imports, on one core).
    procs = [subprocess.Popen(shlex.split(line), cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for line in commands(export)]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    assert (workdir / "report.html").stat().st_size > 1e6
    assert (workdir / "site" / "index.html").is_file() and (workdir / "models" / "decoder" / "model.json").is_file()

    # Each line as written; one `panel serve` of all of them (it takes several apps) saves a
    # server start per app.
    files, app_env = [], dict(env, AEREPORT_RUN=str(workdir / "runs" / "mnist"),
                              AEREPORT_FACES_RUN=str(workdir / "runs" / "faces"))
    for line in commands(apps):
        words = shlex.split(line)
        assignments, (panel, serve, app, *flags) = words[:words.index("panel")], words[words.index("panel"):]
        assert (panel, serve) == ("panel", "serve") and (ROOT / app).is_file()
        assert flags == ["--address", "127.0.0.1", "--warm"]  # loopback only, as `aereport serve`
        app_env.update(a.split("=", 1) for a in assignments)
        files.append(app)
    port = free_port()
    proc = subprocess.Popen([panel, serve, *files, *flags, "--port", str(port)], cwd=workdir, env=app_env,
                            stdout=open(tmp_path / "apps.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_for_port(proc, port, tmp_path / "apps.log", timeout=300)
        for app in files:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{Path(app).stem}", timeout=120) as r:
                assert r.status == 200 and b"bokeh" in r.read().lower()
    finally:
        proc.terminate()
        proc.wait(30)


def test_python_block_runs(tmp_path, monkeypatch):
    (block,) = blocks("python")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "mine.html").stat().st_size > 1e6
    assert set(Run(tmp_path / "runs" / "mine").load_layouts()) == {"ae", "umap"}
