"""Gradient penalties on the discriminator, as plain functions of a critic callable.

Both compute the penalty in float32 (under float16 the squared gradient norm is a
known NaN source) and keep the norm finite at a zero gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
from keras import ops

_EPSILON = 1e-12  # keeps sqrt differentiable at a zero gradient


def _per_sample_sq_norm(grads) -> tf.Tensor:
    grads = ops.cast(grads, "float32")
    return ops.sum(ops.square(ops.reshape(grads, (ops.shape(grads)[0], -1))), axis=1)


def gradient_penalty(critic: Callable, real, fake, mix) -> tf.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): ``E[(||grad D(x_hat)||_2 - 1)^2]``.

    ``x_hat = mix * real + (1 - mix) * fake`` with ``mix`` one uniform [0, 1)
    draw per sample (shape ``(batch,)``), not per pixel.
    """
    mix = ops.reshape(ops.cast(mix, real.dtype), [-1] + [1] * (len(real.shape) - 1))
    interpolated = mix * real + (1.0 - mix) * ops.cast(fake, real.dtype)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated)
    grads = tape.gradient(scores, interpolated)
    norm = ops.sqrt(_per_sample_sq_norm(grads) + _EPSILON)
    return ops.mean(ops.square(norm - 1.0))


def r1_penalty(critic: Callable, real) -> tf.Tensor:
    """R1 (Mescheder et al. 2018): ``E[||grad D(x_real)||^2]``; the caller applies gamma / 2."""
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = critic(real)
    grads = tape.gradient(scores, real)
    return ops.mean(_per_sample_sq_norm(grads))
