"""Training diagnostics: :class:`GANMonitor` names the classic GAN failures while ``fit`` runs.

    monitor = GANMonitor(reference=real_points, modes="ring8")
    model.fit(data, epochs=50, callbacks=[monitor])
    monitor.events      # [{"failure": "mode_collapse", "epoch": 3, "step": 600, "evidence": {...}, "remedy": "..."}]

Four failures are recognised, each reported once per episode (re-armed after its symptoms have
been absent for ``rearm_steps``) as a Python
warning of its own category (subclasses of :class:`GANWarning`, so ``warnings.simplefilter("error",
GANWarning)`` turns them into exceptions), a one-line ``print`` and an entry of ``monitor.events``:

``mode_collapse``
    The diversity of a fixed-seed batch of generated samples (mean pairwise Euclidean distance,
    in sample space or in the space of ``features``) falls below ``collapse_ratio`` times that of
    the real data (``reference``), or, without a reference, of the run's own highest diversity so
    far; for 2-D mixtures (``modes=``) also when the samples' effective number of modes
    (``exp`` of the entropy of their nearest-mode histogram) is at most ``collapse_modes_fraction``
    of the number of modes. Must hold at ``collapse_patience`` consecutive diversity checks.
``vanishing_gradients``
    The discriminator overpowers the generator: D classifies (almost) every sample correctly
    (window median of ``d_accuracy`` >= ``d_accuracy_threshold``) and either the generator's
    gradient norm has shrunk to ``vanish_ratio`` of its highest window median so far, or
    ``g_loss`` keeps rising while D's mean logits on real and fake are ``separation_threshold``
    or more apart (saturated sigmoid losses).
``oscillation``
    ``g_loss`` or ``d_loss`` (or ``d_accuracy``) swing up and down with a large amplitude and no
    trend: over the last ``oscillation_window`` steps, the smoothed (moving average of ``smooth``
    steps), linearly detrended series alternates at least ``2 * oscillation_cycles`` times
    between above ``+h`` and below ``-h``, with ``h = oscillation_amplitude * max(|median loss|,
    0.1)`` for the losses and ``h = accuracy_amplitude`` for ``d_accuracy``. The hysteresis makes
    minibatch noise (many small crossings) and slow drifts (few crossings) not count.
``divergence``
    A NaN or Inf in any log (reported at the first step it appears, with the losses concerned and
    the likely cause read from the gradient norms just before: exploding, or a sudden NaN that
    points to the data or a numerically unsafe operation), or exploding gradient norms: the
    median of the last ``explode_window`` values of ``d_grad_norm`` or ``g_grad_norm`` above
    ``explode_ratio`` times the norm at the first step (or above ``max_grad_norm`` if set).

Log-based checks run every ``check_every`` steps after ``warmup_steps`` (the first steps of a GAN
are a transient: D learns to tell noise from data, the generator starts from a point) and fire
when their condition holds at ``patience`` consecutive checks, so a single noisy batch never does;
the NaN check runs at every step and exploding norms are checked from the start. Failures in
``stop_on`` (default: ``divergence``) also set ``model.stop_training = True``.

Keras passes each batch the *running mean over the epoch* of every metric; the monitor recovers
the value of each step from consecutive means (``running_means=True``, the default; set it to
False when feeding it per-step values yourself). The recovery is exact up to float32 round-off of
the running sum, which only matters when a value changes by many orders of magnitude within an
epoch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np

from ganzoo.data import datasets as data_lib
from ganzoo.evaluation.metrics import mode_statistics

__all__ = [
    "GANWarning",
    "ModeCollapseWarning",
    "VanishingGradientsWarning",
    "OscillationWarning",
    "DivergenceWarning",
    "FAILURES",
    "REMEDIES",
    "GANMonitor",
    "mean_pairwise_distance",
    "effective_modes",
]


class GANWarning(UserWarning):
    """Base category of the warnings emitted by :class:`GANMonitor`."""

    failure = "gan"


class ModeCollapseWarning(GANWarning):
    failure = "mode_collapse"


class VanishingGradientsWarning(GANWarning):
    failure = "vanishing_gradients"


class OscillationWarning(GANWarning):
    failure = "oscillation"


class DivergenceWarning(GANWarning):
    failure = "divergence"


FAILURES: dict[str, type[GANWarning]] = {
    cls.failure: cls for cls in (ModeCollapseWarning, VanishingGradientsWarning, OscillationWarning, DivergenceWarning)
}

REMEDIES: dict[str, str] = {
    "mode_collapse": (
        "add a minibatch standard deviation feature to D (dcgan minibatch_std=True); augment D's inputs "
        "(augment='diffaugment' or 'ada'); lower the learning rates, or the generator's relative to D's; "
        "switch to loss='least_squares' or 'wasserstein' with gp_weight=10; packing (PacGAN) or unrolled "
        "D updates (Unrolled GAN) address it structurally."
    ),
    "vanishing_gradients": (
        "use loss='non_saturating' (or least_squares/hinge) instead of minimax; weaken D: one-sided "
        "label_smoothing=0.1, instance_noise=0.1, fewer d_steps, a lower D learning rate (two time-scale "
        "rates: D's lr a few times G's at most), spectral_norm=True, dropout in D, or augment D's inputs."
    ),
    "oscillation": (
        "lower both learning rates (2e-4 with Adam beta_1=0.5 is the safe default) or use two time-scale "
        "rates (TTUR: D faster than G); average the generator's weights (ema_decay=0.999); regularise D with "
        "a gradient penalty (gp_weight=10 with loss='wasserstein', or r1_gamma)."
    ),
    "divergence": (
        "lower the learning rates (and Adam's beta_1 to 0.5); add a gradient penalty (gp_weight or r1_gamma) "
        "or spectral_norm=True; check the data for NaN/Inf and its range ([-1, 1]); under mixed precision "
        "keep loss scaling (the default LossScaleOptimizer) and float32 outputs; clip gradients "
        "(clipnorm=1.0 on the optimizers)."
    ),
}

_LOG_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "d_accuracy", "d_grad_norm", "g_grad_norm")
_GRAD_KEYS = ("d_grad_norm", "g_grad_norm")
_MAX_HISTORY = 5000  # per-step values kept (the longest window any check needs is far shorter)


# ---------------------------------------------------------------------------------------------
# Statistics


def mean_pairwise_distance(samples: Any) -> float:
    """Mean Euclidean distance between distinct rows of ``samples`` (flattened per sample), float64."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples to measure diversity, got {n}")
    x = x - x.mean(axis=0)
    sq = np.einsum("ij,ij->i", x, x)
    total = 0.0
    rows = max(1, 2**22 // n)
    for start in range(0, n, rows):
        block = x[start : start + rows]
        d2 = sq[start : start + rows, None] + sq[None, :] - 2.0 * block @ x.T
        total += float(np.sqrt(np.maximum(d2, 0.0)).sum())
    # The diagonal contributes ~0 (round-off only): subtracting nothing, dividing by n(n-1).
    return total / (n * (n - 1))


def effective_modes(points: Any, modes: Any) -> float:
    """``exp`` of the entropy of the histogram of nearest modes: 1 for one mode, K for an even spread."""
    pts = np.asarray(points, dtype=np.float64)
    centres = np.asarray(modes, dtype=np.float64)
    d2 = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    p = np.bincount(d2.argmin(axis=1), minlength=len(centres)) / len(pts)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def _moving_average(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) < k:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[k:] - c[:-k]) / k


