"""Panel/HoloViews components over a :class:`aereport.state.ReportState`; the only UI layer.

>>> from aereport.views import EmbeddingsView, DecoderView, TrainingView  # doctest: +SKIP
"""
import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  the Bokeh backend, loaded without notebook output

hv.Store.set_current_backend("bokeh")
