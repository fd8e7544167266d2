"""Stabilizer study on the 2-D mode-collapse benchmarks, through the public API a user would use.

    python tools/stability_study.py                    # the study of docs/STABILITY.md (5 seeds)
    python tools/stability_study.py --steps 1000 --seeds 0 --datasets ring --configs defaults pack2

Each run is ``ganzoo.create("vanilla_gan", **switches)`` + ``compile(...)`` + ``fit`` for
``--steps`` (5,000) steps at batch 256 on a plain ``tf.data`` pipeline of the user's own 2-D
points: 100,000 draws of the issue-13 mixtures (not ganzoo's data specs, whose centre and
scale differ): ``ring``, 8 Gaussians on the unit circle with std 0.01, and ``grid``, 25
Gaussians on {-4, -2, 0, 2, 4}^2 with std 0.05. ``r3gan`` is the model as created and compiled
with no argument (vanilla_gan's defaults); every other configuration changes one thing of
``base`` (the defaults with the non-saturating loss and no R1/R2): a switch added, or one
ingredient taken away. Each run is scored with
``ganzoo.metrics.mode_statistics`` on 2,500 samples (PacGAN protocol: a sample is high quality
within 3 std of its nearest mode, a mode is covered with >= 20 of them). Writes, under
``--out``: ``results.json`` (every run) and ``table.md`` (mean +- std over seeds, and the number
of seeds that met the bar); under ``--img``: ``stability_<dataset>.png`` (samples of every run
over the true modes). Runs are spread over ``--workers`` processes with one TensorFlow thread each.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

BATCH = 256
NUM_SAMPLES = 2_500
NUM_POINTS = 100_000
# The bar of issue 13: every mode with at least this fraction of high-quality samples.
BAR = {"ring": 0.97, "grid": 0.95}


def mixture(name: str) -> tuple[np.ndarray, float]:
    """(mode centres, std) of the study's mixtures."""
    if name == "ring":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01
    grid = np.arange(-4.0, 5.0, 2.0)
    return np.array([(x, y) for x in grid for y in grid]), 0.05


def draw(name: str, n: int, seed: int) -> np.ndarray:
    modes, std = mixture(name)
    rng = np.random.default_rng(seed)
    return (modes[rng.integers(0, len(modes), n)] + std * rng.standard_normal((n, 2))).astype(np.float32)


# name: (constructor switches, compile() arguments, description). Optimizers are (lr, beta_1, beta_2) pairs
# for (G, D) and replace the default Adam; None keeps it. Every row but "r3gan" starts from BASE: vanilla_gan's
# defaults with the non-saturating loss and no R1/R2 (the configuration the defaults were chosen against);
# "r3gan" is vanilla_gan exactly as created and compiled with no argument (its shipped defaults).
BASE = ({"r1_gamma": 0.0, "r2_gamma": 0.0}, {"loss": "non_saturating"})
CONFIGS: dict[str, tuple[dict, dict, str]] = {
    "base": ({}, {}, "non-saturating loss, Adam(1e-3, 0.5), standardized coordinates, ramped EMA (0.999)"),
    "paper_optimizer": ({}, dict(adam=((2e-4, 0.5, 0.999),) * 2), "base with DCGAN's Adam(2e-4, 0.5)"),
    "no_ema": (dict(ema_decay=None), {}, "base without the EMA generator"),
    "no_standardize": (dict(standardize=False), {}, "base in the data's own coordinates"),
    "pack2": (dict(pack=2), {}, "base + PacGAN2: D judges 2 samples at once (Lin et al. 2018)"),
    "pack4": (dict(pack=4), {}, "base + PacGAN4"),
    "top_k": (dict(top_k=0.5), {}, "base + top-k training, nu 0.5 (Sinha et al. 2020)"),
    "r3gan": (
        None,
        None,
        "THE DEFAULTS: base with R3GAN's relativistic pairing loss + R1 + R2, gamma 0.1 (Huang et al. 2024)",
    ),
    "least_squares": ({}, dict(loss="least_squares"), "base with the LSGAN loss (Mao et al. 2017)"),
    "hinge_sn": (dict(spectral_norm=True), dict(loss="hinge"), "base with hinge loss + spectral norm on D (SNGAN)"),
    "ttur": ({}, dict(ttur=True), "base with two time-scale rates: D's learning rate 3x G's (Heusel et al. 2017)"),
}
DATASETS = ("ring", "grid")
_COST = {"r3gan": 2.0}  # relative run times: the longest start first


