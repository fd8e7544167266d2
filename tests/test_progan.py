"""ProGAN: growth inside fit, fade-in, resume mid-growth, native lower resolutions, export."""

import keras
import numpy as np
import pytest
from conftest import image_batches

from ganzoo.deploy.exporter import export
from ganzoo.models.layers.common import MinibatchStdDev
from ganzoo.models.layers.style import PixelNorm
from ganzoo.models.progan import ProGAN, ProgressiveGrowing, native_images

# 16 px: 4x4 for 2 batches of 8, then per level 4 batches of fade-in and 2 stable ones.
TINY = dict(
    image_shape=(16, 16, 1), latent_dim=8, channel_base=64, channel_max=16, stable_images=16, fade_images=32, seed=0
)


class GrowthTrace(keras.callbacks.Callback):
    """(level, alpha, images at level) as each batch starts."""

    def __init__(self):
        super().__init__()
        self.states = []

    def on_train_batch_begin(self, batch, logs=None):
        self.states.append((self.model.level, self.model.alpha, int(self.model.growth_images.numpy())))


class Interrupt(keras.callbacks.Callback):
    """Crash (or, with ``crash=False``, stop cleanly) when batch number ``at_batch`` of the run starts."""

    def __init__(self, at_batch, crash=True):
        super().__init__()
        self.at_batch, self.crash, self.seen = at_batch, crash, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen == self.at_batch and self.crash:
            raise KeyboardInterrupt("simulated crash")
        self.seen += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.seen == self.at_batch and not self.crash:
            self.model.stop_training = True


def _data():
    return image_batches((16, 16, 1), n=32, batch_size=8)  # 4 batches per epoch


def test_grows_through_two_resolutions_inside_one_fit_with_fade_in():
    keras.utils.set_random_seed(0)
    model = ProGAN(**TINY)
    model.compile()  # graph mode: one traced step serves every resolution
    trace = GrowthTrace()
    history = model.fit(_data(), epochs=4, verbose=0, callbacks=[trace]).history
    levels = [s[0] for s in trace.states]
    assert levels == [0] * 2 + [1] * 6 + [2] * 8  # 4x4 -> 8x8 -> 16x16 within the one fit call
    for level in (1, 2):
        alphas = [s[1] for s in trace.states if s[0] == level]
        assert alphas[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]  # fade-in from 0 to 1, then stable at 1
        assert all(a == 1.0 for a in alphas[4:])
    assert history["resolution"] == [8.0, 16.0, 16.0, 16.0] and history["alpha"][1] == 0.0
    assert model.growth["done"] and model.resolution == 16
    assert np.all(np.isfinite(history["d_loss"])) and np.all(np.isfinite(history["drift"]))
    assert int(model.images_seen.numpy()) == 128


def test_fade_weights_and_lower_resolution_outputs():
    model = ProGAN(**TINY)
    model.set_growth(8, 1.0)  # 8x8 grown: the 16x16 block is not used yet
    assert model.fade_weights() == {8: 1.0, 16: 0.0}
    images = model.generate(3, seed=0, raw=True)
    np.testing.assert_array_equal(images[:, ::2, ::2], images[:, 1::2, 1::2])  # 8x8 image shown at 16x16
    small = model.at_resolution(8)
    assert small.image_shape == (8, 8, 1) and small.growth["done"]
    np.testing.assert_allclose(small.generate(3, seed=0, raw=True), native_images(images, 8), atol=1e-6)
    model.set_growth(16, 0.25)
    assert model.fade_weights() == {8: 1.0, 16: 0.25} and model.alpha == 0.25
    # The reals are cross-faded the same way: at alpha 0 they are the 8x8 images shown at 16x16.
    model.set_growth(16, 0.0)
    real = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    faded = np.asarray(model.fade_reals(real))
    expected = real.reshape(2, 8, 2, 8, 2, 1).mean(axis=(2, 4)).repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(faded, expected, atol=1e-6)
    with pytest.raises(ValueError, match="resolution"):
        model.set_growth(12)


