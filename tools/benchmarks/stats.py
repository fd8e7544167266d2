"""Medians with their spread, steps per second, and timing of single calls."""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any


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
