"""Training stabilizers: each switch trains a small DCGAN through fit; augmentation; wgan_gp and sngan."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import SMALL_CONFIGS, dataset_for, small_model

import ganzoo
from ganzoo.errors import UnknownNameError
from ganzoo.models.layers.common import MinibatchStdDev, SpectralNorm
from ganzoo.objectives import augment

LOGGED = ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")


def _weights(network):
    return [v.numpy().copy() for v in network.trainable_variables]


def _train(model_kwargs=None, compile_kwargs=None, setup=None, run_eagerly=True):
    """A seeded small DCGAN trained for one epoch of 2 steps: (model, history, initial G and D weights).

    Eager by default: tracing the train step costs several times more CPU than two
    steps, and the tests must stay short on shared cores. The new code paths that
    must also work in a graph (augmentation, ADA's update) have graph-mode tests below.
    """
    keras.utils.set_random_seed(0)
    model = small_model("dcgan", seed=0, **(model_kwargs or {}))
    model.compile(run_eagerly=run_eagerly, **(compile_kwargs or {}))
    if setup is not None:
        setup(model)
    before = _weights(model.generator), _weights(model.discriminator)
    history = model.fit(dataset_for(model, n=16), epochs=1, verbose=0).history
    return model, history, before


@pytest.fixture(scope="module")
def baseline_history():
    return _train()[1]


def _layer_types(network):
    types = set()
    for layer in network.layers:
        types.add(type(layer))
        if isinstance(layer, SpectralNorm):
            types.add(type(layer.layer))
    return types


def _check_ema(model):
    pairs = [
        (e.numpy(), v.numpy()) for e, v in zip(model.ema_generator.weights, model.generator.weights) if v.trainable
    ]
    assert pairs and any(not np.allclose(e, v) for e, v in pairs), "the EMA generator equals the live one"
    z = np.zeros((2, model.latent_dim), "float32")
    np.testing.assert_allclose(model(z).numpy(), model.ema_generator(z, training=False).numpy())


def _check_gp(model):
    assert model.gp_weight == 10.0 and model.adversarial_loss.name == "wasserstein"
    assert keras.layers.BatchNormalization not in _layer_types(model.discriminator)


def _check_spectral(model):
    assert SpectralNorm in _layer_types(model.discriminator)


def _check_ttur(model):
    assert float(model.g_optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(model.d_optimizer.learning_rate) == pytest.approx(4e-4)


def _set_ada_p(model):
    model.augmenter.p.assign(0.5)  # start augmenting at once (the default initial p is 0)


def _check_ada(model):
    assert isinstance(model.augmenter, augment.AdaptiveAugment)
    assert float(model.augmenter.pending_updates.numpy()) == 2.0  # one update per D step, interval 4


STABILIZERS = {
    # name: (model kwargs, compile kwargs, setup before fit, extra check after fit)
    "ema": (dict(ema_decay=0.9), {}, None, _check_ema),
    "gradient_penalty": (dict(gp_weight=10.0, d_norm="layer"), dict(loss="wasserstein"), None, _check_gp),
    "r1": (dict(r1_gamma=1.0), {}, None, None),
    "spectral_norm": (dict(spectral_norm=True, d_norm="none"), {}, None, _check_spectral),
    "hinge": (dict(spectral_norm=True, d_norm="none"), dict(loss="hinge"), None, None),
    "two_time_scale": (
        {},
        dict(g_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5), d_optimizer=keras.optimizers.Adam(4e-4, beta_1=0.5)),
        None,
        _check_ttur,
    ),
    "label_smoothing": (dict(label_smoothing=0.1), {}, None, None),
    "instance_noise": (dict(instance_noise=0.1), {}, None, None),
    "minibatch_std": (
        dict(minibatch_std=True),
        {},
        None,
        lambda m: MinibatchStdDev in _layer_types(m.discriminator) or pytest.fail("no MinibatchStdDev"),
    ),
    "diffaugment": (
        dict(augment="diffaugment"),
        {},
        None,
        lambda m: isinstance(m.augmenter, augment.DiffAugment) or pytest.fail(),
    ),
    "ada": (dict(augment="ada"), {}, _set_ada_p, _check_ada),
}


@pytest.mark.parametrize("name", sorted(STABILIZERS))
def test_stabilizer_trains_dcgan_through_fit(name, baseline_history):
    model_kwargs, compile_kwargs, setup, check = STABILIZERS[name]
    if "g_optimizer" in compile_kwargs:  # fresh optimizers for every run
        compile_kwargs = {k: keras.optimizers.Adam.from_config(v.get_config()) for k, v in compile_kwargs.items()}
    model, history, (g_before, d_before) = _train(model_kwargs, compile_kwargs, setup)
    for metric in LOGGED:
        assert np.all(np.isfinite(history[metric])), (metric, history[metric])
    assert any(not np.allclose(a, b) for a, b in zip(g_before, _weights(model.generator)))
    assert any(not np.allclose(a, b) for a, b in zip(d_before, _weights(model.discriminator)))
    if name != "ema":  # EMA does not touch training; every other switch changes what is logged
        change = max(abs(history[m][0] - baseline_history[m][0]) / (abs(baseline_history[m][0]) + 1e-3) for m in LOGGED)
        assert change > 1e-3, f"{name} trained exactly like the baseline (relative change {change:.2e})"
    if check is not None:
        check(model)


def test_fit_warns_while_a_constant_decay_ema_generator_is_still_mostly_its_initialization():
    with pytest.warns(UserWarning, match=r"after 2 EMA steps .* still 100% its random initialization"):
        _train(dict(ema_decay=0.999))  # 0.999 ** 2 of the EMA generator is its initial weights
    for quiet in (dict(ema_decay=0.1), dict(ema_decay=0.999, ema_rampup=0.05), {}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _train(quiet)
        assert not [w for w in caught if "EMA generator" in str(w.message)], quiet


def test_ada_trains_through_fit_in_graph_mode():
    """The default (compiled) fit: augmentation and ADA's update traced into the train function."""
    model, history, _ = _train(dict(augment="ada"), setup=_set_ada_p, run_eagerly=False)
    assert all(np.all(np.isfinite(history[m])) for m in LOGGED)
    model.fit(dataset_for(model, n=16), epochs=1, verbose=0)  # 4 D steps in all: one adjustment of 32 images
    r_t = float(model.augmenter.r_t.numpy())
    assert float(model.augmenter.pending_updates.numpy()) == 0.0 and -1.0 <= r_t <= 1.0
    assert float(model.augmenter.p.numpy()) == pytest.approx(0.5 + np.sign(r_t - 0.6) * 32 / 20_000)


# ------------------------------------------------------------------ augmentation
def _augmenters():
    return {
        "diffaugment": augment.get("diffaugment", seed=1),
        "ada": augment.get({"name": "ada", "initial_p": 1.0}, seed=1),
    }


@pytest.mark.parametrize("name", ["diffaugment", "ada"])
def test_augmentation_is_differentiable_and_random_per_sample(name):
    layer = _augmenters()[name]
    image = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 3)).astype("float32")
    x = tf.constant(np.repeat(image, 16, axis=0))
    weights = tf.constant(np.random.default_rng(1).standard_normal(x.shape).astype("float32"))

    @tf.function  # as inside a train step
    def augment_and_differentiate(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            score = tf.reduce_sum(y * weights)
        return y, tape.gradient(score, x)

    y, grad = augment_and_differentiate(x)
    assert grad is not None and np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).sum() > 0
    assert np.all(np.isfinite(y.numpy())) and y.shape == x.shape
    outputs = y.numpy().reshape(16, -1)
    distinct = len({tuple(np.round(row, 5)) for row in outputs})
    assert distinct >= 12, f"{name}: only {distinct} different augmentations of 16 copies of one image"
    assert not np.allclose(y.numpy(), x.numpy())
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())  # inference: identity


