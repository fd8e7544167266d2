"""The TensorFlow worker process: ganzoo, plain Keras and the probes, timed on request; FLOP counting."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.config import ROOT
from benchmarks.stats import time_calls


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
