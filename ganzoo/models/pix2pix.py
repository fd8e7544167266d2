"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional GAN.

G: U-Net (``ganzoo.nets_image.unet_generator``) with skip connections; dropout 0.5 in the first
decoder blocks is its only noise (active while training; inference is deterministic, unlike the
paper, which also kept dropout at test time, so that exports are deterministic).
D: PatchGAN conditioned on the source image (``[target or G(source), source]`` concatenated),
a 70 x 70 receptive field (``d_layers=3``, the official code's ``n_layers_D``) at every image size:
the paper reports tiling artefacts with a 16 x 16 PatchGAN. ``d_layers=None`` scales the field
with the image size instead (``patchgan_layers_for``: 16 px at 32-64 px, what ganzoo did before).

Objective: ``G* = arg min_G max_D L_cGAN(G, D) + l1_weight * E|y - G(x)|`` with
``l1_weight = 100``; D's loss is halved (the paper's "divide the objective by 2 while optimizing
D"). The adversarial loss is compile's ``loss`` (default ``non_saturating``, the paper's
cross-entropy). Data: ``(source, target)`` batches, e.g. ``ganzoo.image_tasks.load_pairs``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from ganzoo.models.image_to_image import ImageToImageGAN
from ganzoo.models.nets.image import (
    check_square_shape,
    check_upsampling,
    patchgan_discriminator,
    patchgan_layers_for,
    unet_depth,
    unet_generator,
)
from ganzoo.registry import register_architecture


