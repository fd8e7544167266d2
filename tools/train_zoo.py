"""Build the zoo's entries: train, export, evaluate and write the card of each.

    python tools/train_zoo.py dcgan-digits            # one entry
    python tools/train_zoo.py --all                   # every entry below
    python tools/train_zoo.py dcgan-digits --reuse-run # re-export and re-evaluate runs/zoo/NAME
    python tools/train_zoo.py --all --reexport         # export the bundled models again (no training)
    python tools/train_zoo.py --all --resave           # save them again without optimizer state
    python tools/train_zoo.py cgan-fashion --from-phase 2  # phase 1 from runs/zoo/NAME/phase_1

Every entry is a recipe (one ``TrainConfig`` per training phase plus its card text) in
:data:`RECIPES`; the command above is the exact reproduction recorded in each card. The run's
full output (samples per epoch, curves, history) stays in ``runs/zoo/NAME``; the entry folder
``exported/NAME`` gets the model, its SavedModel and ONNX exports, sample figures, the measured
metrics and ``card.json``. Every entry is exported by ``ganzoo.export`` (all its graphs, verified);
how it is shown and measured depends on its kind:

* latent generators (``vanilla_gan``, ``dcgan``, ``cgan``; ``progan`` too):
  ``ganzoo.evaluation.evaluate_model`` (digits: FID/KID/PR/DC in the shipped digits classifier's
  features, with the real test split scored the same way as the floor);
* ``stylegan``: the same, plus truncation and style-mixing figures;
* image-to-image (``pix2pix``, ``cyclegan``, ``srgan``): the task metrics of
  ``ganzoo.evaluation.image_tasks`` on held-out photos, with ``input | output | target`` panels.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import keras
import matplotlib
import numpy as np

from ganzoo import latent as latent_tools
from ganzoo.data import pairs as image_tasks
from ganzoo.data.datasets import mixture_modes, num_examples
from ganzoo.deploy import zoo
from ganzoo.deploy.exporter import export
from ganzoo.deploy.loading import load_model
from ganzoo.evaluation import cas as cas_lib
from ganzoo.evaluation import evaluate as evaluation
from ganzoo.evaluation import image_tasks as image_eval
from ganzoo.training.callbacks import default_labels
from ganzoo.training.run import TrainConfig, load_dataset, train
from ganzoo.utils import images as image_utils
from ganzoo.utils.files import write_json
from ganzoo.utils.images import image_grid, plot_points, save_grid, save_png

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

ROOT = Path(__file__).resolve().parent.parent
DIGITS_LIMITS = (
    "Trained on 1,617 8x8 scans upsampled to 16x16: it draws small, blurry digits in that style only. "
    "Not a handwriting model for real documents, not for any identification or security use."
)
PHOTO_LIMITS = (
    "Trained on patches of six photos shipped with scikit-image (two more held out), on two CPU cores for under "
    "an hour: a small demonstration model, far from the papers' quality. Not for restoring, colourizing or "
    "altering photos of people or evidence; its outputs are plausible guesses, not recovered detail."
)
DIGITS_LICENSE = "Apache-2.0 (weights); training data: scikit-learn digits (UCI optical digits, CC BY 4.0)"
FASHION_LIMITS = (
    "Trained on Fashion-MNIST's 60,000 28x28 grayscale product photos on two CPU cores: it draws small, "
    "low-resolution garments, shoes and bags in that catalogue style only. Not a fashion design tool, not for "
    "product listings, and not a stand-in for photos of real products or people."
)
FASHION_LICENSE = "Apache-2.0 (weights); training data: Fashion-MNIST (Zalando Research, MIT license)"
# FID after every epoch (fixed latents) against 10,000 training images, for the card's curve and model selection;
# the test split, on which the card's numbers are measured, plays no part in it.
FASHION_CURVE = dict(n=5000, patience=2)


def fashion_recipe(architecture: str, epochs: int, description: str, **settings) -> dict:
    """A Fashion-MNIST entry: ``epochs`` at most (it stops earlier when FID stops improving), the FID curve.

    ``more_epochs=(N, ...)`` adds a phase of at most N epochs per item, each starting from the best weights of
    the one before (how an entry was trained longer without training its first epochs again; see
    ``--from-phase``). An item may also be a dict of ``TrainConfig`` fields, e.g. ``dict(epochs=8,
    lr_decay_epochs=8)`` for a phase whose learning rates fall linearly to 0.
    """
    model = settings.pop("model", {})
    limitations = settings.pop("limitations", "")
    more_epochs = settings.pop("more_epochs", ())
    settings.setdefault("batch_size", 64)
    first = TrainConfig(architecture=architecture, data="fashion_mnist", epochs=epochs, seed=0, model=model, **settings)
    # Later phases continue from the best weights before them (fresh Adam moments, other batch orders).
    more = [
        dataclasses.replace(first, seed=k, init_from="{previous}", **(n if isinstance(n, dict) else dict(epochs=n)))
        for k, n in enumerate(more_epochs, 1)
    ]
    return dict(
        phases=[first, *more],
        description=description,
        intended_use="A baseline on a real benchmark: compare GAN families and stabilizers with the numbers in its "
        "card; synthetic training data experiments; fine-tuning on similar 28x28 grayscale images.",
        limitations=(limitations + " " if limitations else "") + FASHION_LIMITS,
        license=FASHION_LICENSE,
        curve=FASHION_CURVE,
    )


PHOTOS_LICENSE = "Apache-2.0 (weights); training data: scikit-image's sample photos (see skimage.data for each license)"

# SRResNet learning a residual over bicubic upscaling (upsample_skip), no batch norm in G; a small D head.
SRGAN_X2 = dict(
    scale=2,
    filters=32,
    res_blocks=4,
    g_norm="none",
    upsample_skip="bicubic",
    d_base_filters=16,
    d_dense_units=64,
    content_loss="discriminator",
)

RECIPES: dict[str, dict] = {
    "cgan-fashion": fashion_recipe(
        "cgan",
        16,
        "Class-conditional GAN (DCGAN networks, class-conditional batch norm in G, projection discriminator "
        "with minibatch standard deviation) generating a requested Fashion-MNIST class 0-9 at 28x28.",
        # With the label only concatenated to z and no minibatch std (the recipe before), 16 epochs: FID 36.7,
        # recall 0.65, CAS 75.2 % (bags 56 %, sandals 67 %). This recipe: FID 67.2 (still falling), recall 0.67,
        # CAS 78.4 % (bags 75 %, sandals 87 %, shirts 46 %). Conditional batch norm is the projection
        # discriminator paper's generator; minibatch std lets D see a batch's diversity (not ablated).
        model=dict(
            latent_dim=64, base_filters=64, ema_decay=0.999, label_conditioning="batch_norm", minibatch_std=True
        ),
        # Its FID was still falling after the first 16 epochs (68.6 -> 64.3 over the last two), and after 16 more
        # (41.1 -> 39.8; CAS 79.9 %); after the third, FID 34.8, CAS 81.5 % (34.0 -> 33.5). The fourth lets the
        # learning rates fall linearly to 0 (CycleGAN's schedule): FID 29.5, CAS 81.0 %; 30.1 -> 30.3 -> 30.0 -> 29.1
        # over its last four epochs, as the rate reached 0.
        more_epochs=(16, 8, dict(epochs=8, lr_decay_epochs=8)),
    ),
    "dcgan-fashion": fashion_recipe(
        "dcgan",
        8,
        "DCGAN generating 28x28 Fashion-MNIST images (the paper's networks sized from 7x7, N(0, 0.02) weights, "
        "Adam(2e-4, 0.5)), EMA generator.",
        model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
        # Its FID was still falling after the first 8 (178 -> 160 over the last one), after 16 more (80 -> 77) and
        # after 16 more (61.9 -> 60.5); the fourth phase lets the learning rates fall linearly to 0: FID 57.2 ->
        # 50.8, its curve flattening as the rate reached 0 (54.4, 54.4, 54.1 over the last three epochs).
        more_epochs=(16, 16, dict(epochs=8, lr_decay_epochs=8)),
    ),
    "sngan-fashion": fashion_recipe(
        "sngan",
        8,
        "SNGAN generating 28x28 Fashion-MNIST images: the DCGAN networks with spectral normalization on every "
        "discriminator layer, hinge loss, one D step per G step, Adam(2e-4, 0.5, 0.999) (Miyato et al. 2018, "
        "setting C), EMA generator.",
        model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
        # Its FID was still falling after the first 8 (233 -> 214 over the last one), after 8 more (134 -> 129) and
        # after 8 more (103 -> 99); the fourth phase lets the learning rates fall linearly to 0 (the authors' code,
        # sngan_projection, has this linear shift of Adam's rate): FID 94.9 -> 81.5; 91.5, 91.5, 91.3, 89.7,
        # 85.7, 86.3, 85.3 over its last seven epochs.
        more_epochs=(8, 8, dict(epochs=8, lr_decay_epochs=8)),
    ),
    "wgan_gp-fashion": fashion_recipe(
        "wgan_gp",
        8,
        "WGAN-GP generating 28x28 Fashion-MNIST images: the DCGAN networks with a layer-normalized critic, "
        "Wasserstein loss with gradient penalty 10, 5 critic steps per generator step, Adam(1e-4, 0, 0.9) "
        "(Gulrajani et al. 2017, Algorithm 1), EMA generator with ramp-up.",
        # Ramped EMA (StyleGAN2-ADA): with 5 critic steps per generator step, 8 epochs are only 1,504 generator
        # steps, and a plain 0.999 average would still hold a fifth of the random initialization (FID 632 vs 371).
        model=dict(latent_dim=64, base_filters=64, ema_decay=0.999, ema_rampup=0.05),
        # Its FID was still falling after the first 8 (440 -> 403 over the last one), after 8 more (285 -> 276) and
        # after 8 more (221 -> 215); the fourth phase lets the learning rates fall linearly to 0 (the WGAN-GP
        # authors' CIFAR-10 ResNet code decays linearly to 0 as well): FID 211.5 -> 177.9, still falling at
        # its end (186.2, 183.3, 181.5 over the last three epochs). A fifth phase decays again from the full rate:
        # FID 177.9 -> 161.0, KID 127.2 -> 117.1; 180.8 ... 166.8, 163.2 over its eight epochs, still falling. A sixth
        # of 16 epochs, decaying again: FID 133.0, KID 100.7, P/R 0.68 / 0.73; 161.4 ... 137.8, 135.4, still falling.
        # A seventh of 32 epochs, decaying again: 136.2 ... 106.7, 106.8, 107.7, where the early stop fired (epoch
        # 30; the 28th is kept): FID 105.6, KID 82.8, P/R 0.69 / 0.78 (16,168 generator steps in all).
        more_epochs=(
            8,
            8,
            dict(epochs=8, lr_decay_epochs=8),
            dict(epochs=8, lr_decay_epochs=8),
            dict(epochs=16, lr_decay_epochs=16),
            dict(epochs=32, lr_decay_epochs=32),
        ),
    ),
    "stylegan-fashion": fashion_recipe(
        "stylegan",
        4,  # 1 epoch (the recipe before): FID 370.9
        "StyleGAN2 (mapping network, modulated convolutions, noise inputs, style mixing, lazy R1, EMA with ramp-up, "
        "w_avg for truncation; skip generator, residual discriminator) on Fashion-MNIST resized to 32x32, with "
        "the paper's Adam(2e-3, 0, 0.99) and StyleGAN2-ADA's CIFAR settings scaled down: 2 mapping layers, "
        "R1 gamma 0.01, 64 channels at most.",
        batch_size=32,
        image_size=32,
        model=dict(latent_dim=64, mapping_layers=2, channel_base=1024, channel_max=64, r1_gamma=0.01),
        # Its FID was still falling after the first 4 (83 -> 65 over the last one) and after 4 more (39 -> 33); the
        # third phase lets the learning rates fall linearly to 0: 23.9, then 25.6 (its first epoch is kept; test
        # FID 32.2 -> 23.0).
        more_epochs=(4, dict(epochs=2, lr_decay_epochs=2)),
        limitations="A small StyleGAN2 (64 channels at most, 2 mapping layers) trained for 10 epochs (18,750 steps "
        "of 32 images; the weights of its best epoch by FID, the 9th, are shipped) on 2 CPU cores; see its FID "
        "curve: it is not a converged model.",
    ),
    "dcgan-digits": dict(
        phases=[
            TrainConfig(
                architecture="dcgan",
                data="digits",
                epochs=300,
                batch_size=64,
                seed=0,
                model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
            )
        ],
        description="DCGAN generating 16x16 handwritten digits (scikit-learn digits).",
        intended_use="Demonstrations, tests and teaching; a baseline for GAN research on small images.",
        limitations=DIGITS_LIMITS,
        license=DIGITS_LICENSE,
    ),
    "cgan-digits": dict(
        phases=[
            TrainConfig(
                architecture="cgan",
                data="digits",
                epochs=300,
                batch_size=64,
                seed=0,
                model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
            )
        ],
        description="Class-conditional GAN (projection discriminator) generating a requested digit 0-9 at 16x16.",
        intended_use="Demonstrations of class-conditional generation; conditional-GAN baselines on small images.",
        limitations=DIGITS_LIMITS,
        license=DIGITS_LICENSE,
    ),
    "vanilla_gan-ring8": dict(
        phases=[
            TrainConfig(
                architecture="vanilla_gan",
                data="ring8",
                epochs=128,  # 39 steps of 256 points an epoch: 4,992 steps, the study's 5,000
                batch_size=256,
                seed=0,
            )
        ],
        description="The original MLP GAN on 8 Gaussians on a ring (radius 2, std 0.02): the mode-collapse benchmark. "
        "vanilla_gan's defaults (2 x 256 units, latent 16, R3GAN's relativistic loss with R1 and R2 0.1, Adam(1e-3, "
        "0.5), standardized coordinates, EMA generator with ramp-up), the configuration docs/STABILITY.md "
        "measures over 5 seeds.",
        intended_use="Studying mode collapse and stabilizers; a reference point for the 2-D benchmark.",
        limitations="Generates 2-D points only; its quality numbers are for this toy distribution.",
        license="Apache-2.0",
    ),
    "vanilla_gan-grid25": dict(
        phases=[
            TrainConfig(
                architecture="vanilla_gan",
                data="grid25",
                epochs=128,
                batch_size=256,
                seed=0,
            )
        ],
        description="The original MLP GAN on 25 Gaussians on a 5x5 grid (std 0.05), with vanilla_gan's defaults "
        "(as vanilla_gan-ring8), the configuration docs/STABILITY.md measures over 5 seeds.",
        intended_use="Studying mode collapse and stabilizers; a reference point for the 2-D benchmark.",
        limitations="Generates 2-D points only; it covers only part of the grid (see its metrics and "
        "docs/STABILITY.md: no configuration there covers all 25 modes in 5,000 steps).",
        license="Apache-2.0",
    ),
    "progan-digits": dict(
        phases=[
            TrainConfig(
                architecture="progan",
                data="digits",
                epochs=120,
                batch_size=64,
                seed=0,
                model=dict(
                    latent_dim=64,
                    channel_base=512,
                    channel_max=64,
                    stable_images=24_000,
                    fade_images=24_000,
                    ema_decay=0.995,
                ),
            )
        ],
        description="Progressive GAN grown 4x4 -> 8x8 -> 16x16 inside one fit (equalized learning rate, pixel norm, "
        "minibatch stddev, WGAN-GP with the drift term, the paper's Adam), EMA generator.",
        intended_use="Demonstrating progressive growing; a small ProGAN to inspect or fine-tune.",
        limitations=DIGITS_LIMITS,
        license=DIGITS_LICENSE,
    ),
    "stylegan-digits": dict(
        phases=[
            TrainConfig(
                architecture="stylegan",
                data="digits",
                epochs=150,  # 7,500 steps of 32, the step count of dcgan-digits (of 64)
                batch_size=32,
                seed=0,
                # The paper's Adam(2e-3, 0, 0.99) (stylegan's default), StyleGAN2-ADA's CIFAR R1 gamma and ADA for
                # 1,617 images. Probed for 3,000 steps: FID 41 without augmentation, 26 with ADA (the earlier recipe,
                # Adam(2e-4, 0.5) with DiffAugment: 80).
                model=dict(
                    latent_dim=64, mapping_layers=4, channel_base=512, channel_max=64, r1_gamma=0.01, augment="ada"
                ),
            )
        ],
        description="StyleGAN2 (mapping network, modulated convolutions, noise inputs, style mixing, lazy R1, EMA with "
        "ramp-up, w_avg for truncation) on the 16x16 digits, with the paper's Adam, R1 gamma 0.01 and ADA.",
        intended_use="Demonstrating truncation, style mixing, interpolation and projection on a small model.",
        limitations="A small StyleGAN2 (64 channels at most) trained for 7,500 steps on 2 CPU cores on 1,617 "
        "images. " + DIGITS_LIMITS,
        license=DIGITS_LICENSE,
    ),
    "pix2pix-colorize": dict(
        phases=[
            TrainConfig(
                architecture="pix2pix",
                data="skimage:colorize",
                epochs=30,
                batch_size=16,
                image_size=32,
                seed=0,
                # Resize-convolutions: the transposed ones left a checkerboard in every panel. Chroma: G predicts
                # the colour and keeps the input as the luma (the paper's colourization predicts ab from L).
                # Chroma at half size, upsampled: held-out PSNR / SSIM 19.96 dB / 0.832 (full size: 19.48 / 0.827;
                # quarter size: 19.70 / 0.824; half size with 15 epochs of linear decay: 19.82 / 0.832; half size,
                # 60 epochs: 19.37 / 0.831, overfitting the six training photos; the official code's
                # 100 + 100 schedule in proportion, 60 epochs with the last 30 decaying: 19.37 / 0.827).
                model=dict(base_filters=8, d_base_filters=8, upsampling="resize", chroma=True, chroma_scale=2),
            )
        ],
        description="pix2pix colourizing 32x32 grayscale (BT.601 luma) photo patches (U-Net G predicting the two "
        "chroma channels at half size, upsampled bilinearly over the input's full-size luma, PatchGAN D, L1 x 100).",
        intended_use="Demonstrating paired image-to-image translation; a starting point for fine-tuning on paired folders.",
        limitations=PHOTO_LIMITS,
        license=PHOTOS_LICENSE,
    ),
    "cyclegan-hue": dict(
        phases=[
            TrainConfig(
                architecture="cyclegan",
                data="skimage:hue",
                epochs=96,
                lr_decay_epochs=48,  # the paper's schedule: constant, then linearly to 0 over as many epochs
                batch_size=8,
                image_size=32,
                seed=0,
                # Resize-convolutions: the transposed ones left checkerboard noise in every panel. Batch norm (the
                # official code's --norm batch): instance norm drops each 32 px patch's mean colour and contrast at
                # the first layer. This generator as a plain autoencoder, 400 steps: L1 0.31 with instance norm,
                # 0.11 with batch norm; CycleGAN probes, 1,000 steps: held-out cycle PSNR 10.6 / 14.2 dB (instance,
                # identity loss off), 21.1 / 19.2 dB (batch). Wider generators (base_filters 32, same schedule) did
                # worse: cycle 23.9 / 19.4 dB, against the truth 18.7 / 13.2 dB (base 16: 24.9 / 20.7, 24.0 / 21.7).
                # Those numbers are on the old held-out split (A mostly the cat, B only the coffee cup). On the
                # current split (alternate patches), 24 epochs, 12 decaying: cycle 23.1 / 22.4, truth 22.1 / 23.7 dB.
                # One stride-2 step (a 16 px bottleneck, not 8 px; the paper's two are for 128-256 px images):
                # 24.3 / 22.9, truth 23.3 / 24.1 dB; and 48 epochs, 24 decaying (the paper's 100 + 100 in
                # proportion): 25.1 / 23.9, truth 23.6 / 26.1 dB; 96 epochs, 48 decaying (197k patches seen per
                # domain, the paper's 200 epochs of horse2zebra's 1,067 images are 213k): 25.7 / 25.1, truth
                # 24.4 / 27.2 dB, 46 min on 2 CPU cores. No identity loss (it asks G to leave B's colours
                # alone): the cycle held (23.9 / 21.3, old split) but the maps drifted from the hue turn, truth
                # 12.6 / 10.3 dB, below the untranslated inputs: the identity term is what pins the colours.
                model=dict(
                    base_filters=16, res_blocks=3, d_base_filters=16, upsampling="resize", norm="batch", downsamplings=1
                ),
            )
        ],
        description="CycleGAN between photo patches and the same kind of patches with their hue turned a quarter "
        "(unpaired draws), 32x32; ResNet generators, PatchGAN discriminators, cycle and identity losses.",
        intended_use="Demonstrating unpaired translation with a known ground truth (the hue shift) to measure it by.",
        limitations=PHOTO_LIMITS,
        license=PHOTOS_LICENSE,
    ),
    "srgan-x2": dict(
        phases=[
            TrainConfig(
                architecture="srgan",
                data="skimage:sr",
                epochs=8,
                batch_size=16,
                image_size=32,
                seed=0,
                g_learning_rate=1e-3,
                model=SRGAN_X2,
                compile=dict(phase="mse"),
            ),
            TrainConfig(
                architecture="srgan",
                data="skimage:sr",
                epochs=2,
                batch_size=16,
                image_size=32,
                seed=1,
                g_learning_rate=1e-4,
                d_learning_rate=1e-4,
                model=SRGAN_X2,
                compile=dict(phase="adversarial"),
                init_from="{previous}",
            ),
        ],
        description="SRGAN x2: SRResNet (a residual over bicubic) pre-trained with pixel MSE, then adversarial "
        "training with the discriminator-feature content loss (offline; VGG19 needs ImageNet weights). "
        "metrics.phases holds the SRResNet (MSE phase) numbers too.",
        intended_use="Demonstrating super-resolution and tiled upscaling (`ganzoo upscale`).",
        limitations=PHOTO_LIMITS,
        license=PHOTOS_LICENSE,
    ),
}


def phase_dir(run_dir: Path, number: int, count: int) -> Path:
    """The folder of phase ``number`` (1-based) of a ``count``-phase recipe: ``run_dir`` itself for one phase."""
    return run_dir if count == 1 else run_dir / f"phase_{number}"


def recorded_configs(phases: list[TrainConfig], run_dir: Path) -> list[dict]:
    """The phases' configs as the card records them: a ``{previous}`` start is the model of the phase before,
    relative to the repository (the card names no path of the build machine)."""
    recorded = [dataclasses.asdict(config) for config in phases]
    for k, config in enumerate(recorded):
        if config["init_from"] == "{previous}":
            previous = phase_dir(run_dir, k, len(phases)) / "model.keras"
            config["init_from"] = str(previous.relative_to(ROOT))
    return recorded


def train_phases(
    name: str, phases: list[TrainConfig], run_dir: Path, curve: dict | None = None, from_phase: int = 1
) -> tuple:
    """Run each phase into ``run_dir`` (one phase) or ``run_dir/phase_K``; a phase may start from the one before.

    With ``curve``, FID against 10,000 training images (a seeded subsample) is measured after every epoch
    on fixed latents (``curve["n"]`` samples); a phase stops once it has not improved for
    ``curve["patience"]`` epochs, and the weights of its best epoch are kept. Each phase's curve goes to its
    folder, all phases' to ``run_dir/fid_curve.json``. The test split, on which the card's numbers are
    measured, is not used. Phases before ``from_phase`` are not run: their folders must hold a finished run
    of this recipe (``from_phase`` beyond the last phase: only load the run). Returns the model to ship, the
    phases' configs and their wall times in seconds.
    """
    model, configs, seconds, curves, previous = None, recorded_configs(phases, run_dir), [], [], None
    for k, config in enumerate(phases):
        if config.init_from == "{previous}":
            config = dataclasses.replace(config, init_from=str(previous))
        out = phase_dir(run_dir, k + 1, len(phases))
        previous = out / "model.keras"
        if k + 1 < from_phase:
            if not previous.is_file():
                raise SystemExit(f"--from-phase {from_phase}: {previous} is missing; train phase {k + 1} first.")
            timing = out / "timing.json"
            # A run from before timing.json: its config is written first, its final model last.
            seconds.append(
                json.loads(timing.read_text())["wall_seconds"]
                if timing.is_file()
                else round(previous.stat().st_mtime - (out / "config.json").stat().st_mtime, 1)
            )
            if curve is not None:
                curves.append(json.loads((out / "fid_curve.json").read_text()))
            continue
        started = time.time()
        callbacks = []
        if curve is not None:
            fid = evaluation.MetricCallback(
                ("fid",), n=curve["n"], data_spec=config.data, split="train", n_real=10_000, verbose=True
            )
            stop = keras.callbacks.EarlyStopping(
                monitor="fid", patience=curve["patience"], mode="min", restore_best_weights=True
            )
            callbacks = [fid, stop]
        model = train(config, out, verbose=2, extra_callbacks=callbacks)
        seconds.append(round(time.time() - started, 1))
        write_json(out / "timing.json", {"wall_seconds": seconds[-1]})
        if curve is not None:
            steps = -(-(num_examples(config.data) // config.batch_size) // model.d_steps)  # generator updates
            points = [{"epoch": e, "step": e * steps, "fid": v["fid"]} for e, v in callbacks[0].history]
            curves.append(
                {
                    "n_fake": curve["n"],
                    "real": "10,000 training images (seeded subsample)",
                    "kept_epoch": callbacks[1].best_epoch + 1,
                    "points": points,
                }
            )
            write_json(out / "fid_curve.json", curves[-1])
    if model is None:  # no phase trained here
        model = load_model(previous)
    if curves:
        chained, best_phase = chain_curves(curves)
        write_json(run_dir / "fid_curve.json", chained)
        if best_phase < len(phases):  # a later phase never beat this one's best epoch: ship that
            print(f"{name}: phase {best_phase} had the lowest FID; keeping its model.")
            model = load_model(phase_dir(run_dir, best_phase, len(phases)) / "model.keras")
    return model, configs, seconds


def chain_curves(curves: list[dict]) -> tuple[dict, int]:
    """One curve over all phases (a phase continues from the kept epoch of the one before) and the phase
    (1-based) whose kept epoch has the lowest FID: the weights to ship."""
    points, epoch, step, kept = [], 0, 0, []
    for k, curve in enumerate(curves):
        for p in curve["points"]:
            points.append({**p, "epoch": epoch + p["epoch"], "step": step + p["step"], "phase": k + 1})
        best = next(p for p in curve["points"] if p["epoch"] == curve["kept_epoch"])
        epoch, step = epoch + best["epoch"], step + best["step"]
        kept.append((best["fid"], k + 1, epoch))
    _, best_phase, kept_epoch = min(kept)
    return {**curves[-1], "kept_epoch": kept_epoch, "points": points}, best_phase


def build(name: str, reuse_run: bool = False, from_phase: int = 1) -> dict:
    recipe = RECIPES[name]
    phases: list[TrainConfig] = recipe["phases"]
    if reuse_run:
        from_phase = len(phases) + 1  # every phase from runs/zoo/NAME
    elif from_phase > len(phases):
        raise SystemExit(f"--from-phase {from_phase}: {name} has {len(phases)} phase(s).")
    config = phases[-1]
    run_dir = ROOT / "runs" / "zoo" / name
    model, configs, seconds = train_phases(name, phases, run_dir, curve=recipe.get("curve"), from_phase=from_phase)
    train_seconds = sum(seconds)

    folder = ROOT / "exported" / name
    staging = folder.with_name(f".{name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    if model.data_kind != "images":
        export_info, metrics = image_entry(model, config, staging)
        if len(phases) > 1:  # e.g. srgan: the SRResNet after its MSE phase, measured the same way
            metrics["phases"] = {
                f"phase_{k + 1}": task_metrics(load_model(phase_dir(run_dir, k + 1, len(phases)) / "model.keras"), c)
                for k, c in enumerate(phases[:-1])
            }
    elif model.architecture == "stylegan":
        export_info, metrics = stylegan_entry(model, config, staging)
    else:
        export_info, metrics = generator_entry(model, config, staging)
    model.save(staging / "model.keras", include_optimizer=False)  # networks and EMA; fine-tuning starts fresh Adams
    curve = fid_curve(run_dir, staging, name)
    if curve is not None:
        metrics["fid_curve"] = curve

    card = zoo.write_card(
        staging,
        model=model,
        name=name,
        architecture=model.architecture,
        config=model.get_config(),
        description=recipe["description"],
        data={"spec": config.data, "split": "train", "image_size": config.image_size},
        training={
            "command": f"python tools/train_zoo.py {name}",
            "phases": configs,
            "wall_seconds": round(train_seconds, 1),
            **({"phase_wall_seconds": seconds} if len(seconds) > 1 else {}),
            "hardware": "2 CPU cores (no GPU)",
        },
        metrics=metrics,
        export=export_info,
        license=recipe["license"],
        intended_use=recipe["intended_use"],
        limitations=recipe["limitations"],
    )
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return card


def generator_entry(model, config: TrainConfig, staging: Path) -> tuple[dict, dict]:
    """Latent generators: export, a sample grid (a scatter for points), evaluate_model (+ the real-data floor)."""
    manifest = export(model, staging)  # SavedModel + ONNX, parity-verified
    points = len(model.image_shape) == 1
    n = 2000 if points else (6 * model.num_classes if model.is_conditional else 64)  # whole rows of classes
    samples = model.generate(n, seed=0, labels=default_labels(model, n))
    if points:
        plot_points(samples, staging / "samples.png", reference=mixture_modes(config.data)[0], title=model.architecture)
    else:
        save_grid(samples, staging / "samples.png", columns=8 if not model.is_conditional else model.num_classes)
    if model.architecture == "progan":  # the same latents at every resolution the growth reached
        save_png(growth_strip(model), staging / "growth.png", upscale=3)
    metrics = evaluation.evaluate_model(model, config.data, seed=0)
    if not points:
        metrics["reference"] = evaluation.real_floor(config.data, model.image_shape)
    if model.is_conditional and config.data == "fashion_mnist":
        metrics["cas"] = cas_lib.classification_accuracy_score(model, config.data, seed=0)
    return export_summary(manifest), metrics


def fid_curve(run_dir: Path, staging: Path, name: str) -> dict | None:
    """The run's FID-against-steps curve (``fid_curve.json``, written by ``train_phases``) as card data and a plot."""
    file = run_dir / "fid_curve.json"
    if not file.is_file():
        return None
    curve = json.loads(file.read_text())
    figure, axis = plt.subplots(figsize=(4.5, 3), dpi=100)
    phases = sorted({p.get("phase", 1) for p in curve["points"]})
    for phase in phases:
        points = [p for p in curve["points"] if p.get("phase", 1) == phase]
        label = f"phase {phase}" if len(phases) > 1 else None
        axis.plot([p["step"] for p in points], [p["fid"] for p in points], marker="o", label=label)
    if len(phases) > 1:
        axis.legend()
    axis.set_yscale("log")  # the first epochs' FIDs are 10x the last ones
    axis.set(xlabel="generator steps", ylabel=f"FID ({curve['n_fake']} samples vs 10k train)", title=name)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(staging / "fid_curve.png")
    plt.close(figure)
    return curve


