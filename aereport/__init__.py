"""aereport: train an autoencoder on an image dataset and explore it in an interactive report.

>>> import aereport
>>> ds = aereport.load_dataset("mnist-sample")
>>> report = aereport.explore(ds.images, ds.labels)  # doctest: +SKIP
>>> report = aereport.open("runs/mnist")             # doctest: +SKIP
"""
from . import _quiet
from ._validation import AEReportError
from .data import Dataset, load_dataset

_quiet.install()  # TensorFlow's import lines held back (see aereport._quiet)

__version__ = "0.1.0"
__all__ = ["AEReportError", "Dataset", "explore", "load_dataset", "open", "__version__"]


def __getattr__(name: str):
    # The report pulls in Panel and Keras; `import aereport` (and the CLI's training) must not.
    if name in ("explore", "open"):
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module 'aereport' has no attribute {name!r}")
