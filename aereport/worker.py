"""Training in a child process, so a served report never shares its interpreter with ``fit``.

A report server answers every browser session on one event loop. Training on a thread of that
process made every session wait for it: the two share one GIL, one TensorFlow thread pool and
two cores, and the load benchmark measured taps taking seconds while one visitor trained
(BENCHMARKS.md, "Load"). The worker is a separate process at low priority (``nice``): it loads
the run's checkpoint and dataset once, trains on request and sends progress and, at the end,
the new weights and autoencoder layout back through a pipe. The run directory stays the one
source of truth — the worker checkpoints every epoch exactly as ``aereport train`` does.

>>> worker = TrainingWorker("runs/mnist")                              # doctest: +SKIP
>>> result = worker.train(1, on_update=print)                          # doctest: +SKIP
>>> ae.model.set_weights(result["weights"])                            # doctest: +SKIP
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from ._validation import AEReportError

NICENESS = 19  # the lowest priority: a tap always gets a core before training does
POLL_S = 0.5
UPDATES = ("progress", "loss", "epoch", "history")


class TrainingWorker:
    """A child process holding one run's model and dataset, training it on request.

    The process starts at the first :meth:`train` (TensorFlow's import takes seconds) and stays
    for the next ones with its model in memory; it ends with :meth:`close`, with its parent (its
    pipe closes), or when it dies — then the next :meth:`train` starts a new one from the run's
    last checkpoint.
    """

    def __init__(self, run_dir: str | os.PathLike, safe_mode: bool = True):
        self.run_dir, self.safe_mode = Path(run_dir), safe_mode
        self._process = None
        self._conn = None

    @property
    def pid(self) -> int | None:
        """The worker process's id while it runs."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def _start(self) -> None:
        # A fresh interpreter (`python -m aereport.worker`), not a fork — forking a process that
        # runs TensorFlow's threads can deadlock — and not multiprocessing's spawn, which would
        # re-run the user's own script as the child's __main__.
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "aereport.worker", str(theirs.fileno()), str(self.run_dir),
             "safe" if self.safe_mode else "trust"], pass_fds=[theirs.fileno()])
        theirs.close()
        self._conn = Connection(ours.detach())

    def train(self, epochs: int, on_update: Callable[[dict], None] = lambda values: None) -> dict:
        """Train ``epochs`` more epochs; ``on_update`` receives progress as Status parameter values.

        Returns the trained model's ``{"weights": [...], "ae": (n, 2) layout, "codes": (n, d)}``. Raises
        :class:`AEReportError` if training fails or the process dies (at most the running epoch
        is lost: the run holds every finished one).
        """
        if self.pid is None:
            self._start()
        try:
            self._conn.send(("train", int(epochs)))
            while True:
                if not self._conn.poll(POLL_S):
                    if self._process.poll() is not None:
                        raise EOFError
                    continue
                kind, payload = self._conn.recv()
                if kind == "update":
                    on_update(payload)
                elif kind == "done":
                    return payload
                else:
                    raise AEReportError(payload)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self._process.poll() if self._process is not None else None
            self.close()
            raise AEReportError(f"the training process stopped (exit code {code}); the run keeps "
                                "every finished epoch, press Train again to continue") from None

    def close(self) -> None:
        """End the worker process (a running training loses its current epoch)."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = self._conn = None


def _serve(conn, run_dir: str, safe_mode: bool) -> None:
    """The worker's loop: load once, then train for every request until the pipe closes."""
    os.nice(NICENESS)
    from .callbacks import ParamProgress
    from .model import encode
    from .state import Status, dataset_for, ensure_layouts
    from .store import Run
    from .training import load_or_build, train

    try:
        run = Run(run_dir)
        dataset = dataset_for(run)
        ae = load_or_build(run, safe_mode)
    except Exception as exc:  # reported in the parent's words, not as a child's traceback
        _send(conn, "error", f"{type(exc).__name__}: {exc}" if not isinstance(exc, AEReportError) else str(exc))
        return
    while True:
        try:
            _, epochs = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        history = run.history
        status = Status(epoch=len(history), history=history)
        status.param.watch(lambda *events: _send(conn, "update", {e.name: e.new for e in events}), list(UPDATES))
        try:
            train(run, dataset, epochs, callbacks=[ParamProgress(status)], ae=ae)
            layout = ensure_layouts(run, dataset, ae, ["ae"], run.load_layouts())["ae"]["xy"]
            _send(conn, "done", {"weights": ae.model.get_weights(), "ae": layout,
                                 "codes": encode(ae.encoder, dataset.images)})
        except AEReportError as exc:
            _send(conn, "error", str(exc))
        except Exception as exc:
            _send(conn, "error", f"{type(exc).__name__}: {exc}")


def _send(conn, kind: str, payload) -> None:
    try:
        conn.send((kind, payload))
    except (BrokenPipeError, OSError):  # the server is gone: nobody to tell, stop
        os._exit(0)


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), sys.argv[2], sys.argv[3] == "safe")
