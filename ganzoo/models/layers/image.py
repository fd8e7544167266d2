"""Moved from ganzoo.nets_image (issue 12 layout move)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from ganzoo.models.layers.common import normalization
from ganzoo.utils.images import BT601_LUMA

NORMS = ("batch", "instance", "layer", "none")


# ---------------------------------------------------------------------------------- layers
@keras.saving.register_keras_serializable(package="ganzoo")
class LumaChromaToRGB(keras.layers.Layer):
    """RGB in [-1, 1] from a luma image in [-1, 1] and two chroma channels in [-1, 1] (BT.601 YCbCr).

    The chroma channels are Cb and Cr scaled by 2 (so a tanh covers their [-0.5, 0.5] range); the
    luma passes through unchanged wherever no RGB channel clips.
    """

    def call(self, inputs):
        luma, chroma = (ops.cast(t, "float32") for t in inputs)
        y = (luma + 1.0) / 2.0
        cb, cr = chroma[..., :1] * 0.5, chroma[..., 1:2] * 0.5
        kr, kg, kb = BT601_LUMA  # the inverse of Y = kr R + kg G + kb B, Cb ~ B - Y, Cr ~ R - Y
        red = y + 2 * (1 - kr) * cr
        green = y - 2 * kb * (1 - kb) / kg * cb - 2 * kr * (1 - kr) / kg * cr
        blue = y + 2 * (1 - kb) * cb
        return ops.clip(ops.concatenate([red, green, blue], axis=-1), 0.0, 1.0) * 2.0 - 1.0

    def compute_output_shape(self, input_shapes):
        return (*input_shapes[0][:-1], 3)


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
