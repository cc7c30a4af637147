"""aereport.training and aereport.store: checkpoints, resume, determinism, atomic files."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from aereport import AEReportError
from aereport.callbacks import ProgressBar
from aereport.data import Dataset
from aereport.store import Run
from aereport.training import TrainingConfig, load_or_build, new_run, train


@pytest.fixture
def digits(mnist):
    # 1,200 train + 300 held-out real digits
    idx = np.r_[np.arange(0, 60000, 50), np.arange(60000, 70000, 34)[:300]]
    return mnist.subset(idx)


def weights(ae):
    return np.concatenate([w.ravel() for w in ae.model.get_weights()])


def test_train_writes_a_complete_run(tmp_path, digits):
    run = new_run(tmp_path / "r", TrainingConfig(dataset={"name": "mnist"}), digits)
    ae = train(run, digits, epochs=2)
    files = {p.name for p in run.path.iterdir()}
    assert files == {"config.json", "history.json", "autoencoder.keras", "encoder.keras", "decoder.keras"}
    h = Run(run.path).history
    assert [r["epoch"] for r in h] == [1, 2] and h[1]["loss"] < h[0]["loss"] and "val_loss" in h[1]
    again = Run(run.path).load_autoencoder()
    assert np.array_equal(weights(again), weights(ae))


def test_same_seed_same_result_and_resume_equals_straight_run(tmp_path, digits):
    cfg = TrainingConfig(seed=7, dataset={"name": "mnist"})
    straight = train(new_run(tmp_path / "a", cfg, digits), digits, epochs=2)
    twin = train(new_run(tmp_path / "b", cfg, digits), digits, epochs=2)
    assert np.array_equal(weights(straight), weights(twin))
    # interrupted after one epoch, resumed from disk in a fresh model object
    c = new_run(tmp_path / "c", cfg, digits)
    train(c, digits, epochs=1)
    resumed = train(Run(c.path), digits, epochs=1)
    assert Run(c.path).epochs_done == 2
    np.testing.assert_allclose(weights(resumed), weights(straight), atol=1e-6)


def test_different_seed_different_model(tmp_path, digits):
    a = load_or_build(new_run(tmp_path / "a", TrainingConfig(seed=1), digits))
    b = load_or_build(new_run(tmp_path / "b", TrainingConfig(seed=2), digits))
    assert not np.array_equal(weights(a), weights(b))


def test_mismatched_dataset_is_refused(tmp_path, digits):
    run = new_run(tmp_path / "r", TrainingConfig(), digits)
    other = Dataset.from_arrays(np.zeros((4, 10, 10)))
    with pytest.raises(AEReportError, match=r"expects images of shape \(28, 28\) but dataset 'array' has \(10, 10\)"):
        train(run, other, epochs=1)


def test_run_directory_errors(tmp_path, digits):
    with pytest.raises(AEReportError, match="not a run directory"):
        Run(tmp_path)
    run = new_run(tmp_path / "r", TrainingConfig(), digits)
    with pytest.raises(AEReportError, match="a run already exists there"):
        new_run(tmp_path / "r", TrainingConfig(), digits)
    with pytest.raises(AEReportError, match="holds no trained model"):
        run.load_autoencoder()
    (run.path / "history.json").write_text("[{broken")
    with pytest.raises(AEReportError, match="history.json: corrupt JSON"):
        run.history
    (run.path / "autoencoder.keras").write_bytes(b"not a zip")
    with pytest.raises(AEReportError, match="autoencoder.keras: not a Keras model archive"):
        run.load_autoencoder()


@pytest.mark.parametrize("kwargs, message", [
    (dict(preset="x"), "preset must be one of"),
    (dict(latent_dim=0), "latent_dim must be a positive integer"),
    (dict(batch_size=-4), "batch_size must be a positive integer"),
    (dict(learning_rate=0), "learning_rate must be a finite number above 0 and below 10"),
])
def test_bad_training_config(kwargs, message):
    with pytest.raises(AEReportError, match=message):
        TrainingConfig(**kwargs)


def test_negative_epochs(tmp_path, digits):
    run = new_run(tmp_path / "r", TrainingConfig(), digits)
    with pytest.raises(AEReportError, match="epochs must be an integer >= 0. Received: epochs=-1"):
        train(run, digits, epochs=-1)


def test_config_is_recorded(tmp_path, digits):
    run = new_run(tmp_path / "r", TrainingConfig(preset="seed", dataset={"name": "mnist"}), digits)
    cfg = json.loads((run.path / "config.json").read_text())
    assert cfg["preset"] == "seed" and cfg["img_shape"] == [28, 28] and cfg["n_images"] == len(digits)


def test_a_small_dataset_trains_in_smaller_batches_and_a_run_keeps_the_size_it_began_with(tmp_path, digits):
    """1,200 training images make 4 steps an epoch at 256 images a batch: too few for Adam
    (BENCHMARKS.md "Session 24"), so a new run takes 64 and records it; a run recorded without a
    size (before sizes mattered) trains on at 256, and a given size is kept."""
    def batches_trained(run):  # as the CLI's progress bar counts them
        bar = ProgressBar(file=io.StringIO())
        train(run, digits, epochs=1, callbacks=[bar])
        assert bar.bar.n == bar.bar.total
        return bar.bar.n

    run = new_run(tmp_path / "small", TrainingConfig(), digits)
    assert run.config["batch_size"] == 64
    assert batches_trained(run) == 19  # ceil(1,200 / 64)

    older = new_run(tmp_path / "older", TrainingConfig(), digits)
    config = json.loads((older.path / "config.json").read_text())
    (older.path / "config.json").write_text(json.dumps({**config, "batch_size": None}))
    assert batches_trained(Run(older.path)) == 5  # ceil(1,200 / 256)

    assert new_run(tmp_path / "given", TrainingConfig(batch_size=128), digits).config["batch_size"] == 128
    assert new_run(tmp_path / "seed", TrainingConfig(preset="seed"), digits).config["batch_size"] == 64


def test_fresh_machine_default_run(tmp_path):
    """What `make serve` does on a new machine: train the embedded sample once, then reuse it."""
    from aereport.runs import ensure_default_run

    run = ensure_default_run(tmp_path / "mnist-sample", epochs=1)
    assert run.epochs_done == 1 and run.config["dataset"] == {"name": "mnist-sample"}
    assert run.config["n_images"] == 5000 and run.config["preset"] == "dense"
    assert ensure_default_run(tmp_path / "mnist-sample", epochs=1).epochs_done == 1  # reused, not retrained
