"""Shared fixtures: tiny in-memory datasets so every test stays CPU-sized."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import ganzoo  # noqa: E402
from ganzoo.deploy import zoo  # noqa: E402

# Small configurations of every architecture, used by the tests that must cover them all.
SMALL_CONFIGS = {
    "vanilla_gan": dict(data_shape=(8, 8, 1), latent_dim=8, hidden_units=(32,)),
    "dcgan": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8),
    "cgan": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, num_classes=3),
}
# Tiny configurations of all ten architectures, for the tests every one of them must pass (export).
TINY_CONFIGS = {
    **SMALL_CONFIGS,
    "wgan_gp": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8),
    "sngan": dict(image_shape=(16, 16, 3), latent_dim=8, base_filters=8),
    "progan": dict(image_shape=(16, 16, 1), latent_dim=8, channel_base=64, channel_max=16, ema_decay=0.9),
    "stylegan": dict(
        image_shape=(16, 16, 1), latent_dim=16, mapping_layers=2, channel_base=128, channel_max=16, seed=0
    ),
    "pix2pix": dict(image_shape=(16, 16, 3), source_channels=1, base_filters=4, d_base_filters=4),
    "cyclegan": dict(
        image_shape=(16, 16, 3),
        base_filters=4,
        res_blocks=1,
        d_base_filters=4,
        pool_size=3,
        channels_b=1,
        identity_weight=0.0,
    ),
    "srgan": dict(image_shape=(16, 16, 3), scale=2, filters=4, res_blocks=1, d_base_filters=4, d_dense_units=8),
}


def small_model(name: str, **overrides) -> ganzoo.GAN:
    return ganzoo.create(name, **{**TINY_CONFIGS[name], **overrides})


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


@pytest.fixture
def zoo_dir(monkeypatch, tmp_path):
    """An empty GANZOO_ZOO_DIR and cache per test; no bundled entries, no registrations, online."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    monkeypatch.setenv("GANZOO_ZOO_DIR", str(folder))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANZOO_DOWNLOAD_TIMEOUT", "10")
    monkeypatch.delenv("GANZOO_OFFLINE", raising=False)
    monkeypatch.setattr(zoo, "bundled_dir", lambda: None)
    monkeypatch.setattr(zoo, "_REGISTERED", {})
    return folder
