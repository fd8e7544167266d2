"""The ``ganzoo`` command line: ``ganzoo train dcgan --data digits --epochs 20 --out runs/dcgan``.

Each subcommand is one small function registered in :data:`COMMANDS`; TensorFlow is
imported only by the subcommands that need it.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from typing import Callable

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``run(args) -> exit code`` as subcommand ``name`` with its argument setup."""

    def decorator(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (configure, run)
        return run

    return decorator


def _parse_assignment(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as a Python literal when it is one (``3``, ``(16, 16, 1)``, ``True``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def _configure_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("architecture", help="architecture name (see `ganzoo list`)")
    p.add_argument("--data", default="digits", help="data spec: digits, faces, ring8, grid25, tfds:NAME[:SPLIT], folder:PATH")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=None, help="resize images to this size (default: the data's own)")
    p.add_argument("--channels", type=int, default=None, choices=(1, 3))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", default=None, help="adversarial loss (see ganzoo.losses); default: the architecture's own")
    p.add_argument("--g-lr", type=float, default=None, help="generator learning rate (default: the architecture's)")
    p.add_argument("--d-lr", type=float, default=None, help="discriminator learning rate (default: the architecture's)")
    p.add_argument("--set", dest="model", type=_parse_assignment, action="append", default=[], metavar="KEY=VALUE",
                   help="architecture argument, e.g. --set base_filters=32 --set ema_decay=0.999 (repeatable)")
    p.add_argument("--sample-every", type=int, default=1, help="epochs between sample grids")
    p.add_argument("--out", default=None, help="output folder (default: runs/ARCH-DATA)")
    p.add_argument("--resume", action="store_true", help="continue a crashed run in --out from its last epoch")
    p.add_argument("--strategy", default="default", choices=("default", "mirrored", "multiworker", "tpu"),
                   help="tf.distribute strategy: mirrored (local GPUs/devices), multiworker (cluster from TF_CONFIG, "
                        "run the same command on every worker; see docs/DISTRIBUTED.md), tpu")
    p.add_argument("--precision", default="float32", choices=("float32", "mixed_float16", "mixed_bfloat16"),
                   help="compute precision (weights stay float32; mixed_float16 uses loss scaling)")
    p.add_argument("--deterministic", action="store_true",
                   help="tf.config.experimental.enable_op_determinism(): bit-identical reruns and resumes")
    p.add_argument("--xla", choices=("auto", "on", "off"), default="auto",
                   help="jit_compile the train step: auto = where tools/bench.py measured it faster (the DCGAN family)")
    p.add_argument("--init-from", default=None, metavar="NAME_OR_FILE",
                   help="fine-tune: start from a zoo model's (or .keras file's) networks and architecture arguments")


@command("train", _configure_train)
def _train(args: argparse.Namespace) -> int:
    """Train an architecture with model.fit; writes samples, curves, checkpoints and the model."""
    from ganzoo.training import TrainConfig, train

    config = TrainConfig(
        architecture=args.architecture, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
        image_size=args.image_size, channels=args.channels, seed=args.seed, loss=args.loss,
        g_learning_rate=args.g_lr, d_learning_rate=args.d_lr, model=dict(args.model), sample_every=args.sample_every,
        strategy=args.strategy, precision=args.precision, deterministic=args.deterministic, init_from=args.init_from,
        compile={} if args.xla == "auto" else {"jit_compile": args.xla == "on"},
    )
    out = args.out or os.path.join("runs", f"{args.architecture}-{args.data.replace(':', '_').replace('/', '_')}")
    train(config, out, resume=args.resume)
    print(f"Wrote {out}/model.keras, samples in {out}/samples/, curves in {out}/loss_curves.png")
    return 0


def _configure_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default=None, help="glob filter, e.g. 'dc*'")


@command("list", _configure_list)
def _list(args: argparse.Namespace) -> int:
    """List the pretrained zoo models and the architectures."""
    from ganzoo import zoo
    from ganzoo.registry import architecture_class, list_architectures

    models = []
    for name in zoo.list_models(args.pattern):
        card = zoo.info(name)
        data = card.get("data", {})
        models.append((name, card.get("architecture", "?"), data.get("spec") or data.get("dataset", "?"), _headline(card)))
    print(_table(["pretrained model", "architecture", "data", "quality"], models) if models else "No pretrained models match.")
    print()
    rows = [(name, (architecture_class(name).__doc__ or "").strip().splitlines()[0]) for name in list_architectures(args.pattern)]
    print(_table(["architecture", "description"], rows))
    return 0


def _headline(card: dict) -> str:
    """The card's main quality numbers in one short cell."""
    metrics = card.get("metrics", {})
    keys = ("fid", "kid", "precision", "recall", "class_accuracy", "modes_covered", "high_quality_fraction", "psnr_y",
            "bicubic_psnr_y", "test_accuracy")
    parts = [f"{k}={metrics[k]:.3g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}" for k in keys if k in metrics]
    return ", ".join(parts) or "-"


def _configure_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name (see `ganzoo list`)")
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")


@command("info", _configure_info)
def _info(args: argparse.Namespace) -> int:
    """Show a pretrained model's card: how it was trained, how good it is, what not to use it for."""
    import json

    from ganzoo import zoo

    card = zoo.info(args.name)
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    rows = [(key, _cell(card[key])) for key in ("name", "architecture", "description", "data", "training", "metrics",
                                               "license", "intended_use", "limitations", "sizes", "created") if key in card]
    print(_table(["field", "value"], rows))
    return 0


def _cell(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _configure_sample(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name (see `ganzoo list`) or a .keras file")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("-o", "--output", default="samples.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class for conditional models (default: cycle through all)")
    p.add_argument("--backend", choices=("onnx", "keras"), default="onnx",
                   help="onnx: onnxruntime only, no TensorFlow import (fast); keras: the .keras model "
                        "(always used for .keras files)")
    p.add_argument("--truncation", type=float, default=None,
                   help="truncation psi of style-based models: 1 = none, 0 = the average image")
    p.add_argument("--noise-mode", choices=("const", "random", "none"), default=None,
                   help="noise inputs of style-based models (default const)")
    p.add_argument("--columns", type=int, default=None)


def _is_keras_file(name: str) -> bool:
    return name.endswith(".keras") or os.path.isfile(name)


@command("sample", _configure_sample)
def _sample(args: argparse.Namespace) -> int:
    """Write a PNG grid of samples from a pretrained model."""
    import numpy as np

    from ganzoo import zoo
    from ganzoo.runtime import OnnxStyleGenerator, load
    from ganzoo.sampling import plot_points, save_grid

    if args.backend == "onnx" and not _is_keras_file(args.name):
        generator = load(zoo.path(args.name))
        style = isinstance(generator, OnnxStyleGenerator)
    else:
        from ganzoo.latent_tools import is_style_model, load_model

        generator = load_model(args.name)
        style = is_style_model(generator)
    style_options = {}
    if style:
        style_options = {"truncation_psi": 1.0 if args.truncation is None else args.truncation,
                         "noise_mode": args.noise_mode or "const"}
    elif args.truncation is not None or args.noise_mode is not None:
        raise ValueError(f"{args.name} is not a style-based model: --truncation and --noise-mode need a mapping "
                         f"network and noise inputs ({', '.join(STYLE_ARCHITECTURES)}).")
    labels = None
    if generator.num_classes is not None:
        labels = args.label if args.label is not None else np.arange(args.n) % generator.num_classes
    images = generator.generate(args.n, seed=args.seed, labels=labels, **style_options)
    if images.ndim == 2:
        plot_points(images, args.output, title=args.name)
    else:
        columns = args.columns or (generator.num_classes if args.label is None and generator.num_classes else None)
        save_grid(images, args.output, columns=columns)
    print(f"Wrote {args.n} samples of {args.name} to {args.output}")
    return 0


STYLE_ARCHITECTURES = ("stylegan",)


def _configure_image_to_image(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name, a .keras file or an export folder")
    p.add_argument("input", help="image file (PNG/JPEG), any size")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--backend", choices=("keras", "onnx"), default="keras",
                   help="onnx: the entry's ONNX export through onnxruntime")


def _configure_translate(p: argparse.ArgumentParser) -> None:
    _configure_image_to_image(p)
    p.add_argument("--direction", default=None, help="cyclegan: a2b (default) or b2a")


@command("translate", _configure_translate)
def _translate(args: argparse.Namespace) -> int:
    """Translate an image with an image-to-image model (pix2pix, cyclegan)."""
    from ganzoo.image_tasks import translate_file

    path = translate_file(args.name, args.input, args.output, direction=args.direction, backend=args.backend)
    print(f"Wrote {path}")
    return 0


def _configure_upscale(p: argparse.ArgumentParser) -> None:
    _configure_image_to_image(p)
    p.add_argument("--tile", type=int, default=128, help="low-resolution tile size (0: the whole image at once)")


@command("upscale", _configure_upscale)
def _upscale(args: argparse.Namespace) -> int:
    """Upscale an image with a super-resolution model (srgan), tile by tile."""
    from ganzoo.image_tasks import upscale_file

    path = upscale_file(args.name, args.input, args.output, tile=args.tile or None, backend=args.backend)
    print(f"Wrote {path}")
    return 0


def _configure_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name, a .keras file, or a run folder holding model.keras")
    p.add_argument("--data", default=None, help="real data spec (default: the zoo card's or the run's data)")
    p.add_argument("--metrics", default="fid,kid,pr,dc", help="comma-separated: fid, kid, pr, dc, is")
    p.add_argument("--split", default="train", help="real split to compare with")
    p.add_argument("-n", type=int, default=None, help="generated samples (default: as many as real ones, up to 10,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the full result as JSON here")


@command("eval", _configure_eval)
def _eval(args: argparse.Namespace) -> int:
    """Measure a generator's quality (FID, KID, precision/recall, ...) with the protocol stated."""
    import json
    from pathlib import Path

    from ganzoo import zoo
    from ganzoo.evaluation import evaluate_model
    from ganzoo.latent_tools import load_model

    data, target = args.data, args.name
    run = Path(args.name)
    if run.is_dir():
        target = str(run / "model.keras")
        if data is None and (run / "config.json").exists():
            data = json.loads((run / "config.json").read_text())["config"]["data"]
    elif data is None and not _is_keras_file(args.name):
        data = zoo.info(args.name).get("data", {}).get("spec")
    if data is None:
        raise ValueError(f"cannot tell which data {args.name} was trained on: pass --data SPEC.")
    model = load_model(target)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    result = evaluate_model(model, data, metrics=metrics, n_fake=args.n, split=args.split, seed=args.seed)
    rows = [(key, _cell(value)) for key, value in result.items() if not isinstance(value, (dict, list))]
    print(_table(["metric", "value"], rows))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True, default=float))
        print(f"Wrote {args.json}")
    return 0


def _register_latent_commands() -> None:
    """``interpolate``, ``mix`` and ``project`` live with the latent-space tools they drive."""
    from ganzoo import latent_tools

    for name, (configure, run) in latent_tools.CLI_COMMANDS.items():
        command(name, configure)(run)


_register_latent_commands()


def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="pretrained model name or a .keras file")
    p.add_argument("--format", default="savedmodel,onnx", help="comma-separated: savedmodel, onnx")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--opset", type=int, default=17)


@command("export", _configure_export)
def _export(args: argparse.Namespace) -> int:
    """Export a generator to SavedModel and/or ONNX, verified against Keras."""
    from ganzoo.export import export

    manifest = export(args.model, args.out, formats=tuple(f.strip() for f in args.format.split(",") if f.strip()),
                      opset=args.opset)
    differences = ", ".join(f"{k} {v:.1e}" for k, v in manifest["verification"]["max_abs_diff"].items())
    print(f"Exported {args.model} to {args.out} (max |difference| to Keras: {differences})")
    return 0


def _table(header: list[str], rows: list[tuple]) -> str:
    """A plain-text table with aligned columns."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganzoo", description="A Keras model zoo of GANs.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (configure, run) in COMMANDS.items():
        doc = (run.__doc__ or "").strip()
        configure(sub.add_parser(name, help=doc.splitlines()[0] if doc else None))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except (ValueError, KeyError, OSError, FloatingPointError) as error:  # user errors: a message, not a traceback
        print(f"ganzoo {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
