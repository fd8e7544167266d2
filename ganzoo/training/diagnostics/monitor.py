"""The callback: per-step series from Keras' logs, the checks' schedule, and how a failure is reported."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np

from ganzoo.training.diagnostics.collapse import ModeCollapseChecks
from ganzoo.training.diagnostics.divergence import DivergenceChecks
from ganzoo.training.diagnostics.failures import (
    FAILURES,
    GRAD_KEYS,
    MAX_HISTORY,
    REMEDIES,
    mean_pairwise_distance,
    scalar,
)
from ganzoo.training.diagnostics.oscillation import OscillationChecks
from ganzoo.training.diagnostics.vanishing import VanishingGradientChecks


class GANMonitor(
    ModeCollapseChecks, VanishingGradientChecks, OscillationChecks, DivergenceChecks, keras.callbacks.Callback
):
    """Warn, with evidence and remedies, when a GAN collapses, saturates, oscillates or diverges.

    See the module docstring for what each failure means. All thresholds are constructor
    arguments; the defaults were chosen on measured runs (``tests/test_diagnostics.py``) so that
    the broken configurations there fire and a healthy run stays quiet.

    Args:
        reference: real samples (array ``(N, ...)`` in the generator's output range, e.g. images in
            [-1, 1] or 2-D points, or a ``tf.data.Dataset`` of them / of ``(samples, labels)``);
            its diversity is the yardstick of ``mode_collapse``. Without it, the run's own highest
            diversity so far is.
        modes: for 2-D mixtures, ``"ring8"``/``"grid25"`` or ``(centres (K, 2), std)``: adds the
            effective number of modes (and the VEEGAN/PacGAN mode statistics, as evidence).
        features: optional callable mapping a batch of raw samples to feature vectors (e.g. a
            :class:`ganzoo.metrics.ClassifierFeatures`) in which diversity is measured; the
            reference goes through it too. Default: the flattened samples. Caution: a classifier's
            features of poor early samples are small and alike, so their spread is low without
            any collapse (a healthy digits DCGAN measured 0.18-0.26x the real spread in the
            digits classifier's features at steps 200-300, but 0.51-0.60x in pixel space): lower
            ``collapse_ratio`` (e.g. 0.1) or lengthen the warm-up when using features.
        diversity_every: how often diversity is measured, in ``diversity_unit`` ("batch" or
            "epoch"). 0 disables the mode-collapse check.
        n_samples: fixed-seed samples generated per diversity check (512).
        seed: seed of their latent vectors (and of the reference subsample).
        labels: class labels for conditional models (default: cycling through the classes).
        warmup_steps: steps before any check other than NaN/exploding gradients (200).
        check_every: steps between two evaluations of the log-based checks (10).
        patience: consecutive positive evaluations needed to fire a log-based check (3).
        window: steps over which medians are taken for the gradient checks (50).
        collapse_ratio: diversity below this fraction of the reference is a collapse (0.25).
        collapse_modes_fraction: at most this fraction of the modes (effective number) is a
            collapse (0.25: 2 of the 8 modes of ring8).
        collapse_patience: consecutive collapsed diversity checks needed (2).
        d_accuracy_threshold: window median of ``d_accuracy`` meaning "D wins" (0.98).
        vanish_ratio: G's gradient norm below this fraction of its peak window median (0.1).
        dominance_window, dominance_accuracy: D also overpowers G when the median ``d_accuracy`` of
            the last ``dominance_window`` steps (500) is at least ``dominance_accuracy`` (0.95),
            whatever G's gradients: a D that stays this far ahead for so long leaves G nothing to
            learn from (the README's digits DCGAN measured 0.97-1.00 for 20 epochs).
        separation_threshold: ``d_real - d_fake`` (mean logits) meaning saturated outputs (10.0,
            i.e. D's probabilities beyond 0.993 / 0.007 for sigmoid losses).
        oscillation_window: steps of the oscillation analysis (200).
        oscillation_cycles: full up-down cycles needed in that window (3).
        oscillation_amplitude: swing threshold of the losses, relative to their median (0.3).
        oscillation_floor: the smallest median the losses' threshold is taken relative to (0.5): a
            pix2pix D loss of 0.3 (halved, as its paper) swinging by +-0.13 is step-to-step noise of
            a healthy run (its zoo run), not an oscillation. Every threshold is also at least 3
            standard deviations of the series' step-to-step noise left after smoothing, so minibatch
            noise alone never counts as swings.
        accuracy_amplitude: swing threshold of ``d_accuracy``, absolute (0.2).
        smooth: moving-average length applied before counting swings (5 steps).
        explode_ratio: gradient norm growth over its first-step value meaning divergence (1e3).
        explode_window: steps of the median compared with it (10).
        max_grad_norm: optional absolute gradient-norm limit (None: off).
        rearm_steps: after firing, a failure stays silent until its condition has been false for
            this many steps (500), so one long episode gives one warning, not one per check.
        stop_on: failures that also stop training (default ``("divergence",)``).
        running_means: the logs are Keras' running means over the epoch (True) or per-step values.
        verbose: print a line per event (True).
    """

    def __init__(
        self,
        reference: Any = None,
        modes: str | tuple[Any, float] | None = None,
        features: Callable[[np.ndarray], np.ndarray] | None = None,
        diversity_every: int = 200,
        diversity_unit: str = "batch",
        n_samples: int = 512,
        seed: int = 0,
        labels: Any = None,
        warmup_steps: int = 200,
        check_every: int = 10,
        patience: int = 3,
        window: int = 50,
        collapse_ratio: float = 0.25,
        collapse_modes_fraction: float = 0.25,
        collapse_patience: int = 2,
        d_accuracy_threshold: float = 0.98,
        vanish_ratio: float = 0.1,
        dominance_window: int = 500,
        dominance_accuracy: float = 0.95,
        separation_threshold: float = 10.0,
        oscillation_window: int = 200,
        oscillation_cycles: int = 3,
        oscillation_amplitude: float = 0.3,
        oscillation_floor: float = 0.5,
        accuracy_amplitude: float = 0.2,
        smooth: int = 5,
        explode_ratio: float = 1e3,
        explode_window: int = 10,
        max_grad_norm: float | None = None,
        rearm_steps: int = 500,
        stop_on: Iterable[str] = ("divergence",),
        running_means: bool = True,
        verbose: bool = True,
    ):
        super().__init__()
        if diversity_unit not in ("batch", "epoch"):
            raise ValueError(f"diversity_unit must be 'batch' or 'epoch', got {diversity_unit!r}.")
        for name, value in (
            ("check_every", check_every),
            ("patience", patience),
            ("window", window),
            ("collapse_patience", collapse_patience),
            ("oscillation_window", oscillation_window),
            ("oscillation_cycles", oscillation_cycles),
            ("smooth", smooth),
            ("explode_window", explode_window),
            ("dominance_window", dominance_window),
            ("n_samples", n_samples),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}.")
        if n_samples < 2:
            raise ValueError(f"n_samples must be >= 2, got {n_samples!r}.")
        self.stop_on = frozenset(stop_on)
        unknown = self.stop_on - set(FAILURES)
        if unknown:
            raise ValueError(f"unknown failures in stop_on: {sorted(unknown)}; choose from {sorted(FAILURES)}.")
        self.modes, self.mode_std = self._parse_modes(modes)
        self.features = features
        self.diversity_every = int(diversity_every)
        self.diversity_unit = diversity_unit
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.labels = labels
        self.warmup_steps = int(warmup_steps)
        self.check_every = int(check_every)
        self.patience = int(patience)
        self.window = int(window)
        self.collapse_ratio = float(collapse_ratio)
        self.collapse_modes_fraction = float(collapse_modes_fraction)
        self.collapse_patience = int(collapse_patience)
        self.d_accuracy_threshold = float(d_accuracy_threshold)
        self.vanish_ratio = float(vanish_ratio)
        self.dominance_window = int(dominance_window)
        self.dominance_accuracy = float(dominance_accuracy)
        self.separation_threshold = float(separation_threshold)
        self.oscillation_window = int(oscillation_window)
        self.oscillation_cycles = int(oscillation_cycles)
        self.oscillation_amplitude = float(oscillation_amplitude)
        self.oscillation_floor = float(oscillation_floor)
        self.accuracy_amplitude = float(accuracy_amplitude)
        self.smooth = int(smooth)
        self.explode_ratio = float(explode_ratio)
        self.explode_window = int(explode_window)
        self.max_grad_norm = max_grad_norm
        self.rearm_steps = int(rearm_steps)
        self.running_means = bool(running_means)
        self.verbose = bool(verbose)

        self._reference_input = reference
        self.reference_diversity: float | None = None
        self.events: list[dict[str, Any]] = []
        self.diversity_history: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far: steps, logs, peaks and events.

        Not called between ``fit`` calls: a model trained by repeated ``fit(..., epochs=1)`` keeps
        one history (and passes the warm-up once). Call it to reuse a monitor for another run.
        """
        self.step = 0  # optimizer steps seen, over all epochs and fit calls
        self.epoch = 0
        self.values: dict[str, list[float]] = {}
        self.events = []
        self.diversity_history = []
        self._prev_mean: dict[str, float] = {}
        self._prev_count = 0
        self._streak = {name: 0 for name in FAILURES}
        self._armed = {name: True for name in FAILURES}
        self._clear_since: dict[str, int | None] = {name: None for name in FAILURES}
        self._first_grad: dict[str, float] = {}
        self._peak_g_grad = 0.0
        self._peak_diversity = 0.0
        self._nonfinite_reported = False
        self._next_check = self.check_every
        self._next_diversity = self.diversity_every

    def on_train_begin(self, logs=None) -> None:
        self._nonfinite_reported = False  # a new fit (e.g. after lowering the learning rate) may diverge again
        if self.reference_diversity is None and self._reference_input is not None:
            reference = self._collect_reference(self._reference_input)
            if self.features is not None:
                reference = np.asarray(self.features(reference))
            self.reference_diversity = mean_pairwise_distance(reference)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = int(epoch)
        self._prev_mean = {}
        self._prev_count = 0

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        logs = logs or {}
        count = int(batch) + 1
        steps = max(1, count - self._prev_count)
        values = {}
        for key, mean in logs.items():
            mean = scalar(mean)
            if mean is None:
                continue
            if self.running_means and self._prev_count > 0 and key in self._prev_mean:
                prev = self._prev_mean[key]
                value = (count * mean - self._prev_count * prev) / steps if math.isfinite(prev) else mean
            else:
                value = mean
            values[key] = value
            self._prev_mean[key] = mean
        self._prev_count = count
        self.step += steps
        for key, value in values.items():
            if key in GRAD_KEYS and math.isfinite(value):
                value = max(value, 0.0)  # round-off of the recovery can give tiny negative norms
            series = self.values.setdefault(key, [])
            series.append(value)
            if len(series) > MAX_HISTORY:
                del series[: len(series) - MAX_HISTORY]
        for key in GRAD_KEYS:
            if key in values and key not in self._first_grad and math.isfinite(values[key]):
                self._first_grad[key] = values[key]

        if self._check_nonfinite(values):
            return
        if self.step >= self._next_check:  # ">=": steps_per_execution > 1 advances several steps at once
            self._next_check = self.step + self.check_every
            self._check_exploding()
            if self.step >= self.warmup_steps:
                self._check_vanishing()
                self._check_oscillation()
            else:
                self._update_g_peak()
        if self.diversity_unit == "batch" and self.diversity_every and self.step >= self._next_diversity:
            self._next_diversity = self.step + self.diversity_every
            self._check_diversity()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.diversity_unit == "epoch" and self.diversity_every and (epoch + 1) % self.diversity_every == 0:
            self._check_diversity()

    def _series(self, key: str, n: int | None = None) -> np.ndarray | None:
        series = self.values.get(key)
        if not series:
            return None
        return np.asarray(series[-n:] if n else series, dtype=np.float64)

    def _judge(self, failure: str, condition: bool, evidence: dict, message: str, patience: int | None = None) -> None:
        """Fire after ``patience`` consecutive positive checks; re-arm after ``rearm_steps`` steps without."""
        patience = self.patience if patience is None else patience
        if condition:
            self._streak[failure] += 1
            self._clear_since[failure] = None
            if self._armed[failure] and self._streak[failure] >= patience:
                self._armed[failure] = False
                self._emit(failure, evidence, message)
        else:
            self._streak[failure] = 0
            if self._clear_since[failure] is None:
                self._clear_since[failure] = self.step
            if not self._armed[failure] and self.step - self._clear_since[failure] >= self.rearm_steps:
                self._armed[failure] = True

    def _emit(self, failure: str, evidence: dict, message: str, stop_reason: str | None = None) -> dict:
        remedy = REMEDIES[failure]
        event = {
            "failure": failure,
            "epoch": self.epoch + 1,
            "step": self.step,
            "evidence": evidence,
            "remedy": remedy,
            "message": f"GANMonitor [{failure}] epoch {self.epoch + 1}, step {self.step}: {message}",
        }
        stop = failure in self.stop_on
        if stop and self.model is not None:
            self.model.stop_training = True
            event["message"] += f" Training stopped ({stop_reason or failure} is in stop_on)."
        event["stopped_training"] = stop and self.model is not None
        event["message"] += f" Remedy: {remedy}"
        self.events.append(event)
        if self.verbose:
            print(event["message"], flush=True)
        warnings.warn(event["message"], FAILURES[failure], stacklevel=3)
        return event
