"""Training from a served report runs in its own process (aereport.worker), as the server uses it."""
from __future__ import annotations

import os
import signal
import shutil
import time

import numpy as np
import pytest

from aereport import AEReportError
from aereport.state import ReportState
from aereport.store import Run


@pytest.fixture
def state(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    s = ReportState.open(run)
    yield s
    s.worker.close()


def test_training_runs_in_another_process_and_its_weights_come_back(state):
    before = state.decode_position("ae", 0.5, -0.5)[0]
    progress, epochs, version = [], state.epoch, state.version
    state.param.watch(lambda *events: progress.extend(e.new for e in events if e.name == "progress"), ["progress"])

    state.train_async(1).result(timeout=300)

    assert state.worker.pid not in (None, os.getpid())  # stays for the next Train, model in memory
    assert state.epoch == epochs + 1 == Run(state.run.path).epochs_done and not state.training
    assert len(state.history) == epochs + 1 and state.version != version
    assert any(0 < p < 1 for p in progress) and progress[-1] == 1.0  # live progress from the child
    saved = Run(state.run.path).load_autoencoder()
    for ours, theirs in zip(state.ae.model.get_weights(), saved.model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # the server's model is the checkpoint
    np.testing.assert_allclose(state.layouts["ae"], state.run.load_layouts()["ae"]["xy"])
    np.testing.assert_allclose(state.codes, saved.encoder.predict(state.dataset.images, verbose=0), atol=1e-5)
    assert np.abs(state.decode_position("ae", 0.5, -0.5)[0] - before).max() > 1e-4


def test_a_killed_training_process_is_reported_and_the_next_train_starts_a_new_one(state):
    epochs = state.epoch
    job = state.train_async(50)
    deadline = time.time() + 120
    while not (0 < state.progress < 1) and time.time() < deadline:  # the child is training
        time.sleep(0.05)
    pid = state.worker.pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(AEReportError, match="training process stopped"):
        job.result(timeout=60)
    assert not state.training and state.message.startswith("Training failed: the training process stopped")
    done = Run(state.run.path).epochs_done  # whatever epochs finished before the kill are kept
    assert done >= epochs and Run(state.run.path).load_autoencoder() is not None

    state.train_async(1).result(timeout=300)
    assert state.worker.pid != pid and state.epoch == done + 1 == Run(state.run.path).epochs_done


def test_a_model_handed_in_from_memory_trains_on_a_thread(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ae = Run(run).load_autoencoder()
    s = ReportState.open(run, ae=ae)  # explore(): the user's own object, never re-read from disk
    assert s.worker is None
    s.train_async(1).result(timeout=300)
    assert s.ae is ae and Run(run).epochs_done == s.epoch
