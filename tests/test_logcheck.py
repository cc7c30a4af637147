"""The check the served-app tests make of the server's log (``conftest.assert_no_traceback``)."""
from __future__ import annotations

import pytest

from .conftest import assert_no_traceback

FRAMES = '  File "panel/io/document.py", line 1, in call\n    callback()\n    ^^^^^^^^^^\n'


def traceback(last_line: str, depth: int) -> str:
    return "ERROR:bokeh.server:callback failed\nTraceback (most recent call last):\n" + FRAMES * depth + last_line + "\n"


@pytest.mark.parametrize("depth", [1, 300])  # 300 frames: ~17,000 characters
def test_an_exception_fails_however_deep_its_stack(tmp_path, depth):
    log = tmp_path / "server.log"
    log.write_text("listening\n" + traceback("tornado.websocket.WebSocketClosedError", 2)
                   + traceback("ValueError: boom", depth) + "more\n")
    with pytest.raises(AssertionError, match="ValueError: boom"):
        assert_no_traceback(log)


@pytest.mark.parametrize("depth", [1, 300])
def test_a_closed_socket_or_an_expected_exception_passes(tmp_path, depth):
    log = tmp_path / "server.log"
    log.write_text(traceback("tornado.iostream.StreamClosedError: Stream is closed", depth)
                   + traceback("KeyError: 'gone'", depth))
    assert_no_traceback(log, expected=("KeyError",))
    with pytest.raises(AssertionError, match="KeyError"):
        assert_no_traceback(log)
