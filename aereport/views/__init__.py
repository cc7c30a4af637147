"""Panel/HoloViews components over a :class:`aereport.state.ReportState`; the only UI layer.

Each view works inside the report or on its own (an app of one figure, a notebook cell):

>>> from aereport.views import EmbeddingsView, DecoderView, TrainingView  # doctest: +SKIP
>>> DecoderView(state=ReportState.open("runs/faces"), drag=True)          # doctest: +SKIP
"""
import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  the Bokeh backend, loaded without notebook output

hv.Store.set_current_backend("bokeh")

from .decoder import DecoderView  # noqa: E402
from .embeddings import EmbeddingsView  # noqa: E402
from .explore import ExploreView  # noqa: E402
from .training import TrainingView  # noqa: E402

__all__ = ["DecoderView", "EmbeddingsView", "ExploreView", "TrainingView"]
