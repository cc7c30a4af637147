"""BLAS on the calling thread for small work in a server, so its idle workers do not spin.

OpenBLAS runs a matrix product on every core, and its worker threads then spin ~0.1 s before
they sleep. For the small products a server runs per request — a tap's decode (0.1 ms of
arithmetic), a zoom's categorical shading (an H×W×labels by labels×3 product) — that spinning
was most of the request's CPU, taken from the event loop and every other session
(BENCHMARKS.md, "Tap latency" and "Zoom"). Large work (an encoding of the whole dataset)
keeps every core.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_BLAS: list = []
# The limit is the process's: two threads limiting at once could restore each other's "before"
# out of order and leave BLAS on one thread for good. Reentrant: a model may call another.
_LOCK = threading.RLock()


@contextlib.contextmanager
def blas_threads(limit: int | None) -> Iterator[None]:
    """Limit BLAS to ``limit`` threads while the block runs (None: no limit); 8 µs once set up.

    >>> with blas_threads(1):
    ...     _ = np.ones((4, 3)) @ np.ones((3, 2))  # doctest: +SKIP
    """
    if limit is None:
        yield
        return
    with _LOCK:
        if not _BLAS:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController().select(user_api="blas"))  # finds the loaded BLAS: ~ms, once
        with _BLAS[0].limit(limits=limit):
            yield
