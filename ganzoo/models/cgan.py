"""Conditional GAN: class labels steer the generator (Mirza & Osindero 2014).

G concatenates a learned label embedding to z and feeds the DCGAN generator body (Mirza & Osindero), or,
with ``label_conditioning="batch_norm"``, takes z alone and gives every batch norm a per-class scale and
shift (the generator of Miyato & Koyama 2018). D is a projection discriminator (Miyato & Koyama 2018):
``logit = w . phi(x) + <embed(y), phi(x)>``, which conditions D by an inner product
with the class embedding instead of concatenating the label to the input.
"""

from __future__ import annotations

import keras

from ganzoo.models.dcgan import DCGAN, conv_features, conv_generator
from ganzoo.models.layers.common import maybe_spectral
from ganzoo.registry import register_architecture


@register_architecture("cgan")
@keras.saving.register_keras_serializable(package="ganzoo")
class CGAN(DCGAN):
    """Class-conditional DCGAN with a projection discriminator; ``generate(n, labels=...)``.

    Args (beyond DCGAN's):
        num_classes: number of classes; the dataset yields ``(images, labels)``.
        embedding_dim: size of G's label embedding concatenated to z (``label_conditioning="concat"``).
        label_conditioning: how G sees the label: "concat" (an embedding concatenated to z, Mirza &
            Osindero 2014) or "batch_norm" (class-conditional batch norm in every generator layer and z
            alone as input, as the projection discriminator paper's generator). The conditional batch
            norm conditions every scale of the image, not only the input (cgan-fashion: see its card).
        feature_pooling: how D's last feature map becomes ``phi(x)``: "sum" (global sum pooling, as
            the official projection discriminator, ``F.sum(h, axis=(2, 3))``) or "flatten" (what ganzoo
            did before; kept for files saved then).

    With ``spectral_norm=True`` the class embedding of the projection is spectrally normalized too
    (the official code's ``SNEmbedID``). Other defaults are DCGAN's (Adam(2e-4, beta_1=0.5),
    non-saturating loss, N(0, 0.02) weights); the projection follows Miyato & Koyama 2018.
    """

    requires_labels = True
    legacy_defaults = {**DCGAN.legacy_defaults, "feature_pooling": "flatten"}

    def __init__(
        self,
        num_classes: int = 10,
        embedding_dim: int = 32,
        feature_pooling: str = "sum",
        label_conditioning: str = "concat",
        **kwargs,
    ):
        if feature_pooling not in ("sum", "flatten"):
            raise ValueError(f"feature_pooling must be 'sum' or 'flatten', got {feature_pooling!r}.")
        if label_conditioning not in ("concat", "batch_norm"):
            raise ValueError(f"label_conditioning must be 'concat' or 'batch_norm', got {label_conditioning!r}.")
        self.embedding_dim = int(embedding_dim)
        self.feature_pooling = feature_pooling
        self.label_conditioning = label_conditioning
        super().__init__(num_classes=num_classes, **kwargs)

    def build_generator(self) -> keras.Model:
        z = keras.Input((self.latent_dim,), name="z")
        label = keras.Input((), dtype="int32", name="label")
        if self.label_conditioning == "batch_norm":
            return conv_generator(z, self, extra_inputs=(z, label), class_labels=label)
        embedded = keras.layers.Embedding(self.num_classes, self.embedding_dim)(label)
        joint = keras.layers.Concatenate()([z, embedded])
        return conv_generator(joint, self, extra_inputs=(z, label))

    def build_discriminator(self) -> keras.Model:
        image = keras.Input(self.image_shape, name="image")
        label = keras.Input((), dtype="int32", name="label")
        features = conv_features(image, self, pooling=self.feature_pooling)
        unconditional = maybe_spectral(keras.layers.Dense(1), self.spectral_norm)(features)
        embedding = keras.layers.Embedding(self.num_classes, features.shape[-1])
        class_embedding = maybe_spectral(embedding, self.spectral_norm)(label)
        projection = keras.layers.Dot(axes=1)([class_embedding, features])
        logit = keras.layers.Add(dtype="float32")([unconditional, projection])
        return keras.Model([image, label], logit, name="discriminator")
