"""The shared state of a run (aereport.state): usable before UMAP and t-SNE exist (they follow
from a background process), and trained by Train ! in another process whose weights come back."""
from __future__ import annotations

import os
import shutil
import signal
import time

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document

from aereport import AEReportError
from aereport.report import Report
from aereport.state import ReportState
from aereport.store import Run


def wait_until(condition, timeout=180):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.2)


def test_layouts_join_the_open_report_as_they_are_computed(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    run, expected = Run(run_dir), Run(trained_run).load_layouts()
    run.save_layouts({"ae": expected["ae"]}, None)  # a run with only its autoencoder layout

    start = time.perf_counter()
    state = ReportState.open(run_dir, layouts=["ae", "pca", "umap"], background=True)
    assert time.perf_counter() - start < 30  # no layout was computed before returning
    assert list(state.layouts) == ["ae"] and state.layouts_pending == ["pca", "umap"]

    report = Report(state=state)
    page = pn.panel(report)
    page.get_root(Document())
    page.select(pn.Tabs)[0].active = 1  # the Decoder tab opened too: a tab's view is made then
    buttons = page.select(pn.widgets.RadioButtonGroup)  # Embeddings' and Decoder's layout buttons
    assert [list(b.options) for b in buttons] == [["Autoencoder latent"]] * 2
    report.explore.__panel__()  # the Explore tab drawn before the layouts arrive
    assert report.embeddings.param.layout.objects == ["ae"]
    assert report.decoder.param.layout.objects == ["ae"]
    note = report.embeddings._pending_layouts()
    assert note.visible and note[1].value.startswith("Computing PCA in the background (UMAP next)")

    wait_until(lambda: "pca" in state.layouts)
    report.sync()  # what a served session is told to do when the shared state changes
    assert report.embeddings.param.layout.objects == ["ae", "pca"]
    assert [list(b.options) for b in buttons] == [["Autoencoder latent", "PCA"]] * 2
    assert note[1].value.startswith("Computing UMAP in the background:")
    np.testing.assert_allclose(state.layouts["pca"], expected["pca"]["xy"], atol=1e-4)

    wait_until(lambda: not state.layouts_pending)
    report.sync()
    assert report.embeddings.param.layout.objects == ["ae", "umap", "pca"]
    assert not note.visible and state.message == ""
    report.embeddings.layout = "umap"  # the new layout draws
    assert set(run.load_layouts()) == {"ae", "pca", "umap"}  # saved: the next start has them at once
    # The Explore tab grew a pane and a neighbour strip for each.
    assert report.explore.layouts == ["ae", "umap", "pca"] and len(report.explore._grid.objects) == 3
    report.explore.exploration.picked = 7
    strips = report.explore.exploration.neighbour_strips()
    assert set(strips) == {"pixels", "ae", "umap", "pca"} and "pixel-space neighbours" in strips["umap"][1]


def test_a_failed_background_layout_is_reported_and_the_rest_still_come(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    expected = Run(trained_run).load_layouts()
    Run(run_dir).save_layouts({"ae": expected["ae"]}, None)
    state = ReportState.open(run_dir, layouts=["ae"])
    (run_dir / "autoencoder.keras").write_bytes(b"not a model")  # the child process cannot load it
    state.compute_async(["pca"]).result(timeout=180)
    assert list(state.layouts) == ["ae"] and state.layouts_pending == []
    assert state.message.startswith("Layout PCA failed: ") and "autoencoder.keras: not a Keras model archive" in state.message
    assert "Traceback" not in state.message and "\n" not in state.message


@pytest.fixture
def state(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    s = ReportState.open(run)
    yield s
    s._trainer.close()


def test_training_runs_in_another_process_and_its_weights_come_back(state):
    before = state.latent.decode("ae", 0.5, -0.5)[0]
    progress, epochs, version = [], state.epoch, state.version
    state.param.watch(lambda *events: progress.extend(e.new for e in events if e.name == "progress"), ["progress"])

    state.train_async(1).result(timeout=300)

    assert state._trainer.pid not in (None, os.getpid())  # stays for the next Train, model in memory
    assert state.epoch == epochs + 1 == Run(state.run.path).epochs_done and not state.training
    assert len(state.history) == epochs + 1 and state.version != version
    assert any(0 < p < 1 for p in progress) and progress[-1] == 1.0  # live progress from the child
    saved = Run(state.run.path).load_autoencoder()
    for ours, theirs in zip(state.ae.model.get_weights(), saved.model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # the server's model is the checkpoint
    np.testing.assert_allclose(state.layouts["ae"], state.run.load_layouts()["ae"]["xy"])
    np.testing.assert_allclose(state.latent.codes, saved.encoder.predict(state.dataset.images, verbose=0), atol=1e-5)
    assert np.abs(state.latent.decode("ae", 0.5, -0.5)[0] - before).max() > 1e-4


def test_a_killed_training_process_is_reported_and_the_next_train_starts_a_new_one(state):
    epochs = state.epoch
    job = state.train_async(50)
    deadline = time.time() + 120
    while not (0 < state.progress < 1) and time.time() < deadline:  # the child is training
        time.sleep(0.05)
    pid = state._trainer.pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(AEReportError, match="the training process stopped; the run keeps every finished epoch"):
        job.result(timeout=60)
    assert not state.training and state.message.startswith("Training failed: the training process stopped")
    done = Run(state.run.path).epochs_done  # whatever epochs finished before the kill are kept
    assert done >= epochs and Run(state.run.path).load_autoencoder() is not None

    state.train_async(1).result(timeout=300)
    assert state._trainer.pid != pid and state.epoch == done + 1 == Run(state.run.path).epochs_done


def test_a_model_handed_in_from_memory_trains_on_a_thread(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    ae = Run(run).load_autoencoder()
    s = ReportState.open(run, ae=ae)  # explore(): the user's own object, never re-read from disk
    assert s._trainer is None
    s.train_async(1).result(timeout=300)
    assert s.ae is ae and Run(run).epochs_done == s.epoch
