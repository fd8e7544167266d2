"""StyleGAN2: modulated convolutions, training with its regularizers, truncation, mixing, export, projection."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import image_batches

import ganzoo
from ganzoo import latent as latent_tools
from ganzoo.cli import generate as generate_commands
from ganzoo.deploy import runtime
from ganzoo.models.layers.style import (
    EqualizedConv2D,
    EqualizedDense,
    ModulatedConv2D,
    NoiseInjection,
    PixelNorm,
)
from ganzoo.models.stylegan import StyleGAN, noise_maps
from ganzoo.utils.sampling import latent_vectors

TINY = dict(image_shape=(16, 16, 1), latent_dim=16, mapping_layers=2, channel_base=128, channel_max=16, seed=0)


def _compile(model, **kwargs):
    model.compile(
        g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99),
        d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99),
        **kwargs,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny StyleGAN after 8 steps with every regularizer on (lazy R1 and PL every 2nd step, ADA).

    Eager, to keep the suite fast: test_fit_in_graph_mode covers the traced step.
    """
    keras.utils.set_random_seed(0)
    model = StyleGAN(**TINY, r1_interval=2, pl_weight=2.0, pl_interval=2, augment="ada")
    _compile(model, run_eagerly=True)
    weights_before = [w.numpy().copy() for w in model.generator.trainable_weights]
    history = model.fit(image_batches((16, 16, 1), n=32, batch_size=8), epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("stylegan") / "model.keras"
    model.save(path)
    return model, history.history, weights_before, path


# ------------------------------------------------------------------------ layers
def test_demodulation_normalizes_output_feature_scales():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32, 32, 8)).astype("float32")  # unit-variance input features
    w = rng.standard_normal((4, 6)).astype("float32")
    layer, plain = ModulatedConv2D(5, 3, demodulate=True), ModulatedConv2D(5, 3, demodulate=False)
    layer([x, w]), plain([x, w])
    plain.set_weights(layer.get_weights())
    plain_std = []
    for scale in (0.1, 1.0, 10.0):  # styles of very different magnitudes
        for m in (layer, plain):
            m.affine.bias.assign(np.full(8, scale, np.float32))
        interior = layer([x, w]).numpy()[:, 1:-1, 1:-1]  # zero padding shrinks the border
        # Demodulated: unit scale for every sample and output channel, whatever the style.
        np.testing.assert_allclose(interior.std(axis=(1, 2)), 1.0, atol=0.1)
        np.testing.assert_allclose(layer([x, 0 * w]).numpy()[:, 1:-1, 1:-1].std(), 1.0, atol=0.1)
        plain_std.append(plain([x, 0 * w]).numpy()[:, 1:-1, 1:-1].std())  # styles = scale exactly
    np.testing.assert_allclose(plain_std, [0.1, 1.0, 10.0], rtol=0.1)  # without demodulation: scale follows style
    # Exactly: each sample's modulated, demodulated kernel has unit L2 norm per output channel.
    styles = layer.styles(w).numpy()
    kernel = layer.kernel.numpy() * layer.weight_gain
    d = layer.demodulation(styles).numpy()
    modulated = kernel[None] * styles[:, None, None, :, None] * d[:, None, None, None, :]
    np.testing.assert_allclose(np.sqrt((modulated**2).sum(axis=(1, 2, 3))), 1.0, rtol=1e-4)
    # Multiplying a style by c leaves the demodulated output unchanged and scales the plain one by c.
    w0 = np.zeros((1, 6), np.float32)
    outputs = {}
    for c in (1.0, 3.0):
        for m in (layer, plain):
            m.affine.bias.assign(np.full(8, c, np.float32))
        outputs[c] = layer([x[:1], w0]).numpy(), plain([x[:1], w0]).numpy()
    np.testing.assert_allclose(outputs[3.0][0], outputs[1.0][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs[3.0][1], 3.0 * outputs[1.0][1], rtol=1e-4, atol=1e-5)


def test_equalized_layers_scale_unit_normal_weights_at_run_time():
    dense = EqualizedDense(3, lr_multiplier=0.01, bias_init=1.0)
    x = np.ones((2, 16), np.float32)
    y = dense(x).numpy()
    assert np.std(dense.kernel.numpy()) == pytest.approx(100.0, rel=0.3)  # stored as N(0, 1 / lr^2)
    np.testing.assert_allclose(y, x @ (dense.kernel.numpy() * 0.01 / 4.0) + 1.0, rtol=1e-5)
    conv = EqualizedConv2D(4, 3)
    out = conv(np.random.default_rng(0).standard_normal((8, 16, 16, 32)).astype("float32")).numpy()
    assert out[:, 1:-1, 1:-1].std() == pytest.approx(1.0, abs=0.15)  # He-scaled at run time
    pn = PixelNorm()(np.array([[3.0, 4.0]], np.float32)).numpy()
    np.testing.assert_allclose(np.mean(pn**2), 1.0, rtol=1e-6)


def test_noise_injection_starts_at_zero_and_scales_the_noise_input():
    layer = NoiseInjection()
    x, noise = np.zeros((1, 4, 4, 2), np.float32), np.ones((1, 4, 4, 1), np.float32)
    np.testing.assert_array_equal(layer([x, noise]).numpy(), 0.0)
    layer.strength.assign(0.5)
    np.testing.assert_allclose(layer([x, noise]).numpy(), 0.5)


@pytest.mark.parametrize("g_arch, d_arch", [("skip", "resnet"), ("resnet", "skip")])
def test_architectures_and_shapes(g_arch, d_arch):
    model = StyleGAN(**{**TINY, "mapping_layers": 3}, g_architecture=g_arch, d_architecture=d_arch, w_dim=12)
    assert model.num_ws == 6 and model.noise_resolutions == [4, 8, 8, 16, 16]
    assert len([l for l in model.parts().mapping.layers if isinstance(l, EqualizedDense)]) == 3
    z = latent_vectors(3, 16, 0)
    assert model(z).shape == (3, 16, 16, 1) and model.mapping_ws(z).shape == (3, 6, 12)
    assert model.discriminator(model(z)).shape == (3, 1)
    # The learned constant input does not depend on the latent; the modulation does.
    assert "const" in [l.name for l in model.parts().synthesis.layers]
    assert not np.allclose(model(z)[0], model(z)[1])
    config = model.get_config()
    assert type(model).from_config(config).get_config() == config


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="power-of-two"):
        StyleGAN(image_shape=(24, 24, 1))
    with pytest.raises(ValueError, match="g_architecture"):
        StyleGAN(**TINY, g_architecture="dense")
    with pytest.raises(ValueError, match="noise_mode"):
        StyleGAN(**TINY).generate(2, noise_mode="loud")