def export_summary(manifest: dict) -> dict:
    """What a card says about its export: kind, graphs, opset and the measured parity."""
    return {
        "kind": manifest["kind"],
        "graphs": list(manifest["graphs"]),
        "opset": manifest["opset"],
        "max_abs_diff": manifest["verification"]["max_abs_diff"],
    }


FIGURES = ("samples.png", "growth.png", "truncation.png", "mixing.png", "fid_curve.png")


def reexport(name: str) -> dict:
    """Export a bundled entry again from its unchanged ``model.keras`` (after a change of the export format).

    The model file is copied byte for byte (its sha256 stays), the figures are kept, the card keeps its
    documentary fields and gets new file hashes, sizes and export summary.
    """

    def fill(model, folder: Path, staging: Path, fields: dict) -> None:
        fields["export"] = export_summary(export(model, staging))
        for file in (zoo.MODEL_FILE, *FIGURES):
            if (folder / file).is_file():
                shutil.copy2(folder / file, staging / file)

    return restage(name, fill)


def resave(name: str) -> dict:
    """Save a bundled entry's model again without optimizer state (``include_optimizer=False``, half the bytes).

    The weights, exports and figures stay as they are (test_zoo checks the exports' parity against the new
    file); the card gets new file hashes and sizes.
    """

    def fill(model, folder: Path, staging: Path, fields: dict) -> None:
        shutil.copytree(folder, staging, ignore=shutil.ignore_patterns(zoo.CARD_FILE, zoo.MODEL_FILE))
        model.save(staging / zoo.MODEL_FILE, include_optimizer=False)

    return restage(name, fill)


