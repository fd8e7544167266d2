"""Layers and defaults that follow the papers' official code (each test fails on the old behaviour)."""

import keras
import numpy as np
import pytest
from conftest import small_model

from ganzoo.models.layers.common import ClassAffine, SampleLayerNorm, SpectralNorm


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


# ------------------------------------------------------------------------------ issue 13: update rules
import tensorflow as tf  # noqa: E402
from conftest import dataset_for  # noqa: E402

import ganzoo  # noqa: E402
from ganzoo.models.layers.common import MinibatchStdDev, pack_samples  # noqa: E402
from ganzoo.objectives import losses  # noqa: E402


def _pairs(model, n=8, batch_size=4, seed=0):
    rng = np.random.default_rng(seed)
    size, _, channels = model.image_shape
    low = size // getattr(model, "scale", 1)
    source = rng.uniform(-1, 1, (n, low, low, channels)).astype("float32")
    target = rng.uniform(-1, 1, (n, size, size, model.shape_b[2] if hasattr(model, "shape_b") else channels))
    return tf.data.Dataset.from_tensor_slices((source, target.astype("float32"))).batch(batch_size)


@pytest.mark.parametrize("name", ["cyclegan", "srgan"])
def test_ada_probability_moves_in_cyclegan_and_srgan(name):
    """A D that overfits (8 fixed reals) must raise ADA's p; before, these variants never updated it."""
    overrides = {"augment": {"name": "ada", "adjust_images": 64, "interval": 1}}
    model = small_model(name, **overrides)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-2))
    model.fit(_pairs(model).repeat(), steps_per_epoch=12, epochs=1, verbose=0)
    assert float(model.augmenter.p.numpy()) > 0.0


def test_ada_threshold_of_a_wasserstein_critic_is_the_midpoint_of_its_scores():
    model = small_model("wgan_gp", augment="ada")
    model.compile()
    seen = []
    model.augmenter.update = lambda real, threshold=0.0: seen.append(float(threshold))
    model.adapt_augmentation(tf.constant([[5.0], [7.0]]), tf.constant([[1.0], [3.0]]))
    assert seen == [4.0]  # (6 + 2) / 2: the sign of real - 0 would call every real "real" here
    model.compile(loss="hinge")
    model.adapt_augmentation(tf.constant([[5.0]]), tf.constant([[1.0]]))
    assert seen[-1] == 0.0
    model.compile(loss="least_squares")  # targets 0 (fake) and 1 (real)
    model.adapt_augmentation(tf.constant([[5.0]]), tf.constant([[1.0]]))
    assert seen[-1] == 0.5
    stats = model.discriminator_stats(tf.constant([[0.6], [0.4]]), tf.constant([[0.2], [0.45]]))
    assert float(stats["d_accuracy"]) == 0.75  # 0.6 real, 0.2 and 0.45 fake: three of four at 0.5


def test_penalties_are_taken_with_respect_to_the_clean_reals():
    """R1 of D(view(x)) w.r.t. x: with a view that doubles its input the penalty is 4x that w.r.t. the view."""
    model = small_model("dcgan", r1_gamma=2.0, d_norm="none")
    real = tf.constant(np.random.default_rng(0).uniform(-0.4, 0.4, (4, 16, 16, 1)), tf.float32)
    model.discriminator_view = lambda x: 2.0 * x
    clean = float(model.discriminator_penalties(real, real, None))
    with tf.GradientTape() as tape:
        seen = 2.0 * real
        tape.watch(seen)
        score = model.discriminate(seen, None)
    on_view = float(np.mean(np.sum(np.square(tape.gradient(score, seen).numpy()).reshape(4, -1), axis=1)))
    assert clean == pytest.approx(0.5 * 2.0 * 4.0 * on_view, rel=1e-4)


