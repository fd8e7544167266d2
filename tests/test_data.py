"""Tests of ganzoo.data: every source yields what the docs promise, and bad input fails clearly."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402
from PIL import Image  # noqa: E402

from ganzoo.data import datasets as data  # noqa: E402
from ganzoo.errors import DataError  # noqa: E402


def epoch(ds):
    """All batches of one pass, concatenated (images, or (images, labels))."""
    batches = list(ds.as_numpy_iterator())
    if isinstance(batches[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*batches))
    return np.concatenate(batches)


def write_image(path, size=(10, 12), mode="RGB", color=(255, 0, 0)):
    """A solid image of (height, width) = size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size[1], size[0]), color).save(path)
    return path


# ---------------------------------------------------------------------------------------- digits


def test_digits_batches_are_float_images_in_range():
    images, labels = epoch(data.load("digits", batch_size=64, with_labels=True, seed=0))
    first = next(iter(data.load("digits", batch_size=64)))
    assert first.shape == (64, 16, 16, 1) and first.dtype.name == "float32"
    assert images.shape == (1600, 16, 16, 1)  # 1617 train images, the last partial batch dropped
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() < -0.99 and images.max() > 0.99
    assert labels.dtype == np.int32 and set(labels.tolist()) == set(range(10))


def test_pipelines_run_without_the_tf_data_autotuner():
    """The autotuner stalls every epoch start on small CPU machines (docs/BENCHMARKS.md): ganzoo's pipelines turn it off."""
    from ganzoo.data import pairs as image_tasks

    for ds in (
        data.load("digits", batch_size=64),
        data.load("ring8", batch_size=64),
        image_tasks.load_pairs("skimage:sr", batch_size=4, crop_size=16, scale=2, seed=0),
        image_tasks.load_unpaired("skimage:hue", batch_size=4, crop_size=16, seed=0),
    ):
        assert ds.options().autotune.enabled is False


def test_digits_splits_partition_the_dataset_with_stratified_test():
    def everything(split):
        return epoch(data.load("digits", split=split, batch_size=1, shuffle=False, with_labels=True, image_size=8))

    (train, _), (test, test_labels), (full, _) = everything("train"), everything("test"), everything("all")
    assert len(train) + len(test) == len(full) == 1797
    assert data.num_examples("digits", "train") == len(train) and data.num_examples("digits", "test") == len(test)
    as_bytes = lambda images: Counter(image.tobytes() for image in images)  # noqa: E731
    assert as_bytes(train) + as_bytes(test) == as_bytes(full)
    assert set(Counter(test_labels.tolist()).values()) <= {17, 18, 19}  # about 10 % of each class


def test_digits_sizes_and_channels():
    assert next(iter(data.load("digits", batch_size=4, image_size=32))).shape == (4, 32, 32, 1)
    assert next(iter(data.load("digits", batch_size=4, image_size=(8, 24)))).shape == (4, 8, 24, 1)
    rgb = next(iter(data.load("digits", batch_size=4, image_size=8, channels=3))).numpy()
    assert rgb.shape == (4, 8, 8, 3)
    np.testing.assert_allclose(rgb[..., 0], rgb[..., 2], atol=1e-6)


def test_same_seed_same_order_and_each_epoch_reshuffles():
    first = data.load("digits", batch_size=100, with_labels=True, seed=3)
    again = data.load("digits", batch_size=100, with_labels=True, seed=3)
    other = data.load("digits", batch_size=100, with_labels=True, seed=4)
    epoch1, epoch2 = epoch(first)[1], epoch(first)[1]
    np.testing.assert_array_equal(epoch1, epoch(again)[1])
    assert not np.array_equal(epoch1, epoch2)
    assert not np.array_equal(epoch1, epoch(other)[1])
    unshuffled = epoch(data.load("digits", batch_size=100, with_labels=True, shuffle=False))[1]
    assert not np.array_equal(epoch1, unshuffled)


def test_no_drop_remainder_keeps_the_partial_batch():
    sizes = [len(b) for b in data.load("digits", split="test", batch_size=100, drop_remainder=False)]
    assert sizes == [100, 80]


# ----------------------------------------------------------------------------------------- faces


