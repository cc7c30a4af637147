"""What every view shares: the run it shows and this session's copy of its training status."""
from __future__ import annotations

import time

import panel as pn
import param

from ..state import ReportState, Status

SYNC_MS = 300
# A new model redraws every plane of a session (~0.1-0.3 s of Datashader at 70k points). All
# sessions share the server's one event loop: redrawing them in one burst queued every tap behind
# the whole burst (6.6 s p95 with 22 sessions while training). One session redraws per gap, so a
# tap waits for one redraw at most.
REDRAW_GAP_S = 0.25
_last_redraw = [0.0]


class StateView(pn.viewable.Viewer):
    """A view over a shared :class:`ReportState`.

    Inside a :class:`aereport.report.Report` the report hands every tab one ``status``; a view
    used on its own (an app of one figure, a notebook cell) makes its own and keeps it in step
    with the shared state, so training on another thread never touches this session's document.

    >>> EmbeddingsView(state=ReportState.open("runs/mnist"))  # doctest: +SKIP
    """

    state = param.ClassSelector(class_=ReportState, constant=True, doc="The run being shown")
    status = param.ClassSelector(class_=Status, constant=True,
                                 doc="This session's copy of the training status")

    def __init__(self, **params):
        self._follow = params.get("status") is None
        if self._follow:
            params["status"] = Status(**params["state"].snapshot())
        super().__init__(**params)
        self._callback = None

    def sync(self) -> None:
        """Copy what changed in the shared state into this session's status."""
        changed = {k: v for k, v in self.state.snapshot().items() if getattr(self.status, k) != v}
        if "version" in changed:
            now = time.monotonic()
            if now - _last_redraw[0] < REDRAW_GAP_S:
                del changed["version"]  # another session is redrawing: take the next turn
            else:
                _last_redraw[0] = now
        if changed:
            self.status.param.update(**changed)

    def _follow_state(self) -> None:
        # Called from __panel__: a periodic callback belongs to the session being rendered.
        if self._follow and self._callback is None and pn.state.curdoc is not None:
            self._callback = pn.state.add_periodic_callback(self.sync, period=SYNC_MS)
        if served():
            pn.state.onload(_no_delay)


def served() -> bool:
    """Whether the view is being rendered for a Bokeh server session (not a notebook)."""
    return pn.state.curdoc is not None and pn.state.curdoc.session_context is not None


def _no_delay() -> None:
    """Send this session's websocket frames at once (TCP_NODELAY).

    Bokeh writes each message as several small frames; with Nagle's algorithm the later ones
    wait for the browser's delayed ACK, about 40 ms on Linux — most of a tap's round trip.
    """
    session = getattr(pn.state.curdoc.session_context, "_session", None)
    for connection in getattr(session, "_subscribed_connections", ()):
        socket = getattr(connection, "_socket", None)
        if socket is not None and hasattr(socket, "set_nodelay"):
            socket.set_nodelay(True)
