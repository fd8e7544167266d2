"""Layers shared by several architectures (serializable, no Lambda layers)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ganzoo")
class MinibatchStdDev(keras.layers.Layer):
    """Append one feature map holding a group's mean per-feature std (Karras et al. 2018).

    Lets the discriminator see how diverse a batch is, a remedy for mode collapse. As in ProGAN's
    and StyleGAN2's released code, the batch is split into groups of ``group_size`` samples (sample
    n in group ``n mod (N / G)``), the std is taken over each group and averaged over features, and
    every sample gets its group's statistic. A batch that ``group_size`` does not divide uses the
    largest group size below it that does. ``group_size=None``: one group of the whole batch (what
    ganzoo did before; kept for files saved then). Computed in float32.
    """

    def __init__(self, group_size: int | None = 4, **kwargs):
        super().__init__(**kwargs)
        if group_size is not None and int(group_size) < 1:
            raise ValueError(f"group_size must be >= 1 or None, got {group_size!r}.")
        self.group_size = None if group_size is None else int(group_size)

    def _group_stat(self, x32, group: int):
        n = ops.shape(x32)[0]
        grouped = ops.reshape(x32, (group, n // group, -1))  # (G, N/G, F)
        std = ops.sqrt(ops.var(grouped, axis=0) + 1e-8)  # (N/G, F)
        return ops.tile(ops.mean(std, axis=1), (group,))  # (N,), sample n -> group n mod N/G

    def call(self, x):
        x32 = ops.cast(x, "float32")
        if self.group_size is None:
            stat = ops.broadcast_to(ops.mean(ops.sqrt(ops.var(x32, axis=0) + 1e-8)), ops.shape(x32)[:1])
        else:
            n = ops.shape(x32)[0]
            stat = self._group_stat(x32, 1)
            for group in range(2, self.group_size + 1):  # the largest group size <= group_size dividing N
                divides = ops.logical_and(ops.equal(n % group, 0), n >= group)
                stat = ops.cond(divides, lambda group=group: self._group_stat(x32, group), lambda stat=stat: stat)
        feature = ops.ones_like(x[..., :1]) * ops.cast(ops.reshape(stat, (-1,) + (1,) * (len(x.shape) - 1)), x.dtype)
        return ops.concatenate([x, feature], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


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
    """Spectral normalization (Miyato et al. 2018) of a ``Dense``, ``Conv2D`` or ``Embedding`` layer, through sigma.

    The layer computes with ``W / sigma(W)``, ``sigma`` estimated by one power iteration per training
    step from a persistent vector ``u`` (``u`` and ``v`` are constants to the gradient), as chainer's
    ``SNConvolution2D`` and ``torch.nn.utils.spectral_norm`` do: the trained variable is ``W`` itself and
    the gradient reaches it through ``sigma``. (``keras.layers.SpectralNormalization`` instead overwrites
    the kernel with ``W / sigma`` after each step, a projected gradient descent with no gradient through
    sigma.) At inference ``u`` is not updated. An ``Embedding``'s table (classes x features) is normalized
    as one matrix, as chainer's ``SNEmbedID`` (the projection discriminator's class embedding).
    """

    def __init__(self, layer: keras.layers.Layer, epsilon: float = 1e-12, **kwargs):
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Embedding)):
            raise TypeError(f"SpectralNorm wraps Dense, Conv2D or Embedding layers, got {type(layer).__name__}.")
        super().__init__(layer, **kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        units = self._kernel.shape[-1]
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

    @property
    def _kernel(self):
        return self.layer.embeddings if isinstance(self.layer, keras.layers.Embedding) else self.layer.kernel

    def normalized_kernel(self, training: bool = False):
        kernel = self._kernel
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
        if isinstance(layer, keras.layers.Embedding):
            return ops.take(kernel, ops.cast(inputs, "int32"), axis=0)
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


@keras.saving.register_keras_serializable(package="ganzoo")
class SumPooling(keras.layers.Layer):
    """Global sum pooling over the spatial axes: ``(B, H, W, C) -> (B, C)`` (SNGAN's projection D)."""

    def call(self, x):
        return ops.sum(x, axis=tuple(range(1, len(x.shape) - 1)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="ganzoo")
class ClassAffine(keras.layers.Layer):
    """The per-class scale and shift of conditional batch normalization: ``x * gamma[y] + beta[y]``.

    Called on ``[x, labels]`` after a ``BatchNormalization(center=False, scale=False)``; each class has
    its own ``gamma`` (starting at 1) and ``beta`` (starting at 0) per channel, as the categorical
    conditional batch norm of the projection discriminator paper's generator (Miyato & Koyama 2018;
    de Vries et al. 2017). ``x`` may be ``(B, C)`` or ``(B, H, W, C)``.
    """

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes!r}.")
        self.num_classes = int(num_classes)

    def build(self, input_shape):
        channels = input_shape[0][-1]
        self.gamma = self.add_weight(shape=(self.num_classes, channels), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(self.num_classes, channels), initializer="zeros", name="beta")

    def call(self, inputs):
        x, labels = inputs
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gamma = ops.reshape(ops.cast(ops.take(self.gamma, labels, axis=0), x.dtype), shape)
        beta = ops.reshape(ops.cast(ops.take(self.beta, labels, axis=0), x.dtype), shape)
        return x * gamma + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


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


@keras.saving.register_keras_serializable(package="ganzoo")
class Standardization(keras.layers.Layer):
    """Per-feature affine map with statistics set by the model: ``(x - mean) / std``, or its inverse.

    Lets a GAN on unbounded data (2-D points) train in standardized coordinates whatever the data's
    centre and scale: D's input layer standardizes, G's output layer (``inverse=True``) maps back.
    The statistics are non-trainable weights that the model writes (see
    ``VanillaGAN.observe_real``), so exports carry them.
    """

    def __init__(self, inverse: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.inverse = bool(inverse)

    def build(self, input_shape):
        features = input_shape[-1]
        self.mean = self.add_weight(name="mean", shape=(features,), initializer="zeros", trainable=False)
        self.std = self.add_weight(name="std", shape=(features,), initializer="ones", trainable=False)

    def call(self, x):
        mean, std = ops.cast(self.mean, x.dtype), ops.cast(self.std, x.dtype)
        return x * std + mean if self.inverse else (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "inverse": self.inverse}


def pack_samples(x, pack: int):
    """PacGAN packing (Lin et al. 2018): m consecutive samples -> one, concatenated along the last axis.

    ``(B, ..., C) -> (ceil(B / m), ..., m * C)``. A batch whose size is not a multiple of m is completed
    by repeating its first samples (every sample is seen; a few twice), so the last, smaller batch of
    an epoch still trains. Real and fake batches of equal size are packed the same way: real with
    real, fake with fake.
    """
    if pack == 1:
        return x
    batch = ops.shape(x)[0]
    missing = (-batch) % pack
    x = ops.concatenate([x, ops.tile(x, [pack] + [1] * (len(x.shape) - 1))[:missing]], axis=0)
    inner = list(x.shape[1:])
    grouped = ops.reshape(x, [-1, pack] + inner)  # (B/m, m, ..., C)
    order = [0] + list(range(2, len(inner) + 1)) + [1, len(inner) + 1]  # (B/m, ..., m, C)
    return ops.reshape(ops.transpose(grouped, order), [-1] + inner[:-1] + [pack * inner[-1]])
