"""Work in a low-priority child process — training, layouts — through one mechanism and one protocol.

A report server answers every browser session on one event loop: minutes of ``fit``, UMAP or
t-SNE on its interpreter kept every tap waiting (BENCHMARKS.md, "Load"). A :class:`Worker` is a
fresh interpreter (``python -m aereport.background``) at the lowest priority, which dies with its
parent. It calls library functions on request; the function (pickled by name), its arguments and
the answers travel over a :mod:`multiprocessing.connection` pipe::

    parent -> child   ("call", function, args, kwargs)
    child -> parent   ("progress", value)  any number of them while the function runs
                      ("result", value)    then one of these: what the function returned,
                      ("error", message)   or why it failed, in one line

A function with a ``progress`` keyword argument is handed a callable that sends
``("progress", value)``. The child lives on between calls, so what a function keeps at module
level (a loaded model) is there for the next call.

Not ``multiprocessing``'s spawn or a ``ProcessPoolExecutor``: spawn runs the user's own script
again in the child (as ``__mp_main__``), and at exit Python waits for a pool's running task, so a
stopped server waited minutes for the layout under way. Not ``dask.distributed``: a scheduler
and a nanny process for one child doing one thing at a time.

>>> worker = Worker()                                      # doctest: +SKIP
>>> worker.call(math.factorial, 5)                         # doctest: +SKIP
120
>>> worker.close()                                         # doctest: +SKIP
"""
from __future__ import annotations

import atexit
import concurrent.futures
import inspect
import os
import pickle
import socket
import subprocess
import sys
import threading
import weakref
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

from ._validation import AEReportError

NICENESS = 19  # the lowest priority: a tap always gets a core before background work does
POLL_S = 0.5  # how often a waiting parent checks that its child still lives
_workers: weakref.WeakSet = weakref.WeakSet()


class WorkerDied(AEReportError):
    """The child process ended (killed, out of memory) before it answered a call."""

    def __init__(self, exit_code: int | None):
        super().__init__("the background process stopped before it finished", exit_code=exit_code)
        self.exit_code = exit_code


class Worker:
    """A child process that calls library functions on request, one call at a time.

    The process starts at the first :meth:`call` (a fresh interpreter: its imports take
    seconds) and stays for the next ones; it ends with :meth:`close`, with its parent, or when it
    dies — then the next call starts a new one.

    Parameters
    ----------
    nice : how much lower than its parent's the child's priority is (0: the same)
    keep_alive : keep the child between calls (what its functions loaded stays loaded), or end
        it after each call (its memory goes back to the machine)
    env : extra environment variables of the child
    """

    def __init__(self, nice: int = NICENESS, keep_alive: bool = True, env: dict[str, str] | None = None):
        self.nice, self.keep_alive, self.env = int(nice), bool(keep_alive), dict(env or {})
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # one call at a time: the pipe carries one conversation
        _workers.add(self)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def _start(self) -> None:
        # A socketpair handed to the child by its descriptor: no listening address, no port.
        ours, theirs = socket.socketpair()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), **self.env}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "aereport.background", str(theirs.fileno()), str(os.getpid()), str(self.nice)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        self._conn = Connection(ours.detach())

    def call(self, function: Callable, *args, progress: Callable[[Any], None] | None = None, **kwargs) -> Any:
        """``function(*args, **kwargs)`` in the child; ``progress(value)`` for each value it reports.

        Raises :class:`AEReportError` with the child's one-line reason if the function fails, or
        :class:`WorkerDied` if the child dies (killed, out of memory) before it answers.

        >>> Worker().call(sum, [1, 2, 3])  # doctest: +SKIP
        6
        """
        with self._lock:
            if self.pid is None:
                self.close()
                self._start()
            try:
                message = ForkingPickler.dumps(("call", function, args, kwargs))
            except (pickle.PicklingError, AttributeError, TypeError) as exc:  # nothing sent: still in step
                raise AEReportError("cannot start the background work: its function and arguments must be "
                                    "importable by name", error=_first_line(exc)) from None
            try:
                self._conn.send_bytes(message)
                while True:
                    if not self._conn.poll(POLL_S):
                        if self._process.poll() is not None:
                            raise EOFError
                        continue
                    kind, value = self._conn.recv()
                    if kind == "progress":
                        if progress is not None:
                            progress(value)
                    elif kind == "result":
                        if not self.keep_alive:
                            self.close()
                        return value
                    else:
                        if not self.keep_alive:
                            self.close()
                        raise AEReportError(value)
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
                process = self._process
                self.close(kill=True)
                raise WorkerDied(process.returncode if process is not None else None) from None
            except BaseException:
                # The conversation is out of step (a progress callback failed, the caller was
                # interrupted): a new child for the next call.
                if not isinstance(sys.exc_info()[1], AEReportError):
                    self.close(kill=True)
                raise

    def submit(self, function: Callable, *args, progress: Callable[[Any], None] | None = None,
               **kwargs) -> concurrent.futures.Future:
        """:meth:`call` on a daemon thread; the future holds its result or its error.

        A daemon thread, not an executor's: Python joins executor threads at exit, before any
        atexit hook, so a stopped server would wait for the work under way.

        >>> Worker().submit(sum, [1, 2]).result()  # doctest: +SKIP
        3
        """
        future: concurrent.futures.Future = concurrent.futures.Future()

        def work():
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self.call(function, *args, progress=progress, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)

        threading.Thread(target=work, name="aereport-background", daemon=True).start()
        return future

    def close(self, kill: bool = False) -> None:
        """End the child: it finishes nothing it has begun (``kill`` stops it at once)."""
        conn, process, self._conn, self._process = self._conn, self._process, None, None
        if conn is not None:
            conn.close()  # the child's next read fails and it exits
        if process is not None:
            if kill:
                process.kill()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@atexit.register
def _stop_all() -> None:
    # A child outliving its parent would go on using both cores for minutes.
    for worker in list(_workers):
        process = worker._process
        if process is not None and process.poll() is None:
            process.kill()


def die_with_parent() -> None:
    """Have the OS kill this process when its parent dies (Linux; elsewhere a no-op): a killed
    server or CLI leaves no child computing for nobody.

    >>> die_with_parent()  # doctest: +SKIP
    """
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


def _serve(conn: Connection) -> None:
    """The child's loop: call each requested function and answer, until the pipe closes."""
    def send(message) -> None:
        try:
            conn.send(message)
        except (BrokenPipeError, OSError):  # the parent is gone: nobody to tell, stop
            os._exit(0)

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent closed the pipe or died
            return
        except Exception as exc:  # a function or argument this interpreter cannot unpickle
            send(("error", f"cannot start the background work ({type(exc).__name__}: {_first_line(exc)})"))
            continue
        _, function, args, kwargs = message
        try:
            if _takes_progress(function):
                kwargs = {**kwargs, "progress": lambda value: send(("progress", value))}
            result = function(*args, **kwargs)
        except AEReportError as exc:
            send(("error", str(exc)))
        except Exception as exc:  # reported in one line, as the parent's own errors are
            send(("error", f"{type(exc).__name__}: {_first_line(exc)}"))
        else:
            send(("result", result))


def _takes_progress(function: Callable) -> bool:
    try:
        return "progress" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


if __name__ == "__main__":
    fd, parent, nice = (int(v) for v in sys.argv[1:4])
    if nice:
        os.nice(nice)
    die_with_parent()
    if os.getppid() != parent:
        sys.exit(1)  # the parent ended before the line above
    _serve(Connection(fd))
