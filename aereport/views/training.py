"""The Training tab: the architecture diagram, Train! and Sample!, epochs, loss and the loss curve."""
from __future__ import annotations

import functools

import holoviews as hv
import numpy as np
import panel as pn
import param

from .._validation import AEReportError
from ._base import StateView
from ._workarounds import CANVAS
from ..variational import ACTIVE_KL
from .images import image, name_renderer

PART_COLORS = {"input": "#7f7f7f", "encoder": "#1f77b4", "decoder": "#2ca02c", "output": "#7f7f7f"}
MAX_NODES = 8


def architecture_diagram(layers: list[dict]) -> hv.Overlay:
    """The network as columns of neurons joined by weights, labelled with layer kind and size.

    Wide layers show ``MAX_NODES`` neurons with a gap, as the seed's figure did.

    >>> architecture_diagram(state.architecture)  # doctest: +SKIP
    """
    nodes, edges, labels = [], [], []
    previous = None
    for i, layer in enumerate(layers):
        n = min(layer["units"], MAX_NODES)
        ys = np.linspace(-(n - 1) / 2, (n - 1) / 2, n) if n > 1 else np.zeros(1)
        if layer["units"] > MAX_NODES:
            ys = ys + np.sign(ys) * 0.5  # the gap stands for the neurons not drawn
        part = "latent" if layer["name"] == "latent" else layer["part"]
        color = "#ff7f0e" if part == "latent" else PART_COLORS[part]
        nodes += [(i, y, color) for y in ys]
        if previous is not None:
            edges += [(i - 1, y0, i, y1) for y0 in previous for y1 in ys]
        previous = ys
        title = "latent" if part == "latent" else layer["kind"].replace("Conv2DTranspose", "ConvT")
        labels.append((i, -MAX_NODES / 2 - 1.2, f"{title}\n{layer['units']:,}"))
    return (hv.Segments(edges).opts(color="#bbbbbb", line_width=0.4, line_alpha=0.6)
            * hv.Points(nodes, vdims="color").opts(color="color", size=11, line_color="white")
            * hv.Labels(labels).opts(text_font_size="9pt", text_color="#333333")).opts(
        hv.opts.Overlay(xaxis=None, yaxis=None, toolbar=None, show_frame=False, responsive=True,
                        height=320, title="Architecture", ylim=(-MAX_NODES / 2 - 2.2, MAX_NODES / 2 + 1),
                        default_tools=[], **CANVAS))


def kl_bars(kl: np.ndarray, active: np.ndarray) -> hv.Bars:
    """A VAE's mean KL divergence per latent dimension, the active units (mean KL above
    :data:`~aereport.variational.ACTIVE_KL`) in colour, the others grey.

    >>> kl_bars(np.array([0.8, 0.001]), np.array([True, False]))  # doctest: +SKIP
    """
    rows = [(f"z{i}", float(v), "active" if a else "inactive") for i, (v, a) in enumerate(zip(kl, active))]
    n = int(np.sum(active))
    return hv.Bars(rows, kdims=["dimension"], vdims=["KL", "unit"]).opts(
        color="unit", cmap={"active": "#1f77b4", "inactive": "#bbbbbb"}, responsive=True, height=220,
        title=f"KL divergence per latent dimension: {n} of {len(kl)} active (mean KL > {ACTIVE_KL})",
        show_legend=False, tools=["hover"], hooks=[name_renderer("kl-bars")], **CANVAS)


def loss_curve(history: list[dict]) -> hv.Overlay:
    """Training (and held-out) loss per epoch."""
    epochs = [r["epoch"] for r in history]
    curves = [hv.Curve((epochs, [r["loss"] for r in history]), "epoch", "loss", label="train")]
    if history and "val_loss" in history[0]:
        curves.append(hv.Curve((epochs, [r.get("val_loss", np.nan) for r in history]), "epoch", "loss",
                               label="held-out"))
    # framewise on the curves (on the overlay it never reaches the plot): the axes grow with the epochs.
    return hv.Overlay(curves).opts(hv.opts.Curve(line_width=2, tools=["hover"], framewise=True),
                                   hv.opts.Overlay(responsive=True, height=260, title="Loss (MSE)",
                                                   legend_position="top_right", **CANVAS))


