"""Networks and helpers of the image-to-image variants (pix2pix, cyclegan, srgan).

Builders (plain functional Keras models, fully convolutional where the paper's network is, so
the exported generators take images of any size that is a multiple of :func:`size_multiple`):

* :func:`unet_generator`: pix2pix's U-Net (Isola et al. 2017): strided 4x4 convolutions down to
  a small bottleneck, transposed convolutions up, skip connections between mirrored layers,
  dropout 0.5 on the first decoder layers (the only noise source; active in training only).
* :func:`resnet_generator`: CycleGAN's generator (Johnson et al. 2016, Zhu et al. 2017):
  7x7 reflection-padded stem, 2 stride-2 downsamplings, residual blocks, 2 upsamplings, 7x7 out.
* :func:`patchgan_discriminator`: the N x N PatchGAN, one logit per overlapping patch; with
  ``n_layers=3`` the receptive field is 70 x 70 (:func:`patchgan_receptive_field`). Optionally
  conditioned on a source image (pix2pix), concatenated on channels.
* :func:`srresnet_generator`: SRGAN's SRResNet (Ledig et al. 2017): 9x9 stem, residual blocks
  with a long skip, sub-pixel convolution (``depth_to_space``) x2 blocks, 9x9 out.
* :func:`vgg_discriminator`: SRGAN's VGG-style discriminator (3x3 convs, stride 2 every other
  layer, dense head); its last convolutional block is the layer named ``"features"``.

The variants' shared model class is :class:`ganzoo.architectures.image_to_image.ImageToImageGAN`
(this module does not import the GAN base, so ``ganzoo.image_tasks`` can be imported first).

All images are float32 NHWC in [-1, 1]; the last activation is float32 under mixed precision.

The two generators upsample with transposed convolutions, as their papers do, or with
``upsampling="resize"``: nearest-neighbour x2 then a convolution (Odena, Dumoulin and Olah 2016,
"Deconvolution and checkerboard artifacts"), whose kernel overlaps evenly, so outputs have no
checkerboard. The stride-2 transposed convolution paints every other pixel with other weights.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from ganzoo.models.layers.image import (
    ICNR,
    LumaChromaToRGB,
    PixelShuffle,
    ReflectionPadding2D,
    Upsample,
    image_norm,
)


def _norm(x, kind: str):
    layer = image_norm(kind)
    return x if layer is None else layer(x)


UPSAMPLINGS = ("transpose", "resize")


def check_upsampling(upsampling: str) -> str:
    if upsampling not in UPSAMPLINGS:
        raise ValueError(f"upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}.")
    return upsampling


def _upsample(x, filters: int, kernel: int, upsampling: str, use_bias: bool):
    """x2 upsampling with ``filters`` outputs: a stride-2 transposed convolution, or resize then convolve."""
    if upsampling == "transpose":
        return keras.layers.Conv2DTranspose(filters, kernel, strides=2, padding="same", use_bias=use_bias)(x)
    x = keras.layers.UpSampling2D(2, interpolation="nearest")(x)
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias)(x)


def _output(x, channels: int, kernel: int, name: str):
    x = keras.layers.Conv2D(channels, kernel, padding="same")(x)
    return keras.layers.Activation("tanh", dtype="float32", name=name)(x)


# ---------------------------------------------------------------------------------- U-Net
def unet_depth(size: int) -> int:
    """Downsamplings of the U-Net for ``size`` px training images: down to 1x1, as the paper's 256 px -> 8."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"The U-Net needs a power-of-two image size >= 8, got {size}.")
    return int(math.log2(size))


