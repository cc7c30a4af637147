"""aereport: train an autoencoder on an image dataset and explore it in an interactive report.

>>> import aereport
>>> ds = aereport.load_dataset("mnist-sample")
"""
from ._validation import AEReportError
from .data import Dataset, load_dataset

__version__ = "0.1.0"
__all__ = ["AEReportError", "Dataset", "load_dataset", "__version__"]