# ---------------------------------------------------------------------- training
def test_compile_defaults_are_the_papers():
    model = StyleGAN(**TINY)
    model.compile(g_optimizer=None, d_optimizer=None, loss=None)  # what ganzoo.training passes when unset
    assert model.adversarial_loss.name == "non_saturating"
    # Adam(2e-3, 0, 0.99), with the official lazy-regularization correction c = 16 / 17 on D (R1 every
    # 16 steps as its own step); G has no path-length term by default, so no correction.
    g, d = model.g_optimizer, model.d_optimizer
    assert float(g.learning_rate) == pytest.approx(2e-3) and float(g.beta_2) == pytest.approx(0.99)
    assert float(d.learning_rate) == pytest.approx(2e-3 * 16 / 17) and float(d.beta_2) == pytest.approx(
        0.99 ** (16 / 17)
    )
    assert float(g.beta_1) == float(d.beta_1) == 0.0


def test_fit_runs_every_regularizer_and_tracks_w_avg(trained):
    model, history, before, _ = trained
    for name in ("d_loss", "g_loss", "r1_penalty", "pl_penalty", "pl_mean", "d_grad_norm", "g_grad_norm"):
        assert name in history and np.all(np.isfinite(history[name])), name
    assert history["r1_penalty"][0] > 0 and history["pl_penalty"][0] > 0  # lazy terms were computed
    assert int(model.g_optimizer.iterations.numpy()) == 8 + 4  # + separate path-length steps at 0, 2, 4, 6
    assert float(model.pl_mean.numpy()) > 0
    assert np.abs(model.w_avg).sum() > 0  # moved from its zero start
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.generator.trainable_weights))
    assert model.augmenter is not None


