"""ganzoo's benchmark suite: training against peers and the hardware limit, input pipeline, inference.

    python tools/bench.py                 # full run, about 10-15 minutes on 2 cores
    python tools/bench.py --quick         # smoke run (< 3 minutes): few repeats, small step counts
    python tools/bench.py --report-only   # rewrite the report from runs/bench/results.json
    python tools/bench.py --sections compare,inference   # only some sections (others kept from the last run)
    python tools/bench.py --sections archs --archs dcgan,progan   # some architectures only

Writes ``docs/BENCHMARKS.md``, ``docs/img/benchmarks.png`` and ``docs/img/benchmarks_scaling.png``;
raw numbers go to ``runs/bench/results.json`` and worker logs to ``runs/bench/logs/``.
Not part of the test suite. PyTorch is needed for the side-by-side section only
(``pip install torch==2.13.0``, CPU build); without it that column is reported as missing.

How it measures (details in the report it writes):

* Every implementation runs in its own worker process (``--worker tf|torch``), driven over a
  pipe, so TensorFlow and PyTorch never share thread pools and a crash costs one section only.
  Contenders are measured in interleaved rounds (A, B, C, then B, C, A, ...), so machine load
  that drifts during the run hits all of them alike; ratios are also given per round.
* Training throughput is timed by Keras callbacks around whole ``fit`` epochs (iterator
  creation, logs and epoch-end work included, tracing excluded: the first epoch is a warm-up),
  PyTorch by the same epochs of its own loop; medians over epochs, with min-max spread.
* FLOPs: Dense/Conv/ConvTranspose multiply-accumulates x 2, counted per layer from the models'
  shapes, for the work a step must do (see ``standard_step_macs``); cross-checked by TensorFlow's
  per-op FLOP statistics on the traced train step. The peak is a float32 matmul timed in the
  same run (several sizes, best median).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
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


# =========================================================================== statistics
def summarize(values: list[float]) -> dict[str, Any]:
    """median, min, max, interquartile range and count of a list of numbers."""
    values = sorted(float(v) for v in values if v is not None and math.isfinite(v))
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "iqr": None}
    if len(values) >= 4:
        q = statistics.quantiles(values, n=4)
        iqr = q[2] - q[0]
    else:
        iqr = values[-1] - values[0]
    return {"n": len(values), "median": statistics.median(values), "min": values[0], "max": values[-1], "iqr": iqr}


def rates(run: dict[str, Any]) -> list[float]:
    """Steps per second of each timed epoch of a run result."""
    return [run["steps"] / t for t in run["epoch_s"] if t > 0]


def json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


# =========================================================================== workers (child side)
class EpochClock:
    """Two callbacks around fit's epochs: ``start`` goes first in the list, ``stop`` last.

    ``stop`` ends fit once ``min_epochs`` are timed and ``budget_s`` has passed.
    """

    def __init__(self, min_epochs: int, budget_s: float):
        import keras

        clock = self
        self.times: list[float] = []
        self.t0 = 0.0
        self.started = time.perf_counter()

        class Start(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                clock.t0 = time.perf_counter()

        class Stop(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                clock.times.append(time.perf_counter() - clock.t0)
                if len(clock.times) >= min_epochs and time.perf_counter() - clock.started >= budget_s:
                    self.model.stop_training = True

        self.start, self.stop = Start(), Stop()


def layer_macs(network) -> dict[str, Any]:
    """Per-sample forward multiply-accumulates of a functional Keras network's Dense/Conv layers.

    Returns ``{"forward", "first_input", "layers": [(name, kind, macs)], "unknown": [...]}``;
    ``first_input`` sums the layers fed directly by a network input, whose input gradient a
    training step never needs. Nested models are walked recursively.
    """
    import keras

    result = {"forward": 0, "first_input": 0, "layers": [], "unknown": []}
    inputs = [id(t) for t in network.inputs]

    def fed_by_input(layer) -> bool:
        try:
            tensors = keras.tree.flatten(layer.input)
        except Exception:
            return False
        return any(id(t) in inputs for t in tensors)

    for layer in network.layers:
        if isinstance(layer, keras.Model):
            inner = layer_macs(layer)
            result["forward"] += inner["forward"]
            result["layers"] += inner["layers"]
            result["unknown"] += inner["unknown"]
            if fed_by_input(layer):
                result["first_input"] += inner["first_input"]
            continue
        macs = None
        try:
            if isinstance(layer, keras.layers.Dense):
                in_dim, units = layer.kernel.shape
                lead = math.prod(int(s) for s in layer.input.shape[1:-1])
                macs = lead * int(in_dim) * int(units)
            elif isinstance(layer, keras.layers.Conv2DTranspose):
                kh, kw, _, cin = layer.kernel.shape
                _, h, w, _ = layer.input.shape
                macs = int(h) * int(w) * int(kh) * int(kw) * int(cin) * int(layer.filters)
            elif isinstance(layer, keras.layers.Conv2D):
                kh, kw, cin_g, cout = layer.kernel.shape
                _, h, w, _ = layer.output.shape
                macs = int(h) * int(w) * int(kh) * int(kw) * int(cin_g) * int(cout)
            elif getattr(layer, "kernel", None) is not None or any("kernel" in v.path for v in layer.weights):
                result["unknown"].append(f"{layer.name} ({type(layer).__name__})")
        except Exception as error:  # a layer whose shapes cannot be read
            result["unknown"].append(f"{layer.name} ({type(layer).__name__}: {error})")
        if macs:
            result["forward"] += macs
            result["layers"].append((layer.name, type(layer).__name__, macs))
            if fed_by_input(layer):
                result["first_input"] += macs
    return result


def standard_step_macs(g: dict, d: dict, d_steps: int = 1) -> dict[str, float]:
    """Per-sample MACs of the classic alternating GAN step, two ways.

    ``needed``: what the step must compute. Per D step: G forward (fakes, no tape), D forward on
    real and on fake, and for both passes D's weight gradients (= forward MACs) and input
    gradients (= forward MACs) except the first layer's. G step: G forward, D forward, D input
    gradients (all layers, down to the image), G weight gradients and G input gradients except
    the first layer's. Total for d_steps=1: 4 G_f + 8 D_f - 2 D_first - G_first.

    ``convention``: "backward = 2 x forward" everywhere, as in the brief: G fwd + 2 D fwd +
    D bwd (2x) for the D step, G and D fwd + 2x bwd for the G step = 4 G_f + 9 D_f per D step
    pair; this also equals the matmul/conv FLOPs of TensorFlow's traced graph before pruning.
    """
    gf, df = g["forward"], d["forward"]
    needed = d_steps * (gf + 2 * df + 2 * df + 2 * (df - d["first_input"])) + (
        gf + df + df + gf + gf - g["first_input"]
    )
    convention = d_steps * (gf + 2 * df + 4 * df) + 3 * (gf + df)
    return {"needed": needed, "convention": convention, "g_forward": gf, "d_forward": df}


class TFWorker:
    """Hosts models ("entries") in one TensorFlow process and times them on request."""

    def __init__(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # isort: off
        import ganzoo.models  # noqa: F401  (first, as in a user's program: its oneDNN default applies)
        import keras
        import tensorflow as tf

        # isort: on

        self.tf, self.keras = tf, keras
        self.entries: dict[str, dict[str, Any]] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="ganzoo-bench-"))

    def handle(self, cmd: dict[str, Any]):
        op = cmd.pop("op")
        return getattr(self, f"op_{op}")(**cmd)

    def op_quit(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        return {}

    def op_info(self):
        import keras
        import numpy as np
        import onnxruntime
        import tensorflow as tf

        return {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "onnxruntime": onnxruntime.__version__,
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
            "tf_threads": {
                "intra": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter": tf.config.threading.get_inter_op_parallelism_threads(),
            },
        }

    # ------------------------------------------------------------------ the hardware limit
    def op_matmul(self, sizes=(2048,), reps: int = 5):
        """GFLOP/s of float32 n x n x n matmuls (2 n^3 FLOPs), median and best of ``reps`` per size."""
        tf = self.tf
        out = {}
        for n in sizes:
            a = tf.random.normal((n, n))
            b = tf.random.normal((n, n))
            f = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
            for _ in range(2):
                f(a, b).numpy()
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                f(a, b).numpy()
                times.append(time.perf_counter() - t0)
            flops = 2.0 * n**3
            out[str(n)] = {
                "median_gflops": flops / statistics.median(times) / 1e9,
                "best_gflops": flops / min(times) / 1e9,
            }
        return out

    # ------------------------------------------------------------------------------- data
    def op_recipes(self):
        """The zoo's recipes (tools/train_zoo.py) and the registered architectures."""
        import importlib.util

        from ganzoo.models import list_architectures

        spec = importlib.util.spec_from_file_location("train_zoo", ROOT / "tools" / "train_zoo.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # A recipe's last phase is its zoo configuration (a phase that starts from the one before it starts anew here).
        recipes = {
            name: dataclasses.asdict(dataclasses.replace(r["phases"][-1], init_from=None))
            for name, r in module.RECIPES.items()
        }
        return {"recipes": recipes, "architectures": list_architectures()}

    def op_dump_digits(self, path: str, image_size: int):
        """The digits training split at ``image_size`` (ganzoo's preprocessing), unshuffled, as .npy."""
        import numpy as np

        from ganzoo.data import datasets as data_lib

        ds = data_lib.load("digits", batch_size=4096, image_size=image_size, shuffle=False, drop_remainder=False)
        images = np.concatenate([b.numpy() for b in ds])
        np.save(path, images.astype(np.float32))
        return {"shape": list(images.shape), "min": float(images.min()), "max": float(images.max())}

    def _synthetic(self, shapes, batch_size: int, steps: int, seed: int = 0):
        import numpy as np

        tf = self.tf
        rng = np.random.default_rng(seed)
        arrays = [rng.uniform(-1, 1, (batch_size * steps, *shape)).astype(np.float32) for shape in shapes]
        ds = tf.data.Dataset.from_tensor_slices(tuple(arrays) if len(arrays) > 1 else arrays[0])
        return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def _in_memory(self, ds):
        """One epoch of ``ds`` materialized: a dataset of ready-made batches (no per-example work)."""
        tf = self.tf
        batches = list(ds)
        stacked = tf.nest.map_structure(lambda *xs: tf.stack(xs), *batches)
        return tf.data.Dataset.from_tensor_slices(stacked)

    # ------------------------------------------------------------------------------ models
    def op_add(self, id: str, spec: dict[str, Any]):
        """Build a model and its dataset(s); return shapes, parameter counts and analytic FLOPs."""
        import keras
        import numpy as np

        keras.utils.set_random_seed(int(spec.get("seed", 0)))
        t0 = time.perf_counter()
        impl = spec.get("impl", "ganzoo")
        info: dict[str, Any] = {"impl": impl}
        if impl == "keras_ref":
            sys.path.insert(0, str(ROOT / "tools"))
            import bench_reference as ref

            images = np.load(spec["images"])
            model = ref.make_keras_dcgan(
                image_size=images.shape[1],
                channels=images.shape[3],
                latent_dim=spec.get("latent_dim", ref.LATENT_DIM),
                base_filters=spec.get("base_filters", ref.BASE_FILTERS),
                fused_bn=spec.get("fused_bn", False),
                jit_compile=spec.get("jit_compile", False),
            )
            ds = ref.keras_dataset(images, spec.get("batch_size", 64))
            g, d, d_steps, standard = model.generator, model.discriminator, 1, True
        else:
            model, ds = self._ganzoo_model(spec)
            g, d, d_steps = model.generator, model.discriminator, model.d_steps
            standard = self._is_standard_step(model)
            info["architecture"] = model.architecture
        datasets = {"pipeline": ds}
        if spec.get("autotune"):  # the same pipeline with tf.data's autotuner back on (TensorFlow's default)
            options = self.tf.data.Options()
            options.autotune.enabled = True
            datasets["pipeline_autotune"] = ds.with_options(options)
        if spec.get("memory") or spec.get("data_mode") == "memory":
            datasets["memory"] = self._in_memory(ds)
        default = spec.get("data_mode", "pipeline")
        steps = int(datasets[default].cardinality().numpy())
        first = next(iter(datasets[default]))
        batch = int(self.tf.nest.flatten(first)[0].shape[0])
        info.update(
            steps=steps,
            batch=batch,
            build_s=time.perf_counter() - t0,
            params={"generator": int(g.count_params()), "discriminator": int(d.count_params())},
        )
        try:
            gm, dm = layer_macs(g), layer_macs(d)
            info["macs"] = {"generator": gm, "discriminator": dm}
            if standard and not gm["unknown"] and not dm["unknown"]:
                step = standard_step_macs(gm, dm, d_steps)
                info["flops_per_step"] = {k: 2.0 * v * batch for k, v in step.items()}
                info["flops_method"] = "analytic (standard step)"
        except Exception as error:
            info["macs_error"] = f"{type(error).__name__}: {error}"
        self.entries[id] = {
            "model": model,
            "datasets": datasets,
            "default": default,
            "steps": steps,
            "batch": batch,
            "spec": spec,
        }
        return info

    def _is_standard_step(self, model) -> bool:
        from ganzoo.models.base import GAN

        cls = type(model)
        same = all(getattr(cls, m) is getattr(GAN, m) for m in ("train_step", "discriminator_step", "generator_step"))
        return (
            same and not model.gp_weight and not model.r1_gamma and model.augmenter is None and not model.instance_noise
        )

    def _ganzoo_model(self, spec):
        import types

        import keras

        from ganzoo.models import create
        from ganzoo.training import run as training

        compile_kwargs = dict(spec.get("compile") or {})
        if "config" in spec:
            config = training.TrainConfig(**spec["config"])
            ds = training.load_dataset(config)
            model = training.build_model(config, ds)
            if compile_kwargs:
                model.compile(
                    g_optimizer=training._adam(config, config.g_learning_rate, model),
                    d_optimizer=training._adam(config, config.d_learning_rate, model),
                    loss=config.loss,
                    **compile_kwargs,
                )
        else:
            synthetic = spec["synthetic"]
            ds = self._synthetic(synthetic["shapes"], synthetic["batch_size"], synthetic.get("steps", 8))
            kwargs = dict(synthetic.get("model") or {})
            if "image_shape" in kwargs:
                kwargs["image_shape"] = tuple(kwargs["image_shape"])
            model = create(synthetic["architecture"], seed=0, **kwargs)
            model.compile(**compile_kwargs)
        variant = spec.get("variant")
        if variant in ("no_checks", "lean"):
            # The batch checks (static and tf.debugging value assertions) skipped.
            base_unpack = type(model).unpack_batch

            def unpack(self, data, _base=base_unpack):
                if isinstance(data, (tuple, list)):
                    return data[0], (data[1] if self.is_conditional and len(data) > 1 else None)
                return data, None

            model.unpack_batch = types.MethodType(unpack, model)
        if variant in ("no_grad_norms", "lean"):
            # Gradient norms (two global_norm reductions per step) not computed.
            def apply_gradients(self, tape, loss, network, optimizer):
                grads = tape.gradient(loss, network.trainable_variables)
                optimizer.apply(grads, network.trainable_variables)
                return keras.ops.zeros(())

            model.apply_gradients = types.MethodType(apply_gradients, model)
        return model, ds

    def op_run(
        self,
        id: str,
        epochs: int = 1,
        budget_s: float = 0.0,
        max_epochs: int = 200,
        data: str | None = None,
        callbacks: str = "none",
        verbose: int = 0,
    ):
        """fit() for at least ``epochs`` epochs (and ``budget_s`` seconds); per-epoch wall times."""
        entry = self.entries[id]
        ds = entry["datasets"][data or entry["default"]]
        clock = EpochClock(epochs, budget_s)
        extra = self._callbacks(callbacks, entry)
        total = max_epochs if budget_s > 0 else epochs
        t0 = time.perf_counter()
        entry["model"].fit(
            ds, epochs=total, verbose=verbose, callbacks=[clock.start, *extra, clock.stop], shuffle=False
        )
        return {
            "epoch_s": clock.times,
            "steps": entry["steps"],
            "batch": entry["batch"],
            "fit_s": time.perf_counter() - t0,
        }

    def _callbacks(self, which: str, entry) -> list:
        if which == "none":
            return []
        import keras

        from ganzoo.training.callbacks import LossCurves, SampleGrid

        out = Path(tempfile.mkdtemp(dir=self.tmp))
        samples = [SampleGrid(out / "samples", every=1), LossCurves(out / "loss_curves.png")]
        checkpoints = [
            keras.callbacks.ModelCheckpoint(str(out / "checkpoints" / "last.keras")),
            keras.callbacks.BackupAndRestore(str(out / "backup")),
        ]
        logging = [keras.callbacks.CSVLogger(str(out / "history.csv")), keras.callbacks.TerminateOnNaN()]
        return {
            "samples": samples,
            "checkpoints": checkpoints,
            "logging": logging,
            "zoo": samples[:1] + samples[1:] + logging[:1] + checkpoints[:1] + logging[1:] + checkpoints[1:],
        }[which]

    def op_flops(self, id: str):
        """Matmul/conv FLOPs of the traced train step from TensorFlow's per-op statistics (before pruning)."""
        from collections import Counter

        from tensorflow.python.framework import ops as tf_ops

        tf = self.tf
        entry = self.entries[id]
        model = entry["model"]
        spec = entry["datasets"]["pipeline"].element_spec
        graph = tf.function(model.train_step).get_concrete_function(spec).graph
        mac_ops = {
            "MatMul",
            "BatchMatMulV2",
            "BatchMatMulV3",
            "Conv2D",
            "Conv2DBackpropInput",
            "Conv2DBackpropFilter",
            "DepthwiseConv2dNative",
            "DepthwiseConv2dNativeBackpropInput",
            "DepthwiseConv2dNativeBackpropFilter",
        }
        by_type: Counter = Counter()
        other = 0.0
        control = Counter()
        for op in graph.get_operations():
            if op.type in (
                "If",
                "StatelessIf",
                "While",
                "StatelessWhile",
                "PartitionedCall",
                "StatefulPartitionedCall",
            ):
                control[op.type] += 1
            try:
                value = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
            except Exception:
                value = None
            if not value:
                continue
            if op.type in mac_ops:
                by_type[op.type] += float(value)
            else:
                other += float(value)
        return {
            "mac_flops": sum(by_type.values()),
            "by_type": dict(by_type),
            "elementwise_flops": other,
            "control_flow_ops": dict(control),
        }

    def op_anatomy(self, id: str, calls: int = 20):
        """Time each Dense/Conv layer of G and D alone (forward; forward + both gradients) at the entry's batch.

        Estimates how much of a step the matmul/conv work takes at the speed each layer shape
        reaches, and that speed as GFLOP/s per layer.
        """
        import keras

        tf = self.tf
        entry = self.entries[id]
        model, batch = entry["model"], entry["batch"]
        rows = []
        for net_name, net, fwd_mult, bwd_mult in (("G", model.generator, 2, 1.0), ("D", model.discriminator, 3, 2.5)):
            for layer in net.layers:
                if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
                    continue
                clone = type(layer).from_config(layer.get_config())
                shape = (batch, *[int(s) for s in layer.input.shape[1:]])
                x = tf.random.normal(shape)
                clone.build(shape)
                clone(x)

                @tf.function
                def forward(x, clone=clone):
                    return tf.reduce_sum(clone(x))

                @tf.function
                def forward_backward(x, clone=clone):
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        y = tf.reduce_sum(clone(x))
                    gx, gw = tape.gradient(y, [x, clone.trainable_variables])
                    return tf.reduce_sum(gx) + tf.add_n([tf.reduce_sum(g) for g in gw])

                timings = {}
                for name, fn in (("forward", forward), ("forward_backward", forward_backward)):
                    for _ in range(3):
                        fn(x).numpy()
                    samples = []
                    for _ in range(calls):
                        t0 = time.perf_counter()
                        fn(x).numpy()
                        samples.append(time.perf_counter() - t0)
                    timings[name] = statistics.median(samples)
                macs = layer_macs_single(layer) * batch
                backward = max(timings["forward_backward"] - timings["forward"], 0.0)
                rows.append(
                    {
                        "network": net_name,
                        "layer": layer.name,
                        "kind": type(layer).__name__,
                        "input": list(shape[1:]),
                        "output": [int(s) for s in layer.output.shape[1:]],
                        "gflop_forward": 2 * macs / 1e9,
                        "forward_ms": timings["forward"] * 1e3,
                        "forward_backward_ms": timings["forward_backward"] * 1e3,
                        "gflops_forward": 2 * macs / timings["forward"] / 1e9,
                        "gflops_forward_backward": 6 * macs / timings["forward_backward"] / 1e9,
                        # In a step: G layers 2 forwards + ~1 backward; D layers 3 forwards + ~2.5 backwards.
                        "step_ms_estimate": (fwd_mult * timings["forward"] + bwd_mult * backward) * 1e3,
                    }
                )
        return {"layers": rows, "step_mac_ms_estimate": sum(r["step_ms_estimate"] for r in rows)}

    # ------------------------------------------------------------------------- inference
    def op_zoo_gans(self):
        """Zoo entries that are GANs with an ONNX export (what `ganzoo sample` serves)."""
        from ganzoo.deploy import zoo
        from ganzoo.models import list_architectures

        names = []
        for name in zoo.list_models():
            try:
                card = zoo.info(name)
            except Exception:
                continue
            if card.get("architecture") in list_architectures() and "generator.onnx" in (card.get("files") or {}):
                names.append(name)
        return {"all": zoo.list_models(), "gans": names}

    def op_make_entries(self, zoo_dir: str, names: list[str]):
        """Fresh (untrained) dcgan/cgan at the zoo recipes' configuration, exported into a temporary zoo."""
        from ganzoo.deploy import zoo
        from ganzoo.deploy.exporter import export
        from ganzoo.models import create

        made = {}
        for name in names:
            arch = name.split("-")[0]
            kwargs = dict(image_shape=(16, 16, 1), latent_dim=64, base_filters=64, ema_decay=0.999, seed=0)
            if arch == "cgan":
                kwargs["num_classes"] = 10
            model = create(arch, **kwargs)
            folder = Path(zoo_dir) / name
            t0 = time.perf_counter()
            export(model, folder)
            model.save(folder / "model.keras")
            zoo.write_card(
                folder,
                model=model,
                name=name,
                architecture=arch,
                config=model.get_config(),
                data={"spec": "digits", "split": "train"},
                training={"note": "untrained: benchmark stand-in for a zoo entry"},
                metrics={"note": "none (untrained)"},
                license="Apache-2.0",
                intended_use="benchmarking only",
                limitations="untrained weights",
            )
            made[name] = {"export_s": time.perf_counter() - t0, "config": kwargs}
        return made

    def op_inference(self, name: str, calls_b1: int, calls_b64: int, zoo_dir: str | None = None):
        """Latency (batch 1) and throughput (batch 64) of one zoo entry through Keras, SavedModel and ORT."""
        import numpy as np

        if zoo_dir:
            os.environ["GANZOO_ZOO_DIR"] = zoo_dir
        import onnxruntime as ort

        from ganzoo.deploy import loading, runtime, zoo
        from ganzoo.utils.sampling import latent_vectors

        tf = self.tf
        folder = zoo.path(name)
        model = loading.load(name)
        loaded = tf.saved_model.load(str(folder / "savedmodel"))
        onnx_path = str(folder / "generator.onnx")
        cond = model.is_conditional
        style = model.architecture == "stylegan"
        cores = os.cpu_count() or 1
        result: dict[str, Any] = {
            "conditional": cond,
            "latent_dim": model.latent_dim,
            "image_shape": list(model.image_shape),
            "backends": {},
        }

        def inputs(batch):
            """(ONNX feed, SavedModel serve arguments, Keras model input) for ``batch`` samples."""
            z = latent_vectors(batch, model.latent_dim, 0)
            if style:  # psi = 1 and the constant noise maps, as model(z)
                noise = model.noise_inputs(batch, "const")
                feed = {"z": z, "truncation_psi": np.array(1.0, np.float32), **noise}
                return feed, [tf.constant(z), tf.constant(1.0), *map(tf.constant, noise.values())], z
            if cond:
                labels = (np.arange(batch) % model.num_classes).astype(np.int32)
                return {"z": z, "label": labels}, [tf.constant(z), tf.constant(labels)], [z, labels]
            return {"z": z}, [tf.constant(z)], z

        keras_fn = tf.function(lambda x: model(x, training=False))

        def session(threads, spinning=True, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
            options = runtime.session_options(threads)
            options.graph_optimization_level = level
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
            return ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])

        library = runtime.load(folder)
        library_label = f"onnx (ganzoo.runtime default: {library.threads} thread{'s' * (library.threads > 1)})"
        sessions = {}
        for threads in sorted({1, cores}):
            for spinning in (True, False):
                sessions[f"onnx threads={threads} spinning={'on' if spinning else 'off'}"] = session(threads, spinning)
        sessions["onnx threads=1 no graph optimization"] = session(1, True, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)

        for batch, calls in ((1, calls_b1), (64, calls_b64)):
            feed, serve_args, keras_input = inputs(batch)
            keras_tensor = tf.nest.map_structure(tf.constant, keras_input)
            if style:  # the runtime's own path: mapping and synthesis graphs, latents drawn from the seed
                library_fn = lambda batch=batch: library.generate(batch, seed=0, raw=True, batch_size=batch)
            else:
                library_fn = lambda feed=feed: library.run(feed["z"], feed.get("label"))
            fns = {
                "keras model(x)": lambda: np.asarray(model(keras_input, training=False)),
                "keras model(x) in tf.function": lambda: keras_fn(keras_tensor).numpy(),
                "savedmodel serve": lambda: _first(loaded.serve(*serve_args)).numpy(),
                library_label: library_fn,
            }
            for label, sess in sessions.items():
                fns[label] = lambda sess=sess, feed=feed: sess.run(None, feed)[0]
            for label, fn in fns.items():
                stats = time_calls(fn, calls)
                stats["kind"] = ("library" if label == library_label else "tuned") if label.startswith("onnx") else "tf"
                result["backends"].setdefault(label, {})[str(batch)] = stats
        return result


