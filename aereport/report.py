"""The report: Embeddings, Decoder and Training tabs over one shared run, plus the served app.

A served process loads each run once (:func:`load_state`) and every browser session builds its
own :class:`Report` over that shared state.

>>> report = Report(state=load_state("runs/mnist"))  # doctest: +SKIP
>>> report.servable()                                 # doctest: +SKIP
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import panel as pn
import param

from .state import ReportState, Status, ensure_default_run
from .views.decoder import DecoderView
from .views.embeddings import EmbeddingsView
from .views.training import TrainingView

RUN_ENV = "AEREPORT_RUN"
SYNC_MS = 300


@functools.lru_cache(maxsize=None)
def load_state(run_dir: str) -> ReportState:
    """The process-wide :class:`ReportState` of ``run_dir`` (loaded on first use, then shared).

    >>> load_state("runs/mnist") is load_state("runs/mnist")  # doctest: +SKIP
    True
    """
    return ReportState.open(run_dir)


def default_run_dir() -> str:
    """``$AEREPORT_RUN``, else the embedded sample's run under ``~/.cache/aereport/runs``."""
    return os.environ.get(RUN_ENV) or str(Path.home() / ".cache" / "aereport" / "runs" / "mnist-sample")


class Report(pn.viewable.Viewer):
    """The whole report for one run.

    >>> Report(state=load_state("runs/mnist"))  # doctest: +SKIP
    """

    state = param.ClassSelector(class_=ReportState, constant=True, doc="The shared run being shown")
    status = param.ClassSelector(class_=Status, constant=True, doc="This session's copy of the training status")
    active = param.Integer(default=0, bounds=(0, 2), doc="Index of the open tab")

    def __init__(self, **params):
        params.setdefault("status", Status(**params["state"].snapshot()))
        super().__init__(**params)
        views = dict(state=self.state, status=self.status)
        self.embeddings = EmbeddingsView(**views)
        self.decoder = DecoderView(**views)
        self.training = TrainingView(**views)
        self._callback = None

    @classmethod
    def open(cls, run_dir: str | os.PathLike | None = None) -> "Report":
        """A report over the shared state of ``run_dir``.

        With no ``run_dir`` and no ``$AEREPORT_RUN``, the embedded sample's run is used, and
        trained first if this machine has none yet.
        """
        if run_dir is None:
            run_dir = default_run_dir()
            if RUN_ENV not in os.environ:
                ensure_default_run(run_dir)
        return cls(state=load_state(str(run_dir)))

    def sync(self) -> None:
        """Copy what changed in the shared state into this session's status (on its own thread)."""
        changed = {k: v for k, v in self.state.snapshot().items() if getattr(self.status, k) != v}
        if changed:
            self.status.param.update(**changed)

    def __panel__(self) -> pn.viewable.Viewable:
        ds = self.state.dataset
        tabs = pn.Tabs(("Embeddings", self.embeddings), ("Decoder", self.decoder), ("Training", self.training),
                       dynamic=False, sizing_mode="stretch_both")
        #tabs.link(self, active="active", bidirectional=True)
        if pn.state.curdoc is not None and self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.sync, period=SYNC_MS)
        cfg = self.state.run.config
        header = pn.pane.Markdown(
            f"## aereport — {ds.name}\n{len(ds):,} images {'×'.join(map(str, ds.image_shape))} · "
            f"preset **{cfg.get('preset')}**, latent {cfg.get('latent_dim')}-D · run `{self.state.run.path}`",
            sizing_mode="stretch_width")
        return pn.Column(header, tabs, sizing_mode="stretch_both")