def test_fit_in_graph_mode_with_lazy_regularizers():
    keras.utils.set_random_seed(1)
    model = StyleGAN(
        **{**TINY, "image_shape": (8, 8, 1), "mapping_layers": 1},
        r1_interval=2,
        pl_weight=2.0,
        pl_interval=3,
        augment="diffaugment",
    )
    _compile(model)
    history = model.fit(image_batches((8, 8, 1), n=48, batch_size=8), epochs=1, verbose=0).history
    for name in ("d_loss", "g_loss", "r1_penalty", "pl_penalty", "pl_mean"):
        assert np.isfinite(history[name][0]) and history[name][0] != 0, name
    assert int(model.d_optimizer.iterations.numpy()) == 6 + 3  # + separate R1 steps at steps 0, 2, 4


def test_save_load_keeps_w_avg_pl_mean_and_samples(trained):
    model, _, _, path = trained
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.w_avg, model.w_avg)
    assert float(loaded.pl_mean.numpy()) == float(model.pl_mean.numpy())
    np.testing.assert_array_equal(
        loaded.generate(3, seed=1, truncation_psi=0.7), model.generate(3, seed=1, truncation_psi=0.7)
    )


# --------------------------------------------------------------------- inference
def test_truncation_psi_zero_returns_the_average_image(trained):
    model = trained[0]
    images = model.generate(4, seed=3, truncation_psi=0.0, raw=True)
    average = model.synthesize(np.repeat(model.w_avg[None], 1, axis=0))  # w = w_avg, const noise
    for image in images:
        np.testing.assert_allclose(image, average[0], atol=1e-5)
    untruncated = model.generate(4, seed=3, raw=True)
    half = model.generate(4, seed=3, truncation_psi=0.5, raw=True)
    spread = lambda x: x.std(axis=0).mean()  # noqa: E731
    assert spread(untruncated) > spread(half) > spread(images)


def test_style_mixing_takes_coarse_layers_from_one_latent_and_fine_from_the_other(trained):
    model = trained[0]
    synthesis = model.parts().synthesis
    probe = keras.Model(
        synthesis.inputs,
        [synthesis.get_layer("to_rgb_4").output, synthesis.get_layer("image_8").output, synthesis.output],
    )
    ws = model.mapping_ws(latent_vectors(2, 16, 10))
    a, b = ws[:1], ws[1:]
    noise = model.noise_inputs(1)

    def run(ws):
        return [o.numpy() for o in probe({"ws": ws, **noise})]

    img_a, img_b = run(a), run(b)
    # cutoff 2: the whole 4x4 block (conv w0, toRGB w1) is A's; from the 8x8 block on, B's styles enter.
    mixed = run(model.mix_styles(a, b, cutoff=2))
    np.testing.assert_allclose(mixed[0], img_a[0], atol=1e-6)
    assert np.abs(mixed[1] - img_a[1]).max() > 1e-4
    # cutoff 4: 4x4 and 8x8 (coarse) are A's exactly; only the 16x16 layers (fine) come from B.
    mixed = run(model.mix_styles(a, b, cutoff=4))
    np.testing.assert_allclose(mixed[1], img_a[1], atol=1e-6)
    assert np.abs(mixed[2] - img_a[2]).max() > 1e-4 and np.abs(mixed[2] - img_b[2]).max() > 1e-4
    # generate(mix=...) builds exactly these styles; cutoffs at the ends give the pure images.
    expected = model.synthesize(
        model.mix_styles(model.mapping_ws(latent_vectors(2, 16, 5)), model.mapping_ws(latent_vectors(2, 16, 6)), 4)
    )
    np.testing.assert_allclose(model.generate(2, seed=5, mix=6, mix_cutoff=4, raw=True), expected, atol=1e-6)
    np.testing.assert_allclose(
        model.generate(2, seed=5, mix=6, mix_cutoff=6, raw=True), model.generate(2, seed=5, raw=True), atol=1e-6
    )
    np.testing.assert_allclose(
        model.generate(2, seed=5, mix=6, mix_cutoff=0, raw=True), model.generate(2, seed=6, raw=True), atol=1e-6
    )


