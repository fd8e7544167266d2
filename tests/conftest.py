"""Shared fixtures: tiny in-memory datasets so every test stays CPU-sized."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganzoo  # noqa: E402

# Small configurations of every architecture, used by the tests that must cover them all.
SMALL_CONFIGS = {
    "vanilla_gan": dict(data_shape=(8, 8, 1), latent_dim=8, hidden_units=(32,)),
    "dcgan": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8),
    "cgan": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, num_classes=3),
}


def small_model(name: str, **overrides) -> ganzoo.GAN:
    return ganzoo.create(name, **{**SMALL_CONFIGS[name], **overrides})


def image_batches(shape, n=32, batch_size=8, num_classes=None, seed=0) -> tf.data.Dataset:
    """A fixed, unshuffled dataset of random images in [-1, 1] (with labels if num_classes)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (n, *shape)).astype("float32")
    if num_classes is None:
        return tf.data.Dataset.from_tensor_slices(images).batch(batch_size, drop_remainder=True)
    labels = rng.integers(0, num_classes, n).astype("int32")
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size, drop_remainder=True)


def dataset_for(model: ganzoo.GAN, **kwargs) -> tf.data.Dataset:
    return image_batches(model.image_shape, num_classes=model.num_classes, **kwargs)


@pytest.fixture(params=sorted(SMALL_CONFIGS))
def architecture(request) -> str:
    return request.param
