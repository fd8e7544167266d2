"""Learning tests: a model must actually learn, not just run (CPU-sized)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo.data import datasets as data
from ganzoo.evaluation.metrics import mode_statistics


def _ring(n, seed, radius=1.0, std=0.01):
    angles = 2 * np.pi * np.arange(8) / 8
    modes = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    rng = np.random.default_rng(seed)
    return (modes[rng.integers(0, 8, n)] + std * rng.standard_normal((n, 2))).astype("float32"), modes


@pytest.mark.slow
def test_vanilla_gan_defaults_learn_a_users_ring_of_gaussians():
    """create() + compile() + fit on the user's own points: every mode, mostly high-quality samples.

    The issue-13 ring (unit circle, std 0.01), 5,000 steps at batch 256 (~70 s on 2 cores). Measured with
    these defaults (docs/STABILITY.md, the "r3gan" row): 8/8 modes and 85.4-87.7 % high-quality samples
    at each of seeds 0-4.
    """
    keras.utils.set_random_seed(0)
    points, modes = _ring(100_000, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices(points).shuffle(100_000, seed=0).repeat().batch(256)
    model = ganzoo.create("vanilla_gan", seed=0)
    model.compile()
    before = mode_statistics(model.generate(2500, seed=1), modes, 0.01)
    model.fit(dataset, steps_per_epoch=1000, epochs=5, verbose=0)
    after = mode_statistics(model.generate(2500, seed=1), modes, 0.01)
    assert before["high_quality_fraction"] < 0.05
    assert after["modes_covered"] == 8, after["mode_counts"]
    assert after["high_quality_fraction"] > 0.8, after["high_quality_fraction"]


def test_vanilla_gan_on_points_does_not_depend_on_their_centre_and_scale():
    """Standardization: training on 50 * x + 300 gives 50 * (what training on x gives) + 300."""
    points, _ = _ring(2048, seed=3)
    generated = []
    for scale, shift in ((1.0, 0.0), (50.0, 300.0)):
        keras.utils.set_random_seed(0)
        model = ganzoo.create("vanilla_gan", seed=0, hidden_units=(32, 32))
        model.compile()
        data = tf.data.Dataset.from_tensor_slices(scale * points + shift).batch(256)
        model.fit(data, epochs=3, verbose=0)
        generated.append(model.generate(200, seed=1))
    np.testing.assert_allclose(generated[1], 50.0 * generated[0] + 300.0, rtol=1e-3, atol=5e-3 * 50)


# ------------------------------------------------------------------ every family moves toward its data
# Each trains a CPU-sized model for a few hundred steps with its architecture's defaults and checks a
# quality measure against the data, before and after: a broken update rule (wrong sign, no gradient
# into G, D never updated) leaves it where it started.
from ganzoo.data import pairs  # noqa: E402
from ganzoo.evaluation.metrics import fid  # noqa: E402

LATENT_FAMILIES = {
    "dcgan": dict(base_filters=16),
    "cgan": dict(base_filters=16, num_classes=10),
    "wgan_gp": dict(base_filters=16),
    "sngan": dict(base_filters=16),
    "stylegan": dict(mapping_layers=2, channel_base=256, channel_max=32),
}
STEPS = {"dcgan": 300, "cgan": 300, "wgan_gp": 300, "sngan": 400, "stylegan": 200}
# How far the FID must fall: WGAN-GP's critic-first schedule learns slowest (measured 143.6 -> 124.6 in 150 steps).
FACTOR = {"wgan_gp": 0.8}


def _pixel_fid(real, fake):
    return fid(real.reshape(len(real), -1), fake.reshape(len(fake), -1))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LATENT_FAMILIES))
def test_latent_family_moves_toward_the_digits(name):
    """Pixel-space FID to the digits at least halves, with the architecture's defaults."""
    keras.utils.set_random_seed(0)
    conditional = name == "cgan"
    train = data.load("digits", batch_size=64, seed=0, with_labels=conditional)
    reference = data.load("digits", batch_size=500, shuffle=False, drop_remainder=False)
    test = np.concatenate([b.numpy() for b in reference])[:1000]  # the training digits the model learns from
    model = ganzoo.create(name, image_shape=(16, 16, 1), latent_dim=32, seed=0, **LATENT_FAMILIES[name])
    model.compile()
    labels = np.arange(500) % 10 if conditional else None
    before = _pixel_fid(test, model.generate(500, seed=1, labels=labels, raw=True))
    model.fit(train.repeat(), steps_per_epoch=STEPS[name], epochs=1, verbose=0)
    after = _pixel_fid(test, model.generate(500, seed=1, labels=labels, raw=True))
    assert after < FACTOR.get(name, 0.5) * before, f"{name}: pixel FID {before:.1f} -> {after:.1f}"


@pytest.mark.slow
def test_pix2pix_learns_to_colourize_better_than_its_start():
    keras.utils.set_random_seed(0)
    train = pairs.load_pairs("skimage:colorize", batch_size=8, crop_size=32, seed=0, num_patches=512)
    source, target = next(iter(pairs.load_pairs("skimage:colorize", split="test", batch_size=64, crop_size=32)))
    model = ganzoo.create("pix2pix", image_shape=(32, 32, 3), source_channels=1, base_filters=8, d_base_filters=8)
    model.compile()
    error = lambda: float(np.abs(model.translate(source.numpy(), raw=True) - target.numpy()).mean())  # noqa: E731
    before = error()
    model.fit(train.repeat(), steps_per_epoch=150, epochs=1, verbose=0)
    after = error()
    gray_as_rgb = float(np.abs(np.repeat(source.numpy(), 3, axis=-1) - target.numpy()).mean())
    # measured: L1 0.295 -> 0.176 in 150 steps; the gray input itself, as RGB: 0.178
    assert after < 0.7 * before and after < 1.1 * gray_as_rgb, (before, after, gray_as_rgb)


@pytest.mark.slow
def test_cyclegan_learns_the_hue_rotation_it_was_never_shown_paired():
    """Domain B is A with its hue turned a quarter: G(a) must move toward hue_shift(a) (a known ground truth)."""
    keras.utils.set_random_seed(0)
    train = pairs.load_unpaired("skimage:hue", batch_size=4, crop_size=32, seed=0, num_patches=256)
    a, _ = next(iter(pairs.load_unpaired("skimage:hue", split="test", batch_size=32, crop_size=32)))
    truth = pairs.hue_shift(a).numpy()
    model = ganzoo.create("cyclegan", image_shape=(32, 32, 3), base_filters=8, res_blocks=2, d_base_filters=8)
    model.compile()
    error = lambda: float(np.abs(model.translate(a.numpy(), raw=True) - truth).mean())  # noqa: E731
    before = error()
    model.fit(train.repeat(), steps_per_epoch=200, epochs=1, verbose=0)
    after = error()
    assert after < 0.6 * before, (before, after)
