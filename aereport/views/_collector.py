"""A served session's objects kept out of the garbage collector's full passes.

A served report holds some 35,000 Python objects per session (Bokeh models, Panel panes,
HoloViews plots and their watchers). With 20 sessions open a full collection walked a million
objects, over a second on the server's one event loop, and the load benchmark's slowest taps
were exactly those collections (BENCHMARKS.md, "Session 14"). A session's page, once built,
lives as long as the session, so :func:`settle` moves everything alive then into the permanent
generation (``gc.freeze``) that no collection walks; what the session makes afterwards is
collected as before (Panel's own full collection after each closed session included, now
cheap). The frozen objects of closed sessions are swept (:func:`sweep`) once a quarter of the
sessions followed have closed: the rule CPython itself uses for full collections, so each sweep's
cost is paid for by the sessions it frees.

>>> follow(pn.state.curdoc)  # while a session's page is built  # doctest: +SKIP
"""
from __future__ import annotations

import gc
import weakref

_open = weakref.WeakSet()  # the documents of the sessions followed
_closed = [0]
_pending = [False]
SWEEP_DELAY_S = 5.0


def follow(doc) -> None:
    """Settle the session of ``doc`` once its page is built, and count it when it closes."""
    import panel as pn

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
