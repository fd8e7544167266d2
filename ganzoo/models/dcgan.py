"""DCGAN (Radford et al. 2015): all-convolutional G and D sized from the image shape.

G: Dense -> reshape to a small map -> [Conv2DTranspose stride 2 -> BatchNorm -> ReLU]
-> Conv2DTranspose to the image channels -> tanh.
D: [Conv2D stride 2 -> (norm) -> LeakyReLU(0.2)] -> Dense(1) logit.
The number of doublings follows the image size (16 px: 2, 28 px: 2 from 7x7, 32 px: 3, 64 px: 4).
``conv_generator``/``conv_features`` are reused by the conditional variant.
"""

from __future__ import annotations

import keras

from ganzoo.models.base import GAN
from ganzoo.models.layers.common import ClassAffine, MinibatchStdDev, SumPooling, maybe_spectral, normalization
from ganzoo.registry import register_architecture


def upsampling_plan(size: int) -> tuple[int, int]:
    """(start size, number of stride-2 doublings): halve while even and not below 4."""
    if size < 8:
        raise ValueError(f"Convolutional GANs need images of at least 8 px, got {size} px.")
    start, doublings = size, 0
    while start % 2 == 0 and start // 2 >= 4:
        start, doublings = start // 2, doublings + 1
    if doublings == 0:
        raise ValueError(
            f"Convolutional GANs need an even image size (start * 2**k with k >= 1 and start >= 4, e.g. 8, 12, 16, "
            f"28, 32), got {size} px: use {size + 1} or {size - 1}."
        )
    return start, doublings


def check_image_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[0] != shape[1] or shape[2] not in (1, 3):
        raise ValueError(f"image_shape must be (size, size, channels) with 1 or 3 channels, got {tuple(image_shape)}.")
    return shape


def check_pyramid_shape(image_shape, num_classes, architecture: str) -> tuple[int, int, int]:
    """The image shape of the unconditional 4x4-upwards pyramids (progan, stylegan): a power-of-two size >= 8."""
    shape = check_image_shape(image_shape)
    size = shape[0]
    if size < 8 or size & (size - 1):
        raise ValueError(f"{architecture} needs a power-of-two image size >= 8, got {size}.")
    if num_classes is not None:
        raise ValueError(f"{architecture} is unconditional here: num_classes must be None.")
    return shape


WEIGHT_INITS = ("normal", "glorot")


def initializers(weight_init: str) -> dict[str, dict]:
    """Keyword arguments of the layers for ``weight_init``.

    "normal": the DCGAN paper's (and its code's) N(0, 0.02) kernels and N(1, 0.02) BatchNorm scales;
    "glorot": Keras' defaults (Glorot-uniform kernels, unit scales), close to WGAN-GP's tflib init.
    """
    if weight_init not in WEIGHT_INITS:
        raise ValueError(f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}.")
    if weight_init == "glorot":
        return {"kernel": {}, "batch_norm": {}}
    return {
        "kernel": {"kernel_initializer": keras.initializers.RandomNormal(0.0, 0.02)},
        "batch_norm": {"gamma_initializer": keras.initializers.RandomNormal(1.0, 0.02)},
    }


def conv_generator(
    latent_input, model: DCGAN, extra_inputs=(), name: str = "generator", class_labels=None
) -> keras.Model:
    """The DCGAN generator body on a (possibly label-augmented) latent tensor, sized by ``model``.

    With ``class_labels`` (an int tensor), every batch norm is class-conditional: a per-class scale and
    shift (:class:`ClassAffine`) replaces the shared one.
    """
    size, _, channels = model.image_shape
    init = initializers(model.weight_init)
    start, doublings = upsampling_plan(size)

    def batch_norm(x):
        if class_labels is None:
            return keras.layers.BatchNormalization(**init["batch_norm"])(x)
        normalized = keras.layers.BatchNormalization(center=False, scale=False)(x)
        return ClassAffine(model.num_classes)([normalized, class_labels])

    x = latent_input
    filters = model.base_filters * 2 ** (doublings - 1)
    x = keras.layers.Dense(start * start * filters, use_bias=False, **init["kernel"])(x)
    x = keras.layers.ReLU()(batch_norm(x))
    x = keras.layers.Reshape((start, start, filters))(x)
    for _ in range(doublings - 1):
        filters //= 2
        x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False, **init["kernel"])(x)
        x = keras.layers.ReLU()(batch_norm(x))
    x = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", **init["kernel"])(x)
    # float32 output under mixed precision: exports and losses see full precision.
    image = keras.layers.Activation("tanh", dtype="float32", name="image")(x)
    inputs = list(extra_inputs) if extra_inputs else latent_input
    return keras.Model(inputs, image, name=name)


