"""The GAN base model: fit, metrics, seeds, config, save/load, generate, EMA and penalties."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import dataset_for, image_batches, small_model

import ganzoo
from ganzoo.deploy.loading import load_model
from ganzoo.errors import UnknownNameError
from ganzoo.models.vanilla_gan import VanillaGAN
from ganzoo.objectives import penalties


def _weights(network):
    return [v.numpy().copy() for v in network.trainable_variables]


def test_every_architecture_trains_through_fit(architecture):
    keras.utils.set_random_seed(1)
    model = small_model(architecture)
    model.compile()
    g_before, d_before = _weights(model.generator), _weights(model.discriminator)
    history = model.fit(dataset_for(model), epochs=2, verbose=0)
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "d_accuracy", "d_grad_norm", "g_grad_norm"):
        assert name in history.history and np.all(np.isfinite(history.history[name])), name
    assert 0.0 <= history.history["d_accuracy"][-1] <= 1.0
    assert any(not np.allclose(a, b) for a, b in zip(g_before, _weights(model.generator)))
    assert any(not np.allclose(a, b) for a, b in zip(d_before, _weights(model.discriminator)))
    assert int(model.g_optimizer.iterations.numpy()) == 8 and int(model.d_optimizer.iterations.numpy()) == 8


def test_compile_creates_exactly_two_optimizers():
    model = small_model("dcgan")
    model.compile()
    assert model.optimizer is None
    assert model.g_optimizer is not model.d_optimizer
    assert model.g_optimizer.built and model.d_optimizer.built
    assert float(model.g_optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(model.g_optimizer.beta_1) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="g_optimizer"):
        model.compile(optimizer="adam")


def test_d_steps_runs_several_discriminator_updates_per_generator_update():
    model = small_model("dcgan", d_steps=3, d_norm="none")
    model.compile()
    # 4 batches of 8: one step takes 3 of them (one per critic update), the next the last one alone
    model.fit(dataset_for(model), epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations.numpy()) == 3 * int(model.g_optimizer.iterations.numpy()) == 6


def test_each_critic_step_sees_its_own_real_batch():
    """WGAN-GP's Algorithm 1: every critic iteration draws a new real minibatch (here: counted by value)."""
    seen = []

    class Recording(VanillaGAN):
        def discriminator_step(self, real, labels):
            seen.append(real)
            return super().discriminator_step(real, labels)

    model = Recording(data_shape=(2,), d_steps=3, seed=0)
    model.compile(run_eagerly=True)
    points = np.repeat(np.arange(6, dtype="float32"), 8)[:, None] * np.ones((1, 2), "float32")  # batch i is all i
    model.fit(tf.data.Dataset.from_tensor_slices(points).batch(8), epochs=1, verbose=0)
    values = [float(np.asarray(r)[0, 0]) for r in seen]
    assert values == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert int(model.g_optimizer.iterations.numpy()) == 2
    # arrays passed to fit are grouped the same way (Keras' batch_size, reshuffled each epoch)
    seen.clear()
    model.fit(points, batch_size=8, shuffle=False, epochs=1, verbose=0)
    assert [float(np.asarray(r)[0, 0]) for r in seen] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_evaluate_and_validation_report_metrics():
    model = small_model("dcgan")
    model.compile()
    history = model.fit(dataset_for(model), validation_data=dataset_for(model, seed=1), epochs=1, verbose=0)
    assert np.isfinite(history.history["val_d_loss"][0])
    results = model.evaluate(dataset_for(model, seed=2), return_dict=True, verbose=0)
    assert set(results) >= {"d_loss", "g_loss", "d_real", "d_fake", "d_accuracy"}
    # evaluate must not train: weights unchanged.
    before = _weights(model.generator)
    model.evaluate(dataset_for(model), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(model.generator)))


def test_call_is_the_generator_forward_pass():
    model = small_model("dcgan")
    z = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(model(z).numpy(), model.generator(z, training=False).numpy(), atol=0)
    assert model(z).shape == (3, 16, 16, 1)


