"""The original GAN (Goodfellow et al. 2014): multilayer perceptrons for G and D.

Works on 2-D points (the ring8/grid25 mode-collapse benchmarks: linear output)
and on flattened images (tanh output, reshaped to the image shape).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from ganzoo import distribute
from ganzoo.models.base import GAN
from ganzoo.models.layers.common import Standardization, maybe_spectral
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
        standardize: train in standardized coordinates: D's first layer maps the data to zero
            mean and unit variance per feature and G's last layer maps back, with the mean and
            variance of all real batches seen so far (so the data's centre and scale do not
            matter). None: on for points (1-D ``data_shape``), off for images in [-1, 1].
        r1_gamma, r2_gamma: R1 and R2 penalties (0.1 each, in standardized units).

    Defaults. The paper fixes no recipe a modern user could follow (maxout MLPs, SGD with momentum,
    dropout in D), so these are measured ones, from docs/STABILITY.md (5,000 steps at batch 256,
    5 seeds, the user's own points): R3GAN's objective (Huang et al. 2024: the relativistic pairing
    loss with R1 and R2, ``compile()``'s default loss here) with Adam(1e-3, beta_1=0.5), standardized
    coordinates and an EMA generator (0.999, StyleGAN2-ADA's ramp-up 0.05). It was the one
    configuration that covered all 8 ring modes at every seed and the most grid modes (19 of 25 on
    average); with the non-saturating loss 2 of 5 seeds collapsed on the ring, and with DCGAN's
    Adam(2e-4) nothing learned in that budget. Each default is an argument (``compile(loss=...)``
    for the loss); ``ganzoo info vanilla_gan`` lists them.
    """

    supports_packing = True
    default_loss = "relativistic"  # R3GAN's pairing loss, with the R1 and R2 defaults (measured, see above)
    # Files saved before these options existed trained in raw coordinates, without a ramped-up EMA.
    legacy_defaults = {**GAN.legacy_defaults, "standardize": False, "ema_rampup": None, "r2_gamma": 0.0}

    def __init__(
        self,
        data_shape=(2,),
        latent_dim: int = 16,
        hidden_units=(256, 256),
        dropout: float = 0.0,
        spectral_norm: bool = False,
        standardize: bool | None = None,
        ema_decay: float | None = 0.999,
        ema_rampup: float | None = 0.05,
        r1_gamma: float = 0.1,
        r2_gamma: float = 0.1,
        **kwargs,
    ):
        self.data_shape = tuple(int(s) for s in data_shape)
        if not self.data_shape or min(self.data_shape) < 1:
            raise ValueError(f"data_shape must be a non-empty shape of positive sizes, got {data_shape!r}.")
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dropout = float(dropout)
        self.spectral_norm = bool(spectral_norm)
        self.standardize = len(self.data_shape) == 1 if standardize is None else bool(standardize)
        super().__init__(
            latent_dim=latent_dim,
            ema_decay=ema_decay,
            ema_rampup=ema_rampup,
            r1_gamma=r1_gamma,
            r2_gamma=r2_gamma,
            **kwargs,
        )
        if self.standardize:
            features = self.data_shape[-1]
            self._data_count = self.add_named_state("data_count", keras.Variable(0.0, trainable=False), 1.0)
            self._data_mean = self.add_named_state(
                "data_mean", keras.Variable(ops.zeros(features), trainable=False), 0.0
            )
            self._data_m2 = self.add_named_state("data_m2", keras.Variable(ops.zeros(features), trainable=False), 1.0)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.data_shape

    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """Adam(1e-3, beta_1=0.5): measured on the 2-D benchmarks (docs/STABILITY.md)."""
        return keras.optimizers.Adam(1e-3, beta_1=0.5)

    def build_generator(self) -> keras.Model:
        z = keras.Input((self.latent_dim,), name="z")
        x = z
        for units in self.hidden_units:
            x = keras.layers.Dense(units, activation="relu")(x)
        is_image = len(self.data_shape) > 1
        x = keras.layers.Dense(math.prod(self.data_shape), activation="tanh" if is_image else None, dtype="float32")(x)
        x = keras.layers.Reshape(self.data_shape)(x)
        if self.standardize:
            x = Standardization(inverse=True, dtype="float32")(x)
        output = keras.layers.Identity(name="image", dtype="float32")(x)
        return keras.Model(z, output, name="generator")

    def build_discriminator(self) -> keras.Model:
        sample = keras.Input(self.discriminator_input_shape, name="image")
        x = sample
        if self.standardize:  # packed samples are standardized each with the same statistics
            x = keras.layers.Reshape((*self.data_shape[:-1], self.pack, self.data_shape[-1]))(x)
            x = Standardization(dtype="float32")(x)
        x = keras.layers.Flatten()(x)
        for units in self.hidden_units:
            x = maybe_spectral(keras.layers.Dense(units), self.spectral_norm)(x)
            x = keras.layers.LeakyReLU(0.2)(x)
            if self.dropout:
                x = keras.layers.Dropout(self.dropout)(x)
        logit = maybe_spectral(keras.layers.Dense(1, dtype="float32"), self.spectral_norm)(x)
        return keras.Model(sample, logit, name="discriminator")

    def discriminator_penalties(self, real, fake, labels, critic=None):
        """R1, R2 and GP in standardized coordinates (so that their gammas, too, do not depend on the data's scale)."""
        if not self.standardize:
            return super().discriminator_penalties(real, fake, labels, critic)
        layer = next(x for x in self.discriminator._flatten_layers() if isinstance(x, Standardization))
        mean, std = ops.cast(layer.mean, "float32"), ops.cast(layer.std, "float32")
        judge = critic or (lambda x: self.discriminate(x, labels))
        unstandardized = lambda z: judge(z * std + mean)  # noqa: E731
        return super().discriminator_penalties((real - mean) / std, (fake - mean) / std, labels, unstandardized)

    def observe_real(self, real) -> None:
        """Fold this real batch into the running mean and variance (Chan et al.'s parallel update) and
        write them into the networks' :class:`Standardization` layers."""
        if not self.standardize:
            return
        real = ops.reshape(ops.cast(real, "float32"), (-1, self.data_shape[-1]))
        count = ops.cast(ops.shape(real)[0], "float32")
        mean = ops.mean(real, axis=0)
        m2 = ops.sum(ops.square(real - mean), axis=0)
        context = tf.distribute.get_replica_context()
        if distribute.replicas_in_sync() > 1:  # the global batch's moments, identical on every replica
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
            mean_total = context.all_reduce(tf.distribute.ReduceOp.SUM, mean * count) / total
            m2 = context.all_reduce(tf.distribute.ReduceOp.SUM, m2 + count * ops.square(mean - mean_total))
            count, mean = total, mean_total
        seen = self._data_count.value
        total = seen + count
        delta = mean - self._data_mean.value
        self._data_mean.assign(self._data_mean.value + delta * count / total)
        self._data_m2.assign(self._data_m2.value + m2 + ops.square(delta) * seen * count / total)
        self._data_count.assign(total)
        std = ops.sqrt(ops.maximum(self._data_m2.value / total, 1e-12))
        for network in (self.generator, self.discriminator, self.ema_generator):
            for layer in network._flatten_layers() if network is not None else ():
                if isinstance(layer, Standardization):
                    layer.mean.assign(self._data_mean.value)
                    layer.std.assign(std)
