"""Stabilizer study on the 2-D mode-collapse benchmarks (ring8, grid25).

    python tools/stability_study.py                    # the study of docs/STABILITY.md
    python tools/stability_study.py --steps 300 --seeds 0 --datasets ring8 --configs plain least_squares

Trains the MLP ``vanilla_gan`` (3 x 128 hidden units, latent 16, batch 256) on each
dataset, plainly and with each stabilizer below, over several seeds, for the same
number of generator steps. Each run is scored with
``ganzoo.metrics.mode_statistics`` on 2,500 samples (PacGAN protocol: a sample is
high quality within 3 std of its nearest mode, a mode is covered with >= 20 of
them). Writes, under ``--out``: ``results.json`` (every run) and ``table.md`` (mean
+- std over seeds); under ``--img``: ``stability_<dataset>.png`` (samples of every
run over the true modes). Runs are spread over ``--workers`` processes with one
TensorFlow thread each.
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

HIDDEN = (128, 128, 128)
LATENT = 16
BATCH = 256
NUM_SAMPLES = 2_500


def configs(lr: float = 1e-3) -> dict[str, tuple[dict, str, tuple, tuple, str]]:
    """name: (model kwargs, loss, G Adam (lr, beta_1, beta_2), D Adam, description), around a base learning rate.

    Every configuration uses Adam(lr, 0.5, 0.999) except WGAN-GP (its paper's Adam(lr / 2, 0, 0.9),
    which is its 1e-4 at the zoo's default lr 2e-4) and TTUR (G lr / 2, D lr x 2: SAGAN's 1e-4 / 4e-4
    at 2e-4). The study's default lr is 1e-3: in a 2,000-step pilot on ring8 (seed 0), least squares
    covered 6/8 modes (45 % high quality) with it against 2/8 (25 %) with 2e-4.
    """
    adam = (lr, 0.5, 0.999)
    return {
        "plain": ({}, "non_saturating", adam, adam, "non-saturating loss, no stabilizer"),
        "least_squares": ({}, "least_squares", adam, adam, "LSGAN loss (Mao et al. 2017)"),
        "hinge_sn": (dict(spectral_norm=True), "hinge", adam, adam, "hinge loss + spectral norm on D (SNGAN)"),
        "wgan_gp": (
            dict(gp_weight=10.0, d_steps=5),
            "wasserstein",
            (lr / 2, 0.0, 0.9),
            (lr / 2, 0.0, 0.9),
            f"Wasserstein + gradient penalty 10, 5 D steps per G step, Adam({lr / 2:g}, 0, 0.9) (Gulrajani et al. 2017)",
        ),
        "r1": (
            dict(r1_gamma=1.0),
            "non_saturating",
            adam,
            adam,
            "non-saturating + R1 penalty, gamma 1 (Mescheder et al. 2018)",
        ),
        "instance_noise": (
            dict(instance_noise=0.05),
            "non_saturating",
            adam,
            adam,
            "non-saturating + Gaussian noise of std 0.05 on D's inputs (real and fake)",
        ),
        "label_smoothing": (
            dict(label_smoothing=0.1),
            "non_saturating",
            adam,
            adam,
            "non-saturating + one-sided label smoothing (real target 0.9)",
        ),
        "ema": (
            dict(ema_decay=0.999),
            "non_saturating",
            adam,
            adam,
            "non-saturating; samples from an EMA (0.999) of G's weights",
        ),
        "ttur": (
            {},
            "non_saturating",
            (lr / 2, 0.5, 0.999),
            (2 * lr, 0.5, 0.999),
            f"non-saturating, two time-scale lr: G {lr / 2:g}, D {2 * lr:g}",
        ),
    }


CONFIGS = configs()
DATASETS = ("ring8", "grid25")
# WGAN-GP's 5 D steps (with a double backward pass each) cost about 5x a plain run: schedule it first.
_COST = {"wgan_gp": 5.0}


def run_one(job: dict) -> dict:
    """Train and score one (dataset, config, seed) run; runs in a worker process."""
    import keras

    import ganzoo
    from ganzoo.data import datasets as data
    from ganzoo.evaluation.metrics import mode_statistics

    dataset, name, seed, steps = job["dataset"], job["config"], job["seed"], job["steps"]
    model_kwargs, loss, g_adam, d_adam, _ = configs(job["lr"])[name]
    keras.utils.set_random_seed(seed)
    train = data.load(dataset, batch_size=BATCH, seed=seed).repeat()
    model = ganzoo.create(
        "vanilla_gan", data_shape=(2,), latent_dim=LATENT, hidden_units=HIDDEN, seed=seed, **model_kwargs
    )
    adam = lambda lr, b1, b2: keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2)  # noqa: E731
    model.compile(
        g_optimizer=adam(*g_adam), d_optimizer=adam(*d_adam), loss=loss, steps_per_execution=job["steps_per_execution"]
    )
    started = time.time()
    history = model.fit(train, epochs=1, steps_per_epoch=steps, verbose=0).history
    seconds = time.time() - started
    points = model.generate(NUM_SAMPLES, seed=1_000 + seed)
    nonfinite = int((~np.isfinite(points).all(axis=1)).sum())
    points = np.where(np.isfinite(points), points, 1e6)  # a diverged sample counts as low quality
    modes, std = data.mixture_modes(dataset)
    stats = mode_statistics(points, modes, std)
    return {
        **job,
        "modes_covered": stats["modes_covered"],
        "num_modes": stats["num_modes"],
        "high_quality_fraction": stats["high_quality_fraction"],
        "reverse_kl": stats["reverse_kl"],
        "mode_counts": stats["mode_counts"],
        "nonfinite_samples": nonfinite,
        "final_d_loss": float(np.ravel(history["d_loss"])[-1]),
        "final_g_loss": float(np.ravel(history["g_loss"])[-1]),
        "train_seconds": round(seconds, 1),
        "points": points[:NUM_SAMPLES].astype(np.float32).tolist(),
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
    lines = ["| configuration | " + " | ".join(f"{d}: modes covered | {d}: high quality %" for d in datasets) + " |"]
    lines.append("|---" * (1 + 2 * len(datasets)) + "|")
    scores: dict[str, dict[str, tuple[float, float]]] = {d: {} for d in datasets}
    for name in configs:
        cells = []
        for dataset in datasets:
            runs = [r for r in results if r["config"] == name and r["dataset"] == dataset]
            if not runs:
                cells += ["–", "–"]
                continue
            modes = [r["modes_covered"] for r in runs]
            quality = [100.0 * r["high_quality_fraction"] for r in runs]
            scores[dataset][name] = (float(np.mean(modes)), float(np.mean(quality)))
            cells += [f"{_mean_std(modes)} / {runs[0]['num_modes']}", _mean_std(quality)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    best = {d: max(s, key=lambda n: s[n]) for d, s in scores.items() if s}
    return "\n".join(lines), best


def plot(results: list[dict], dataset: str, configs, seeds, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganzoo.data.datasets import mixture_modes

    modes, _ = mixture_modes(dataset)
    limit = 3.0 if dataset == "ring8" else 6.0
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
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=2_000, help="generator steps per run")
    parser.add_argument("--lr", type=float, default=1e-3, help="base Adam learning rate (see configs())")
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
            lr=args.lr,
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
        "configs": {name: configs(args.lr)[name][4] for name in args.configs},
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
