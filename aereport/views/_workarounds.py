"""The one door to Panel's, HoloViews' and Bokeh's internals: every workaround in the report.

Each is here because the public API could not do what a served report needs; each says why, what
it measured, and the upstream work it follows. Prefer fixing our use to adding here.

- :class:`SteadyPlotSize` — a ``PlotSize`` stream that ignores reflows of a few pixels (a reflow
  re-aggregated every plane: holoviz/holoviews#6672 reports the same storm of size and range
  events), registered with HoloViews' Bokeh callbacks in ``Stream._callbacks`` by hand, the way
  HoloViews registers its own streams (holoviz/holoviews#889) and GeoViews its streams.
- :func:`push` — Bokeh model changes from stream callbacks and other threads, batched into one
  message on the session's next tick, as Bokeh requires of changes from outside a session's lock
  (its "Updating from threads" guide); written with Panel's ``unlocked`` and under the session's
  ``set_curdoc`` (holoviz/holoviews#5477: a callback without its document borrowed another's).
- :func:`no_delay` — TCP_NODELAY on a session's websocket, reached through Tornado's private
  ``_socket``: Bokeh writes a message as several frames, and Nagle's algorithm held the later
  ones for the browser's delayed ACK (~40 ms); Bokeh has no option for it.
- :func:`follow` and friends — a session's objects frozen out of the garbage collector's full
  passes (``gc.freeze``) once its page is built: full collections over many sessions blocked the
  server (holoviz/panel#3105; Panel debounces its own collections since holoviz/panel#3259 and
  holoviz/panel#6518, which a sweep here relies on).
- :data:`CANVAS` — plots drawn on a 2-D canvas: HoloViews defaults Bokeh plots to WebGL, whose
  offscreen canvas is blitted onto the 2-D one on every repaint, slow without a GPU (and lost
  entirely in some embeddings: holoviz/lumen#2071).

>>> push(source, lambda: setattr(source, "data", {"x": [1]}))  # doctest: +SKIP
"""
from __future__ import annotations

import gc
import threading
import weakref

import holoviews as hv
import panel as pn
from holoviews.plotting.bokeh.callbacks import PlotSizeCallback

# Every plot here is a few glyphs over Datashader's rasters, which WebGL (HoloViews' default)
# draws no faster; without a GPU (a VM, a remote desktop, headless Chromium) Bokeh's blit of the
# WebGL canvas into the plot cost the page ~250 ms of each tap, which repaints the plane.
CANVAS = dict(backend_opts={"plot.output_backend": "canvas"})


# --- a plot's size, steady through small reflows ------------------------------------------------

class SteadyPlotSize(hv.streams.PlotSize):
    """The plot's size in pixels, ignoring changes of less than ``tolerance`` of it.

    A page reflows by a few pixels when a button's label or a number on it changes; every
    responsive plot (hidden tabs too) then reports a new size and Datashader re-aggregated
    the whole dataset for it — seconds of the server's one event loop per Train click. Within
    the tolerance the stream keeps its last size, so HoloViews serves the memoized render.

    ``plot`` names the kind of plot (its raster's renderer): the stream starts at the size
    that kind last reported in this process. Before a page reports its plots' sizes they were
    drawn at Datashader's default 400 × 400, stretched, and drawn again a moment later; a
    visitor whose window is as the last one's now gets the plane at its size at once, often
    from the render cache, and no second render.

    >>> size = SteadyPlotSize("decoder-raster")
    """

    tolerance = 0.1
    _reported: dict[str, dict] = {}

    def __init__(self, plot: str | None = None, **params):
        super().__init__(**{**self._reported.get(plot, {}), **params})
        # The page's first report is taken as it is: the tolerance is for its later reflows, not
        # for another window's size (an equal one renders nothing new: HoloViews memoizes it).
        self._plot, self._last = plot, None

    def transform(self):
        size = super().transform()
        last = self._last
        if last and all(size[k] and last[k] and abs(size[k] - last[k]) <= self.tolerance * last[k]
                        for k in ("width", "height")):
            return last
        self._last = size
        if self._plot and size["width"] and size["height"]:
            SteadyPlotSize._reported[self._plot] = size
        return size


# HoloViews links a stream to a plot through the callback registered for its exact class (as
# GeoViews registers its own): unregistered, this stream never heard of the plot's size, and
# every plane was aggregated at Datashader's default 400×400 and stretched over the plot.
hv.streams.Stream._callbacks["bokeh"][SteadyPlotSize] = PlotSizeCallback


# --- model changes from outside a session's own callbacks ----------------------------------------

_PENDING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # document -> updates for its next tick
_PENDING_LOCK = threading.Lock()  # a push from another thread must not append to a list being flushed


