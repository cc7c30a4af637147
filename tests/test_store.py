"""The run directory (aereport.store): every file it reads is checked and named when damaged; a
new run never lands on other files, and one that fails before its first checkpoint is undone."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from aereport import AEReportError
from aereport.store import CONFIG, Run, check_output


@pytest.fixture
def run(run_copy):
    return run_copy


@pytest.mark.parametrize("change, message", [
    (dict(dataset={"name": "mnist", "options": "x"}), r"config.json: dataset must be \{'name': str, 'options'"),
    (dict(dataset="mnist"), "config.json: dataset must be"),
    (dict(latent_dim="2"), "config.json: latent_dim must be a positive integer; the file is damaged. Received: latent_dim='2'"),
    (dict(img_shape=[28, -1]), "config.json: img_shape must be"),
    (dict(seed=-3), "config.json: seed must be an integer >= 0"),
    (dict(learning_rate=float("nan")), "config.json: learning_rate must be a positive number or null"),
])
def test_a_config_with_fields_of_the_wrong_kind(run, change, message):
    config = json.loads((run / CONFIG).read_text())
    (run / CONFIG).write_text(json.dumps({**config, **change}))
    with pytest.raises(AEReportError, match=message):
        Run(run)


@pytest.mark.parametrize("history, message", [
    ("[1, 2, 3]", r"history.json: record 0 is not an epoch record with a numeric 'loss'; the file is damaged. Received: record=1"),
    ('[{"epoch": 1}]', r"record 0 is not an epoch record .*Received: record=\{'epoch': 1\}"),
    ('[{"epoch": 1, "loss": "low"}]', "record 0 is not an epoch record"),
    ("{}", "history.json: expected a JSON list. Received: type='dict'"),
    ("\x00\x01", "history.json: corrupt JSON"),
])
def test_a_damaged_history(run, history, message):
    (run / "history.json").write_text(history)
    with pytest.raises(AEReportError, match=message):
        Run(run).history


def test_damaged_layouts_metadata_and_positions(run):
    import pyarrow.parquet as pq

    table = pq.read_table(run / "layouts.parquet")
    pq.write_table(table.replace_schema_metadata({"aereport": "{not json"}), run / "layouts.parquet")
    with pytest.raises(AEReportError, match=r"layouts.parquet: corrupt layouts cache; delete it to recompute. Received: error="):
        Run(run).load_layouts()
    xy = np.column_stack([table["pca_x"].to_numpy(), table["pca_y"].to_numpy()])
    xy[3] = np.nan
    Run(run).save_layouts({"pca": {"xy": xy, "key": "pca"}, "ae": {"xy": np.ones_like(xy), "key": "ae"}}, None)
    notes = []
    assert set(Run(run).load_layouts(notes)) == {"ae"}  # the NaN layout is left out, to be computed again
    assert notes == [f"{run / 'layouts.parquet'}: layout 'pca' has positions that are not finite; computed again"]


def test_a_truncated_or_empty_model_file_is_named_for_what_it_is(run):
    whole = (run / "autoencoder.keras").read_bytes()
    for damaged in (whole[:5000], b""):
        (run / "autoencoder.keras").write_bytes(damaged)
        with pytest.raises(AEReportError, match=r"autoencoder.keras: not a Keras model archive \(a .keras file is a zip; "
                                                f"this one is truncated or damaged\\).*Received: bytes={len(damaged)}"):
            Run(run).load_autoencoder(numpy=True)


def test_a_new_run_only_in_a_new_or_empty_folder(tmp_path):
    Run.check_new(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    Run.check_new(tmp_path / "empty")
    (tmp_path / "old").mkdir()
    for name in ("encoder.keras", "decoder.keras", "history.json"):
        (tmp_path / "old" / name).write_text("mine")
    with pytest.raises(AEReportError, match=r"old: the folder is not empty and it holds run files \(decoder.keras, "
                                            r"encoder.keras, history.json\) but no config.json: the run is damaged"):
        Run.check_new(tmp_path / "old")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_text("x")
    with pytest.raises(AEReportError, match="photos: the folder is not empty and it is not a run"):
        Run.check_new(tmp_path / "photos")
    (tmp_path / "file").write_text("x")
    with pytest.raises(AEReportError, match="file: is a file, not a folder"):
        Run.check_new(tmp_path / "file")


def test_a_new_run_that_fails_before_its_first_checkpoint_is_undone(tmp_path):
    with pytest.raises(RuntimeError):
        with Run.creating(tmp_path / "r"):
            Run.create(tmp_path / "r", {"preset": "dense"})
            raise RuntimeError("the first epoch failed")
    assert not (tmp_path / "r").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / ".hidden").write_text("the user's")
    with pytest.raises(KeyboardInterrupt):
        with Run.creating(tmp_path / "kept"):
            Run.create(tmp_path / "kept", {"preset": "dense"})
            raise KeyboardInterrupt
    assert [p.name for p in (tmp_path / "kept").iterdir()] == [".hidden"]  # what was there before stays
    with pytest.raises(RuntimeError):  # after its first checkpoint a run is the user's: kept
        with Run.creating(tmp_path / "done"):
            Run.create(tmp_path / "done", {"preset": "dense"})
            (tmp_path / "done" / "autoencoder.keras").write_bytes(b"PK")
            raise RuntimeError("epoch 5 failed")
    assert Run.exists(tmp_path / "done")


def test_an_output_never_lands_in_a_run(run, tmp_path):
    r = Run(run)
    for inside in (run, run / "config.json", run / "site", run / "sub" / "report.html"):
        with pytest.raises(AEReportError, match=f"inside the run folder {run}; an export never writes into a run"):
            check_output(inside, r)
    other = tmp_path / "other"
    shutil.copytree(run, other)
    with pytest.raises(AEReportError, match="the folder holds another run"):
        check_output(other, r)
    assert check_output(tmp_path / "report.html", r) == tmp_path / "report.html"
