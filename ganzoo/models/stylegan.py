"""StyleGAN2 (Karras et al. 2020): a style-based generator with weight demodulation.

G = mapping (``mapping_layers`` equalized dense layers, lr x0.01, on pixel-normalized z) ->
truncation (``w_avg + psi (w - w_avg)``, ``w_avg`` tracked during training) -> synthesis: a
learned 4x4 constant, then per resolution two modulated 3x3 convolutions (the first one
upsampling) each followed by a noise input with a learned scale, and a modulated 1x1 toRGB;
``g_architecture="skip"`` sums the upsampled toRGB outputs of every resolution, ``"resnet"``
adds a 1x1 residual path per block and converts to RGB once. The synthesis network takes one
w per layer, ``ws`` of shape (B, num_ws, w_dim), so styles from several latents can be mixed.

D: ``d_architecture="resnet"`` (residual blocks, the StyleGAN2 default) or ``"skip"`` (the image
downsampled into every resolution), minibatch standard deviation and a dense head.

Training (``train_step``): non-saturating logistic loss, style mixing regularization
(``style_mixing_prob``), lazy R1 on real images every ``r1_interval`` D steps, optional lazy
path-length regularization (``pl_weight``) every ``pl_interval`` G steps, ``w_avg`` tracking,
EMA generator and the base class's differentiable/adaptive augmentation (``augment=``).

Inference: ``generate(n, seed, truncation_psi, noise_mode, mix, mix_cutoff)``; ``model(z)`` runs the
EMA generator with psi = 1 and the constant noise maps. Noise is never drawn in a graph:
``serving_graphs`` gives ``ganzoo.export`` the mapping, synthesis and combined networks with noise maps and
``truncation_psi`` as inputs.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganzoo import distribute
from ganzoo.models.base import GAN, LATENT_RECIPE, ServingGraph
from ganzoo.models.dcgan import check_pyramid_shape
from ganzoo.models.layers.common import MinibatchStdDev
from ganzoo.models.layers.style import (
    BiasActivation,
    BroadcastLatent,
    ConstantInput,
    EqualizedConv2D,
    EqualizedDense,
    ModulatedConv2D,
    NoiseInjection,
    PixelNorm,
    SelectLatent,
    Truncation,
)
from ganzoo.objectives import penalties
from ganzoo.registry import register_architecture
from ganzoo.utils.images import to_uint8
from ganzoo.utils.sampling import (
    check_positive_int,
    const_noise_maps,
    latent_vectors,
    mix_styles,
    mixing_latents,
    noise_inputs,
    noise_maps,
)

ARCHITECTURES = ("skip", "resnet")


class GeneratorParts(NamedTuple):
    mapping: keras.Model  # z -> w
    truncation: Truncation  # [w, psi] -> w_avg + psi (w - w_avg)
    synthesis: keras.Model  # {"ws", "noise_i"} -> image


@register_architecture("stylegan")
@keras.saving.register_keras_serializable(package="ganzoo")
class StyleGAN(GAN):
    """StyleGAN2: mapping network, modulated convolutions, noise inputs, skip/residual nets.

    Args:
        image_shape: (size, size, channels), size a power of two >= 8, 1 or 3 channels.
        latent_dim: size of z.
        w_dim: size of w (default: latent_dim).
        mapping_layers: depth of the mapping network (8 in the paper).
        mapping_lr_multiplier: learning-rate multiplier of the mapping network (0.01).
        channel_base, channel_max: channels at resolution r are ``min(channel_base // r, channel_max)``.
        g_architecture: "skip" (paper's G) or "resnet".
        d_architecture: "resnet" (paper's D) or "skip".
        style_mixing_prob: probability that a training batch mixes two latents (0.9).
        r1_gamma: R1 weight (gamma; the penalty is gamma / 2 * E||grad D(x)||^2).
        r1_interval: lazy R1: computed every this many D steps and scaled by it (16).
        pl_weight: path-length regularization weight (0 = off; 2 in the paper).
        pl_interval: lazy path-length regularization interval (4).
        pl_decay: decay of the running mean path length (0.01).
        pl_batch_shrink: the path-length batch is the batch divided by this (2).
        w_avg_decay: decay of the tracked average latent ``w_avg`` (0.995).
        ema_decay: EMA of the generator used for inference (0.999).
        ema_rampup: the EMA's ramp-up (0.05, StyleGAN2-ADA's default for small data; None = off).
        mbstd_group_size: minibatch-stddev group size (4, the released code's; None: the whole batch).
        lazy_regularization: "separate" (the official code): R1 every ``r1_interval`` steps and the
            path-length term every ``pl_interval`` steps run as their own optimizer steps, and the
            default Adam settings get the k/(k+1) correction (D at k = 16: lr 0.00188, beta_2
            0.9906); settings you pass to ``compile`` are used as given (``adam_settings`` computes
            the corrected ones). "merged": the terms are added to the main step's loss on those
            steps, with no correction (what ganzoo did before, and what a multi-replica strategy
            falls back to: an optimizer step in a conditional cannot synchronise replicas).
        augment: "diffaugment" or "ada" (``ganzoo.augment``) for small data sets.

    ``compile()`` defaults to the non-saturating logistic loss and the paper's
    Adam(2e-3, beta_1=0, beta_2=0.99) for both networks.
    """

    supports_relativistic = False  # its own G step
    legacy_defaults = {  # as trained before these options existed
        **GAN.legacy_defaults,
        "mbstd_group_size": None,
        "ema_rampup": None,
        "lazy_regularization": "merged",
    }

    def __init__(
        self,
        image_shape=(32, 32, 3),
        latent_dim: int = 128,
        w_dim: int | None = None,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        channel_base: int = 2048,
        channel_max: int = 128,
        g_architecture: str = "skip",
        d_architecture: str = "resnet",
        style_mixing_prob: float = 0.9,
        r1_gamma: float = 1.0,
        r1_interval: int = 16,
        pl_weight: float = 0.0,
        pl_interval: int = 4,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        w_avg_decay: float = 0.995,
        ema_decay: float | None = 0.999,
        ema_rampup: float | None = 0.05,
        mbstd_group_size: int | None = 4,
        lazy_regularization: str = "separate",
        **kwargs,
    ):
        if lazy_regularization not in ("separate", "merged"):
            raise ValueError(f"lazy_regularization must be 'separate' or 'merged', got {lazy_regularization!r}.")
        self.lazy_regularization = lazy_regularization
        self.image_shape = check_pyramid_shape(image_shape, kwargs.get("num_classes"), "StyleGAN")
        for name, value in (
            ("mapping_layers", mapping_layers),
            ("channel_base", channel_base),
            ("channel_max", channel_max),
            ("r1_interval", r1_interval),
            ("pl_interval", pl_interval),
            ("pl_batch_shrink", pl_batch_shrink),
        ):
            check_positive_int(name, value)
        for name, value in (("g_architecture", g_architecture), ("d_architecture", d_architecture)):
            if value not in ARCHITECTURES:
                raise ValueError(f"{name} must be one of {ARCHITECTURES}, got {value!r}.")
        if not 0.0 <= style_mixing_prob <= 1.0:
            raise ValueError(f"style_mixing_prob must be in [0, 1], got {style_mixing_prob!r}.")
        if not 0.0 <= w_avg_decay < 1.0:
            raise ValueError(f"w_avg_decay must be in [0, 1), got {w_avg_decay!r}.")
        self.w_dim = int(w_dim) if w_dim is not None else None
        self.mapping_layers = int(mapping_layers)
        self.mapping_lr_multiplier = float(mapping_lr_multiplier)
        self.channel_base = int(channel_base)
        self.channel_max = int(channel_max)
        self.g_architecture = g_architecture
        self.d_architecture = d_architecture
        self.style_mixing_prob = float(style_mixing_prob)
        self.r1_interval = int(r1_interval)
        self.pl_weight = float(pl_weight)
        self.pl_interval = int(pl_interval)
        self.pl_decay = float(pl_decay)
        self.pl_batch_shrink = int(pl_batch_shrink)
        self.w_avg_decay = float(w_avg_decay)
        self.mbstd_group_size = mbstd_group_size
        super().__init__(latent_dim=latent_dim, ema_decay=ema_decay, ema_rampup=ema_rampup, r1_gamma=r1_gamma, **kwargs)
        # Running mean of the path lengths (saved with the model, as the paper's pl_mean buffer).
        self.pl_mean = self.add_weight(name="pl_mean", shape=(), initializer="zeros", trainable=False)
        # Training steps so far: the phase of the lazy regularization (the official batch_idx).
        self.lazy_steps = self.add_named_state("lazy_steps", keras.Variable(0, dtype="int64", trainable=False), 0)
        self._const_noise = const_noise_maps(self.noise_resolutions)
        for name, on in (("r1_penalty", self.r1_gamma), ("pl_penalty", self.pl_weight)):
            if on:
                self._trackers[name] = keras.metrics.Mean(name=name)

    # ------------------------------------------------------------------ shapes
    @property
    def style_dim(self) -> int:
        """The size of w (``w_dim``, or ``latent_dim`` when ``w_dim`` is None)."""
        return self.w_dim if self.w_dim is not None else self.latent_dim

    @property
    def resolutions(self) -> list[int]:
        """Synthesis block resolutions: 4, 8, ..., size."""
        return [2**i for i in range(2, int(math.log2(self.image_shape[0])) + 1)]

    @property
    def num_ws(self) -> int:
        """Number of style inputs of the synthesis network: 2 per block (the toRGB shares the next conv's)."""
        return 2 * len(self.resolutions)

    @property
    def noise_resolutions(self) -> list[int]:
        """Resolution of each noise input, in order: one for the 4x4 conv, two per larger block."""
        return [4] + [r for r in self.resolutions[1:] for _ in range(2)]

    @property
    def noise_names(self) -> list[str]:
        return [f"noise_{i}" for i in range(len(self.noise_resolutions))]

    def channels(self, resolution: int) -> int:
        return min(self.channel_base // resolution, self.channel_max)

    # ---------------------------------------------------------------- networks
    def build_mapping(self) -> keras.Model:
        """z -> w: pixel norm, then ``mapping_layers`` equalized dense layers (lrelu, lr x0.01)."""
        z = keras.Input((self.latent_dim,), name="z")
        x = PixelNorm(name="normalize_z")(z)
        for i in range(self.mapping_layers):
            x = EqualizedDense(
                self.style_dim, activation="lrelu", lr_multiplier=self.mapping_lr_multiplier, name=f"fc{i}"
            )(x)
        return keras.Model(z, x, name="mapping")

    def build_synthesis(self) -> keras.Model:
        """{"ws": (B, num_ws, w_dim), "noise_i": (B, r, r, 1)} -> image (B, size, size, C), linear output."""
        ws = keras.Input((self.num_ws, self.style_dim), name="ws")
        noises = [keras.Input((r, r, 1), name=name) for r, name in zip(self.noise_resolutions, self.noise_names)]
        channels = self.image_shape[-1]

        selected: dict[int, Any] = {}

        def style(index):  # the toRGB layer shares its w with the next block's first conv
            if index not in selected:
                selected[index] = SelectLatent(index, name=f"w{index}")(ws)
            return selected[index]

        def style_conv(x, w_index, noise_index, filters, upsample, name):
            x = ModulatedConv2D(filters, 3, upsample=upsample, name=f"{name}_modconv")([x, style(w_index)])
            x = NoiseInjection(name=f"{name}_noise")([x, noises[noise_index]])
            return BiasActivation("lrelu", name=name)(x)

        def to_rgb(x, w_index, res):
            y = ModulatedConv2D(channels, 1, demodulate=False, name=f"to_rgb_{res}_modconv")([x, style(w_index)])
            return BiasActivation("linear", name=f"to_rgb_{res}")(y)

        x = ConstantInput(self.channels(4), name="const")(ws)
        x = style_conv(x, 0, 0, self.channels(4), False, "b4_conv")
        image = to_rgb(x, 1, 4) if self.g_architecture == "skip" else None
        w_index, noise_index = 1, 1
        for res in self.resolutions[1:]:
            filters = self.channels(res)
            skip = None
            if self.g_architecture == "resnet":
                skip = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"b{res}_skip_up")(x)
                skip = EqualizedConv2D(filters, 1, use_bias=False, name=f"b{res}_skip")(skip)
            x = style_conv(x, w_index, noise_index, filters, True, f"b{res}_conv0")
            x = style_conv(x, w_index + 1, noise_index + 1, filters, False, f"b{res}_conv1")
            if skip is not None:
                x = keras.layers.Rescaling(math.sqrt(0.5), name=f"b{res}_out")(keras.layers.Add()([skip, x]))
            if self.g_architecture == "skip":
                upsampled = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"image_{res}_up")(image)
                image = keras.layers.Add(name=f"image_{res}")([upsampled, to_rgb(x, w_index + 2, res)])
            w_index, noise_index = w_index + 2, noise_index + 2
        if self.g_architecture == "resnet":
            image = to_rgb(x, w_index, self.image_shape[0])
        image = keras.layers.Activation("linear", dtype="float32", name="image")(image)
        inputs = {"ws": ws, **dict(zip(self.noise_names, noises))}
        return keras.Model(inputs, image, name="synthesis")

    def build_generator(self) -> keras.Model:
        """{"z", "truncation_psi" (B, 1), "noise_i"} -> image: mapping -> truncation -> synthesis."""
        mapping, synthesis = self.build_mapping(), self.build_synthesis()
        z = keras.Input((self.latent_dim,), name="z")
        psi = keras.Input((1,), name="truncation_psi")
        noises = {name: keras.Input((r, r, 1), name=name) for r, name in zip(self.noise_resolutions, self.noise_names)}
        w = Truncation(name="truncation")([mapping(z), psi])
        ws = BroadcastLatent(self.num_ws, name="broadcast")(w)
        image = synthesis({"ws": ws, **noises})
        return keras.Model({"z": z, "truncation_psi": psi, **noises}, image, name="generator")

    def build_discriminator(self) -> keras.Model:
        image = keras.Input(self.image_shape, name="image")
        x, img = None, image
        for res in reversed(self.resolutions[1:]):
            if x is None or self.d_architecture == "skip":
                y = EqualizedConv2D(self.channels(res), 1, activation="lrelu", name=f"from_rgb_{res}")(img)
                x = y if x is None else keras.layers.Add(name=f"d{res}_in")([x, y])
                if self.d_architecture == "skip":
                    img = keras.layers.AveragePooling2D(2, name=f"image_{res // 2}")(img)
            main = EqualizedConv2D(self.channels(res), 3, activation="lrelu", name=f"d{res}_conv0")(x)
            main = EqualizedConv2D(self.channels(res // 2), 3, activation="lrelu", name=f"d{res}_conv1")(main)
            main = keras.layers.AveragePooling2D(2, name=f"d{res}_down")(main)
            if self.d_architecture == "resnet":
                skip = keras.layers.AveragePooling2D(2, name=f"d{res}_skip_down")(x)
                skip = EqualizedConv2D(self.channels(res // 2), 1, use_bias=False, name=f"d{res}_skip")(skip)
                x = keras.layers.Rescaling(math.sqrt(0.5), name=f"d{res}_out")(keras.layers.Add()([skip, main]))
            else:
                x = main
        if self.d_architecture == "skip":
            x = keras.layers.Add(name="d4_in")(
                [x, EqualizedConv2D(self.channels(4), 1, activation="lrelu", name="from_rgb_4")(img)]
            )
        x = MinibatchStdDev(self.mbstd_group_size, name="minibatch_std")(x)
        x = EqualizedConv2D(self.channels(4), 3, activation="lrelu", name="d4_conv")(x)
        x = keras.layers.Flatten()(x)
        x = EqualizedDense(self.channels(4), activation="lrelu", name="d4_fc")(x)
        logit = EqualizedDense(1, name="logit", dtype="float32")(x)
        return keras.Model(image, logit, name="discriminator")

    def parts(self, ema: bool = True) -> GeneratorParts:
        """The mapping network, truncation layer and synthesis network of the (EMA) generator."""
        generator = self.inference_generator if ema else self.generator
        return GeneratorParts(
            generator.get_layer("mapping"), generator.get_layer("truncation"), generator.get_layer("synthesis")
        )

    @property
    def w_avg(self) -> np.ndarray:
        """The tracked average latent (the EMA generator's copy, which inference uses)."""
        return self.parts().truncation.w_avg.numpy()

    # ---------------------------------------------------------------- training
    def default_optimizer(self) -> keras.optimizers.Optimizer:
        """The paper's Adam(2e-3, beta_1=0, beta_2=0.99, epsilon=1e-8)."""
        return keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8)

    def _sample_noise(self, batch_size) -> dict[str, tf.Tensor]:
        return {
            name: self.sample_normal((batch_size, r, r, 1)) for name, r in zip(self.noise_names, self.noise_resolutions)
        }

    def _mapped_styles(self, mapping, batch_size, mixing_prob: float):
        """Training ws (B, num_ws, w_dim) with style mixing: after a random cutoff, layers take a second latent."""
        w = mapping(self.sample_latent(batch_size), training=True)
        ws = ops.repeat(ops.expand_dims(w, 1), self.num_ws, axis=1)
        if mixing_prob > 0:
            w2 = mapping(self.sample_latent(batch_size), training=True)
            draw = self.sample_uniform((2,))
            cutoff = ops.cast(ops.floor(draw[0] * (self.num_ws - 1)), "int32") + 1  # in [1, num_ws)
            cutoff = ops.where(draw[1] < mixing_prob, cutoff, self.num_ws)
            mask = ops.reshape(ops.arange(self.num_ws) < cutoff, (1, self.num_ws, 1))
            ws = ops.where(mask, ws, ops.expand_dims(w2, 1))
        return w, ws

    def train_step(self, data):
        for batch in self.critic_batches(data):  # each D step on its own reals
            real, _ = self.unpack_batch(batch)
            d_logs = self.stylegan_discriminator_step(real)
        g_logs = self.stylegan_generator_step(ops.shape(real)[0])
        self.update_ema()
        self.lazy_steps.assign_add(1)
        return self.record(**g_logs, **d_logs)

    @property
    def separate_regularization(self) -> bool:
        """Whether the lazy terms run as their own optimizer steps (the official code) in this context.

        An optimizer step inside a conditional cannot synchronise replicas, so under a multi-replica
        strategy the terms are merged into the main step instead (see ``lazy_regularization``).
        """
        return self.lazy_regularization == "separate" and distribute.replicas_in_sync() == 1

    def regularization_interval(self, network: keras.Model) -> int | None:
        """The lazy interval k of ``network``'s separate regularization steps, None without them."""
        if self.lazy_regularization != "separate":
            return None
        if network is self.discriminator and self.r1_gamma:
            return self.r1_interval
        if network is self.generator and self.pl_weight:
            return self.pl_interval
        return None

    def adam_settings(self, network, learning_rate: float, beta_1: float, beta_2: float) -> tuple[float, float, float]:
        """The official lazy-regularization correction: ``lr * c`` and ``beta ** c`` with ``c = k / (k + 1)``.

        With a separate regularization step every k steps the optimizer takes k + 1 steps per k
        minibatches; StyleGAN2's code scales its Adam settings so that it moves as far as without.
        """
        interval = self.regularization_interval(network)
        if interval is None:
            return learning_rate, beta_1, beta_2
        ratio = interval / (interval + 1)
        return learning_rate * ratio, beta_1**ratio, beta_2**ratio

    def _lazy_step(self, due, term_fn, weight: float, network, optimizer):
        """Where ``due``, one separate optimizer step of ``network`` on ``weight * term_fn()``; returns the term."""

        def step():
            with tf.GradientTape() as tape:
                term = term_fn()
                weighted = weight * term
            self.apply_gradients(tape, weighted, network, optimizer)
            return term

        return tf.cond(due, step, lambda: ops.zeros(()))

    def stylegan_discriminator_step(self, real) -> dict[str, tf.Tensor]:
        mapping, _, synthesis = self.parts(ema=False)
        batch_size = ops.shape(real)[0]
        _, ws = self._mapped_styles(mapping, batch_size, self.style_mixing_prob)
        fake = synthesis({"ws": ws, **self._sample_noise(batch_size)}, training=True)
        lazy_r1 = ops.equal(self.lazy_steps % self.r1_interval, 0)
        # R1 with respect to the clean reals, the augmentation inside D (as ADA's code), times gamma / 2 * k.
        critic = lambda x: self.discriminator(self.discriminator_view(x), training=True)  # noqa: E731
        r1_term = lambda: penalties.r1_penalty(critic, real)  # noqa: E731
        weight = 0.5 * self.r1_gamma * self.r1_interval
        merged = self.r1_gamma and not self.separate_regularization
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(self.discriminator_view(real), training=True)
            fake_logits = self.discriminator(self.discriminator_view(fake), training=True)
            d_loss = self.adversarial_loss.d(real_logits, fake_logits)
            r1 = tf.cond(lazy_r1, r1_term, lambda: ops.zeros(())) if merged else ops.zeros(())
            total = d_loss + weight * r1
        d_grad_norm = self.apply_gradients(tape, total, self.discriminator, self.d_optimizer)
        if self.r1_gamma and not merged:  # the official Dreg phase: its own step, every r1_interval steps
            r1 = self._lazy_step(lazy_r1, r1_term, weight, self.discriminator, self.d_optimizer)
        self.adapt_augmentation(real_logits, fake_logits)
        logs = {"d_loss": d_loss, "d_grad_norm": d_grad_norm, **self.discriminator_stats(real_logits, fake_logits)}
        if self.r1_gamma:  # averaged over the steps that computed it (weight 0 on the others)
            logs["r1_penalty"] = (r1, ops.cast(lazy_r1, "float32"))
        return logs

    def stylegan_generator_step(self, batch_size) -> dict[str, tf.Tensor]:
        mapping, truncation, synthesis = self.parts(ema=False)
        lazy_pl = ops.equal(self.lazy_steps % self.pl_interval, 0)
        pl_term = lambda: self.path_length_penalty(mapping, synthesis, batch_size)  # noqa: E731
        weight = self.pl_weight * self.pl_interval
        merged = self.pl_weight and not self.separate_regularization
        with tf.GradientTape() as tape:
            w, ws = self._mapped_styles(mapping, batch_size, self.style_mixing_prob)
            fake = synthesis({"ws": ws, **self._sample_noise(batch_size)}, training=True)
            g_loss = self.adversarial_loss.g(self.discriminator(self.discriminator_view(fake), training=True))
            pl = tf.cond(lazy_pl, pl_term, lambda: ops.zeros(())) if merged else ops.zeros(())
            total = g_loss + weight * pl
        g_grad_norm = self.apply_gradients(tape, total, self.generator, self.g_optimizer)
        if self.pl_weight and not merged:  # the official Greg phase
            pl = self._lazy_step(lazy_pl, pl_term, weight, self.generator, self.g_optimizer)
        truncation.track(ops.stop_gradient(w), self.w_avg_decay)
        logs = {"g_loss": g_loss, "g_grad_norm": g_grad_norm}
        if self.pl_weight:
            logs["pl_penalty"] = (pl, ops.cast(lazy_pl, "float32"))
            logs["pl_mean"] = ops.convert_to_tensor(self.pl_mean)
        return logs

    def path_length_penalty(self, mapping, synthesis, batch_size):
        """``(||J_w^T y|| - a)^2`` with y ~ N(0, I / (H W)) and ``a`` the running mean length (updated here)."""
        n = ops.maximum(batch_size // self.pl_batch_shrink, 1)
        _, ws = self._mapped_styles(mapping, n, self.style_mixing_prob)
        with tf.GradientTape() as tape:
            tape.watch(ws)
            fake = synthesis({"ws": ws, **self._sample_noise(n)}, training=True)
            size = self.image_shape[0]
            y = self.sample_normal(ops.shape(fake)) / float(size)
            out = ops.sum(ops.cast(fake, "float32") * y)
        grads = ops.cast(tape.gradient(out, ws), "float32")
        lengths = ops.sqrt(ops.mean(ops.sum(ops.square(grads), axis=2), axis=1) + 1e-8)
        pl_mean = self.pl_mean + self.pl_decay * (ops.mean(lengths) - self.pl_mean)
        self.pl_mean.assign(ops.stop_gradient(pl_mean))
        return ops.mean(ops.square(lengths - ops.stop_gradient(pl_mean)))

    def test_step(self, data):
        real, _ = self.unpack_batch(data)
        fake = self.generator(
            self._generator_feed(self.sample_latent(ops.shape(real)[0]), 1.0, self._sample_noise(ops.shape(real)[0])),
            training=False,
        )
        real_logits = self.discriminator(real, training=False)
        fake_logits = self.discriminator(fake, training=False)
        return self.record(
            d_loss=self.adversarial_loss.d(real_logits, fake_logits),
            g_loss=self.adversarial_loss.g(fake_logits),
            **self.discriminator_stats(real_logits, fake_logits),
        )

    # --------------------------------------------------------------- inference
    def const_noise(self, batch_size) -> dict[str, tf.Tensor]:
        """The fixed noise maps (noise_mode="const"), repeated over the batch."""
        return {
            name: ops.broadcast_to(ops.convert_to_tensor(m), (batch_size, r, r, 1))
            for name, r, m in zip(self.noise_names, self.noise_resolutions, self._const_noise)
        }

    def _generator_feed(self, z, truncation_psi, noise) -> dict[str, Any]:
        batch = ops.shape(z)[0]
        psi = ops.ones((batch, 1), dtype="float32") * ops.cast(truncation_psi, "float32")
        return {"z": z, "truncation_psi": psi, **noise}

    def call(self, inputs, training: bool = False):
        """The EMA generator: ``z``, or a dict with ``z`` and optionally ``truncation_psi`` and ``noise_i``.

        Missing inputs default to psi = 1 (no truncation) and the constant noise maps.
        """
        if isinstance(inputs, dict):
            z = inputs["z"]
            psi = inputs.get("truncation_psi", 1.0)
            noise = {name: inputs[name] for name in self.noise_names if name in inputs}
        else:
            z, psi, noise = inputs, 1.0, {}
        batch = ops.shape(z)[0]
        psi = ops.reshape(ops.cast(ops.convert_to_tensor(psi), "float32"), (-1, 1))
        noise = {**self.const_noise(batch), **noise}
        return self.inference_generator(self._generator_feed(z, psi, noise), training=training)

    # ------------------------------------------------------------------ export
    export_kind = "style"

    def serving_graphs(self) -> dict[str, ServingGraph]:
        """``generator`` (z, truncation_psi, noise_i -> image), ``mapping`` (z, truncation_psi -> w) and
        ``synthesis`` (ws, noise_i -> image), all on the EMA networks with a dynamic batch.

        No graph draws random numbers: the noise maps are inputs (``ganzoo.utils.sampling.noise_inputs``
        draws them the same way here and in the runtime), ``truncation_psi`` is a scalar input.
        """
        mapping, truncation, synthesis = self.parts()
        generator = self.inference_generator
        z = tf.TensorSpec((None, self.latent_dim), tf.float32, name="z")
        psi = tf.TensorSpec((), tf.float32, name="truncation_psi")
        ws = tf.TensorSpec((None, self.num_ws, self.style_dim), tf.float32, name="ws")
        noise = [
            tf.TensorSpec((None, r, r, 1), tf.float32, name=name)
            for name, r in zip(self.noise_names, self.noise_resolutions)
        ]
        names, num_ws = self.noise_names, self.num_ws
        describe = {
            "z": {"distribution": "standard normal N(0, 1), independent entries", "recipe": LATENT_RECIPE},
            "truncation_psi": {"description": "scalar; 1 = no truncation, 0 = the average image (w_avg)"},
            "ws": {"description": f"styles, one per layer: (batch, {num_ws}, {self.style_dim})"},
            **{
                name: {"distribution": "standard normal N(0, 1) per pixel, or the constant maps (noise_mode)"}
                for name in names
            },
        }

        def map_fn(z, truncation_psi):
            psi_column = tf.ones((tf.shape(z)[0], 1)) * truncation_psi
            return truncation([mapping(z, training=False), psi_column])

        def synthesis_fn(ws, *noise_maps):
            return synthesis({"ws": ws, **dict(zip(names, noise_maps))}, training=False)

        def generator_fn(z, truncation_psi, *noise_maps):
            return synthesis_fn(tf.repeat(map_fn(z, truncation_psi)[:, None], num_ws, axis=1), *noise_maps)

        return {
            "generator": ServingGraph([z, psi, *noise], generator_fn, "image", generator, describe),
            "mapping": ServingGraph([z, psi], map_fn, "w", generator, describe),
            "synthesis": ServingGraph([ws, *noise], synthesis_fn, "image", generator, describe),
        }

    def serving_metadata(self) -> dict[str, Any]:
        return {
            **super().serving_metadata(),
            "w_dim": self.style_dim,
            "num_ws": self.num_ws,
            "noise_inputs": {n: [None, r, r, 1] for n, r in zip(self.noise_names, self.noise_resolutions)},
            "noise_recipe": "random: numpy.random.default_rng([seed, 1]).standard_normal((n, r, r, 1), float32) per "
            "noise input in order; const: default_rng(0x5EED) (1, r, r, 1) per input",
        }

    def export_examples(self, graph: str, seed: int = 0) -> list[dict[str, np.ndarray]]:
        """Batch 1 and 3: seeded z, seeded random noise maps, truncation 0.7."""
        examples = []
        for batch in (1, 3):
            z = latent_vectors(batch, self.latent_dim, seed + batch)
            noise = dict(zip(self.noise_names, noise_maps(batch, self.noise_resolutions, seed + batch)))
            psi = np.array(0.7, np.float32)
            feeds = {
                "generator": {"z": z, "truncation_psi": psi, **noise},
                "mapping": {"z": z, "truncation_psi": psi},
                "synthesis": {"ws": self.mapping_ws(z, 0.7), **noise},
            }
            examples.append(feeds[graph])
        return examples

    def keras_input_signature(self) -> list:
        """``model(z)``: constant noise maps and no truncation (``ganzoo.export`` exposes both as inputs)."""
        return [tf.TensorSpec((None, self.latent_dim), tf.float32, name="z")]

    def noise_inputs(self, n: int, noise_mode: str = "const", seed: int | None = None) -> dict[str, np.ndarray]:
        """Noise maps for ``n`` samples: "const" (fixed maps), "random" (seeded) or "none" (zeros)."""
        if noise_mode == "random" and seed is None:
            seed = int(keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator))
        return noise_inputs(n, noise_mode, self.noise_names, self.noise_resolutions, seed)

    def latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` z vectors: ``latent_vectors(n, latent_dim, seed)``, or from the model's seed generator."""
        if seed is not None:
            return latent_vectors(n, self.latent_dim, seed)
        return keras.ops.convert_to_numpy(keras.random.normal((n, self.latent_dim), seed=self.seed_generator))

    def mapping_ws(self, z, truncation_psi: float = 1.0, batch_size: int = 256) -> np.ndarray:
        """z (n, latent_dim) -> truncated ws (n, num_ws, w_dim) with the EMA mapping network."""
        mapping, truncation, _ = self.parts()
        z = np.asarray(z, np.float32)
        out = []
        for start in range(0, len(z), batch_size):
            w = mapping(z[start : start + batch_size], training=False)
            psi = np.full((len(w), 1), truncation_psi, np.float32)
            out.append(ops.convert_to_numpy(truncation([w, psi])))
        w = np.concatenate(out) if out else np.zeros((0, self.style_dim), np.float32)
        return np.repeat(w[:, None], self.num_ws, axis=1)

    def synthesize(
        self,
        ws,
        noise: dict[str, np.ndarray] | str = "const",
        batch_size: int = 256,
        raw: bool = True,
        seed: int | None = None,
    ) -> np.ndarray:
        """ws (n, num_ws, w_dim) -> images with the EMA synthesis network (float32 [-1, 1]-ish, or uint8)."""
        ws = np.asarray(ws, np.float32)
        if ws.ndim == 2:
            ws = np.repeat(ws[:, None], self.num_ws, axis=1)
        if isinstance(noise, str):
            noise = self.noise_inputs(len(ws), noise, seed)
        synthesis = self.parts().synthesis
        outputs = []
        for start in range(0, len(ws), batch_size):
            feed = {
                "ws": ws[start : start + batch_size],
                **{k: v[start : start + batch_size] for k, v in noise.items()},
            }
            outputs.append(np.asarray(ops.convert_to_numpy(synthesis(feed, training=False)), np.float32))
        images = np.concatenate(outputs)
        return images if raw else to_uint8(images)

    def mix_styles(self, ws_coarse, ws_fine, cutoff: int | None = None) -> np.ndarray:
        """Layers ``< cutoff`` from ``ws_coarse`` and the rest from ``ws_fine`` (default cutoff: num_ws // 2)."""
        return mix_styles(ws_coarse, ws_fine, cutoff)

    def generate(
        self,
        n: int,
        seed: int | None = None,
        labels=None,
        batch_size: int = 256,
        raw: bool = False,
        truncation_psi: float = 1.0,
        noise_mode: str = "const",
        mix=None,
        mix_cutoff: int | None = None,
    ) -> np.ndarray:
        """Sample ``n`` images (uint8, or float32 with ``raw=True``) from the EMA generator.

        Args:
            seed: fixes z (``latent_vectors(n, latent_dim, seed)``) and, with noise_mode="random",
                the noise maps (:func:`noise_maps`).
            truncation_psi: 1 = no truncation, 0 = the average image, 0.5-0.7 = typical trade-off.
            noise_mode: "const" (fixed maps, as ``model(z)``), "random" or "none".
            mix: style mixing: a seed or an (n, latent_dim) array of second latents whose styles
                replace layers ``>= mix_cutoff`` (default num_ws // 2): coarse styles from
                ``seed``, fine styles from ``mix``.
        """
        check_positive_int("n", n)
        self.check_labels(labels, n)
        ws = self.mapping_ws(self.latents(n, seed), truncation_psi, batch_size)
        if mix is not None:
            z2 = mixing_latents(mix, n, self.latent_dim)
            ws = self.mix_styles(ws, self.mapping_ws(z2, truncation_psi, batch_size), mix_cutoff)
        elif mix_cutoff is not None:
            raise ValueError("mix_cutoff needs mix= (the second latents).")
        noise = self.noise_inputs(n, noise_mode, seed if noise_mode == "random" else None)
        return self.synthesize(ws, noise, batch_size, raw=raw)