def test_ada_transforms_are_exact_pixel_permutations():
    """Flip and 90-degree rotations move pixels without resampling: each output is a dihedral copy."""
    layer = augment.AdaptiveAugment(transforms="xflip,rotate90", initial_p=1.0, seed=3)
    images = np.random.default_rng(0).uniform(-1, 1, (32, 8, 8, 1)).astype("float32")
    out = layer(images, training=True).numpy()
    seen = set()
    for image, result in zip(images, out):
        copies = [np.rot90(m, k) for m in (image, image[:, ::-1]) for k in range(4)]
        matches = [i for i, c in enumerate(copies) if np.array_equal(result, c)]
        assert matches, "output is not a flip/rotation of its input"
        seen.add(matches[0])
    assert len(seen) >= 5  # the per-sample draws cover most of the 8 transforms


def test_ada_p_rises_when_d_is_overconfident_and_falls_otherwise():
    layer = augment.AdaptiveAugment(target=0.6, adjust_images=1000, interval=4, initial_p=0.5)
    update = tf.function(layer.update)  # graph mode: the adaptation is variable updates only

    def feed(logits, times):
        for _ in range(times):
            update(tf.constant(logits, "float32"))
        return float(layer.p.numpy())

    confident = np.ones((10, 1))
    assert feed(confident, 3) == pytest.approx(0.5)  # no adjustment before `interval` steps
    assert feed(confident, 1) == pytest.approx(0.5 + 40 / 1000)  # r_t = 1 > 0.6: p += batch * interval / adjust
    assert float(layer.r_t.numpy()) == pytest.approx(1.0)
    assert feed(-confident, 4) == pytest.approx(0.5)  # r_t = -1: p falls
    mostly_right = np.where(np.arange(10) < 9, 1.0, -1.0)  # r_t = 0.8 > 0.6
    assert feed(mostly_right, 4) == pytest.approx(0.54)
    unsure = np.where(np.arange(10) < 7, 1.0, -1.0)  # r_t = 0.4 < 0.6
    assert feed(unsure, 4) == pytest.approx(0.5)
    assert feed(-confident, 4 * 20) == 0.0  # clipped at 0
    assert feed(confident, 4 * 30) == 1.0  # and at 1


