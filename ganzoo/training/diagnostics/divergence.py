"""Divergence: a NaN or Inf in the logs (with its likely cause), or exploding gradient norms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ganzoo.training.diagnostics.failures import GRAD_KEYS, LOG_KEYS, fmt


class DivergenceChecks:
    """Divergence: a NaN or Inf in the logs (with its likely cause), or exploding gradient norms. (a part of :class:`GANMonitor`, which holds the state)."""

    def _check_nonfinite(self, values: dict[str, float]) -> bool:
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        if not bad or self._nonfinite_reported:
            return bool(bad)
        self._nonfinite_reported = True
        evidence: dict[str, Any] = {"nonfinite": {k: values[k] for k in bad}}
        last = {}
        for key in LOG_KEYS:
            series = self.values.get(key, [])[:-1]
            finite = [v for v in series if math.isfinite(v)]
            if finite:
                last[key] = finite[-1]
        evidence["last_finite"] = last
        cause = self._nonfinite_cause(evidence)
        losses = [k for k in bad if k.endswith("loss")] or bad
        message = (
            f"{', '.join(losses)} became {'/'.join(sorted({str(values[k]) for k in bad}))} "
            f"(non-finite logs: {', '.join(bad)}). Likely cause: {cause}"
        )
        self._emit("divergence", evidence, message, stop_reason="divergence")
        return True

    def _nonfinite_cause(self, evidence: dict) -> str:
        growth = {}
        for key in GRAD_KEYS:
            series = [v for v in self.values.get(key, [])[:-1] if math.isfinite(v)]
            if len(series) >= 2:
                before = float(np.median(series[-self.window - 1 : -1]))
                growth[key] = series[-1] / before if before > 0 else math.inf
        evidence["grad_norm_growth_before_nan"] = growth
        if not growth:
            return (
                "the very first step is non-finite: check the data (NaN/Inf, range), the initialisation and the loss."
            )
        worst = max(growth, key=growth.get)
        if growth[worst] >= 10.0:
            return (
                f"exploding gradients: {worst} grew {fmt(growth[worst])}x over the previous steps "
                f"(to {fmt(evidence['last_finite'].get(worst, float('nan')))}) - the learning rate is too "
                f"high for this loss/architecture, or D is unconstrained."
            )
        return (
            "a sudden NaN with stable gradient norms just before "
            f"(growth {', '.join(f'{k} {fmt(v)}x' for k, v in growth.items())}): most likely a NaN/Inf in "
            "the input batch (check the data pipeline), else a numerically unsafe operation (log, sqrt, "
            "division) in a custom loss or layer, or float16 overflow without loss scaling."
        )

    def _check_exploding(self) -> None:
        if len(self._first_grad) == 0:
            return
        floor = 1e-3 * max(self._first_grad.values()) + 1e-12
        worst, worst_ratio, current = None, 0.0, {}
        over_limit = False
        for key, first in self._first_grad.items():
            series = self._series(key, self.explode_window)
            if series is None or len(series) < self.explode_window:
                return
            now = float(np.median(series))
            current[key] = now
            ratio = now / max(first, floor)
            if ratio > worst_ratio:
                worst, worst_ratio = key, ratio
            if self.max_grad_norm is not None and now > self.max_grad_norm:
                over_limit = True
        condition = worst_ratio > self.explode_ratio or over_limit
        evidence = {
            "grad_norm_median": current,
            "grad_norm_first_step": dict(self._first_grad),
            "growth": worst_ratio,
            "explode_ratio": self.explode_ratio,
            "max_grad_norm": self.max_grad_norm,
        }
        message = (
            f"exploding gradients: the median {worst} of the last {self.explode_window} steps is "
            f"{fmt(current.get(worst, float('nan')))}, {fmt(worst_ratio)}x its first-step value "
            f"{fmt(self._first_grad.get(worst, float('nan')))} (limit {fmt(self.explode_ratio)}x"
            f"{'' if self.max_grad_norm is None else f', or {fmt(self.max_grad_norm)} absolute'}); "
            "training is diverging."
        )
        self._judge("divergence", condition, evidence, message)