def run_one(job: dict) -> dict:
    """Train and score one (dataset, config, seed) run; runs in a worker process."""
    import keras
    import tensorflow as tf

    import ganzoo
    from ganzoo.evaluation.metrics import mode_statistics

    dataset, name, seed, steps = job["dataset"], job["config"], job["seed"], job["steps"]
    switches, options, _ = CONFIGS[name]
    if switches is None:  # the defaults, as a user gets them
        switches, options = {}, {}
    else:
        switches, options = {**BASE[0], **switches}, {**BASE[1], **options}
    keras.utils.set_random_seed(seed)
    points = draw(dataset, NUM_POINTS, seed)
    train = tf.data.Dataset.from_tensor_slices(points).shuffle(NUM_POINTS, seed=seed).repeat().batch(BATCH)
    model = ganzoo.create("vanilla_gan", seed=seed, **switches)
    options = dict(options)
    compile_args = {"loss": options.pop("loss")} if "loss" in options else {}
    if "adam" in options:
        (g, d) = options.pop("adam")
        compile_args["g_optimizer"] = keras.optimizers.Adam(g[0], beta_1=g[1], beta_2=g[2])
        compile_args["d_optimizer"] = keras.optimizers.Adam(d[0], beta_1=d[1], beta_2=d[2])
    if options.pop("ttur", False):
        default = model.default_optimizer()
        lr, b1, b2 = float(default.learning_rate), default.beta_1, default.beta_2
        compile_args["g_optimizer"] = keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2)
        compile_args["d_optimizer"] = keras.optimizers.Adam(3 * lr, beta_1=b1, beta_2=b2)
    model.compile(steps_per_execution=job["steps_per_execution"], **compile_args)
    started = time.time()
    history = model.fit(train, epochs=1, steps_per_epoch=steps, verbose=0).history
    seconds = time.time() - started
    samples = model.generate(NUM_SAMPLES, seed=1_000 + seed)
    nonfinite = int((~np.isfinite(samples).all(axis=1)).sum())
    samples = np.where(np.isfinite(samples), samples, 1e6)  # a diverged sample counts as low quality
    modes, std = mixture(dataset)
    stats = mode_statistics(samples, modes, std)
    return {
        **job,
        "modes_covered": stats["modes_covered"],
        "num_modes": stats["num_modes"],
        "high_quality_fraction": stats["high_quality_fraction"],
        "meets_bar": stats["modes_covered"] == stats["num_modes"] and stats["high_quality_fraction"] >= BAR[dataset],
        "reverse_kl": stats["reverse_kl"],
        "mode_counts": stats["mode_counts"],
        "nonfinite_samples": nonfinite,
        "final_d_loss": float(np.ravel(history["d_loss"])[-1]),
        "final_g_loss": float(np.ravel(history["g_loss"])[-1]),
        "train_seconds": round(seconds, 1),
        "points": samples[:NUM_SAMPLES].astype(np.float32).tolist(),
    }


def _init_worker(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # each run traces its own train function: retracing warnings are expected
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.1f} ± {values.std():.1f}"


