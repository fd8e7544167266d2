"""pix2pix, cyclegan and srgan: training through fit, save/load, export parity, data pipelines, learning."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_CONFIGS
from PIL import Image

import ganzoo
from ganzoo.data import pairs as image_tasks
from ganzoo.deploy import translate as translate_lib
from ganzoo.errors import DataError
from ganzoo.evaluation import image_tasks as image_eval
from ganzoo.evaluation.metrics import psnr
from ganzoo.models.cyclegan import ImagePool, paper_optimizers
from ganzoo.models.layers.image import LumaChromaToRGB
from ganzoo.models.nets.image import patchgan_layers_for, patchgan_receptive_field
from ganzoo.objectives.schedules import LinearDecay

# Tiny configurations: each traces in seconds on a busy CPU.
CONFIGS = {
    "pix2pix": dict(image_shape=(16, 16, 3), source_channels=1, base_filters=4, d_base_filters=4),
    "cyclegan": dict(image_shape=(16, 16, 3), base_filters=4, res_blocks=1, d_base_filters=4, pool_size=3),
    "srgan": dict(image_shape=(16, 16, 3), scale=4, filters=4, res_blocks=1, d_base_filters=4, d_dense_units=8),
}


def tiny(name, **overrides):
    return ganzoo.create(name, **{**CONFIGS[name], **overrides})


def pairs_for(model, n=4, batch_size=2, seed=0):
    rng = np.random.default_rng(seed)
    size, _, channels = model.image_shape
    if model.architecture == "srgan":
        low = size // model.scale
        source = rng.uniform(-1, 1, (n, low, low, channels))
    elif model.architecture == "pix2pix":
        source = rng.uniform(-1, 1, (n, size, size, model.source_channels))
    else:
        source = rng.uniform(-1, 1, (n, size, size, channels))
    target = rng.uniform(-1, 1, (n, size, size, channels))
    return tf.data.Dataset.from_tensor_slices((source.astype("float32"), target.astype("float32"))).batch(batch_size)


def _weights(network):
    return [v.numpy().copy() for v in network.trainable_variables]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trains_through_fit_and_round_trips_through_save(tmp_path, name):
    keras.utils.set_random_seed(0)
    model = tiny(name)
    model.compile(**({"phase": "adversarial"} if name == "srgan" else {}))
    g_before, d_before = _weights(model.generator), _weights(model.discriminator)
    history = model.fit(pairs_for(model), epochs=1, verbose=0)
    for key in ("g_loss", "d_loss", "g_grad_norm", "d_grad_norm"):
        assert np.all(np.isfinite(history.history[key])), key
    assert any(not np.allclose(a, b) for a, b in zip(g_before, _weights(model.generator)))
    assert any(not np.allclose(a, b) for a, b in zip(d_before, _weights(model.discriminator)))
    assert int(model.g_optimizer.iterations.numpy()) == 2 == int(model.d_optimizer.iterations.numpy())
    assert type(model).from_config(model.get_config()).get_config() == model.get_config()

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    source = next(iter(pairs_for(model, seed=1)))[0].numpy()
    for direction in model.export_endpoints():
        np.testing.assert_array_equal(
            model.translate(source, direction, raw=True), loaded.translate(source, direction, raw=True)
        )
    for original, restored in ((model.g_optimizer, loaded.g_optimizer), (model.d_optimizer, loaded.d_optimizer)):
        for a, b in zip(original.variables, restored.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), loaded.seed_generator.state.numpy())
    if name == "cyclegan":  # the history pools are model state
        for pool in ("pool_a", "pool_b"):
            assert int(getattr(loaded, pool).count.numpy()) == 3
            np.testing.assert_array_equal(getattr(model, pool).images.numpy(), getattr(loaded, pool).images.numpy())
    if name == "srgan":
        assert loaded.phase == "adversarial"
    results = loaded.evaluate(pairs_for(model, seed=2), return_dict=True, verbose=0)
    assert np.isfinite(results["g_loss"])


def test_a_default_cyclegan_exports_with_parity_probed_at_its_training_size(tmp_path):
    # CycleGAN's own networks (64 filters, 9 residual blocks, instance norm) at 32 px. Probed with an 8 px image,
    # instance norm ran over a 2 x 2 bottleneck and ONNX Runtime's float32 rounding reached 1.1e-4, so export
    # refused an untrained model; at the 32 px of its training patches it stays near 1.5e-5.
    keras.utils.set_random_seed(0)
    model = ganzoo.create("cyclegan", image_shape=(32, 32, 3))
    shapes = [feed["image"].shape for feed in model.export_examples("a2b")]
    assert shapes[0] == (1, 32, 32, 3) and shapes[1][0] == 3 and shapes[1][1] != shapes[1][2] > 32
    manifest = ganzoo.export(model, tmp_path / "export", formats="onnx")
    assert 0 < max(manifest["verification"]["max_abs_diff"].values()) <= 5e-5
    srgan = tiny("srgan", image_shape=(64, 64, 3))  # probed at its low-resolution training size: 64 px / 4
    assert srgan.export_examples("upscale")[0]["image"].shape == (1, 16, 16, 3)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_export_matches_keras_in_onnx_and_savedmodel(tmp_path, name):
    keras.utils.set_random_seed(1)
    model = tiny(name)
    out = tmp_path / "export"
    manifest = ganzoo.export(model, out, atol=1e-4)
    endpoints = {"pix2pix": ["translate"], "cyclegan": ["a2b", "b2a"], "srgan": ["upscale"]}[name]
    assert list(manifest["graphs"]) == endpoints
    sizes = {tuple(case["inputs"]["image"]) for case in manifest["verification"]["cases"]}
    assert len({(h, w) for _, h, w, _ in sizes}) == 2  # two different input sizes, one with batch > 1
    assert set(manifest["verification"]["max_abs_diff"]) == {
        f"{fmt}:{e}" for fmt in ("onnx", "savedmodel") for e in endpoints
    }
    assert max(manifest["verification"]["max_abs_diff"].values()) <= 1e-4
    assert json.loads((out / "manifest.json").read_text())["model"]["scale"] == model.output_scale

    # The file-level CLI helpers give the same image through Keras and ONNX Runtime, at an odd size.
    rng = np.random.default_rng(0)
    channels = model.generator_b2a.inputs[0].shape[-1] if name == "cyclegan" else model.generator.inputs[0].shape[-1]
    picture = rng.integers(0, 256, (13, 19, 3 if channels == 3 else 1), dtype=np.uint8)
    Image.fromarray(picture.squeeze()).save(tmp_path / "in.png")
    run = translate_lib.upscale_file if name == "srgan" else translate_lib.translate_file
    kwargs = {"tile": None} if name == "srgan" else {}
    run(model, tmp_path / "in.png", tmp_path / "keras.png", **kwargs)
    run(str(out), tmp_path / "in.png", tmp_path / "onnx.png", backend="onnx", **kwargs)
    via_keras = np.asarray(Image.open(tmp_path / "keras.png")).astype(int)
    via_onnx = np.asarray(Image.open(tmp_path / "onnx.png")).astype(int)
    assert via_keras.shape[:2] == (13 * model.output_scale, 19 * model.output_scale)
    assert np.abs(via_keras - via_onnx).max() <= 1
    # `ganzoo translate` / `ganzoo upscale` run these helpers: the same image.
    from ganzoo import cli

    command = "upscale" if name == "srgan" else "translate"
    extra = ["--tile", "0"] if name == "srgan" else []
    out_png = tmp_path / "cli.png"
    assert cli.main([command, str(out), str(tmp_path / "in.png"), "-o", str(out_png), "--backend", "onnx", *extra]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out_png)).astype(int), via_onnx)


def test_srgan_tiled_upscaling_equals_whole_image_pass():
    keras.utils.set_random_seed(2)
    model = tiny("srgan", g_norm="none", res_blocks=2)
    image = np.random.default_rng(0).uniform(-1, 1, (1, 23, 30, 3)).astype("float32")
    whole = model.upscale(image, raw=True)
    tiled = model.upscale(image, tile=8, raw=True)  # overlap = receptive radius
    assert whole.shape == (1, 92, 120, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert np.abs(model.upscale(image, tile=8, overlap=0, raw=True) - whole).max() > 1e-3  # seams without context


def test_srgan_mse_phase_beats_bicubic_on_held_out_photos():
    """A real learning test: 300 MSE steps on training-photo patches, scored on patches of unseen photos."""
    keras.utils.set_random_seed(0)
    model = ganzoo.create(
        "srgan",
        image_shape=(32, 32, 3),
        scale=2,
        filters=16,
        res_blocks=2,
        g_norm="none",
        upsample_skip="bicubic",
        d_base_filters=4,
        d_dense_units=8,
    )
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3), phase="mse")
    data = image_tasks.load_pairs("skimage:sr", crop_size=32, scale=2, batch_size=16, seed=0, num_patches=16 * 300)
    history = model.fit(data, epochs=1, verbose=0).history
    assert set(history) == {"g_loss", "mse", "g_grad_norm"}  # no D numbers from a phase without D
    high = image_tasks.heldout_patches(32)[::4]  # chelsea and coffee: never seen in training
    low = image_tasks.degrade(high.astype("float32") / 127.5 - 1.0, 2).numpy()
    score = lambda images: psnr(images, high, data_range=255, crop_border=2, channel="y")  # noqa: E731
    bicubic = score(image_eval._uint8(image_tasks.bicubic_upscale(low, 2)))
    learned = score(model.upscale(low))
    assert learned > bicubic + 0.1, (learned, bicubic)


def test_pair_augmentation_applies_the_same_crop_and_flip_to_both_sides():
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (12, 10, 3)).astype("float32")
    crops = set()
    for s in range(40):
        seed = tf.constant([s, 7], tf.int64)
        # translation: target = a pixelwise function of the source
        a, b = image_tasks.augment_pair(source, 255.0 - source[..., :1], seed, crop_size=6)
        np.testing.assert_array_equal(b.numpy(), 255.0 - a.numpy()[..., :1])
        # super-resolution: target = source upsampled x2 (nearest): the windows must stay aligned
        low, high = image_tasks.augment_pair(
            source, np.repeat(np.repeat(source, 2, 0), 2, 1), seed, crop_size=4, scale=2
        )
        np.testing.assert_array_equal(high.numpy(), np.repeat(np.repeat(low.numpy(), 2, 0), 2, 1))
        crops.add(a.numpy().tobytes())
    assert len(crops) > 10  # the window moves
    # some pairs were mirrored: mirrored crops of the source appear
    mirrored = [
        image_tasks.augment_pair(source, source, tf.constant([s, 7], tf.int64), flip=True)[0].numpy() for s in range(20)
    ]
    assert any(np.array_equal(m, source[:, ::-1]) for m in mirrored) and any(
        np.array_equal(m, source) for m in mirrored
    )
    # the same seed gives the same result
    one = image_tasks.augment_pair(source, source, tf.constant([3, 4], tf.int64), crop_size=5)[0]
    np.testing.assert_array_equal(
        one, image_tasks.augment_pair(source, source, tf.constant([3, 4], tf.int64), crop_size=5)[0]
    )


def test_paired_folder_pipeline_keeps_pairs_aligned(tmp_path):
    rng = np.random.default_rng(0)
    for side in ("A", "B"):
        (tmp_path / side).mkdir()
    for i in range(6):
        photo = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        Image.fromarray(photo).save(tmp_path / "A" / f"img{i}.png")
        Image.fromarray(255 - photo).save(tmp_path / "B" / f"img{i}.png")
    data = image_tasks.load_pairs(f"folder:{tmp_path}", batch_size=3, crop_size=8, seed=0)
    batches = list(data)
    assert len(batches) == 2
    for source, target in batches:
        assert source.shape == target.shape == (3, 8, 8, 3)
        np.testing.assert_allclose(target.numpy(), -source.numpy(), atol=1e-6)  # 255 - x  ->  -x in [-1, 1]
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "A" / "lonely.png")
    with pytest.raises(DataError, match="matching names"):
        image_tasks.load_pairs(f"folder:{tmp_path}", batch_size=2)


def test_tfds_pipelines_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=5):
        data = image_tasks.load_unpaired("tfds:cycle_gan/horse2zebra", batch_size=2, crop_size=16, seed=0)
        a, b = next(iter(data))
        assert a.shape == b.shape == (2, 16, 16, 3)
        assert -1.0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(b)) <= 1.0
        test_a, _ = next(
            iter(image_tasks.load_unpaired("tfds:cycle_gan/horse2zebra", split="test", batch_size=2, crop_size=16))
        )
        assert test_a.shape == (2, 16, 16, 3)

    def as_dataset(self, *args, **kwargs):  # div2k-like pairs whose HR is the LR upsampled x4 (nearest)
        low = np.random.default_rng(0).integers(0, 256, (4, 12, 10, 3), dtype=np.uint8)
        return tf.data.Dataset.from_tensor_slices({"lr": low, "hr": low.repeat(4, 1).repeat(4, 2)})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        data = image_tasks.load_pairs("tfds:div2k/bicubic_x4", batch_size=2, crop_size=16, seed=0)
        for low, high in data:
            assert low.shape == (2, 4, 4, 3) and high.shape == (2, 16, 16, 3)
            np.testing.assert_array_equal(high.numpy(), low.numpy().repeat(4, 1).repeat(4, 2))
        with pytest.raises(DataError, match="contradicts"):
            image_tasks.load_pairs("tfds:div2k/bicubic_x4", crop_size=16, scale=2)


def test_embedded_tasks_hold_out_whole_photos():
    assert not set(image_tasks.PHOTOS["train"]) & set(image_tasks.PHOTOS["test"])
    source, target = next(
        iter(image_tasks.load_pairs("skimage:colorize", batch_size=4, crop_size=32, seed=0, num_patches=8))
    )
    assert source.shape == (4, 32, 32, 1) and target.shape == (4, 32, 32, 3)
    np.testing.assert_allclose(source.numpy(), image_tasks.to_gray(target).numpy(), atol=1e-5)
    low, high = next(iter(image_tasks.load_pairs("skimage:sr", split="test", batch_size=4, crop_size=32, scale=4)))
    assert low.shape == (4, 8, 8, 3) and high.shape == (4, 32, 32, 3)
    a, b = next(iter(image_tasks.load_unpaired("skimage:hue", batch_size=4, crop_size=32, seed=0, num_patches=8)))
    assert a.shape == b.shape == (4, 32, 32, 3)
    held_out = image_tasks.heldout_patches(32)
    assert held_out.dtype == np.uint8 and len(held_out) > 100


def test_held_out_hue_domains_are_disjoint_and_drawn_from_every_test_photo_alike():
    """Both directions of cyclegan-hue are measured on the same photo mix, else content, not direction, sets them
    apart (contiguous halves gave A mostly the cat and B only the coffee cup)."""
    a, b = (
        np.concatenate([x.numpy() for x in side])
        for side in zip(*image_tasks.load_unpaired("skimage:hue", split="test", batch_size=64, crop_size=32))
    )
    b_source = image_tasks.hue_shift(b, -image_tasks.HUE_SHIFT).numpy()
    held_out = image_tasks.heldout_patches(32)
    tiles = {  # every 32 px grid tile of each test photo -> the photo's index
        photo[top : top + 32, left : left + 32].tobytes(): k
        for k, photo in enumerate(image_tasks.skimage_photos("test"))
        for top in range(0, photo.shape[0] - 31, 32)
        for left in range(0, photo.shape[1] - 31, 32)
    }
    photo_of = np.array([tiles[patch.tobytes()] for patch in held_out])
    held_out = held_out.astype(np.float32) / 127.5 - 1.0
    flat = held_out.reshape(len(held_out), -1)
    # Nearest by |y|^2 - 2 x.y (|x - y|^2 less the row's constant |x|^2): an (n, 337) matrix, not (n, 337, 32, 32, 3).
    nearest = lambda x: ((flat**2).sum(1) - 2 * x.reshape(len(x), -1) @ flat.T).argmin(axis=1)  # noqa: E731
    index_a, index_b = nearest(a), nearest(b_source)
    assert len(a) == len(b) and not set(index_a) & set(index_b)  # unpaired: no patch in both domains
    np.testing.assert_allclose(a, held_out[index_a], atol=1e-6)
    share = lambda index: np.bincount(photo_of[index], minlength=2) / len(index)  # noqa: E731
    np.testing.assert_allclose(share(index_a), share(index_b), atol=0.02)


def test_image_pool_returns_history_and_keeps_its_size():
    pool = ImagePool(size=4, image_shape=(1, 1, 1))
    first = np.arange(3, dtype="float32").reshape(3, 1, 1, 1)
    out = pool.query(first, np.zeros(3, "float32"), np.random.default_rng(0).uniform(size=4).astype("float32"))
    np.testing.assert_array_equal(out, first)  # filling: new images come back
    assert int(pool.count.numpy()) == 3
    second = np.arange(10, 13, dtype="float32").reshape(3, 1, 1, 1)
    # swap draws < 0.5 -> swap. The first image fills the last free slot; the other two swap.
    out = np.asarray(
        pool.query(second, np.array([0.9, 0.1, 0.1], "float32"), np.array([0.4, 0.3, 0.2, 0.1], "float32"))
    )
    assert int(pool.count.numpy()) == 4
    assert out[0, 0, 0, 0] == 10  # filled, returned as is
    stored_before = {0.0, 1.0, 2.0, 10.0}
    assert set(out[1:, 0, 0, 0]) <= stored_before and len(set(out[1:, 0, 0, 0])) == 2  # distinct old images
    assert {11.0, 12.0} <= set(pool.images.numpy().ravel())
    assert np.array_equal(ImagePool(size=0, image_shape=(1, 1, 1)).query(second, None, None), second)


def test_cyclegan_schedule_and_loss_defaults(tmp_path):
    schedule = LinearDecay(2e-4, constant_steps=10, decay_steps=10)
    assert float(schedule(0)) == pytest.approx(2e-4) and float(schedule(10)) == pytest.approx(2e-4)
    assert float(schedule(15)) == pytest.approx(1e-4) and float(schedule(25)) == 0.0
    model = tiny("cyclegan")
    model.compile(*paper_optimizers(steps_per_epoch=5, constant_epochs=2, decay_epochs=2))
    assert model.adversarial_loss.name == "least_squares"
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    restored = loaded.g_optimizer._learning_rate
    assert isinstance(restored, LinearDecay) and restored.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="identity"):
        ganzoo.create("cyclegan", image_shape=(16, 16, 3), channels_b=1)


def test_patchgan_receptive_field_and_scaling():
    assert patchgan_receptive_field(3) == 70  # the paper's 70x70 PatchGAN
    assert [patchgan_receptive_field(n) for n in (1, 2)] == [16, 34]
    assert patchgan_layers_for(256) == 3 and patchgan_layers_for(128) == 2 and patchgan_layers_for(32) == 1
    model = ganzoo.create("pix2pix", image_shape=(256, 256, 3), base_filters=2, d_base_filters=2)
    assert model.discriminator.output_shape == (None, 32, 32, 1)  # 256 / 2**3 patches per side
    assert model.generator.count_params() > 0 and model.size_multiple == 256


def test_models_refuse_latent_sampling_and_bad_inputs():
    model = tiny("pix2pix")
    with pytest.raises(TypeError, match="translate"):
        model.generate(4)
    with pytest.raises(ValueError, match="pairs"):
        model.unpack_batch(tf.zeros((2, 16, 16, 3)))
    with pytest.raises(ValueError, match="augment"):
        tiny("pix2pix", augment="diffaugment")
    # translate pads any size to the U-Net's multiple and converts channels
    out = model.translate(np.zeros((10, 13, 3), np.uint8))
    assert out.shape == (1, 10, 13, 3) and out.dtype == np.uint8


def test_srgan_content_extractors_are_pluggable():
    from ganzoo.models import srgan

    calls = []

    @srgan.register_content_extractor("halves")
    def halves(model):
        calls.append(model)
        return lambda images: images[:, ::2, ::2]

    try:
        model = tiny("srgan", content_loss="halves")
        model.compile(phase="adversarial")
        assert calls == [model]
        history = model.fit(pairs_for(model), epochs=1, verbose=0)
        assert np.isfinite(history.history["content"][-1])
    finally:
        del srgan.CONTENT_EXTRACTORS["halves"]
    with pytest.raises(KeyError, match="vgg19"):
        tiny("srgan", content_loss="vgg")
    # VGG19 without weights to hand explains what to do (the weights path does not exist)
    with pytest.raises(RuntimeError, match="content_loss='discriminator'"):
        tiny("srgan", content_loss="vgg19", vgg_weights="/nonexistent/vgg19.h5").compile(phase="adversarial")


@pytest.mark.parametrize(
    "name, data", [("pix2pix", "skimage:colorize"), ("cyclegan", "skimage:hue"), ("srgan", "skimage:sr")]
)
def test_ganzoo_train_runs_the_embedded_image_tasks(tmp_path, name, data):
    """`ganzoo train ARCH --data skimage:TASK`: sizes read from the pairs, panels instead of sample grids."""
    from ganzoo.deploy.loading import load_model
    from ganzoo.training.run import TrainConfig, train

    sizes = {k: v for k, v in CONFIGS[name].items() if k not in ("image_shape", "source_channels")}
    config = TrainConfig(architecture=name, data=data, epochs=1, batch_size=64, image_size=16, seed=0, model=sizes)
    model = train(config, tmp_path / "run", verbose=0)
    assert tuple(model.image_shape) == (16, 16, 3)
    if name == "pix2pix":
        assert model.source_channels == 1  # grayscale sources, read from the data
    panel = Image.open(tmp_path / "run" / "samples" / "epoch_001.png")
    assert panel.size[0] > 3 * 16  # input | output | target
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 2 and "g_loss" in history[0]
    loaded = load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_array_equal(
        loaded.translate(np.zeros((1, 8, 8, model.generator.inputs[0].shape[-1]), np.uint8)),
        model.translate(np.zeros((1, 8, 8, model.generator.inputs[0].shape[-1]), np.uint8)),
    )


@pytest.mark.parametrize("architecture", ["pix2pix", "cyclegan"])
def test_resize_upsampling_has_no_checkerboard_where_transposed_convolutions_do(architecture):
    """On a flat input, a stride-2 transposed convolution paints alternate pixels with other kernel taps."""

    def nyquist_energy(upsampling):  # the period-2 (checkerboard) components of the output's interior
        keras.utils.set_random_seed(0)
        config = dict(TINY_CONFIGS[architecture], image_shape=(32, 32, 3), upsampling=upsampling)
        if architecture == "pix2pix":
            config.update(depth=2, source_channels=3, dropout=0.0)
        model = ganzoo.create(architecture, **config)
        out = np.asarray(model.translate(np.full((1, 32, 32, 3), 0.3, np.float32), raw=True))[0, 8:24, 8:24]
        sign = (-1.0) ** np.arange(16)
        waves = (sign[:, None], sign[None, :], np.outer(sign, sign))
        return sum(abs(float((out * w[..., None]).mean())) for w in waves), model

    transposed, _ = nyquist_energy("transpose")
    resized, model = nyquist_energy("resize")
    assert transposed > 0.01 and resized < transposed / 10
    assert type(model).from_config(model.get_config()).upsampling == "resize"
    with pytest.raises(ValueError, match="upsampling must be one of"):
        ganzoo.create(architecture, **dict(TINY_CONFIGS[architecture], upsampling="bilinear"))


def test_chroma_pix2pix_keeps_the_gray_input_as_luma_and_reconstructs_a_colour_image(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny("pix2pix", chroma=True)
    gray = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 16, 16, 1)).astype("float32")
    rgb = np.asarray(model.translate(gray, raw=True))
    unclipped = np.all(np.abs(rgb) < 1.0, axis=-1)
    assert rgb.shape == (2, 16, 16, 3) and unclipped.mean() > 0.9
    luma = image_tasks.to_gray(rgb).numpy()[..., 0]
    np.testing.assert_allclose(luma[unclipped], gray[..., 0][unclipped], atol=1e-5)  # BT.601 luma passes through
    # A perfect chroma gives back the colour image: the layer inverts BT.601 exactly.
    colour = np.random.default_rng(1).uniform(-0.6, 0.6, (1, 8, 8, 3)).astype("float32")
    y = (image_tasks.to_gray(colour).numpy() + 1) / 2
    unit = (colour + 1) / 2
    chroma = np.concatenate([(unit[..., 2:] - y) / 1.772, (unit[..., :1] - y) / 1.402], -1) * 2
    rebuilt = LumaChromaToRGB()([y * 2 - 1, chroma]).numpy()
    np.testing.assert_allclose(rebuilt, colour, atol=1e-5)
    path = tmp_path / "chroma.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.chroma is True
    np.testing.assert_array_equal(np.asarray(loaded.translate(gray, raw=True)), rgb)
    with pytest.raises(ValueError, match="chroma=True colourizes: it needs source_channels=1"):
        tiny("pix2pix", chroma=True, source_channels=3)


def test_chroma_scale_predicts_colour_at_a_lower_resolution_and_upsamples_it(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny("pix2pix", chroma=True, chroma_scale=4)
    gray = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 16, 16, 1)).astype("float32")
    coarse = keras.Model(model.generator.input, model.generator.get_layer("chroma").input)(gray).numpy()
    assert coarse.shape == (2, 4, 4, 2)  # the decoder stops at a quarter of the size
    rgb = np.asarray(model.translate(gray, raw=True))
    unclipped = np.all(np.abs(rgb) < 1.0, axis=-1)
    luma = image_tasks.to_gray(rgb).numpy()[..., 0]
    np.testing.assert_allclose(luma[unclipped], gray[..., 0][unclipped], atol=1e-5)  # full-size luma kept
    upsampled = tf.image.resize(coarse, (16, 16), method="bilinear").numpy()
    full = keras.Model(model.generator.input, model.generator.get_layer("chroma").output)(gray).numpy()
    np.testing.assert_allclose(full, upsampled, atol=1e-6)
    path = tmp_path / "coarse.keras"
    model.save(path)
    assert keras.saving.load_model(path).chroma_scale == 4
    for bad, message in (
        ({"chroma_scale": 3}, "chroma_scale must be a power of 2"),
        ({"chroma": False, "chroma_scale": 2}, "needs chroma=True"),
    ):
        with pytest.raises(ValueError, match=message):
            tiny("pix2pix", **{"chroma": True, **bad})
