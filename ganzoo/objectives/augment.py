"""Differentiable augmentation of the discriminator's inputs (real and fake alike).

A discriminator trained on few images memorises them and its feedback to the
generator degrades. Augmenting *every* image D sees -- reals and fakes, in D's
update and in G's -- with transforms that are differentiable w.r.t. the image keeps
D from memorising while the generator still learns the un-augmented distribution
(the transforms are applied to its samples too, and gradients flow through them).

* :class:`DiffAugment` (Zhao et al. 2020, "Differentiable Augmentation for
  Data-Efficient GAN Training"): colour (brightness, saturation, contrast),
  translation by up to 1/8 of the image size with zero padding, and cutout of a
  half-size square; every transform on every sample, with per-sample magnitudes.
* :class:`AdaptiveAugment` (Karras et al. 2020, StyleGAN2-ADA): x-flip, 90-degree
  rotations, integer translation (reflection padding), brightness, contrast, luma
  flip, hue and saturation, each applied to a sample with probability ``p``. ``p``
  is adjusted during training from the overfitting heuristic
  ``r_t = E[sign(D(real))]``: it rises while ``r_t > target`` and falls otherwise.

Both are Keras layers working on NHWC float images in [-1, 1]; their randomness
comes from a :class:`keras.random.SeedGenerator` they own (its state is saved with
the model, like the GAN's own). They refuse non-image inputs (the 2-D point
mixtures): use ``instance_noise`` there. ``ganzoo.GAN(augment=...)`` builds one
through :func:`get` and calls :meth:`update` with D's real logits after each
discriminator step; ``augment`` may be a name or a dict ``{"name": "ada", ...}``
whose other keys go to the constructor (it is saved in the model's config).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from ganzoo import distribute
from ganzoo.errors import unknown_name_error

__all__ = ["Augmenter", "DiffAugment", "AdaptiveAugment", "get", "AUGMENTERS"]

# The augmenter's seed differs from the model's (same user seed): otherwise its
# first draws would reuse the random stream of the latent vectors.
_SEED_OFFSET = 0x5EED


def _own_seed(seed: int | None) -> int | None:
    return None if seed is None else (int(seed) + _SEED_OFFSET) % (2**31 - 1)


class Augmenter(keras.layers.Layer):
    """Base of the augmentation layers: seed handling, input checks, state saving.

    Subclasses implement :meth:`augment` (images of a static (H, W, C), training
    only) and may implement :meth:`update`.
    """

    def __init__(self, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # augment in float32, also under mixed precision
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(_own_seed(seed), name="seed_generator")

    def call(self, images, training=None):
        if len(images.shape) != 4:
            raise ValueError(
                f"{type(self).__name__} augments NHWC images, got an input of shape {tuple(images.shape)}. "
                "It is not defined for 2-D points or flat vectors: use instance_noise for those models."
            )
        if images.shape[1] is None or images.shape[2] is None or images.shape[3] is None:
            raise ValueError(f"{type(self).__name__} needs a static image size, got shape {tuple(images.shape)}.")
        if not training:
            return images
        return self.augment(images)

    def augment(self, images):
        raise NotImplementedError

    def update(self, real_logits, threshold=0.0) -> None:
        """Called by the GAN with D's logits on (augmented) reals, and D's decision threshold, after each D step."""

    def compute_output_shape(self, input_shape):
        return input_shape

    # Randomness: the whole global batch is drawn on every replica and each keeps its
    # slice (as GAN.sample_latent), so the draws do not depend on the replica count.
    def _draw(self, distribution, shape, **kwargs):
        replicas = distribute.replicas_in_sync()
        if replicas == 1:
            return distribution(shape, seed=self.seed_generator, **kwargs)
        draw = distribution([shape[0] * replicas, *shape[1:]], seed=self.seed_generator, **kwargs)
        start = tf.distribute.get_replica_context().replica_id_in_sync_group * shape[0]
        return draw[start : start + shape[0]]

    def _uniform(self, shape, minval=0.0, maxval=1.0):
        return self._draw(keras.random.uniform, shape, minval=minval, maxval=maxval, dtype="float32")

    def _normal(self, shape):
        return self._draw(keras.random.normal, shape, dtype="float32")

    def _randint(self, shape, minval, maxval):
        """Integers in [minval, maxval)."""
        return self._draw(keras.random.randint, shape, minval=minval, maxval=maxval, dtype="int32")

    # Keras saves neither SeedGenerator states nor anything but weights by default;
    # saving the seed state lets a restored model continue the same augmentations.
    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state

    def load_own_variables(self, store) -> None:
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(store["seed_generator_state"])
        for i, variable in enumerate(self._trainable_variables + self._non_trainable_variables):
            variable.assign(store[f"{i}"])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


# ---------------------------------------------------------------------- DiffAugment
_DIFF_TRANSFORMS = ("color", "translation", "cutout")


@keras.saving.register_keras_serializable(package="ganzoo")
class DiffAugment(Augmenter):
    """DiffAugment (Zhao et al. 2020), the official TensorFlow implementation's transforms.

    Args:
        policy: comma-separated transforms, applied in this order:
            ``color``: brightness + U(-0.5, 0.5), saturation x U(0, 2) around the
            per-pixel channel mean, contrast x U(0.5, 1.5) around the image mean;
            ``translation``: shift by up to ``translation_ratio`` of the size
            (integer pixels, zero padding); ``cutout``: zero a square of
            ``cutout_ratio`` of the size at a random centre.
        translation_ratio: largest shift as a fraction of height/width (1/8).
        cutout_ratio: side of the cutout square as a fraction of height/width (1/2).
        seed: seed of the layer's own random draws.

    Every sample gets its own magnitudes; the output is differentiable w.r.t. the
    input (gathers and products). Applied only with ``training=True``.
    """

    def __init__(
        self,
        policy: str = "color,translation,cutout",
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        transforms = [t.strip() for t in policy.split(",") if t.strip()]
        for transform in transforms:
            if transform not in _DIFF_TRANSFORMS:
                raise unknown_name_error("DiffAugment transform", transform, _DIFF_TRANSFORMS)
        if not 0.0 <= translation_ratio < 1.0 or not 0.0 <= cutout_ratio <= 1.0:
            raise ValueError(
                f"translation_ratio must be in [0, 1) and cutout_ratio in [0, 1], got {translation_ratio!r}, {cutout_ratio!r}."
            )
        self.policy = ",".join(transforms)
        self.transforms = tuple(transforms)
        self.translation_ratio = float(translation_ratio)
        self.cutout_ratio = float(cutout_ratio)
        self.built = True

    def augment(self, images):
        for transform in self.transforms:
            images = getattr(self, f"_{transform}")(images)
        return images

    def _color(self, x):
        batch = ops.shape(x)[0]
        x = x + ops.reshape(self._uniform((batch,), -0.5, 0.5), (-1, 1, 1, 1))  # brightness
        mean = ops.mean(x, axis=3, keepdims=True)
        x = (x - mean) * ops.reshape(self._uniform((batch,), 0.0, 2.0), (-1, 1, 1, 1)) + mean  # saturation
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        return (x - mean) * ops.reshape(self._uniform((batch,), 0.5, 1.5), (-1, 1, 1, 1)) + mean  # contrast

    def _translation(self, x):
        batch, (height, width) = ops.shape(x)[0], x.shape[1:3]
        max_y, max_x = int(height * self.translation_ratio + 0.5), int(width * self.translation_ratio + 0.5)
        shift_y = self._randint((batch, 1), -max_y, max_y + 1)
        shift_x = self._randint((batch, 1), -max_x, max_x + 1)
        # out[i, j] = x[i - shift_y, j - shift_x], zero where that lies outside the image.
        rows = tf.range(height)[None, :] - shift_y  # (B, H)
        cols = tf.range(width)[None, :] - shift_x  # (B, W)
        x = tf.gather(x, tf.clip_by_value(rows, 0, height - 1), axis=1, batch_dims=1)
        x = tf.gather(x, tf.clip_by_value(cols, 0, width - 1), axis=2, batch_dims=1)
        inside_rows = ops.cast((rows >= 0) & (rows < height), x.dtype)[:, :, None, None]
        inside_cols = ops.cast((cols >= 0) & (cols < width), x.dtype)[:, None, :, None]
        return x * inside_rows * inside_cols

    def _cutout(self, x):
        batch, (height, width) = ops.shape(x)[0], x.shape[1:3]
        size_y, size_x = int(height * self.cutout_ratio + 0.5), int(width * self.cutout_ratio + 0.5)
        centre_y = self._randint((batch, 1), 0, height + (1 - size_y % 2))
        centre_x = self._randint((batch, 1), 0, width + (1 - size_x % 2))
        rows = tf.range(height)[None, :] - (centre_y - size_y // 2)  # position inside the square
        cols = tf.range(width)[None, :] - (centre_x - size_x // 2)
        in_rows = ops.cast((rows >= 0) & (rows < size_y), x.dtype)[:, :, None, None]
        in_cols = ops.cast((cols >= 0) & (cols < size_x), x.dtype)[:, None, :, None]
        return x * (1.0 - in_rows * in_cols)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "policy": self.policy,
            "translation_ratio": self.translation_ratio,
            "cutout_ratio": self.cutout_ratio,
        }


# ----------------------------------------------------------------- AdaptiveAugment
_ADA_TRANSFORMS = ("xflip", "rotate90", "xint", "brightness", "contrast", "lumaflip", "hue", "saturation")
DEFAULT_ADJUST_IMAGES = 20_000


def _reflect(index, size: int):
    """Mirror indices into [0, size) (reflection without repeating the edge), for |shift| < size."""
    index = ops.abs(index)
    return (size - 1) - ops.abs((size - 1) - index)


@keras.saving.register_keras_serializable(package="ganzoo")
class AdaptiveAugment(Augmenter):
    """Adaptive discriminator augmentation (Karras et al. 2020): the "blit" + "color" pipeline.

    Transforms, in this order, each applied to a sample with probability ``p``
    (strengths of the official implementation):
    ``xflip`` (then a 50 % flip), ``rotate90`` (k x 90 degrees, k uniform in 0..3;
    only 0/180 for non-square images), ``xint`` (integer translation, uniform up to
    1/8 of the size, reflection padding), ``brightness`` (+ N(0, 0.2)), ``contrast``
    (x lognormal, std 0.5 in log2 units), ``lumaflip`` (RGB only), ``hue`` (rotation
    around the grey axis, uniform in +-pi, RGB only), ``saturation`` (x lognormal,
    std 1 in log2 units, RGB only). The geometric ones are one integer index map per
    sample (a single gather); the colour ones one 4x4 colour matrix per sample.
    The paper's general geometric group (fractional scale, rotation, anisotropy)
    is not implemented.

    ``p`` is a non-trainable weight (saved with the model and by BackupAndRestore).
    :meth:`update` accumulates ``sign(D(real))`` in variables; every ``interval``
    calls it sets ``r_t`` = their mean and ``p += sign(r_t - target) * n / adjust_images``
    (``n``: reals seen over those calls, i.e. batch x interval), clipped to [0, 1].

    Args:
        target: the r_t that ``p`` steers to (0.6 in the paper).
        adjust_images: images over which ``p`` can move from 0 to 1. The paper uses
            500k images on runs of 5-25M images; the default 20,000 (about 300
            steps at batch 64) suits CPU-sized runs of 10^4-10^6 images.
        interval: D steps between adjustments (4 in the paper).
        initial_p: ``p`` at the start of training.
        transforms: comma-separated subset of the transforms above.
        seed: seed of the layer's own random draws.
    """

    def __init__(
        self,
        target: float = 0.6,
        adjust_images: int = DEFAULT_ADJUST_IMAGES,
        interval: int = 4,
        initial_p: float = 0.0,
        transforms: str = ",".join(_ADA_TRANSFORMS),
        translation_ratio: float = 0.125,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        names = [t.strip() for t in transforms.split(",") if t.strip()]
        for transform in names:
            if transform not in _ADA_TRANSFORMS:
                raise unknown_name_error("AdaptiveAugment transform", transform, _ADA_TRANSFORMS)
        if not -1.0 < target < 1.0:
            raise ValueError(f"target must be in (-1, 1), got {target!r}.")
        if adjust_images <= 0 or int(interval) < 1 or not 0.0 <= initial_p <= 1.0:
            raise ValueError(
                f"adjust_images must be > 0, interval >= 1 and initial_p in [0, 1]; got {adjust_images!r}, "
                f"{interval!r}, {initial_p!r}."
            )
        self.target = float(target)
        self.adjust_images = float(adjust_images)
        self.interval = int(interval)
        self.initial_p = float(initial_p)
        self.transforms = ",".join(names)
        self.translation_ratio = float(translation_ratio)
        self._enabled = frozenset(names)
        state = dict(shape=(), dtype="float32", trainable=False)
        self.p = self.add_weight(name="p", initializer=keras.initializers.Constant(self.initial_p), **state)
        self.r_t = self.add_weight(name="r_t", initializer="zeros", **state)  # last measured heuristic
        self.sign_sum = self.add_weight(name="sign_sum", initializer="zeros", **state)
        self.sign_count = self.add_weight(name="sign_count", initializer="zeros", **state)
        self.pending_updates = self.add_weight(name="pending_updates", initializer="zeros", **state)
        self.built = True

    # --------------------------------------------------------------- adaptation
    def update(self, real_logits, threshold=0.0) -> None:
        """Accumulate ``sign(real_logits - threshold)``; every ``interval`` calls, move ``p`` towards the target.

        ``threshold`` is D's decision threshold (0 for logistic-type losses). Graph-safe: only variable
        assignments, no Python branching on tensors.
        """
        signs = ops.sign(ops.cast(ops.reshape(real_logits, (-1,)), "float32") - ops.cast(threshold, "float32"))
        self.sign_sum.assign_add(ops.sum(signs))
        self.sign_count.assign_add(ops.cast(ops.shape(signs)[0], "float32"))
        self.pending_updates.assign_add(1.0)
        due = self.pending_updates >= float(self.interval)
        r_t = self.sign_sum / ops.maximum(self.sign_count, 1.0)
        step = ops.sign(r_t - self.target) * self.sign_count / self.adjust_images
        self.p.assign(ops.where(due, ops.clip(self.p + step, 0.0, 1.0), self.p))
        self.r_t.assign(ops.where(due, r_t, self.r_t))
        zero = ops.zeros((), "float32")
        self.sign_sum.assign(ops.where(due, zero, self.sign_sum))
        self.sign_count.assign(ops.where(due, zero, self.sign_count))
        self.pending_updates.assign(ops.where(due, zero, self.pending_updates))

    # ----------------------------------------------------------- augmentation
    def _chosen(self, batch):
        """(B,) booleans: which samples get a transform (probability p each)."""
        return self._uniform((batch,)) < ops.cast(self.p, "float32")

    def augment(self, images):
        x = self._geometric(images)
        return self._colour(x)

    def _geometric(self, x):
        wanted = self._enabled & {"xflip", "rotate90", "xint"}
        if not wanted:
            return x
        batch, (height, width) = ops.shape(x)[0], x.shape[1:3]
        zeros = tf.zeros((batch,), "int32")
        # Output pixel (i, j) reads input pixel (row, col); the transforms applied to the
        # image in the order flip -> rotate -> translate are inverted in reverse order.
        row = tf.broadcast_to(tf.range(height)[None, :, None], (batch, height, width))
        col = tf.broadcast_to(tf.range(width)[None, None, :], (batch, height, width))
        if "xint" in wanted:
            max_y = int(round(height * self.translation_ratio))
            max_x = int(round(width * self.translation_ratio))
            chosen = self._chosen(batch)
            shift_y = tf.where(chosen, self._randint((batch,), -max_y, max_y + 1), zeros)[:, None, None]
            shift_x = tf.where(chosen, self._randint((batch,), -max_x, max_x + 1), zeros)[:, None, None]
            row, col = _reflect(row - shift_y, height), _reflect(col - shift_x, width)
        if "rotate90" in wanted:
            square = height == width
            turns = self._randint((batch,), 0, 4) if square else 2 * self._randint((batch,), 0, 2)
            k = tf.where(self._chosen(batch), turns, zeros)[:, None, None]
            # np.rot90(m, k)[a, b] = m[b, W-1-a] (k=1), m[H-1-a, W-1-b] (k=2), m[H-1-b, a] (k=3).
            new_row = tf.where(k == 0, row, tf.where(k == 1, col, tf.where(k == 2, height - 1 - row, height - 1 - col)))
            new_col = tf.where(k == 0, col, tf.where(k == 1, width - 1 - row, tf.where(k == 2, width - 1 - col, row)))
            row, col = new_row, new_col
        if "xflip" in wanted:
            flip = self._chosen(batch) & (self._randint((batch,), 0, 2) == 1)
            col = tf.where(flip[:, None, None], width - 1 - col, col)
        return tf.gather_nd(x, tf.stack([row, col], axis=-1), batch_dims=1)

    def _colour(self, x):
        wanted = self._enabled & {"brightness", "contrast", "lumaflip", "hue", "saturation"}
        channels = x.shape[3]
        if channels != 3:
            wanted = wanted - {"lumaflip", "hue", "saturation"}  # need colour (as in the official code)
        if not wanted:
            return x
        batch = ops.shape(x)[0]
        eye = tf.eye(4, batch_shape=[batch])
        v = tf.constant([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3.0)  # the grey (luma) axis
        vv = tf.tensordot(v, v, axes=0)[None]  # (1, 4, 4) outer product
        colour = eye

        def maybe(matrix):  # the transform for chosen samples, identity for the others
            chosen = ops.reshape(ops.cast(self._chosen(batch), "float32"), (-1, 1, 1))
            return chosen * matrix + (1.0 - chosen) * eye

        if "brightness" in wanted:
            b = self._normal((batch,)) * 0.2
            colour = maybe(_translate3d(b, batch)) @ colour
        if "contrast" in wanted:
            c = ops.exp(self._normal((batch,)) * (0.5 * math.log(2.0)))  # 2 ** N(0, 0.5)
            colour = maybe(_scale3d(c)) @ colour
        if "lumaflip" in wanted:
            flip = ops.cast(self._randint((batch,), 0, 2), "float32")[:, None, None]
            colour = maybe(eye - 2.0 * vv * flip) @ colour
        if "hue" in wanted:
            theta = self._uniform((batch,), -math.pi, math.pi)
            colour = maybe(_rotate_about_grey(theta, batch)) @ colour
        if "saturation" in wanted:
            s = ops.exp(self._normal((batch,)) * math.log(2.0))[:, None, None]  # 2 ** N(0, 1)
            colour = maybe(vv + (eye - vv) * s) @ colour
        if channels == 3:
            matrix, offset = colour[:, :3, :3], colour[:, :3, 3]
            return tf.einsum("bij,bhwj->bhwi", matrix, x) + offset[:, None, None, :]
        # Grayscale (official code): the mean row of the colour matrix acts on the single channel.
        rows = ops.mean(colour[:, :3, :], axis=1)  # (B, 4)
        gain = ops.sum(rows[:, :3], axis=1)
        return x * gain[:, None, None, None] + rows[:, 3][:, None, None, None]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "target": self.target,
            "adjust_images": self.adjust_images,
            "interval": self.interval,
            "initial_p": self.initial_p,
            "transforms": self.transforms,
            "translation_ratio": self.translation_ratio,
        }


def _translate3d(b, batch):
    """(B, 4, 4) homogeneous translation by b along all three colour axes."""
    offset = tf.stack([b, b, b, tf.zeros_like(b)], axis=1)  # (B, 4)
    return tf.eye(4, batch_shape=[batch]) + tf.pad(offset[:, :, None], [[0, 0], [0, 0], [3, 0]])


def _scale3d(c):
    return tf.linalg.diag(tf.stack([c, c, c, tf.ones_like(c)], axis=1))


def _rotate_about_grey(theta, batch):
    """Rodrigues rotation by theta about the unit grey axis (1, 1, 1)/sqrt(3), homogeneous (B, 4, 4)."""
    a = 1.0 / math.sqrt(3.0)
    cross = tf.constant([[0.0, -a, a], [a, 0.0, -a], [-a, a, 0.0]])  # [axis]_x, the cross-product matrix
    outer = tf.fill((3, 3), a * a)  # axis axis^T
    cos, sin = ops.cos(theta)[:, None, None], ops.sin(theta)[:, None, None]
    rotation = cos * tf.eye(3)[None] + sin * cross[None] + (1.0 - cos) * outer[None]  # (B, 3, 3)
    return tf.pad(rotation, [[0, 0], [0, 1], [0, 1]]) + tf.pad(tf.ones((batch, 1, 1)), [[0, 0], [3, 0], [3, 0]])


# ----------------------------------------------------------------------- by name
AUGMENTERS: dict[str, type[Augmenter]] = {"diffaugment": DiffAugment, "ada": AdaptiveAugment}


def get(name: str | dict | Augmenter, seed: int | None = None) -> Augmenter:
    """The augmentation layer called ``name`` ("diffaugment" | "ada").

    ``name`` may also be a dict ``{"name": "ada", "target": 0.7, ...}`` (the other
    keys go to the constructor) or an :class:`Augmenter`, returned as is. ``seed``
    seeds the layer's draws unless the dict sets one.
    """
    if isinstance(name, Augmenter):
        return name
    kwargs: dict[str, Any] = {}
    if isinstance(name, dict):
        kwargs = dict(name)
        if "name" not in kwargs:
            raise ValueError(
                f"An augmentation given as a dict needs a 'name' key ({sorted(AUGMENTERS)}), got {name!r}."
            )
        name = kwargs.pop("name")
    if not isinstance(name, str) or name.lower() not in AUGMENTERS:
        raise unknown_name_error("augmentation", str(name), AUGMENTERS)
    kwargs.setdefault("seed", seed)
    return AUGMENTERS[name.lower()](**kwargs)
