"""What the views show about a run's training and layouts, as ``param`` parameters.

The shared :class:`~aereport.state.ReportState` is a :class:`Status`; each browser session keeps
its own copy (see ``aereport.views``), so no thread but the session's own touches its document.

>>> Status(epoch=3, loss=0.05).snapshot()["epoch"]
3
"""
from __future__ import annotations

import param


class Status(param.Parameterized):
    """What a view shows about training and the current model; mirrored per browser session."""

    epoch = param.Integer(default=0, bounds=(0, None), doc="Epochs the model has been trained for")
    loss = param.Number(default=None, allow_None=True, doc="Latest training loss (MSE)")
    progress = param.Number(default=0.0, bounds=(0, 1), doc="Fraction of the current Train request done")
    training = param.Boolean(default=False, doc="Whether a Train request is running")
    history = param.List(default=[], item_type=dict, doc="One record per finished epoch")
    version = param.String(default="", doc="Fingerprint of the model's weights; changes after training")
    message = param.String(default="", doc="The last error or notice for the user")
    layouts_ready = param.List(default=[], item_type=str, doc="The layouts that can be drawn")
    layouts_pending = param.List(default=[], item_type=str,
                                 doc="Layouts computing in the background, the one under way first")

    def snapshot(self) -> dict:
        """Every parameter's value, to copy into another :class:`Status`."""
        return {k: getattr(self, k) for k in Status.param if k != "name"}