@register_architecture("pix2pix")
@keras.saving.register_keras_serializable(package="ganzoo")
class Pix2Pix(ImageToImageGAN):
    """Paired translation ``source -> target``; ``model.translate(images)`` after training.

    Args:
        image_shape: (size, size, channels) of the target images and training crops; size a power of 2.
        source_channels: channels of the source images (1 for grayscale -> colour).
        base_filters: G's first encoder width (64 in the paper), doubling per block up to 8x.
        depth: U-Net downsamplings; None = log2(size), down to a 1x1 bottleneck as the paper.
        d_base_filters: D's first layer width (64 in the paper).
        d_layers: PatchGAN stride-2 layers (3 = the paper's 70 px field); None scales it with the image size.
        norm: "batch" (paper) or "instance" in G and D.
        dropout: dropout rate of the first 3 decoder blocks (0.5; 0 disables).
        l1_weight: weight of the L1 reconstruction term (100).
        upsampling: "transpose" (the paper's transposed convolutions) or "resize" (nearest x2 and a
            convolution: no checkerboard artefacts, Odena et al. 2016).
        chroma: grayscale -> RGB only: G outputs two BT.601 chroma channels and the source is kept
            as the luma, as the paper's colourization experiments predict Lab's ab from L (the official
            code's colorization mode); False (default) predicts the target's channels directly.
        chroma_scale: with ``chroma``, G predicts the chroma at 1/chroma_scale of the size and upsamples
            it bilinearly (1: full size, as the paper). Colourization networks predict colour coarser than
            luma (Zhang et al. 2016 at 1/4, Iizuka et al. 2016 at 1/2): colour needs less detail than
            luma, and full-size chroma learned from few images carries fine noise (pix2pix-colorize: a
            Gaussian blur of its full-size chroma raised held-out SSIM from 0.827 to 0.838).

    Defaults (Isola et al. 2017, section 3.3, and the official code): ``compile()`` uses the
    cross-entropy (non-saturating) loss and Adam(2e-4, beta_1=0.5) for both networks, D's loss
    halved; batch norm, dropout 0.5, a 70 x 70 PatchGAN. Kernels keep Keras' Glorot initializer
    (the official code draws N(0, 0.02)).
    """

    def __init__(
        self,
        image_shape=(64, 64, 3),
        source_channels: int = 3,
        base_filters: int = 64,
        depth: int | None = None,
        d_base_filters: int = 64,
        d_layers: int | None = 3,
        norm: str = "batch",
        dropout: float = 0.5,
        l1_weight: float = 100.0,
        upsampling: str = "transpose",
        chroma: bool = False,
        chroma_scale: int = 1,
        **kwargs,
    ):
        self.image_shape = check_square_shape(image_shape)
        self.upsampling = check_upsampling(upsampling)
        if source_channels not in (1, 3):
            raise ValueError(f"source_channels must be 1 or 3, got {source_channels!r}.")
        if chroma and (source_channels, self.image_shape[2]) != (1, 3):
            raise ValueError(
                "chroma=True colourizes: it needs source_channels=1 and RGB targets (image_shape[-1] == 3), "
                f"got source_channels={source_channels} and {self.image_shape[2]} target channels."
            )
        self.chroma = bool(chroma)
        self.chroma_scale = int(chroma_scale)
        self.source_channels = int(source_channels)
        self.base_filters = int(base_filters)
        max_depth = unet_depth(self.image_shape[0])
        if depth is not None and not 1 <= depth <= max_depth:
            raise ValueError(f"depth must be in [1, {max_depth}] for {self.image_shape[0]} px images, got {depth}.")
        self.depth = depth
        self.d_base_filters = int(d_base_filters)
        self.d_layers = d_layers
        self.norm = norm
        self.dropout = float(dropout)
        self.l1_weight = float(l1_weight)
        if kwargs.get("augment") is not None:
            raise ValueError(
                "pix2pix does not support augment: D's input pair would need the same transform on both sides."
            )
        super().__init__(**kwargs)

    @property
    def unet_depth(self) -> int:
        return self.depth or unet_depth(self.image_shape[0])

    @property
    def size_multiple(self) -> int:
        return 2**self.unet_depth

    def build_generator(self) -> keras.Model:
        return unet_generator(
            self.source_channels,
            self.image_shape[2],
            self.unet_depth,
            self.base_filters,
            self.norm,
            self.dropout,
            upsampling=self.upsampling,
            chroma=self.chroma,
            chroma_scale=self.chroma_scale,
        )

    def build_discriminator(self) -> keras.Model:
        n_layers = self.d_layers or patchgan_layers_for(self.image_shape[0])
        return patchgan_discriminator(self.image_shape, self.source_channels, self.d_base_filters, n_layers, self.norm)

    # D is conditioned on the source: base.discriminate(images, labels) calls D([images, labels]),
    # so the source travels in the "labels" slot and the base's penalties condition on it too.
    def train_step(self, data):
        batches = self.critic_batches(data)
        for batch in batches[:-1]:  # with d_steps > 1, the first critic steps on their own pairs
            source, target = self.unpack_batch(batch)
            fake = self.generator(source, training=True)
            d_logs = self.image_discriminator_step(target, ops.stop_gradient(fake), condition=source, scale=0.5)
        source, target = self.unpack_batch(batches[-1])
        with tf.GradientTape() as g_tape:
            fake = self.generator(source, training=True)
        d_logs = self.image_discriminator_step(target, ops.stop_gradient(fake), condition=source, scale=0.5)
        with g_tape:  # resume: D(G(x)) with the updated D, differentiated into G
            fake_logits = self.discriminate(self.discriminator_view(fake), source)
            g_adversarial = self.adversarial_loss.g(fake_logits)
            l1 = ops.mean(ops.abs(ops.cast(target, "float32") - ops.cast(fake, "float32")))
            g_loss = g_adversarial + self.l1_weight * l1
        g_grad_norm = self.apply_gradients(g_tape, g_loss, self.generator, self.g_optimizer)
        self.update_ema(source)
        return self.record(g_loss=g_loss, g_adversarial=g_adversarial, l1=l1, g_grad_norm=g_grad_norm, **d_logs)

    def test_step(self, data):
        """Held-out pairs: L1 and PSNR (on [-1, 1], all channels) of G(source) vs target, and D's losses."""
        source, target = self.unpack_batch(data)
        fake = self.generator(source, training=False)
        real_logits = self.discriminate(target, source, training=False)
        fake_logits = self.discriminate(fake, source, training=False)
        error = ops.cast(target, "float32") - ops.cast(fake, "float32")
        l1 = ops.mean(ops.abs(error))
        mse = ops.mean(ops.square(error), axis=(1, 2, 3))
        g_adversarial = self.adversarial_loss.g(fake_logits)
        return self.record(
            d_loss=0.5 * self.adversarial_loss.d(real_logits, fake_logits),
            g_loss=g_adversarial + self.l1_weight * l1,
            g_adversarial=g_adversarial,
            l1=l1,
            psnr=ops.mean(10.0 * ops.log10(4.0 / ops.maximum(mse, 1e-10))),
            **self.discriminator_stats(real_logits, fake_logits),
        )
