"""A bounded, shared cache of rendered rasters, and what is derived once from an array's content.

A served report draws the same planes for many sessions: every visitor's first page (each plane
at its whole layout), a zoom back out, a new model's planes in every open session. One
:class:`RenderCache` per run (the state holds it) keeps the last renders, least recently used
first out, at most ``max_bytes`` of them. It is an object passed to what renders, never a module
global: a test, a benchmark or an export makes its own.

>>> cache = RenderCache(max_bytes=1 << 20)
>>> cache.put(("a",), np.zeros(4)); cache.get(("a",)).shape
(4,)
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Callable

import numpy as np


class RenderCache:
    """The last renders, shared, least recently used first out; at most ``max_bytes`` of them.

    Keys say everything a render depends on (the points' content hash, the viewport, the plot's
    size, every option of the operation), so a changed point, label filter or size is a miss,
    never a wrong picture. Thread-safe: a warm-up thread renders beside the event loop.

    Parameters
    ----------
    max_bytes : the most bytes of rasters held (0: hold nothing)
    """

    def __init__(self, max_bytes: int = 64 << 20):
        self.max_bytes, self.nbytes = int(max_bytes), 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        # id(object) -> (a weak reference to it, {key: value}); an entry goes with its object.
        self._derived: dict[int, tuple[weakref.ref, dict]] = {}

    def get(self, token):
        """The render stored under ``token``, or None."""
        if token is None or not self.max_bytes:  # a cache of no size holds nothing
            return None
        with self._lock:
            hit = self._items.get(token)
            if hit is None:
                self.misses += 1
                return None
            self._items.move_to_end(token)
            self.hits += 1
            return hit[0]

    def put(self, token, element) -> None:
        """Keep ``element`` (an array, or an element whose ``data`` holds arrays) under ``token``."""
        if token is None:
            return
        # an array of pixels, an RGB's xarray Dataset, or the dict HoloViews' dynspread makes
        data = element if isinstance(element, np.ndarray) else element.data
        size = int(data.nbytes if hasattr(data, "nbytes") else sum(np.asarray(v).nbytes for v in data.values()))
        with self._lock:
            if token in self._items or size > self.max_bytes:
                return
            self._items[token] = (element, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, (_, old) = self._items.popitem(last=False)
                self.nbytes -= old

    def clear(self) -> None:
        """Forget every render and the counts of hits and misses."""
        with self._lock:
            self._items.clear()
            self.nbytes = self.hits = self.misses = 0

    def derived(self, obj, key: tuple, compute: Callable):
        """``compute()``, once per live object ``obj`` and ``key``.

        A zoom or pan renders the same points again, and hashing their columns and finding their
        extent were ~200 ms of a 10M-point render (BENCHMARKS.md, "Zoom"). What the views render
        is never changed in place (HoloViews treats an element's data as immutable; a filter or a
        new layout makes a new frame), so what is computed from it holds as long as it lives.

        >>> cache.derived(frame, ("max",), lambda: frame.x.max())  # doctest: +SKIP
        1.0
        """
        entry = self._derived.get(id(obj))
        if entry is None or entry[0]() is not obj:
            entry = (weakref.ref(obj, lambda _, i=id(obj): self._derived.pop(i, None)), {})
            self._derived[id(obj)] = entry
        if key not in entry[1]:
            entry[1][key] = compute()
        return entry[1][key]
