"""``ganzoo export``: verified SavedModel and ONNX exports of any model, with a manifest."""

from __future__ import annotations

import argparse

from ganzoo.cli.common import Command


def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="zoo name, .keras file or run folder (any architecture)")
    p.add_argument("--format", default="savedmodel,onnx", help="comma-separated: savedmodel, onnx")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--opset", type=int, default=17)


def run_export(args: argparse.Namespace) -> int:
    """Export a generator to SavedModel and/or ONNX, verified against Keras."""
    from ganzoo.deploy.exporter import export

    manifest = export(
        args.model, args.out, formats=tuple(f.strip() for f in args.format.split(",") if f.strip()), opset=args.opset
    )
    differences = ", ".join(f"{k} {v:.1e}" for k, v in manifest["verification"]["max_abs_diff"].items())
    print(f"Exported {args.model} to {args.out} (max |difference| to Keras: {differences})")
    return 0


COMMANDS = {"export": Command(_configure_export, run_export)}
