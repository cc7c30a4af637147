"""TensorFlow and Keras: imported without the lines TensorFlow's C++ libraries write to stderr as
they load, and asked for by name where they are needed (:func:`require`): a lean install, without
the ``train`` extra, serves, opens and exports runs and says what to install to train.

Importing TensorFlow prints "WARNING: All log messages before absl::InitializeLog() is called are
written to STDERR" and "I0000 ... oneDNN custom operations are on ..." before absl's logging is set
up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them (tensorflow/tensorflow#100442): every ``aereport
train``, every served report's training process and every notebook began with them. While
``tensorflow`` imports, :class:`QuietTensorFlow` holds file descriptor 2 on a temporary file, and
writes back what was held only when the import fails, or when ``AEREPORT_VERBOSE`` is set (CLI:
``--verbose``). Installed when ``aereport`` is imported: whoever imports TensorFlow after it
(Keras, a notebook cell) gets it quiet.

>>> install()  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
from typing import Iterator

from ._validation import AEReportError

VERBOSE_ENV = "AEREPORT_VERBOSE"


def verbose() -> bool:
    """Whether TensorFlow's import lines are wanted (``AEREPORT_VERBOSE`` set, and not to 0)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def held_stderr() -> Iterator[None]:
    """Hold what is written to file descriptor 2 (by C++ or Python) while the block runs; write it
    back if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with held_stderr():
            self.loader.exec_module(module)


class QuietTensorFlow(importlib.abc.MetaPathFinder):
    """A finder that loads the ``tensorflow`` package as usual, with stderr held (see above)."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow" or verbose():
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Put :class:`QuietTensorFlow` first on ``sys.meta_path`` (once; nothing if TensorFlow is in)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorFlow())


EXTRA = "pip install 'aereport[train]' (or 'aereport[train-cpu]' for the CPU-only TensorFlow)"


def require(name: str = "keras"):
    """The module ``name`` (``"keras"`` or ``"tensorflow"``), or one clear error naming the extra
    that installs it.

    >>> require("keras").__name__  # doctest: +SKIP
    'keras'
    """
    try:
        return __import__(name)
    except ModuleNotFoundError as exc:
        if exc.name not in ("keras", "tensorflow"):
            raise
        raise AEReportError(f"training and Keras models need TensorFlow and Keras, which this install lacks: "
                            f"{EXTRA}", missing=exc.name) from None


def progress_bar(**kwargs):
    """A tqdm bar: the notebook widget in Jupyter when ipywidgets is installed (``aereport[notebook]``),
    the text bar everywhere else.

    ``tqdm.auto`` picks the widget in any IPython kernel and, without ipywidgets, warns
    ``TqdmWarning: IProgress not found`` into the notebook before falling back: asking for
    ipywidgets first keeps a notebook without it clean.

    >>> bar = progress_bar(total=3, disable=True); bar.update(1); bar.close()
    """
    try:
        import ipywidgets  # noqa: F401  (only whether it is there)
    except ImportError:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(**kwargs)
