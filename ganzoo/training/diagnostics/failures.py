"""The four failures :class:`GANMonitor` names: their warning categories, remedies, and the statistics its
detectors share."""

from __future__ import annotations

from typing import Any

import numpy as np


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

LOG_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "d_accuracy", "d_grad_norm", "g_grad_norm")
GRAD_KEYS = ("d_grad_norm", "g_grad_norm")
MAX_HISTORY = 5000  # per-step values kept (the longest window any check needs is far shorter)


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


def moving_average(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) < k:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[k:] - c[:-k]) / k


def noise_level(x: np.ndarray) -> float:
    """Step-to-step noise of a series, robustly: the MAD of its first differences as a std, over sqrt(2).

    A slow swing changes little from one step to the next, so it barely moves this estimate; minibatch
    noise is all in it.
    """
    steps = np.diff(np.asarray(x, dtype=np.float64))
    if steps.size == 0:
        return 0.0
    return float(np.median(np.abs(steps - np.median(steps))) / (0.6745 * np.sqrt(2.0)))


def detrend(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual of a least-squares line, and the line's rise over the series."""
    t = np.arange(len(x), dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1)
    return x - (slope * t + intercept), float(slope * (len(x) - 1))


def alternations(x: np.ndarray, h: float) -> int:
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


def scalar(value) -> float | None:
    """A log value as a float (Keras gives floats; multi-worker logs are arrays of shape [1])."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def fmt(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)
