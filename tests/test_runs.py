"""What is done to a run as a whole (aereport.runs): its dataset from its config, its layouts saved
as each is done, the demo runs made once, and a model that draws nothing finite refused."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aereport import AEReportError
from aereport.data import Dataset
from aereport.runs import check_finite, dataset_for, default_layouts, ensure_layouts, lay_out, prepare_run
from aereport.store import Run
from aereport.training import TrainingConfig


@pytest.fixture
def run(run_copy):
    return Run(run_copy)


def test_the_dataset_a_run_names(run, tmp_path):
    assert dataset_for(run).name == "mnist-sample" and len(dataset_for(run)) == 5000
    config = json.loads((run.path / "config.json").read_text())
    np.savez(run.path / "dataset.npz", images=np.zeros((4, 28, 28), np.uint8))
    config["dataset"] = {"name": "array", "options": {"path": "dataset.npz"}}  # kept inside the run
    (run.path / "config.json").write_text(json.dumps(config))
    moved = shutil.move(run.path, tmp_path / "moved")  # a run kept with its images can move
    assert len(dataset_for(Run(moved))) == 4


def test_layouts_are_saved_as_each_is_done(run):
    (run.path / "layouts.parquet").unlink()
    seen = []
    ae = run.load_autoencoder(numpy=True)
    out = ensure_layouts(run, dataset_for(run), ae, ["ae", "pca"], on_done=lambda name, xy: seen.append(
        (name, set(Run(run.path).load_layouts()))))
    assert [name for name, _ in seen] == ["ae", "pca"]
    assert seen[0][1] == {"ae"} and seen[1][1] == {"ae", "pca"}  # on disk before the next began
    assert out["pca"]["xy"].shape == (5000, 2)
    assert default_layouts({}) == ["ae", "umap", "tsne", "pca"] and default_layouts(out) == ["ae", "pca"]


def test_what_a_background_process_runs(run):
    (run.path / "layouts.parquet").unlink()
    reported = []
    assert lay_out(str(run.path), ["pca"], progress=reported.append) == ["pca"]
    assert [name for name, _ in reported] == ["pca"] and reported[0][1].shape == (5000, 2)
    assert set(Run(run.path).load_layouts()) == {"pca"}


def test_a_model_that_draws_nothing_finite_is_refused(run):
    ae = run.load_autoencoder(numpy=True)
    dataset = dataset_for(run)
    check_finite(ae, dataset, "model")  # a trained model passes
    weights = ae.model.get_weights()
    ae.model.set_weights([np.full_like(w, np.inf) if i == 0 else w for i, w in enumerate(weights)])
    with pytest.raises(AEReportError, match=r"model: the model's weights are not finite .*Received: weights_not_finite=1"):
        check_finite(ae, dataset, "model")


def test_prepare_run_makes_once_and_never_over_other_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (256, 8, 8), np.uint8)
    dataset = Dataset.from_arrays(images, name="tiny")
    config = TrainingConfig(preset="seed", n_units=8)
    run = prepare_run(tmp_path / "r", dataset, config, epochs=1, keep_dataset=True)
    assert run.epochs_done == 1 and run.has_model
    again = prepare_run(tmp_path / "r", dataset, config, epochs=1, keep_dataset=True)
    assert again.epochs_done == 1  # reused, not retrained
    assert prepare_run(tmp_path / "r", dataset, config, epochs=2).epochs_done == 2  # trained on to the epochs asked
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_text("mine")
    with pytest.raises(AEReportError, match="the folder is not empty and it is not a run"):
        prepare_run(tmp_path / "photos", dataset, config, epochs=1)
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["me.jpg"]
    with pytest.raises(AEReportError, match="epochs must be an integer >= 0"):
        prepare_run(tmp_path / "new", dataset, config, epochs=-1)
    assert not (tmp_path / "new").exists()  # the failed run left nothing
