"""Vanishing gradients: the discriminator overpowers the generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from ganzoo.training.diagnostics.failures import fmt


class VanishingGradientChecks:
    """Vanishing gradients: the discriminator overpowers the generator. (a part of :class:`GANMonitor`, which holds the state)."""

    def _check_vanishing(self) -> None:
        acc = self._series("d_accuracy", self.window)
        if acc is None or len(acc) < self.window:
            self._update_g_peak()
            return
        acc_median = float(np.median(acc))
        evidence: dict[str, Any] = {"d_accuracy": acc_median}
        reasons = []
        g = self._series("g_grad_norm", self.window)
        if g is not None:
            g_now = float(np.median(g))
            peak = max(self._peak_g_grad, 1e-30)
            evidence.update(g_grad_norm=g_now, g_grad_norm_peak=self._peak_g_grad, g_grad_ratio=g_now / peak)
            if g_now <= self.vanish_ratio * peak:
                reasons.append(f"G's gradient norm fell to {fmt(g_now)}, {fmt(g_now / peak)}x its peak {fmt(peak)}")
        real, fake = self._series("d_real", self.window), self._series("d_fake", self.window)
        gl = self._series("g_loss", self.window)
        if real is not None and fake is not None and gl is not None:
            separation = float(np.median(real - fake))
            half = len(gl) // 2
            g_before, g_after = float(np.median(gl[:half])), float(np.median(gl[half:]))
            evidence.update(separation=separation, g_loss_before=g_before, g_loss_after=g_after)
            if separation >= self.separation_threshold and g_after > g_before:
                reasons.append(
                    f"g_loss keeps rising ({fmt(g_before)} -> {fmt(g_after)}) while D's mean logits "
                    f"are {fmt(separation)} apart (real {fmt(float(np.median(real)))}, "
                    f"fake {fmt(float(np.median(fake)))})"
                )
        self._update_g_peak()
        sustained = self._series("d_accuracy", self.dominance_window)
        dominant = (
            sustained is not None
            and len(sustained) >= self.dominance_window
            and float(np.median(sustained)) >= self.dominance_accuracy
        )
        if dominant:
            evidence.update(d_accuracy_sustained=float(np.median(sustained)), sustained_steps=len(sustained))
            reasons.append(
                f"it has classified {fmt(float(np.median(sustained)))} of the samples correctly (median) for the "
                f"last {len(sustained)} steps: G is not catching up"
            )
        condition = (acc_median >= self.d_accuracy_threshold and bool(reasons)) or dominant
        message = (
            f"the discriminator overpowers the generator: median d_accuracy {fmt(acc_median)} over the last "
            f"{self.window} steps and {'; '.join(reasons)}. The generator gets (almost) no useful gradient."
        )
        self._judge("vanishing_gradients", condition, evidence, message)

    def _update_g_peak(self) -> None:
        g = self._series("g_grad_norm", self.window)
        if g is not None and len(g) >= min(5, self.window) and np.isfinite(g).all():
            self._peak_g_grad = max(self._peak_g_grad, float(np.median(g)))
