"""Data pipelines of the zoo: every source becomes a batched ``tf.data.Dataset``.

Image sources yield float32 images in [-1, 1] (the range of a tanh generator) with shape
(B, H, W, C), or ``(images, labels)`` with int32 labels. The 2-D mixtures yield float32 points of
shape (B, 2) in their own coordinates: they are not rescaled, so that ``mixture_modes`` describes
them exactly.

Specs accepted by ``load``:

- ``"digits"``: scikit-learn's 1797 handwritten digits (8x8, 10 classes), shipped with the
  package, so it works offline. Default size 16x16. Splits ``train`` (90 %, stratified by class,
  fixed split seed), ``test`` (the other 10 %), ``all``.
- ``"faces"``: the 100 face crops of scikit-image's ``lfw_subset`` (25x25 grayscale), no labels.
  Default size 32x32. Splits ``train`` (first 90), ``test`` (last 10), ``all``.
- ``"fashion_mnist"``: Fashion-MNIST (Xiao et al. 2017; 60,000 train and 10,000 test images, 28x28
  grayscale, 10 classes), read from its IDX files wherever they are (the Debian package
  ``dataset-fashion-mnist``, Keras' dataset cache, ``$GANZOO_FASHION_MNIST`` or ``data_dir``, a prepared
  TFDS ``fashion_mnist``; see :mod:`ganzoo.data.fashion_mnist`). Default size 28x28. Splits ``train``,
  ``test`` (the official ones) and ``all``.
- ``"ring8"``, ``"grid25"``: mixtures of Gaussians (8 modes on a circle of radius 2 with std 0.02;
  5x5 modes at {-4, -2, 0, 2, 4}^2 with std 0.05). Labels are mode indices. ``train`` is drawn
  from ``seed``, ``test`` from a fixed seed of its own.
- ``"tfds:NAME[:SPLIT]"``: the ``image`` (and ``label``) feature of a TensorFlow Datasets dataset;
  a SPLIT in the spec overrides the ``split`` argument.
- ``"folder:PATH"``: png/jpg/jpeg/bmp files under PATH, searched recursively; with labels, the
  immediate subfolders holding images are the classes (sorted by name), and the returned dataset
  carries their names in ``class_names``.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ganzoo.data import fashion_mnist
from ganzoo.errors import DataError

__all__ = ["DataError", "load", "from_arrays", "num_examples", "mixture_modes", "SPECS", "IMAGE_EXTENSIONS"]

SPECS = ("digits", "faces", "fashion_mnist", "ring8", "grid25", "tfds:NAME[:SPLIT]", "folder:PATH")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")

_NAMED = ("digits", "faces", "fashion_mnist", "ring8", "grid25")
_SPLITS = {
    "digits": ("train", "test", "all"),
    "faces": ("train", "test", "all"),
    "fashion_mnist": ("train", "test", "all"),
    "ring8": ("train", "test"),
    "grid25": ("train", "test"),
    # A folder has no held-out part; "train" is accepted because it is load()'s default.
    "folder": ("train", "all"),
}
_DEFAULT_SIZE = {"digits": (16, 16), "faces": (32, 32), "fashion_mnist": (28, 28)}
_DIGITS_SPLIT_SEED = 0  # fixed so that train/test never overlap, whatever seed the caller uses
_DIGITS_TEST_FRACTION = 0.1
_FACES_TRAIN = 90
_MIXTURE_TEST_SEED = 20_240_601  # fixed so that every evaluation sees the same test points
_DEFAULT_NUM_SAMPLES = 10_000
_CACHE_LIMIT_BYTES = 1 << 30  # larger datasets stream from their source every epoch
_SHUFFLE_BUFFER = 10_000
_MAX_LISTED = 5  # files named in an error message before "... and N more"

ImageSize = int | tuple[int, int] | None


def load(
    spec: str,
    batch_size: int = 64,
    image_size: ImageSize = None,
    split: str = "train",
    with_labels: bool = False,
    channels: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    cache: bool = True,
    drop_remainder: bool = True,
    data_dir: str | None = None,
    *,
    num_samples: int | None = None,
) -> tf.data.Dataset:
    """Build the batched, prefetched training pipeline for ``spec`` (see the module docstring).

    Images are resized (bilinear, antialiased) to ``image_size`` (an int for square images, or
    (height, width)); None keeps the source's size, except for digits (16) and faces (32).
    ``channels`` (1 or 3) converts grayscale <-> RGB and drops an alpha channel; None keeps the
    source's channel count. ``seed`` fixes the shuffle order (reshuffled every epoch) and the
    mixture samples. ``cache`` keeps the preprocessed examples in memory when they take at most
    1 GiB. ``num_samples`` is the number of points of a mixture (default 10 000).
    ``data_dir`` is TFDS's data directory, or the folder of Fashion-MNIST's IDX files.

    Raises DataError, naming what was wrong and what was expected, for a bad spec, argument or file.
    """
    batching = _Batching(_check_batch_size(batch_size), shuffle, seed, cache, drop_remainder)
    size = _check_image_size(image_size)
    _check_channels(channels)
    kind, arg = _parse_spec(spec)
    if num_samples is not None and kind not in ("ring8", "grid25"):
        raise DataError(f"num_samples only applies to the mixtures ring8 and grid25, not to {spec!r}.")
    if data_dir is not None and kind not in ("tfds", "fashion_mnist"):
        raise DataError(f"data_dir only applies to 'tfds:' specs and fashion_mnist, not to {spec!r}.")
    if kind != "tfds":
        _check_split(kind, split)
    if kind in ("ring8", "grid25"):
        if size is not None or channels is not None:
            raise DataError(f"{kind} yields 2-D points, not images: leave image_size and channels unset.")
        return _load_mixture(kind, split, with_labels, _check_num_samples(num_samples), batching)
    if kind == "tfds":
        return _load_tfds(arg, split, size, channels, with_labels, data_dir, batching)
    if kind == "folder":
        return _load_folder(arg, size, channels, with_labels, batching)
    if kind == "faces" and with_labels:
        raise DataError("faces has no classes: load it with with_labels=False.")
    images, labels, value_range = _load_named(kind, split, data_dir)
    return _from_images(
        images,
        labels if with_labels else None,
        value_range,
        size or _DEFAULT_SIZE[kind],
        channels,
        batching,
        what=f"{kind} split {split!r}",
    )


def from_arrays(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    batch_size: int = 64,
    image_size: ImageSize = None,
    channels: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    cache: bool = True,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """The pipeline of ``load`` for images a user already holds in memory.

    ``images`` has shape (N, H, W) or (N, H, W, C) with C in 1, 3 or 4 (RGBA needs ``channels``).
    Their range is read from the data: uint8 means 0..255; float values within [0, 1] are taken
    as [0, 1] and other floats within [-1, 1] as [-1, 1] (so [-1, 1] data without any negative
    value would be misread: pass such data as uint8 or shift it yourself). Other dtypes or ranges
    are refused. ``labels``, if given, are N integer class indices.
    """
    batching = _Batching(_check_batch_size(batch_size), shuffle, seed, cache, drop_remainder)
    size = _check_image_size(image_size)
    _check_channels(channels)
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise DataError(f"images must have shape (N, H, W) or (N, H, W, C) with N > 0; got {images.shape}.")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise DataError(
                f"labels must be {len(images)} non-negative integers (one class index per image); "
                f"got dtype {labels.dtype}, shape {labels.shape}."
            )
    return _from_images(images, labels, _value_range(images), size, channels, batching, what="the arrays")


def num_examples(spec: str, split: str = "train", data_dir: str | None = None, num_samples: int | None = None) -> int:
    """Number of examples of ``spec``/``split`` per epoch (before batching), without loading them.

    For a folder, this counts image files without checking that they decode. For TFDS, it needs
    the dataset's metadata in ``data_dir`` (a prepared dataset).
    """
    kind, arg = _parse_spec(spec)
    if kind == "tfds":
        return _tfds_num_examples(arg, split, data_dir)
    _check_split(kind, split)
    if kind in ("ring8", "grid25"):
        return _check_num_samples(num_samples)
    if kind == "folder":
        return len(_list_images(Path(arg).expanduser())[0])
    if kind == "digits":
        from sklearn.datasets import load_digits

        return len(_digits_split_indices(load_digits().target)[split])
    if kind == "fashion_mnist":
        sizes = fashion_mnist.SIZES
        return sizes[split] if split != "all" else sum(sizes.values())
    return {"train": _FACES_TRAIN, "test": 100 - _FACES_TRAIN, "all": 100}[split]


def mixture_modes(name: str) -> tuple[np.ndarray, float]:
    """(modes of shape (K, 2), standard deviation) of a mixture, to count the modes a model covers."""
    if name == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return (2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32), 0.02
    if name == "grid25":
        axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=np.float32)
        return np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2), 0.05
    raise DataError(f"unknown mixture {name!r}; expected 'ring8' or 'grid25'.")


# ----------------------------------------------------------------------------------------------
# Arguments


@dataclass(frozen=True)
class _Batching:
    """The arguments shared by every source: how examples become batches."""

    batch_size: int
    shuffle: bool
    seed: int | None
    cache: bool
    drop_remainder: bool


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_batch_size(batch_size: int) -> int:
    if not _is_int(batch_size) or batch_size < 1:
        raise DataError(f"batch_size must be an integer >= 1; got {batch_size!r}.")
    return int(batch_size)


def _check_image_size(image_size: ImageSize) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if _is_int(image_size) and image_size > 0:
        return int(image_size), int(image_size)
    if isinstance(image_size, (tuple, list)) and len(image_size) == 2 and all(_is_int(v) and v > 0 for v in image_size):
        return int(image_size[0]), int(image_size[1])
    raise DataError(
        f"image_size must be a positive int or a (height, width) pair of positive ints; got {image_size!r}."
    )


def _check_channels(channels: int | None) -> None:
    if channels is not None and (not _is_int(channels) or channels not in (1, 3)):
        raise DataError(f"channels must be 1 (grayscale), 3 (RGB) or None (keep the source's); got {channels!r}.")


def _check_num_samples(num_samples: int | None) -> int:
    if num_samples is None:
        return _DEFAULT_NUM_SAMPLES
    if not _is_int(num_samples) or num_samples < 1:
        raise DataError(f"num_samples must be an integer >= 1; got {num_samples!r}.")
    return int(num_samples)


def _parse_spec(spec: str) -> tuple[str, str]:
    """('digits', '') / ('tfds', 'NAME[:SPLIT]') / ('folder', 'PATH'), or a DataError with a hint."""
    if isinstance(spec, str):
        if spec in _NAMED:
            return spec, ""
        prefix, colon, rest = spec.partition(":")
        if colon and prefix in ("tfds", "folder") and rest:
            return prefix, rest
    guess = _closest_spec(spec) if isinstance(spec, str) else None
    hint = f" Did you mean {guess!r}?" if guess else ""
    raise DataError(f"unknown data spec {spec!r}; valid specs: {', '.join(SPECS)}.{hint}")


def _closest_spec(spec: str) -> str | None:
    """The valid spec a typo most likely meant: a named source, a mistyped prefix, or a missing one."""
    prefix, colon, rest = spec.partition(":")
    if colon and rest:
        prefixes = difflib.get_close_matches(prefix.lower(), ["tfds", "folder"], n=1)
        if prefixes:
            return f"{prefixes[0]}:{rest}"
    named = difflib.get_close_matches(spec.lower(), _NAMED, n=1)
    if named:
        return named[0]
    if not colon and spec:
        return f"folder:{spec}" if Path(spec).expanduser().exists() else f"tfds:{spec}"
    return None


def _check_split(kind: str, split: str) -> None:
    if split not in _SPLITS[kind]:
        raise DataError(f"unknown split {split!r} for {kind}; expected one of {', '.join(_SPLITS[kind])}.")


def _target_channels(source: int, channels: int | None, what: str) -> int:
    """The channel count to produce from ``source`` channels (2 and 4 carry alpha)."""
    if source not in (1, 2, 3, 4):
        raise DataError(f"{what} has {source} channels; expected 1 (grayscale), 3 (RGB), 2 or 4 (with alpha).")
    if source in (2, 4) and channels is None:
        raise DataError(f"{what} has an alpha channel ({source} channels); pass channels=3 (or channels=1) to drop it.")
    return channels or source


# ----------------------------------------------------------------------------------------------
# Shared pipeline


def _preprocessor(source: int, target: int, size: tuple[int, int], value_range: tuple[float, float]):
    """A map function: one image with ``source`` channels in ``value_range`` -> float32 in [-1, 1]."""
    low, high = value_range

    def preprocess(image: tf.Tensor) -> tf.Tensor:
        image = tf.cast(image, tf.float32)
        channels = source
        if channels in (2, 4):
            image, channels = image[..., : channels - 1], channels - 1
        if channels != target:
            image = tf.image.grayscale_to_rgb(image) if target == 3 else tf.image.rgb_to_grayscale(image)
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        # Clipping only removes round-off: bilinear weights are convex.
        return tf.clip_by_value((image - low) * (2.0 / (high - low)) - 1.0, -1.0, 1.0)

    return preprocess


def _map_images(ds: tf.data.Dataset, fn, labelled: bool) -> tf.data.Dataset:
    if labelled:
        return ds.map(lambda image, label: (fn(image), label), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE)


def batch_and_prefetch(ds: tf.data.Dataset, batch_size: int, drop_remainder: bool) -> tf.data.Dataset:
    """The last stage of every ganzoo pipeline: batch, prefetch, and tf.data's autotuner off.

    The autotuner stalls the start of every epoch (iterator creation) by 0.3-4 s on a 2-core
    machine whose cores the train step keeps busy (docs/BENCHMARKS.md); these pipelines are
    cached or light, and with it off ``AUTOTUNE`` maps still run one call per core.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(2).with_options(options)


