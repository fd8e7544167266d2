"""Layers and defaults that follow the papers' official code (each test fails on the old behaviour)."""

import keras
import numpy as np
import pytest
from conftest import small_model

from ganzoo.models.layers.common import SampleLayerNorm, SpectralNorm


def test_wgan_gp_critic_normalizes_each_sample_over_c_h_w_with_per_channel_affine():
    model = small_model("wgan_gp")
    norms = [layer for layer in model.discriminator.layers if isinstance(layer, SampleLayerNorm)]
    assert norms, "the critic has no per-sample layer norm"
    layer = SampleLayerNorm()
    x = np.random.default_rng(1).normal(3.0, 2.0, (4, 5, 5, 6)).astype(np.float32)
    x[..., 0] += 10.0  # one channel far off: a per-pixel norm would remove this, a per-sample one keeps it
    y = keras.ops.convert_to_numpy(layer(x))
    assert [tuple(w.shape) for w in layer.weights] == [(6,), (6,)]
    np.testing.assert_allclose(y.reshape(4, -1).mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.reshape(4, -1).std(axis=1), 1.0, atol=1e-3)
    assert y[..., 0].mean() > 1.0  # the channel stays above the others (keras' LayerNormalization(axis=-1) would not)
    keras_ln = keras.ops.convert_to_numpy(keras.layers.LayerNormalization()(x))
    assert abs(keras_ln.mean(axis=-1)).max() < 1e-4 and not np.allclose(keras_ln, y, atol=1e-2)


def test_sngan_default_optimizer_is_the_papers_setting_for_one_d_step():
    model = small_model("sngan")
    model.compile()
    assert model.d_steps == 1
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert (optimizer.beta_1, optimizer.beta_2) == (0.5, 0.999)


def _effective_sigma(layer):
    kernel = keras.ops.convert_to_numpy(layer.normalized_kernel())
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


@pytest.mark.parametrize("make", [lambda: keras.layers.Dense(7), lambda: keras.layers.Conv2D(5, 3, padding="same")])
def test_spectral_norm_keeps_the_weight_and_differentiates_through_sigma(make):
    import tensorflow as tf

    keras.utils.set_random_seed(0)  # power iteration converges at (sigma_2 / sigma_1)^2 a step: a fixed kernel
    layer = SpectralNorm(make())
    x = np.random.default_rng(2).normal(size=(4, 9) if isinstance(layer.layer, keras.layers.Dense) else (4, 6, 6, 3))
    x = x.astype(np.float32)
    layer(x)
    layer.layer.kernel.assign(layer.layer.kernel * 5.0)  # a kernel with a spectral norm far from 1
    raw_sigma = np.linalg.svd(layer.layer.kernel.numpy().reshape(-1, layer.layer.kernel.shape[-1]), compute_uv=False)[0]
    for _ in range(100):  # power iterations (one per training call)
        layer(x, training=True)
    assert abs(_effective_sigma(layer) - 1.0) < 1e-3  # the layer computes with W / sigma(W)
    stored = np.linalg.svd(layer.layer.kernel.numpy().reshape(-1, layer.layer.kernel.shape[-1]), compute_uv=False)[0]
    assert stored == pytest.approx(raw_sigma)  # the trained variable keeps its own scale (no projection)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x, training=False)))
    through_sigma = tape.gradient(loss, layer.layer.kernel).numpy()
    with tf.GradientTape() as tape:  # the same with sigma held constant
        kernel = layer.layer.kernel
        sigma = tf.stop_gradient(tf.convert_to_tensor(raw_sigma, tf.float32))
        if isinstance(layer.layer, keras.layers.Dense):
            out = tf.matmul(x, kernel / sigma) + layer.layer.bias
        else:
            out = tf.nn.conv2d(x, kernel / sigma, 1, "SAME") + layer.layer.bias
        constant_sigma = tape.gradient(tf.reduce_sum(tf.square(out)), kernel).numpy()
    assert np.abs(through_sigma - constant_sigma).max() > 1e-3 * np.abs(constant_sigma).max()


def test_sngan_discriminator_uses_the_differentiable_spectral_norm():
    model = small_model("sngan")
    wrapped = [layer for layer in model.discriminator.layers if isinstance(layer, SpectralNorm)]
    assert wrapped and not any(
        isinstance(layer, keras.layers.SpectralNormalization) for layer in model.discriminator.layers
    )
