"""The exported page of a user's model with a wide code: keras.io's convolutional autoencoder (ONE
model, a 7×7×32 feature-map code: 1,568-D) on full MNIST, explored and exported; the page's size
by part (its field of codes, the decoder's weights, the rest) against the 15 MB budget of issue 33.

    python benchmarks/own_model_export.py --data-dir ../shared/data/mnist [--epochs 1] [--n 70000]

Before the field went to float32 base64 and a coarser grid for wide codes, the same export was
about 125 MB (a 64×64 field of 1,568-D codes as JSON decimals).
"""
from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n", type=int, default=70000, help="images (the first n of MNIST's 70,000)")
    args = parser.parse_args()

    import aereport
    from aereport.data import load_dataset
    from aereport.export import export_report, field_size

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.test_own_models import keras_io_conv_autoencoder  # the recipe the tests train

    ds = load_dataset("mnist", data_dir=args.data_dir)
    ds = ds.subset(np.arange(min(args.n, len(ds))))
    start = time.perf_counter()
    model = keras_io_conv_autoencoder(ds.images, epochs=args.epochs)
    print(f"trained {args.epochs} epoch(s) on {len(ds):,} images in {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        report = aereport.explore(ds.images, ds.labels, autoencoder=model, layouts=("ae",), run_dir=Path(tmp) / "run")
        print(f"explore (encode, PCA layout): {time.perf_counter() - start:.1f} s; code {report.state.ae.latent_dim}-D")
        start = time.perf_counter()
        out = export_report(report.state.run.path, Path(tmp) / "report.html")
        seconds = time.perf_counter() - start
        page = out.read_text()
        payload = json.loads(re.search(r'id="aereport-decoder">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</"))
        field = len(payload["field"]["codes"])
        weights = len(payload["weightData"])
        n = field_size(report.state.ae.latent_dim)
        print(f"export: {seconds:.1f} s; page {len(page) / 1e6:.2f} MB (budget 15 MB): field {n}×{n}×"
              f"{payload['field']['dim']} {field / 1e6:.2f} MB, decoder weights {weights / 1e6:.2f} MB, "
              f"the rest {(len(page) - field - weights) / 1e6:.2f} MB")
        assert len(base64.b64decode(payload["field"]["codes"])) == n * n * payload["field"]["dim"] * 4


if __name__ == "__main__":
    main()
