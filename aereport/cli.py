"""The ``aereport`` command: train, compute layouts, inspect and serve runs.

Every user error prints one line (``aereport: error: ...``) and exits with status 2; an
interrupted command says how to resume.

    aereport train --dataset mnist --data-dir ../shared/data/mnist --run runs/mnist --epochs 8
    aereport serve --run runs/mnist
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._validation import AEReportError, check_names, check_non_negative_int, check_positive_int
from .files import as_path, check_writable

DATASET_OPTIONS = ("data_dir", "path", "size", "color", "labels", "limit")
SEED_MAX = 2 ** 31 - 1  # aereport.training.SEED_MAX, without importing Keras to read a flag


def _argument(name: str, check):
    """An argparse type: the text as an int, checked by ``check(name, value)`` — the same check
    and words as the Python API's (``Received: name='text'`` for what is no integer)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = text
        try:
            return check(name, value)
        except AEReportError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name  # argparse names the type in its messages
    return parse


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(str(AEReportError("size must be HEIGHTxWIDTH such as 218x178",
                                                           size=text))) from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(str(AEReportError("size must be positive", size=text)))
    return h, w


def _layout_names(text: str) -> list[str]:
    # Checked as the command line is read: `train --layouts tnse` used to train first and fail after.
    from .layouts import LAYOUTS

    try:
        return check_names("layouts", text, LAYOUTS)
    except AEReportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    return _argument("port", lambda name, value: check_positive_int(name, value, maximum=65535))(text)


def _run_dir(text: str) -> Path:
    try:
        return as_path(text, "run")  # "" is an unset shell variable, never "this folder"
    except AEReportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _dataset_args(p: argparse.ArgumentParser) -> None:
    from .data import DATASETS, DEFAULT_DATASET

    g = p.add_argument_group("dataset")
    g.add_argument("--dataset", default=DEFAULT_DATASET, choices=sorted(DATASETS),
                   help="which dataset (default: the embedded 5,000-digit MNIST sample)")
    g.add_argument("--data-dir", help="folder with the MNIST/Fashion-MNIST IDX .gz files or .npz")
    g.add_argument("--path", help="image folder (dataset 'folder') or .npy/.npz file (dataset 'array')")
    g.add_argument("--size", type=_size, help="resize folder images to HEIGHTxWIDTH, aspect kept")
    g.add_argument("--color", choices=["gray", "rgb"], help="read folder images as gray (default) or rgb")
    g.add_argument("--labels", help="labels: '<file> <label>' text file (folder) or .npy (array)")
    g.add_argument("--limit", type=_argument("limit", check_positive_int), help="read only the first N images of a folder")


def _trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-model", action="store_true",
                   help="load a model holding Lambda layers (runs Python code from the model file: "
                        "only for files you trust)")