def test_interrupted_run_resumes_at_the_same_resolution_and_alpha(tmp_path):
    backup = str(tmp_path / "backup")
    keras.utils.set_random_seed(0)
    first = ProGAN(**TINY)
    first.compile(run_eagerly=True)
    trace = GrowthTrace()
    with pytest.raises(KeyboardInterrupt):
        first.fit(
            _data(),
            epochs=4,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=1), trace, Interrupt(at_batch=5)],
        )
    crashed_at = trace.states[-1]
    assert crashed_at[0] == 1 and 0.0 < crashed_at[1] < 1.0  # crashed during the 8x8 fade-in

    second = ProGAN(**TINY)
    second.compile(run_eagerly=True)
    resumed = GrowthTrace()
    second.fit(
        _data(),
        epochs=4,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=1), resumed, Interrupt(at_batch=3, crash=False)],
    )
    # The backup of the last finished batch restored the growth state: same resolution, same alpha.
    assert resumed.states[0] == crashed_at
    alphas = [a for _, a, _ in resumed.states]
    assert len(alphas) == 3 and alphas == sorted(alphas) and alphas[-1] > alphas[0]  # the fade goes on
    assert all(level == 1 for level, _, _ in resumed.states)


def test_save_and_load_mid_growth_keeps_level_alpha_and_images(tmp_path):
    model = ProGAN(**TINY, ema_decay=0.9)
    model.compile(run_eagerly=True)
    model.fit(_data().take(3), epochs=1, verbose=0)  # 4x4 (2 batches), then the first 8x8 batch
    assert (model.level, model.alpha) == (1, 0.25)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.growth == model.growth
    assert loaded.fade_weights() == model.fade_weights() == {8: 0.25, 16: 0.0}
    np.testing.assert_array_equal(loaded.generate(2, seed=1), model.generate(2, seed=1))


def test_export_at_the_final_and_a_reached_resolution(tmp_path):
    model = ProGAN(**TINY)
    model.set_growth(16, 1.0)
    final = export(model, tmp_path / "final", formats="onnx")
    assert final["verification"]["max_abs_diff"]["onnx:generator"] <= 1e-4 and final["model"]["image_shape"] == [
        16,
        16,
        1,
    ]
    batches = sorted(case["inputs"]["z"][0] for case in final["verification"]["cases"])
    assert batches[0] == 1 and batches[-1] > 1
    small = export(model.at_resolution(8), tmp_path / "res8", formats="onnx")
    assert small["verification"]["max_abs_diff"]["onnx:generator"] <= 1e-4 and small["model"]["image_shape"] == [
        8,
        8,
        1,
    ]


def test_progan_parts():
    model = ProGAN(**TINY)
    layers = {type(layer) for layer in model.generator.layers}
    assert PixelNorm in layers
    assert any(isinstance(layer, MinibatchStdDev) for layer in model.discriminator.layers)
    assert model.gp_weight == 10.0 and model.drift_weight == 0.001
    model.compile(g_optimizer=None, d_optimizer=None, loss=None)  # what ganzoo.training passes when unset
    assert model.adversarial_loss.name == "wasserstein" and float(model.g_optimizer.beta_1) == 0.0
    assert float(model.d_optimizer.learning_rate) == pytest.approx(1e-3) and float(
        model.d_optimizer.beta_2
    ) == pytest.approx(0.99)
    assert isinstance(ProgressiveGrowing(), keras.callbacks.Callback)
    config = model.get_config()
    assert ProGAN.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="power-of-two"):
        ProGAN(image_shape=(12, 12, 1))


def test_progan_learns_the_digits_through_its_growth():
    """A learning test: 4x4 -> 8x8 on the digits (downsampled) in 750 steps; the samples move from the
    initial noise to the data's statistics (mean image, per-pixel spread) and are not one collapsed image."""
    from ganzoo.data import datasets as data

    keras.utils.set_random_seed(0)
    ds = data.load("digits", batch_size=32, image_size=8, seed=0)
    model = ProGAN(
        image_shape=(8, 8, 1),
        latent_dim=16,
        channel_base=128,
        channel_max=32,
        stable_images=2_000,
        fade_images=2_000,
        ema_decay=0.9,
        seed=0,
    )
    model.compile()
    real = np.concatenate([batch.numpy() for batch in ds])

    def gap(images):  # distance of the mean image and of the per-pixel std from the data's
        return (np.abs(images.mean(0) - real.mean(0)).mean(), np.abs(images.std(0) - real.std(0)).mean())

    before = gap(model.generate(500, seed=1, raw=True))
    model.fit(ds, epochs=15, verbose=0)
    assert model.growth_done
    fake = model.generate(500, seed=1, raw=True)
    after = gap(fake)
    assert after[0] < 0.5 * before[0] and after[1] < 0.5 * before[1], (before, after)
    assert fake.std(0).mean() > 0.5 * real.std(0).mean()  # diverse samples, not one collapsed image
