"""SRGAN (Ledig et al. 2017): single-image super-resolution, x4 by default (x2 and x8 supported).

G: SRResNet (``ganzoo.nets_image.srresnet_generator``): residual blocks, a long skip, sub-pixel
convolution (``depth_to_space``) upsampling; fully convolutional, so it takes low-resolution
images of any height and width. D: the VGG-style network (``vgg_discriminator``) on
high-resolution patches of ``image_shape``.

Training has two phases, chosen at compile time (``compile(phase=...)``, saved with the model):

1. ``phase="mse"``: SRResNet pre-training, pixel MSE only, D untouched (the paper: 10^6 steps,
   Adam 1e-4).
2. ``phase="adversarial"``: D and G alternate; G minimises
   ``content_weight * content + adversarial_weight * adversarial`` with ``adversarial_weight =
   1e-3``. The content (perceptual) loss is the MSE between features of G(LR) and HR, taken by a
   pluggable extractor chosen by name (``content_loss``):

   * ``"vgg19"``: VGG19 ``vgg_layer`` features (``block5_conv4`` = the paper's VGG54), rescaled by
     1/12.75, on ImageNet-preprocessed inputs; needs ``vgg_weights`` ("imagenet", downloaded by
     Keras, or the path of a weights file). Nothing is trained or saved for it.
   * ``"discriminator"``: the offline fallback: features of D's last convolutional block
     (feature matching, Salimans et al. 2016), with HR features held constant; works without any
     pretrained weights.
   * ``"pixel"``: pixel MSE (the paper's SRGAN-MSE).
   * any name added with :func:`register_content_extractor` (for a user's own feature network).

Data: ``(low_res, high_res)`` batches (``ganzoo.image_tasks.load_pairs("skimage:sr")`` or
``"tfds:div2k/bicubic_x4"``). Inference: ``model(low)`` or ``model.upscale(images, tile=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganzoo.errors import unknown_name_error
from ganzoo.models.base import is_grouped
from ganzoo.models.image_to_image import ImageToImageGAN
from ganzoo.models.nets.image import (
    check_square_shape,
    srresnet_generator,
    vgg_blocks_for,
    vgg_discriminator,
)
from ganzoo.registry import register_architecture
from ganzoo.utils.images import match_channels, run_tiled, to_model_range, to_uint8

PHASES = ("mse", "adversarial")
_VGG_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications.vgg19.preprocess_input ("caffe")

# name -> factory(model) returning features(images in [-1, 1]) -> tensor
CONTENT_EXTRACTORS: dict[str, Callable] = {}


def register_content_extractor(name: str):
    """Decorator: ``factory(model) -> (images in [-1, 1] -> features)``, usable as ``content_loss=name``.

    The factory runs when the model is compiled for the adversarial phase (eagerly), so it may
    build Keras models. Register the name again in any process that loads such a model.
    """

    def decorator(factory):
        CONTENT_EXTRACTORS[name] = factory
        return factory

    return decorator


@register_content_extractor("pixel")
def _pixel_features(model):
    return lambda images: images


@register_content_extractor("discriminator")
def _discriminator_features(model):
    # Inference mode: BatchNorm normalizes real and fake with the same (moving) statistics, so the
    # content distance compares their features, not two batches' separate normalizations.
    features = keras.Model(model.discriminator.inputs, model.discriminator.get_layer("features").output)
    return lambda images: features(images, training=False)


@register_content_extractor("vgg19")
def _vgg19_features(model):
    try:
        vgg = keras.applications.VGG19(include_top=False, weights=model.vgg_weights, input_shape=(None, None, 3))
    except Exception as err:  # no network, bad path: say what to do instead
        raise RuntimeError(
            f"content_loss='vgg19' could not load VGG19 weights {model.vgg_weights!r} ({type(err).__name__}: {err}). "
            "Pass vgg_weights=<path of vgg19 *_notop.h5 weights>, or use content_loss='discriminator' "
            "(offline fallback) or 'pixel'."
        ) from err
    features = keras.Model(vgg.input, vgg.get_layer(model.vgg_layer).output, name="vgg19_content")
    features.trainable = False
    mean = ops.convert_to_tensor(np.array(_VGG_MEAN_BGR, np.float32))

    def extract(images):
        x = ops.cast(images, "float32")
        if x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        x = (x + 1.0) * 127.5  # [-1, 1] -> [0, 255] RGB
        x = ops.flip(x, axis=-1) - mean  # caffe: BGR, mean-centred
        return features(x, training=False) / 12.75

    return extract


class _Untracked:
    """Holds a callable out of Keras' tracking (it is rebuilt at compile, never saved)."""

    def __init__(self, value=None):
        self.value = value


