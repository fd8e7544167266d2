"""What every command module shares: the :class:`Command` record and plain-text tables."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NamedTuple


def always(args: argparse.Namespace) -> bool:
    return True


def never(args: argparse.Namespace) -> bool:
    return False


class Command(NamedTuple):
    """One subcommand: its argument setup, its body (``run(args) -> exit code``) and whether it needs TensorFlow
    for these arguments (``ganzoo`` then imports TensorFlow first, with its C++ log lines silenced)."""

    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    needs_tensorflow: Callable[[argparse.Namespace], bool] = always


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b`` ...): a card cannot send escape sequences to the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


def table(header: list[str], rows: list[tuple]) -> str:
    """A plain-text table with aligned columns; control characters in the cells are escaped."""
    cells = [[printable(c) for c in header]] + [[printable(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cell(value) -> str:
    """One value as a short cell: dicts as ``key: value; ...``, floats with 4 significant digits."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {cell(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
