"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

Two ResNet generators, ``G: A -> B`` and ``F: B -> A`` (``ganzoo.nets_image.resnet_generator``,
instance norm, reflection padding) and two PatchGAN discriminators ``D_A`` and ``D_B``.
In the model they are held as one two-input functional model each, so that the base's two
optimizers, EMA and saving cover both networks of a pair::

    model.generator:      [image_a, image_b] -> [G(image_a), F(image_b)]
    model.discriminator:  [image_a, image_b] -> [D_A(image_a), D_B(image_b)]

Objective (as the reference code): least-squares GAN terms for G and F, ``E[(D(G(a)) - 1)^2]``
(twice ganzoo's ``least_squares`` G loss, which carries a 1/2, so that ``cycle_weight`` keeps the
paper's meaning), cycle consistency ``cycle_weight * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)`` with
weight 10, identity ``identity_weight * cycle_weight * (|G(b) - b|_1 + |F(a) - a|_1)`` with
``identity_weight = 0.5``; each D minimises ``0.5 E[(D(x) - 1)^2] + 0.5 E[D(fake)^2]`` on fakes
drawn from a history pool of the last ``pool_size = 50`` generated images (Shrivastava et al.
2017). G and F are updated first, then the discriminators, as in the reference code.
Learning-rate decay: compile with ``paper_optimizers(steps_per_epoch)`` (constant then linear
to zero, :class:`ganzoo.nets_image.LinearDecay`).

Data: ``(a, b)`` batches of unpaired images (``ganzoo.image_tasks.load_unpaired``).
Inference: ``model(a)`` and ``model.translate(x)`` go A -> B; ``model.translate(x, "b2a")``
goes back. ``export_endpoints()`` is ``{"a2b": G, "b2a": F}``.
The history pools are model state (saved with the model); they assume one replica.
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
    resnet_generator,
)
from ganzoo.objectives.schedules import LinearDecay
from ganzoo.registry import register_architecture


@keras.saving.register_keras_serializable(package="ganzoo")
class ImagePool(keras.layers.Layer):
    """History of generated images (Shrivastava et al. 2017) shown to a discriminator.

    ``query(images, swap_draws, slot_draws)``: while the pool is filling, each image is stored and
    returned; once full, each image is, with probability 1/2, swapped with a stored one (which is
    returned instead) at a random slot, else returned as is. A batch is processed as the
    reference implementation's per-image loop, except that swaps within one batch use distinct
    slots. Randomness comes from the caller (uniform draws of shape (B,) and (size,)).
    """

    def __init__(self, size: int = 50, image_shape=(64, 64, 3), **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.image_shape = tuple(int(s) for s in image_shape)
        if self.size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}.")
        if self.size:
            self.images = self.add_weight(
                shape=(self.size, *self.image_shape), initializer="zeros", trainable=False, name="images"
            )
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="count")
        self.built = True

    def query(self, images, swap_draws, slot_draws):
        if not self.size:
            return images
        images = tf.cast(images, self.images.dtype)
        batch = tf.shape(images)[0]
        position = self.count + tf.range(batch)
        filling = position < self.size
        pool = tf.tensor_scatter_nd_update(
            tf.convert_to_tensor(self.images),
            tf.boolean_mask(position, filling)[:, None],
            tf.boolean_mask(images, filling),
        )
        slots = tf.gather(tf.argsort(slot_draws), tf.range(batch) % self.size)  # distinct when batch <= size
        swap = tf.logical_and(tf.logical_not(filling), swap_draws < 0.5)
        returned = tf.where(swap[:, None, None, None], tf.gather(pool, slots), images)
        pool = tf.tensor_scatter_nd_update(pool, tf.boolean_mask(slots, swap)[:, None], tf.boolean_mask(images, swap))
        self.images.assign(pool)
        self.count.assign(tf.minimum(self.count + batch, self.size))
        return returned

    def get_config(self):
        return {**super().get_config(), "size": self.size, "image_shape": list(self.image_shape)}