def test_generate_returns_uint8_images_and_is_deterministic_with_a_seed():
    model = small_model("dcgan")
    images = model.generate(5, seed=3)
    assert images.shape == (5, 16, 16, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, model.generate(5, seed=3))
    assert not np.array_equal(images, model.generate(5, seed=4))
    raw = model.generate(5, seed=3, raw=True)
    assert raw.dtype == np.float32 and raw.min() >= -1 and raw.max() <= 1
    np.testing.assert_array_equal(ganzoo.utils.images.to_uint8(raw), images)
    # Batching must not change the result.
    np.testing.assert_array_equal(model.generate(5, seed=3, batch_size=2), images)


def test_generate_validates_labels():
    cgan = small_model("cgan")
    assert cgan.generate(4, labels=[0, 1, 2, 0], seed=0).shape == (4, 16, 16, 1)
    assert cgan.generate(2, labels=1, seed=0).shape == (2, 16, 16, 1)
    with pytest.raises(ValueError, match="class-conditional"):
        cgan.generate(2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        cgan.generate(2, labels=[0, 3])
    with pytest.raises(ValueError, match="2 ints"):
        cgan.generate(2, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="unconditional"):
        small_model("dcgan").generate(2, labels=[0, 1])


def test_conditional_model_requires_labelled_data():
    model = small_model("cgan")
    model.compile()
    with pytest.raises(ValueError, match="with_labels=True"):
        model.fit(image_batches(model.image_shape), epochs=1, verbose=0)


def test_labels_steer_the_conditional_generator():
    model = small_model("cgan")
    z_seed = 5
    a = model.generate(4, labels=0, seed=z_seed, raw=True)
    b = model.generate(4, labels=2, seed=z_seed, raw=True)
    # relative: an untrained DCGAN-initialized (N(0, 0.02)) generator's outputs are small
    assert np.abs(a - b).mean() > 0.05 * np.abs(a).mean() > 0


def test_same_seed_same_training_run():
    def run():
        keras.utils.set_random_seed(123)
        model = small_model("dcgan")
        model.compile()
        model.fit(dataset_for(model), epochs=1, verbose=0)
        return model.generate(4, seed=0), model.generate(4)

    (a_seeded, a_free), (b_seeded, b_free) = run(), run()
    np.testing.assert_array_equal(a_seeded, b_seeded)
    np.testing.assert_array_equal(a_free, b_free)


def test_config_round_trip(architecture):
    model = small_model(architecture, seed=7, ema_decay=0.9)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert config["seed"] == 7 and config["ema_decay"] == 0.9


def test_save_load_round_trip_and_resume(tmp_path, architecture):
    keras.utils.set_random_seed(0)
    model = small_model(architecture, ema_decay=0.9)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), loss="hinge")
    data = dataset_for(model)
    model.fit(data, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    labels = [0, 1, 2] if model.is_conditional else None
    np.testing.assert_array_equal(model.generate(3, seed=1, labels=labels), loaded.generate(3, seed=1, labels=labels))
    assert loaded.adversarial_loss.name == "hinge"
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), loaded.seed_generator.state.numpy())
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(1e-3)
    for original, restored in ((model.g_optimizer, loaded.g_optimizer), (model.d_optimizer, loaded.d_optimizer)):
        assert int(restored.iterations.numpy()) == 4
        for a, b in zip(original.variables, restored.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Continuing training from the file equals continuing the original (seed state and moments restored).
    model.fit(data, epochs=1, verbose=0)
    loaded.fit(data, epochs=1, verbose=0)
    for a, b in zip(
        model.generator.weights + model.discriminator.weights, loaded.generator.weights + loaded.discriminator.weights
    ):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_save_without_optimizer_state_drops_the_moments_and_fine_tunes_with_fresh_optimizers(tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model("dcgan", ema_decay=0.9)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), loss="hinge")
    data = dataset_for(model)
    model.fit(data, epochs=1, verbose=0)
    full, light = tmp_path / "full.keras", tmp_path / "light.keras"
    model.save(full)
    model.save(light, include_optimizer=False)
    moment_bytes = sum(v.numpy().nbytes for o in (model.g_optimizer, model.d_optimizer) for v in o.variables)
    assert full.stat().st_size - light.stat().st_size >= 0.95 * moment_bytes  # Adam's two moments per weight
    assert int(model.g_optimizer.iterations.numpy()) == 4  # the model keeps its own optimizers
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ganzoo's loader: fresh optimizers are intended, no mismatch warning
        loaded = load_model(light)
    np.testing.assert_array_equal(model.generate(3, seed=1), loaded.generate(3, seed=1))
    assert loaded.adversarial_loss.name == "hinge" and float(loaded.g_optimizer.learning_rate) == pytest.approx(1e-3)
    assert int(loaded.g_optimizer.iterations.numpy()) == 0
    moments = [v for v in loaded.d_optimizer.variables if not {"iteration", "learning_rate"} & set(v.path.split("/"))]
    assert moments and all(not np.any(v.numpy()) for v in moments)
    before = [w.numpy().copy() for w in loaded.generator.weights]
    loaded.fit(data, epochs=1, verbose=0)
    assert int(loaded.g_optimizer.iterations.numpy()) == 4
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, loaded.generator.weights))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a full file restores its state without the warning either
        assert int(load_model(full).g_optimizer.iterations.numpy()) == 4


