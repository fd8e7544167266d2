"""The benchmark's sections: each runs its measurements through the workers and stores raw numbers."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.config import BENCH_CONFIGS, BENCH_DIR, CLASSIC, COMPARE_NAMES, DEFAULT_CASES, NO_XLA, ROOT, Plan
from benchmarks.stats import rates, summarize
from benchmarks.workers import Worker, Workers, attempt, log


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
