"""``ganzoo train``: a complete run folder from the command line."""

from __future__ import annotations

import argparse
import ast
import os

from ganzoo.cli.common import Command


def parse_assignment(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as a Python literal when it is one (``3``, ``(16, 16, 1)``, ``True``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("architecture", help="architecture name (see `ganzoo list`)")
    p.add_argument(
        "--data",
        default="digits",
        help="data spec: digits, faces, fashion_mnist, ring8, grid25, tfds:NAME[:SPLIT], folder:PATH",
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=None, help="resize images to this size (default: the data's own)")
    p.add_argument("--channels", type=int, default=None, choices=(1, 3))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", default=None, help="adversarial loss (see ganzoo.losses); default: the architecture's own")
    p.add_argument("--g-lr", type=float, default=None, help="generator learning rate (default: the architecture's)")
    p.add_argument("--d-lr", type=float, default=None, help="discriminator learning rate (default: the architecture's)")
    p.add_argument(
        "--lr-decay-epochs",
        type=int,
        default=0,
        metavar="N",
        help="decay both learning rates linearly towards 0 over the last N epochs (CycleGAN's and pix2pix's "
        "schedule: --epochs 200 --lr-decay-epochs 100); default 0, constant",
    )
    p.add_argument(
        "--set",
        dest="model",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="architecture argument, e.g. --set base_filters=32 --set ema_decay=0.999 (repeatable)",
    )
    p.add_argument("--sample-every", type=int, default=1, help="epochs between sample grids")
    p.add_argument("--out", default=None, help="output folder (default: runs/ARCH-DATA)")
    p.add_argument("--resume", action="store_true", help="continue a crashed run in --out from its last epoch")
    p.add_argument(
        "--strategy",
        default="default",
        choices=("default", "mirrored", "multiworker", "tpu"),
        help="tf.distribute strategy: mirrored (local GPUs/devices), multiworker (cluster from TF_CONFIG, "
        "run the same command on every worker; see docs/DISTRIBUTED.md), tpu",
    )
    p.add_argument(
        "--precision",
        default="float32",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
        help="compute precision (weights stay float32; mixed_float16 uses loss scaling)",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="tf.config.experimental.enable_op_determinism(): bit-identical reruns and resumes",
    )
    p.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="auto",
        help="jit_compile the train step: auto = where tools/bench.py measured it faster (the DCGAN family)",
    )
    p.add_argument(
        "--no-monitor",
        dest="monitor",
        action="store_false",
        help="do not attach GANMonitor (by default it names mode collapse, a discriminator that overpowers "
        "the generator, oscillation or divergence while training, with evidence and a remedy)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="NAME_OR_FILE",
        help="fine-tune: start from a zoo model's (or .keras file's) networks and architecture arguments",
    )


def run(args: argparse.Namespace) -> int:
    """Train an architecture with model.fit; writes samples, curves, checkpoints and the model."""
    from ganzoo.training.run import TrainConfig, train

    config = TrainConfig(
        architecture=args.architecture,
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        image_size=args.image_size,
        channels=args.channels,
        seed=args.seed,
        loss=args.loss,
        g_learning_rate=args.g_lr,
        d_learning_rate=args.d_lr,
        lr_decay_epochs=args.lr_decay_epochs,
        model=dict(args.model),
        sample_every=args.sample_every,
        strategy=args.strategy,
        precision=args.precision,
        deterministic=args.deterministic,
        init_from=args.init_from,
        monitor=args.monitor,
        compile={} if args.xla == "auto" else {"jit_compile": args.xla == "on"},
    )
    out = args.out or os.path.join("runs", f"{args.architecture}-{args.data.replace(':', '_').replace('/', '_')}")
    train(config, out, resume=args.resume)
    print(f"Wrote {out}/model.keras, samples in {out}/samples/, curves in {out}/loss_curves.png")
    return 0


COMMANDS = {"train": Command(configure, run)}
