"""Many sessions at once on one server, one of them training: the load benchmark, small and short.

The figures (p95 under 20 sessions on full MNIST) live in BENCHMARKS.md; this checks what must
hold on any machine: no errors, every request answered, and taps answered while another session
trains (before training moved out of the server process, they waited for the whole training).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, free_port

pytestmark = pytest.mark.browser


def test_sessions_tapping_and_zooming_while_another_trains(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    proc = subprocess.run(
        [sys.executable, "load.py", "--run", str(run), "--clients", "3", "--seconds", "12", "--settle", "0",
         "--port", str(free_port()), "--log", str(tmp_path / "server.log")],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["errors"] == [] and result["server_errors"] == []
    assert result["train_requests"] >= 1
    # Each of the 3 sessions tapped several times (a busy machine builds their sessions slowly).
    assert result["client_requests"] >= 9 and result["client_lost"] == 0
    assert result["browser_taps"] > 10 and result["browser_images"] == result["browser_taps"]
    # Every tap while another session trained came back, and within seconds, not a training's length.
    assert result["browser_tap_p95_ms_while_training"] < 5000
