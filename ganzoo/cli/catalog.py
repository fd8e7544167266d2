"""``ganzoo list`` and ``ganzoo info``: the zoo and the architectures, without importing TensorFlow.

Cards are JSON files (:mod:`ganzoo.deploy.zoo` reads them without TensorFlow) and the built-in
architectures are read from the source of :mod:`ganzoo.models` (each ``@register_architecture``
class and its docstring's first line), so both commands answer at once.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import sys
from pathlib import Path

from ganzoo.cli.common import Command, cell, never, printable, table
from ganzoo.deploy import zoo

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
# A card's fields as `ganzoo info` shows them: the documentary ones, with the description after the name.
CARD_FIELDS = (
    "name",
    "architecture",
    "description",
    *(f for f in zoo.REQUIRED_CARD_FIELDS if f not in ("name", "architecture", "config", "files", "versions")),
)


def _model_classes() -> dict[str, ast.ClassDef]:
    """Every class defined in ganzoo's model files, by class name (read from source, not imported)."""
    classes = {}
    for path in sorted(MODELS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = node
    return classes


def _registered_name(node: ast.ClassDef) -> str | None:
    for decorator in node.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and getattr(decorator.func, "id", None) == "register_architecture"
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
        ):
            return decorator.args[0].value
    return None


def builtin_architectures() -> dict[str, str]:
    """``{name: first docstring line}`` of every class registered in ganzoo's model files."""
    found = {}
    for node in _model_classes().values():
        name = _registered_name(node)
        if name is not None:
            found[name] = (ast.get_docstring(node) or "").strip().splitlines()[0]
    return dict(sorted(found.items()))


def architecture_defaults(name: str) -> tuple[str, dict[str, str]]:
    """An architecture's class docstring and its constructor defaults, its base classes' included.

    The defaults are the source text of each ``__init__`` default (a subclass's override wins), so
    ``ganzoo info dcgan`` shows what ``ganzoo.create("dcgan")`` uses without importing TensorFlow.
    """
    classes = _model_classes()
    node = next(n for n in classes.values() if _registered_name(n) == name)
    chain, current = [], node
    while current is not None:
        chain.append(current)
        bases = [getattr(b, "id", None) for b in current.bases]
        current = next((classes[b] for b in bases if b in classes), None)
    defaults: dict[str, str] = {}
    for klass in chain:  # the subclass first: its defaults win
        init = next((f for f in klass.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        if init is None:
            continue
        args = init.args.args[1:]
        values = [None] * (len(args) - len(init.args.defaults)) + list(init.args.defaults)
        for arg, value in zip(args, values):
            if value is not None:
                defaults.setdefault(arg.arg, ast.unparse(value))
    return ast.get_docstring(node) or "", defaults


def headline(card: dict) -> str:
    """The card's main quality numbers in one short cell."""
    parts = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in zoo.headline_metrics(card).items()]
    return ", ".join(parts) or "-"


def configure_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("pattern", nargs="?", default=None, help="glob filter, e.g. 'dc*'")


def run_list(args: argparse.Namespace) -> int:
    """List the pretrained zoo models and the architectures."""
    models, broken = [], []
    for name in zoo.list_models(args.pattern):
        try:  # one broken card must not hide the rest of the zoo
            card = zoo.info(name)
        except zoo.IntegrityError as error:
            broken.append(f"ganzoo list: warning: skipped zoo entry {printable(name)}: {printable(str(error))}")
            continue
        data = card.get("data", {})
        data = data if isinstance(data, dict) else {}
        models.append(
            (name, card.get("architecture", "?"), data.get("spec") or data.get("dataset", "?"), headline(card))
        )
    print(
        table(["pretrained model", "architecture", "data", "quality"], models)
        if models
        else "No pretrained models match."
    )
    print()
    rows = [
        (name, doc)
        for name, doc in builtin_architectures().items()
        if args.pattern is None or fnmatch.fnmatch(name, args.pattern)
    ]
    print(table(["architecture", "description"], rows))
    for line in broken:
        print(line, file=sys.stderr)
    return 0


def configure_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model or architecture name (see `ganzoo list`)")
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")


def run_info(args: argparse.Namespace) -> int:
    """Show a pretrained model's card (how it was trained, how good it is, what not to use it for), or an
    architecture's description with its defaults and their sources."""
    if args.name in builtin_architectures() and args.name not in zoo.list_models():
        doc, defaults = architecture_defaults(args.name)
        if args.json:
            print(json.dumps({"architecture": args.name, "doc": doc, "defaults": defaults}, indent=2))
            return 0
        print(f"{args.name}: {doc}\n")
        print(table(["argument", "default"], sorted(defaults.items())))
        return 0
    card = zoo.info(args.name)
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    print(table(["field", "value"], [(key, cell(card[key])) for key in CARD_FIELDS if key in card]))
    return 0


COMMANDS = {"list": Command(configure_list, run_list, never), "info": Command(configure_info, run_info, never)}
