"""Layers of the progressive and style-based generators (Karras et al. 2018, 2019, 2020).

All layers are plain serializable Keras layers (no Lambda), usable on their own:

* :class:`EqualizedDense`, :class:`EqualizedConv2D`: the equalized learning rate. Weights are
  stored as N(0, 1 / lr_multiplier) and scaled at run time by ``lr_multiplier / sqrt(fan_in)``,
  so every weight learns at the same speed under Adam whatever its fan-in.
* :func:`activation_gain`-style ``activation="lrelu"``: leaky ReLU (0.2) followed by a gain of
  sqrt(2) that keeps unit variance (StyleGAN2's ``bias_act``).
* :class:`PixelNorm`: pixelwise feature normalization (ProGAN's G, and z in StyleGAN's mapping).
* :class:`FadeIn`: ``(1 - t) * low + t * high`` with ``t`` a saved, non-trainable weight (ProGAN's
  fade-in of a new resolution).
* :class:`ModulatedConv2D`: StyleGAN2's weight (de)modulation, with an optional 2x upsampling.
* :class:`NoiseInjection`: per-layer noise input with a learned scale (initialised to 0).
* :class:`BiasActivation`, :class:`ConstantInput`, :class:`Truncation` (with the tracked ``w_avg``),
  :class:`BroadcastLatent`, :class:`SelectLatent`.

Noise is never drawn inside a layer: noise maps are inputs, so the graphs export without random ops.
"""

from __future__ import annotations

import math

import keras
from keras import ops

LRELU_SLOPE = 0.2
_ACTIVATIONS = ("linear", "lrelu")


def _check_activation(activation: str) -> str:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}.")
    return activation


def apply_activation(x, activation: str):
    """``linear``: x; ``lrelu``: leaky_relu(x, 0.2) * sqrt(2) (gain that preserves the variance)."""
    if activation == "lrelu":
        return ops.leaky_relu(x, LRELU_SLOPE) * math.sqrt(2.0)
    return x


@keras.saving.register_keras_serializable(package="ganzoo")
class EqualizedDense(keras.layers.Layer):
    """Dense layer with the equalized learning rate.

    ``y = act(x @ (W * lr_multiplier / sqrt(fan_in)) + b * lr_multiplier)`` with ``W ~ N(0, 1/lr_multiplier^2)``
    stored; ``bias_init`` is the effective initial bias (StyleGAN's style affines start at 1).
    """

    def __init__(
        self,
        units: int,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
        use_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = _check_activation(activation)
        self.lr_multiplier = float(lr_multiplier)
        self.bias_init = float(bias_init)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.weight_gain = self.lr_multiplier / math.sqrt(fan_in)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(fan_in, self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier),
            )

    def call(self, x):
        y = ops.matmul(x, self.kernel * self.weight_gain)
        if self.bias is not None:
            y = y + self.bias * self.lr_multiplier
        return apply_activation(y, self.activation)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "lr_multiplier": self.lr_multiplier,
            "bias_init": self.bias_init,
            "use_bias": self.use_bias,
        }


@keras.saving.register_keras_serializable(package="ganzoo")
class EqualizedConv2D(keras.layers.Layer):
    """Stride-1 "same" convolution with the equalized learning rate (weights scaled by 1/sqrt(fan_in))."""

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        activation: str = "linear",
        use_bias: bool = True,
        lr_multiplier: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.activation = _check_activation(activation)
        self.use_bias = bool(use_bias)
        self.lr_multiplier = float(lr_multiplier)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.weight_gain = self.lr_multiplier / math.sqrt(channels * self.kernel_size**2)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None

    def call(self, x):
        y = ops.conv(x, self.kernel * self.weight_gain, strides=1, padding="same")
        if self.bias is not None:
            y = y + self.bias * self.lr_multiplier
        return apply_activation(y, self.activation)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "lr_multiplier": self.lr_multiplier,
        }


@keras.saving.register_keras_serializable(package="ganzoo")
class PixelNorm(keras.layers.Layer):
    """Pixelwise feature normalization: ``x / sqrt(mean(x^2 over channels) + epsilon)`` (ProGAN)."""

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="ganzoo")
class FadeIn(keras.layers.Layer):
    """``(1 - t) * low + t * high`` with ``t`` a non-trainable weight in [0, 1] (ProGAN's fade-in).

    ``t = 0``: the new block is not grown yet (its output is ignored and gets no gradient);
    ``0 < t < 1``: fading in; ``t = 1``: grown. The weight is saved with the model, so a
    restored model continues the fade where it stopped. Set it with :meth:`set_alpha`.
    """

    def build(self, input_shape):
        self.alpha = self.add_weight(name="alpha", shape=(), initializer="zeros", trainable=False)

    def call(self, inputs):
        low, high = inputs
        t = ops.cast(self.alpha, high.dtype)
        return low + t * (high - low)

    def set_alpha(self, value: float) -> None:
        self.alpha.assign(float(min(max(value, 0.0), 1.0)))

    def compute_output_shape(self, input_shape):
        return input_shape[1]


@keras.saving.register_keras_serializable(package="ganzoo")
class BiasActivation(keras.layers.Layer):
    """Add a learned per-channel bias (equalized learning rate) and apply the activation."""

    def __init__(self, activation: str = "lrelu", lr_multiplier: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.activation = _check_activation(activation)
        self.lr_multiplier = float(lr_multiplier)

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(int(input_shape[-1]),), initializer="zeros")

    def call(self, x):
        return apply_activation(x + self.bias * self.lr_multiplier, self.activation)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "lr_multiplier": self.lr_multiplier}


