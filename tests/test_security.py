"""Locked down by default: loopback only, foreign origins refused, no code from model files,
no browser value ever reaching the file system."""
from __future__ import annotations

import ast
import http.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import panel as pn
import pytest

import aereport
from aereport import AEReportError

from .conftest import ROOT, aereport as cli

# What the raw websocket handshakes of test_server_listens_on_loopback_only_and_refuses_foreign_origins
# (no Bokeh subprotocol) make the server log
SERVER_EXCEPTIONS = (r"ProtocolError: Subprotocol header is not 'bokeh'",)


@pytest.fixture(scope="module")
def lambda_run(mnist_small, module_tmp):
    """A user's model with a Lambda layer (Python code inside the saved file), explored once."""
    keras.utils.set_random_seed(0)
    enc = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                            keras.layers.Lambda(lambda t: t * 2.0 - 1.0), keras.layers.Dense(2)])
    dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(784, activation="sigmoid"),
                            keras.layers.Reshape((28, 28))])
    images, labels = mnist_small.images[:300], mnist_small.labels[:300]
    report = aereport.explore(images, labels, encoder=enc, decoder=dec, layouts=("ae", "pca"),
                              run_dir=module_tmp / "lambda")
    return report, module_tmp / "lambda"


def test_own_lambda_model_works_in_memory(lambda_run):
    report, _ = lambda_run  # explore() keeps the user's model object: nothing is deserialised
    image, _ = report.state.latent.decode("ae", 0.0, 0.0)
    assert image.shape == (28, 28) and np.isfinite(image).all()


def test_lambda_model_file_is_refused_unless_trusted(lambda_run):
    _, run = lambda_run
    with pytest.raises(AEReportError, match=r"autoencoder.keras: the model holds a Lambda layer.*--trust-model"):
        aereport.open(run, layouts=["ae"])
    trusted = aereport.open(run, layouts=["ae"], safe_mode=False)
    assert trusted.state.latent.decode("ae", 0.0, 0.0)[0].shape == (28, 28)


def test_cli_refuses_lambda_model_in_one_line_and_takes_the_flag(lambda_run, tmp_path):
    _, run = lambda_run
    commands = (["layouts", "--run", run, "--only", "pca"], ["export", run, tmp_path / "r.html"],
                ["export-tfjs", run, tmp_path / "tfjs"])
    # Side by side: each mostly imports TensorFlow on its own core before it refuses.
    with ThreadPoolExecutor(len(commands)) as pool:
        for proc in pool.map(lambda args: cli(*args, check=False), commands):
            assert proc.returncode == 2 and "Traceback" not in proc.stderr
            assert "Lambda layer" in proc.stderr and "--trust-model" in proc.stderr
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "tfjs").exists()
    assert "pca: 300 points (cached)" in cli("layouts", "--run", run, "--only", "pca", "--trust-model").stdout


def _listening_addresses(port: int) -> set[str]:
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, p = local.split(":")
            if int(p, 16) == port and state == "0A":  # 0A: LISTEN
                out.add(address)
    return out


def _websocket_handshake(port: int, origin: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/ws", headers={"Origin": origin, "Upgrade": "websocket", "Connection": "Upgrade",
                                        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                        "Sec-WebSocket-Version": "13"})
    status = conn.getresponse().status
    conn.close()
    return status


def test_server_listens_on_loopback_only_and_refuses_foreign_origins(served):
    url, _ = served
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and no IPv6 wildcard
    assert _websocket_handshake(port, "http://evil.example") == 403
    assert _websocket_handshake(port, f"http://127.0.0.1:{port}") == 101


FILE_APIS = {"open", "Path", "load", "load_dataset", "Run", "read_text", "read_bytes", "write_text",
             "write_bytes", "remove", "unlink", "rmtree", "load_model", "save", "savez", "export_report"}


def test_views_never_touch_files():
    """Every value a browser can send lands in a view; no view reaches the file system. The one
    reader, ``scripts.py``, reads the package's own ``js/`` files, each named by a literal."""
    js = {p.name for p in (ROOT / "aereport" / "views" / "js").glob("*.js")}
    for path in (ROOT / "aereport" / "views").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name == "script":
                    assert isinstance(node.args[0], ast.Constant) and node.args[0].value in js, \
                        f"{path.name}:{node.lineno} reads a script not named by a literal of js/"
                if path.name != "scripts.py":
                    assert name not in FILE_APIS, f"{path.name}:{node.lineno} calls {name}()"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not {"os", "pathlib", "shutil", "aereport.store"} & set(modules), path.name


def test_browser_inputs_are_numbers_and_choices(trained_run):
    """The served report's widgets: numbers, fixed choices and buttons; no free text anywhere."""
    from aereport.report import Report

    report = Report.open(trained_run)
    layout = pn.Column(report.__panel__(), report.explore)  # Explore's own, drawn when its tab opens
    widgets = layout.select(pn.widgets.Widget)
    kinds = {type(w).__name__ for w in widgets}
    # StaticText only displays (the epochs/loss line, the decoder's method): the browser sends it nothing;
    # FileDownload sends the selection to the browser under a fixed name, taking only the click.
    assert kinds <= {"FloatInput", "IntInput", "RadioButtonGroup", "CheckButtonGroup", "Button", "Progress",
                     "StaticText", "FileDownload"}, kinds
    assert {w.filename for w in layout.select(pn.widgets.FileDownload)} == {"selection.csv"}
    with pytest.raises(ValueError):
        report.explore.exploration.labels = ["../../etc/passwd"]
    decoder = report.decoder
    for bad in ("../../etc/passwd", None):
        with pytest.raises((ValueError, TypeError)):
            decoder.layout = bad
    assert decoder.layout in report.state.layouts