def test_faces_counts_shapes_and_range():
    train = epoch(data.load("faces", batch_size=9, shuffle=False))
    test = epoch(data.load("faces", split="test", batch_size=10))
    assert train.shape == (90, 32, 32, 1) and test.shape == (10, 32, 32, 1)
    assert train.min() >= -1.0 and train.max() <= 1.0 and train.max() - train.min() > 1.5
    assert data.num_examples("faces", "all") == len(epoch(data.load("faces", split="all", batch_size=10))) == 100


def test_faces_have_no_labels():
    with pytest.raises(DataError, match="faces has no classes"):
        data.load("faces", with_labels=True)


# -------------------------------------------------------------------------------------- mixtures


@pytest.mark.parametrize("name, count", [("ring8", 8), ("grid25", 25)])
def test_mixture_points_cluster_on_all_modes(name, count):
    modes, std = data.mixture_modes(name)
    assert modes.shape == (count, 2)
    points, labels = epoch(data.load(name, batch_size=1000, seed=0, with_labels=True))
    assert points.shape == (10_000, 2) and points.dtype == np.float32 and labels.dtype == np.int32
    distances = np.linalg.norm(points[:, None, :] - modes[None], axis=-1)
    assert np.mean(distances.min(axis=1) < 4 * std) > 0.99
    assert np.mean(distances.argmin(axis=1) == labels) > 0.99
    assert set(labels.tolist()) == set(range(count))


def test_mixture_modes_geometry():
    ring, ring_std = data.mixture_modes("ring8")
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, rtol=1e-6)
    grid, grid_std = data.mixture_modes("grid25")
    assert sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4] and len({tuple(m) for m in grid.tolist()}) == 25
    assert (ring_std, grid_std) == (0.02, 0.05)
    with pytest.raises(DataError, match="ring8"):
        data.mixture_modes("ring9")


def test_mixture_train_follows_seed_and_test_is_fixed():
    def points(split, seed):
        return epoch(data.load("ring8", split=split, batch_size=100, seed=seed, shuffle=False, num_samples=500))

    assert points("train", 1).shape == (500, 2)
    np.testing.assert_array_equal(points("train", 1), points("train", 1))
    assert not np.array_equal(points("train", 1), points("train", 2))
    np.testing.assert_array_equal(points("test", 1), points("test", 2))
    assert not np.array_equal(points("test", 1), points("train", 1))
    assert data.num_examples("ring8", num_samples=500) == 500 == data.num_examples("grid25", num_samples=500)
    with pytest.raises(DataError, match="image_size"):
        data.load("ring8", image_size=16)


# ------------------------------------------------------------------------------------------ TFDS