def summarize(results: list[dict], datasets, configs) -> tuple[str, dict[str, str]]:
    """Markdown table (mean ± std over seeds) and the best configuration per dataset.

    Best: the most modes covered on average, ties broken by the high-quality percentage.
    """
    lines = [
        "| configuration | "
        + " | ".join(f"{d}: modes covered | {d}: high quality % | {d}: seeds at the bar" for d in datasets)
        + " |"
    ]
    lines.append("|---" * (1 + 3 * len(datasets)) + "|")
    scores: dict[str, dict[str, tuple[float, float]]] = {d: {} for d in datasets}
    for name in configs:
        cells = []
        for dataset in datasets:
            runs = [r for r in results if r["config"] == name and r["dataset"] == dataset]
            if not runs:
                cells += ["–", "–", "–"]
                continue
            modes = [r["modes_covered"] for r in runs]
            quality = [100.0 * r["high_quality_fraction"] for r in runs]
            scores[dataset][name] = (float(np.mean(modes)), float(np.mean(quality)))
            bar = sum(r["meets_bar"] for r in runs)
            cells += [f"{_mean_std(modes)} / {runs[0]['num_modes']}", _mean_std(quality), f"{bar} / {len(runs)}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    best = {d: max(s, key=lambda n: s[n]) for d, s in scores.items() if s}
    return "\n".join(lines), best


def plot(results: list[dict], dataset: str, configs, seeds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes, _ = mixture(dataset)
    limit = 1.5 if dataset == "ring" else 6.0
    fig, axes = plt.subplots(len(seeds), len(configs), figsize=(1.9 * len(configs), 2.0 * len(seeds)), squeeze=False)
    for col, name in enumerate(configs):
        for row, seed in enumerate(seeds):
            ax = axes[row][col]
            run = next((r for r in results if (r["dataset"], r["config"], r["seed"]) == (dataset, name, seed)), None)
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if run is None:
                continue
            points = np.asarray(run["points"])
            ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.3, c="tab:blue", rasterized=True)
            ax.scatter(modes[:, 0], modes[:, 1], s=18, marker="x", c="tab:red", linewidths=1)
            ax.set_title(
                f"{run['modes_covered']}/{run['num_modes']} modes, {100 * run['high_quality_fraction']:.0f}% hq",
                fontsize=7,
            )
            if row == 0:
                ax.text(0.5, 1.22, name, transform=ax.transAxes, ha="center", fontsize=9, weight="bold")
            if col == 0:
                ax.set_ylabel(f"seed {seed}", fontsize=8)
    fig.suptitle(
        f"vanilla_gan on {dataset}: {NUM_SAMPLES} samples (blue) over the true modes (red x)", fontsize=10, y=1.0
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=5_000, help="generator steps per run")
    parser.add_argument("--steps-per-execution", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="processes (one TensorFlow thread each)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "stability")
    parser.add_argument("--img", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)

    jobs = [
        dict(
            dataset=d,
            config=c,
            seed=s,
            steps=args.steps,
            steps_per_execution=min(args.steps_per_execution, args.steps),
        )
        for d in args.datasets
        for c in args.configs
        for s in args.seeds
    ]
    jobs.sort(key=lambda j: -_COST.get(j["config"], 1.0))  # longest first: the workers finish together
    started = time.time()
    results = []
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.workers, initializer=_init_worker, initargs=(1,)) as pool:
        for result in pool.imap_unordered(run_one, jobs):
            results.append(result)
            print(
                f"[{time.time() - started:6.0f}s] {result['dataset']:7s} {result['config']:16s} seed {result['seed']}: "
                f"{result['modes_covered']:2d}/{result['num_modes']} modes, "
                f"{100 * result['high_quality_fraction']:5.1f}% high quality ({result['train_seconds']:.0f}s)",
                flush=True,
            )
        pool.close()
        pool.join()
    wall = time.time() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime  # the workers' CPU time: what the study costs on an idle machine

    table, best = summarize(results, args.datasets, args.configs)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python tools/stability_study.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_seconds": round(wall, 1),
        "worker_cpu_seconds": round(cpu, 1),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "best": best,
        "configs": {name: CONFIGS[name][2] for name in args.configs},
    }
    runs = [{k: v for k, v in r.items() if k != "points"} for r in results]  # the samples are in the plots
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    summary = table + "\n\n" + "\n".join(f"Best on {d}: **{b}**" for d, b in best.items())
    summary += (
        f"\n\nWall time: {wall / 60:.1f} min for {len(jobs)} runs on {args.workers} workers ({os.cpu_count()} CPUs); "
        f"the workers used {cpu / 60:.1f} CPU-minutes.\n"
    )
    (args.out / "table.md").write_text(summary)
    for dataset in args.datasets:
        plot(results, dataset, args.configs, args.seeds, args.img / f"stability_{dataset}.png")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
