"""``ganzoo sample``, ``interpolate``, ``mix`` and ``project``: pictures from a latent generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganzoo.cli.common import Command

STYLE_ARCHITECTURES = ("stylegan",)


def _load_generator(name: str, backend: str):
    """The ONNX runtime of a zoo entry or export folder (no TensorFlow), or the Keras model (``.keras`` files too)."""
    if backend == "onnx" and not name.endswith(".keras"):
        from ganzoo.deploy import runtime, zoo

        return runtime.load(name if Path(name).is_dir() else zoo.path(name))
    from ganzoo.deploy import loading

    return loading.load(name)


def configure_sample(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="pretrained model name (see `ganzoo list`) or a .keras file")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("-o", "--output", default="samples.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class for conditional models (default: cycle through all)")
    p.add_argument(
        "--backend",
        choices=("onnx", "keras"),
        default="onnx",
        help="onnx: onnxruntime only, no TensorFlow import (fast); keras: the .keras model "
        "(always used for .keras files)",
    )
    p.add_argument(
        "--truncation",
        type=float,
        default=None,
        help="truncation psi of style-based models: 1 = none, 0 = the average image",
    )
    p.add_argument(
        "--noise-mode",
        choices=("const", "random", "none"),
        default=None,
        help="noise inputs of style-based models (default const)",
    )
    p.add_argument("--columns", type=int, default=None)


def run_sample(args: argparse.Namespace) -> int:
    """Write a PNG grid of samples from a pretrained model."""
    import numpy as np

    from ganzoo.utils.images import plot_points, save_grid

    generator = _load_generator(args.name, args.backend)
    if not callable(getattr(generator, "generate", None)) or getattr(generator, "kind", "latent") not in (
        "latent",
        "style",
    ):
        raise TypeError(
            f"{args.name} maps images to images and has nothing to sample: use `ganzoo translate` or `ganzoo upscale`."
        )
    style = (
        getattr(generator, "kind", None) == "style" or getattr(generator, "architecture", None) in STYLE_ARCHITECTURES
    )
    style_options = {}
    if style:
        style_options = {
            "truncation_psi": 1.0 if args.truncation is None else args.truncation,
            "noise_mode": args.noise_mode or "const",
        }
    elif args.truncation is not None or args.noise_mode is not None:
        raise ValueError(
            f"{args.name} is not a style-based model: --truncation and --noise-mode need a mapping "
            f"network and noise inputs ({', '.join(STYLE_ARCHITECTURES)})."
        )
    labels = None
    if args.label is not None and generator.num_classes is None:
        raise ValueError(f"{args.name} is unconditional: it takes no --label.")
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


def configure_interpolate(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo model name or .keras file")
    p.add_argument("-o", "--output", default="walk.gif", help=".gif (animation) or .png (strip)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds visited in order")
    p.add_argument("--steps", type=int, default=16, help="frames between consecutive seeds")
    p.add_argument("--space", choices=("w", "z"), default=None, help="w: lerp in W (style models, default); z: slerp")
    p.add_argument("--truncation", type=float, default=1.0)
    p.add_argument("--fps", type=int, default=12)


def run_interpolate(args: argparse.Namespace) -> int:
    """Write a latent walk as an animated GIF or a PNG strip."""
    from ganzoo.latent import interpolate, is_style_model, save_animation

    model = _load_generator(args.name, "keras")
    space = args.space or ("w" if is_style_model(model) else "z")
    frames = interpolate(model, args.seeds, args.steps, space, args.truncation)
    save_animation(frames, args.output, fps=args.fps)
    print(f"Wrote {len(frames)} frames ({space} space) to {args.output}")
    return 0


def configure_mix(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo model name or .keras file (style-based)")
    p.add_argument("-o", "--output", default="mixing.png")
    p.add_argument("--rows", type=int, nargs="+", default=[1, 2, 3, 4], help="seeds giving the coarse styles")
    p.add_argument("--cols", type=int, nargs="+", default=[5, 6, 7, 8], help="seeds giving the fine styles")
    p.add_argument("--cutoff", type=int, default=None, help="first layer taking the column's style (default num_ws/2)")
    p.add_argument("--truncation", type=float, default=1.0)


def run_mix(args: argparse.Namespace) -> int:
    """Write a style-mixing grid (coarse styles from row seeds, fine styles from column seeds)."""
    from ganzoo.latent import style_mixing_grid
    from ganzoo.utils.images import save_png

    model = _load_generator(args.name, "keras")
    grid = style_mixing_grid(model, args.rows, args.cols, args.cutoff, args.truncation)
    save_png(grid, args.output, upscale=max(1, 64 // model.image_shape[0]))
    print(f"Wrote a {len(args.rows)}x{len(args.cols)} style-mixing grid to {args.output}")
    return 0


def configure_project(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo model name or .keras file")
    p.add_argument("image", help="image file (resized to the model's size)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--w-plus", action="store_true", help="one w per layer (W+) instead of a single w")
    p.add_argument("--no-noise", action="store_true", help="keep the noise maps fixed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default="projection", help="output folder")


def run_project(args: argparse.Namespace) -> int:
    """Find the latent that reproduces an image; write target, reconstruction and latent."""
    import numpy as np

    from ganzoo.latent import load_image, project
    from ganzoo.utils.images import save_grid, save_png

    model = _load_generator(args.name, "keras")
    target = load_image(args.image, model)
    result = project(
        model, target, steps=args.steps, w_plus=args.w_plus, optimize_noise=not args.no_noise, seed=args.seed
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    save_grid(np.stack([target, result.image]), out / "comparison.png", columns=2)
    save_png(result.image, out / "projected.png")
    np.save(out / f"latent_{result.space.replace('+', 'plus')}.npy", result.latent)
    if result.noise is not None:
        np.savez(out / "noise.npz", **result.noise)
    print(
        f"Projected {args.image} in {result.space}: MSE {result.mse[0]:.4f} -> {result.mse[-1]:.4f} "
        f"(PSNR {result.psnr:.1f} dB); wrote {out}/"
    )
    return 0


COMMANDS = {
    "sample": Command(
        configure_sample, run_sample, lambda args: args.backend == "keras" or args.name.endswith(".keras")
    ),
    "interpolate": Command(configure_interpolate, run_interpolate),
    "mix": Command(configure_mix, run_mix),
    "project": Command(configure_project, run_project),
}