def test_tfds_mnist_is_resized_with_labels():
    with tfds.testing.mock_data(num_examples=20):
        images, labels = epoch(data.load("tfds:mnist", batch_size=10, image_size=32, with_labels=True, seed=0))
    assert images.shape == (20, 32, 32, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.max() - images.min() > 1.5
    assert labels.dtype == np.int32 and labels.min() >= 0 and labels.max() <= 9


def test_tfds_cifar10_keeps_rgb_or_converts():
    with tfds.testing.mock_data(num_examples=12):
        rgb = epoch(data.load("tfds:cifar10:test", batch_size=4))
        gray = next(iter(data.load("tfds:cifar10", batch_size=4, channels=1, image_size=16)))
        with pytest.raises(DataError, match="12 examples"):
            data.load("tfds:cifar10", batch_size=13)
    assert rgb.shape == (12, 32, 32, 3)
    assert gray.shape == (4, 16, 16, 1)


def test_tfds_variable_sizes_and_missing_features():
    with tfds.testing.mock_data(num_examples=6):
        images = next(iter(data.load("tfds:lsun/church_outdoor", batch_size=6)))
        assert images.shape[0] == 6 and images.shape[-1] == 3  # first image's size, all alike
        with pytest.raises(DataError, match="no 'label' feature"):
            data.load("tfds:lsun/church_outdoor", batch_size=2, with_labels=True)
        with pytest.raises(DataError, match="no 'image' feature"):
            data.load("tfds:div2k", batch_size=2)


def test_tfds_unknown_dataset_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no_such_dataset_xyz"):
        data.load("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))


# ---------------------------------------------------------------------------------------- folder


@pytest.fixture
def pets(tmp_path):
    """cats: 3 red PNGs, dogs: 2 blue JPGs and 1 green BMP, of different sizes."""
    for i, size in enumerate([(10, 12), (20, 20), (7, 30)]):
        write_image(tmp_path / "pets" / "cats" / f"c{i}.png", size, color=(255, 0, 0))
    write_image(tmp_path / "pets" / "dogs" / "d0.jpg", (16, 16), color=(0, 0, 255))
    write_image(tmp_path / "pets" / "dogs" / "sub" / "d1.jpeg", (9, 9), color=(0, 0, 255))
    write_image(tmp_path / "pets" / "dogs" / "d2.BMP", (5, 40), color=(0, 255, 0))
    return tmp_path / "pets"


def test_folder_labels_shapes_and_colors(pets):
    ds = data.load(f"folder:{pets}", batch_size=6, with_labels=True, shuffle=False)
    assert ds.class_names == ["cats", "dogs"]
    images, labels = epoch(ds)
    assert images.shape == (6, 10, 12, 3)  # the first image's size
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]  # sorted: cats/c0..c2, dogs/d0.jpg, dogs/d2.BMP, dogs/sub/d1
    np.testing.assert_allclose(images[0].mean(axis=(0, 1)), [1, -1, -1], atol=1e-5)  # red PNG
    np.testing.assert_allclose(images[3].mean(axis=(0, 1)), [-1, -1, 1], atol=0.05)  # blue JPG
    np.testing.assert_allclose(images[4].mean(axis=(0, 1)), [-1, 1, -1], atol=1e-5)  # green BMP
    assert data.num_examples(f"folder:{pets}") == 6


def test_folder_resize_grayscale_and_no_labels(pets):
    images = next(iter(data.load(f"folder:{pets}", batch_size=6, image_size=8, channels=1)))
    assert images.shape == (6, 8, 8, 1)
    assert images.numpy().min() >= -1.0 and images.numpy().max() <= 1.0


def test_folder_undecodable_files_are_named(pets):
    (pets / "cats" / "x.png").write_bytes(np.random.default_rng(0).bytes(300))
    damaged = bytearray((pets / "cats" / "c0.png").read_bytes())
    damaged[-20] ^= 0xFF  # inside the image data: a valid header, a bad checksum
    (pets / "dogs" / "damaged.png").write_bytes(bytes(damaged))
    with pytest.raises(DataError, match=r"2 of 8 image files cannot be decoded: .*x\.png.*damaged\.png"):
        data.load(f"folder:{pets}", batch_size=2)


def test_folder_truncated_jpeg_is_named_at_load(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:1000])
    # Pillow's verify() cannot see the cut; the up-front decode does, before any TensorFlow pipeline runs.
    with pytest.raises(DataError, match=r"1 of 2 image files cannot be decoded: .*cut\.jpg"):
        data.load(f"folder:{tmp_path}", batch_size=1)


def test_folder_empty_or_missing(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="no images"):
        data.load(f"folder:{tmp_path / 'empty'}")
    with pytest.raises(DataError, match="does not exist"):
        data.load(f"folder:{tmp_path / 'missing'}")


def test_folder_skipped_files_are_counted(pets):
    (pets / "README.txt").write_text("cats and dogs")
    with pytest.warns(UserWarning, match="skipping 1 files"):
        data.load(f"folder:{pets}", batch_size=2)


def test_folder_mixed_channels_need_channels(tmp_path):
    write_image(tmp_path / "a.png", mode="L", color=255)
    write_image(tmp_path / "b.png", mode="RGB", color=(0, 255, 0))
    with pytest.raises(DataError, match=r"1 channels: 1 files .*a\.png.*3 channels: 1 files .*b\.png.*channels="):
        data.load(f"folder:{tmp_path}", batch_size=2)
    rgb = epoch(data.load(f"folder:{tmp_path}", batch_size=2, channels=3, shuffle=False))
    assert rgb.shape == (2, 10, 12, 3)
    np.testing.assert_allclose(rgb[0].mean(axis=(0, 1)), [1, 1, 1], atol=1e-5)  # white gray -> white RGB
    gray = epoch(data.load(f"folder:{tmp_path}", batch_size=2, channels=1, shuffle=False))
    assert gray.shape == (2, 10, 12, 1)
    np.testing.assert_allclose(gray[1].mean(), 2 * 150 / 255 - 1, atol=0.01)  # luma of pure green