class TrainingView(StateView):
    """Train the shared model further and watch it learn; sample an input beside its reconstruction.

    >>> TrainingView(state=ReportState.open("runs/mnist"))  # doctest: +SKIP
    """

    epochs = param.Integer(default=1, bounds=(1, 100), doc="Epochs to run per click of Train")
    sample_seed = param.Integer(default=0, bounds=(0, None), doc="Which random sample Sample shows")
    drawn_history = param.List(default=[], precedence=-1, doc="The loss history the curve shows")
    drawn_version = param.String(default="", precedence=-1, doc="The model version the samples show")

    def __init__(self, **params):
        super().__init__(**params)
        # Fixed widths: a control that grows with its text ("Training…", a longer loss) reflows
        # the page, and every responsive plot on it (hidden tabs too) reports a new size, which
        # made the server re-run Datashader on the full dataset for each progress update.
        self._train_button = pn.widgets.Button(label="Train !", color="primary", width=110)
        self._train_button.on_click(self._train)
        self._sample_button = pn.widgets.Button(label="Sample !", color="success", width=110)
        self._sample_button.on_click(lambda event: setattr(self, "sample_seed", self.sample_seed + 1))
        self._message = pn.pane.Alert("", alert_type="danger", visible=False)
        self._lock_button()

    @param.depends("status.history", "status.version", "shown", watch=True, on_init=True)
    def _catch_up(self):
        # The curve and the reconstruction redraw only while this tab is on screen.
        if self.shown:
            self.param.update(drawn_history=list(self.status.history), drawn_version=self.status.version)

    def _train(self, event=None):
        try:
            self.state.train_async(self.epochs)
        except AEReportError as exc:
            self._message.param.update(object=str(exc), visible=True)

    @param.depends("status.training", watch=True)
    def _lock_button(self):
        self._train_button.param.update(disabled=self.status.training or bool(self.state.not_trainable),
                                        label="Training…" if self.status.training else "Train !")

    @param.depends("status.message", watch=True)
    def _show_message(self):
        self._message.param.update(object=self.status.message, visible=bool(self.status.message))

    @staticmethod
    def _stats(epoch: int, loss: float | None) -> str:
        text = "–" if loss is None else f"{loss:.5f}"
        return (f"<div style='font-size:1.2em'>Epochs: <b class='ae-epochs'>{epoch}</b>"
                f" &nbsp; Loss: <b class='ae-loss'>{text}</b></div>")

    def _sample(self, sample_seed: int, which: int, version: str = "") -> hv.Element:
        if which == 0:  # the input alone: no reconstruction to compute for it
            i = self.state.sample_index(sample_seed)
            label = "" if self.state.labels is None else f", label {self.state.dataset.label_text(self.state.labels[i])}"
            return image(self.state.dataset.images[i], name="sample-input", title=f"Model input (#{i}{label})")
        return image(self.state.sample(sample_seed)[2], name="sample-output", title="Model output")

    def __panel__(self) -> pn.viewable.Viewable:
        self._follow_state()
        progress = pn.indicators.Progress(
            value=pn.bind(lambda p: int(round(p * 100)), self.status.param.progress), max=100, width=240)
        # A text widget, of which an update sends the text alone. A bound function returning a
        # pane replaced a child of the layout on each loss update, and an HTML pane re-sends its
        # stylesheets with its text: either way Bokeh re-walked the session's whole document
        # (~80 ms with the report's plots), for every session at once.
        stats = pn.widgets.StaticText(
            value=pn.bind(self._stats, epoch=self.status.param.epoch, loss=self.status.param.loss), width=260)
        curve = hv.DynamicMap(pn.bind(loss_curve, history=self.param.drawn_history))
        # The input changes with Sample !, the reconstruction also with the model.
        streams = [dict(sample_seed=self.param.sample_seed),
                   dict(sample_seed=self.param.sample_seed, version=self.param.drawn_version)]
        samples = [pn.pane.HoloViews(hv.DynamicMap(functools.partial(self._sample, which=i), streams=streams[i]),
                                     linked_axes=False) for i in (0, 1)]
        controls = pn.Row(self._train_button,
                          pn.widgets.IntInput.from_param(self.param.epochs, name="epochs per click", width=130),
                          self._sample_button, progress, stats)
        why = self.state.not_trainable  # a user's model whose loss aereport does not know
        note = pn.pane.Alert(f"Trained by you: Train is off, since {why}.", alert_type="info", name="not-trainable",
                             visible=bool(why), sizing_mode="stretch_width")
        return pn.Column(
            controls, note, self._message,
            pn.Row(pn.Column(*samples),
                   pn.pane.HoloViews(architecture_diagram(self.state.architecture), sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            pn.pane.HoloViews(curve, sizing_mode="stretch_width", linked_axes=False),
            *self._kl(), sizing_mode="stretch_width")

    def _kl(self) -> list:
        """A VAE's KL per dimension, for the model shown (redrawn when training changes it)."""
        if self.state.variational is None:
            return []

        def bars(version=""):
            extras = self.state.variational
            return kl_bars(extras["kl"], extras["active"])
        return [pn.pane.HoloViews(hv.DynamicMap(bars, streams=dict(version=self.param.drawn_version)),
                                  sizing_mode="stretch_width", linked_axes=False)]
