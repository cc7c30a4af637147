"""The Embeddings tab: every sample in one of the 2-D layouts, drawn by Datashader."""
from __future__ import annotations

import holoviews as hv
import panel as pn
import param

from ..layouts import LAYOUT_TITLES
from ._base import StateView
from ._elements import color_key, frame, name_renderer, shade


class EmbeddingsView(StateView):
    """Switch between the autoencoder latent, UMAP, t-SNE and PCA layouts of the full dataset.

    >>> EmbeddingsView(state=ReportState.open("runs/mnist"))  # doctest: +SKIP
    """

    layout = param.Selector(objects=["ae"], doc="Which 2-D layout of the dataset to draw")

    def __init__(self, **params):
        super().__init__(**params)
        names = [n for n in LAYOUT_TITLES if n in self.state.layouts]
        self.param.layout.objects = names
        self.param.layout.names = {LAYOUT_TITLES[n]: n for n in names}
        if self.layout not in names:
            self.layout = names[0]
        self._key = color_key(self.state.dataset)
        self._ranges = None

    @param.depends("layout", "status.version", watch=True, on_init=False)
    def _forget_viewport(self):
        # Runs before the plot's own stream watcher (registered later), so the next
        # aggregation spans the new layout rather than the old viewport.
        if self._ranges is not None:
            self._ranges.update(x_range=None, y_range=None)

    def _points(self, layout: str, version: str) -> hv.Points:
        return hv.Points(frame(self.state.layouts[layout], self.state.dataset), ["x", "y"], ["label"])

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        streams = dict(layout=self.param.layout, version=self.status.param.version)
        points = hv.DynamicMap(self._points, streams=streams)
        shaded, self._ranges = shade(points, self._key)
        plot = shaded.opts(
            hv.opts.RGB(responsive=True, framewise=True, min_height=520, active_tools=["wheel_zoom"],
                        xlabel="", ylabel="", legend_position="right",
                        hooks=[name_renderer("embedding-raster")]))
        buttons = pn.widgets.RadioButtonGroup.from_param(self.param.layout, color="primary", label="")
        return pn.Column(
            pn.Row(buttons, pn.pane.Markdown(
                f"{len(self.state.dataset):,} images of **{self.state.dataset.name}**; scroll to zoom "
                "(every point is re-aggregated at full resolution).", margin=(0, 20))),
            pn.pane.HoloViews(plot, sizing_mode="stretch_both", min_height=520),
            sizing_mode="stretch_both")