def _finish(
    ds: tf.data.Dataset, count: int | None, bytes_per_example: int, batching: _Batching, what: str
) -> tf.data.Dataset:
    """cache -> shuffle -> batch -> prefetch, after checking that at least one batch comes out."""
    if count is not None and batching.drop_remainder and batching.batch_size > count:
        raise DataError(
            f"batch_size={batching.batch_size} is larger than {what}, which has {count} examples: "
            f"with drop_remainder=True no batch would come out. Use batch_size <= {count} "
            f"or drop_remainder=False."
        )
    if batching.cache:
        if count is not None and count * bytes_per_example <= _CACHE_LIMIT_BYTES:
            ds = ds.cache()
        else:
            size = "an unknown size" if count is None else f"about {count * bytes_per_example / 2**30:.1f} GiB"
            warnings.warn(f"not caching {what} in memory ({size}, limit 1 GiB): it is read again every epoch.")
    if batching.shuffle:
        buffer = _SHUFFLE_BUFFER if count is None else min(count, _SHUFFLE_BUFFER)
        ds = ds.shuffle(buffer, seed=batching.seed, reshuffle_each_iteration=True)
    return batch_and_prefetch(ds, batching.batch_size, batching.drop_remainder)


def _from_images(
    images: np.ndarray,
    labels: np.ndarray | None,
    value_range: tuple[float, float],
    size: tuple[int, int] | None,
    channels: int | None,
    batching: _Batching,
    what: str,
) -> tf.data.Dataset:
    """Pipeline over in-memory images of shape (N, H, W, C)."""
    count, height, width, source = images.shape
    target = _target_channels(source, channels, what)
    size = size or (height, width)
    if images.dtype != np.uint8:
        images = images.astype(np.float32)  # halves the memory of float64 inputs
    ds = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels.astype(np.int32)))
    ds = _map_images(ds, _preprocessor(source, target, size, value_range), labels is not None)
    return _finish(ds, count, size[0] * size[1] * target * 4, batching, what)