def unet_generator(
    in_channels: int,
    out_channels: int,
    depth: int,
    base_filters: int = 64,
    norm: str = "batch",
    dropout: float = 0.5,
    dropout_layers: int = 3,
    name: str = "generator",
    upsampling: str = "transpose",
    chroma: bool = False,
    chroma_scale: int = 1,
) -> keras.Model:
    """pix2pix's U-Net on images whose sides are multiples of ``2 ** depth``.

    Encoder: ``depth`` blocks Conv(4x4, stride 2) -> norm (not on the first and the innermost
    block, as in the reference code) -> LeakyReLU(0.2); filters ``base_filters * 2**i`` capped at
    ``8 * base_filters`` (C64-C128-C256-C512-C512...). Decoder: the mirror, ConvTranspose(4x4,
    stride 2) -> norm -> dropout (first ``dropout_layers`` blocks) -> ReLU, each concatenated with
    the encoder map of the same size; a last ConvTranspose to ``out_channels`` and tanh.
    ``upsampling="resize"`` replaces each ConvTranspose by nearest x2 and a 3x3 convolution.
    ``chroma=True`` (grayscale in, RGB out) predicts two chroma channels and keeps the input as the
    luma (:class:`LumaChromaToRGB`); with ``chroma_scale`` s > 1 the decoder stops at 1/s of the size,
    where a 3x3 convolution predicts the chroma, upsampled bilinearly to the full size.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}.")
    if chroma and (in_channels, out_channels) != (1, 3):
        raise ValueError(f"chroma=True maps 1 luma channel to 3 RGB channels, not {in_channels} to {out_channels}.")
    if chroma_scale < 1 or chroma_scale & (chroma_scale - 1) or chroma_scale > 2**depth:
        raise ValueError(f"chroma_scale must be a power of 2 from 1 to {2**depth} (2 ** depth), got {chroma_scale}.")
    if chroma_scale > 1 and not chroma:
        raise ValueError(f"chroma_scale={chroma_scale} needs chroma=True (it sets the resolution of the chroma).")
    source = keras.Input((None, None, in_channels), name="image")
    filters = [base_filters * min(2**i, 8) for i in range(depth)]
    x, skips = source, []
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, 4, strides=2, padding="same", use_bias=norm == "none" or i in (0, depth - 1))(x)
        if 0 < i < depth - 1:
            x = _norm(x, norm)
        x = keras.layers.LeakyReLU(0.2)(x)
        skips.append(x)
    blocks = list(zip(reversed(filters[:-1]), reversed(skips[:-1])))
    if chroma_scale > 1:  # the decoder ends at 1/chroma_scale of the size
        blocks = blocks[: len(blocks) + 1 - int(math.log2(chroma_scale))]
    for j, (f, skip) in enumerate(blocks):
        x = _norm(_upsample(x, f, 4, upsampling, use_bias=norm == "none"), norm)
        if dropout and j < dropout_layers:
            x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Concatenate()([x, skip])
    if chroma_scale > 1:  # coarse chroma, upsampled to the luma's size
        x = keras.layers.Conv2D(2, 3, padding="same")(x)
        x = keras.layers.Activation("tanh", dtype="float32")(x)
        x = Upsample(chroma_scale, "bilinear", dtype="float32", name="chroma")(x)
    elif chroma:
        x = _upsample(x, 2, 4, upsampling, use_bias=True)
        x = keras.layers.Activation("tanh", dtype="float32", name="chroma")(x)
    if chroma:
        image = LumaChromaToRGB(dtype="float32", name="translated")([source, x])
    else:
        x = _upsample(x, out_channels, 4, upsampling, use_bias=True)
        image = keras.layers.Activation("tanh", dtype="float32", name="translated")(x)
    return keras.Model(source, image, name=name)


# --------------------------------------------------------------------------- ResNet generator
def resnet_generator(
    in_channels: int,
    out_channels: int,
    base_filters: int = 64,
    res_blocks: int = 9,
    downsamplings: int = 2,
    norm: str = "instance",
    name: str = "generator",
    upsampling: str = "transpose",
) -> keras.Model:
    """CycleGAN's ResNet generator (c7s1-64, d128, d256, R256 x ``res_blocks``, u128, u64, c7s1-3).

    ``upsampling="resize"``: the u-blocks are nearest x2 and a 3x3 convolution instead of a transposed one."""
    source = keras.Input((None, None, in_channels), name="image")
    x = ReflectionPadding2D(3)(source)
    x = keras.layers.Conv2D(base_filters, 7, use_bias=norm == "none")(x)
    x = keras.layers.ReLU()(_norm(x, norm))
    for i in range(downsamplings):
        x = keras.layers.Conv2D(base_filters * 2 ** (i + 1), 3, strides=2, padding="same", use_bias=norm == "none")(x)
        x = keras.layers.ReLU()(_norm(x, norm))
    filters = base_filters * 2**downsamplings
    for _ in range(res_blocks):
        y = ReflectionPadding2D(1)(x)
        y = keras.layers.Conv2D(filters, 3, use_bias=norm == "none")(y)
        y = keras.layers.ReLU()(_norm(y, norm))
        y = ReflectionPadding2D(1)(y)
        y = _norm(keras.layers.Conv2D(filters, 3, use_bias=norm == "none")(y), norm)
        x = keras.layers.Add()([x, y])
    for i in reversed(range(downsamplings)):
        x = _upsample(x, base_filters * 2**i, 3, upsampling, use_bias=norm == "none")
        x = keras.layers.ReLU()(_norm(x, norm))
    x = ReflectionPadding2D(3)(x)
    x = keras.layers.Conv2D(out_channels, 7)(x)
    image = keras.layers.Activation("tanh", dtype="float32", name="translated")(x)
    return keras.Model(source, image, name=name)


# ---------------------------------------------------------------------------------- PatchGAN
def patchgan_receptive_field(n_layers: int) -> int:
    """Receptive field (px) of one output logit of :func:`patchgan_discriminator`: 16, 34, 70, 142..."""
    field = 4 + 3  # the two stride-1 4x4 convolutions at the top
    for _ in range(n_layers):
        field = (field - 1) * 2 + 4
    return field


def patchgan_layers_for(size: int) -> int:
    """``n_layers`` that scales the paper's 70 px field at 256 px to ``size`` px images (at least 1)."""
    return max(1, 3 + round(math.log2(size / 256)))


