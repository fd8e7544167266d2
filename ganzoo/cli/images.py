"""``ganzoo translate`` and ``ganzoo upscale``: image-to-image and super-resolution on image files."""

from __future__ import annotations

import argparse

from ganzoo.cli.common import Command


def _configure_image_to_image(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name, a .keras file or an export folder")
    p.add_argument("input", help="image file (PNG/JPEG), any size")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument(
        "--backend",
        choices=("keras", "onnx"),
        default="keras",
        help="onnx: the entry's ONNX export through onnxruntime",
    )


def _configure_translate(p: argparse.ArgumentParser) -> None:
    _configure_image_to_image(p)
    p.add_argument("--direction", default=None, help="cyclegan: a2b (default) or b2a")


def run_translate(args: argparse.Namespace) -> int:
    """Translate an image with an image-to-image model (pix2pix, cyclegan)."""
    from ganzoo.deploy.translate import translate_file

    path = translate_file(args.name, args.input, args.output, direction=args.direction, backend=args.backend)
    print(f"Wrote {path}")
    return 0


def _configure_upscale(p: argparse.ArgumentParser) -> None:
    _configure_image_to_image(p)
    p.add_argument("--tile", type=int, default=128, help="low-resolution tile size (0: the whole image at once)")


def run_upscale(args: argparse.Namespace) -> int:
    """Upscale an image with a super-resolution model (srgan), tile by tile."""
    from ganzoo.deploy.translate import upscale_file

    path = upscale_file(args.name, args.input, args.output, tile=args.tile or None, backend=args.backend)
    print(f"Wrote {path}")
    return 0


def _keras_backend(args: argparse.Namespace) -> bool:
    return args.backend == "keras"


COMMANDS = {
    "translate": Command(_configure_translate, run_translate, _keras_backend),
    "upscale": Command(_configure_upscale, run_upscale, _keras_backend),
}
