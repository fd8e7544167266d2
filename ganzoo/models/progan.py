"""Progressive GAN (Karras et al. 2018): grow G and D from 4x4 to the image size while training.

Both networks are built once at the final resolution with one :class:`~ganzoo.style_layers.FadeIn`
per block, so the whole growth runs inside a single ``model.fit`` with one traced train step
(the "linear" structure of the paper's code): a block not grown yet has fade weight 0 (its
output is ignored and it gets no gradient), a block fading in has weight ``alpha``, a grown
block 1. G's output and D's input stay at the final size: at 8x8, G's image is its 8x8 toRGB
upsampled with nearest neighbours, and the real images are downsampled the same way (and
cross-faded between the two current resolutions while a block fades in).

The schedule is data, in the model's config: ``stable_images`` real images at 4x4, then for
each larger resolution ``fade_images`` images of fade-in (alpha 0 -> 1) and ``stable_images``
at alpha 1. The train step counts images (``growth_images``); the :class:`ProgressiveGrowing`
callback (added by ``fit`` when missing) moves to the next resolution and sets alpha after
every batch. The level, alpha and image counters are model variables: ``model.save`` and
``BackupAndRestore`` keep them, and training resumes at the same resolution and alpha.

Networks: equalized learning rate everywhere, pixelwise feature normalization after every
conv of G, minibatch standard deviation before D's last block, WGAN-GP with the drift term
``drift_weight * E[D(x)^2]``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganzoo import distribute
from ganzoo.models.base import GAN
from ganzoo.models.dcgan import check_pyramid_shape
from ganzoo.models.layers.common import MinibatchStdDev
from ganzoo.models.layers.style import (
    EqualizedConv2D,
    EqualizedDense,
    FadeIn,
    PixelNorm,
)
from ganzoo.registry import register_architecture
from ganzoo.utils.sampling import check_positive_int


@register_architecture("progan")
@keras.saving.register_keras_serializable(package="ganzoo")
class ProGAN(GAN):
    """Progressive growing GAN with equalized learning rate, pixel norm and minibatch stddev.

    ``compile()`` defaults to the paper's WGAN loss (with ``gp_weight`` and the drift term) and
    Adam(1e-3, beta_1=0, beta_2=0.99) for both networks.

    Args:
        image_shape: (size, size, channels), size a power of two >= 8.
        latent_dim: size of z (512 in the paper).
        channel_base, channel_max: channels at resolution r are ``min(channel_base // r, channel_max)``.
        stable_images: real images shown at each resolution once it is fully faded in (and at 4x4).
        fade_images: real images over which a new resolution fades in (alpha 0 -> 1).
        gp_weight: WGAN-GP weight (10).
        drift_weight: weight of the drift term keeping D's outputs near 0 (0.001).
        ema_decay: EMA of G for inference (0.999).
        mbstd_group_size: minibatch-stddev group size (4, the released code's; None: the whole batch).
        reset_optimizers: reset both Adam states when a new resolution starts (the official code's
            ``reset_opt_for_new_lod=True``); False keeps them across resolutions.
    """

    default_loss = "wasserstein"
    # As trained before these options existed: one whole-batch group, Adam kept across resolutions.
    legacy_defaults = {**GAN.legacy_defaults, "mbstd_group_size": None, "reset_optimizers": False}

    def __init__(
        self,
        image_shape=(32, 32, 3),
        latent_dim: int = 128,
        channel_base: int = 2048,
        channel_max: int = 128,
        stable_images: int = 60_000,
        fade_images: int = 60_000,
        gp_weight: float = 10.0,
        drift_weight: float = 0.001,
        ema_decay: float | None = 0.999,
        mbstd_group_size: int | None = 4,
        reset_optimizers: bool = True,
        **kwargs,
    ):
        self.image_shape = check_pyramid_shape(image_shape, kwargs.get("num_classes"), "ProGAN")
        for name, value in (
            ("channel_base", channel_base),
            ("channel_max", channel_max),
            ("stable_images", stable_images),
            ("fade_images", fade_images),
        ):
            check_positive_int(name, value)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.stable_images = int(stable_images)
        self.fade_images = int(fade_images)
        self.drift_weight = float(drift_weight)
        self.mbstd_group_size = mbstd_group_size
        self.reset_optimizers = bool(reset_optimizers)
        super().__init__(latent_dim=latent_dim, gp_weight=gp_weight, ema_decay=ema_decay, **kwargs)
        # Growth state (saved with the model): resolution level (0 = 4x4), fade-in alpha of that
        # level, real images seen at this level, and in total.
        self.growth_level = self.add_weight(
            name="growth_level", shape=(), dtype="int32", initializer="zeros", trainable=False
        )
        self.growth_alpha = self.add_weight(name="growth_alpha", shape=(), initializer="ones", trainable=False)
        self.growth_images = self.add_weight(
            name="growth_images", shape=(), dtype="int64", initializer="zeros", trainable=False
        )
        self.images_seen = self.add_weight(
            name="images_seen", shape=(), dtype="int64", initializer="zeros", trainable=False
        )
        self.apply_growth()

    # ------------------------------------------------------------------ shapes
    @property
    def max_level(self) -> int:
        """Level of the final resolution (level l is 4 * 2**l pixels)."""
        return int(math.log2(self.image_shape[0])) - 2

    @property
    def resolutions(self) -> list[int]:
        return [4 * 2**level for level in range(self.max_level + 1)]

    def channels(self, resolution: int) -> int:
        return min(self.channel_base // resolution, self.channel_max)

    # ---------------------------------------------------------------- networks
    # Layer names carry their resolution and channel counts depend only on it, so the layers of a
    # smaller ProGAN are a subset (same names, same shapes) of a larger one: see at_resolution().
    def build_generator(self) -> keras.Model:
        z = keras.Input((self.latent_dim,), name="z")
        x = PixelNorm(name="normalize_z")(z)
        x = EqualizedDense(self.channels(4) * 16, activation="lrelu", name="g4_dense")(x)
        x = keras.layers.Reshape((4, 4, self.channels(4)))(x)
        x = PixelNorm(name="g4_dense_norm")(x)
        x = EqualizedConv2D(self.channels(4), 3, activation="lrelu", name="g4_conv")(x)
        x = PixelNorm(name="g4_conv_norm")(x)
        image = EqualizedConv2D(self.image_shape[-1], 1, name="to_rgb_4")(x)
        for res in self.resolutions[1:]:
            x = keras.layers.UpSampling2D(2, name=f"g{res}_up")(x)
            for i in range(2):
                x = EqualizedConv2D(self.channels(res), 3, activation="lrelu", name=f"g{res}_conv{i}")(x)
                x = PixelNorm(name=f"g{res}_conv{i}_norm")(x)
            new = EqualizedConv2D(self.image_shape[-1], 1, name=f"to_rgb_{res}")(x)
            old = keras.layers.UpSampling2D(2, name=f"g{res}_image_up")(image)
            image = FadeIn(name=f"g_fade_{res}")([old, new])
        image = keras.layers.Activation("linear", dtype="float32", name="image")(image)
        return keras.Model(z, image, name="generator")

    def build_discriminator(self) -> keras.Model:
        image = keras.Input(self.image_shape, name="image")
        size = self.image_shape[0]
        x = EqualizedConv2D(self.channels(size), 1, activation="lrelu", name=f"from_rgb_{size}")(image)
        img = image
        for res in reversed(self.resolutions[1:]):
            x = EqualizedConv2D(self.channels(res), 3, activation="lrelu", name=f"d{res}_conv0")(x)
            x = EqualizedConv2D(self.channels(res // 2), 3, activation="lrelu", name=f"d{res}_conv1")(x)
            x = keras.layers.AveragePooling2D(2, name=f"d{res}_down")(x)
            img = keras.layers.AveragePooling2D(2, name=f"d_image_{res // 2}")(img)
            low = EqualizedConv2D(self.channels(res // 2), 1, activation="lrelu", name=f"from_rgb_{res // 2}")(img)
            x = FadeIn(name=f"d_fade_{res}")([low, x])
        x = MinibatchStdDev(self.mbstd_group_size, name="minibatch_std")(x)
        x = EqualizedConv2D(self.channels(4), 3, activation="lrelu", name="d4_conv")(x)
        x = keras.layers.Flatten()(x)
        x = EqualizedDense(self.channels(4), activation="lrelu", name="d4_fc")(x)
        logit = EqualizedDense(1, name="logit", dtype="float32")(x)
        return keras.Model(image, logit, name="discriminator")

    # ------------------------------------------------------------------ growth
    @property
    def level(self) -> int:
        return int(self.growth_level.numpy())

    @property
    def alpha(self) -> float:
        return float(self.growth_alpha.numpy())

    @property
    def resolution(self) -> int:
        """The resolution being trained (4 * 2**level)."""
        return 4 * 2**self.level

    @property
    def growth(self) -> dict:
        return {
            "level": self.level,
            "resolution": self.resolution,
            "alpha": self.alpha,
            "images_at_level": int(self.growth_images.numpy()),
            "images_seen": int(self.images_seen.numpy()),
            "done": self.growth_done,
        }

    @property
    def growth_done(self) -> bool:
        return self.level == self.max_level and self.alpha >= 1.0

    def phase_images(self, level: int) -> int:
        """Images trained at ``level`` before the next one starts (fade-in + stable, or stable at 4x4)."""
        return self.stable_images if level == 0 else self.fade_images + self.stable_images

    def schedule(self, level: int, images: int) -> float:
        """Alpha after ``images`` real images at ``level``."""
        return 1.0 if level == 0 else min(1.0, images / self.fade_images)

    def set_growth(self, resolution: int, alpha: float = 1.0) -> None:
        """Jump to ``resolution`` (a power of two from 4 to the image size) at fade-in ``alpha``.

        For a manual schedule, or a sequence of ``fit`` calls: the image counter of the level is set
        to match ``alpha``, so the callback continues the fade from there.
        """
        if resolution not in self.resolutions:
            raise ValueError(f"resolution must be one of {self.resolutions}, got {resolution!r}.")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}.")
        level = self.resolutions.index(resolution)
        self.growth_level.assign(level)
        self.growth_images.assign(0 if level == 0 else int(round(alpha * self.fade_images)))
        self.growth_alpha.assign(1.0 if level == 0 else float(alpha))
        self.apply_growth()

    def advance_growth(self) -> bool:
        """Apply the schedule to the image counter; return True when the resolution changed."""
        level, images = self.level, int(self.growth_images.numpy())
        grew = False
        while level < self.max_level and images >= self.phase_images(level):
            images -= self.phase_images(level)
            level, grew = level + 1, True
        if grew:
            self.growth_level.assign(level)
            self.growth_images.assign(images)
            if self.reset_optimizers and self.g_optimizer is not None:
                self.reset_optimizer_states()
        alpha = self.schedule(level, images)
        if grew or alpha != self.alpha:
            self.growth_alpha.assign(alpha)
            self.apply_growth()
        return grew

    def fade_weights(self) -> dict[int, float]:
        """The fade weight of each block (resolution > 4): 1 grown, alpha fading in, 0 not yet grown."""
        level, alpha = self.level, self.alpha
        return {
            4 * 2**block: 1.0 if block < level else (alpha if block == level else 0.0)
            for block in range(1, self.max_level + 1)
        }

    def apply_growth(self) -> None:
        """Write the fade weights of the current level and alpha into G, the EMA G and D."""
        networks = [n for n in (self.generator, self.ema_generator) if n is not None]
        for res, weight in self.fade_weights().items():
            for network in networks:
                network.get_layer(f"g_fade_{res}").set_alpha(weight)
            self.discriminator.get_layer(f"d_fade_{res}").set_alpha(weight)

    def fade_reals(self, images):
        """Real images as D sees them at the current growth: at the current resolution, cross-faded
        with the previous one by alpha, then upsampled (nearest) back to the full size."""
        pyramid = [images]
        for _ in range(self.max_level):
            pyramid.append(ops.average_pool(pyramid[-1], 2, 2, padding="valid"))
        pyramid.reverse()  # 4x4 first
        out = pyramid[0]
        for block, real in enumerate(pyramid[1:], start=1):
            t = ops.cast(self.generator.get_layer(f"g_fade_{4 * 2**block}").alpha, out.dtype)
            up = ops.repeat(ops.repeat(out, 2, axis=1), 2, axis=2)
            out = up + t * (real - up)
        return out

    def at_resolution(self, resolution: int) -> ProGAN:
        """A fully grown ProGAN of size ``resolution`` holding this model's layers up to it.

        Use it to sample or export any reached resolution natively (e.g. ``ganzoo.export.export(
        model.at_resolution(8), "out")``); at alpha = 1 its images equal this model's output at that
        level downsampled (this model upsamples them with nearest neighbours).
        """
        if resolution not in self.resolutions:
            raise ValueError(f"resolution must be one of {self.resolutions}, got {resolution!r}.")
        config = {**self.get_config(), "image_shape": (resolution, resolution, self.image_shape[-1])}
        small = type(self).from_config(config)
        pairs = [(small.generator, self.generator), (small.discriminator, self.discriminator)]
        if small.ema_generator is not None:
            pairs.append((small.ema_generator, self.ema_generator))
        for target, source in pairs:
            for layer in target.layers:
                if layer.weights and not isinstance(layer, FadeIn):
                    layer.set_weights(source.get_layer(layer.name).get_weights())
        small.set_growth(resolution, 1.0)
        return small

    # ---------------------------------------------------------------- training
    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The paper's Adam(1e-3, beta_1=0, beta_2=0.99)."""
        return keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit``, with a :class:`ProgressiveGrowing` callback added when missing."""
        callbacks = list(callbacks or [])
        if not any(isinstance(c, ProgressiveGrowing) for c in callbacks):
            callbacks.append(ProgressiveGrowing())
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def train_step(self, data):
        seen = 0
        for batch in self.critic_batches(data):  # each D step on its own reals; each counts as images shown
            real, labels = self.unpack_batch(batch)
            real = self.fade_reals(real)
            d_logs = self.progan_discriminator_step(real)
            seen += ops.shape(real)[0]
        g_logs = self.generator_step(ops.shape(real)[0], labels, real)
        seen = ops.cast(seen * distribute.replicas_in_sync(), "int64")
        self.growth_images.assign_add(seen)
        self.images_seen.assign_add(seen)
        return self.record(**g_logs, **d_logs)

    def progan_discriminator_step(self, real):
        """WGAN-GP critic update with the drift term ``drift_weight * E[D(real)^2]``."""
        fake = self.generator(self.sample_latent(ops.shape(real)[0]), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(self.discriminator_view(real), training=True)
            fake_logits = self.discriminator(self.discriminator_view(fake), training=True)
            d_loss = self.adversarial_loss.d(real_logits, fake_logits)
            drift = ops.mean(ops.square(ops.cast(real_logits, "float32")))
            total = d_loss + self.discriminator_penalties(real, fake, None) + self.drift_weight * drift
        d_grad_norm = self.apply_gradients(tape, total, self.discriminator, self.d_optimizer)
        self.adapt_augmentation(real_logits, fake_logits)
        return {
            "d_loss": d_loss,
            "d_grad_norm": d_grad_norm,
            "drift": drift,
            **self.discriminator_stats(real_logits, fake_logits),
        }


class ProgressiveGrowing(keras.callbacks.Callback):
    """Drive a :class:`ProGAN`'s growth during ``fit``: after each batch, apply the schedule to the
    model's image counter (next resolution, new alpha). Adds ``resolution`` and ``alpha`` to the
    epoch logs. Stateless: everything it reads and writes is model state, so a restored model
    (``keras.saving.load_model``, ``BackupAndRestore``) continues where it stopped.
    """

    def __init__(self, verbose: int = 0):
        super().__init__()
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        self.model.advance_growth()
        self.model.apply_growth()

    def on_train_batch_end(self, batch, logs=None):
        if self.model.advance_growth() and self.verbose:
            print(f"\nProGAN: growing to {self.model.resolution}x{self.model.resolution}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["resolution"] = float(self.model.resolution)
            logs["alpha"] = self.model.alpha


def native_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """Full-size ProGAN outputs at a lower level -> their native resolution (top-left pixel of each block)."""
    step = images.shape[1] // resolution
    return images[:, ::step, ::step]