def test_unknown_architecture_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'dcgan'") as error:
        ganzoo.create("dcgn")
    assert "vanilla_gan" in str(error.value)


def test_list_architectures():
    assert {"vanilla_gan", "dcgan", "cgan"} <= set(ganzoo.list_architectures())
    assert ganzoo.list_architectures("dc*") == ["dcgan"]


@pytest.mark.parametrize("size, expected", [(16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
def test_dcgan_is_sized_from_the_image_shape(size, expected):
    from ganzoo.models.dcgan import upsampling_plan

    assert upsampling_plan(size) == expected
    model = ganzoo.create("dcgan", image_shape=(size, size, 3), base_filters=4, latent_dim=4)
    assert model.generator.output_shape == (None, size, size, 3)
    assert model.discriminator.output_shape == (None, 1)


@pytest.mark.parametrize(
    "bad", [dict(image_shape=(16, 16, 2)), dict(image_shape=(16, 8, 1)), dict(latent_dim=0), dict(ema_decay=1.0)]
)
def test_bad_constructor_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        ganzoo.create("dcgan", **{"image_shape": (16, 16, 1), **bad})


def test_ema_generator_tracks_an_exponential_average():
    model = small_model("dcgan", ema_decay=0.5)
    model.compile()
    ema_before = _weights(model.ema_generator)
    model.fit(dataset_for(model, n=8), epochs=1, verbose=0)  # exactly one step
    expected = [0.5 * e + 0.5 * g for e, g in zip(ema_before, _weights(model.generator))]
    for a, b in zip(expected, _weights(model.ema_generator)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    z = np.zeros((1, model.latent_dim), np.float32)
    np.testing.assert_allclose(model(z).numpy(), model.ema_generator(z).numpy())
    assert not np.allclose(model(z).numpy(), model.generator(z, training=False).numpy())


def test_gradient_penalty_mixes_per_sample_and_is_finite_at_zero_gradient():
    real = tf.ones((3, 4, 4, 1))
    fake = -tf.ones((3, 4, 4, 1))
    mix = tf.constant([0.0, 0.5, 1.0])
    seen = {}

    def critic(x):
        seen["x"] = x
        return tf.reduce_sum(x, axis=[1, 2, 3]) * 0.0  # zero gradient everywhere

    value = penalties.gradient_penalty(critic, real, fake, mix)
    assert np.isfinite(float(value)) and float(value) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(seen["x"].numpy()[:, 0, 0, 0], [-1.0, 0.0, 1.0])  # one weight per sample
    # A linear critic with gradient norm exactly 1 has zero penalty.
    unit = lambda x: tf.reduce_sum(x, axis=[1, 2, 3]) / 4.0  # noqa: E731  (16 pixels: ||grad|| = 1)
    assert float(penalties.gradient_penalty(unit, real, fake, mix)) == pytest.approx(0.0, abs=1e-5)
    # R1 is the squared gradient norm on real data.
    assert float(penalties.r1_penalty(unit, real)) == pytest.approx(1.0, rel=1e-5)


def test_gradient_penalty_trains_a_critic():
    model = small_model("dcgan", gp_weight=10.0, d_steps=2, d_norm="layer")
    model.compile(loss="wasserstein")
    history = model.fit(dataset_for(model), epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"][0])
