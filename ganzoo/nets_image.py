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
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganzoo.layers import normalization

NORMS = ("batch", "instance", "layer", "none")


# ---------------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="ganzoo")
class ReflectionPadding2D(keras.layers.Layer):
    """Reflect-pad height and width by ``padding`` pixels (CycleGAN's border handling)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        grow = lambda s: None if s is None else s + 2 * self.padding  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="ganzoo")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al. 2016): (H, W, C r^2) -> (H r, W r, C)."""

    def __init__(self, scale: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        return ops.depth_to_space(x, self.scale)

    def compute_output_shape(self, input_shape):
        grow = lambda s: None if s is None else s * self.scale  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3] // self.scale**2)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="ganzoo")
class Upsample(keras.layers.Layer):
    """Resize by an integer ``scale`` with ``tf.image.resize`` (half-pixel centres, no antialiasing); any input size."""

    def __init__(self, scale: int = 2, method: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.scale, self.method = int(scale), method

    def call(self, x):
        return tf.image.resize(x, tf.shape(x)[1:3] * self.scale, method=self.method)

    def compute_output_shape(self, input_shape):
        grow = lambda s: None if s is None else s * self.scale  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "method": self.method}


@keras.saving.register_keras_serializable(package="ganzoo")
class ICNR(keras.initializers.Initializer):
    """ICNR initialization (Aitken et al. 2017) of the convolution before a ``PixelShuffle(scale)``.

    Every group of ``scale**2`` output channels that the shuffle spreads over one ``scale`` x
    ``scale`` block starts with the same kernel, so the initial upsampling is a nearest-neighbour
    one: no checkerboard artifacts at the start and a faster start of training.
    """

    def __init__(self, scale: int = 2, seed=None):
        self.scale = int(scale)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        *kernel, channels = shape
        groups = self.scale**2
        base = keras.initializers.HeNormal(seed=self.seed)((*kernel, channels // groups), dtype=dtype)
        # depth_to_space (DCR): output channel d feeds sub-pixel d // C and image channel d % C.
        return ops.tile(base, [1] * len(kernel) + [groups])

    def get_config(self):
        return {"scale": self.scale, "seed": self.seed}


def image_norm(kind: str) -> keras.layers.Layer | None:
    """``"batch"``, ``"instance"`` (GroupNormalization with one group per channel), ``"layer"`` or ``"none"``."""
    if kind == "instance":
        return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {kind!r}.")
    return normalization(kind)


def _norm(x, kind: str):
    layer = image_norm(kind)
    return x if layer is None else layer(x)


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
) -> keras.Model:
    """pix2pix's U-Net on images whose sides are multiples of ``2 ** depth``.

    Encoder: ``depth`` blocks Conv(4x4, stride 2) -> norm (not on the first and the innermost
    block, as in the reference code) -> LeakyReLU(0.2); filters ``base_filters * 2**i`` capped at
    ``8 * base_filters`` (C64-C128-C256-C512-C512...). Decoder: the mirror, ConvTranspose(4x4,
    stride 2) -> norm -> dropout (first ``dropout_layers`` blocks) -> ReLU, each concatenated with
    the encoder map of the same size; a last ConvTranspose to ``out_channels`` and tanh.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}.")
    source = keras.Input((None, None, in_channels), name="image")
    filters = [base_filters * min(2**i, 8) for i in range(depth)]
    x, skips = source, []
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, 4, strides=2, padding="same", use_bias=norm == "none" or i in (0, depth - 1))(x)
        if 0 < i < depth - 1:
            x = _norm(x, norm)
        x = keras.layers.LeakyReLU(0.2)(x)
        skips.append(x)
    for j, (f, skip) in enumerate(zip(reversed(filters[:-1]), reversed(skips[:-1]))):
        x = keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=norm == "none")(x)
        x = _norm(x, norm)
        if dropout and j < dropout_layers:
            x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Concatenate()([x, skip])
    x = keras.layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same")(x)
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
) -> keras.Model:
    """CycleGAN's ResNet generator (c7s1-64, d128, d256, R256 x ``res_blocks``, u128, u64, c7s1-3)."""
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
        x = keras.layers.Conv2DTranspose(base_filters * 2**i, 3, strides=2, padding="same", use_bias=norm == "none")(x)
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
        x = keras.layers.Conv2D(base_filters * min(2**i, 8), 4, strides=stride, padding="same", use_bias=norm == "none")(x)
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


# ---------------------------------------------------------------------------------- schedule
@keras.saving.register_keras_serializable(package="ganzoo")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``initial_learning_rate`` for ``constant_steps``, then linearly to 0 over ``decay_steps``.

    CycleGAN's (and the pix2pix code's) schedule: 100 epochs at 2e-4, then 100 epochs of linear
    decay; pass epochs x steps_per_epoch. Serializable, so it survives ``model.save``.
    """

    def __init__(self, initial_learning_rate: float, constant_steps: int, decay_steps: int):
        if constant_steps < 0 or decay_steps < 1:
            raise ValueError(f"need constant_steps >= 0 and decay_steps >= 1, got {constant_steps}, {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.constant_steps = int(constant_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.constant_steps) / float(self.decay_steps), 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - progress)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "constant_steps": self.constant_steps,
            "decay_steps": self.decay_steps,
        }


# ---------------------------------------------------------------------------------- helpers
def check_square_shape(image_shape, what: str = "image_shape") -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] not in (1, 3):
        raise ValueError(f"{what} must be (size, size, channels) with 1 or 3 channels, got {tuple(image_shape)}.")
    return shape


def to_model_range(images) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]; float images are taken as already in [-1, 1]. Adds a batch axis to (H, W, C)."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must be (H, W), (H, W, C) or (N, H, W, C); got shape {x.shape}.")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1.0
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"images must be uint8 (0..255) or float in [-1, 1]; got {x.dtype}.")
    x = x.astype(np.float32)
    if x.size and (x.min() < -1.001 or x.max() > 1.001):
        raise ValueError(f"float images must lie in [-1, 1]; got [{x.min():.3g}, {x.max():.3g}].")
    return x


def match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Convert (N, H, W, C) [-1, 1] images to ``channels``: gray -> RGB by repetition, RGB -> gray by BT.601 luma."""
    have = x.shape[-1]
    if have == 4:  # drop alpha
        x, have = x[..., :3], 3
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=-1)
    if have == 3 and channels == 1:
        return (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels.")


def run_padded(fn, x: np.ndarray, multiple: int, scale: int = 1) -> np.ndarray:
    """``fn`` on ``x`` (N, H, W, C) reflect-padded at the bottom/right to a multiple of ``multiple``, output cropped back.

    Lets a network whose strided layers need sides divisible by ``multiple`` run on any size;
    ``scale`` is the output/input size ratio (SR models).
    """
    h, w = x.shape[1:3]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "symmetric"
        x = np.pad(x, [(0, 0), (0, ph), (0, pw), (0, 0)], mode=mode)
    y = np.asarray(fn(x))
    return y[:, : h * scale, : w * scale]


def run_tiled(fn, x: np.ndarray, tile: int | None, overlap: int, scale: int = 1, multiple: int = 1) -> np.ndarray:
    """``fn`` on ``x`` (N, H, W, C) in tiles of ``tile`` x ``tile`` input pixels, each read with
    ``overlap`` extra pixels of context on every side that is not the image border.

    For a convolutional ``fn`` whose receptive radius is at most ``overlap``, the result equals
    ``fn(x)`` (up to float round-off) while the memory stays bounded by one tile.
    ``scale`` is the output/input size ratio.
    """
    n, h, w, _ = x.shape
    if tile is None or (h <= tile and w <= tile):
        return run_padded(fn, x, multiple, scale)
    if tile < 1 or overlap < 0:
        raise ValueError(f"need tile >= 1 and overlap >= 0, got tile={tile}, overlap={overlap}.")
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            b0, r0 = min(bottom + overlap, h), min(right + overlap, w)
            y = run_padded(fn, x[:, t0:b0, l0:r0], multiple, scale)
            if out is None:
                out = np.empty((n, h * scale, w * scale, y.shape[-1]), y.dtype)
            out[:, top * scale : bottom * scale, left * scale : right * scale] = y[
                :, (top - t0) * scale : (bottom - t0) * scale, (left - l0) * scale : (right - l0) * scale
            ]
    return out
