"""Oscillation: losses that swing with a large amplitude and no trend."""

from __future__ import annotations

from typing import Any

import numpy as np

from ganzoo.training.diagnostics.failures import alternations, detrend, fmt, moving_average, noise_level

# A swing must also exceed this many standard deviations of the smoothed minibatch noise: a hinge or
# R1-regularized D loss sits near 0.5 with noise as large as the relative threshold (a StyleGAN2 run on
# Fashion-MNIST "swung" 7 times beyond +-0.15 with no cycle in it).
NOISE_SIGMAS = 3.0


class OscillationChecks:
    """Oscillation: losses that swing with a large amplitude and no trend. (a part of :class:`GANMonitor`, which holds the state)."""

    def _check_oscillation(self) -> None:
        w = self.oscillation_window
        if self.step - self.warmup_steps < w:
            return
        needed = 2 * self.oscillation_cycles
        evidence: dict[str, Any] = {}
        hits = []
        for key, relative in (("g_loss", True), ("d_loss", True), ("d_accuracy", False)):
            series = self._series(key, w)
            if series is None or len(series) < w or not np.isfinite(series).all():
                continue
            median = float(np.median(series))
            h = (
                self.oscillation_amplitude * max(abs(median), self.oscillation_floor)
                if relative
                else self.accuracy_amplitude
            )
            noise = noise_level(series) / np.sqrt(max(1, self.smooth))  # the noise left after smoothing
            h = max(h, NOISE_SIGMAS * noise)
            residual, rise = detrend(moving_average(series, self.smooth))
            swings = alternations(residual, h)
            swing = float(np.percentile(residual, 95) - np.percentile(residual, 5))
            evidence[key] = {
                "swings": swings,
                "threshold": h,
                "noise": noise,
                "peak_to_peak": swing,
                "median": median,
                "trend": rise,
            }
            if swings >= needed:
                hits.append(
                    f"{key} swung {swings} times beyond +-{fmt(h)} (peak to peak {fmt(swing)} around "
                    f"{fmt(median)}, trend {fmt(rise)})"
                )
        message = (
            f"losses oscillate without converging over the last {w} steps: {'; '.join(hits)} "
            f"(>= {needed} swings = {self.oscillation_cycles} cycles)."
        )
        self._judge("oscillation", bool(hits), evidence, message)