def test_ema_generator_batch_norm_statistics_are_its_own():
    """The EMA generator's BatchNorm statistics come from its own (averaged) weights' activations."""
    model = small_model("dcgan", ema_decay=0.5)
    ema, live = model.ema_generator, model.generator
    bn_ema = [layer for layer in ema.layers if isinstance(layer, keras.layers.BatchNormalization)][0]
    bn_ema.momentum = 0.0  # the moving statistics become the last batch's: comparable in one step
    dense = [layer for layer in live.layers if isinstance(layer, keras.layers.Dense)][0]
    dense.kernel.assign(dense.kernel * 3.0)  # the live generator now differs from the EMA one
    z = tf.constant(np.random.default_rng(1).standard_normal((4096, model.latent_dim)), tf.float32)
    model.update_ema(z)  # EMA kernel: (1 + 3) / 2 = 2x the initial one
    pre_bn = keras.Model(ema.inputs, ema.get_layer(index=ema.layers.index(bn_ema) - 1).output)
    actual = keras.ops.convert_to_numpy(pre_bn(z, training=False)).var(axis=0)
    stored = bn_ema.moving_variance.numpy()
    np.testing.assert_allclose(stored, actual, rtol=0.01)
    live_bn = [layer for layer in live.layers if isinstance(layer, keras.layers.BatchNormalization)][0]
    assert not np.allclose(stored, live_bn.moving_variance.numpy(), rtol=0.1)  # not a copy of the live ones


def test_ema_rampup_starts_from_a_copy_and_reaches_the_decay():
    model = small_model("dcgan", ema_decay=0.999, ema_rampup=0.05)
    assert float(model.ema_beta()) == 0.0  # step 0: the EMA is the generator
    model.ema_steps.assign(10)
    half_life = 0.05 * 10
    assert float(model.ema_beta()) == pytest.approx(0.5 ** (1 / half_life), rel=1e-5)
    model.ema_steps.assign(10**7)
    assert float(model.ema_beta()) == pytest.approx(0.999, rel=1e-6)
    assert ganzoo.create("stylegan", **{**small_model_config("stylegan")}).ema_rampup == 0.05  # ADA's default


def small_model_config(name):
    from conftest import TINY_CONFIGS

    return TINY_CONFIGS[name]