def restage(name: str, fill) -> dict:
    """Rebuild ``exported/NAME`` in a staging folder (``fill(model, folder, staging, card_fields)``), then swap."""
    folder = ROOT / "exported" / name
    card = zoo.info(name)
    model = load_model(folder / zoo.MODEL_FILE)
    staging = folder.with_name(f".{name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    fields = {k: v for k, v in card.items() if k not in ("files", "sizes", "versions")}
    fill(model, folder, staging, fields)
    card = zoo.write_card(staging, model=model, **fields)
    shutil.rmtree(folder)
    staging.rename(folder)
    return card


def growth_strip(model, n: int = 8) -> np.ndarray:
    """Rows of ProGAN samples of the same seeds at 4x4, 8x8, ... (each upsampled to the full size)."""
    size, rows = model.image_shape[0], []
    for resolution in model.resolutions:
        grown = model.at_resolution(max(resolution, 8))  # the smallest ProGAN is 8x8: at 4x4 it upsamples
        grown.set_growth(resolution, 1.0)
        images = grown.generate(n, seed=0)
        k = size // images.shape[1]
        rows.append(np.repeat(np.repeat(images, k, 1), k, 2))
    return image_grid(np.concatenate(rows), columns=n)


def stylegan_entry(model, config: TrainConfig, staging: Path) -> tuple[dict, dict]:
    """StyleGAN: the three exports, samples, a truncation sweep and a style-mixing grid, evaluate_model."""
    manifest = export(model, staging)  # generator, mapping and synthesis graphs, parity-verified
    save_grid(model.generate(64, seed=0), staging / "samples.png", columns=8)
    save_png(latent_tools.truncation_sweep(model, seeds=range(6)), staging / "truncation.png", upscale=3)
    save_png(latent_tools.style_mixing_grid(model, [1, 2, 3, 4], [5, 6, 7, 8, 9]), staging / "mixing.png", upscale=3)
    metrics = evaluation.evaluate_model(model, config.data, seed=0)
    metrics["truncation_0.7"] = evaluation.evaluate_model(
        _Truncated(model, 0.7), config.data, seed=0, metrics=("fid", "kid", "pr")
    )
    metrics["reference"] = evaluation.real_floor(config.data, model.image_shape)
    return export_summary(manifest), metrics


class _Truncated:
    """``model`` sampled with truncation ``psi``: what evaluate_model needs (image_shape, generate)."""

    def __init__(self, model, psi: float):
        self.model, self.psi, self.image_shape = model, psi, model.image_shape

    def generate(self, n, seed=None, raw=False, **kwargs):
        return self.model.generate(n, seed=seed, raw=raw, truncation_psi=self.psi)


def image_entry(model, config: TrainConfig, staging: Path) -> tuple[dict, dict]:
    """Image-to-image: export every endpoint, an input|output|target panel and the task's held-out metrics."""
    manifest = export(model, staging)  # one graph per direction, dynamic height and width, parity-verified
    sources, targets = heldout(config)
    shown = slice(0, 8)
    image_utils.save_panel(
        [sources[shown], model.translate(sources[shown], raw=True), targets[shown]],
        staging / "samples.png",
        upscale=max(1, 96 // model.image_shape[0]),
    )
    return export_summary(manifest), task_metrics(model, config)


def heldout(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """All held-out (source, target) or (a, b) patches of the run's task, float [-1, 1]."""
    test = load_dataset(config, split="test", shuffle=False, drop_remainder=False)
    return tuple(np.concatenate(side) for side in zip(*((s.numpy(), t.numpy()) for s, t in test)))


def task_metrics(model, config: TrainConfig) -> dict:
    """The task's held-out numbers: SR against bicubic on whole photos, cycle/domain checks, or L1/PSNR/SSIM."""
    sources, targets = heldout(config)
    if model.architecture == "srgan":
        return image_eval.evaluate_super_resolution(lambda low: model.upscale(low, raw=True), model.scale)
    if model.architecture == "cyclegan":
        train_a, train_b = next(iter(load_dataset(dataclasses.replace(config, batch_size=512), shuffle=False)))
        classifier = image_eval.train_domain_classifier(train_a.numpy(), train_b.numpy())
        shift = image_tasks.HUE_SHIFT
        return image_eval.evaluate_cycle(
            model,
            sources,
            targets,
            truth_b=image_tasks.hue_shift(sources, shift).numpy(),
            truth_a=image_tasks.hue_shift(targets, -shift).numpy(),
            classifier=classifier,
        )
    baseline = np.repeat(sources, targets.shape[-1] // sources.shape[-1], axis=-1)  # the input itself (gray as RGB)
    return image_eval.evaluate_translation(lambda x: model.translate(x, raw=True), sources, targets, baseline=baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"entries to build: {', '.join(RECIPES)}")
    parser.add_argument("--all", action="store_true", help="build every entry")
    mode = parser.add_mutually_exclusive_group()  # at most one way to skip training
    mode.add_argument("--reuse-run", action="store_true", help="skip training; use runs/zoo/NAME/model.keras")
    mode.add_argument(
        "--reexport",
        action="store_true",
        help="skip training and evaluation: export the bundled exported/NAME/model.keras again",
    )
    mode.add_argument(
        "--resave",
        action="store_true",
        help="skip training and evaluation: save the bundled exported/NAME/model.keras again without optimizer state",
    )
    mode.add_argument(
        "--from-phase",
        type=int,
        default=1,
        metavar="K",
        help="train phases K.. only, the earlier ones taken from runs/zoo/NAME/phase_J (a finished run of this "
        "recipe: model.keras, timing.json, fid_curve.json)",
    )
    args = parser.parse_args(argv)
    if args.from_phase < 1:
        parser.error(f"--from-phase must be >= 1, got {args.from_phase}")
    names = list(RECIPES) if args.all else args.names
    unknown = [n for n in names if n not in RECIPES]
    if not names or unknown:
        parser.error(f"name one or more of {', '.join(RECIPES)} (unknown: {', '.join(unknown) or 'none'})")
    for name in names:
        if args.reexport or args.resave:
            card = reexport(name) if args.reexport else resave(name)
            print(f"{name}: {card['sizes']}")
            continue
        card = build(name, reuse_run=args.reuse_run, from_phase=args.from_phase)
        print(f"{name}: {card['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
