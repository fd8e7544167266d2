"""Where the benchmark writes, what it runs (cases, targets) and how much of it (:class:`Plan`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository (tools/benchmarks/config.py)
BENCH_SCRIPT = ROOT / "tools" / "bench.py"
DOCS = ROOT / "docs"
REPORT = DOCS / "BENCHMARKS.md"
CHART = DOCS / "img" / "benchmarks.png"
CHART_SCALING = DOCS / "img" / "benchmarks_scaling.png"
BENCH_DIR = ROOT / "runs" / "bench"
RESULTS = BENCH_DIR / "results.json"
LOGS = BENCH_DIR / "logs"
MARK = "@@bench@@ "
SECTIONS = ("peak", "compare", "probes", "defaults", "pipeline", "archs", "scaling", "inference", "peak_end")
COMPARE_NAMES = ("ganzoo", "ganzoo_no_xla", "keras", "torch", "torch_1t")
NO_XLA = {"jit_compile": False}
# TensorFlow's own defaults on this CPU, then ganzoo's speed defaults switched on one at a time.
DEFAULT_CASES = {
    "TensorFlow defaults (Eigen kernels, tf.data autotuner, no XLA)": ("0", "pipeline_autotune", False),
    "+ oneDNN kernels": ("1", "pipeline_autotune", False),
    "+ autotuner off (ganzoo's pipelines)": ("1", "pipeline", False),
    "+ XLA: ganzoo train's defaults": ("1", "pipeline", True),
}

# Architectures without a zoo recipe yet get this configuration (digits at 16 px like the zoo's
# dcgan/cgan where the architecture generates from a latent; small synthetic pairs otherwise).
BENCH_CONFIGS: dict[str, dict[str, Any]] = {
    "wgan_gp": {
        "config": dict(
            architecture="wgan_gp", data="digits", batch_size=64, seed=0, model=dict(latent_dim=64, base_filters=64)
        )
    },
    "sngan": {
        "config": dict(
            architecture="sngan", data="digits", batch_size=64, seed=0, model=dict(latent_dim=64, base_filters=64)
        )
    },
    "progan": {"config": dict(architecture="progan", data="digits", batch_size=64, seed=0, model=dict(latent_dim=64))},
    "stylegan": {
        "config": dict(architecture="stylegan", data="digits", batch_size=64, seed=0, model=dict(latent_dim=64))
    },
    "pix2pix": {
        "synthetic": dict(
            architecture="pix2pix",
            model=dict(image_shape=[32, 32, 3]),
            shapes=[[32, 32, 3], [32, 32, 3]],
            batch_size=4,
            steps=8,
        )
    },
    "cyclegan": {
        "synthetic": dict(
            architecture="cyclegan",
            model=dict(image_shape=[32, 32, 3]),
            shapes=[[32, 32, 3], [32, 32, 3]],
            batch_size=4,
            steps=6,
        )
    },
    "srgan": {
        "synthetic": dict(
            architecture="srgan",
            model=dict(image_shape=[32, 32, 3], scale=4, content_loss="discriminator"),
            shapes=[[8, 8, 3], [32, 32, 3]],
            batch_size=16,
            steps=6,
        )
    },
}

# The classic MNIST-sized DCGAN of the side-by-side comparison.
CLASSIC = dict(image_size=28, channels=1, latent_dim=100, base_filters=64, batch_size=64)

TARGETS = {
    "vs_keras": 1.0,  # ganzoo dcgan fit / plain Keras reference (steps/s)
    "vs_torch": 1.3,  # ganzoo dcgan fit / PyTorch CPU
    "peak_fraction": 0.55,  # achieved FLOP/s / matmul peak
    "pipeline_overhead": 0.05,
    "onnx_vs_savedmodel_b1": 3.0,
    "cold_start_onnx_s": 1.0,
}


@dataclasses.dataclass
class Plan:
    """How much to measure: ``full`` for the report, ``quick`` to build and debug (< 3 minutes)."""

    quick: bool
    peak_sizes: tuple = (1024, 2048, 4096)
    peak_reps: int = 5
    compare_rounds: int = 7
    compare_epochs: int = 2
    probe_rounds: int = 3
    probe_epochs: int = 2
    pipeline_rounds: int = 3
    pipeline_epochs: int = 2
    arch_rounds: int = 2
    arch_budget_s: float = 3.0
    arch_xla: bool = True
    arch_filter: tuple | None = None
    scaling_batches: tuple = (16, 32, 64, 128, 256)
    scaling_sizes: tuple = (16, 28, 32, 64)
    scaling_epoch_s: float = 1.5
    scaling_rounds: int = 2
    infer_calls_b1: int = 300
    infer_calls_b64: int = 40
    cold_onnx: int = 5
    cold_keras: int = 3
    shared_tf_worker: bool = False

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if not quick:
            return cls(quick=False)
        return cls(
            quick=True,
            peak_sizes=(2048,),
            peak_reps=3,
            compare_rounds=2,
            compare_epochs=1,
            probe_rounds=1,
            probe_epochs=1,
            pipeline_rounds=1,
            pipeline_epochs=1,
            arch_rounds=1,
            arch_budget_s=0.0,
            arch_xla=False,
            arch_filter=("dcgan", "cgan", "vanilla_gan"),
            scaling_batches=(32, 64),
            scaling_sizes=(16, 28),
            scaling_epoch_s=0.5,
            scaling_rounds=1,
            infer_calls_b1=50,
            infer_calls_b64=8,
            cold_onnx=2,
            cold_keras=1,
            shared_tf_worker=True,
        )