def patchgan_discriminator(
    image_shape,
    condition_channels: int = 0,
    base_filters: int = 64,
    n_layers: int = 3,
    norm: str = "batch",
    name: str = "discriminator",
) -> keras.Model:
    """PatchGAN: C64 (no norm) - C128 - ... stride 2 (``n_layers`` in all), one stride-1 block, 1-channel logits.

    With ``condition_channels`` > 0 the model takes ``[image, source]`` and sees them
    concatenated on channels (pix2pix's conditional D); otherwise ``image`` alone.
    Output: ``(B, h, w, 1)`` logits, one per receptive-field patch.
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}.")
    image = keras.Input(tuple(image_shape), name="image")
    inputs: Any = image
    x = image
    if condition_channels:
        source = keras.Input((*tuple(image_shape)[:2], condition_channels), name="source")
        inputs = [image, source]
        x = keras.layers.Concatenate()([image, source])
    x = keras.layers.Conv2D(base_filters, 4, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    for i in range(1, n_layers + 1):
        stride = 2 if i < n_layers else 1
        x = keras.layers.Conv2D(
            base_filters * min(2**i, 8), 4, strides=stride, padding="same", use_bias=norm == "none"
        )(x)
        x = keras.layers.LeakyReLU(0.2)(_norm(x, norm))
    logits = keras.layers.Conv2D(1, 4, padding="same", dtype="float32", name="patch_logits")(x)
    return keras.Model(inputs, logits, name=name)


# ---------------------------------------------------------------------------------- SRResNet
def srresnet_generator(
    channels: int = 3,
    scale: int = 4,
    filters: int = 64,
    res_blocks: int = 16,
    norm: str = "batch",
    upsample_skip: str | None = None,
    name: str = "generator",
) -> keras.Model:
    """SRResNet: k9n64 + PReLU, ``res_blocks`` x [k3n64-BN-PReLU-k3n64-BN + x], k3n64-BN + long skip,
    log2(scale) x [k3n256 -> PixelShuffle(2) -> PReLU], k9n``channels`` -> tanh. Any input size."""
    if scale not in (2, 4, 8):
        raise ValueError(f"scale must be 2, 4 or 8, got {scale}.")
    low = keras.Input((None, None, channels), name="image")
    prelu = lambda: keras.layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.Constant(0.25))  # noqa: E731
    x = prelu()(keras.layers.Conv2D(filters, 9, padding="same")(low))
    stem = x
    for _ in range(res_blocks):
        y = _norm(keras.layers.Conv2D(filters, 3, padding="same", use_bias=norm == "none")(x), norm)
        y = prelu()(y)
        y = _norm(keras.layers.Conv2D(filters, 3, padding="same", use_bias=norm == "none")(y), norm)
        x = keras.layers.Add()([x, y])
    x = _norm(keras.layers.Conv2D(filters, 3, padding="same", use_bias=norm == "none")(x), norm)
    x = keras.layers.Add()([stem, x])
    for _ in range(int(math.log2(scale))):
        x = keras.layers.Conv2D(filters * 4, 3, padding="same", kernel_initializer=ICNR(2))(x)
        x = prelu()(PixelShuffle(2)(x))
    if upsample_skip is None:
        high = _output(x, channels, 9, name="upscaled")
    else:  # residual over an interpolated input (VDSR-style), linear output
        residual = keras.layers.Conv2D(channels, 9, padding="same", kernel_initializer="zeros")(x)
        interpolated = Upsample(scale, upsample_skip)(low)
        high = keras.layers.Add(dtype="float32", name="upscaled")([interpolated, residual])
    return keras.Model(low, high, name=name)


def vgg_discriminator(
    image_shape,
    base_filters: int = 64,
    blocks: int = 4,
    dense_units: int = 1024,
    norm: str = "batch",
    name: str = "discriminator",
) -> keras.Model:
    """SRGAN's D: k3n64s1, k3n64s2, then per block [k3 n s1, k3 n s2] with n doubling, BN and LeakyReLU(0.2),
    Dense(``dense_units``) - LeakyReLU - Dense(1). The last conv block's output is the layer ``"features"``."""
    image = keras.Input(tuple(image_shape), name="image")
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(base_filters, 3, padding="same")(image))
    for i in range(blocks):
        f = base_filters * 2**i
        if i > 0:
            x = keras.layers.Conv2D(f, 3, padding="same", use_bias=norm == "none")(x)
            x = keras.layers.LeakyReLU(0.2)(_norm(x, norm))
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", use_bias=norm == "none")(x)
        x = _norm(x, norm)
        x = keras.layers.LeakyReLU(0.2, name="features" if i == blocks - 1 else None)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(dense_units)(x))
    logit = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(image, logit, name=name)


def vgg_blocks_for(size: int) -> int:
    """Stride-2 blocks of the VGG-style D for ``size`` px patches: 4 (paper, 96 px), fewer on small patches."""
    return max(1, min(4, int(math.log2(size)) - 2))


# ---------------------------------------------------------------------------------- helpers
def check_square_shape(image_shape, what: str = "image_shape") -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] not in (1, 3):
        raise ValueError(f"{what} must be (size, size, channels) with 1 or 3 channels, got {tuple(image_shape)}.")
    return shape
