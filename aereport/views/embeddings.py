"""The Embeddings tab: every sample in one of the 2-D layouts, drawn by Datashader."""
from __future__ import annotations

import holoviews as hv
import panel as pn

from ..sprites import THUMBNAILS_AT
from ._base import PlaneView
from .style import frame


class EmbeddingsView(PlaneView):
    """Switch between the autoencoder latent, UMAP, t-SNE and PCA layouts of the full dataset.

    >>> EmbeddingsView(state=ReportState.open("runs/mnist"))  # doctest: +SKIP
    """

    def _points(self, layout: str, version: str) -> hv.Points:
        return hv.Points(frame(self.state.layouts[layout], self.state.dataset), ["x", "y"], ["label"])

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        plot = self._plane(self._points, "embedding-raster").opts(
            responsive=True, min_height=520, active_tools=["wheel_zoom"],
            xlabel="", ylabel="", legend_position="right")
        buttons = pn.widgets.RadioButtonGroup.from_param(self.param.layout, color="primary", label="")
        return pn.Column(
            pn.Row(buttons, pn.pane.Markdown(
                f"{len(self.state.dataset):,} images of **{self.state.dataset.name}**; scroll to zoom "
                f"(every point is re-aggregated at full resolution; with {THUMBNAILS_AT:,} or fewer in "
                "view each is drawn as its own image).", margin=(0, 20)), self._pending_layouts()),
            pn.pane.HoloViews(plot, sizing_mode="stretch_both", min_height=520),
            sizing_mode="stretch_both")

