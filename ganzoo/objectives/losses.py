"""Adversarial losses on raw discriminator logits.

Each loss is a pair of plain functions, ``d(real_logits, fake_logits)`` and
``g(fake_logits, real_logits=None)`` (only a relativistic loss reads the real logits), returning the mean over the batch. They work on logits (never
on sigmoid outputs) and use ``softplus`` so that ``log(sigmoid(x))`` cannot
overflow: ``-log(sigmoid(x)) == softplus(-x)`` and ``-log(1 - sigmoid(x)) == softplus(x)``.

Every variant takes its adversarial loss from here by name through :func:`get`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import NamedTuple

from keras import ops


class AdversarialLoss(NamedTuple):
    """The discriminator and generator sides of one adversarial objective."""

    name: str
    d: Callable  # d(real_logits, fake_logits, real_target=1.0) -> scalar
    g: Callable  # g(fake_logits, real_logits=None) -> scalar
    relativistic: bool = False  # g needs the logits of a real batch (paired with the fakes)
    # D's decision threshold between "real" and "fake" scores: 0 for logistic losses and hinge, 0.5 for
    # least squares (targets 0 and 1), None where scores have no fixed origin (Wasserstein, relativistic):
    # then the midpoint of a batch's mean real and fake scores.
    threshold: float | None = 0.0


def _mean(x):
    return ops.mean(ops.cast(x, "float32"))


# Minimax (Goodfellow et al. 2014): G minimises log(1 - D(G(z))). Saturates early
# in training, when D rejects fakes confidently; kept for faithfulness.
def minimax_d(real_logits, fake_logits, real_target=1.0):
    real = real_target * ops.softplus(-real_logits) + (1.0 - real_target) * ops.softplus(real_logits)
    return _mean(real) + _mean(ops.softplus(fake_logits))


def minimax_g(fake_logits, real_logits=None):
    return -_mean(ops.softplus(fake_logits))


# Non-saturating (Goodfellow et al. 2014, section 3): G maximises log D(G(z)).
# Same D loss as minimax; the G side keeps strong gradients when D wins.
def non_saturating_g(fake_logits, real_logits=None):
    return _mean(ops.softplus(-fake_logits))


# Least squares (Mao et al. 2017), with targets a=0 (fake), b=1 (real), c=1.
def least_squares_d(real_logits, fake_logits, real_target=1.0):
    return 0.5 * _mean(ops.square(real_logits - real_target)) + 0.5 * _mean(ops.square(fake_logits))


def least_squares_g(fake_logits, real_logits=None):
    return 0.5 * _mean(ops.square(fake_logits - 1.0))


# Hinge (Lim & Ye 2017; used by SNGAN, SAGAN, BigGAN).
def hinge_d(real_logits, fake_logits, real_target=1.0):
    return _mean(ops.relu(real_target - real_logits)) + _mean(ops.relu(1.0 + fake_logits))


def hinge_g(fake_logits, real_logits=None):
    return -_mean(fake_logits)


# Wasserstein (Arjovsky et al. 2017): the critic's outputs are unbounded scores.
# Needs a Lipschitz constraint (gradient penalty or spectral norm) to be meaningful.
def wasserstein_d(real_logits, fake_logits, real_target=1.0):
    return _mean(fake_logits) - _mean(real_logits)


def wasserstein_g(fake_logits, real_logits=None):
    return -_mean(fake_logits)


# Relativistic pairing (RpGAN; Jolicoeur-Martineau 2019, the loss of R3GAN, Huang et al. 2024): D
# scores each real against a fake, ``softplus(-(D(x_i) - D(G(z_i))))``; G the reverse. Pairs real i
# with fake i, so both batches must have one size. Pair it with R1 and R2 (``r1_gamma``, ``r2_gamma``).
def relativistic_d(real_logits, fake_logits, real_target=1.0):
    margin = ops.cast(real_logits, "float32") - ops.cast(fake_logits, "float32")
    return _mean(real_target * ops.softplus(-margin) + (1.0 - real_target) * ops.softplus(margin))


def relativistic_g(fake_logits, real_logits=None):
    if real_logits is None:
        raise ValueError(
            "The relativistic loss judges fakes against reals: this variant's G step passes no real logits."
        )
    return _mean(ops.softplus(ops.cast(real_logits, "float32") - ops.cast(fake_logits, "float32")))


LOSSES: dict[str, AdversarialLoss] = {
    loss.name: loss
    for loss in (
        AdversarialLoss("minimax", minimax_d, minimax_g),
        AdversarialLoss("non_saturating", minimax_d, non_saturating_g),
        AdversarialLoss("least_squares", least_squares_d, least_squares_g, threshold=0.5),
        AdversarialLoss("hinge", hinge_d, hinge_g),
        AdversarialLoss("wasserstein", wasserstein_d, wasserstein_g, threshold=None),
        AdversarialLoss("relativistic", relativistic_d, relativistic_g, relativistic=True, threshold=None),
    )
}


def get(name: str | AdversarialLoss) -> AdversarialLoss:
    """Return the loss pair called ``name`` (or pass an :class:`AdversarialLoss` through)."""
    if isinstance(name, AdversarialLoss):
        return name
    if name not in LOSSES:
        close = difflib.get_close_matches(str(name), LOSSES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown adversarial loss {name!r}; expected one of {sorted(LOSSES)}.{hint}")
    return LOSSES[name]