def _value_range(images: np.ndarray) -> tuple[float, float]:
    if images.dtype == np.uint8:
        return 0.0, 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(f"images must be uint8 (0..255) or float ([0, 1] or [-1, 1]); got dtype {images.dtype}.")
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise DataError("images contain NaN or infinite values.")
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    if low >= -1.0 and high <= 1.0:
        return -1.0, 1.0
    raise DataError(
        f"float images must lie in [0, 1] or [-1, 1]; these span [{low:.4g}, {high:.4g}]. "
        f"Rescale them, or pass uint8 values 0..255."
    )


# ----------------------------------------------------------------------------------------------
# Named sources


def _digits_split_indices(target: np.ndarray) -> dict[str, np.ndarray]:
    from sklearn.model_selection import train_test_split

    everything = np.arange(len(target))
    train, test = train_test_split(
        everything, test_size=_DIGITS_TEST_FRACTION, stratify=target, random_state=_DIGITS_SPLIT_SEED
    )
    return {"train": np.sort(train), "test": np.sort(test), "all": everything}


def _load_named(
    kind: str, split: str, data_dir: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, tuple[float, float]]:
    """(images (N, H, W, 1), labels or None, value range) of the digits, faces or Fashion-MNIST split."""
    if kind == "fashion_mnist":
        images, labels = fashion_mnist.load_arrays(split, data_dir, tfds_fallback=_tfds_fashion_mnist)
        return images[..., None], labels, (0.0, 255.0)
    if kind == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        index = _digits_split_indices(digits.target)[split]
        return digits.images[index, :, :, None], digits.target[index], (0.0, 16.0)
    from skimage import data as skdata

    faces = skdata.lfw_subset()[:100]  # the other 100 crops are not faces
    part = {"train": faces[:_FACES_TRAIN], "test": faces[_FACES_TRAIN:], "all": faces}[split]
    return part[..., None], None, (0.0, 1.0)


