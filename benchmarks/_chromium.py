"""Debian's Chromium for the benchmarks, with the flags this closed network needs, and a served run."""
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch(playwright):
    """A headless Chromium browser from Playwright's sync API."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@contextlib.contextmanager
def serving(run: str, port: int):
    """`aereport serve --run RUN` on ``port`` while the block runs; yields the seconds it took to listen."""
    exe = Path(sys.executable).with_name("aereport")
    start = time.perf_counter()
    server = subprocess.Popen([str(exe), "serve", "--run", run, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield time.perf_counter() - start
    finally:
        server.terminate()
        server.wait()
