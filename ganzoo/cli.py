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


@command("train", _configure_train)
def _train(args: argparse.Namespace) -> int:
    """Train an architecture with model.fit; writes samples, curves, checkpoints and the model."""
    from ganzoo.training import TrainConfig, train

    config = TrainConfig(
        architecture=args.architecture, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
        image_size=args.image_size, channels=args.channels, seed=args.seed, loss=args.loss,
        g_learning_rate=args.g_lr, d_learning_rate=args.d_lr, model=dict(args.model), sample_every=args.sample_every,
    )
    out = args.out or os.path.join("runs", f"{args.architecture}-{args.data.replace(':', '_').replace('/', '_')}")
    train(config, out, resume=args.resume)
    print(f"Wrote {out}/model.keras, samples in {out}/samples/, curves in {out}/loss_curves.png")
    return 0


def _configure_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default=None, help="glob filter, e.g. 'dc*'")


@command("list", _configure_list)
def _list(args: argparse.Namespace) -> int:
    """List the architectures."""
    from ganzoo.registry import architecture_class, list_architectures

    rows = [(name, (architecture_class(name).__doc__ or "").strip().splitlines()[0]) for name in list_architectures(args.pattern)]
    print(_table(["architecture", "description"], rows))
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
    except (ValueError, KeyError, FileNotFoundError) as error:  # user errors: a message, not a traceback
        print(f"ganzoo {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