def _beta(text: str) -> float:
    """--beta: a number from 0 to 1e6, in TrainingConfig's words."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 1e6:
        raise argparse.ArgumentTypeError("beta must be a number from 0 to 1e6 (the vae preset's weight of its KL "
                                         f"term). Received: beta={text!r}")
    return value


def _model_args(p: argparse.ArgumentParser) -> None:
    from .model import PRESETS

    g = p.add_argument_group("model")
    g.add_argument("--preset", default="dense", choices=PRESETS,
                   help="dense (default), seed (the tutorial's exact model), conv (for faces) or vae (the dense "
                        "model as a variational autoencoder)")
    g.add_argument("--beta", type=_beta, default=1.0,
                   help="the vae preset's weight of its KL term (default 1; 0 trains a plain autoencoder)")
    g.add_argument("--latent-dim", type=_argument("latent_dim", check_positive_int), default=2,
                   help="size of the code: 2 (default) is the latent plane a tap decodes exactly; a wider "
                        "code reconstructs better (8: a third of the tutorial model's error on MNIST) and is "
                        "shown through its PCA")
    g.add_argument("--n-layers", type=_argument("n_layers", check_positive_int), default=2)
    g.add_argument("--n-units", type=_argument("n_units", check_positive_int))
    g.add_argument("--batch-size", type=_argument("batch_size", check_positive_int),
                   help="images a step (default: 256, or 128 or 64 where 256 leaves under 100 steps an "
                        "epoch; the seed preset 64)")
    g.add_argument("--learning-rate", type=float)
    g.add_argument("--seed", type=_argument("seed", lambda n, v: check_non_negative_int(n, v, maximum=SEED_MAX)),
                   default=0)


def _dataset_spec(args) -> dict:
    options = {k: getattr(args, k) for k in DATASET_OPTIONS if getattr(args, k, None) is not None}
    for key in ("data_dir", "path", "labels"):
        if key in options:
            options[key] = str(Path(options[key]).expanduser().resolve())
    if "size" in options:
        options["size"] = list(options["size"])
    return {"name": args.dataset, "options": options}


def _load(spec: dict):
    from .data import load_dataset

    options = dict(spec.get("options", {}))
    if "size" in options:
        options["size"] = tuple(options["size"])
    return load_dataset(spec["name"], **options)


def _training_config(args, spec: dict):
    from .training import TrainingConfig

    return TrainingConfig(preset=args.preset, latent_dim=args.latent_dim, n_layers=args.n_layers,
                          n_units=args.n_units, batch_size=args.batch_size, learning_rate=args.learning_rate,
                          seed=args.seed, dataset=spec, beta=args.beta)


def cmd_train(args) -> None:
    # Every argument, file and folder is checked before TensorFlow is imported (seconds): a typo
    # in a path is said at once.
    from .runs import dataset_for
    from .store import Run

    run_dir = args.run
    check_writable(run_dir, f"--run {run_dir}")
    if Run.exists(run_dir):
        run = Run(run_dir)
        _check_resume(args, run)
        dataset = dataset_for(run)
        print(f"resuming {run_dir} after epoch {run.epochs_done}", file=sys.stderr)
        ae = _train(run, dataset, args)
    else:
        from .training import new_run

        Run.check_new(run_dir)
        spec = _dataset_spec(args)
        config = _training_config(args, spec)
        dataset = _load(spec)
        config.check_fits(dataset.image_shape)  # before a folder is made, not after
        with Run.creating(run_dir):  # a failure before the first checkpoint leaves nothing
            run = new_run(run_dir, config, dataset)
            ae = _train(run, dataset, args)
    h = run.history
    if h:
        print(f"{run_dir}: {len(h)} epochs, loss {h[-1]['loss']:.5f}"
              + (f", held-out loss {h[-1]['val_loss']:.5f}" if "val_loss" in h[-1] else ""))
    if args.layouts:
        _layouts(run, dataset, args.layouts, ae)


def _train(run, dataset, args):
    """Train ``args.epochs`` more epochs with a progress bar (TensorFlow is imported here)."""
    from .callbacks import ProgressBar
    from .training import load_or_build, train

    ae = load_or_build(run, safe_mode=not args.trust_model)
    train(run, dataset, args.epochs, callbacks=[ProgressBar()], ae=ae)
    return ae


def _check_resume(args, run) -> None:
    """Resuming takes the run's own dataset and model: refuse options that say otherwise, rather
    than silently train something other than what the command line reads."""
    cfg = run.config
    given = {"dataset": args.dataset, "preset": args.preset, "latent_dim": args.latent_dim,
             "n_layers": args.n_layers, "n_units": args.n_units, "batch_size": args.batch_size,
             "learning_rate": args.learning_rate, "seed": args.seed, "beta": args.beta}
    recorded = dict(cfg, dataset=(cfg.get("dataset") or {}).get("name"))
    for key in sorted(args.explicit & set(given)):
        if given[key] != recorded.get(key):
            flag = "--" + key.replace("_", "-")
            raise AEReportError(f"--run {run.path} already holds a run with {key}={recorded.get(key)!r}; "
                                f"{flag} {given[key]} would train something else. Drop {flag} to resume, "
                                "or choose a new --run folder", **{key: given[key]})


def _layouts(run, dataset, names: list[str], ae) -> dict:
    from .layouts import LayoutProgress
    from .runs import ensure_layouts

    cached = run.load_layouts()
    with LayoutProgress(names, cached) as progress:
        return ensure_layouts(run, dataset, ae, names, cached, **progress.callbacks)


def cmd_layouts(args) -> None:
    from .runs import dataset_for
    from .store import Run

    run = Run(args.run)
    ae = run.load_autoencoder(safe_mode=not args.trust_model, numpy=True)  # no TensorFlow import
    out = _layouts(run, dataset_for(run), args.only, ae)
    for name, entry in out.items():
        took = f" in {entry['seconds']:.1f}s" if "seconds" in entry else " (cached)"
        print(f"{name}: {len(entry['xy']):,} points{took}")


def cmd_info(args) -> None:
    from .runs import describe
    from .store import Run

    print(describe(Run(args.run), safe_mode=not args.trust_model))


def cmd_serve(args) -> None:
    if args.address not in ("127.0.0.1", "localhost", "::1") and not args.allow_origin:
        raise AEReportError(f"--address {args.address} exposes the server beyond this machine; "
                            "also pass --allow-origin HOST[:PORT] for the address browsers will use",
                            address=args.address)
    _check_port(args.address, args.port)  # now, not after minutes of loading and layouts
    from concurrent.futures import ThreadPoolExecutor

    from .runs import dataset_for, default_layouts, prepare_run
    from .state import ReportState
    from .store import Run

    given = args.run
    if given is not None and Run.exists(given):
        Run(given).require_model()  # a run is shown as it is, never trained over
    with ThreadPoolExecutor(1) as pool:
        # A trained run's images load while Panel, HoloViews and Datashader import (zlib and NumPy
        # release the GIL for most of the work): listening ~1 s sooner on full MNIST.
        loading = pool.submit(dataset_for, Run(given)) if given is not None and Run.exists(given) else None
        from .layouts import LayoutProgress
        from .report import default_run_dir
    run_dir = given or Path(default_run_dir()).expanduser()
    dataset = loading.result() if loading else None
    if not Run.exists(run_dir):
        from .callbacks import ProgressBar  # Keras's: a served run that is trained already needs no TensorFlow

        Run.check_new(run_dir)
        check_writable(run_dir, f"--run {run_dir}")
        spec = _dataset_spec(args)
        print(f"training a new model in {run_dir}", file=sys.stderr)
        prepare_run(run_dir, _load(spec), _training_config(args, spec), args.epochs, callbacks=[ProgressBar()])
    # Load the run once, before the first visitor; layouts it lacks besides the autoencoder's
    # are computed in the background while the report is already served with the others.
    notes: list[str] = []
    try:
        cached = Run(run_dir).load_layouts(notes)
    except AEReportError:
        cached = {}  # ReportState.open says what it skipped
    names = args.layouts or default_layouts(cached)
    names = list(dict.fromkeys(["ae", *names]))
    with LayoutProgress([n for n in names if n == "ae" or n in cached], cached) as progress:
        state = ReportState.open(run_dir, dataset, names, safe_mode=not args.trust_model, background=True,
                                 **progress.callbacks)
    for note in [*notes, *filter(None, [state.message])]:
        print(f"aereport: {note}", file=sys.stderr)
    if state.layouts_pending:
        print(f"computing {', '.join(state.layouts_pending)} in the background: the report shows each "
              "as soon as it is ready", file=sys.stderr)
    from .report import serve

    serve(state, port=args.port, address=args.address, allow_origin=args.allow_origin, show=args.show)


def _check_port(address: str, port: int) -> None:
    import socket

    try:
        socket.getaddrinfo(address, port)
    except socket.gaierror as exc:
        raise AEReportError(f"--address {address}: no such host or address here ({exc.strerror})",
                            address=address) from None
    try:
        with socket.create_server((address, port)):
            pass
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise AEReportError(f"--port {port}: cannot listen on {address}:{port} ({reason}); choose another port"
                            + (" or --address" if exc.errno == 99 else ""), port=port) from None


def cmd_export_tfjs(args) -> None:
    from .store import Run, check_output
    from .tfjs import save_tfjs

    run = Run(args.run)
    out = check_output(args.out_dir, run, "out_dir")
    ae = run.load_autoencoder(safe_mode=not args.trust_model, numpy=True)
    for name, model in (("decoder", ae.decoder), ("encoder", ae.encoder)):
        files = save_tfjs(model, out / name)
        size = sum(f.stat().st_size for f in files)
        print(f"{out / name / 'model.json'}: {len(files) - 1} shard(s), {size / 1024:.0f} KiB")


def cmd_export(args) -> None:
    from .export import export_report

    target = export_report(args.run, args.out, fmt=args.format, safe_mode=not args.trust_model)
    files = sorted(p for p in target.parent.rglob("*") if p.is_file()) if args.format == "dir" else [target]
    for f in files:
        print(f"{f}: {f.stat().st_size / 1e6:.2f} MB")
    if len(files) > 1:
        print(f"{target.parent}: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.2f} MB in all")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="aereport", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"aereport {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show what TensorFlow prints as it loads (held back otherwise)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a new run or resume one")
    p.add_argument("--run", required=True, type=_run_dir, help="run directory (created, or resumed if it exists)")
    p.add_argument("--epochs", type=_argument("epochs", check_non_negative_int), default=8,
                   help="epochs to add (default 8)")
    p.add_argument("--layouts", type=_layout_names, default=[],
                   help="also compute these layouts, e.g. ae,pca,umap,tsne")
    _dataset_args(p)
    _model_args(p)
    _trust_arg(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("layouts", help="compute and cache 2-D layouts of a run's dataset")
    p.add_argument("--run", required=True, type=_run_dir)
    p.add_argument("--only", type=_layout_names, default=["ae", "pca", "umap", "tsne"],
                   help="comma-separated layouts (default: all four)")
    _trust_arg(p)
    p.set_defaults(func=cmd_layouts)

    p = sub.add_parser("info", help="describe a run")
    p.add_argument("--run", required=True, type=_run_dir)
    _trust_arg(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("export-tfjs", help="write the run's decoder and encoder as TensorFlow.js models")
    p.add_argument("run", type=_run_dir, help="run directory")
    p.add_argument("out_dir", type=_run_dir, help="folder to write decoder/ and encoder/ into")
    _trust_arg(p)
    p.set_defaults(func=cmd_export_tfjs)

    p = sub.add_parser("export", help="write the report as one offline HTML file (or a folder)")
    p.add_argument("run", type=_run_dir, help="run directory")
    p.add_argument("out", type=_run_dir, help="the .html file (or folder with --format dir)")
    p.add_argument("--format", choices=["html", "dir"], default="html")
    _trust_arg(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve the report (trains on the dataset first if the run is new)")
    p.add_argument("--run", type=_run_dir,
                   help="run directory (default: the embedded sample's run in ~/.cache/aereport)")
    p.add_argument("--epochs", type=_argument("epochs", check_positive_int), default=20,
                   help="epochs for a new run (default 20)")
    p.add_argument("--port", type=_port, default=5006)
    p.add_argument("--address", default="127.0.0.1", help="interface to bind (default loopback only)")
    p.add_argument("--allow-origin", action="append", help="origin allowed to connect (needed off loopback)")
    p.add_argument("--show", action="store_true", help="open a browser tab")
    p.add_argument("--layouts", type=_layout_names, default=[], help="layouts to show, computed first if missing, e.g. "
                   "ae,pca,umap,tsne (default: the run's cached layouts, or all for a new run)")
    _dataset_args(p)
    _model_args(p)
    _trust_arg(p)
    p.set_defaults(func=cmd_serve)
    # argparse keeps each command's options only in a private list; main() reads which were typed.
    parser.options = {name: command._actions for name, command in sub.choices.items()}
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:  # children (training, layouts) inherit it
        from ._quiet import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    # Which options the user typed (not defaults): resuming a run checks them against it.
    words = {w.split("=", 1)[0] for w in (sys.argv[1:] if argv is None else argv)}
    args.explicit = {a.dest for a in parser.options[args.command] if words & set(a.option_strings)}
    try:
        args.func(args)
    except AEReportError as exc:
        print(f"aereport: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\naereport: interrupted; finished epochs are saved — run the same command to resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
