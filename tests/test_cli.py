"""The `aereport` command as a user runs it: real runs, and one-line errors with no traceback."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

from aereport.store import Run

from .conftest import CELEBA_DIR, aereport


def test_trained_run_has_everything(trained_run):
    run = Run(trained_run)
    assert run.epochs_done == 3 and set(run.load_layouts()) == {"ae", "pca", "umap", "tsne"}
    info = aereport("info", "--run", trained_run).stdout
    assert "epochs: 3" in info and "MB on disk)" in info
    assert "labels: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in info
    mse = float(info.split("reconstruction MSE: ")[1].split()[0])
    assert 0 < mse < 0.1 and "on all 5,000 images" in info  # the embedded sample has no test split
    lines = info.split("layouts (saved ")[1].splitlines()[1:]
    assert [line.strip().split(":")[0] for line in lines] == ["ae", "pca", "umap", "tsne"]
    assert "tsne:n=5000:perplexity=30.0:pca=50:seed=0:iter=250" in info  # each with its parameters


def test_version_and_python_m(tmp_path):
    import subprocess
    import sys

    from aereport import __version__

    assert aereport("--version").stdout.strip() == f"aereport {__version__}"
    out = subprocess.run([sys.executable, "-m", "aereport", "info", "--run", tmp_path / "none"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "not a run directory" in out.stderr and "Traceback" not in out.stderr


def test_train_resume_and_layouts_cache(tmp_path, mnist):
    np.savez(tmp_path / "digits.npz", images=mnist.images[:600], labels=mnist.labels[:600])
    run = tmp_path / "run"
    first = aereport("train", "--run", run, "--dataset", "array", "--path", tmp_path / "digits.npz",
                     "--epochs", 1, "--preset", "seed")
    assert "epoch 1/1" in first.stderr  # the progress bar
    second = aereport("train", "--run", run, "--epochs", 1)
    assert "resuming" in second.stderr and Run(run).epochs_done == 2
    done = aereport("layouts", "--run", run, "--only", "pca,ae")
    assert "pca: 600 points in" in done.stdout
    # one line per layout as it is done, named, with its time (the bar named the last one started)
    assert re.search(r"layout pca: PCA in \d+\.\d s", done.stderr) and "layout ae: Autoencoder latent in" in done.stderr
    assert "pca: 600 points (cached)" in aereport("layouts", "--run", run, "--only", "pca").stdout


def test_the_vae_preset_trains_on_its_kl_term_and_is_served_with_numpy(tmp_path, mnist):
    import keras

    from aereport.inference import Chain

    x = mnist.images[::100]
    np.savez(tmp_path / "digits.npz", images=x, labels=mnist.labels[::100])
    run = tmp_path / "vae"
    for beta, name in ((0.0, "plain"), (4.0, "vae")):  # the KL term is in the loss, weighted by beta
        aereport("train", "--run", tmp_path / name, "--dataset", "array", "--path", tmp_path / "digits.npz",
                 "--epochs", 1, "--preset", "vae", "--beta", beta, "--layouts", "ae,pca")
    assert Run(run).config["beta"] == 4.0 and Run(run).history[0]["loss"] > Run(tmp_path / "plain").history[0]["loss"]
    aereport("train", "--run", run, "--epochs", 1)  # resumes with its own beta
    assert len(Run(run).history) == 2
    assert "model: preset=vae latent_dim=2 beta=4" in aereport("info", "--run", run).stdout
    refused = aereport("train", "--run", run, "--epochs", 1, "--beta", 2, check=False)
    assert refused.returncode == 2 and "already holds a run with beta=4.0" in refused.stderr
    served = Run(run).load_autoencoder(numpy=True)  # no TensorFlow for the server
    assert isinstance(served.encoder, Chain) and served.latent_dim == 2
    full = Run(run).load_autoencoder()
    x = x[:50]
    mean, log_var = keras.Model(full.model.get_layer("encoder").inputs,
                                full.model.get_layer("encoder").outputs).predict(x, verbose=0)
    np.testing.assert_allclose(served.encoder(x), mean, atol=1e-5)  # placed by the mean, not a sample
    np.testing.assert_allclose(served.encoder.log_var(x), log_var, atol=1e-5)
    np.testing.assert_allclose(served.model(x), full.model.predict(x, verbose=0), atol=1e-5)


def test_train_faces_with_conv_preset(tmp_path):
    run = tmp_path / "faces"
    aereport("train", "--run", run, "--dataset", "folder", "--path", CELEBA_DIR, "--size", "48x40",
             "--limit", 64, "--preset", "conv", "--epochs", 1)
    assert Run(run).config["img_shape"] == [48, 40] and Run(run).has_model


@pytest.mark.parametrize("args, message", [
    (["train", "--run", "{tmp}/r", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["train", "--run", "{tmp}/r", "--epochs", "-1"], "epochs must be an integer >= 0. Received: epochs=-1"),
    (["train", "--run", "{tmp}/r", "--latent-dim", "0"], "latent_dim must be a positive integer. Received: latent_dim=0"),
    (["train", "--run", "{tmp}/r", "--dataset", "folder"], "dataset 'folder' needs path= (CLI: --path)"),
    (["train", "--run", "{tmp}/r", "--dataset", "mnist", "--data-dir", "{tmp}/nowhere"], "does not exist"),
    (["train", "--run", "/proc/aereport-run"], "/proc/aereport-run: cannot write"),
    (["layouts", "--run", "{tmp}"], "not a run directory"),
    (["layouts", "--run", "{run}", "--only", "isomap"], "layouts must be among ['ae', 'umap', 'tsne', 'pca']. Received: layouts='isomap'"),
    # refused before training, not after it (no run folder made: checked below)
    (["train", "--run", "{tmp}/r", "--layouts", "ae,tnse"], "argument --layouts: layouts must be among ['ae', 'umap', 'tsne', 'pca']. Received: layouts='tnse'"),
    (["serve", "--run", "{run}", "--address", "0.0.0.0"], "also pass --allow-origin"),
    (["train", "--run", "{tmp}/r", "--size", "big"], "size must be HEIGHTxWIDTH such as 218x178. Received: size='big'"),
])
def test_cli_errors_are_one_line(tmp_path, trained_run, args, message):
    args = [a.format(tmp=tmp_path, run=trained_run) for a in args]
    proc = aereport(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()  # nothing half-made


def test_existing_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    proc = aereport("train", "--run", tmp_path, check=False)
    assert proc.returncode == 2 and "the folder is not empty and it is not a run" in proc.stderr
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_tensorflow_says_nothing_unless_asked(tmp_path, mnist):
    """TensorFlow's import lines (absl's "before InitializeLog", oneDNN's notice) are held back: a
    training's error output is its progress alone; ``--verbose`` shows them."""
    np.savez(tmp_path / "digits.npz", images=mnist.images[:300], labels=mnist.labels[:300])
    args = ["train", "--dataset", "array", "--path", tmp_path / "digits.npz", "--epochs", 1, "--preset", "seed"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user's shell has it
    quiet = aereport(*args, "--run", tmp_path / "a", env=env).stderr
    assert "epoch 1/1" in quiet and not re.search(r"absl|oneDNN|^[IWE]0000", quiet, re.M), quiet
    loud = aereport("--verbose", *args, "--run", tmp_path / "b", env=env).stderr
    assert "oneDNN custom operations" in loud


NO_TENSORFLOW = """
import sys
from aereport.cli import main
code = main(sys.argv[1:])
print(code, "tensorflow" in sys.modules, "keras" in sys.modules)
"""


@pytest.mark.parametrize("args", [
    ["train", "--dataset", "array", "--path", "{tmp}/typo.npy"],
    ["train", "--dataset", "folder", "--path", "{tmp}"],  # a folder of no images
    ["train", "--latent-dim", "2000", "--epochs", "1"],
])
def test_bad_arguments_are_said_before_tensorflow_loads(tmp_path, args):
    import subprocess
    import sys

    argv = [a.format(tmp=tmp_path) for a in args] + ["--run", str(tmp_path / "r")]
    out = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, *argv], capture_output=True, text=True)
    assert out.stdout.split() == ["2", "False", "False"], out.stderr  # refused, and TensorFlow never loaded
    assert "aereport: error:" in out.stderr and not (tmp_path / "r").exists()
