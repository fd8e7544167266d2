"""The ``ganzoo`` command line: ``ganzoo train dcgan --data digits --epochs 20 --out runs/dcgan``.

One module per command group (:mod:`~ganzoo.cli.train`, :mod:`~ganzoo.cli.catalog`,
:mod:`~ganzoo.cli.generate`, :mod:`~ganzoo.cli.images`, :mod:`~ganzoo.cli.evaluate`,
:mod:`~ganzoo.cli.export`, :mod:`~ganzoo.cli.demo`), each declaring its commands in a ``COMMANDS`` dict of
``name -> Command(configure, run, needs_tensorflow)``. The command modules import the
library inside ``run``, so ``ganzoo --help``, ``ganzoo list`` and ``ganzoo info`` never import
TensorFlow (nothing imports the CLI, so these imports are about start-up time, not cycles).

TensorFlow's C++ log lines are silenced in every command that needs TensorFlow (it is imported
first, quietly); ``--verbose`` or a ``TF_CPP_MIN_LOG_LEVEL`` set in the environment shows them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator

from ganzoo.cli import catalog, demo, evaluate, export, generate, images, train
from ganzoo.cli.common import printable

GROUPS = (train, catalog, generate, images, evaluate, export, demo)
COMMANDS = {name: spec for group in GROUPS for name, spec in group.COMMANDS.items()}
USER_ERRORS = (ValueError, KeyError, TypeError, OSError, FloatingPointError, MemoryError, RecursionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganzoo", description="A Keras model zoo of GANs.")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        doc = (command.run.__doc__ or "").strip()
        command.configure(sub.add_parser(name, help=doc.splitlines()[0] if doc else None))
    return parser


@contextlib.contextmanager
def _stderr_to_devnull() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null (C++ libraries write there directly, past ``sys.stderr``)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_tensorflow_quietly(verbose: bool = False) -> None:
    """Import TensorFlow without its C++ notices (oneDNN, CUDA, CPU features), which it prints while loading
    and which ``TF_CPP_MIN_LOG_LEVEL`` alone no longer hides; ``--verbose`` or a level set by the user shows them."""
    if verbose or "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        importlib.import_module("tensorflow")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_to_devnull():
        importlib.import_module("tensorflow")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command]
    try:
        if command.needs_tensorflow(args):
            import_tensorflow_quietly(args.verbose)
        return command.run(args)
    except USER_ERRORS as error:  # user errors: one line, not a traceback
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"ganzoo {args.command}: error: {printable(message)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
