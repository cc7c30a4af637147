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
import time

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


def test_a_position_change_reaches_the_session_as_one_message(served):
    """The decoded image, its title, the path strip and the marker of one position change come in
    one PATCH-DOC message: Bokeh serializes a reference to every model of the document per message,
    which at six messages a tap was a fifth of a loaded server's time."""
    import threading

    import numpy as np
    from bokeh.client.session import ClientSession
    from bokeh.models import Plot

    if str(ROOT / "benchmarks") not in sys.path:  # the load benchmark's client: a session as a browser's
        sys.path.insert(0, str(ROOT / "benchmarks"))
    from load import decoder_session

    url, _ = served

    def client():
        messages: list[list[dict]] = []
        handle = ClientSession._handle_patch

        def record(self, message):
            messages.append(message.content["events"])
            return handle(self, message)

        ClientSession._handle_patch = record
        try:
            session, doc, loop, named, _ = decoder_session(url, timeout=60)
            image = named["decoded-image"].data_source
            title = next(m for m in doc.models if isinstance(m, Plot) and named["decoded-image"] in m.renderers).title
            path = named["decoder-path"].data_source
            marker = named["decoder-marker"]  # a Label: its x and y
            x_input = next(m for m in doc.models if getattr(m, "title", None) == "x" and hasattr(m, "value"))
            wanted = {image.id, title.id, path.id, marker.id}
            for x in np.linspace(-1, 1, 4):
                seen = len(messages)
                loop.add_callback(lambda x=float(x): setattr(x_input, "value", x))
                deadline = time.time() + 30
                while not any(e.get("model", {}).get("id") == image.id for m in messages[seen:] for e in m):
                    assert time.time() < deadline, "no decoded image came back"
                    time.sleep(0.05)
                time.sleep(0.5)  # anything that would come in a later message
                changed = [{e.get("model", {}).get("id") for e in m} & wanted for m in messages[seen:]]
                assert [c for c in changed if c] == [wanted], changed
            loop.add_callback(session.close)
        finally:
            ClientSession._handle_patch = handle

    # In a thread of its own: the browser tests' Playwright loop may be running in this one.
    failed: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(client, failed))
    thread.start()
    thread.join(300)
    if failed:
        raise failed[0]
    assert not thread.is_alive(), "the session's client never finished"


def _catch(fn, failed: list) -> None:
    try:
        fn()
    except BaseException as exc:  # re-raised in the test's own thread
        failed.append(exc)