def _tfds_fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Fashion-MNIST's split from TFDS when it is prepared in TFDS' default folder (never downloads)."""
    import tensorflow_datasets as tfds  # slow to import: only when the IDX files were not found

    builder = tfds.builder("fashion_mnist")
    if not builder.is_prepared():
        return None
    data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
    return data["image"][..., 0], data["label"].astype(np.uint8)


def _load_mixture(name: str, split: str, with_labels: bool, count: int, batching: _Batching) -> tf.data.Dataset:
    modes, std = mixture_modes(name)
    rng = np.random.default_rng(batching.seed if split == "train" else _MIXTURE_TEST_SEED)
    labels = rng.integers(len(modes), size=count)
    points = (modes[labels] + rng.normal(scale=std, size=(count, 2))).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((points, labels.astype(np.int32)) if with_labels else points)
    return _finish(ds, count, 2 * 4, batching, f"{name} split {split!r}")


# ----------------------------------------------------------------------------------------------
# TensorFlow Datasets


def _split_tfds_arg(arg: str, split: str) -> tuple[str, str]:
    name, _, spec_split = arg.partition(":")  # a split like "train[:80%]" keeps its own colon
    return name, spec_split or split


def _tfds_error(name: str, split: str, data_dir: str | None, err: Exception) -> DataError:
    lines = str(err).splitlines() or [""]
    summary = " ".join([lines[0], *(line for line in lines[1:] if line.startswith("Did you mean"))])
    return DataError(
        f"could not load TFDS dataset {name!r}, split {split!r} (data_dir={data_dir!r}): "
        f"{type(err).__name__}: {summary}. Without network access, TFDS needs the dataset "
        f"already prepared in data_dir."
    )


def _load_tfds(
    arg: str,
    split: str,
    size: tuple[int, int] | None,
    channels: int | None,
    with_labels: bool,
    data_dir: str | None,
    batching: _Batching,
) -> tf.data.Dataset:
    import tensorflow_datasets as tfds  # slow to import: only when a TFDS spec is used

    name, split = _split_tfds_arg(arg, split)
    what = f"TFDS dataset {name!r} split {split!r}"
    try:
        ds, info = tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            as_supervised=False,
            with_info=True,
            shuffle_files=batching.shuffle,
            read_config=tfds.ReadConfig(shuffle_seed=batching.seed),
        )
    except Exception as err:  # TFDS raises many types (not found, no network, bad split): report them as one
        raise _tfds_error(name, split, data_dir, err) from err
    features = info.features
    if "image" not in features:
        raise DataError(f"{what} has no 'image' feature; its features are {sorted(features)}.")
    if with_labels and "label" not in features:
        raise DataError(
            f"{what} has no 'label' feature (features: {sorted(features)}): load it with with_labels=False."
        )
    dtype = np.dtype(features["image"].np_dtype)
    value_range = {"uint8": (0.0, 255.0), "uint16": (0.0, 65535.0)}.get(dtype.name)
    if value_range is None:
        raise DataError(f"{what} stores images as {dtype.name}; expected uint8 or uint16.")
    height, width, source = features["image"].shape
    if source is None:
        raise DataError(f"{what} does not declare a channel count.")
    target = _target_channels(source, channels, what)
    if size is None:
        if height is None or width is None:  # images of varying size: follow the first one
            first = next(iter(ds.take(1)), None)
            if first is None:
                raise DataError(f"{what} is empty.")
            height, width = first["image"].shape[:2]
        size = (int(height), int(width))
    prepare = _preprocessor(source, target, size, value_range)
    if with_labels:
        ds = ds.map(
            lambda ex: (prepare(ex["image"]), tf.cast(ex["label"], tf.int32)), num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        ds = ds.map(lambda ex: prepare(ex["image"]), num_parallel_calls=tf.data.AUTOTUNE)
    count = int(ds.cardinality())
    return _finish(ds, count if count >= 0 else None, size[0] * size[1] * target * 4, batching, what)


def _tfds_num_examples(arg: str, split: str, data_dir: str | None) -> int:
    import tensorflow_datasets as tfds

    name, split = _split_tfds_arg(arg, split)
    try:
        return int(tfds.builder(name, data_dir=data_dir).info.splits[split].num_examples)
    except Exception as err:  # not found, not prepared, bad split
        raise _tfds_error(name, split, data_dir, err) from err


# ----------------------------------------------------------------------------------------------
# Folders of images


def _list_images(root: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) under ``root``, recursively, sorted."""
    if not root.is_dir():
        raise DataError(f"folder {str(root)!r} does not exist or is not a directory.")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    return images, [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_MAX_LISTED])
    return shown + (f" and {len(paths) - _MAX_LISTED} more" if len(paths) > _MAX_LISTED else "")