def _detrend(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual of a least-squares line, and the line's rise over the series."""
    t = np.arange(len(x), dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1)
    return x - (slope * t + intercept), float(slope * (len(x) - 1))


def _alternations(x: np.ndarray, h: float) -> int:
    """Number of swings between ``>= +h`` and ``<= -h`` (a crossing detector with hysteresis)."""
    state, count = 0, 0
    for value in x:
        if value >= h and state != 1:
            count += state == -1
            state = 1
        elif value <= -h and state != -1:
            count += state == 1
            state = -1
    return count


def _scalar(value) -> float | None:
    """A log value as a float (Keras gives floats; multi-worker logs are arrays of shape [1])."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def _fmt(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)


# ---------------------------------------------------------------------------------------------
# The callback


class GANMonitor(keras.callbacks.Callback):
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
        separation_threshold: ``d_real - d_fake`` (mean logits) meaning saturated outputs (10.0,
            i.e. D's probabilities beyond 0.993 / 0.007 for sigmoid losses).
        oscillation_window: steps of the oscillation analysis (200).
        oscillation_cycles: full up-down cycles needed in that window (3).
        oscillation_amplitude: swing threshold of the losses, relative to their median (0.3).
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
        separation_threshold: float = 10.0,
        oscillation_window: int = 200,
        oscillation_cycles: int = 3,
        oscillation_amplitude: float = 0.3,
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
        self.separation_threshold = float(separation_threshold)
        self.oscillation_window = int(oscillation_window)
        self.oscillation_cycles = int(oscillation_cycles)
        self.oscillation_amplitude = float(oscillation_amplitude)
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

    # ------------------------------------------------------------------ state
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

    @staticmethod
    def _parse_modes(modes):
        if modes is None:
            return None, None
        if isinstance(modes, str):
            centres, std = data_lib.mixture_modes(modes)
            return np.asarray(centres, np.float64), float(std)
        centres, std = modes
        return np.asarray(centres, np.float64), float(std)

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

    # ------------------------------------------------------------------ per step
    def on_train_batch_end(self, batch: int, logs=None) -> None:
        logs = logs or {}
        count = int(batch) + 1
        steps = max(1, count - self._prev_count)
        values = {}
        for key, mean in logs.items():
            mean = _scalar(mean)
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
            if key in _GRAD_KEYS and math.isfinite(value):
                value = max(value, 0.0)  # round-off of the recovery can give tiny negative norms
            series = self.values.setdefault(key, [])
            series.append(value)
            if len(series) > _MAX_HISTORY:
                del series[: len(series) - _MAX_HISTORY]
        for key in _GRAD_KEYS:
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

    # ------------------------------------------------------------------ helpers
    def _series(self, key: str, n: int | None = None) -> np.ndarray | None:
        series = self.values.get(key)
        if not series:
            return None
        return np.asarray(series[-n:] if n else series, dtype=np.float64)

    def _update_g_peak(self) -> None:
        g = self._series("g_grad_norm", self.window)
        if g is not None and len(g) >= min(5, self.window) and np.isfinite(g).all():
            self._peak_g_grad = max(self._peak_g_grad, float(np.median(g)))

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

    # ------------------------------------------------------------------ divergence
    def _check_nonfinite(self, values: dict[str, float]) -> bool:
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        if not bad or self._nonfinite_reported:
            return bool(bad)
        self._nonfinite_reported = True
        evidence: dict[str, Any] = {"nonfinite": {k: values[k] for k in bad}}
        last = {}
        for key in _LOG_KEYS:
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
        for key in _GRAD_KEYS:
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
                f"exploding gradients: {worst} grew {_fmt(growth[worst])}x over the previous steps "
                f"(to {_fmt(evidence['last_finite'].get(worst, float('nan')))}) - the learning rate is too "
                f"high for this loss/architecture, or D is unconstrained."
            )
        return (
            "a sudden NaN with stable gradient norms just before "
            f"(growth {', '.join(f'{k} {_fmt(v)}x' for k, v in growth.items())}): most likely a NaN/Inf in "
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
            f"{_fmt(current.get(worst, float('nan')))}, {_fmt(worst_ratio)}x its first-step value "
            f"{_fmt(self._first_grad.get(worst, float('nan')))} (limit {_fmt(self.explode_ratio)}x"
            f"{'' if self.max_grad_norm is None else f', or {_fmt(self.max_grad_norm)} absolute'}); "
            "training is diverging."
        )
        self._judge("divergence", condition, evidence, message)

    # ------------------------------------------------------------------ vanishing gradients
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
                reasons.append(f"G's gradient norm fell to {_fmt(g_now)}, {_fmt(g_now / peak)}x its peak {_fmt(peak)}")
        real, fake = self._series("d_real", self.window), self._series("d_fake", self.window)
        gl = self._series("g_loss", self.window)
        if real is not None and fake is not None and gl is not None:
            separation = float(np.median(real - fake))
            half = len(gl) // 2
            g_before, g_after = float(np.median(gl[:half])), float(np.median(gl[half:]))
            evidence.update(separation=separation, g_loss_before=g_before, g_loss_after=g_after)
            if separation >= self.separation_threshold and g_after > g_before:
                reasons.append(
                    f"g_loss keeps rising ({_fmt(g_before)} -> {_fmt(g_after)}) while D's mean logits "
                    f"are {_fmt(separation)} apart (real {_fmt(float(np.median(real)))}, "
                    f"fake {_fmt(float(np.median(fake)))})"
                )
        self._update_g_peak()
        condition = acc_median >= self.d_accuracy_threshold and bool(reasons)
        message = (
            f"the discriminator overpowers the generator: median d_accuracy {_fmt(acc_median)} over the last "
            f"{self.window} steps and {'; '.join(reasons)}. The generator gets (almost) no useful gradient."
        )
        self._judge("vanishing_gradients", condition, evidence, message)

    # ------------------------------------------------------------------ oscillation
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
            h = self.oscillation_amplitude * max(abs(median), 0.1) if relative else self.accuracy_amplitude
            residual, rise = _detrend(_moving_average(series, self.smooth))
            swings = _alternations(residual, h)
            swing = float(np.percentile(residual, 95) - np.percentile(residual, 5))
            evidence[key] = {"swings": swings, "threshold": h, "peak_to_peak": swing, "median": median, "trend": rise}
            if swings >= needed:
                hits.append(
                    f"{key} swung {swings} times beyond +-{_fmt(h)} (peak to peak {_fmt(swing)} around "
                    f"{_fmt(median)}, trend {_fmt(rise)})"
                )
        message = (
            f"losses oscillate without converging over the last {w} steps: {'; '.join(hits)} "
            f"(>= {needed} swings = {self.oscillation_cycles} cycles)."
        )
        self._judge("oscillation", bool(hits), evidence, message)

    # ------------------------------------------------------------------ mode collapse
    def _collect_reference(self, reference) -> np.ndarray:
        if hasattr(reference, "as_numpy_iterator"):  # a tf.data.Dataset
            parts, total = [], 0
            for element in reference.as_numpy_iterator():
                batch = element[0] if isinstance(element, (tuple, list)) else element
                parts.append(np.asarray(batch))
                total += len(parts[-1])
                if total >= self.n_samples:
                    break
            reference = np.concatenate(parts)
        reference = np.asarray(reference, dtype=np.float32)
        if len(reference) > self.n_samples:
            index = np.random.default_rng(self.seed).choice(len(reference), self.n_samples, replace=False)
            reference = reference[np.sort(index)]
        if len(reference) < 2:
            raise ValueError("reference must hold at least 2 samples.")
        return reference

    def _generate(self) -> np.ndarray:
        model = self.model
        labels = self.labels
        if labels is None and getattr(model, "is_conditional", False):
            labels = np.arange(self.n_samples, dtype=np.int32) % model.num_classes
        return np.asarray(model.generate(self.n_samples, seed=self.seed, labels=labels, raw=True))

    def measure_diversity(self) -> dict[str, Any]:
        """Diversity statistics of the current generator (also usable outside ``fit``)."""
        samples = self._generate()
        record: dict[str, Any] = {"epoch": self.epoch + 1, "step": self.step}
        if not np.isfinite(samples).all():
            record["diversity"] = float("nan")
            return record
        feats = np.asarray(self.features(samples)) if self.features is not None else samples
        diversity = mean_pairwise_distance(feats)
        record["diversity"] = diversity
        if self.reference_diversity is not None:
            record["reference_diversity"] = self.reference_diversity
            record["ratio"] = diversity / self.reference_diversity if self.reference_diversity > 0 else float("nan")
        else:
            peak = max(self._peak_diversity, diversity)
            record["peak_diversity"] = peak
            record["ratio"] = diversity / peak if peak > 0 else float("nan")
        if self.modes is not None and samples.ndim == 2 and samples.shape[1] == self.modes.shape[1]:
            min_count = max(1, math.ceil(20 * len(samples) / 2500))  # PacGAN's 20 per 2,500, scaled
            stats = mode_statistics(samples, self.modes, self.mode_std, min_count=min_count)
            record.update(
                effective_modes=effective_modes(samples, self.modes),
                num_modes=stats["num_modes"],
                modes_covered=stats["modes_covered"],
                high_quality_fraction=stats["high_quality_fraction"],
                mode_counts=stats["mode_counts"],
            )
        return record

    def _check_diversity(self) -> None:
        if self.model is None or self.step < self.warmup_steps:
            return
        record = self.measure_diversity()
        self.diversity_history.append(record)
        diversity = record["diversity"]
        if not math.isfinite(diversity):
            return  # a non-finite generator is reported as divergence
        self._peak_diversity = max(self._peak_diversity, diversity)
        reasons = []
        against = "the real data's" if self.reference_diversity is not None else "its own peak"
        if record["ratio"] < self.collapse_ratio:
            reasons.append(
                f"sample diversity {_fmt(diversity)} is {_fmt(record['ratio'])}x {against} "
                f"({_fmt(record.get('reference_diversity', record.get('peak_diversity')))}, "
                f"threshold {_fmt(self.collapse_ratio)}x)"
            )
        if (
            "effective_modes" in record
            and record["effective_modes"] <= self.collapse_modes_fraction * record["num_modes"]
        ):
            reasons.append(
                f"the samples concentrate on {_fmt(record['effective_modes'])} effective modes of "
                f"{record['num_modes']} ({record['modes_covered']} covered with high quality)"
            )
        recent = [r for r in self.diversity_history[-self.collapse_patience :]]
        evidence = {
            "diversity": record,
            "history": [{k: r.get(k) for k in ("step", "diversity", "ratio", "effective_modes")} for r in recent],
        }
        message = f"mode collapse: {'; '.join(reasons)}, for {self.collapse_patience} consecutive checks."
        self._judge("mode_collapse", bool(reasons), evidence, message, patience=self.collapse_patience)