def test_ada_state_is_restored_by_save_load_and_weights_files(tmp_path):
    model = ganzoo.create("dcgan", **SMALL_CONFIGS["dcgan"], augment={"name": "ada", "target": 0.7}, seed=2)
    model.compile()
    layer = model.augmenter
    layer.p.assign(0.37)
    layer.update(tf.ones((8, 1)))  # an adjustment half accumulated
    layer(tf.zeros((2, 16, 16, 1)), training=True)  # advance the seed state
    model.save(tmp_path / "ada.keras")
    loaded = keras.saving.load_model(tmp_path / "ada.keras")
    assert isinstance(loaded.augmenter, augment.AdaptiveAugment) and loaded.augmenter.target == 0.7
    for original, restored in zip(layer.variables, loaded.augmenter.variables):
        np.testing.assert_array_equal(original.numpy(), restored.numpy())
    assert float(loaded.augmenter.p.numpy()) == pytest.approx(0.37)
    assert float(loaded.augmenter.pending_updates.numpy()) == 1.0
    # BackupAndRestore goes through the weights file.
    model.save_weights(tmp_path / "ada.weights.h5")
    fresh = ganzoo.create("dcgan", **SMALL_CONFIGS["dcgan"], augment={"name": "ada", "target": 0.7}, seed=2)
    assert float(fresh.augmenter.p.numpy()) == 0.0
    fresh.load_weights(tmp_path / "ada.weights.h5")
    assert float(fresh.augmenter.p.numpy()) == pytest.approx(0.37)
    np.testing.assert_array_equal(fresh.augmenter.seed_generator.state.numpy(), layer.seed_generator.state.numpy())


@pytest.mark.parametrize("name", ["diffaugment", "ada"])
def test_augmenters_serialize(name):
    layer = _augmenters()[name]
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_augment_names_and_inputs_are_checked():
    with pytest.raises(UnknownNameError, match="'ada'"):
        augment.get("adaa")
    with pytest.raises(UnknownNameError, match="'diffaugment'"):
        augment.get("diffaugmnt")
    with pytest.raises(UnknownNameError, match="'translation'"):
        augment.DiffAugment("color,translate")
    with pytest.raises(ValueError, match="instance_noise"):
        augment.DiffAugment()(tf.zeros((4, 2)), training=True)  # 2-D points are refused
    assert isinstance(augment.get("ADA"), augment.AdaptiveAugment)


# ------------------------------------------------------------- wgan_gp and sngan
VARIANTS = {
    # attributes, loss, Adam (learning rate, beta_1, beta_2): Algorithm 1 of WGAN-GP; SNGAN's setting C (n_dis = 1)
    "wgan_gp": (dict(gp_weight=10.0, d_steps=5, d_norm="layer", spectral_norm=False), "wasserstein", (1e-4, 0.0, 0.9)),
    "sngan": (dict(spectral_norm=True, d_norm="none", gp_weight=0.0, d_steps=1), "hinge", (2e-4, 0.5, 0.999)),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_defaults_and_round_trip(name, tmp_path):
    attributes, loss, (learning_rate, beta_1, beta_2) = VARIANTS[name]
    assert name in ganzoo.list_architectures()
    model = ganzoo.create(name, **SMALL_CONFIGS["dcgan"])
    for attribute, value in attributes.items():
        assert getattr(model, attribute) == value, attribute
    assert keras.layers.BatchNormalization not in _layer_types(model.discriminator)
    model.compile()
    assert model.adversarial_loss.name == loss
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(learning_rate)
        assert float(optimizer.beta_1) == beta_1 and float(optimizer.beta_2) == pytest.approx(beta_2)
    assert model.g_optimizer is not model.d_optimizer
    config = model.get_config()
    assert type(model).from_config(config).get_config() == config
    model.save(tmp_path / "variant.keras")
    loaded = keras.saving.load_model(tmp_path / "variant.keras")
    assert type(loaded) is type(model) and loaded.get_config() == config
    assert loaded.adversarial_loss.name == loss and float(loaded.d_optimizer.beta_2) == pytest.approx(beta_2)
    # The defaults stay overridable.
    other = ganzoo.create(name, **SMALL_CONFIGS["dcgan"], d_steps=2)
    other.compile(loss="least_squares", g_optimizer=keras.optimizers.Adam(1e-3))
    assert other.d_steps == 2 and other.adversarial_loss.name == "least_squares"
    assert float(other.g_optimizer.learning_rate) == pytest.approx(1e-3) and float(other.d_optimizer.beta_1) == beta_1


def test_wgan_gp_refuses_a_batch_normalized_critic():
    with pytest.raises(ValueError, match="batch normalization"):
        ganzoo.create("wgan_gp", **SMALL_CONFIGS["dcgan"], d_norm="batch")


def test_dcgan_keeps_its_own_compile_defaults():
    model = small_model("dcgan")
    model.compile()
    assert model.adversarial_loss.name == "non_saturating"
    assert float(model.d_optimizer.beta_1) == pytest.approx(0.5)