def _pillow_channels(image) -> int:
    """Channels of a Pillow image as a decoder sees them: 1 or 3, plus 1 for alpha."""
    if image.mode in ("P", "PA"):  # palettes are RGB
        return 4 if image.mode == "PA" or "transparency" in image.info else 3
    bands = image.getbands()
    alpha = int(any(band in ("A", "a") for band in bands))
    return (1 if len(bands) - alpha == 1 else 3) + alpha


def _inspect(paths: list[Path]) -> tuple[list[int], tuple[int, int]]:
    """(channels of every file, (height, width) of the first), or a DataError naming broken files.

    Every file is decoded once here, so that no broken image surfaces later as a TensorFlow error mid-training.
    """
    from PIL import Image

    channels, broken, first_size = [], [], None
    for path in paths:
        try:
            with Image.open(path) as image:
                channels.append(_pillow_channels(image))
                first_size = first_size or (image.height, image.width)
                image.verify()  # checksums; it does not decode the pixels
            with Image.open(path) as image:
                image.load()  # junk pixel data with valid checksums fails only here, not later inside tf.data
        except Exception as err:  # Pillow raises several types for bad files
            broken.append(f"{path} ({type(err).__name__}: {err})")
    if broken:
        raise DataError(
            f"{len(broken)} of {len(paths)} image files cannot be decoded: {_listing(broken)}. Remove or fix them."
        )
    return channels, first_size


