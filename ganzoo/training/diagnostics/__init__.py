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
    or more apart (saturated sigmoid losses); or, whatever the gradients, D's median accuracy over
    the last ``dominance_window`` steps is at least ``dominance_accuracy``.
``oscillation``
    ``g_loss`` or ``d_loss`` (or ``d_accuracy``) swing up and down with a large amplitude and no
    trend: over the last ``oscillation_window`` steps, the smoothed (moving average of ``smooth``
    steps), linearly detrended series alternates at least ``2 * oscillation_cycles`` times
    between above ``+h`` and below ``-h``, with ``h = oscillation_amplitude * max(|median loss|,
    oscillation_floor)`` for the losses and ``h = accuracy_amplitude`` for ``d_accuracy``. The hysteresis makes
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

The package: :mod:`~.failures` (warning categories, remedies, shared statistics), one module per
detector (:mod:`~.collapse`, :mod:`~.vanishing`, :mod:`~.oscillation`, :mod:`~.divergence`) and
:mod:`~.monitor`, the callback that runs them.
"""

from ganzoo.training.diagnostics.failures import (
    FAILURES,
    REMEDIES,
    DivergenceWarning,
    GANWarning,
    ModeCollapseWarning,
    OscillationWarning,
    VanishingGradientsWarning,
    effective_modes,
    mean_pairwise_distance,
)
from ganzoo.training.diagnostics.monitor import GANMonitor

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
