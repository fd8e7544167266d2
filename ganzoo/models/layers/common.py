"""Layers shared by several architectures (serializable, no Lambda layers)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ganzoo")
class MinibatchStdDev(keras.layers.Layer):
    """Append one feature map holding the batch's mean per-feature std (Karras et al. 2018).

    Lets the discriminator see how diverse a batch is, a remedy for mode collapse.
    The statistic is taken over the whole (per-replica) batch, in float32.
    """

    def call(self, x):
        std = ops.sqrt(ops.var(ops.cast(x, "float32"), axis=0) + 1e-8)
        stat = ops.cast(ops.mean(std), x.dtype)
        return ops.concatenate([x, ops.ones_like(x[..., :1]) * stat], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def maybe_spectral(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """Wrap ``layer`` in spectral normalization (Miyato et al. 2018) when asked."""
    return keras.layers.SpectralNormalization(layer) if spectral_norm else layer


def normalization(kind: str, name: str | None = None) -> keras.layers.Layer | None:
    """A normalization layer by name: ``"batch"``, ``"layer"`` or ``"none"``.

    A gradient penalty is per sample, so a critic trained with one must not use
    batch normalization (Gulrajani et al. 2017): use "layer" or "none".
    """
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "layer":
        return keras.layers.LayerNormalization(name=name)
    if kind == "none":
        return None
    raise ValueError(f"normalization must be 'batch', 'layer' or 'none', got {kind!r}.")
