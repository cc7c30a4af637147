"""Reading and writing files safely: only regular files are read, within a size budget, and every
file is written whole under a temporary name, then renamed into place.

A user's files are worth more than any convenience. A read that opens a named pipe waits
forever, and one that allocates what a header claims can take the machine's memory: both are
refused here, with one line naming the file. A write never leaves half a file under a real name
(a killed writer leaves a hidden ``.name.*`` temporary, which :func:`sweep` removes), never
replaces anything but a regular file, and checks that every byte reached the disk.

>>> with atomic_path("out.json") as tmp:  # doctest: +SKIP
...     tmp.write_text("{}")
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from ._validation import AEReportError

PathLike = str | os.PathLike


def as_path(value, name: str) -> Path:
    """``value`` as a :class:`~pathlib.Path` (``~`` expanded), or a clear error for anything that
    is not a path: ``""`` (an unset shell variable), a number, None.

    >>> as_path("~/runs", "run_dir").name
    'runs'
    """
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)) or str(value).strip() == "":
        raise AEReportError(f"{name} must be a path (a non-empty str or os.PathLike)", **{name: value})
    return Path(value).expanduser()


def kind_of(mode: int) -> str:
    """What a file of ``os.stat`` mode ``mode`` is, in a word for messages."""
    for test, word in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a link")):
        if test(mode):
            return word
    return "not a regular file"


def regular_file(path: PathLike, expected: str = "a file") -> Path:
    """``path`` if it names a regular file (a link to one is fine); else one clear error.

    Opening a named pipe blocks until someone writes to it, and a device can stream forever:
    a reader checks first.

    >>> regular_file("/etc/hostname")  # doctest: +SKIP
    PosixPath('/etc/hostname')
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AEReportError(f"{path}: file not found; expected {expected}", path=str(path)) from None
    except OSError as exc:
        raise AEReportError(f"{path}: cannot read it ({exc.strerror}); expected {expected}", path=str(path)) from None
    if not stat.S_ISREG(mode):
        raise AEReportError(f"{path}: is {kind_of(mode)}; expected {expected}", path=str(path))
    return path


def read_bytes(path: PathLike, expected: str = "a file") -> bytes:
    """The bytes of the regular file ``path``, or one clear error.

    >>> read_bytes("/etc/hostname")  # doctest: +SKIP
    b'box\\n'
    """
    path = regular_file(path, expected)
    check_memory(path.stat().st_size, f"{path}", expected)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AEReportError(f"{path}: cannot read it ({exc.strerror}); expected {expected}", path=str(path)) from None


def read_text(path: PathLike, expected: str = "a text file") -> str:
    """The UTF-8 text of the regular file ``path``; a binary file is refused in one line.

    >>> read_text("labels.txt")  # doctest: +SKIP
    """
    raw = read_bytes(path, expected)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AEReportError(f"{path}: not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); expected {expected}",
                            path=str(path)) from None


def available_memory() -> int:
    """Bytes of memory this machine can still give (Linux's MemAvailable; else the free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: let the allocation itself decide


def check_memory(nbytes: int, source: str, what: str = "data") -> None:
    """Refuse to allocate ``nbytes`` for ``source`` when this machine has not that much to give.

    A header claiming 2.8 PiB, or ``--size 100000x100000``, used to end in a ``MemoryError``
    traceback (or the machine swapping) instead of a sentence.

    >>> check_memory(2 ** 60, "huge.npy")
    Traceback (most recent call last):
    ...
    aereport._validation.AEReportError: huge.npy: needs 1.15e+18 bytes of memory for data, more than this machine has available (...). Received: nbytes=1152921504606846976
    """
    available = available_memory()
    if nbytes > available:
        raise AEReportError(f"{source}: needs {nbytes:.3g} bytes of memory for {what}, more than this machine has "
                            f"available ({available:.3g})", nbytes=int(nbytes))


# --- writing -------------------------------------------------------------------------------------

_UMASK: list[int] = []
_UMASK_LOCK = threading.Lock()


def _file_mode() -> int:
    """0666 less the process's umask: what ``open()`` would have made (mkstemp makes 0600)."""
    with _UMASK_LOCK:
        if not _UMASK:
            try:  # Linux tells it without changing it
                with open("/proc/self/status") as f:
                    _UMASK.append(next(int(line.split()[1], 8) for line in f if line.startswith("Umask:")))
            except (OSError, StopIteration, ValueError):
                mask = os.umask(0o022)
                os.umask(mask)
                _UMASK.append(mask)
        return 0o666 & ~_UMASK[0]


def _replaceable(path: Path) -> None:
    """Raise unless ``path`` is absent or a regular file (never rename over a device or a link)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise AEReportError(f"{path}: is {kind_of(mode)}; refused to replace it with a file. Choose another path",
                            path=str(path))


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary is hidden (``.name.*``) and gets the mode ``open()`` would give under the
    umask. What replaces must be a regular file or nothing: a rename onto ``/dev/full`` replaced
    the device node with the file.

    >>> with atomic_path("out.json") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    _replaceable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.fchmod(fd, _file_mode())
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _replaceable(path)  # as it is now, not as it was when the block began
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: PathLike, data: bytes, what: str = "the file") -> int:
    """Write ``data`` to ``path`` atomically and check that all of it is there; returns its size.

    Any failure (a full disk, a size limit, no permission) is one clear error and leaves
    ``path`` as it was.

    >>> write_bytes("report.html", b"<html></html>")  # doctest: +SKIP
    13
    """
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                written = os.fstat(f.fileno()).st_size
            if written != len(data):
                raise OSError(f"wrote {written} of {len(data)} bytes")
    except AEReportError:
        raise
    except OSError as exc:
        raise AEReportError(f"{path}: cannot write {what} ({exc.strerror or exc}); nothing was written",
                            path=str(path)) from None
    return len(data)


def write_json(path: PathLike, obj) -> None:
    """Write ``obj`` as JSON atomically.

    >>> write_json("history.json", [])  # doctest: +SKIP
    """
    write_bytes(path, json.dumps(obj, indent=1, default=_json_default).encode(), f"{Path(path).name}")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (tuple, np.ndarray)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def make_folder(path: PathLike) -> Path:
    """Create the folder ``path`` (and its parents), with the mode the umask gives; one clear
    error if it cannot be made.

    >>> make_folder("runs/new")  # doctest: +SKIP
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise AEReportError(f"{path}: exists and is not a folder; expected a folder", path=str(path)) from None
    except OSError as exc:
        raise AEReportError(f"{path}: cannot create the folder ({exc.strerror})", path=str(path)) from None
    return path


def sweep(path: PathLike) -> None:
    """Delete temporaries :func:`atomic_path` left beside ``path`` when a writer was killed
    mid-write; call it only where no other writer of ``path`` can be running.

    >>> sweep("runs/mnist/history.json")  # doctest: +SKIP
    """
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.*"):
        leftover.unlink(missing_ok=True)


def check_writable(folder: PathLike, name: str) -> None:
    """Raise unless files can be created in ``folder`` (or its nearest existing parent, where
    the folder is still to be made); ``name`` is what the message calls it.

    Probes with a real temporary file: permission bits say nothing for root or read-only mounts.

    >>> check_writable("reports", "--out reports/mnist.html")  # doctest: +SKIP
    """
    folder = Path(folder).expanduser()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise AEReportError(f"{name}: cannot write there ({exc.strerror or exc} in {existing})",
                            folder=str(existing)) from None
