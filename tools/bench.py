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
import dataclasses
import json
import sys
import time
from pathlib import Path

from benchmarks.analysis import analyze
from benchmarks.config import BENCH_DIR, REPORT, RESULTS, ROOT, SECTIONS, Plan
from benchmarks.machine import loadavg, machine_info
from benchmarks.report import write_charts, write_report
from benchmarks.sections import (
    section_archs,
    section_compare,
    section_defaults,
    section_inference,
    section_peak,
    section_pipeline,
    section_probes,
    section_scaling,
)
from benchmarks.stats import json_default
from benchmarks.workers import Workers, attempt, log, worker_main


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
