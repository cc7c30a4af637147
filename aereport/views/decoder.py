"""The Decoder tab: tap anywhere on the latent plane and the decoder draws the image for that spot."""
from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param

from ..state import ReportState, Status
from ._elements import color_key, frame, image, name_renderer, shade


class DecoderView(pn.viewable.Viewer):
    """The autoencoder's latent plane; a tap (or typed x, y) decodes that position.

    >>> DecoderView(state=state, status=Status(), x=10, y=50)  # doctest: +SKIP
    """

    x = param.Number(default=0.0, doc="Latent x of the position to decode")
    y = param.Number(default=0.0, doc="Latent y of the position to decode")
    state = param.ClassSelector(class_=ReportState, constant=True, doc="The run being shown")
    status = param.ClassSelector(class_=Status, constant=True,
                                 doc="This session's copy of the training status")

    def __init__(self, **params):
        super().__init__(**params)
        if "x" not in params and "y" not in params:
            # Start at the middle of the data rather than an arbitrary origin.
            self.x, self.y = (float(v) for v in np.median(self.state.layouts["ae"], axis=0))
        self._key = color_key(self.state.dataset)
        self._ranges = None

    @param.depends("status.version", watch=True)
    def _forget_viewport(self):
        # Retraining moves the latent plane: aggregate over its new extent, not the old viewport.
        if self._ranges is not None:
            self._ranges.update(x_range=None, y_range=None)

    def _plane(self, version: str) -> hv.Points:
        data = frame(self.state.layouts["ae"], self.state.dataset).rename(columns={"x": "z0", "y": "z1"})
        return hv.Points(data, ["z0", "z1"], ["label"])

    def _marker(self, x: float, y: float) -> hv.Points:
        return hv.Points([(x, y)], ["z0", "z1"]).opts(
            marker="x", size=18, line_width=3, color="black",
            hooks=[name_renderer("decoder-marker")])

    def _decoded(self, x: float, y: float, version: str) -> hv.Element:
        return image(self.state.decode(x, y), name="decoded-image", width=280,
                     title=f"decoded at ({x:.4g}, {y:.4g})")

    def _on_tap(self, x=None, y=None):
        if x is not None and y is not None and np.isfinite(x) and np.isfinite(y):
            self.param.update(x=float(x), y=float(y))

    def __panel__(self) -> pn.viewable.Viewable:
        plane, self._ranges = shade(hv.DynamicMap(self._plane, streams=dict(version=self.status.param.version)),
                                    self._key)
        tap = hv.streams.Tap(source=plane, x=None, y=None)
        tap.add_subscriber(self._on_tap)
        marker = hv.DynamicMap(self._marker, streams=dict(x=self.param.x, y=self.param.y))
        plot = (plane * marker).opts(
            hv.opts.RGB(responsive=True, min_height=480, framewise=True, xlabel="latent z0", ylabel="latent z1",
                        active_tools=["wheel_zoom"], tools=["tap"]),
            hv.opts.Overlay(responsive=True, min_height=480, legend_position="right"))
        decoded = hv.DynamicMap(self._decoded, streams=dict(x=self.param.x, y=self.param.y,
                                                            version=self.status.param.version))
        inputs = pn.Row(pn.widgets.FloatInput.from_param(self.param.x, name="x", width=120),
                        pn.widgets.FloatInput.from_param(self.param.y, name="y", width=120))
        return pn.Row(
            pn.Column(pn.pane.Markdown("Tap anywhere on the plane, even where no image lies: the decoder "
                                       "turns the 2-D position into an image."),
                      pn.pane.HoloViews(plot, sizing_mode="stretch_both", min_height=480),
                      sizing_mode="stretch_both"),
            pn.Column(pn.pane.HoloViews(decoded, linked_axes=False), inputs, width=320),
            sizing_mode="stretch_both")