def test_packing_pairs_real_with_real_and_fake_with_fake():
    x = np.arange(6 * 2, dtype="float32").reshape(6, 2)
    packed = keras.ops.convert_to_numpy(pack_samples(x, 3))
    np.testing.assert_array_equal(packed, [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    images = np.random.default_rng(0).normal(size=(5, 4, 4, 3)).astype("float32")
    packed = keras.ops.convert_to_numpy(pack_samples(images, 2))  # 5 -> 3 packs, the first image completes the last
    assert packed.shape == (3, 4, 4, 6)
    np.testing.assert_array_equal(packed[1, ..., :3], images[2])
    np.testing.assert_array_equal(packed[2, ..., 3:], images[0])
    model = ganzoo.create("vanilla_gan", pack=4, seed=0)
    assert model.discriminator.input_shape == (None, 8)
    dcgan = small_model("dcgan", pack=2)
    assert dcgan.discriminator.input_shape == (None, 16, 16, 2)
    judged = []
    dcgan.discriminator = _Recorder(dcgan.discriminator, judged)
    dcgan.compile(run_eagerly=True)
    real = np.full((4, 16, 16, 1), 0.5, "float32")
    dcgan.discriminator_step(tf.constant(real), None)
    real_packs, fake_packs = judged[0], judged[1]
    assert real_packs.shape == fake_packs.shape == (2, 16, 16, 2)
    assert np.all(real_packs == 0.5) and not np.any(fake_packs == 0.5)  # never a real next to a fake
    with pytest.raises(ValueError, match="does not support PacGAN packing"):
        small_model("cgan", pack=2)


class _Recorder:
    """Stands in for D, recording what it judges."""

    def __init__(self, network, log):
        self.network, self.log = network, log
        self.trainable_variables = network.trainable_variables

    def __call__(self, x, training=False):
        self.log.append(np.asarray(x))
        return self.network(x, training=training)


def test_minibatch_stddev_uses_groups_of_four():
    x = np.random.default_rng(0).normal(size=(8, 2, 2, 3)).astype("float32")
    x[1::2] *= 10.0  # group (n mod 2) = 1 is ten times as spread out as group 0
    out = keras.ops.convert_to_numpy(MinibatchStdDev(4)(x))[..., -1]
    grouped = x.reshape(4, 2, -1)
    expected = np.sqrt(grouped.var(axis=0) + 1e-8).mean(axis=1)
    np.testing.assert_allclose(out[:, 0, 0], np.tile(expected, 4), rtol=1e-5)
    assert out[1, 0, 0] > 5 * out[0, 0, 0]  # one statistic for the whole batch could not tell them apart
    odd = keras.ops.convert_to_numpy(MinibatchStdDev(4)(x[:6]))  # 6: groups of 3
    assert np.isfinite(odd).all()
    assert small_model("dcgan", minibatch_std=True).mbstd_group_size == 4


def test_projection_discriminator_sum_pools_and_normalizes_its_class_embedding():
    model = small_model("cgan", spectral_norm=True, d_norm="none")
    names = [type(layer).__name__ for layer in model.discriminator.layers]
    assert "SumPooling" in names and "Flatten" not in names
    wrapped = [layer for layer in model.discriminator.layers if isinstance(layer, SpectralNorm)]
    assert any(isinstance(layer.layer, keras.layers.Embedding) for layer in wrapped)
    layer = SpectralNorm(keras.layers.Embedding(5, 7))
    layer(np.arange(5))
    layer.layer.embeddings.assign(layer.layer.embeddings * 9.0)
    for _ in range(100):
        layer(np.arange(5), training=True)
    table = keras.ops.convert_to_numpy(layer(np.arange(5)))
    assert np.linalg.svd(table, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)


def test_conditional_batch_norm_generator_gives_each_class_its_own_scale_and_shift():
    model = small_model("cgan", label_conditioning="batch_norm")
    layers = model.generator.layers
    affine = [layer for layer in layers if isinstance(layer, ClassAffine)]
    batch_norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(affine) == len(batch_norms) == 2 and not any(bn.center or bn.scale for bn in batch_norms)
    assert not any(isinstance(layer, keras.layers.Embedding) for layer in layers)  # z alone, no concatenation
    # The layer itself: x * gamma[y] + beta[y], per channel, on (B, C) and (B, H, W, C).
    layer = ClassAffine(3)
    x = np.ones((2, 2, 2, 4), "float32")
    layer([x, np.array([0, 2])])
    layer.gamma.assign(np.arange(12, dtype="float32").reshape(3, 4))
    layer.beta.assign(np.full((3, 4), 0.5, "float32"))
    out = keras.ops.convert_to_numpy(layer([x, np.array([0, 2])]))
    np.testing.assert_allclose(out[0, 1, 1], [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(out[1, 0, 0], [8.5, 9.5, 10.5, 11.5])
    # Moving one class's gains changes that class's images only.
    z = np.random.default_rng(0).standard_normal((2, 8)).astype("float32")
    before = keras.ops.convert_to_numpy(model.generator([z, np.array([0, 1])], training=False))
    affine[-1].gamma.assign(affine[-1].gamma * np.array([[3.0], [1.0], [1.0]], "float32"))
    after = keras.ops.convert_to_numpy(model.generator([z, np.array([0, 1])], training=False))
    assert np.abs(after[0] - before[0]).max() > 1e-3 and np.abs(after[1] - before[1]).max() == 0.0


def test_patchgan_defaults_to_the_papers_70px_field_at_every_size():
    from ganzoo.models.nets.image import patchgan_receptive_field

    for name in ("pix2pix", "cyclegan"):
        model = small_model(name, image_shape=(32, 32, 3))
        assert model.d_layers == 3 and patchgan_receptive_field(model.d_layers) == 70


def test_dcgan_family_initializes_kernels_from_n_0_0_02():
    model = small_model("dcgan", base_filters=16)
    kernel = [w for w in model.generator.weights if "kernel" in w.path][1].numpy()
    assert kernel.std() == pytest.approx(0.02, rel=0.1) and abs(kernel.mean()) < 0.005
    assert small_model("wgan_gp").weight_init == "glorot"


def test_progan_resets_adam_at_each_new_resolution():
    model = small_model("progan", stable_images=16, fade_images=16)
    model.compile()
    data = dataset_for(model).repeat()
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == 1 and model.level == 0
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)  # 16 images: grows to 8x8 after this step
    assert model.level == 1
    assert int(model.d_optimizer.iterations.numpy()) == 0 and int(model.g_optimizer.iterations.numpy()) == 0
    moments = [v.numpy() for v in model.d_optimizer.variables if v is not model.d_optimizer.iterations]
    assert all(not np.any(m) for m in moments if m.ndim > 0)
    assert float(model.d_optimizer.learning_rate) == pytest.approx(1e-3)  # settings are kept


def test_stylegan_lazy_regularization_is_its_own_step_with_the_official_correction():
    model = small_model("stylegan", r1_interval=4)
    model.compile()
    assert float(model.d_optimizer.learning_rate) == pytest.approx(2e-3 * 4 / 5)
    assert model.d_optimizer.beta_2 == pytest.approx(0.99 ** (4 / 5))
    assert float(model.g_optimizer.learning_rate) == pytest.approx(2e-3)  # pl_weight=0: no G regularization
    model.fit(dataset_for(model).repeat(), steps_per_epoch=8, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == 8 + 2  # two separate R1 steps (steps 0 and 4)
    merged = small_model("stylegan", r1_interval=4, lazy_regularization="merged")
    merged.compile()
    assert float(merged.d_optimizer.learning_rate) == pytest.approx(2e-3)
    merged.fit(dataset_for(merged).repeat(), steps_per_epoch=8, epochs=1, verbose=0)
    assert int(merged.d_optimizer.iterations.numpy()) == 8
    # a file saved before the option existed loads as it was trained: merged
    config = {k: v for k, v in merged.get_config().items() if k != "lazy_regularization"}
    assert type(merged).from_config(config).lazy_regularization == "merged"


def test_srgan_discriminator_content_features_do_not_depend_on_the_batch():
    model = small_model("srgan", content_loss="discriminator")
    model.compile(phase="adversarial")
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype("float32")
    alone = keras.ops.convert_to_numpy(model.content_features(images[:1]))
    together = keras.ops.convert_to_numpy(model.content_features(images))[:1]
    np.testing.assert_allclose(alone, together, rtol=1e-4, atol=1e-5)


def test_relativistic_loss_and_r2_penalty():
    real, fake = tf.constant([[2.0], [0.0]]), tf.constant([[0.0], [1.0]])
    loss = losses.get("relativistic")
    expected_d = np.mean(np.log1p(np.exp(-(np.array([2.0, 0.0]) - np.array([0.0, 1.0])))))
    assert float(loss.d(real, fake)) == pytest.approx(expected_d, rel=1e-5)
    assert float(loss.g(fake, real)) == pytest.approx(np.mean(np.log1p(np.exp([2.0, -1.0]))), rel=1e-5)
    model = ganzoo.create("vanilla_gan", r1_gamma=1.0, r2_gamma=1.0, seed=0)
    model.compile(loss="relativistic")
    points = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    history = model.fit(tf.data.Dataset.from_tensor_slices(points).batch(16), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    with pytest.raises(ValueError, match="relativistic"):
        small_model("stylegan").compile(loss="relativistic")


def test_files_saved_before_new_options_load_with_their_old_behaviour():
    old = {k: v for k, v in small_model("dcgan", minibatch_std=True).get_config().items() if k != "mbstd_group_size"}
    assert ganzoo.models.dcgan.DCGAN.from_config(old).mbstd_group_size is None
    cgan = {k: v for k, v in small_model("cgan").get_config().items() if k != "feature_pooling"}
    assert ganzoo.models.cgan.CGAN.from_config(cgan).feature_pooling == "flatten"
    points = {k: v for k, v in ganzoo.create("vanilla_gan").get_config().items() if k != "standardize"}
    assert ganzoo.models.vanilla_gan.VanillaGAN.from_config(points).standardize is False


def test_top_k_keeps_the_fakes_d_scores_highest_after_its_decay():
    model = ganzoo.create("vanilla_gan", top_k=0.5, top_k_decay=0.5, top_k_steps=1, seed=0)
    model.compile()
    logits = tf.constant(np.arange(8, dtype="float32")[:, None])
    kept, _ = model.top_k_logits(logits)
    assert sorted(kept.numpy().tolist()) == list(range(8))  # step 0: the whole batch
    model.g_optimizer.iterations.assign(1)  # fraction max(0.5, 0.5 ** 1)
    kept, real = model.top_k_logits(logits, -logits)
    assert sorted(kept.numpy().tolist()) == [4.0, 5.0, 6.0, 7.0]
    assert sorted(real.numpy().tolist()) == [-7.0, -6.0, -5.0, -4.0]  # the paired reals follow their fakes