def layer_macs_single(layer) -> int:
    import keras

    if isinstance(layer, keras.layers.Dense):
        in_dim, units = layer.kernel.shape
        return math.prod(int(s) for s in layer.input.shape[1:-1]) * int(in_dim) * int(units)
    if isinstance(layer, keras.layers.Conv2DTranspose):
        kh, kw, _, cin = layer.kernel.shape
        _, h, w, _ = layer.input.shape
        return int(h) * int(w) * int(kh) * int(kw) * int(cin) * int(layer.filters)
    kh, kw, cin_g, cout = layer.kernel.shape
    _, h, w, _ = layer.output.shape
    return int(h) * int(w) * int(kh) * int(kw) * int(cin_g) * int(cout)


def _first(outputs):
    if isinstance(outputs, dict):
        return next(iter(outputs.values()))
    return outputs


def time_calls(fn, calls: int, warmup: int = 10) -> dict[str, float]:
    """Median / p10 / p90 milliseconds of ``calls`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return {"median_ms": statistics.median(samples), "p10_ms": pick(0.1), "p90_ms": pick(0.9), "n": len(samples)}


class TorchWorker:
    """The PyTorch reference (tools/bench_reference.py) in its own process."""

    def __init__(self):
        sys.path.insert(0, str(ROOT / "tools"))
        import torch

        self.torch = torch
        self.entries: dict[str, Any] = {}

    def handle(self, cmd):
        op = cmd.pop("op")
        return getattr(self, f"op_{op}")(**cmd)

    def op_quit(self):
        return {}

    def op_info(self):
        torch = self.torch
        return {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
        }

    def op_add(self, id: str, spec: dict[str, Any]):
        import bench_reference as ref
        import numpy as np

        images = np.load(spec["images"])
        trainer = ref.TorchTrainer(images, batch_size=spec.get("batch_size", 64), threads=spec.get("threads"))
        self.entries[id] = trainer
        return {
            "steps": trainer.steps_per_epoch,
            "batch": trainer.batch_size,
            "params": {
                "generator": sum(p.numel() for p in trainer.G.parameters()),
                "discriminator": sum(p.numel() for p in trainer.D.parameters()),
            },
            "threads": trainer.threads,
            "adam": "fused Adam" if trainer.g_opt.defaults.get("fused") else "Adam",
        }

    def op_run(self, id: str, epochs: int = 1, budget_s: float = 0.0, **_):
        trainer = self.entries[id]
        times, started = [], time.perf_counter()
        while len(times) < epochs or time.perf_counter() - started < budget_s:
            times.append(trainer.epoch())
        return {"epoch_s": times, "steps": trainer.steps_per_epoch, "batch": trainer.batch_size}

    def op_matmul(self, sizes=(2048,), reps: int = 5):
        torch = self.torch
        out = {}
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            for _ in range(2):
                torch.mm(a, b)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - t0)
            flops = 2.0 * n**3
            out[str(n)] = {
                "median_gflops": flops / statistics.median(times) / 1e9,
                "best_gflops": flops / min(times) / 1e9,
            }
        return out


def worker_main(kind: str) -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # Keras/TF prints go to the log, never into the protocol stream
    sys.stdout = sys.stderr
    handler = TFWorker() if kind == "tf" else TorchWorker()
    protocol.write(MARK + json.dumps({"ok": True, "result": {"ready": True}}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        try:
            reply = {"ok": True, "result": handler.handle(dict(cmd))}
        except Exception as error:  # reported to the parent, which records it and carries on
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(error).__name__}: {str(error)[:800]}"}
        protocol.write(MARK + json.dumps(reply, default=json_default) + "\n")
        if op == "quit":
            break
    return 0


# =========================================================================== workers (parent side)
class WorkerError(RuntimeError):
    pass


class Worker:
    """A worker process started by this script; ``call`` sends one command and waits for its reply."""

    def __init__(self, kind: str, name: str, start_timeout: float = 300, env: dict[str, str] | None = None):
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log = open(LOGS / f"{name}.log", "w")
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", kind],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._wait(start_timeout)
        self.start_s = time.perf_counter() - t0

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.lines.put(json.loads(line[len(MARK) :]))
        self.lines.put(None)

    def _wait(self, timeout: float):
        try:
            reply = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerError(f"{self.name}: no reply within {timeout:.0f} s (see {LOGS / (self.name + '.log')})")
        if reply is None:
            raise WorkerError(f"{self.name}: worker died (see {LOGS / (self.name + '.log')})")
        if not reply["ok"]:
            raise WorkerError(f"{self.name}: {reply['error']}")
        return reply["result"]

    def call(self, op: str, timeout: float = 900, **kwargs):
        if self.proc.poll() is not None:
            raise WorkerError(f"{self.name}: worker is not running")
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}, default=json_default) + "\n")
        self.proc.stdin.flush()
        return self._wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()  # only this worker, by its own handle
            self.proc.wait(timeout=30)

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call("quit", timeout=60)
                self.proc.wait(timeout=60)
        except Exception:
            self.kill()
        self.log.close()


class Workers:
    """Starts workers; in quick mode TensorFlow work shares one process to save start-up time."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.shared: Worker | None = None

    @contextlib.contextmanager
    def tf(self, name: str, env: dict[str, str] | None = None):
        """A TensorFlow worker (its own process unless quick mode shares one; ``env`` always gets its own)."""
        if self.plan.shared_tf_worker and env is None:
            if self.shared is None:
                self.shared = Worker("tf", "tf-shared")
            yield self.shared
            return
        worker = Worker("tf", name, env=env)
        try:
            yield worker
        finally:
            worker.close()

    def close(self):
        if self.shared is not None:
            self.shared.close()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def attempt(results: dict, key: str, fn, *args, **kwargs):
    """Run one measurement; record an error instead of stopping the suite."""
    try:
        return fn(*args, **kwargs)
    except Exception as error:
        log(f"{key}: FAILED: {type(error).__name__}: {str(error)[:300]}")
        results.setdefault("errors", {})[key] = f"{type(error).__name__}: {str(error)[:600]}"
        return None