def test_noise_modes_and_call(trained):
    model = trained[0]
    z = latent_vectors(3, 16, 7)
    np.testing.assert_allclose(model(z).numpy(), model.generate(3, seed=7, raw=True), atol=1e-6)  # call = const noise
    random_a = model.generate(3, seed=7, noise_mode="random", raw=True)
    np.testing.assert_array_equal(random_a, model.generate(3, seed=7, noise_mode="random", raw=True))
    # Another batch split gives the same noise per sample; float32 kernels may differ by ~1e-6 per batch size.
    np.testing.assert_allclose(
        model.generate(3, seed=7, noise_mode="random", raw=True, batch_size=2), random_a, atol=1e-5
    )
    # Explicit noise inputs: the random mode is the documented numpy recipe.
    feed = {"z": z, **dict(zip(model.noise_names, noise_maps(3, model.noise_resolutions, 7)))}
    np.testing.assert_allclose(model(feed).numpy(), random_a, atol=1e-6)
    assert model.generate(2, seed=1, noise_mode="none").shape == (2, 16, 16, 1)


def test_export_parity_for_mapping_synthesis_and_generator(trained, tmp_path):
    model = trained[0]
    manifest = ganzoo.export(model, tmp_path / "export")
    result = manifest["verification"]
    assert result["passed"] and max(result["max_abs_diff"].values()) <= 1e-4
    assert {key.split(":")[1] for key in result["max_abs_diff"]} == {"mapping", "synthesis", "generator"}
    assert sorted({case["inputs"]["z"][0] for case in result["cases"] if "z" in case["inputs"]}) == [1, 3]
    inputs = [spec["name"] for spec in manifest["graphs"]["generator"]["inputs"]]
    assert inputs == ["z", "truncation_psi", *model.noise_names]
    # The SavedModel endpoints give the same images for fixed noise inputs at batch 1 and 4.
    loaded = tf.saved_model.load(str(tmp_path / "export" / "savedmodel"))
    for batch in (1, 4):
        z = latent_vectors(batch, 16, batch)
        noise = noise_maps(batch, model.noise_resolutions, batch)
        image = loaded.serve(z, tf.constant(0.7), *noise).get("image").numpy()
        expected = model.synthesize(model.mapping_ws(z, 0.7), dict(zip(model.noise_names, noise)))
        np.testing.assert_allclose(image, expected, atol=1e-4)
        ws = loaded.mapping(z, tf.constant(0.7))["w"].numpy()
        np.testing.assert_allclose(ws, model.mapping_ws(z, 0.7)[:, 0], atol=1e-5)
    # The TensorFlow-free runtime reproduces generate() with truncation, every noise mode and mixing.
    generator = runtime.load(tmp_path / "export")
    assert isinstance(generator, runtime.OnnxStyleGenerator) and generator.noise_names == model.noise_names
    for options in (
        {},
        {"truncation_psi": 0.5},
        {"noise_mode": "random"},
        {"noise_mode": "none", "mix": 3},
        {"mix": 5, "mix_cutoff": 1, "truncation_psi": 0.7},
    ):
        np.testing.assert_allclose(
            generator.generate(5, seed=2, raw=True, batch_size=2, **options),
            model.generate(5, seed=2, raw=True, **options),
            atol=1e-4,
            err_msg=str(options),
        )
    with pytest.raises(ValueError, match="mix must be a seed or an array of shape"):
        generator.generate(2, mix=np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match="noise_mode must be one of"):
        generator.generate(2, noise_mode="fixed")