def test_folder_rgba_needs_channels_and_drops_alpha(tmp_path):
    write_image(tmp_path / "see_through.png", mode="RGBA", color=(255, 0, 0, 0))
    with pytest.raises(DataError, match=r"alpha channel.*see_through\.png.*channels=3"):
        data.load(f"folder:{tmp_path}", batch_size=1)
    images = epoch(data.load(f"folder:{tmp_path}", batch_size=1, channels=3))
    np.testing.assert_allclose(images[0].mean(axis=(0, 1)), [1, -1, -1], atol=1e-5)


def test_folder_labels_need_class_subfolders(pets):
    write_image(pets / "loose.png")
    with pytest.raises(DataError, match=r"1 lie directly in it: .*loose\.png"):
        data.load(f"folder:{pets}", batch_size=2, with_labels=True)


# ------------------------------------------------------------------------------------ from_arrays


def test_from_arrays_maps_every_range_to_minus_one_one():
    uint8 = np.zeros((4, 6, 6), np.uint8)
    uint8[:2] = 255
    expected = np.array([1, 1, -1, -1], np.float32)
    for images in (uint8, uint8 / 255.0, (uint8 / 127.5 - 1).astype(np.float32)):
        out = epoch(data.from_arrays(images, batch_size=4, shuffle=False))
        assert out.shape == (4, 6, 6, 1) and out.dtype == np.float32
        np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), expected, atol=1e-6)


def test_from_arrays_labels_resize_and_rgba():
    images = np.random.default_rng(0).integers(0, 256, size=(10, 8, 8, 4), dtype=np.uint8)
    with pytest.raises(DataError, match="alpha"):
        data.from_arrays(images)
    out, labels = epoch(data.from_arrays(images, np.arange(10), batch_size=5, image_size=4, channels=3, seed=0))
    assert out.shape == (10, 4, 4, 3) and sorted(labels.tolist()) == list(range(10))


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.full((2, 4, 4), 3.0), None, r"\[0, 1\] or \[-1, 1\]"),
        (np.zeros((2, 4, 4), np.int64), None, "uint8"),
        (np.full((2, 4, 4), np.nan), None, "NaN"),
        (np.zeros((2, 4)), None, "shape"),
        (np.zeros((2, 4, 4)), np.arange(3), "2 non-negative integers"),
        (np.zeros((2, 4, 4)), np.array([0, -1]), "2 non-negative integers"),
        (np.zeros((2, 4, 4)), np.array([0.0, 1.0]), "2 non-negative integers"),
    ],
)
def test_from_arrays_rejects_bad_input(images, labels, message):
    with pytest.raises(DataError, match=message):
        data.from_arrays(images, labels, batch_size=1)


# ---------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "spec, guess",
    [
        ("digit", "'digits'"),
        ("Faces", "'faces'"),
        ("grid24", "'grid25'"),
        ("tfd:mnist", "'tfds:mnist'"),
        ("mnist", "'tfds:mnist'"),
        ("fodler:/data/x", "'folder:/data/x'"),
    ],
)
def test_unknown_spec_suggests_the_closest(spec, guess):
    with pytest.raises(DataError, match=f"unknown data spec .*digits, faces.*Did you mean {guess}"):
        data.load(spec)


def test_batch_larger_than_dataset_says_how_many_examples():
    with pytest.raises(DataError, match="180 examples"):
        data.load("digits", split="test", batch_size=181)
    assert [len(b) for b in data.load("digits", split="test", batch_size=181, drop_remainder=False)] == [180]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"image_size": 0}, "image_size"),
        ({"image_size": (16,)}, "image_size"),
        ({"image_size": "16"}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"split": "validation"}, "unknown split 'validation'.*train, test, all"),
        ({"num_samples": 10}, "num_samples"),
        ({"data_dir": "/tmp"}, "data_dir"),
    ],
)
def test_bad_arguments_are_data_errors(kwargs, message):
    with pytest.raises(DataError, match=message):
        data.load("digits", **kwargs)
    assert issubclass(DataError, ValueError)


def test_cache_over_the_limit_is_reported(monkeypatch):
    monkeypatch.setattr(data, "_CACHE_LIMIT_BYTES", 0)
    with pytest.warns(UserWarning, match="not caching digits"):
        data.load("digits", batch_size=8)
