"""Build the zoo's entries: train, export, evaluate and write the card of each.

    python tools/train_zoo.py dcgan-digits            # one entry
    python tools/train_zoo.py --all                   # every entry below
    python tools/train_zoo.py dcgan-digits --reuse-run # re-export and re-evaluate runs/zoo/NAME

Every entry is a recipe (a ``TrainConfig`` plus its card text) in :data:`RECIPES`;
the command above is the exact reproduction recorded in each card. The run's full
output (samples per epoch, curves, history) stays in ``runs/zoo/NAME``; the entry
folder ``exported/NAME`` gets the model, its SavedModel and ONNX exports, a sample
grid, the measured metrics and ``card.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path


from ganzoo import evaluation, zoo
from ganzoo import metrics as metrics_lib
from ganzoo.checks import load_model
from ganzoo.callbacks import default_labels, plot_points
from ganzoo.data import mixture_modes
from ganzoo.export import export
from ganzoo.sampling import save_grid
from ganzoo.training import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
DIGITS_LIMITS = (
    "Trained on 1,617 8x8 scans upsampled to 16x16: it draws small, blurry digits in that style only. "
    "Not a handwriting model for real documents, not for any identification or security use."
)

RECIPES: dict[str, dict] = {
    "dcgan-digits": dict(
        config=TrainConfig(
            architecture="dcgan", data="digits", epochs=300, batch_size=64, seed=0,
            model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
        ),
        description="DCGAN generating 16x16 handwritten digits (scikit-learn digits).",
        intended_use="Demonstrations, tests and teaching; a baseline for GAN research on small images.",
        limitations=DIGITS_LIMITS,
    ),
    "cgan-digits": dict(
        config=TrainConfig(
            architecture="cgan", data="digits", epochs=300, batch_size=64, seed=0,
            model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
        ),
        description="Class-conditional GAN (projection discriminator) generating a requested digit 0-9 at 16x16.",
        intended_use="Demonstrations of class-conditional generation; conditional-GAN baselines on small images.",
        limitations=DIGITS_LIMITS,
    ),
    "vanilla_gan-ring8": dict(
        config=TrainConfig(
            architecture="vanilla_gan", data="ring8", epochs=30, batch_size=256, seed=0, loss="least_squares",
            g_learning_rate=1e-3, d_learning_rate=1e-3,
            model=dict(latent_dim=16, hidden_units=(128, 128, 128)),
        ),
        description="The original MLP GAN on 8 Gaussians on a ring (radius 2, std 0.02): the mode-collapse benchmark.",
        intended_use="Studying mode collapse and stabilizers; a reference point for the 2-D benchmark.",
        limitations="Generates 2-D points only; its quality numbers are for this toy distribution.",
    ),
}


def build(name: str, reuse_run: bool = False) -> dict:
    recipe = RECIPES[name]
    config: TrainConfig = recipe["config"]
    run_dir = ROOT / "runs" / "zoo" / name
    started = time.time()
    if reuse_run:
        model = load_model(run_dir / "model.keras")
    else:
        model = train(config, run_dir, verbose=2)
    train_seconds = time.time() - started

    folder = ROOT / "exported" / name
    staging = folder.with_name(f".{name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    manifest = export(model, staging)  # SavedModel + ONNX, parity-verified
    model.save(staging / "model.keras")
    samples = model.generate(64 if model.image_shape != (2,) else 2000, seed=0, labels=default_labels(model, 64))
    if samples.ndim == 2:
        plot_points(samples, staging / "samples.png", reference=mixture_modes(config.data)[0], title=name)
    else:
        save_grid(samples, staging / "samples.png", columns=8)
    metrics = evaluation.evaluate_model(model, config.data, seed=0)
    if samples.ndim == 4:
        metrics["reference"] = real_data_reference(config.data, model.image_shape)

    card = zoo.write_card(
        staging,
        model=model,
        name=name,
        architecture=model.architecture,
        description=recipe["description"],
        data={"spec": config.data, "split": "train"},
        training={
            "command": f"python tools/train_zoo.py {name}",
            "config": dataclasses.asdict(config),
            "wall_seconds": round(train_seconds, 1),
        },
        metrics=metrics,
        export={"opset": manifest["opset"], "max_abs_diff": manifest["verification"]["max_abs_diff"]},
        license="Apache-2.0 (weights); training data: scikit-learn digits (BSD-3-Clause)"
        if config.data == "digits" else "Apache-2.0",
        intended_use=recipe["intended_use"],
        limitations=recipe["limitations"],
    )
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return card


def real_data_reference(data_spec: str, image_shape) -> dict:
    """The same metrics for the held-out real images against the training images: the floor a model can reach."""
    train_images, _ = evaluation.load_real(data_spec, "train", image_shape)
    test_images, _ = evaluation.load_real(data_spec, "test", image_shape)
    extractor = evaluation.default_extractor(data_spec, image_shape)
    result = metrics_lib.evaluate(train_images, test_images, extractor, seed=0)
    result["what"] = f"real {data_spec} test split ({len(test_images)}) scored as if generated, against the train split"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"entries to build: {', '.join(RECIPES)}")
    parser.add_argument("--all", action="store_true", help="build every entry")
    parser.add_argument("--reuse-run", action="store_true", help="skip training; use runs/zoo/NAME/model.keras")
    args = parser.parse_args(argv)
    names = list(RECIPES) if args.all else args.names
    unknown = [n for n in names if n not in RECIPES]
    if not names or unknown:
        parser.error(f"name one or more of {', '.join(RECIPES)} (unknown: {', '.join(unknown) or 'none'})")
    for name in names:
        card = build(name, reuse_run=args.reuse_run)
        print(f"{name}: {card['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
