"""Shared fixtures: real data from ../shared/data, a trained run, a served app and a browser."""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MNIST_DIR = SHARED / "mnist"
CELEBA_DIR = SHARED / "faces" / "celeba"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def aereport(*args, check=True, **kw) -> subprocess.CompletedProcess:
    """Run the installed CLI as a user would."""
    exe = Path(sys.executable).with_name("aereport")
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"aereport {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def mnist():
    from aereport.data import load_mnist

    if not MNIST_DIR.is_dir():
        pytest.fail(f"{MNIST_DIR} is missing: the tests read MNIST from ../shared/data")
    return load_mnist(MNIST_DIR)


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """2,000 real digits (stratified by position) for quick model and layout tests."""
    return mnist.subset(np.arange(0, 70000, 35))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run on the embedded MNIST sample, trained and laid out through the CLI.

    Trained once for the whole suite: under pytest-xdist the first worker to ask trains it in the
    temporary folder all workers share, and the others wait on the lock (tests copy it to change it).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # set in xdist's workers; plain pytest has none
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    run, done = shared / "trained-sample", shared / "trained-sample.done"
    with open(shared / "trained-sample.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(run, ignore_errors=True)
            aereport("train", "--run", run, "--epochs", 3, "--layouts", "ae,pca,umap,tsne")
            done.touch()
    return run


def run_cli(capsys, *args, stream: str = "err") -> tuple[int, str]:
    """The CLI in this process, as a user's command line: its exit code and its error output (or
    ``stream="out"``); it must never print a traceback."""
    from aereport.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    run_cli.out = captured.out
    return code, getattr(captured, stream)


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    """A private copy of the trained run, for a test that changes or damages it."""
    path = tmp_path / "run"
    shutil.copytree(trained_run, path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(proc: subprocess.Popen, port: int, log: Path, timeout: float = 120) -> None:
    """Wait until the server ``proc`` listens on ``port``; fail with its log if it dies first."""
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"server on port {port} never came up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def served(trained_run, module_tmp, request):
    """`aereport serve` on a private copy of the trained run; yields (url, run_dir). A test
    module's ``SERVER_EXCEPTIONS`` names the exceptions its tests make the server log."""
    tmp_path = module_tmp
    run = tmp_path / "served-run"
    shutil.copytree(trained_run, run)
    port = free_port()
    exe = Path(sys.executable).with_name("aereport")
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(exe), "serve", "--run", str(run), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(proc, port, tmp_path / "serve.log")
    yield f"http://127.0.0.1:{port}/", run
    proc.terminate()
    proc.wait(20)
    log.close()
    assert_no_traceback(tmp_path / "serve.log", getattr(request.module, "SERVER_EXCEPTIONS", ()))


def assert_no_traceback(log: Path, expected: tuple[str, ...] = ()) -> None:
    """Fail on an exception the server logged: one raised in a session's callback reaches no
    page (the page just waits), so a test would otherwise see only a timeout, or nothing. A
    write to a websocket its page had closed is not one (Tornado logs it with a traceback), nor
    any exception whose line matches one of the ``expected`` patterns."""
    text = log.read_text(errors="replace")
    allowed = re.compile("|".join(("StreamClosedError|WebSocketClosedError", *expected)))
    # The exception's own line is the first after the header that is not indented: frames and
    # their source lines are, however deep the stack.
    unindented = re.compile(r"^\S.*$", re.M)
    for header in re.finditer(r"Traceback \(most recent call last\):\n", text):
        line = unindented.search(text, header.end())
        if not (line and allowed.search(line.group(0))):
            end = line.end() if line else len(text)
            raise AssertionError(f"the server logged an exception ({log}):\n{text[max(0, header.start() - 500):end]}")


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory, request):
    return tmp_path_factory.mktemp(request.module.__name__.split(".")[-1])


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`make test` does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and page errors in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


# The longest files first: two xdist workers take files in collection order, and a long file
# started last kept one worker busy for minutes after the other had finished.
FIRST = ["test_readme.py", "test_crash.py", "test_notebooks.py", "test_views_explore.py", "test_apps.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))
