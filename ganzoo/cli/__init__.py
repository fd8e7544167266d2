"""The ``ganzoo`` command line: ``ganzoo train dcgan --data digits --epochs 20 --out runs/dcgan``.

One module per command group (:mod:`~ganzoo.cli.train`, :mod:`~ganzoo.cli.catalog`,
:mod:`~ganzoo.cli.generate`, :mod:`~ganzoo.cli.images`, :mod:`~ganzoo.cli.evaluate`,
:mod:`~ganzoo.cli.export`), each declaring its commands in a ``COMMANDS`` dict of
``name -> (configure(parser), run(args) -> exit code)``. The command modules import the
library inside ``run``, so ``ganzoo --help``, ``ganzoo list`` and ``ganzoo info`` never import
TensorFlow (nothing imports the CLI, so these imports are about start-up time, not cycles).

TensorFlow's C++ log lines are silenced in every command (``TF_CPP_MIN_LOG_LEVEL=3``);
``--verbose`` or a ``TF_CPP_MIN_LOG_LEVEL`` already set in the environment shows them.
"""

from __future__ import annotations

import argparse
import os
import sys

from ganzoo.cli import catalog, evaluate, export, generate, images, train

GROUPS = (train, catalog, generate, images, evaluate, export)
COMMANDS = {name: spec for group in GROUPS for name, spec in group.COMMANDS.items()}
USER_ERRORS = (ValueError, KeyError, TypeError, OSError, FloatingPointError, MemoryError, RecursionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganzoo", description="A Keras model zoo of GANs.")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (configure, run) in COMMANDS.items():
        doc = (run.__doc__ or "").strip()
        configure(sub.add_parser(name, help=doc.splitlines()[0] if doc else None))
    return parser


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's C++ logging (oneDNN, CUDA, CPU-feature notices) unless asked for or set already."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)
    try:
        return COMMANDS[args.command][1](args)
    except USER_ERRORS as error:  # user errors: one line, not a traceback
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"ganzoo {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