# =========================================================================== sections
def section_peak(plan: Plan, workers: Workers, results: dict, key: str = "peak"):
    with workers.tf("peak") as w:
        sizes = plan.peak_sizes if key == "peak" else (2048,)
        results[key] = w.call("matmul", sizes=list(sizes), reps=plan.peak_reps)
        best = max(v["median_gflops"] for v in results[key].values())
        log(f"{key}: matmul {best:.0f} GFLOP/s (best median over sizes {list(sizes)})")


def section_compare(plan: Plan, workers: Workers, results: dict):
    """ganzoo dcgan vs the plain Keras reference vs PyTorch, 28x28 batch 64, interleaved rounds."""
    out: dict[str, Any] = {"config": CLASSIC, "rounds": []}
    results["compare"] = out
    images_path = BENCH_DIR / "digits28.npy"
    contenders: dict[str, Worker] = {}
    try:
        with workers.tf("compare-ganzoo") as wg:
            out["digits"] = wg.call("dump_digits", path=str(images_path), image_size=CLASSIC["image_size"])
            out["tf_info"] = wg.call("info")
            out["entries"] = {}
            classic = dict(
                architecture="dcgan",
                data="digits",
                image_size=28,
                batch_size=64,
                seed=0,
                model=dict(latent_dim=100, base_filters=64),
            )
            # As ganzoo.training builds it (XLA for the DCGAN family), and without XLA: like for like with the reference.
            out["entries"]["ganzoo"] = wg.call("add", id="cmp-ganzoo", spec={"impl": "ganzoo", "config": classic})
            contenders["ganzoo"] = wg
            out["entries"]["ganzoo_no_xla"] = wg.call(
                "add",
                id="cmp-ganzoo_no_xla",
                spec={"impl": "ganzoo", "config": classic, "compile": {"jit_compile": False}},
            )
            contenders["ganzoo_no_xla"] = wg
            # The plain Keras reference in its own process (unless quick mode shares one).
            wk = wg if plan.shared_tf_worker else Worker("tf", "compare-keras")
            if wk is not wg:
                contenders["_owned_keras"] = wk
            out["entries"]["keras"] = wk.call(
                "add", id="cmp-keras", spec={"impl": "keras_ref", "images": str(images_path), "batch_size": 64}
            )
            contenders["keras"] = wk
            try:
                wt = Worker("torch", "compare-torch")
                contenders["_owned_torch"] = wt
                out["torch_info"] = wt.call("info")
                cores = os.cpu_count() or 1
                out["entries"]["torch"] = wt.call(
                    "add", id="cmp-torch", spec={"images": str(images_path), "batch_size": 64, "threads": cores}
                )
                contenders["torch"] = wt
                if cores > 1:
                    # Under contention PyTorch's OpenMP pool can collapse (threads wait at barriers for
                    # descheduled peers): one thread is measured too, and the faster setting is compared.
                    out["entries"]["torch_1t"] = wt.call(
                        "add", id="cmp-torch_1t", spec={"images": str(images_path), "batch_size": 64, "threads": 1}
                    )
                    contenders["torch_1t"] = wt
                out["torch_matmul"] = wt.call("matmul", sizes=[2048], reps=plan.peak_reps)
            except Exception as error:
                out["torch_error"] = f"{type(error).__name__}: {error}"
                log(f"compare: PyTorch unavailable: {error}")
            names = [n for n in COMPARE_NAMES if n in contenders]
            log(f"compare: warm-up {names}")
            out["warmup"] = {n: contenders[n].call("run", id=f"cmp-{n}", epochs=1) for n in names}
            out["flops_profiler"] = attempt(results, "compare.flops_profiler", wg.call, "flops", id="cmp-ganzoo_no_xla")
            out["anatomy"] = attempt(
                results, "compare.anatomy", wg.call, "anatomy", id="cmp-ganzoo_no_xla", calls=8 if plan.quick else 25
            )
            for r in range(plan.compare_rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                round_ = {"order": order, "matmul": wg.call("matmul", sizes=[2048], reps=3)["2048"]}
                for n in order:
                    round_[n] = contenders[n].call("run", id=f"cmp-{n}", epochs=plan.compare_epochs)
                out["rounds"].append(round_)
                log(
                    f"compare round {r + 1}/{plan.compare_rounds}: "
                    + ", ".join(f"{n} {statistics.median(rates(round_[n])):.1f} steps/s" for n in names)
                )
    finally:
        for key in ("_owned_keras", "_owned_torch"):
            if key in contenders:
                contenders[key].close()


def section_probes(plan: Plan, workers: Workers, results: dict):
    """Optimizations tried on the 28x28 dcgan: each variant against the baseline, interleaved."""
    images_path = BENCH_DIR / "digits28.npy"
    base_config = dict(
        architecture="dcgan",
        data="digits",
        image_size=28,
        batch_size=64,
        seed=0,
        model=dict(latent_dim=100, base_filters=64),
    )
    variants = {
        "ganzoo (baseline)": {"impl": "ganzoo", "config": base_config, "compile": NO_XLA},
        "ganzoo jit_compile=True (XLA; ganzoo.training's default)": {
            "impl": "ganzoo",
            "config": base_config,
            "compile": {"jit_compile": True},
        },
        "ganzoo steps_per_execution=25": {
            "impl": "ganzoo",
            "config": base_config,
            "compile": {**NO_XLA, "steps_per_execution": 25},
        },
        "ganzoo without batch value checks": {
            "impl": "ganzoo",
            "config": base_config,
            "compile": NO_XLA,
            "variant": "no_checks",
        },
        "ganzoo without gradient norms": {
            "impl": "ganzoo",
            "config": base_config,
            "compile": NO_XLA,
            "variant": "no_grad_norms",
        },
        "ganzoo without checks and norms": {
            "impl": "ganzoo",
            "config": base_config,
            "compile": NO_XLA,
            "variant": "lean",
        },
        "keras reference": {"impl": "keras_ref", "images": str(images_path)},
        "keras reference + fused BatchNorm": {"impl": "keras_ref", "images": str(images_path), "fused_bn": True},
        "keras reference + XLA": {"impl": "keras_ref", "images": str(images_path), "jit_compile": True},
    }
    if plan.quick:
        variants = {
            k: v
            for k, v in variants.items()
            if k in ("ganzoo (baseline)", "ganzoo without checks and norms", "keras reference + fused BatchNorm")
        }
    out: dict[str, Any] = {"variants": {}, "rounds": []}
    results["probes"] = out
    if not images_path.exists():
        with workers.tf("probes-digits") as w:
            w.call("dump_digits", path=str(images_path), image_size=28)
    with workers.tf("probes") as w:
        live = []
        for i, (label, spec) in enumerate(variants.items()):
            info = attempt(results, f"probes.{label}", w.call, "add", id=f"probe-{i}", spec=spec)
            if info is None:
                continue
            warm = attempt(results, f"probes.{label}.warmup", w.call, "run", id=f"probe-{i}", epochs=1)
            if warm is None:
                continue
            out["variants"][label] = {"info": info, "warmup": warm}
            live.append((i, label))
        for r in range(plan.probe_rounds):
            round_ = {}
            for i, label in live[r % len(live) :] + live[: r % len(live)]:
                round_[label] = attempt(
                    results, f"probes.{label}.run", w.call, "run", id=f"probe-{i}", epochs=plan.probe_epochs
                )
            out["rounds"].append(round_)
            log(f"probes round {r + 1}/{plan.probe_rounds} done")


def section_defaults(plan: Plan, workers: Workers, results: dict):
    """What ganzoo's speed defaults buy over TensorFlow's: dcgan at its zoo configuration, cases interleaved."""
    out: dict[str, Any] = {"rounds": [], "cases": list(DEFAULT_CASES)}
    results["defaults"] = out
    with (
        workers.tf("defaults-eigen", env={"TF_ENABLE_ONEDNN_OPTS": "0"}) as eigen,
        workers.tf("defaults-onednn", env={"TF_ENABLE_ONEDNN_OPTS": "1"}) as onednn,
    ):
        config = onednn.call("recipes")["recipes"]["dcgan-digits"]
        out["config"] = config
        workers_by_kernels = {"0": eigen, "1": onednn}
        ids = {}
        for label, (kernels, data, xla) in DEFAULT_CASES.items():
            ids[label] = f"defaults-{kernels}-{int(xla)}"
            worker = workers_by_kernels[kernels]
            if ids[label] not in out.setdefault("entries", {}):
                out["entries"][ids[label]] = worker.call(
                    "add",
                    id=ids[label],
                    spec={"impl": "ganzoo", "config": config, "compile": {"jit_compile": xla}, "autotune": True},
                )
                worker.call("run", id=ids[label], epochs=1, data=data)  # warm-up: tracing, XLA compilation
        labels = list(DEFAULT_CASES)
        for r in range(plan.pipeline_rounds):
            round_ = {}
            for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
                kernels, data, _ = DEFAULT_CASES[label]
                round_[label] = attempt(
                    results,
                    f"defaults.{label}",
                    workers_by_kernels[kernels].call,
                    "run",
                    id=ids[label],
                    epochs=plan.pipeline_epochs * 2,
                    data=data,
                )
            out["rounds"].append(round_)
            log(
                f"defaults round {r + 1}/{plan.pipeline_rounds}: "
                + ", ".join(f"{statistics.median(rates(v)):.1f}" for v in round_.values() if v)
            )


def section_pipeline(plan: Plan, workers: Workers, results: dict):
    """dcgan at its zoo configuration: fit on the tf.data pipeline vs on batches already in memory; callbacks."""
    out: dict[str, Any] = {"rounds": []}
    results["pipeline"] = out
    with workers.tf("pipeline") as w:
        recipes = w.call("recipes")["recipes"]
        config = recipes.get("dcgan-digits") or dict(
            architecture="dcgan",
            data="digits",
            batch_size=64,
            seed=0,
            model=dict(latent_dim=64, base_filters=64, ema_decay=0.999),
        )
        out["config"] = config
        out["info"] = w.call("add", id="pipe", spec={"impl": "ganzoo", "config": config, "memory": True})
        w.call("run", id="pipe", epochs=1)
        w.call("run", id="pipe", epochs=1, data="memory")
        cases = {
            "tf.data pipeline (ganzoo.data)": dict(data="pipeline"),
            "batches in memory": dict(data="memory"),
            "pipeline + ganzoo train's callbacks": dict(data="pipeline", callbacks="zoo"),
            "pipeline + SampleGrid, LossCurves": dict(data="pipeline", callbacks="samples"),
            "pipeline + ModelCheckpoint, BackupAndRestore": dict(data="pipeline", callbacks="checkpoints"),
            "pipeline + CSVLogger, TerminateOnNaN": dict(data="pipeline", callbacks="logging"),
            "pipeline + progress bar (verbose=1)": dict(data="pipeline", verbose=1),
        }
        if plan.quick:
            cases = dict(list(cases.items())[:3])
        labels = list(cases)
        for r in range(plan.pipeline_rounds):
            round_ = {}
            for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
                round_[label] = attempt(
                    results, f"pipeline.{label}", w.call, "run", id="pipe", epochs=plan.pipeline_epochs, **cases[label]
                )
            out["rounds"].append(round_)
            log(f"pipeline round {r + 1}/{plan.pipeline_rounds} done")


def section_archs(plan: Plan, workers: Workers, results: dict):
    """Each architecture's fit at its zoo configuration (or the bench configuration), with and without XLA."""
    out: dict[str, Any] = {}
    results["archs"] = out
    with workers.tf("archs-recipes") as w:
        meta = w.call("recipes")
    specs: dict[str, dict[str, Any]] = {}
    for name, config in meta["recipes"].items():
        specs.setdefault(config["architecture"], {"label": name, "source": "zoo recipe", "config": config})
    for arch in meta["architectures"]:
        if arch not in specs and arch in BENCH_CONFIGS:
            specs[arch] = {"label": arch, "source": "bench configuration (no zoo recipe)", **BENCH_CONFIGS[arch]}
    for arch in meta["architectures"]:
        if arch not in specs:
            out[arch] = {"skipped": "no zoo recipe and no bench configuration"}
    order = [a for a in meta["architectures"] if a in specs and (plan.arch_filter is None or a in plan.arch_filter)]
    for arch in order:
        spec = specs[arch]
        entry: dict[str, Any] = {"label": spec["label"], "source": spec["source"]}
        out[arch] = entry
        base = {"impl": "ganzoo", **{k: v for k, v in spec.items() if k in ("config", "synthetic")}, "compile": NO_XLA}
        entry["config"] = spec.get("config") or spec.get("synthetic")
        try:
            with workers.tf(f"arch-{arch}") as w:
                t0 = time.perf_counter()
                entry["info"] = w.call("add", id=f"{arch}-fit", spec=base)
                entry["warmup"] = w.call("run", id=f"{arch}-fit", epochs=1)
                entry["first_epoch_s"] = entry["warmup"]["epoch_s"][0]
                entry["flops_profiler"] = attempt(results, f"archs.{arch}.flops", w.call, "flops", id=f"{arch}-fit")
                ids = {"fit": f"{arch}-fit"}
                if plan.arch_xla or arch == "dcgan":
                    xla = attempt(
                        results,
                        f"archs.{arch}.xla",
                        w.call,
                        "add",
                        id=f"{arch}-xla",
                        spec={**base, "compile": {"jit_compile": True}},
                    )
                    if xla is not None:
                        warm = attempt(results, f"archs.{arch}.xla.warmup", w.call, "run", id=f"{arch}-xla", epochs=1)
                        if warm is not None:
                            entry["xla_first_epoch_s"] = warm["epoch_s"][0]
                            ids["xla"] = f"{arch}-xla"
                entry["runs"] = {k: [] for k in ids}
                for r in range(plan.arch_rounds):
                    for k, id_ in list(ids.items()) if r % 2 == 0 else list(ids.items())[::-1]:
                        run = attempt(
                            results, f"archs.{arch}.{k}", w.call, "run", id=id_, epochs=1, budget_s=plan.arch_budget_s
                        )
                        if run is not None:
                            entry["runs"][k].append(run)
                entry["wall_s"] = time.perf_counter() - t0
            fit = summarize([x for run in entry["runs"]["fit"] for x in rates(run)])
            log(
                f"archs: {arch}: {fit['median'] or 0:.2f} steps/s"
                + (
                    f", XLA {summarize([x for run in entry['runs']['xla'] for x in rates(run)])['median'] or 0:.2f}"
                    if entry["runs"].get("xla")
                    else ""
                )
            )
        except Exception as error:
            entry["error"] = f"{type(error).__name__}: {str(error)[:600]}"
            log(f"archs: {arch}: FAILED: {entry['error'][:200]}")


def section_scaling(plan: Plan, workers: Workers, results: dict):
    """dcgan train step cost as batch size and resolution grow (batches in memory, no input pipeline)."""
    points = [(28, b) for b in plan.scaling_batches] + [(s, 64) for s in plan.scaling_sizes if s != 28]
    if 64 not in plan.scaling_batches and 28 in plan.scaling_sizes:
        points.append((28, 64))
    out: dict[str, Any] = {"points": {}}
    results["scaling"] = out
    with workers.tf("scaling") as w:
        for size, batch in points:
            key = f"{size}px-b{batch}"
            # Steps per epoch sized from the analytic FLOPs at ~150 GFLOP/s to make epochs ~scaling_epoch_s long.
            probe = w.call(
                "add",
                id=f"scale-probe-{key}",
                spec={
                    "impl": "ganzoo",
                    "synthetic": dict(
                        architecture="dcgan",
                        shapes=[[size, size, 1]],
                        batch_size=batch,
                        steps=1,
                        model=dict(image_shape=[size, size, 1], latent_dim=100, base_filters=64),
                    ),
                },
            )
            flops = probe.get("flops_per_step", {}).get("needed", 1e10)
            steps = int(min(40, max(2, round(plan.scaling_epoch_s * 150e9 / flops))))
            info = attempt(
                results,
                f"scaling.{key}",
                w.call,
                "add",
                id=f"scale-{key}",
                spec={
                    "impl": "ganzoo",
                    "data_mode": "memory",
                    "synthetic": dict(
                        architecture="dcgan",
                        shapes=[[size, size, 1]],
                        batch_size=batch,
                        steps=steps,
                        model=dict(image_shape=[size, size, 1], latent_dim=100, base_filters=64),
                    ),
                },
            )
            if info is None:
                continue
            warm = attempt(results, f"scaling.{key}.warmup", w.call, "run", id=f"scale-{key}", epochs=1)
            if warm is None:
                continue
            runs = [
                attempt(
                    results, f"scaling.{key}.run", w.call, "run", id=f"scale-{key}", epochs=2 if not plan.quick else 1
                )
                for _ in range(plan.scaling_rounds)
            ]
            out["points"][key] = {"size": size, "batch": batch, "info": info, "runs": [r for r in runs if r]}
            s = summarize([x for r in runs if r for x in rates(r)])
            log(f"scaling {key}: {1e3 / s['median'] if s['median'] else float('nan'):.1f} ms/step")


def section_inference(plan: Plan, workers: Workers, results: dict):
    """Zoo entries (or fresh stand-ins) through Keras, SavedModel and ONNX Runtime; cold start of ganzoo sample."""
    out: dict[str, Any] = {"models": {}, "cold_start": {}}
    results["inference"] = out
    zoo_dir = BENCH_DIR / "zoo"
    env_zoo = None
    with workers.tf("inference") as w:
        found = w.call("zoo_gans")
        out["zoo_models"] = found["all"]
        names = found["gans"]
        if names:
            out["source"] = "zoo entries"
        else:
            shutil.rmtree(zoo_dir, ignore_errors=True)
            zoo_dir.mkdir(parents=True)
            names = ["dcgan-bench", "cgan-bench"]
            out["source"] = (
                "no GAN entry in the zoo, so fresh untrained dcgan and cgan at the zoo recipes' "
                "configuration (16x16x1, latent 64, base_filters 64, EMA 0.999), exported with "
                "ganzoo.export into a temporary zoo folder (GANZOO_ZOO_DIR); weights do not change timings"
            )
            out["made"] = w.call("make_entries", zoo_dir=str(zoo_dir), names=names)
            env_zoo = str(zoo_dir)
        for name in names:
            out["models"][name] = attempt(
                results,
                f"inference.{name}",
                w.call,
                "inference",
                name=name,
                zoo_dir=env_zoo,
                calls_b1=plan.infer_calls_b1,
                calls_b64=plan.infer_calls_b64,
            )
            log(f"inference: {name} measured")
    for name in names:
        out["cold_start"][name] = cold_start(name, plan, env_zoo)
        log(
            f"cold start {name}: "
            + ", ".join(
                f"{b} {v['median_s']:.2f} s"
                for b, v in out["cold_start"][name].items()
                if isinstance(v, dict) and v.get("median_s")
            )
        )
    out["import_costs"] = import_costs()


def cold_start(name: str, plan: Plan, zoo_dir: str | None) -> dict[str, Any]:
    """Wall time of `ganzoo sample NAME -n 64` from process start to the PNG on disk, per backend."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    if zoo_dir:
        env["GANZOO_ZOO_DIR"] = zoo_dir
    result: dict[str, Any] = {}
    for backend, repeats in (("onnx", plan.cold_onnx), ("keras", plan.cold_keras)):
        times, error = [], None
        for i in range(repeats):
            png = BENCH_DIR / f"cold-{name}-{backend}-{i}.png"
            png.unlink(missing_ok=True)
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "ganzoo.cli", "sample", name, "--backend", backend, "-n", "64", "-o", str(png)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - t0
            if proc.returncode != 0 or not png.exists():
                error = (proc.stderr or proc.stdout)[-500:]
                break
            times.append(elapsed)
            png.unlink(missing_ok=True)
        result[backend] = {
            **summarize(times),
            "median_s": statistics.median(times) if times else None,
            "runs_s": times,
            **({"error": error} if error else {}),
        }
    return result


def import_costs() -> dict[str, Any]:
    """Process start + import times that bound the ONNX cold start, and the slowest imports of that path."""
    out: dict[str, Any] = {}
    snippets = {
        "python -c pass": "pass",
        "import numpy": "import numpy",
        "import onnxruntime": "import onnxruntime",
        "import PIL.Image": "import PIL.Image",
        "ganzoo onnx path imports": "import ganzoo.cli, ganzoo.zoo, ganzoo.runtime, ganzoo.utils.sampling, PIL.Image",
        "import tensorflow": "import tensorflow",
        "import keras": "import keras",
    }
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    for label, code in snippets.items():
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True)
            times.append(time.perf_counter() - t0)
        out[label] = statistics.median(times)
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import ganzoo.cli, ganzoo.zoo, ganzoo.runtime, ganzoo.utils.sampling, PIL.Image",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    top = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            top.append((int(parts[1].strip()) / 1e6, parts[2].rstrip()))
    roots = [(t, m.strip()) for t, m in top if not m.startswith("   ")]
    out["top_level_imports_s"] = sorted(roots, reverse=True)[:8]
    return out


# =========================================================================== machine info
def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
        line = next(l for l in text.splitlines() if l.startswith("flags"))
        wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "fma")
        flags = " ".join(f for f in wanted if f" {f}" in line)
    except (OSError, StopIteration):
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    versions = {"python": platform.python_version()}
    from importlib import metadata

    for dist in ("tensorflow-cpu", "tensorflow", "keras", "onnxruntime", "numpy", "tf2onnx", "onnx", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "memory": memory,
        "platform": platform.platform(),
        "versions": versions,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


# =========================================================================== analysis
def peak_gflops(results: dict) -> tuple[float | None, str]:
    """The machine limit: the best median matmul rate seen anywhere in the run (the largest denominator)."""
    candidates = []
    for key in ("peak", "peak_end"):
        for n, v in (results.get(key) or {}).items():
            candidates.append((v["median_gflops"], f"{key} {n}^3"))
    for r in (results.get("compare") or {}).get("rounds", []):
        if r.get("matmul"):
            candidates.append((r["matmul"]["median_gflops"], "compare rounds 2048^3"))
    if not candidates:
        return None, ""
    return max(candidates)


def analyze(results: dict) -> dict[str, Any]:
    """Derived numbers for the report: medians, ratios, utilization, target verdicts."""
    a: dict[str, Any] = {"targets": {}}
    peak, peak_where = peak_gflops(results)
    a["peak_gflops"], a["peak_where"] = peak, peak_where
    cmp_ = results.get("compare") or {}
    if cmp_.get("rounds"):
        names = [n for n in COMPARE_NAMES if n in cmp_["rounds"][0]]
        per = {n: summarize([x for r in cmp_["rounds"] for x in rates(r[n])]) for n in names}
        a["compare"] = per
        torch_names = [n for n in ("torch", "torch_1t") if n in names]
        a["torch_best"] = max(torch_names, key=lambda n: per[n]["median"] or 0) if torch_names else None
        paired = {}
        # Mechanics: ganzoo without XLA vs the reference (neither uses XLA); vs PyTorch: ganzoo as users run it.
        like_for_like = "ganzoo_no_xla" if "ganzoo_no_xla" in names else "ganzoo"
        for mine, other in ((like_for_like, "keras"), ("ganzoo", a["torch_best"])):
            if other in names:
                ratios = [
                    statistics.median(rates(r[mine])) / statistics.median(rates(r[other])) for r in cmp_["rounds"]
                ]
                paired["torch" if other.startswith("torch") else other] = summarize(ratios)
        a["compare_paired"] = paired
        flops = (cmp_.get("entries", {}).get("ganzoo") or {}).get("flops_per_step", {})
        a["compare_flops"] = flops
        round_peaks = [r["matmul"]["median_gflops"] for r in cmp_["rounds"] if r.get("matmul")]
        a["compare_round_peak"] = summarize(round_peaks)
        if flops and peak:
            for n in names:
                a.setdefault("compare_util", {})[n] = per[n]["median"] * flops["needed"] / 1e9 / peak
            same_round = [
                statistics.median(rates(r["ganzoo"])) * flops["needed"] / 1e9 / r["matmul"]["median_gflops"]
                for r in cmp_["rounds"]
                if r.get("matmul")
            ]
            a["compare_util_same_round"] = summarize(same_round)
        if "keras" in paired:
            v = paired["keras"]["median"]
            a["targets"]["vs_keras"] = {"value": v, "met": v >= TARGETS["vs_keras"]}
        if "torch" in paired:
            v = paired["torch"]["median"]
            a["targets"]["vs_torch"] = {"value": v, "met": v >= TARGETS["vs_torch"]}
        if a.get("compare_util"):
            v = a["compare_util"]["ganzoo"]
            a["targets"]["peak_fraction"] = {"value": v, "met": v >= TARGETS["peak_fraction"]}
    probes = results.get("probes") or {}
    if probes.get("rounds"):
        labels = list(probes["variants"])
        per = {l: summarize([x for r in probes["rounds"] if r.get(l) for x in rates(r[l])]) for l in labels}
        a["probes"] = per
        base = "ganzoo (baseline)"
        if base in labels:
            paired = {}
            for l in labels:
                ratios = [
                    statistics.median(rates(r[l])) / statistics.median(rates(r[base]))
                    for r in probes["rounds"]
                    if r.get(l) and r.get(base)
                ]
                paired[l] = summarize(ratios)
            a["probes_paired"] = paired
        ref = "keras reference"
        if ref in labels:
            a["probes_vs_ref"] = {
                l: summarize(
                    [
                        statistics.median(rates(r[l])) / statistics.median(rates(r[ref]))
                        for r in probes["rounds"]
                        if r.get(l) and r.get(ref)
                    ]
                )
                for l in labels
                if l.startswith("keras")
            }
    defaults = results.get("defaults") or {}
    if defaults.get("rounds"):
        labels, base = defaults["cases"], defaults["cases"][0]
        per = {l: summarize([x for r in defaults["rounds"] if r.get(l) for x in rates(r[l])]) for l in labels}
        paired = {
            l: summarize(
                [
                    statistics.median(rates(r[l])) / statistics.median(rates(r[base]))
                    for r in defaults["rounds"]
                    if r.get(l) and r.get(base)
                ]
            )
            for l in labels
        }
        a["defaults"] = {"per": per, "paired": paired}
    pipe = results.get("pipeline") or {}
    if pipe.get("rounds"):
        labels = [l for l in pipe["rounds"][0]]
        per = {l: summarize([x for r in pipe["rounds"] if r.get(l) for x in rates(r[l])]) for l in labels}
        a["pipeline"] = per
        mem, real = "batches in memory", "tf.data pipeline (ganzoo.data)"
        if mem in per and real in per and per[real]["median"]:
            paired = [
                statistics.median(rates(r[mem])) / statistics.median(rates(r[real])) - 1
                for r in pipe["rounds"]
                if r.get(mem) and r.get(real)
            ]
            overhead = per[mem]["median"] / per[real]["median"] - 1
            a["pipeline_overhead"] = {"median_of_all": overhead, "paired": summarize(paired)}
            a["targets"]["pipeline_overhead"] = {"value": overhead, "met": overhead < TARGETS["pipeline_overhead"]}
        a["callback_cost"] = {
            l: (per[real]["median"] / per[l]["median"] - 1) if per[l]["median"] else None
            for l in labels
            if l.startswith("pipeline +")
        }
    archs = results.get("archs") or {}
    a["archs"] = {}
    for arch, e in archs.items():
        if "runs" not in e:
            continue
        row = {"fit": summarize([x for run in e["runs"].get("fit", []) for x in rates(run)])}
        if e["runs"].get("xla"):
            row["xla"] = summarize([x for run in e["runs"]["xla"] for x in rates(run)])
        info = e.get("info") or {}
        row["batch"] = info.get("batch")
        flops = (info.get("flops_per_step") or {}).get("needed")
        method = "analytic"
        if not flops and e.get("flops_profiler"):
            flops = e["flops_profiler"]["mac_flops"]
            method = "TF graph"
        row["flops"], row["flops_method"] = flops, method if flops else None
        if flops and peak and row["fit"]["median"]:
            row["util"] = row["fit"]["median"] * flops / 1e9 / peak
            if row.get("xla", {}).get("median"):
                row["util_xla"] = row["xla"]["median"] * flops / 1e9 / peak
        a["archs"][arch] = row
    inf = results.get("inference") or {}
    ratios, colds = [], []
    for name, m in (inf.get("models") or {}).items():
        if not m:
            continue
        b = m["backends"]
        sm = b.get("savedmodel serve", {}).get("1", {}).get("median_ms")
        onnx = {k: v["1"]["median_ms"] for k, v in b.items() if k.startswith("onnx") and "1" in v}
        tuned = min(onnx.values()) if onnx else None
        library = next((v for k, v in onnx.items() if k.startswith("onnx (")), None)
        if sm and tuned:
            ratios.append((name, sm / tuned, sm / library if library else None))
    if ratios:
        worst = min(r[1] for r in ratios)
        a["onnx_ratios"] = ratios
        a["targets"]["onnx_vs_savedmodel_b1"] = {
            "value": worst,
            "met": worst >= TARGETS["onnx_vs_savedmodel_b1"],
            "library_default": min((r[2] for r in ratios if r[2]), default=None),
        }
    for name, c in (inf.get("cold_start") or {}).items():
        if c.get("onnx", {}).get("median_s"):
            colds.append(c["onnx"]["median_s"])
    if colds:
        worst = max(colds)
        a["targets"]["cold_start_onnx_s"] = {"value": worst, "met": worst <= TARGETS["cold_start_onnx_s"] * 1.2}
    scaling = results.get("scaling") or {}
    rows = []
    for key, p in (scaling.get("points") or {}).items():
        s = summarize([x for r in p["runs"] for x in rates(r)])
        flops = (p["info"].get("flops_per_step") or {}).get("needed")
        if not s["median"]:
            continue
        rows.append(
            {
                "key": key,
                "size": p["size"],
                "batch": p["batch"],
                "ms_per_step": 1e3 / s["median"],
                "spread_ms": (1e3 / s["max"], 1e3 / s["min"]),
                "images_per_s": s["median"] * p["batch"],
                "gflop_per_step": flops / 1e9 if flops else None,
                "util": s["median"] * flops / 1e9 / peak if flops and peak else None,
            }
        )
    a["scaling"] = rows
    return a


# =========================================================================== report
def fmt(x, digits: int = 3, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "-"
    if abs(x) >= 100:
        s = f"{x:,.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    else:
        s = f"{x:.{digits}g}"
    return s + unit


def spread(s: dict) -> str:
    if not s or not s.get("n"):
        return "-"
    return f"{fmt(s['min'])}-{fmt(s['max'])} (n={s['n']})"


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def write_report(results: dict, a: dict) -> str:
    m = results.get("machine", {})
    quick = results.get("quick")
    L: list[str] = []
    add = L.append
    add("# ganzoo benchmarks")
    add("")
    add(
        "Generated by `python tools/bench.py` (full mode, about 10-15 minutes); rerun it on a quiet machine to refresh"
        " every number here. `--quick` is a smoke run for development; `--report-only` rewrites this file from"
        " `runs/bench/results.json`. Not part of the test suite. PyTorch is only installed for the side-by-side"
        " column (`pip install torch==2.13.0`, CPU build)."
    )
    add("")
    if quick:
        add("> **This report comes from a `--quick` run: too few repeats to quote. Run the full mode.**")
        add("")
    la0, la1 = results.get("loadavg_start"), results.get("loadavg_end")
    busy = la0 and la0[0] > 0.5 * (m.get("usable_cpus") or 1)
    add("## Machine and run")
    add("")
    add("| | |")
    add("| --- | --- |")
    add(
        f"| CPU | {m.get('cpu')} ({m.get('usable_cpus')} usable of {m.get('logical_cpus')} logical CPUs; {m.get('cpu_flags')}) |"
    )
    add(f"| memory | {m.get('memory')} |")
    add(f"| platform | {m.get('platform')} |")
    add(f"| versions | {', '.join(f'{k} {v}' for k, v in (m.get('versions') or {}).items())} |")
    add(f"| date | {m.get('date')} |")
    add(f"| load average (1, 5, 15 min) | start: {la0}; end: {la1} |")
    add(f"| duration | {fmt(results.get('duration_s'))} s |")
    add("")
    if busy:
        add(
            f"> **The machine was busy when this run started (1-minute load average {la0[0]:.1f} on"
            f" {m.get('usable_cpus')} CPUs): other processes competed for the cores, so absolute numbers"
            " (steps/s, GFLOP/s, latencies, cold starts) are low and noisy. Ratios measured in interleaved rounds"
            " are more robust than absolute numbers, but contention does not hit every implementation alike"
            " (thread pools that spin or synchronize often suffer most). Rerun on a quiet machine before quoting.**"
        )
        add("")
    # ---------------------------------------------------------------- targets
    add("## Targets")
    add("")
    add("| target | goal | measured | verdict |")
    add("| --- | --- | --- | --- |")
    t = a.get("targets", {})

    def verdict(key):
        v = t.get(key)
        return "not measured" if v is None else ("**met**" if v["met"] else "**missed**")

    add(
        f"| ganzoo dcgan fit vs plain Keras (28x28, batch 64) | >= 1.0x | "
        f"{fmt(t.get('vs_keras', {}).get('value'))}x | {verdict('vs_keras')} |"
    )
    add(
        f"| ganzoo dcgan fit vs PyTorch CPU | >= 1.3x | {fmt(t.get('vs_torch', {}).get('value'))}x | {verdict('vs_torch')} |"
    )
    add(
        f"| train step FLOP/s vs measured matmul peak | > 55% | {pct(t.get('peak_fraction', {}).get('value'))} | "
        f"{verdict('peak_fraction')} |"
    )
    add(
        f"| input pipeline overhead (pipeline vs in-memory) | < 5% | {pct(t.get('pipeline_overhead', {}).get('value'))} | "
        f"{verdict('pipeline_overhead')} |"
    )
    lib = t.get("onnx_vs_savedmodel_b1", {}).get("library_default")
    add(
        f"| ONNX Runtime vs SavedModel, batch 1 (tuned ORT; worst model) | >= 3x | "
        f"{fmt(t.get('onnx_vs_savedmodel_b1', {}).get('value'))}x (ganzoo.runtime defaults: {fmt(lib)}x) | "
        f"{verdict('onnx_vs_savedmodel_b1')} |"
    )
    add(
        f"| `ganzoo sample --backend onnx`, process start to PNG (slowest model) | about 1 s | "
        f"{fmt(t.get('cold_start_onnx_s', {}).get('value'))} s | {verdict('cold_start_onnx_s')} |"
    )
    add("")
    add("Ratios are medians of per-round ratios (each round measures every contender back to back).")
    add("")
    # ---------------------------------------------------------------- method
    add("## Method")
    add("")
    add(
        "* Every implementation runs in its own worker process (TensorFlow and PyTorch never share thread pools);"
        " contenders are measured in interleaved rounds with rotating order, so load that drifts during the run hits"
        " them alike."
    )
    add(
        "* Training is timed over whole `fit` epochs by two Keras callbacks (first and last in the list): per-epoch"
        " iterator creation, log handling and epoch-end callbacks are included, the first epoch (tracing, oneDNN"
        " primitive creation) is a warm-up and excluded. PyTorch runs the same epochs in its own loop and reads its"
        " losses once per epoch. Numbers are medians over epochs; spread is min-max with the count."
    )
    add(
        "* FLOPs: Dense, Conv2D and Conv2DTranspose multiply-accumulates x 2, counted per layer from the models' shapes"
        " (Conv2DTranspose: input H x W x k x k x C_in x C_out). A standard alternating step (one D step, one G step)"
        " must do: G forward (fakes for D, outside the tape), D forward on real and on fake, D weight gradients and"
        " D input gradients for both passes (input gradient = weight gradient = forward MACs; none for D's first layer,"
        " whose input is data), then G forward, D forward, D input gradients down to the image, G weight and input"
        " gradients (none for G's first layer): **4 G_f + 8 D_f - 2 D_first - G_first** per sample. The brief's"
        " convention 'backward = 2x forward everywhere' gives 4 G_f + 9 D_f (the extra D_f: D weight gradients in the"
        " G step, which nobody uses); that is also what TensorFlow's per-op FLOP statistics report for the traced"
        " step before graph pruning (cross-check below). Achieved FLOP/s use the smaller, needed count. Elementwise"
        " work (BatchNorm, activations, Adam) is not counted: it is memory-bound and is part of why a step is below"
        " the matmul peak."
    )
    add(
        "* The limit is a float32 `tf.matmul` of n x n by n x n (2 n^3 FLOPs) timed in the same run at several sizes,"
        " at the start, in every side-by-side round and at the end; the peak is the best median seen (the largest"
        " denominator, so utilization is not flattered by a bad moment)."
    )
    add(
        "* Inference: numpy latents in, numpy images out, every call timed individually after 10 warm-up calls;"
        " median and p10-p90. ONNX Runtime runs with ganzoo.runtime's session options (all graph optimizations,"
        " sequential, intra-op threads = physical cores) and a small grid of tuned settings."
    )
    add("")
    # ---------------------------------------------------------------- limit
    add("## The limit: matmul peak")
    add("")
    add("| when | size | median GFLOP/s | best GFLOP/s |")
    add("| --- | --- | --- | --- |")
    for key in ("peak", "peak_end"):
        for n, v in (results.get(key) or {}).items():
            add(
                f"| {'start' if key == 'peak' else 'end'} | {n}^3 | {fmt(v['median_gflops'])} | {fmt(v['best_gflops'])} |"
            )
    if a.get("compare_round_peak", {}).get("n"):
        s = a["compare_round_peak"]
        add(f"| side-by-side rounds | 2048^3 | {fmt(s['median'])} | {fmt(s['max'])} |")
    tm = (results.get("compare") or {}).get("torch_matmul")
    if tm:
        for n, v in tm.items():
            add(f"| PyTorch `torch.mm` (for reference) | {n}^3 | {fmt(v['median_gflops'])} | {fmt(v['best_gflops'])} |")
    add("")
    add(f"Peak used below: **{fmt(a.get('peak_gflops'))} GFLOP/s** ({a.get('peak_where')}).")
    add("")
    # ---------------------------------------------------------------- compare
    cmp_ = results.get("compare") or {}
    if a.get("compare"):
        flops = a.get("compare_flops") or {}
        add("## DCGAN at 28x28, batch 64: ganzoo vs plain Keras vs PyTorch")
        add("")
        add(
            "Same networks (G: Dense 7x7x128, BN, ReLU, ConvT 64, BN, ReLU, ConvT 1, tanh; D: Conv 64, LeakyReLU,"
            " Conv 128, BN, LeakyReLU, Dense 1), same update (D on real and fake, then G through D; non-saturating"
            " loss; Adam 2e-4, beta_1 0.5), same 1,617 digits upsampled to 28x28 (25 steps per epoch)."
            " ganzoo: `ganzoo.create('dcgan', image_shape=(28, 28, 1), latent_dim=100)` + `fit` on `ganzoo.data.load`;"
            " Keras: `tools/bench_reference.py` (keras-io DCGAN style, its own `tf.data` pipeline); PyTorch: the same"
            " file, NCHW, in-memory tensors, D frozen during the G step"
            f"{', ' + (cmp_.get('entries', {}).get('torch') or {}).get('adam', '') if cmp_.get('entries', {}).get('torch') else ''}"
            ", measured with 1 thread and with one thread per core (both shown; the faster one is the comparison)."
        )
        add("")
        add(
            f"FLOPs per step (batch 64): needed {fmt((flops.get('needed') or 0) / 1e9)} GFLOP; convention 4G+9D"
            f" {fmt((flops.get('convention') or 0) / 1e9)} GFLOP; TensorFlow graph statistics"
            f" {fmt(((cmp_.get('flops_profiler') or {}).get('mac_flops') or 0) / 1e9)} GFLOP (matmul/conv ops of the traced"
            " step before pruning)."
        )
        add("")
        add("| implementation | steps/s (median) | images/s | spread steps/s | GFLOP/s | % of peak | first epoch (s) |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        threads = (cmp_.get("entries", {}).get("torch") or {}).get("threads", "N")
        for n, label in (
            ("ganzoo", "ganzoo `fit` (ganzoo.training's defaults: XLA)"),
            ("ganzoo_no_xla", "ganzoo `fit` without XLA"),
            ("keras", "plain Keras `fit` (reference, no XLA)"),
            ("torch", f"PyTorch CPU, {threads} threads"),
            ("torch_1t", "PyTorch CPU, 1 thread"),
        ):
            s = a["compare"].get(n)
            if not s:
                continue
            util = (a.get("compare_util") or {}).get(n)
            first = (cmp_.get("warmup") or {}).get(n, {}).get("epoch_s", [None])[0]
            if n == a.get("torch_best") and n.startswith("torch"):
                label += " (compared)"
            add(
                f"| {label} | {fmt(s['median'])} | {fmt(s['median'] * 64)} | {spread(s)} | "
                f"{fmt(s['median'] * flops.get('needed', 0) / 1e9) if flops else '-'} | {pct(util)} | {fmt(first)} |"
            )
        add("")
        for other, label in (
            ("keras", "plain Keras (both without XLA)"),
            ("torch", "PyTorch (ganzoo with its defaults)"),
        ):
            p = (a.get("compare_paired") or {}).get(other)
            if p and p["n"]:
                add(f"* ganzoo / {label}: **{fmt(p['median'])}x** (per-round ratios {spread(p)}).")
        su = a.get("compare_util_same_round")
        if su and su.get("n"):
            add(
                f"* ganzoo's utilization against the matmul rate measured in the same round: {pct(su['median'])}"
                f" ({pct(su['min'])}-{pct(su['max'])})."
            )
        if cmp_.get("torch_error"):
            add(f"* PyTorch: not measured ({cmp_['torch_error']}).")
        add("")
        anat = cmp_.get("anatomy")
        if anat:
            add("### Where a ganzoo step goes (28x28, batch 64)")
            add("")
            add(
                "Each Dense/Conv layer alone, at its shape, batch 64 (forward; forward plus input and weight gradients):"
            )
            add("")
            add(
                "| net | layer | in -> out | GFLOP fwd | fwd ms | fwd GFLOP/s | fwd+bwd ms | fwd+bwd GFLOP/s | est. ms per step |"
            )
            add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for r in anat["layers"]:
                add(
                    f"| {r['network']} | {r['kind']} | {'x'.join(map(str, r['input']))} -> {'x'.join(map(str, r['output']))}"
                    f" | {fmt(r['gflop_forward'])} | {fmt(r['forward_ms'])} | {fmt(r['gflops_forward'])} | "
                    f"{fmt(r['forward_backward_ms'])} | {fmt(r['gflops_forward_backward'])} | {fmt(r['step_ms_estimate'])} |"
                )
            g = a["compare"].get("ganzoo")
            if g and g["median"]:
                step_ms = 1e3 / g["median"]
                mac_ms = anat["step_mac_ms_estimate"]
                add("")
                add(
                    f"Estimated matmul/conv time per step (G layers: 2 forwards + 1 backward; D layers: 3 forwards +"
                    f" ~2.5 backwards): **{fmt(mac_ms)} ms of the {fmt(step_ms)} ms** a `fit` step takes"
                    f" ({pct(mac_ms / step_ms)}); the rest is BatchNorm, activations, losses, Adam updates, metrics,"
                    " random draws and per-step dispatch."
                )
            add("")
    # ---------------------------------------------------------------- probes
    if a.get("probes"):
        add("## Optimizations tried (dcgan 28x28, batch 64, digits pipeline)")
        add("")
        add(
            "Each variant against the baseline in the same worker process, interleaved; 'vs baseline' is the median"
            " of per-round ratios of steps/s (>1 = faster)."
        )
        add("")
        add("| variant | steps/s | spread | vs baseline | vs keras reference | first epoch (s) |")
        add("| --- | --- | --- | --- | --- | --- |")
        for label, s in a["probes"].items():
            pb = (a.get("probes_paired") or {}).get(label, {})
            pr = (a.get("probes_vs_ref") or {}).get(label, {})
            first = results["probes"]["variants"][label]["warmup"]["epoch_s"][0]
            add(
                f"| {label} | {fmt(s['median'])} | {spread(s)} | {fmt(pb.get('median'))}x | "
                f"{fmt(pr.get('median')) + 'x' if pr.get('median') else '-'} | {fmt(first)} |"
            )
        add("")
    # ---------------------------------------------------------------- defaults
    if a.get("defaults"):
        d = results["defaults"]
        cfg = d.get("config", {})
        add("## ganzoo's speed defaults against TensorFlow's (dcgan at its zoo configuration)")
        add("")
        add(
            f"`{cfg.get('architecture')}` on `{cfg.get('data')}`, batch {cfg.get('batch_size')}, model {cfg.get('model')}."
            " TensorFlow enables its oneDNN kernels by itself only on CPUs with AVX-512 VNNI/AMX-class features, keeps"
            " the tf.data autotuner on and XLA off on CPU; `import ganzoo` turns oneDNN on (x86, before TensorFlow is"
            " imported; `TF_ENABLE_ONEDNN_OPTS=0` opts out), ganzoo's pipelines turn the autotuner off, and"
            " `ganzoo.training` compiles the DCGAN family with XLA. Each case is added to the one above it; the two"
            " kernel settings run in two worker processes, the cases in interleaved rounds."
        )
        add("")
        add("| case | steps/s | spread | vs TensorFlow defaults (per-round median) |")
        add("| --- | --- | --- | --- |")
        for label in d["cases"]:
            per, pr = a["defaults"]["per"].get(label), a["defaults"]["paired"].get(label)
            if per:
                add(
                    f"| {label} | {fmt(per['median'])} | {spread(per)} | {fmt(pr.get('median')) + 'x' if pr else '-'} |"
                )
        add("")
    # ---------------------------------------------------------------- pipeline
    if a.get("pipeline"):
        pipe = results["pipeline"]
        add("## Input pipeline and callbacks (dcgan at its zoo configuration)")
        add("")
        cfg = pipe.get("config", {})
        add(
            f"Configuration: `{cfg.get('architecture')}` on `{cfg.get('data')}`, batch {cfg.get('batch_size')},"
            f" model {cfg.get('model')}; {pipe.get('info', {}).get('steps')} steps per epoch. 'batches in memory' is"
            " the same epoch of batches materialized as tensors (`Dataset.from_tensor_slices` over whole batches:"
            " no per-example work left)."
        )
        add("")
        add("| case | steps/s | spread | cost vs pipeline alone |")
        add("| --- | --- | --- | --- |")
        for label, s in a["pipeline"].items():
            cost = (a.get("callback_cost") or {}).get(label)
            add(f"| {label} | {fmt(s['median'])} | {spread(s)} | {pct(cost) if cost is not None else '-'} |")
        po = a.get("pipeline_overhead")
        if po:
            add("")
            add(
                f"Input pipeline overhead (in-memory steps/s / pipeline steps/s - 1): **{pct(po['median_of_all'])}**"
                f" (per-round: {pct(po['paired']['median'])}, {pct(po['paired']['min'])} to {pct(po['paired']['max'])})."
            )
        add("")
    # ---------------------------------------------------------------- archs
    if a.get("archs") or results.get("archs"):
        add("## Training throughput per architecture")
        add("")
        add(
            "`fit` at each architecture's zoo recipe (`tools/train_zoo.py`); architectures without a recipe run a bench"
            " configuration (stated). steps/s without XLA, then with `compile(jit_compile=True)` (Keras turns XLA off"
            " on CPU by default; `ganzoo.training` turns it on for the architectures whose `xla_pays` is set)."
            " FLOPs: analytic for the standard step; 'TF graph' = matmul/conv FLOPs of TensorFlow's traced step"
            " before pruning (an upper bound that, for steps with `tf.cond`, leaves out the branches)."
        )
        add("")
        add(
            "| architecture | configuration | batch | steps/s | images/s | spread steps/s | XLA steps/s | XLA speedup |"
            " GFLOP/step | % of peak | first epoch s (XLA) |"
        )
        add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for arch, e in (results.get("archs") or {}).items():
            row = a["archs"].get(arch)
            if row is None:
                reason = e.get("error") or e.get("skipped") or "not measured"
                add(f"| {arch} | {e.get('label', '-')} | - | - | - | - | - | - | - | - | {reason[:160]} |")
                continue
            cfg = e.get("config") or {}
            cfg_text = f"{e['label']}: " + ", ".join(f"{k}={v}" for k, v in (cfg.get("model") or {}).items())
            if e["source"] != "zoo recipe":
                cfg_text += " (bench configuration)"
            fit, xla = row["fit"], row.get("xla") or {}
            speed = xla["median"] / fit["median"] if xla.get("median") and fit.get("median") else None
            add(
                f"| {arch} | {cfg_text} | {row['batch']} | {fmt(fit['median'])} | "
                f"{fmt(fit['median'] * row['batch']) if fit['median'] else '-'} | {spread(fit)} | {fmt(xla.get('median'))} |"
                f" {fmt(speed) + 'x' if speed else '-'} | {fmt(row['flops'] / 1e9) if row.get('flops') else '-'}"
                f"{' (' + row['flops_method'] + ')' if row.get('flops_method') else ''} | {pct(row.get('util'))} |"
                f" {fmt(e.get('first_epoch_s'))} ({fmt(e.get('xla_first_epoch_s'))}) |"
            )
        add("")
    # ---------------------------------------------------------------- inference
    inf = results.get("inference") or {}
    if inf.get("models"):
        add("## Inference")
        add("")
        add(
            f"Models: {inf.get('source')}."
            + (f" Zoo entries present: {inf.get('zoo_models')}." if inf.get("zoo_models") else "")
        )
        add("")
        for name, mres in inf["models"].items():
            if not mres:
                add(f"* {name}: failed ({(results.get('errors') or {}).get('inference.' + name, '')})")
                continue
            add(
                f"### {name} (latent {mres['latent_dim']}, output {'x'.join(map(str, mres['image_shape']))}"
                f"{', conditional' if mres['conditional'] else ''})"
            )
            add("")
            add("| backend | batch 1 median ms | p10-p90 | batch 64 median ms | images/s at 64 |")
            add("| --- | --- | --- | --- | --- |")
            for label, v in mres["backends"].items():
                b1, b64 = v.get("1", {}), v.get("64", {})
                add(
                    f"| {label} | {fmt(b1.get('median_ms'))} | {fmt(b1.get('p10_ms'))}-{fmt(b1.get('p90_ms'))} | "
                    f"{fmt(b64.get('median_ms'))} | {fmt(64e3 / b64['median_ms']) if b64.get('median_ms') else '-'} |"
                )
            add("")
        add("### Cold start: `ganzoo sample NAME -n 64 -o out.png`, process start to PNG")
        add("")
        add("| model | onnx backend (median, runs) | keras backend (median, runs) |")
        add("| --- | --- | --- |")
        for name, c in (inf.get("cold_start") or {}).items():
            cells = []
            for b in ("onnx", "keras"):
                v = c.get(b) or {}
                cells.append(
                    f"{fmt(v.get('median_s'))} s ({', '.join(fmt(x) for x in v.get('runs_s', []))})"
                    if v.get("median_s")
                    else f"failed: {v.get('error', '')[:120]}"
                )
            add(f"| {name} | {cells[0]} | {cells[1]} |")
        ic = inf.get("import_costs")
        if ic:
            add("")
            add(
                "What bounds it (fresh interpreter each, median of 3): "
                + ", ".join(f"{k} {fmt(v)} s" for k, v in ic.items() if isinstance(v, float))
                + "."
            )
            if ic.get("top_level_imports_s"):
                add(
                    "Slowest top-level imports on the ONNX path (`python -X importtime`): "
                    + ", ".join(f"{mod} {fmt(t)} s" for t, mod in ic["top_level_imports_s"][:6])
                    + "."
                )
        add("")
    # ---------------------------------------------------------------- scaling
    if a.get("scaling"):
        add("## Scaling: cost of a dcgan step as batch and resolution grow")
        add("")
        add(
            "ganzoo dcgan (latent 100, base_filters 64, 1 channel) on batches in memory; resolution changes the"
            " architecture (16 and 28 px: 2 doublings, 32 px: 3, 64 px: 4)."
        )
        add("")
        add("| resolution | batch | ms/step | spread ms | images/s | GFLOP/step | % of peak |")
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for r in sorted(a["scaling"], key=lambda r: (r["size"], r["batch"])):
            add(
                f"| {r['size']} | {r['batch']} | {fmt(r['ms_per_step'])} | {fmt(r['spread_ms'][0])}-{fmt(r['spread_ms'][1])} |"
                f" {fmt(r['images_per_s'])} | {fmt(r['gflop_per_step'])} | {pct(r['util'])} |"
            )
        add("")
    # ---------------------------------------------------------------- findings
    add("## Findings")
    add("")
    for line in findings(results, a):
        add(f"* {line}")
    add("")
    if results.get("errors"):
        add("## Errors during the run")
        add("")
        for k, v in results["errors"].items():
            add(f"* `{k}`: {v[:300]}")
        add("")
    add("![benchmarks](img/benchmarks.png)")
    add("")
    if a.get("scaling"):
        add("![scaling](img/benchmarks_scaling.png)")
        add("")
    return "\n".join(L)


def findings(results: dict, a: dict) -> list[str]:
    """Plain statements derived from the numbers (the report's narrative is data-driven)."""
    out = []
    t = a.get("targets", {})
    if "vs_keras" in t:
        v = t["vs_keras"]["value"]
        out.append(
            f"ganzoo's dcgan `fit` runs at {fmt(v)}x the plain Keras reference"
            + (
                " (target met)."
                if t["vs_keras"]["met"]
                else " (target missed: see the optimizations table for what ganzoo's step does beyond the reference)."
            )
        )
    if "vs_torch" in t:
        v = t["vs_torch"]["value"]
        out.append(
            f"Against PyTorch on the same CPU: {fmt(v)}x"
            + (" (target 1.3x met)." if t["vs_torch"]["met"] else " (target 1.3x missed).")
        )
    if a.get("defaults"):
        cases = results["defaults"]["cases"]
        steps = ", ".join(
            f"{label.lstrip('+ ')} {fmt(a['defaults']['paired'][label]['median'])}x"
            for label in cases[1:]
            if a["defaults"]["paired"][label].get("median")
        )
        out.append(
            f"ganzoo's speed defaults against TensorFlow's on this CPU (dcgan zoo configuration, cumulative): {steps}."
        )
    probes = a.get("probes_paired") or {}
    for label, s in probes.items():
        if label == "ganzoo (baseline)" or not s.get("median"):
            continue
        change = s["median"] - 1
        if abs(change) >= 0.03:
            out.append(
                f"{label}: {'+' if change > 0 else ''}{100 * change:.0f}% steps/s vs the baseline"
                f" (per-round {fmt(s['min'])}-{fmt(s['max'])}x)."
            )
        else:
            out.append(f"{label}: no measurable change ({100 * change:+.0f}%).")
    ref = a.get("probes_vs_ref") or {}
    if ref.get("keras reference + fused BatchNorm", {}).get("median"):
        v = ref["keras reference + fused BatchNorm"]["median"]
        out.append(
            f"A fused BatchNorm kernel (TensorFlow FusedBatchNormV3) in the reference: {fmt(v)}x its speed with"
            " Keras' BatchNormalization (which computes moments and the normalization as separate ops)."
        )
    if "peak_fraction" in t:
        v = t["peak_fraction"]["value"]
        out.append(
            f"The dcgan step reaches {pct(v)} of the matmul peak"
            + (
                " (target met)."
                if t["peak_fraction"]["met"]
                else " (target missed): the per-layer table shows the small convolutions (1-channel input/output"
                " layers, 7x7 maps) running far below the matmul rate, and the time outside conv/matmul ops."
            )
        )
    archs = a.get("archs") or {}
    gains = [
        (arch, r["xla"]["median"] / r["fit"]["median"])
        for arch, r in archs.items()
        if r.get("xla", {}).get("median") and r["fit"].get("median")
    ]
    if gains:
        good = [f"{arch} {g:.2f}x" for arch, g in gains if g >= 1.1]
        bad = [f"{arch} {g:.2f}x" for arch, g in gains if g <= 0.95]
        flat = [f"{arch} {g:.2f}x" for arch, g in gains if 0.95 < g < 1.1]
        out.append(
            "XLA (jit_compile=True): "
            + "; ".join(
                filter(
                    None,
                    [
                        ("faster for " + ", ".join(good)) if good else "",
                        ("slower for " + ", ".join(bad)) if bad else "",
                        ("no clear change for " + ", ".join(flat)) if flat else "",
                    ],
                )
            )
            + "."
        )
    po = a.get("pipeline_overhead")
    if po:
        out.append(
            f"Input pipeline overhead {pct(po['median_of_all'])}: the digits pipeline is cached, shuffled per"
            " epoch and prefetched, so fit rarely waits for data."
        )
    cc = a.get("callback_cost") or {}
    for label, v in cc.items():
        if v is not None and v > 0.05:
            out.append(
                f"{label[len('pipeline + ') :]} cost {pct(v)} of throughput at {results['pipeline'].get('info', {}).get('steps')}"
                " steps per epoch (epoch-end work amortizes over longer epochs)."
            )
    r = a.get("onnx_ratios")
    if r:
        out.append(
            "ONNX Runtime vs SavedModel at batch 1: "
            + ", ".join(f"{n} {fmt(x)}x tuned / {fmt(y)}x with ganzoo.runtime defaults" for n, x, y in r)
            + "."
        )
    if "cold_start_onnx_s" in t:
        ic = (results.get("inference") or {}).get("import_costs") or {}
        out.append(
            f"Cold start with ONNX: {fmt(t['cold_start_onnx_s']['value'])} s; bare interpreter start"
            f" {fmt(ic.get('python -c pass'))} s, `import onnxruntime` {fmt(ic.get('import onnxruntime'))} s,"
            f" `import numpy` {fmt(ic.get('import numpy'))} s in fresh processes (these are floors set by the"
            " machine's load and the libraries, not by ganzoo)."
        )
    sc = a.get("scaling") or []
    at28 = sorted([r for r in sc if r["size"] == 28], key=lambda r: r["batch"])
    if len(at28) >= 2:
        out.append(
            "Batch scaling at 28 px: "
            + ", ".join(f"b{r['batch']} {fmt(r['ms_per_step'])} ms ({pct(r['util'])})" for r in at28)
            + ": time per step grows about linearly with the batch once the convolutions are large enough"
            " to keep both cores busy; small batches pay fixed per-step costs."
        )
    return out


def write_charts(results: dict, a: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHART.parent.mkdir(parents=True, exist_ok=True)
    written = []
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0][0]
    cmp_ = a.get("compare") or {}
    names = [n for n in ("ganzoo", "keras", "torch", "torch_1t") if n in cmp_]
    if names:
        pretty = {
            "ganzoo": "ganzoo fit",
            "keras": "plain Keras fit",
            "torch": "PyTorch (all cores)",
            "torch_1t": "PyTorch (1 thread)",
        }
        med = [cmp_[n]["median"] for n in names]
        err = [[cmp_[n]["median"] - cmp_[n]["min"] for n in names], [cmp_[n]["max"] - cmp_[n]["median"] for n in names]]
        ax.bar(
            [pretty[n] for n in names],
            med,
            yerr=err,
            capsize=6,
            color=["#1f77b4", "#7f7f7f", "#d62728", "#ff9896"][: len(names)],
        )
        for i, v in enumerate(med):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom")
        ax.set_ylabel("train steps/s (median, min-max)")
        util = (a.get("compare_util") or {}).get("ganzoo")
        ax.set_title(f"DCGAN 28x28, batch 64 ({pct(util)} of matmul peak for ganzoo)")
    else:
        ax.set_axis_off()
    ax = axes[0][1]
    archs = [(k, v) for k, v in (a.get("archs") or {}).items() if v["fit"].get("median")]
    if archs:
        y = range(len(archs))
        ax.barh([i + 0.2 for i in y], [v["fit"]["median"] * v["batch"] for _, v in archs], height=0.4, label="fit")
        ax.barh(
            [i - 0.2 for i in y],
            [(v.get("xla") or {}).get("median", 0) * v["batch"] for _, v in archs],
            height=0.4,
            label="fit, jit_compile=True",
        )
        ax.set_yticks(list(y))
        ax.set_yticklabels([k for k, _ in archs])
        ax.set_xscale("log")
        ax.set_xlabel("images/s (log)")
        ax.set_title("Training throughput per architecture")
        ax.legend()
    else:
        ax.set_axis_off()
    ax = axes[1][0]
    inf = (results.get("inference") or {}).get("models") or {}
    rows = []
    for name, mres in inf.items():
        if not mres:
            continue
        b = mres["backends"]
        onnx = {k: v["1"]["median_ms"] for k, v in b.items() if k.startswith("onnx") and "1" in v}
        rows.append(
            (
                name,
                b.get("keras model(x)", {}).get("1", {}).get("median_ms"),
                b.get("savedmodel serve", {}).get("1", {}).get("median_ms"),
                next((v for k, v in onnx.items() if k.startswith("onnx (")), None),
                min(onnx.values()) if onnx else None,
            )
        )
    if rows:
        width = 0.2
        for j, label in enumerate(["Keras model(x)", "SavedModel serve", "ORT (ganzoo defaults)", "ORT (tuned)"]):
            ax.bar([i + (j - 1.5) * width for i in range(len(rows))], [r[j + 1] or 0 for r in rows], width, label=label)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r[0] for r in rows])
        ax.set_yscale("log")
        ax.set_ylabel("batch-1 latency, ms (log)")
        ax.set_title("Inference latency, batch 1")
        ax.legend(fontsize=8)
    else:
        ax.set_axis_off()
    ax = axes[1][1]
    pipe = a.get("pipeline") or {}
    if pipe:
        labels = list(pipe)
        ax.barh(range(len(labels)), [pipe[l]["median"] or 0 for l in labels])
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels([l.replace("pipeline + ", "+ ") for l in labels], fontsize=8)
        ax.set_xlabel("steps/s (median)")
        ax.set_title("dcgan zoo config: input pipeline and callbacks")
    else:
        ax.set_axis_off()
    la = results.get("loadavg_start")
    fig.suptitle(
        f"ganzoo benchmarks - {results.get('machine', {}).get('cpu')} - load avg at start {la}"
        + (" - QUICK RUN" if results.get("quick") else ""),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(CHART, dpi=90)
    plt.close(fig)
    written.append(str(CHART))
    sc = a.get("scaling") or []
    if sc:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        at28 = sorted([r for r in sc if r["size"] == 28], key=lambda r: r["batch"])
        res = sorted([r for r in sc if r["batch"] == 64], key=lambda r: r["size"])
        if at28:
            ax1.loglog([r["batch"] for r in at28], [r["ms_per_step"] for r in at28], "o-", label="ms/step")
            ax1.set_xlabel("batch size (28x28)")
            ax1.set_ylabel("ms per train step")
            ax1b = ax1.twinx()
            ax1b.plot([r["batch"] for r in at28], [100 * (r["util"] or 0) for r in at28], "s--", color="#d62728")
            ax1b.set_ylabel("% of matmul peak", color="#d62728")
            ax1.set_title("Batch scaling")
        if res:
            ax2.semilogy([r["size"] for r in res], [r["ms_per_step"] for r in res], "o-")
            ax2.set_xlabel("resolution (batch 64)")
            ax2.set_ylabel("ms per train step")
            ax2b = ax2.twinx()
            ax2b.plot([r["size"] for r in res], [100 * (r["util"] or 0) for r in res], "s--", color="#d62728")
            ax2b.set_ylabel("% of matmul peak", color="#d62728")
            ax2.set_title("Resolution scaling")
        fig.tight_layout()
        fig.savefig(CHART_SCALING, dpi=90)
        plt.close(fig)
        written.append(str(CHART_SCALING))
    return written


# =========================================================================== main
def run_suite(plan: Plan, sections: tuple[str, ...]) -> dict:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() and set(sections) != set(SECTIONS) else {}
    results = dict(previous)
    results.update(
        {
            "quick": plan.quick,
            "machine": machine_info(),
            "loadavg_start": loadavg(),
            "sections_run": list(sections),
            "errors": {},
        }
    )
    started = time.perf_counter()
    log(f"{'quick' if plan.quick else 'full'} run, sections {list(sections)}, load average {results['loadavg_start']}")
    workers = Workers(plan)
    functions = {
        "peak": section_peak,
        "compare": section_compare,
        "probes": section_probes,
        "defaults": section_defaults,
        "pipeline": section_pipeline,
        "archs": section_archs,
        "scaling": section_scaling,
        "inference": section_inference,
        "peak_end": lambda p, w, r: section_peak(p, w, r, key="peak_end"),
    }
    try:
        for name in SECTIONS:
            if name not in sections:
                continue
            t0 = time.perf_counter()
            attempt(results, name, functions[name], plan, workers, results)
            results.setdefault("section_s", {})[name] = time.perf_counter() - t0
            log(f"section {name}: {results['section_s'][name]:.0f} s")
            RESULTS.write_text(json.dumps(results, indent=1, default=json_default))
    finally:
        workers.close()
    results["loadavg_end"] = loadavg()
    results["duration_s"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=1, default=json_default))
    return results


def render(results: dict) -> None:
    a = analyze(results)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(write_report(results, a) + "\n")
    charts = attempt(results, "charts", write_charts, results, a) or []
    log(f"wrote {REPORT.relative_to(ROOT)}" + "".join(f", {Path(c).relative_to(ROOT)}" for c in charts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small step counts (< 3 minutes)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}"
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from runs/bench/results.json")
    parser.add_argument(
        "--archs", default=None, help="comma-separated architectures for the archs section (default: all)"
    )
    parser.add_argument("--worker", choices=("tf", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.report_only:
        if not RESULTS.exists():
            parser.error(f"{RESULTS} does not exist: run the benchmark first.")
        render(json.loads(RESULTS.read_text()))
        return 0
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    plan = Plan.make(args.quick)
    if args.archs:
        plan = dataclasses.replace(plan, arch_filter=tuple(a.strip() for a in args.archs.split(",")))
    results = run_suite(plan, sections)
    render(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