@register_architecture("srgan")
@keras.saving.register_keras_serializable(package="ganzoo")
class SRGAN(ImageToImageGAN):
    """Super-resolution GAN; ``model.upscale(images)`` after training.

    Args:
        image_shape: (size, size, channels) of the high-resolution training patches (96 px in the
            paper); size must be a multiple of ``scale``. The low-resolution input is size/scale.
        scale: 2, 4 (paper) or 8.
        filters, res_blocks: SRResNet width and depth (64 and 16 in the paper).
        g_norm: batch normalization in the residual blocks ("batch", paper) or "none".
        d_base_filters, d_blocks, d_dense_units: D's first width (64), stride-2 blocks (4 at 96 px;
            None scales with the patch size) and dense width (1024).
        d_norm: "batch" (paper) or "none"/"layer" (with a gradient penalty).
        content_loss: "discriminator" (offline default), "vgg19", "pixel" or a registered name.
        vgg_weights, vgg_layer: VGG19 weights ("imagenet" or a path) and layer for "vgg19".
        content_weight, adversarial_weight: weights of G's two terms (1 and 1e-3).

    Defaults (Ledig et al. 2017, section 3.2): Adam(1e-4, beta_1=0.9) in both phases, the
    SRResNet of 16 residual blocks with batch norm and the 10^-3 adversarial weight. Offline,
    the content loss is on D's features (in inference mode) instead of the paper's VGG19 ones.
    """

    def __init__(
        self,
        image_shape=(96, 96, 3),
        scale: int = 4,
        filters: int = 64,
        res_blocks: int = 16,
        g_norm: str = "batch",
        upsample_skip: str | None = None,
        d_base_filters: int = 64,
        d_blocks: int | None = None,
        d_dense_units: int = 1024,
        d_norm: str = "batch",
        content_loss: str = "discriminator",
        vgg_weights: str | None = "imagenet",
        vgg_layer: str = "block5_conv4",
        content_weight: float = 1.0,
        adversarial_weight: float = 1e-3,
        **kwargs,
    ):
        self.image_shape = check_square_shape(image_shape)
        if scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8, got {scale!r}.")
        if self.image_shape[0] % scale:
            raise ValueError(f"the patch size {self.image_shape[0]} must be a multiple of scale={scale}.")
        self.scale = int(scale)
        self.filters = int(filters)
        self.res_blocks = int(res_blocks)
        self.g_norm = g_norm
        if upsample_skip not in (None, "nearest", "bilinear", "bicubic"):
            raise ValueError(f"upsample_skip must be None, 'nearest', 'bilinear' or 'bicubic'; got {upsample_skip!r}.")
        self.upsample_skip = upsample_skip
        self.d_base_filters = int(d_base_filters)
        self.d_blocks = d_blocks
        self.d_dense_units = int(d_dense_units)
        self.d_norm = d_norm
        if content_loss not in CONTENT_EXTRACTORS:
            raise unknown_name_error("content loss", content_loss, CONTENT_EXTRACTORS)
        self.content_loss = content_loss
        self.vgg_weights = vgg_weights
        self.vgg_layer = vgg_layer
        self.content_weight = float(content_weight)
        self.adversarial_weight = float(adversarial_weight)
        super().__init__(**kwargs)
        self.phase = None
        self._content = _Untracked()

    @property
    def output_scale(self) -> int:
        return self.scale

    @property
    def low_res_shape(self) -> tuple[int, int, int]:
        size = self.image_shape[0] // self.scale
        return (size, size, self.image_shape[2])

    @property
    def receptive_radius(self) -> int:
        """Low-resolution pixels of context each output pixel depends on (the ``upscale`` tile overlap)."""
        upsampling = sum(1 / 2**i for i in range(int(math.log2(self.scale))))
        return math.ceil(4 + 2 * self.res_blocks + 1 + upsampling + 4 / self.scale)

    export_kind = "super_resolution"

    def export_endpoints(self) -> dict[str, keras.Model]:
        return {"upscale": self.inference_generator}

    def build_generator(self) -> keras.Model:
        return srresnet_generator(
            self.image_shape[2], self.scale, self.filters, self.res_blocks, self.g_norm, self.upsample_skip
        )

    def build_discriminator(self) -> keras.Model:
        blocks = self.d_blocks or vgg_blocks_for(self.image_shape[0])
        return vgg_discriminator(self.image_shape, self.d_base_filters, blocks, self.d_dense_units, self.d_norm)

    # ---------------------------------------------------------------- compile
    def compile(self, g_optimizer=None, d_optimizer=None, loss="non_saturating", phase: str = "adversarial", **kwargs):
        """``phase="mse"`` (SRResNet pre-training) or ``"adversarial"``; default optimizers Adam(1e-4) as the paper.

        Compile again (with new optimizers) to switch from the MSE phase to the adversarial one.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}.")
        paper_adam = lambda: keras.optimizers.Adam(1e-4, beta_1=0.9)  # noqa: E731
        super().compile(g_optimizer or paper_adam(), d_optimizer or paper_adam(), loss=loss, **kwargs)
        self.phase = phase
        self._content.value = CONTENT_EXTRACTORS[self.content_loss](self) if phase == "adversarial" else None

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None:
            config["phase"] = self.phase
        return config

    def content_features(self, images):
        """Features of the content loss (after compiling for the adversarial phase)."""
        if self._content.value is None:
            self._content.value = CONTENT_EXTRACTORS[self.content_loss](self)
        return self._content.value(images)

    # ---------------------------------------------------------------- training
    def train_step(self, data):
        batches = self.critic_batches(data)
        if self.phase == "mse":  # no critic: every batch of the step is one MSE update
            for batch in batches if is_grouped(data) else batches[:1]:
                low, high = self.unpack_batch(batch)
                high = ops.cast(high, "float32")
                with tf.GradientTape() as tape:
                    mse = ops.mean(ops.square(ops.cast(self.generator(low, training=True), "float32") - high))
                g_grad_norm = self.apply_gradients(tape, mse, self.generator, self.g_optimizer)
                self.update_ema(low)
            return self.record(g_loss=mse, mse=mse, g_grad_norm=g_grad_norm)
        for batch in batches[:-1]:  # with d_steps > 1, the first critic steps on their own pairs
            low, high = self.unpack_batch(batch)
            d_logs = self.image_discriminator_step(ops.cast(high, "float32"), self.generator(low, training=True))
        low, high = self.unpack_batch(batches[-1])
        high = ops.cast(high, "float32")
        with tf.GradientTape() as g_tape:
            fake = self.generator(low, training=True)
        d_logs = self.image_discriminator_step(high, ops.stop_gradient(fake))
        with g_tape:  # resume: the updated D judges G(LR), differentiated into G
            adversarial = self.adversarial_loss.g(self.discriminate(self.discriminator_view(fake), None))
            target_features = ops.stop_gradient(self.content_features(high))
            content = ops.mean(
                ops.square(ops.cast(self.content_features(fake), "float32") - ops.cast(target_features, "float32"))
            )
            g_loss = self.content_weight * content + self.adversarial_weight * adversarial
        g_grad_norm = self.apply_gradients(g_tape, g_loss, self.generator, self.g_optimizer)
        self.update_ema(low)
        mse = ops.mean(ops.square(ops.cast(fake, "float32") - high))
        return self.record(
            g_loss=g_loss, content=content, g_adversarial=adversarial, mse=mse, g_grad_norm=g_grad_norm, **d_logs
        )

    def test_step(self, data):
        """Held-out pairs: MSE and PSNR (on [-1, 1], all channels, no border crop) of G(LR) and of bicubic upscaling."""
        low, high = self.unpack_batch(data)
        high = ops.cast(high, "float32")
        fake = ops.cast(self.generator(low, training=False), "float32")
        bicubic = tf.clip_by_value(
            tf.image.resize(ops.cast(low, "float32"), tf.shape(high)[1:3], method="bicubic"), -1.0, 1.0
        )
        per_image = lambda x: ops.mean(ops.square(x - high), axis=(1, 2, 3))  # noqa: E731
        psnr = lambda mse: ops.mean(10.0 * ops.log10(4.0 / ops.maximum(mse, 1e-10)))  # noqa: E731
        mse, mse_bicubic = per_image(fake), per_image(bicubic)
        return self.record(g_loss=ops.mean(mse), mse=ops.mean(mse), psnr=psnr(mse), psnr_bicubic=psnr(mse_bicubic))

    # ---------------------------------------------------------------- inference
    def upscale(
        self, images, tile: int | None = None, overlap: int | None = None, batch_size: int = 8, raw: bool = False
    ):
        """Upscale uint8 or [-1, 1] images (H, W[, C]) or (N, H, W, C) by ``scale``.

        With ``tile``, the image is processed in tiles of ``tile`` x ``tile`` low-resolution pixels
        with ``overlap`` (default :attr:`receptive_radius`, which makes the result identical to a
        whole-image pass) pixels of context, bounding memory on large images.
        Returns uint8, or float32 in [-1, 1] with ``raw``.
        """
        network = self.inference_generator
        x = match_channels(to_model_range(images), self.image_shape[2])

        def forward(batch):
            return np.concatenate(
                [
                    ops.convert_to_numpy(network(batch[i : i + batch_size], training=False))
                    for i in range(0, len(batch), batch_size)
                ]
            )

        overlap = self.receptive_radius if overlap is None else overlap
        y = run_tiled(forward, x, tile, overlap, self.scale).astype(np.float32)
        return y if raw else to_uint8(y)
