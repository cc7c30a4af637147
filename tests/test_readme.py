"""The README's Python example runs as written."""
from __future__ import annotations

import re
from pathlib import Path

from aereport.store import Run

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_block_runs(tmp_path, monkeypatch):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    run = Run(tmp_path / "runs" / "sample")
    assert run.epochs_done == 10 and set(run.load_layouts()) == {"ae", "pca", "umap", "tsne"}
