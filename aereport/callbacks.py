"""Keras callbacks of training: the per-epoch checkpoint, a CLI bar and a param-driven view.

The progress callbacks understand two extra hooks :func:`aereport.training.train` calls: ``set_plan`` (which
epochs and how many batches each) and ``on_checkpoint`` (an epoch was saved to the run).

>>> train(run, ds, epochs=8, callbacks=[ProgressBar()])  # doctest: +SKIP
"""
from __future__ import annotations

import time

from ._quiet import progress_bar, require

keras = require("keras")


class ProgressBar(keras.callbacks.Callback):
    """A tqdm bar over every batch of every planned epoch, showing the loss.

    >>> train(run, ds, epochs=8, callbacks=[ProgressBar()])  # doctest: +SKIP
    """

    def __init__(self, **tqdm_kwargs):
        super().__init__()
        self.tqdm_kwargs = tqdm_kwargs

    def set_plan(self, first: int, last: int, steps: int) -> None:
        self.last = last
        self.bar = progress_bar(total=(last - first) * steps, unit="batch", dynamic_ncols=True, **self.tqdm_kwargs)

    def on_epoch_begin(self, epoch, logs=None):
        self.bar.set_description(f"epoch {epoch + 1}/{self.last}")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs and batch % 25 == 0:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_checkpoint(self, record: dict) -> None:
        self.bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if "loss" in k})
        if record["epoch"] >= self.last:
            self.bar.close()


class RunCheckpoint(keras.callbacks.Callback):
    """Save the run after every epoch (models, then the history that names them), then tell
    ``callbacks`` — through their ``on_checkpoint(record)`` — that the epoch is safe on disk.

    :func:`aereport.training.train` puts it first among its callbacks.

    >>> model.fit(..., callbacks=[RunCheckpoint(run, ae, run.history, [bar]), bar])  # doctest: +SKIP
    """

    def __init__(self, run, ae, history: list, callbacks=()):
        super().__init__()
        self.run, self.ae, self.history, self.callbacks = run, ae, history, list(callbacks)

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self.start, 3)}
        record.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(record)
        self.run.save_epoch(self.ae, self.history)
        for cb in self.callbacks:
            if hasattr(cb, "on_checkpoint"):
                cb.on_checkpoint(record)


class Progress(keras.callbacks.Callback):
    """Report training as :class:`~aereport.status.Status` values: ``update(values)`` with
    ``progress`` (0..1 through the planned batches) and ``loss`` about ten times an epoch, and
    ``epoch``, ``loss`` and ``history`` (every epoch record so far) after each checkpoint.

    >>> train(run, ds, epochs=2, callbacks=[Progress(print, run.history)])  # doctest: +SKIP
    """

    def __init__(self, update, history=()):
        super().__init__()
        self.update, self.history = update, list(history)
        self.first, self.total, self.steps, self.epoch_index = 0, 1, 1, 0

    def set_plan(self, first: int, last: int, steps: int) -> None:
        self.first, self.steps = first, steps
        self.total = max(1, (last - first) * steps)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_index = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Every batch would flood the browser; ~10 updates per epoch reads as smooth.
        if batch % max(1, self.steps // 10) and batch + 1 != self.steps:
            return
        done = (self.epoch_index - self.first) * self.steps + batch + 1
        values = {"progress": min(1.0, done / self.total)}
        if logs and "loss" in logs:
            values["loss"] = float(logs["loss"])
        self.update(values)

    def on_checkpoint(self, record: dict) -> None:
        self.history.append(record)
        self.update({"epoch": record["epoch"], "loss": record["loss"], "history": list(self.history)})


def ParamProgress(target) -> Progress:  # noqa: N802 - reads as the class it makes
    """A :class:`Progress` writing into ``target``'s parameters (a :class:`~aereport.status.Status`).

    >>> train(run, ds, epochs=2, callbacks=[ParamProgress(state)])  # doctest: +SKIP
    """
    return Progress(lambda values: target.param.update(**values), target.history)