@keras.saving.register_keras_serializable(package="ganzoo")
class ModulatedConv2D(keras.layers.Layer):
    """StyleGAN2's modulated convolution: inputs ``[x (B, H, W, C_in), w (B, w_dim)]``.

    A style ``s = A(w)`` (an equalized affine layer, bias initialised to 1) scales the input
    channels of the shared kernel per sample: ``W'_b[k, i, o] = W[k, i, o] * s_b[i]``. With
    ``demodulate`` the output channels are then divided by ``sqrt(sum_{k,i} W'_b[k, i, o]^2 + eps)``,
    which restores unit output variance for unit-variance inputs whatever the style (the
    replacement for StyleGAN's AdaIN). Implemented without grouped convolutions: the input is
    scaled by ``s`` and the output by the demodulation coefficients, which is the same
    computation and keeps a dynamic batch size (exports with batch None).

    ``upsample=True`` first doubles the resolution with bilinear interpolation (the [1, 3, 3, 1]
    filter of StyleGAN2's up-sampling). No bias or activation: see :class:`BiasActivation`.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        demodulate: bool = True,
        upsample: bool = False,
        epsilon: float = 1e-8,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.demodulate = bool(demodulate)
        self.upsample = bool(upsample)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        channels = int(x_shape[-1])
        self.affine = EqualizedDense(channels, bias_init=1.0, name="affine")
        self.affine.build(w_shape)
        self.weight_gain = 1.0 / math.sqrt(channels * self.kernel_size**2)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )

    def styles(self, w):
        """The per-sample input-channel scales ``s = A(w)``, shape (B, C_in)."""
        return self.affine(w)

    def demodulation(self, styles):
        """The per-sample output scales ``1 / sqrt(sum_{k,i} (W[k,i,o] s_i)^2 + eps)``, shape (B, C_out)."""
        kernel = self.kernel * self.weight_gain
        squared = ops.sum(ops.square(kernel), axis=(0, 1))  # (C_in, C_out)
        return ops.rsqrt(ops.matmul(ops.square(styles), squared) + self.epsilon)

    def call(self, inputs):
        x, w = inputs
        styles = ops.cast(self.styles(w), x.dtype)
        if self.upsample:
            x = ops.image.resize(x, (x.shape[1] * 2, x.shape[2] * 2), interpolation="bilinear", antialias=False)
        x = x * styles[:, None, None, :]
        y = ops.conv(x, ops.cast(self.kernel * self.weight_gain, x.dtype), strides=1, padding="same")
        if self.demodulate:
            y = y * ops.cast(self.demodulation(styles), y.dtype)[:, None, None, :]
        return y

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape[0]
        factor = 2 if self.upsample else 1
        return (b, None if h is None else h * factor, None if w is None else w * factor, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "demodulate": self.demodulate,
            "upsample": self.upsample,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="ganzoo")
class NoiseInjection(keras.layers.Layer):
    """``x + strength * noise``: inputs ``[x (B, H, W, C), noise (B, H, W, 1)]``, one learned scalar.

    The strength starts at 0 (StyleGAN2), so noise only matters once training makes use of it.
    The noise map is an input (drawn by the caller), never drawn here.
    """

    def build(self, input_shape):
        self.strength = self.add_weight(name="strength", shape=(), initializer="zeros")

    def call(self, inputs):
        x, noise = inputs
        return x + ops.cast(self.strength, x.dtype) * ops.cast(noise, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="ganzoo")
class ConstantInput(keras.layers.Layer):
    """The learned constant that starts StyleGAN's synthesis, repeated over the batch of its input."""

    def __init__(self, channels: int, size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, input_shape):
        self.const = self.add_weight(
            name="const",
            shape=(1, self.size, self.size, self.channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )

    def call(self, reference):
        batch = ops.shape(reference)[0]
        return ops.tile(ops.cast(self.const, self.compute_dtype), (batch, 1, 1, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "size": self.size}


@keras.saving.register_keras_serializable(package="ganzoo")
class Truncation(keras.layers.Layer):
    """The truncation trick: inputs ``[w (B, w_dim), psi (B, 1)]`` -> ``w_avg + psi * (w - w_avg)``.

    ``w_avg`` is a non-trainable weight (saved with the model) that training moves towards the
    mean of the mapped latents with :meth:`track`. ``psi = 1``: no truncation; ``psi = 0``: every
    latent becomes ``w_avg`` (the "average image").
    """

    def build(self, input_shape):
        self.w_avg = self.add_weight(
            name="w_avg", shape=(int(input_shape[0][-1]),), initializer="zeros", trainable=False
        )

    def call(self, inputs):
        w, psi = inputs
        w_avg = ops.cast(self.w_avg, w.dtype)
        return w_avg + ops.cast(psi, w.dtype) * (w - w_avg)

    def track(self, w, decay: float) -> None:
        """``w_avg <- batch_mean(w) + decay * (w_avg - batch_mean(w))``."""
        mean = ops.mean(ops.cast(w, "float32"), axis=0)
        self.w_avg.assign(mean + decay * (self.w_avg - mean))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="ganzoo")
class BroadcastLatent(keras.layers.Layer):
    """(B, w_dim) -> (B, num_ws, w_dim): the same w for every style input of the synthesis network."""

    def __init__(self, num_ws: int, **kwargs):
        super().__init__(**kwargs)
        self.num_ws = int(num_ws)

    def call(self, w):
        return ops.repeat(ops.expand_dims(w, 1), self.num_ws, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_ws, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_ws": self.num_ws}


@keras.saving.register_keras_serializable(package="ganzoo")
class SelectLatent(keras.layers.Layer):
    """(B, num_ws, w_dim) -> (B, w_dim): the style input of one synthesis layer."""

    def __init__(self, index: int, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, ws):
        return ws[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "index": self.index}