def conv_features(image, model: DCGAN, pooling: str = "flatten"):
    """The DCGAN discriminator body: strided convolutions to a feature vector, configured by ``model``.

    ``pooling``: "flatten" (DCGAN) or "sum" (global sum pooling, the SNGAN projection discriminator's).
    """
    init = initializers(model.weight_init)
    _, doublings = upsampling_plan(image.shape[1])
    x = image
    for i in range(doublings):
        layer = normalization(model.d_norm) if i > 0 else None  # no normalization on D's input layer (Radford)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer = keras.layers.BatchNormalization(**init["batch_norm"])
        # A bias before BatchNorm is cancelled by it: its gradient is float noise that Adam amplifies.
        use_bias = not isinstance(layer, keras.layers.BatchNormalization)
        conv = keras.layers.Conv2D(
            model.base_filters * 2**i, 4, strides=2, padding="same", use_bias=use_bias, **init["kernel"]
        )
        x = maybe_spectral(conv, model.spectral_norm)(x)
        if layer is not None:
            x = layer(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    if model.minibatch_std:
        x = MinibatchStdDev(model.mbstd_group_size)(x)
    if pooling == "sum":
        return SumPooling()(x)
    return keras.layers.Flatten()(x)


@register_architecture("dcgan")
@keras.saving.register_keras_serializable(package="ganzoo")
class DCGAN(GAN):
    """Deep convolutional GAN.

    Args:
        image_shape: (size, size, channels), channels 1 or 3, size >= 8.
        latent_dim: size of z (100 in the paper).
        base_filters: width of D's first and G's last hidden layer; doubles per scale.
        d_norm: discriminator normalization, "batch" (paper), "layer" or "none"
            (use "layer"/"none" with a gradient penalty).
        spectral_norm: spectral normalization on D's layers (SNGAN).
        minibatch_std: append a minibatch standard deviation feature in D.
        mbstd_group_size: its group size (4, ProGAN's; None: the whole batch, as before).
        weight_init: "normal" (the paper's N(0, 0.02), BatchNorm scales N(1, 0.02)) or "glorot"
            (Keras' defaults, what ganzoo used before).

    Defaults (Radford et al. 2015, section 4): ``compile()`` uses the non-saturating loss and
    Adam(2e-4, beta_1=0.5) for both networks; batch norm in G and D (not on D's input layer),
    ReLU in G, LeakyReLU(0.2) in D, tanh output, N(0, 0.02) weights.
    """

    supports_packing = True
    # As before these options existed: one whole-batch minibatch-std group, Keras' default initializers.
    legacy_defaults = {**GAN.legacy_defaults, "mbstd_group_size": None, "weight_init": "glorot"}
    xla_pays = True  # its fit step runs 2.5x faster with jit_compile=True on CPU (docs/BENCHMARKS.md)

    def __init__(
        self,
        image_shape=(32, 32, 3),
        latent_dim: int = 100,
        base_filters: int = 64,
        d_norm: str = "batch",
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        mbstd_group_size: int | None = 4,
        weight_init: str = "normal",
        **kwargs,
    ):
        self.image_shape = check_image_shape(image_shape)
        self.base_filters = int(base_filters)
        self.d_norm = d_norm
        self.spectral_norm = bool(spectral_norm)
        self.minibatch_std = bool(minibatch_std)
        self.mbstd_group_size = mbstd_group_size
        initializers(weight_init)  # checks the name
        self.weight_init = weight_init
        super().__init__(latent_dim=latent_dim, **kwargs)

    def build_generator(self) -> keras.Model:
        z = keras.Input((self.latent_dim,), name="z")
        return conv_generator(z, self)

    def build_discriminator(self) -> keras.Model:
        image = keras.Input(self.discriminator_input_shape, name="image")
        features = conv_features(image, self)
        logit = maybe_spectral(keras.layers.Dense(1, dtype="float32"), self.spectral_norm)(features)
        return keras.Model(image, logit, name="discriminator")