def push(model, update, now: bool = False) -> None:
    """Run ``update`` (which changes Bokeh models of ``model``'s document) now, or, in a served
    session, on the session's next tick: stream callbacks run without the document lock that
    Bokeh requires for model changes, and a next-tick callback always holds it.

    Updates pushed before that tick run together and reach the browser as one message: Bokeh
    sends a message per changed property, each serializing a reference to every model of the
    document, and one tap changes six (image, path, line, marker and two titles).

    ``now``: the caller holds the document lock (a Bokeh event callback), and the update goes
    to the browser at once as its own message, ahead of what the rest of the callback changes:
    a tap's image before its path strip and the widgets that show the position.

    >>> push(source, lambda: setattr(source, "data", {"x": [1], "y": [2]}))  # doctest: +SKIP
    """
    doc = model.document
    if doc is None or doc.session_context is None:
        update()
        return
    if now:
        _write(doc, [update])
        return
    with _PENDING_LOCK:
        pending = _PENDING.get(doc)
        if pending is None:
            pending = _PENDING[doc] = []
            doc.add_next_tick_callback(lambda: _flush(doc))
        pending.append(update)


def _flush(doc) -> None:
    with _PENDING_LOCK:
        updates = _PENDING.pop(doc, [])
    _write(doc, updates)


def _write(doc, updates) -> None:
    from panel.io.document import unlocked
    from panel.io.state import set_curdoc

    # Panel's `unlocked` holds the document's events and writes them as one PATCH-DOC message.
    failed = None
    with set_curdoc(doc), unlocked():
        for update in updates:
            try:
                update()
            except Exception as exc:  # one failing update must not drop the others of its tick
                failed = failed or exc
    if failed is not None:
        raise failed


# --- TCP_NODELAY ----------------------------------------------------------------------------------

def no_delay() -> None:
    """Send this session's websocket frames at once (TCP_NODELAY).

    Bokeh writes each message as several small frames; with Nagle's algorithm the later ones
    wait for the browser's delayed ACK, about 40 ms on Linux — most of a tap's round trip.
    """
    session = getattr(pn.state.curdoc.session_context, "_session", None)
    for connection in getattr(session, "_subscribed_connections", ()):
        socket = getattr(connection, "_socket", None)
        if socket is not None and hasattr(socket, "set_nodelay"):
            socket.set_nodelay(True)


# --- a session's objects out of the garbage collector's full passes --------------------------------
# A served report holds some 35,000 Python objects per session (Bokeh models, Panel panes,
# HoloViews plots and their watchers). With 20 sessions open a full collection walked a million
# objects, over a second on the server's one event loop, and the load benchmark's slowest taps
# were exactly those collections (BENCHMARKS.md, "Load"). A session's page, once built, lives as
# long as the session, so :func:`settle` moves everything alive then into the permanent generation
# (``gc.freeze``) that no collection walks; what the session makes afterwards is collected as
# before (Panel's own full collection after each closed session included, now cheap). The frozen
# objects of closed sessions are swept (:func:`sweep`) once a quarter of the sessions followed have
# closed: the rule CPython itself uses for full collections, so each sweep's cost is paid for by
# the sessions it frees.

_open = weakref.WeakSet()  # the documents of the sessions followed
_closed = [0]
_pending = [False]
SWEEP_DELAY_S = 5.0


def follow(doc) -> None:
    """Settle the session of ``doc`` once its page is built, and count it when it closes."""
    if doc not in _open:
        _open.add(doc)
        pn.state.onload(settle)
        doc.on_session_destroyed(session_closed)


def settle_soon(doc) -> None:
    """Settle once the models being built for ``doc`` now are in place (its next tick): a tab
    opened after the page loaded is built then, and would otherwise stay in every collection."""
    if doc in _open:
        doc.add_next_tick_callback(settle)


def settle() -> None:
    """Freeze the objects alive now, after dropping young garbage (so it is not frozen with them)."""
    gc.collect(1)
    gc.freeze()


def sweep() -> None:
    """Collect everything, the frozen objects included, and freeze the survivors again."""
    _closed[0], _pending[0] = 0, False
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def session_closed(session_context) -> None:
    """Count a closed session; once a quarter of those followed have closed, sweep — a few
    seconds later, so that sessions closing together (a browser's tabs) cost one sweep."""
    _closed[0] += 1
    if _closed[0] * 4 >= max(len(_open), 1) and not _pending[0]:
        _pending[0] = True
        _later(SWEEP_DELAY_S, sweep)


def _later(delay: float, callback) -> None:
    from tornado.ioloop import IOLoop

    IOLoop.current().call_later(delay, callback)
