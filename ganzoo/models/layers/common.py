"""Layers shared by several architectures (serializable, no Lambda layers)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ganzoo")
class MinibatchStdDev(keras.layers.Layer):
    """Append one feature map holding the batch's mean per-feature std (Karras et al. 2018).

    Lets the discriminator see how diverse a batch is, a remedy for mode collapse.
    The statistic is taken over the whole (per-replica) batch, in float32.
    """

    def call(self, x):
        std = ops.sqrt(ops.var(ops.cast(x, "float32"), axis=0) + 1e-8)
        stat = ops.cast(ops.mean(std), x.dtype)
        return ops.concatenate([x, ops.ones_like(x[..., :1]) * stat], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


@keras.saving.register_keras_serializable(package="ganzoo")
class SampleLayerNorm(keras.layers.Layer):
    """Layer normalization of each sample over all its features (H, W and C), with a per-channel scale and offset.

    What WGAN-GP's official code calls layer norm in the critic (``tflib.ops.layernorm``: moments over
    axes 1, 2, 3, offset and scale per channel). Keras' ``LayerNormalization()`` normalizes each
    pixel's channels instead, which is not the paper's critic.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

    def call(self, x):
        x32 = ops.cast(x, "float32")
        axes = tuple(range(1, len(x.shape)))
        mean = ops.mean(x32, axis=axes, keepdims=True)
        var = ops.var(x32, axis=axes, keepdims=True)
        y = (x32 - mean) * ops.rsqrt(var + self.epsilon) * ops.cast(self.gamma, "float32") + ops.cast(
            self.beta, "float32"
        )
        return ops.cast(y, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="ganzoo")
class SpectralNorm(keras.layers.Wrapper):
    """Spectral normalization (Miyato et al. 2018) of a ``Dense`` or ``Conv2D`` layer, differentiated through sigma.

    The layer computes with ``W / sigma(W)``, ``sigma`` estimated by one power iteration per training
    step from a persistent vector ``u`` (``u`` and ``v`` are constants to the gradient), as chainer's
    ``SNConvolution2D`` and ``torch.nn.utils.spectral_norm`` do: the trained variable is ``W`` itself and
    the gradient reaches it through ``sigma``. (``keras.layers.SpectralNormalization`` instead overwrites
    the kernel with ``W / sigma`` after each step, a projected gradient descent with no gradient through
    sigma.) At inference ``u`` is not updated.
    """

    def __init__(self, layer: keras.layers.Layer, epsilon: float = 1e-12, **kwargs):
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            raise TypeError(f"SpectralNorm wraps Dense or Conv2D layers, got {type(layer).__name__}.")
        super().__init__(layer, **kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        units = self.layer.kernel.shape[-1]
        self.u = self.add_weight(
            name="sn_u",
            shape=(1, units),
            initializer=keras.initializers.RandomNormal(),
            trainable=False,
            aggregation="mean",  # identical on every replica (computed from the same W and u); mean keeps it so
        )
        self.built = True

    def _normalize(self, x):
        return x / (ops.sqrt(ops.sum(ops.square(x))) + self.epsilon)

    def normalized_kernel(self, training: bool = False):
        kernel = self.layer.kernel
        matrix = ops.reshape(ops.cast(kernel, "float32"), (-1, kernel.shape[-1]))  # (fan in, units)
        u = ops.stop_gradient(ops.cast(self.u, "float32"))
        v = ops.stop_gradient(self._normalize(ops.matmul(u, ops.transpose(matrix))))
        if training:
            u = ops.stop_gradient(self._normalize(ops.matmul(v, matrix)))
            self.u.assign(ops.cast(u, self.u.dtype))
        sigma = ops.sum(ops.matmul(v, matrix) * u)
        return ops.cast(ops.cast(kernel, "float32") / sigma, kernel.dtype)

    def call(self, inputs, training=None):
        layer = self.layer
        kernel = self.normalized_kernel(bool(training))
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, ops.cast(kernel, inputs.dtype))
            bias_shape = (layer.units,)
        else:
            outputs = layer.convolution_op(inputs, ops.cast(kernel, inputs.dtype))
            bias_shape = (1,) * (layer.rank + 1) + (layer.filters,)
        if layer.use_bias:
            outputs = ops.add(outputs, ops.reshape(ops.cast(layer.bias, outputs.dtype), bias_shape))
        return layer.activation(outputs) if layer.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def maybe_spectral(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """Wrap ``layer`` in :class:`SpectralNorm` (Miyato et al. 2018) when asked."""
    return SpectralNorm(layer) if spectral_norm else layer


def normalization(kind: str, name: str | None = None) -> keras.layers.Layer | None:
    """A normalization layer by name: ``"batch"``, ``"layer"`` (:class:`SampleLayerNorm`) or ``"none"``.

    A gradient penalty is per sample, so a critic trained with one must not use
    batch normalization (Gulrajani et al. 2017): use "layer" or "none".
    """
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "layer":
        return SampleLayerNorm(name=name)
    if kind == "none":
        return None
    raise ValueError(f"normalization must be 'batch', 'layer' or 'none', got {kind!r}.")