def paper_optimizers(
    steps_per_epoch: int,
    constant_epochs: int = 100,
    decay_epochs: int = 100,
    learning_rate: float = 2e-4,
    beta_1: float = 0.5,
):
    """(g_optimizer, d_optimizer): Adam(2e-4, beta_1=0.5), constant for ``constant_epochs`` then linearly to 0."""

    def make():
        schedule = LinearDecay(learning_rate, constant_epochs * steps_per_epoch, max(1, decay_epochs * steps_per_epoch))
        return keras.optimizers.Adam(schedule, beta_1=beta_1)

    return make(), make()


@register_architecture("cyclegan")
@keras.saving.register_keras_serializable(package="ganzoo")
class CycleGAN(ImageToImageGAN):
    """Unpaired A <-> B translation.

    Args:
        image_shape: (size, size, channels) of domain A training crops.
        channels_b: channels of domain B (None = as A); identity loss needs equal channels.
        base_filters: generators' first width (64 in the paper); ``res_blocks`` residual blocks
            (9 at 256 px, 6 at 128 px in the paper); ``downsamplings`` stride-2 steps (2, the paper's for
            128-256 px; cyclegan-hue's 32 px patches keep more detail through a 16 px bottleneck with 1).
        d_base_filters, d_layers: PatchGAN width and stride-2 layers (3 = the official 70 px field at every
            size; None scales the field with the image size, 16 px at 32-64 px).
        norm: "instance" (paper) or "batch" (the official code's ``--norm batch``). Instance norm removes each
            image's mean and contrast per feature at the first layer, so the generators cannot pass an input's
            overall colour straight through; on small patches that is most of what a colour map must keep (cyclegan-hue,
            32 px: held-out cycle PSNR 10.6 / 14.2 dB after 1,000 steps with instance norm and no identity loss,
            21.1 / 19.2 dB with batch norm).
        cycle_weight: lambda of the cycle-consistency L1 terms (10).
        identity_weight: identity loss weight as a fraction of ``cycle_weight`` (0.5; 0 disables).
        pool_size: images in each history pool (50; 0 shows D the latest fakes only).
        upsampling: "transpose" (the paper's fractionally strided convolutions) or "resize" (nearest x2
            and a convolution: no checkerboard artefacts, Odena et al. 2016).

    Defaults (Zhu et al. 2017, section 4, and the official code): ``compile()`` uses the
    least-squares loss and Adam(2e-4, beta_1=0.5) (use ``LinearDecay`` for the paper's 100 + 100
    epoch schedule); instance norm, a 70 x 70 PatchGAN, a 50-image history pool, cycle weight 10
    and identity weight 0.5. Kernels keep Keras' Glorot initializer (the official code: N(0, 0.02)).
    """

    data_kind = "unpaired"  # (a, b) batches of the two domains

    def __init__(
        self,
        image_shape=(64, 64, 3),
        channels_b: int | None = None,
        base_filters: int = 64,
        res_blocks: int = 9,
        downsamplings: int = 2,
        d_base_filters: int = 64,
        d_layers: int | None = 3,
        norm: str = "instance",
        cycle_weight: float = 10.0,
        identity_weight: float = 0.5,
        pool_size: int = 50,
        upsampling: str = "transpose",
        **kwargs,
    ):
        self.image_shape = check_square_shape(image_shape)
        self.upsampling = check_upsampling(upsampling)
        if channels_b is not None and channels_b not in (1, 3):
            raise ValueError(f"channels_b must be 1, 3 or None, got {channels_b!r}.")
        self.channels_b = channels_b
        self.base_filters = int(base_filters)
        self.res_blocks = int(res_blocks)
        self.downsamplings = int(downsamplings)
        if self.image_shape[0] % 2**self.downsamplings:
            raise ValueError(f"image size {self.image_shape[0]} must be a multiple of 2**downsamplings.")
        self.d_base_filters = int(d_base_filters)
        self.d_layers = d_layers
        self.norm = norm
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        if self.identity_weight and self.image_shape[2] != self.shape_b[2]:
            raise ValueError("the identity loss needs domains with the same channels: set identity_weight=0.")
        self.pool_size = int(pool_size)
        if kwargs.get("ema_decay") is not None or kwargs.get("d_steps", 1) != 1:
            raise ValueError("cyclegan supports neither ema_decay nor d_steps != 1.")
        super().__init__(**kwargs)
        self.pool_a = ImagePool(self.pool_size, self.image_shape, name="pool_a")
        self.pool_b = ImagePool(self.pool_size, self.shape_b, name="pool_b")

    @property
    def shape_b(self) -> tuple[int, int, int]:
        return (*self.image_shape[:2], self.channels_b or self.image_shape[2])

    @property
    def size_multiple(self) -> int:
        return 2**self.downsamplings

    # ---------------------------------------------------------------- networks
    def build_generator(self) -> keras.Model:
        ca, cb = self.image_shape[2], self.shape_b[2]
        make = lambda cin, cout, name: resnet_generator(  # noqa: E731
            cin, cout, self.base_filters, self.res_blocks, self.downsamplings, self.norm, name, self.upsampling
        )
        g, f = make(ca, cb, "generator_a2b"), make(cb, ca, "generator_b2a")
        a = keras.Input((None, None, ca), name="image_a")
        b = keras.Input((None, None, cb), name="image_b")
        return keras.Model([a, b], [g(a), f(b)], name="generator")

    def build_discriminator(self) -> keras.Model:
        n_layers = self.d_layers or patchgan_layers_for(self.image_shape[0])
        d_a = patchgan_discriminator(
            self.image_shape, 0, self.d_base_filters, n_layers, self.norm, name="discriminator_a"
        )
        d_b = patchgan_discriminator(self.shape_b, 0, self.d_base_filters, n_layers, self.norm, name="discriminator_b")
        a = keras.Input(self.image_shape, name="image_a")
        b = keras.Input(self.shape_b, name="image_b")
        return keras.Model([a, b], [d_a(a), d_b(b)], name="discriminator")

    @property
    def generator_a2b(self) -> keras.Model:
        return self.generator.get_layer("generator_a2b")

    @property
    def generator_b2a(self) -> keras.Model:
        return self.generator.get_layer("generator_b2a")

    @property
    def discriminator_a(self) -> keras.Model:
        return self.discriminator.get_layer("discriminator_a")

    @property
    def discriminator_b(self) -> keras.Model:
        return self.discriminator.get_layer("discriminator_b")

    def export_endpoints(self) -> dict[str, keras.Model]:
        return {"a2b": self.generator_a2b, "b2a": self.generator_b2a}

    def call(self, inputs, training: bool = False):
        """A -> B (``G``)."""
        return self.generator_a2b(inputs, training=training)

    def compile(self, g_optimizer=None, d_optimizer=None, loss="least_squares", **kwargs) -> None:
        """As :meth:`ganzoo.GAN.compile`, with the paper's least-squares loss by default."""
        super().compile(g_optimizer=g_optimizer, d_optimizer=d_optimizer, loss=loss, **kwargs)

    # ---------------------------------------------------------------- training
    def _g_adversarial(self, logits):
        loss = self.adversarial_loss.g(logits)
        return 2.0 * loss if self.adversarial_loss.name == "least_squares" else loss

    def train_step(self, data):
        real_a, real_b = self.unpack_batch(data)
        g, f = self.generator_a2b, self.generator_b2a
        d_a, d_b = self.discriminator_a, self.discriminator_b
        l1 = lambda x, y: ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))  # noqa: E731
        with tf.GradientTape() as g_tape:
            fake_b, fake_a = g(real_a, training=True), f(real_b, training=True)
            cycle = l1(f(fake_b, training=True), real_a) + l1(g(fake_a, training=True), real_b)
            adversarial = self._g_adversarial(
                d_b(self.discriminator_view(fake_b), training=True)
            ) + self._g_adversarial(d_a(self.discriminator_view(fake_a), training=True))
            g_loss = adversarial + self.cycle_weight * cycle
            identity = ops.zeros((), "float32")
            if self.identity_weight:
                identity = l1(g(real_b, training=True), real_b) + l1(f(real_a, training=True), real_a)
                g_loss = g_loss + self.identity_weight * self.cycle_weight * identity
        g_grad_norm = self.apply_gradients(g_tape, g_loss, self.generator, self.g_optimizer)

        batch = ops.shape(real_a)[0]
        pooled_a = self.pool_a.query(
            ops.stop_gradient(fake_a), self.sample_uniform((batch,)), self.sample_uniform((max(self.pool_size, 1),))
        )
        pooled_b = self.pool_b.query(
            ops.stop_gradient(fake_b), self.sample_uniform((batch,)), self.sample_uniform((max(self.pool_size, 1),))
        )
        target = 1.0 - self.label_smoothing
        with tf.GradientTape() as d_tape:
            seen = [self.discriminator_view(x) for x in (real_a, pooled_a, real_b, pooled_b)]
            real_a_logits, fake_a_logits = d_a(seen[0], training=True), d_a(seen[1], training=True)
            real_b_logits, fake_b_logits = d_b(seen[2], training=True), d_b(seen[3], training=True)
            d_loss_a = self.adversarial_loss.d(real_a_logits, fake_a_logits, real_target=target)
            d_loss_b = self.adversarial_loss.d(real_b_logits, fake_b_logits, real_target=target)
            d_loss = d_loss_a + d_loss_b
            score_a = lambda x: d_a(x, training=True)  # noqa: E731
            score_b = lambda x: d_b(x, training=True)  # noqa: E731
            total = (
                d_loss
                + self.discriminator_penalties(real_a, pooled_a, None, critic=score_a)
                + self.discriminator_penalties(real_b, pooled_b, None, critic=score_b)
            )
        d_grad_norm = self.apply_gradients(d_tape, total, self.discriminator, self.d_optimizer)
        real_logits = ops.concatenate([ops.reshape(real_a_logits, (-1,)), ops.reshape(real_b_logits, (-1,))])
        fake_logits = ops.concatenate([ops.reshape(fake_a_logits, (-1,)), ops.reshape(fake_b_logits, (-1,))])
        self.adapt_augmentation(real_logits, fake_logits)  # one augmentation probability for both domains
        stats = self.discriminator_stats(real_logits, fake_logits)
        return self.record(
            g_loss=g_loss,
            g_adversarial=adversarial,
            cycle=cycle,
            identity=identity,
            g_grad_norm=g_grad_norm,
            d_loss=d_loss,
            d_loss_a=d_loss_a,
            d_loss_b=d_loss_b,
            d_grad_norm=d_grad_norm,
            **stats,
        )

    def test_step(self, data):
        """Held-out (a, b): cycle L1 (``cycle``), per-direction cycle errors, identity L1 and D's losses."""
        real_a, real_b = self.unpack_batch(data)
        g, f = self.generator_a2b, self.generator_b2a
        fake_b, fake_a = g(real_a, training=False), f(real_b, training=False)
        l1 = lambda x, y: ops.mean(ops.abs(ops.cast(x, "float32") - ops.cast(y, "float32")))  # noqa: E731
        cycle_a, cycle_b = l1(f(fake_b, training=False), real_a), l1(g(fake_a, training=False), real_b)
        fake_b_logits, fake_a_logits = (
            self.discriminator_b(fake_b, training=False),
            self.discriminator_a(fake_a, training=False),
        )
        real_a_logits, real_b_logits = (
            self.discriminator_a(real_a, training=False),
            self.discriminator_b(real_b, training=False),
        )
        adversarial = self._g_adversarial(fake_b_logits) + self._g_adversarial(fake_a_logits)
        logs = dict(
            cycle=cycle_a + cycle_b,
            cycle_a=cycle_a,
            cycle_b=cycle_b,
            g_adversarial=adversarial,
            d_loss=self.adversarial_loss.d(real_a_logits, fake_a_logits)
            + self.adversarial_loss.d(real_b_logits, fake_b_logits),
        )
        logs["g_loss"] = adversarial + self.cycle_weight * logs["cycle"]
        if self.identity_weight:
            logs["identity"] = l1(g(real_b, training=False), real_b) + l1(f(real_a, training=False), real_a)
            logs["g_loss"] = logs["g_loss"] + self.identity_weight * self.cycle_weight * logs["identity"]
        return self.record(**logs)
