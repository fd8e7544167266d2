"""The original GAN (Goodfellow et al. 2014): multilayer perceptrons for G and D.

Works on 2-D points (the ring8/grid25 mode-collapse benchmarks: linear output)
and on flattened images (tanh output, reshaped to the image shape).
"""

from __future__ import annotations

import math

import keras

from ganzoo.models.base import GAN
from ganzoo.models.layers.common import maybe_spectral
from ganzoo.registry import register_architecture


@register_architecture("vanilla_gan")
@keras.saving.register_keras_serializable(package="ganzoo")
class VanillaGAN(GAN):
    """MLP GAN.

    Args:
        data_shape: shape of one sample: ``(2,)`` for points, ``(H, W, C)`` for images.
        latent_dim: size of z.
        hidden_units: widths of the hidden layers of both networks.
        dropout: dropout rate in D (the paper used dropout in its discriminator).
        spectral_norm: spectral normalization on D's layers.
    """

    def __init__(
        self,
        data_shape=(2,),
        latent_dim: int = 16,
        hidden_units=(256, 256),
        dropout: float = 0.0,
        spectral_norm: bool = False,
        **kwargs,
    ):
        self.data_shape = tuple(int(s) for s in data_shape)
        if not self.data_shape or min(self.data_shape) < 1:
            raise ValueError(f"data_shape must be a non-empty shape of positive sizes, got {data_shape!r}.")
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = float(dropout)
        self.spectral_norm = bool(spectral_norm)
        super().__init__(latent_dim=latent_dim, **kwargs)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.data_shape

    def build_generator(self) -> keras.Model:
        z = keras.Input((self.latent_dim,), name="z")
        x = z
        for units in self.hidden_units:
            x = keras.layers.Dense(units, activation="relu")(x)
        is_image = len(self.data_shape) > 1
        x = keras.layers.Dense(math.prod(self.data_shape), activation="tanh" if is_image else None, dtype="float32")(x)
        output = keras.layers.Reshape(self.data_shape, name="image")(x)
        return keras.Model(z, output, name="generator")

    def build_discriminator(self) -> keras.Model:
        sample = keras.Input(self.data_shape, name="image")
        x = keras.layers.Flatten()(sample)
        for units in self.hidden_units:
            x = maybe_spectral(keras.layers.Dense(units), self.spectral_norm)(x)
            x = keras.layers.LeakyReLU(0.2)(x)
            if self.dropout:
                x = keras.layers.Dropout(self.dropout)(x)
        logit = maybe_spectral(keras.layers.Dense(1, dtype="float32"), self.spectral_norm)(x)
        return keras.Model(sample, logit, name="discriminator")