def test_projector_reduces_reconstruction_error_on_a_generated_image(trained):
    model = trained[0]
    target = model.generate(1, seed=42)[0]
    result = ganzoo.latent.project(model, target, steps=40, seed=0)
    assert result.space == "w" and result.latent.shape == (model.style_dim,)
    assert result.mse[-1] < 0.5 * result.mse[0]
    assert result.image.shape == target.shape and result.image.dtype == np.uint8


def test_interpolation_lerp_in_w_and_slerp_in_z(trained):
    model = trained[0]
    a, b = latent_vectors(2, 64, 0)
    path = latent_tools.slerp(a, b, np.linspace(0, 1, 5)[:, None])
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b, atol=1e-5)
    mid_norm = np.linalg.norm(path[2])
    assert mid_norm > np.linalg.norm(latent_tools.lerp(a, b, 0.5))  # slerp does not cut through the centre
    np.testing.assert_allclose(latent_tools.lerp(a, b, 0.25), 0.75 * a + 0.25 * b, atol=1e-6)
    for space in ("w", "z"):
        frames = latent_tools.interpolate(model, seeds=(3, 4), steps=4, space=space)
        assert frames.shape == (5, 16, 16, 1)
        np.testing.assert_array_equal(frames[0], model.generate(1, seed=3)[0])
        np.testing.assert_array_equal(frames[-1], model.generate(1, seed=4)[0])


def test_cli_commands_write_their_files(trained, tmp_path):
    import argparse

    path = str(trained[3])

    def run(name, *argv):
        configure, command, _ = generate_commands.COMMANDS[name]
        parser = argparse.ArgumentParser()
        configure(parser)
        return command(parser.parse_args([*argv]))

    from ganzoo.cli import main

    assert main(["sample", path, "-n", "4", "--truncation", "0.7", "-o", str(tmp_path / "s.png")]) == 0
    assert run("interpolate", path, "--steps", "3", "-o", str(tmp_path / "walk.gif")) == 0
    assert run("interpolate", path, "--steps", "3", "--space", "z", "-o", str(tmp_path / "walk.png")) == 0
    assert run("mix", path, "--rows", "1", "2", "--cols", "3", "-o", str(tmp_path / "mix.png")) == 0
    from PIL import Image

    assert Image.open(tmp_path / "walk.gif").n_frames == 6  # 4 frames, then back
    assert Image.open(tmp_path / "s.png").size[0] > 0 and Image.open(tmp_path / "mix.png").size[0] > 0
    grid = latent_tools.style_mixing_grid(trained[0], [1, 2], [3, 4, 5], padding=1)
    assert grid.shape == (3 * 17 + 1, 4 * 17 + 1, 1)
    sweep = latent_tools.truncation_sweep(trained[0], seeds=[0, 1], psis=(1.0, 0.0), padding=1)
    assert sweep.shape == (2 * 17 + 1, 2 * 17 + 1, 1)
    np.testing.assert_array_equal(sweep[1:17, 18:34], sweep[18:34, 18:34])  # psi = 0: same image for both seeds
    Image.fromarray(trained[0].generate(1, seed=9)[0, ..., 0]).save(tmp_path / "target.png")
    assert run("project", path, str(tmp_path / "target.png"), "--steps", "5", "-o", str(tmp_path / "proj")) == 0
    assert (tmp_path / "proj" / "comparison.png").exists() and (tmp_path / "proj" / "latent_w.npy").exists()
