"""Served sessions' objects are frozen out of full collections and swept when sessions close."""
from __future__ import annotations

import gc
import weakref

from bokeh.document import Document

from aereport.views import _workarounds


class Cycle:
    """Garbage only a full collection frees (it refers to itself)."""

    def __init__(self):
        self.me = self


def test_settled_objects_wait_for_a_quarter_of_the_sessions_to_close(monkeypatch):
    later = []
    monkeypatch.setattr(_workarounds, "_later", lambda delay, callback: later.append(callback))
    monkeypatch.setattr(_workarounds, "_open", weakref.WeakSet())
    monkeypatch.setattr(_workarounds, "_closed", [0])
    monkeypatch.setattr(_workarounds, "_pending", [False])
    docs = [Document() for _ in range(8)]
    frozen = Cycle()
    ref = weakref.ref(frozen)
    try:
        for doc in docs:
            _workarounds.follow(doc)  # outside a served session Panel runs the onload at once: settled
        assert gc.get_freeze_count() > 0
        young = Cycle()
        young_ref = weakref.ref(young)
        del frozen, young
        gc.collect()
        assert young_ref() is None  # made after the freeze: collected as before
        assert ref() is not None  # frozen: no collection walks it

        _workarounds.session_closed(docs[0].session_context)  # one of eight: not yet worth a sweep
        assert later == [] and ref() is not None
        for doc in docs[1:3]:  # a quarter closed: one sweep, however many close meanwhile
            _workarounds.session_closed(doc.session_context)
        assert len(later) == 1
        later.pop()()
        assert ref() is None and gc.get_freeze_count() > 0  # swept, and the survivors frozen again
    finally:
        gc.unfreeze()


def test_a_tab_opened_later_is_settled_on_the_next_tick(monkeypatch):
    """Only a session's open tab is built: one opened after the page loaded is frozen too, once
    its models are made (the session's next tick); a document not followed schedules nothing."""
    monkeypatch.setattr(_workarounds, "_open", weakref.WeakSet())
    followed, other = Document(), Document()
    _workarounds._open.add(followed)
    _workarounds.settle_soon(followed)
    _workarounds.settle_soon(other)
    _workarounds.settle_soon(None)  # no session (a notebook's report)
    assert [c.callback.__name__ for c in followed.callbacks.session_callbacks] == ["settle"]
    assert not other.callbacks.session_callbacks