def _folder_target(paths: list[Path], counts: list[int], channels: int | None, root: Path) -> int:
    by_count: dict[int, list[str]] = {}
    for path, count in zip(paths, counts):
        by_count.setdefault(count, []).append(str(path))
    if channels is None and len(by_count) > 1:
        groups = "; ".join(
            f"{count} channels: {len(files)} files ({_listing(files)})" for count, files in sorted(by_count.items())
        )
        raise DataError(
            f"images under {str(root)!r} have different channel counts: {groups}. "
            f"Pass channels=1 or channels=3 to convert them all."
        )
    alpha = [f for count, files in by_count.items() if count in (2, 4) for f in files]
    if alpha and channels is None:
        raise DataError(
            f"{len(alpha)} images under {str(root)!r} have an alpha channel ({_listing(alpha)}); "
            f"pass channels=3 (or channels=1) to drop it."
        )
    return channels or counts[0]


def _decode_with_pillow(path: bytes, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path.decode()) as image:
            array = np.asarray(image.convert(mode), dtype=np.uint8)
    except Exception as err:  # e.g. a truncated JPEG, which Pillow's verify() does not detect
        raise DataError(f"cannot decode {path.decode()}: {err}") from err
    return array[..., None] if array.ndim == 2 else array


def _load_folder(
    arg: str, size: tuple[int, int] | None, channels: int | None, with_labels: bool, batching: _Batching
) -> tf.data.Dataset:
    root = Path(arg).expanduser()
    paths, others = _list_images(root)
    if not paths:
        raise DataError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {str(root)!r} (searched recursively; "
            f"{len(others)} other files found)."
        )
    if others:
        warnings.warn(
            f"skipping {len(others)} files under {str(root)!r} that are not "
            f"{'/'.join(IMAGE_EXTENSIONS)} images: {_listing([str(p) for p in others])}."
        )
    labels, class_names = None, None
    if with_labels:
        loose = [str(p) for p in paths if len(p.relative_to(root).parts) == 1]
        if loose:
            raise DataError(
                f"with_labels=True needs every image inside a class subfolder of {str(root)!r}; "
                f"{len(loose)} lie directly in it: {_listing(loose)}."
            )
        folders = [p.relative_to(root).parts[0] for p in paths]
        class_names = sorted(set(folders))
        labels = np.array([class_names.index(f) for f in folders], dtype=np.int32)
    counts, first_size = _inspect(paths)
    target = _folder_target(paths, counts, channels, root)
    size = size or first_size
    mode = "L" if target == 1 else "RGB"  # Pillow's conversion also drops alpha

    def decode(path: tf.Tensor) -> tf.Tensor:
        image = tf.numpy_function(lambda p: _decode_with_pillow(p, mode), [path], tf.uint8, stateful=False)
        image.set_shape([None, None, target])
        return image

    files = np.array([str(p) for p in paths])
    ds = tf.data.Dataset.from_tensor_slices(files if labels is None else (files, labels))
    ds = _map_images(ds, decode, with_labels)
    ds = _map_images(ds, _preprocessor(target, target, size, (0.0, 255.0)), with_labels)
    ds = _finish(ds, len(paths), size[0] * size[1] * target * 4, batching, f"folder {str(root)!r}")
    if class_names is not None:
        ds.class_names = class_names  # as keras.utils.image_dataset_from_directory does
    return ds
