"""Layers and defaults that follow the papers' official code (each test fails on the old behaviour)."""

import keras
import numpy as np
import pytest
from conftest import small_model

from ganzoo.models.layers.common import SampleLayerNorm


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
