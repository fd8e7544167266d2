"""Data, embedded tasks, evaluation, export and file-level inference for image-to-image models.

Pipelines (every image float32 in [-1, 1], NHWC; batches are 2-tuples):

* :func:`load_pairs` -> ``(source, target)`` for pix2pix and ``(low_res, high_res)`` for srgan:
  ``"folder:PATH"`` (``PATH/A`` and ``PATH/B`` holding files with matching names; or
  ``PATH/<split>/A``...), ``"tfds:div2k/bicubic_x4[:SPLIT]"`` (any TFDS dataset with ``lr``/``hr``
  features), and the embedded tasks ``"skimage:colorize"`` and ``"skimage:sr"``.
* :func:`load_unpaired` -> ``(a, b)`` of independent draws for cyclegan: ``"tfds:cycle_gan/NAME"``
  (splits ``trainA``/``trainB``, ``testA``/``testB``), ``"folder:PATH"`` (``PATH/A`` and ``PATH/B``
  or ``PATH/trainA`` and ``PATH/trainB``) and the embedded ``"skimage:hue"``.
* :func:`pairs_from_arrays` for pairs a user holds in memory.

Augmentation (:func:`augment_pair`) draws one crop window and one horizontal flip per pair and
applies them to both sides (the target window is ``scale`` times the source window for SR).

Embedded tasks, built from the photos shipped with scikit-image, so that every architecture has
a real task offline. Whole photos are held out for evaluation (:data:`PHOTOS`):

* ``skimage:colorize`` (pix2pix): BT.601 luma of a patch -> the RGB patch (64 px by default).
* ``skimage:sr`` (srgan): HR patch -> LR by bicubic downscaling with antialiasing (TensorFlow's
  ``resize(method="bicubic", antialias=True)``), quantized to 8 bits like an image file.
* ``skimage:hue`` (cyclegan): domain A = photo patches, domain B = patches drawn independently
  (so unpaired) with their HSV hue rotated by :data:`HUE_SHIFT` (a quarter turn). The known
  mapping gives held-out ground truth in both directions, beside the unsupervised checks.

Training patches are drawn afresh every epoch from the training photos (uniformly over photos,
then over positions), rejecting flat patches (std below 0.04 of the range, e.g. black sky).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from ganzoo.data import IMAGE_EXTENSIONS, DataError, batch_and_prefetch
from ganzoo.nets_image import match_channels, run_padded, run_tiled, to_model_range
from ganzoo.sampling import image_grid, save_png, to_uint8

__all__ = [
    "PHOTOS",
    "TASKS",
    "HUE_SHIFT",
    "augment_pair",
    "pairs_from_arrays",
    "load_pairs",
    "load_unpaired",
    "skimage_photos",
    "heldout_patches",
    "degrade",
    "bicubic_upscale",
    "hue_shift",
    "evaluate_translation",
    "evaluate_super_resolution",
    "evaluate_cycle",
    "train_domain_classifier",
    "export_image_model",
    "verify_image_export",
    "load_runner",
    "translate_file",
    "upscale_file",
    "save_panel",
]

PHOTOS = {
    "train": ("astronaut", "rocket", "motorcycle_left", "retina", "hubble_deep_field", "immunohistochemistry"),
    "test": ("chelsea", "coffee"),
}
TASKS = {
    "skimage:colorize": "pix2pix: grayscale (BT.601 luma) -> RGB photo patches",
    "skimage:sr": "srgan: bicubic-downscaled (antialiased, 8-bit) LR patch -> HR patch",
    "skimage:hue": "cyclegan: photo patches (A) <-> hue-rotated photo patches (B), unpaired",
}
HUE_SHIFT = 0.25  # fraction of a turn of the HSV hue circle (tf.image.adjust_hue's delta)
MIN_PATCH_STD = 0.04  # patches flatter than this (std of [0, 1] values) are skipped
DEFAULT_NUM_PATCHES = 2048  # patches per epoch of an embedded task
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_SHUFFLE_BUFFER = 2048


# =============================================================================== augmentation
def augment_pair(source, target, seed, crop_size: int | None = None, flip: bool = True, scale: int = 1):
    """One random crop window and one random horizontal flip, the same for both sides of a pair.

    ``source`` is (h, w, c); ``target`` is (h*scale, w*scale, c') (``scale`` = 1 for translation,
    the SR factor for (low_res, high_res) pairs). ``crop_size`` is the source-side window; the
    target window is the same region, ``scale`` times larger. ``seed`` is a (2,) integer tensor
    (stateless ops: the same seed gives the same crop and flip).
    """
    seed = tf.cast(seed, tf.int64)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if crop_size is not None:
        shape = tf.shape(source)
        with tf.control_dependencies([
            tf.debugging.assert_greater_equal(tf.reduce_min(shape[:2]), crop_size, message="image smaller than crop_size"),
            tf.debugging.assert_equal(tf.shape(target)[:2], shape[:2] * scale, message="target size != scale x source size"),
        ]):
            u = tf.random.stateless_uniform((2,), crop_seed)
        top = tf.cast(u[0] * tf.cast(shape[0] - crop_size + 1, tf.float32), tf.int32)
        left = tf.cast(u[1] * tf.cast(shape[1] - crop_size + 1, tf.float32), tf.int32)
        source = source[top : top + crop_size, left : left + crop_size]
        target = target[top * scale : (top + crop_size) * scale, left * scale : (left + crop_size) * scale]
    if flip:
        mirror = tf.random.stateless_uniform((), flip_seed) < 0.5
        source = tf.where(mirror, tf.reverse(source, [1]), source)
        target = tf.where(mirror, tf.reverse(target, [1]), target)
    return source, target


def _to_unit(image) -> tf.Tensor:
    """uint8 -> float32 in [-1, 1]; float tensors pass through (taken as [-1, 1])."""
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 127.5 - 1.0
    return tf.cast(image, tf.float32)


def _with_seeds(ds: tf.data.Dataset, seed: int | None) -> tf.data.Dataset:
    """Zip each element with a (2,) stateless seed, different every epoch."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds))


def _finish(ds, batch_size: int, shuffle: bool, seed: int | None, count: int | None, drop_remainder: bool):
    if count is not None and drop_remainder and batch_size > count:
        raise DataError(f"batch_size={batch_size} is larger than the {count} examples: no batch would come out.")
    if shuffle:
        ds = ds.shuffle(min(count or _SHUFFLE_BUFFER, _SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
    return ds


def pairs_from_arrays(
    sources,
    targets,
    batch_size: int = 16,
    crop_size: int | None = None,
    flip: bool = True,
    scale: int = 1,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """``(source, target)`` batches from arrays (N, h, w, c) and (N, h*scale, w*scale, c') (uint8 or [-1, 1] floats),
    with :func:`augment_pair` (crop ``crop_size`` on the source side, flip)."""
    sources, targets = np.asarray(sources), np.asarray(targets)
    if len(sources) != len(targets) or len(sources) == 0:
        raise DataError(f"need as many sources as targets (> 0); got {len(sources)} and {len(targets)}.")
    if sources.shape[1] * scale != targets.shape[1] or sources.shape[2] * scale != targets.shape[2]:
        raise DataError(f"targets {targets.shape[1:3]} must be scale={scale} x sources {sources.shape[1:3]}.")
    ds = tf.data.Dataset.from_tensor_slices((sources, targets))
    ds = _finish(ds, batch_size, shuffle, seed, len(sources), drop_remainder)
    ds = _with_seeds(ds, seed).map(
        lambda pair, s: tuple(_to_unit(x) for x in augment_pair(pair[0], pair[1], s, crop_size, flip, scale)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return batch_and_prefetch(ds, batch_size, drop_remainder)


# =============================================================================== photos
def skimage_photos(split: str = "train") -> list[np.ndarray]:
    """The RGB uint8 photos of :data:`PHOTOS` ``split`` ("train", "test" or "all"), shipped with scikit-image."""
    from skimage import data

    names = PHOTOS["train"] + PHOTOS["test"] if split == "all" else PHOTOS.get(split)
    if names is None:
        raise DataError(f"unknown split {split!r} for the skimage photos; expected train, test or all.")
    loaders = {"motorcycle_left": lambda: data.stereo_motorcycle()[0]}
    return [np.ascontiguousarray((loaders.get(n) or getattr(data, n))()[..., :3]) for n in names]


def _random_patches(photos: list[np.ndarray], size: int, count: int, seed: int | None) -> tf.data.Dataset:
    """``count`` uint8 patches per epoch, photo uniform then position uniform, flat ones rejected."""
    too_small = [p.shape for p in photos if min(p.shape[:2]) < size]
    if too_small:
        raise DataError(f"patch size {size} exceeds photos of shape {too_small}.")
    height, width = max(p.shape[0] for p in photos), max(p.shape[1] for p in photos)
    bank = np.zeros((len(photos), height, width, 3), np.uint8)
    for i, p in enumerate(photos):
        bank[i, : p.shape[0], : p.shape[1]] = p
    bank = tf.constant(bank)
    sizes = tf.constant([p.shape[:2] for p in photos], tf.int32)

    def draw(seed_pair):
        u = tf.random.stateless_uniform((3,), seed_pair)
        index = tf.minimum(tf.cast(u[0] * len(photos), tf.int32), len(photos) - 1)
        top = tf.cast(u[1] * tf.cast(sizes[index, 0] - size + 1, tf.float32), tf.int32)
        left = tf.cast(u[2] * tf.cast(sizes[index, 1] - size + 1, tf.float32), tf.int32)
        return bank[index, top : top + size, left : left + size]

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    patches = seeds.map(draw, num_parallel_calls=tf.data.AUTOTUNE)
    patches = patches.filter(lambda p: tf.math.reduce_std(tf.cast(p, tf.float32) / 255.0) >= MIN_PATCH_STD)
    return patches.take(count).apply(tf.data.experimental.assert_cardinality(count))


def heldout_patches(size: int, split: str = "test", stride: int | None = None) -> np.ndarray:
    """Non-overlapping (``stride`` = size) uint8 patches of the ``split`` photos, flat ones rejected, in a fixed order."""
    stride = stride or size
    out = []
    for photo in skimage_photos(split):
        for top in range(0, photo.shape[0] - size + 1, stride):
            for left in range(0, photo.shape[1] - size + 1, stride):
                patch = photo[top : top + size, left : left + size]
                if (patch / 255.0).std() >= MIN_PATCH_STD:
                    out.append(patch)
    return np.stack(out)


def to_gray(images) -> tf.Tensor:
    """BT.601 luma of RGB images in [-1, 1] (the ``skimage:colorize`` source)."""
    return tf.reduce_sum(tf.cast(images, tf.float32) * _LUMA, axis=-1, keepdims=True)


def hue_shift(images, delta: float = HUE_SHIFT) -> tf.Tensor:
    """Rotate the HSV hue of RGB images in [-1, 1] by ``delta`` turns (``skimage:hue``'s domain B)."""
    unit = (tf.cast(images, tf.float32) + 1.0) / 2.0
    return tf.clip_by_value(tf.image.adjust_hue(unit, delta) * 2.0 - 1.0, -1.0, 1.0)


def degrade(high, scale: int) -> tf.Tensor:
    """LR from HR ([-1, 1], (..., H, W, C) with H, W multiples of ``scale``): bicubic, antialiased, 8-bit levels."""
    high = tf.cast(high, tf.float32)
    size = tf.shape(high)[-3:-1] // scale
    low = tf.image.resize(high, size, method="bicubic", antialias=True)
    return tf.round((tf.clip_by_value(low, -1.0, 1.0) + 1.0) * 127.5) / 127.5 - 1.0


def bicubic_upscale(low, scale: int) -> tf.Tensor:
    """The baseline: bicubic upscaling (``tf.image.resize``, a = -0.5, half-pixel centres), clipped to [-1, 1]."""
    low = tf.cast(low, tf.float32)
    return tf.clip_by_value(tf.image.resize(low, tf.shape(low)[-3:-1] * scale, method="bicubic"), -1.0, 1.0)


# =============================================================================== paired pipelines
def _parse(spec: str) -> tuple[str, str]:
    kind, colon, rest = spec.partition(":")
    if not colon or not rest or kind not in ("folder", "tfds", "skimage"):
        raise DataError(f"unknown spec {spec!r}; expected folder:PATH, tfds:NAME[:SPLIT] or one of {', '.join(TASKS)}.")
    return kind, rest


def load_pairs(
    spec: str,
    split: str = "train",
    batch_size: int = 16,
    crop_size: int | None = None,
    image_size: int | None = None,
    scale: int | None = None,
    flip: bool = True,
    shuffle: bool = True,
    seed: int | None = None,
    data_dir: str | None = None,
    source_channels: int = 3,
    target_channels: int = 3,
    num_patches: int = DEFAULT_NUM_PATCHES,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """Paired ``(source, target)`` batches; ``(low_res, high_res)`` for super-resolution specs.

    ``crop_size``: random crop (same window on both sides; for SR specs, the HR patch size, a
    multiple of ``scale``). ``image_size``: resize (bilinear, antialiased) both sides of folder
    pairs to this square size first. ``flip``: random horizontal flips (both sides). The ``test``
    split of the embedded tasks is the fixed set of held-out patches (no crop, flip or shuffle).
    ``scale``: SR factor (``skimage:sr``: default 4; TFDS: read from the name, e.g. ``_x4``).
    ``source_channels``/``target_channels`` (1 or 3) convert folder images.
    """
    kind, arg = _parse(spec)
    if kind == "skimage":
        return _skimage_pairs(arg, split, batch_size, crop_size, scale, flip, shuffle, seed, num_patches, drop_remainder)
    if kind == "tfds":
        return _tfds_sr_pairs(arg, split, batch_size, crop_size, scale, flip, shuffle, seed, data_dir, drop_remainder)
    return _folder_pairs(Path(arg).expanduser(), split, batch_size, crop_size, image_size, flip, shuffle, seed,
                         source_channels, target_channels, drop_remainder)


def _skimage_pairs(task, split, batch_size, crop_size, scale, flip, shuffle, seed, num_patches, drop_remainder):
    if task not in ("colorize", "sr"):
        raise DataError(f"unknown paired task skimage:{task}; expected skimage:colorize or skimage:sr.")
    if task == "sr":
        scale = scale or 4
        crop_size = crop_size or 16 * scale
        if crop_size % scale:
            raise DataError(f"crop_size {crop_size} must be a multiple of scale={scale}.")
        make = lambda hr: (degrade(hr, scale), hr)  # noqa: E731
    else:
        crop_size = crop_size or 64
        make = lambda rgb: (to_gray(rgb), rgb)  # noqa: E731
    if split == "test":
        patches = heldout_patches(crop_size)
        ds = tf.data.Dataset.from_tensor_slices(patches).map(lambda p: make(_to_unit(p)))
        return batch_and_prefetch(ds, batch_size, False)
    if split != "train":
        raise DataError(f"unknown split {split!r} for skimage:{task}; expected train or test.")
    ds = _random_patches(skimage_photos("train"), crop_size, num_patches, seed)
    ds = _with_seeds(ds, seed).map(
        lambda p, s: make(augment_pair(_to_unit(p), _to_unit(p), s, None, flip)[0]), num_parallel_calls=tf.data.AUTOTUNE
    )
    if shuffle:  # patches are already random; shuffling mixes the parallel draws' order only
        ds = ds.shuffle(256, seed=seed)
    return batch_and_prefetch(ds, batch_size, drop_remainder)


def _tfds_sr_pairs(arg, split, batch_size, crop_size, scale, flip, shuffle, seed, data_dir, drop_remainder):
    import tensorflow_datasets as tfds

    name, _, spec_split = arg.partition(":")
    split = spec_split or split
    found = re.search(r"_x(\d+)", name)
    name_scale = int(found.group(1)) if found else None
    if scale is not None and name_scale is not None and scale != name_scale:
        raise DataError(f"scale={scale} contradicts the dataset {name!r} (x{name_scale}).")
    scale = scale or name_scale
    if scale is None:
        raise DataError(f"cannot tell the scale of {name!r}: pass scale=.")
    if crop_size is None or crop_size % scale:
        raise DataError(f"super-resolution pairs from {name!r} need crop_size, a multiple of scale={scale} (HR pixels).")
    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, shuffle_files=shuffle,
                       read_config=tfds.ReadConfig(shuffle_seed=seed))
    except Exception as err:  # not prepared, no network, bad split
        raise DataError(f"could not load TFDS {name!r} split {split!r} (data_dir={data_dir!r}): {type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else ''}. Without network, prepare it in data_dir first.") from err
    ds = ds.map(lambda ex: (ex["lr"], ex["hr"]))
    count = int(ds.cardinality())
    ds = _finish(ds, batch_size, shuffle, seed, count if count >= 0 else None, drop_remainder)
    ds = _with_seeds(ds, seed).map(
        lambda pair, s: tuple(_to_unit(x) for x in augment_pair(pair[0], pair[1], s, crop_size // scale, flip, scale)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return batch_and_prefetch(ds, batch_size, drop_remainder)


def _image_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"folder {str(folder)!r} does not exist.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    by_stem: dict[str, Path] = {}
    for p in files:
        if p.stem in by_stem:
            raise DataError(f"{by_stem[p.stem].name} and {p.name} in {folder} share the name {p.stem!r}.")
        by_stem[p.stem] = p
    return by_stem


def _split_root(root: Path, split: str, sides: tuple[str, str]) -> tuple[Path, Path]:
    """``root/<split>/A`` if present, else ``root/<split>A`` (CycleGAN layout), else ``root/A``."""
    for a, b in ((root / split / sides[0], root / split / sides[1]), (root / f"{split}{sides[0]}", root / f"{split}{sides[1]}")):
        if a.is_dir() and b.is_dir():
            return a, b
    return root / sides[0], root / sides[1]


def _decoder(channels: int, size: int | None):
    from PIL import Image

    mode = "L" if channels == 1 else "RGB"

    def read(path: bytes) -> np.ndarray:
        with Image.open(path.decode()) as image:
            array = np.asarray(image.convert(mode), np.uint8)
        return array[..., None] if array.ndim == 2 else array

    def decode(path):
        image = tf.numpy_function(read, [path], tf.uint8, stateful=False)
        image.set_shape([None, None, channels])
        image = _to_unit(image)
        if size is not None:
            image = tf.clip_by_value(tf.image.resize(image, (size, size), antialias=True), -1.0, 1.0)
        return image

    return decode


def _folder_pairs(root, split, batch_size, crop_size, image_size, flip, shuffle, seed, cs, ct, drop_remainder):
    a_dir, b_dir = _split_root(root, split, ("A", "B"))
    a_files, b_files = _image_files(a_dir), _image_files(b_dir)
    only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
    if only_a or only_b:
        raise DataError(f"paired folders need matching names: only in {a_dir}: {only_a[:5]}, only in {b_dir}: {only_b[:5]}"
                        f"{' ...' if len(only_a) > 5 or len(only_b) > 5 else ''}.")
    if not a_files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {a_dir}.")
    stems = sorted(a_files)
    ds = tf.data.Dataset.from_tensor_slices(([str(a_files[s]) for s in stems], [str(b_files[s]) for s in stems]))
    ds = _finish(ds, batch_size, shuffle, seed, len(stems), drop_remainder)
    decode_a, decode_b = _decoder(cs, image_size), _decoder(ct, image_size)
    ds = _with_seeds(ds, seed).map(
        lambda paths, s: augment_pair(decode_a(paths[0]), decode_b(paths[1]), s, crop_size, flip),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return batch_and_prefetch(ds, batch_size, drop_remainder)


# =============================================================================== unpaired pipelines
def load_unpaired(
    spec: str,
    split: str = "train",
    batch_size: int = 1,
    crop_size: int | None = 256,
    image_size: int | None = None,
    flip: bool = True,
    shuffle: bool = True,
    seed: int | None = None,
    data_dir: str | None = None,
    channels: int = 3,
    num_patches: int = DEFAULT_NUM_PATCHES,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """``(a, b)`` batches of independently drawn images of the two domains.

    Training jitter as in the CycleGAN paper: resize to ``image_size`` (default ``crop_size *
    286 / 256``), random crop ``crop_size``, random flip, per domain. The ``test`` split is only
    resized to ``crop_size``. An epoch is as long as the larger domain (the smaller repeats).
    """
    kind, arg = _parse(spec)
    train = split == "train"
    if kind == "skimage":
        if arg != "hue":
            raise DataError(f"unknown unpaired task skimage:{arg}; expected skimage:hue.")
        size = crop_size or 64
        if train:
            photos = skimage_photos("train")
            a = _random_patches(photos, size, num_patches, seed)
            b = _random_patches(photos, size, num_patches, None if seed is None else seed + 1)
            prep = lambda p, s: augment_pair(_to_unit(p), _to_unit(p), s, None, flip)[0]  # noqa: E731
            a = _with_seeds(a, seed).map(prep)
            b = _with_seeds(b, None if seed is None else seed + 2).map(lambda p, s: hue_shift(prep(p, s)))
        else:
            patches = heldout_patches(size)
            half = len(patches) // 2  # disjoint halves: unpaired on held-out data too
            a = tf.data.Dataset.from_tensor_slices(patches[:half]).map(_to_unit)
            b = tf.data.Dataset.from_tensor_slices(patches[half : 2 * half]).map(lambda p: hue_shift(_to_unit(p)))
        ds = tf.data.Dataset.zip((a, b))
        return batch_and_prefetch(ds, batch_size, drop_remainder and train)

    if kind == "tfds":
        import tensorflow_datasets as tfds

        name, _, spec_split = arg.partition(":")
        split = spec_split or split
        sources = []
        for side in ("A", "B"):
            try:
                d = tfds.load(name, split=f"{split}{side}", data_dir=data_dir, shuffle_files=shuffle and train,
                              read_config=tfds.ReadConfig(shuffle_seed=seed))
            except Exception as err:
                raise DataError(f"could not load TFDS {name!r} split {split}{side} (data_dir={data_dir!r}): "
                                f"{type(err).__name__}. Without network, prepare it in data_dir first.") from err
            sources.append(d.map(lambda ex: _to_unit(ex["image"])))
    else:
        a_dir, b_dir = _split_root(Path(arg).expanduser(), split, ("A", "B"))
        sources = []
        for folder in (a_dir, b_dir):
            files = _image_files(folder)
            if not files:
                raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}.")
            sources.append(tf.data.Dataset.from_tensor_slices([str(p) for p in files.values()]).map(_decoder(channels, None)))

    crop = crop_size
    resize = (image_size or (crop * 286 // 256 if crop else None)) if train else crop
    counts = [int(d.cardinality()) for d in sources]
    prepared = []
    for i, d in enumerate(sources):
        if resize is not None:
            d = d.map(lambda x: tf.clip_by_value(tf.image.resize(x, (resize, resize), antialias=True), -1.0, 1.0))
        if train:
            d = _finish(d, 1, shuffle, None if seed is None else seed + i, counts[i] if counts[i] >= 0 else None, False)
            d = _with_seeds(d, None if seed is None else seed + 10 + i).map(
                lambda x, s: augment_pair(x, x, s, crop, flip)[0], num_parallel_calls=tf.data.AUTOTUNE
            )
        prepared.append(d)
    if train and min(counts) >= 0:
        longest = max(counts)
        prepared = [d.repeat().take(longest) for d in prepared]
    ds = tf.data.Dataset.zip(tuple(prepared))
    return batch_and_prefetch(ds, batch_size, drop_remainder and train)


# =============================================================================== evaluation
def _uint8(x) -> np.ndarray:
    return to_uint8(np.asarray(x, np.float32))


def evaluate_translation(translate: Callable, sources: np.ndarray, targets: np.ndarray, baseline: np.ndarray | None = None,
                         batch_size: int = 32) -> dict[str, Any]:
    """L1 (on [-1, 1]), PSNR and SSIM (RGB, 8-bit outputs, no border crop) of ``translate(sources)`` vs ``targets``.

    ``sources``/``targets`` are float [-1, 1] arrays; ``baseline`` (same shape as targets), if
    given, is scored the same way under ``"baseline"``.
    """
    from ganzoo.metrics import psnr, ssim

    outputs = np.concatenate([np.asarray(translate(sources[i : i + batch_size])) for i in range(0, len(sources), batch_size)])

    def score(images):
        quantized, truth = _uint8(images), _uint8(targets)
        return {
            "l1": float(np.mean(np.abs(quantized / 127.5 - 1.0 - truth / 127.5 + 1.0))),
            "psnr_rgb": psnr(quantized, truth, data_range=255, channel="rgb"),
            "ssim_rgb": ssim(quantized, truth, data_range=255, channel="rgb"),
        }

    result = {"model": score(outputs), "n": int(len(sources)),
              "protocol": "outputs and targets quantized to uint8; L1 on [-1, 1]; PSNR/SSIM (ganzoo.metrics, Wang et al. "
                          "window) on RGB, data_range 255, no border crop; mean over patches"}
    if baseline is not None:
        result["baseline"] = score(baseline)
    return result


def evaluate_super_resolution(upscale: Callable, scale: int, photos: Sequence[np.ndarray] | None = None,
                              names: Sequence[str] | None = None) -> dict[str, Any]:
    """PSNR/SSIM of ``upscale(lr)`` and of bicubic upscaling on whole held-out photos.

    Protocol: each photo (default: :data:`PHOTOS` ``test``) is cropped to a multiple of
    ``scale``; LR = :func:`degrade` (bicubic, antialiased, 8-bit); SR and bicubic outputs are
    quantized to uint8; PSNR and SSIM on the BT.601 Y channel with ``scale`` border pixels
    cropped (the usual SR protocol), data range 255. ``upscale`` maps a (1, h, w, 3) [-1, 1]
    array to (1, h*scale, w*scale, 3).
    """
    from ganzoo.metrics import psnr, ssim

    if photos is None:
        photos, names = skimage_photos("test"), list(PHOTOS["test"])
    names = list(names or [f"photo_{i}" for i in range(len(photos))])
    per_photo = {}
    for name, photo in zip(names, photos):
        h, w = (photo.shape[0] // scale) * scale, (photo.shape[1] // scale) * scale
        high = photo[None, :h, :w].astype(np.float32) / 127.5 - 1.0
        low = degrade(high, scale).numpy()
        sr, bicubic, truth = _uint8(upscale(low)), _uint8(bicubic_upscale(low, scale)), _uint8(high)
        per_photo[name] = {
            "size": [h, w],
            "psnr_y": psnr(sr, truth, data_range=255, crop_border=scale, channel="y"),
            "ssim_y": ssim(sr, truth, data_range=255, crop_border=scale, channel="y"),
            "bicubic_psnr_y": psnr(bicubic, truth, data_range=255, crop_border=scale, channel="y"),
            "bicubic_ssim_y": ssim(bicubic, truth, data_range=255, crop_border=scale, channel="y"),
        }
    mean = {k: float(np.mean([v[k] for v in per_photo.values()])) for k in ("psnr_y", "ssim_y", "bicubic_psnr_y", "bicubic_ssim_y")}
    return {
        **mean,
        "per_photo": per_photo,
        "scale": scale,
        "protocol": f"whole held-out photos {names}, cropped to multiples of {scale}; LR = TF bicubic downscale with "
                    "antialiasing, rounded to 8 bits; outputs and bicubic baseline (TF bicubic, a=-0.5) quantized to uint8; "
                    f"PSNR/SSIM on the BT.601 Y channel (16-235 offsets as ganzoo.metrics.rgb_to_y), {scale}-pixel border "
                    "cropped, data range 255; mean over photos",
    }


def train_domain_classifier(a: np.ndarray, b: np.ndarray, epochs: int = 4, seed: int = 0):
    """A small CNN telling domain A (label 0) from B (label 1) on [-1, 1] images; returns ``predict(x) -> P(B)``."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(a.shape[1:])
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    x = np.concatenate([a, b]).astype(np.float32)
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))]).astype(np.float32)
    model.fit(x, y, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    return lambda images: model.predict(np.asarray(images, np.float32), verbose=0, batch_size=256)[:, 0]


def evaluate_cycle(model, a: np.ndarray, b: np.ndarray, truth_b: np.ndarray | None = None,
                   truth_a: np.ndarray | None = None, classifier: Callable | None = None) -> dict[str, Any]:
    """CycleGAN checks on held-out ``a`` and ``b`` ([-1, 1]): cycle reconstruction L1/PSNR (RGB, 8-bit) per
    direction; with ``truth_b = T(a)`` / ``truth_a = T^-1(b)`` known, PSNR of G(a) and F(b) against them and
    of the untranslated input (identity baseline); with a domain ``classifier`` (P(B)), the fraction of
    G(a) judged B and of F(b) judged A, beside its accuracy on the real images."""
    from ganzoo.metrics import psnr

    g = lambda x: model.translate(x, "a2b", raw=True)  # noqa: E731
    f = lambda x: model.translate(x, "b2a", raw=True)  # noqa: E731
    fake_b, fake_a = g(a), f(b)
    rec_a, rec_b = f(fake_b), g(fake_a)
    rgb = lambda x, y: psnr(_uint8(x), _uint8(y), data_range=255, channel="rgb")  # noqa: E731
    result: dict[str, Any] = {
        "n_a": int(len(a)), "n_b": int(len(b)),
        "cycle_l1_a": float(np.mean(np.abs(rec_a - a))), "cycle_l1_b": float(np.mean(np.abs(rec_b - b))),
        "cycle_psnr_rgb_a": rgb(rec_a, a), "cycle_psnr_rgb_b": rgb(rec_b, b),
    }
    if truth_b is not None:
        result.update(a2b_psnr_rgb=rgb(fake_b, truth_b), a2b_identity_baseline_psnr_rgb=rgb(a, truth_b))
    if truth_a is not None:
        result.update(b2a_psnr_rgb=rgb(fake_a, truth_a), b2a_identity_baseline_psnr_rgb=rgb(b, truth_a))
    if classifier is not None:
        result.update(
            domain_accuracy_real=float((np.mean(classifier(a) < 0.5) + np.mean(classifier(b) >= 0.5)) / 2),
            a2b_judged_b=float(np.mean(classifier(fake_b) >= 0.5)),
            b2a_judged_a=float(np.mean(classifier(fake_a) < 0.5)),
            identity_baseline_a_judged_b=float(np.mean(classifier(a) >= 0.5)),
        )
    result["protocol"] = ("held-out patches; reconstructions F(G(a)) and G(F(b)) and translations quantized to uint8 for PSNR "
                          "(RGB, data range 255, no crop); L1 on [-1, 1] floats; domain judged by a small CNN trained on "
                          "real training-photo patches of both domains (threshold 0.5)")
    return result


# =============================================================================== export
EXPORT_OUTPUT = "output"
EXPORT_INPUT = "image"
EXPORT_MANIFEST = "manifest.json"


def _endpoint_fn(network):
    def serve(image):
        return {EXPORT_OUTPUT: network(image, training=False)}

    return serve


def _spec(network):
    return tf.TensorSpec((None, None, None, network.inputs[0].shape[-1]), tf.float32, name=EXPORT_INPUT)


def _parity_sizes(model) -> list[tuple[int, int, int]]:
    m = model.size_multiple
    base = max(m, 8)
    return [(1, base, base), (2, base + m * max(1, 16 // m), base + 2 * m * max(1, 16 // m))]


def export_image_model(model, out_dir, formats: Sequence[str] = ("savedmodel", "onnx"), opset: int = 17,
                       verify: bool = True, atol: float = 1e-4, sizes: Sequence[tuple[int, int, int]] | None = None,
                       overwrite: bool = False) -> dict[str, Any]:
    """Export every endpoint of an image-to-image model (``model.export_endpoints()``) and check parity.

    Writes ``<endpoint>.onnx`` (tf2onnx ``from_function``, input ``image`` (N, H, W, C) with
    dynamic N, H, W; output ``output``), ``savedmodel/`` (one signature per endpoint, the first
    also ``serving_default``) and ``manifest.json`` (endpoints, size multiple, scale, value range,
    verification). With ``verify``, each artifact runs at the ``sizes`` (batch, H, W) (default:
    two different sizes) and must match Keras within ``atol``; otherwise nothing is written.
    """
    import keras

    formats = tuple(formats)
    unknown = set(formats) - {"savedmodel", "onnx"}
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty subset of ('savedmodel', 'onnx'); got {formats}.")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} exists and is not empty; pass overwrite=True.")
    endpoints = model.export_endpoints()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.export-", dir=out_dir.parent))
    try:
        files = {}
        if "savedmodel" in formats:
            archive = keras.export.ExportArchive()
            for name, network in endpoints.items():
                archive.track(network)
                archive.add_endpoint(name, _endpoint_fn(network), input_signature=[_spec(network)])
            archive.write_out(str(staging / "savedmodel"), verbose=False)
            files["savedmodel"] = "savedmodel"
        if "onnx" in formats:
            for name, network in endpoints.items():
                _export_onnx(network, staging / f"{name}.onnx", opset)
                files[f"onnx:{name}"] = f"{name}.onnx"
        manifest = {
            "architecture": model.architecture,
            "config": json.loads(json.dumps(model.get_config(), default=repr)),
            "endpoints": {
                name: {
                    "input": {"name": EXPORT_INPUT, "shape": [None, None, None, int(net.inputs[0].shape[-1])], "dtype": "float32",
                              "range": [-1.0, 1.0]},
                    "output": {"name": EXPORT_OUTPUT, "shape": [None, None, None, int(net.outputs[0].shape[-1])],
                               "dtype": "float32", "range": [-1.0, 1.0]},
                    "onnx": f"{name}.onnx" if "onnx" in formats else None,
                    "savedmodel_signature": name if "savedmodel" in formats else None,
                }
                for name, net in endpoints.items()
            },
            "default_endpoint": next(iter(endpoints)),
            "size_multiple": int(model.size_multiple),
            "scale": int(model.output_scale),
            "receptive_radius": int(getattr(model, "receptive_radius", 0)) or None,
            "preprocessing": "uint8 x -> x / 127.5 - 1; sides padded (reflect) to multiples of size_multiple",
            "postprocessing": "uint8 = clip(round((y + 1) * 127.5), 0, 255); crop to input size x scale",
            "opset": opset if "onnx" in formats else None,
            "files": files,
        }
        if verify:
            manifest["verification"] = verify_image_export(model, staging, sizes=sizes, atol=atol)
        (staging / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _export_onnx(network, path: Path, opset: int) -> None:
    import onnx
    import tf2onnx

    spec = _spec(network)
    fn = tf.function(_endpoint_fn(network))
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=[spec], opset=opset)
    (output,) = proto.graph.output
    old = output.name
    for node in proto.graph.node:
        node.output[:] = [EXPORT_OUTPUT if o == old else o for o in node.output]
        node.input[:] = [EXPORT_OUTPUT if i == old else i for i in node.input]
    output.name = EXPORT_OUTPUT
    onnx.checker.check_model(proto)
    ops = {n.op_type for n in proto.graph.node}
    random_ops = sorted(o for o in ops if "Random" in o)
    if random_ops:
        raise ValueError(f"the exported graph of {network.name} draws random numbers: {random_ops}.")
    onnx.save_model(proto, str(path))


def verify_image_export(model, export_dir, sizes=None, atol: float = 1e-4, seed: int = 0) -> dict[str, Any]:
    """Max abs difference of each exported endpoint (ONNX Runtime, SavedModel signature) vs Keras at ``sizes``.

    Raises ValueError if any exceeds ``atol``; returns ``{"atol", "sizes", "max_abs_diff": {format:endpoint: d}}``.
    """
    export_dir = Path(export_dir)
    sizes = [tuple(s) for s in (sizes or _parity_sizes(model))]
    rng = np.random.default_rng(seed)
    runners = {}
    for name, network in model.export_endpoints().items():
        if (export_dir / f"{name}.onnx").exists():
            runners[f"onnx:{name}"] = (network, _onnx_fn(export_dir / f"{name}.onnx"))
        if (export_dir / "savedmodel").is_dir():
            runners[f"savedmodel:{name}"] = (network, _savedmodel_fn(export_dir / "savedmodel", name))
    if not runners:
        raise FileNotFoundError(f"nothing exported in {export_dir}.")
    diffs: dict[str, float] = {}
    problems = []
    for key, (network, run) in runners.items():
        worst = 0.0
        for batch, h, w in sizes:
            x = rng.uniform(-1, 1, (batch, h, w, network.inputs[0].shape[-1])).astype(np.float32)
            reference = np.asarray(network(x, training=False))
            got = np.asarray(run(x))
            if got.shape != reference.shape:
                problems.append(f"{key} at {(batch, h, w)}: shape {got.shape} != {reference.shape}")
                worst = float("inf")
                continue
            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - reference))))
        diffs[key] = worst
        if worst > atol:
            problems.append(f"{key}: max abs difference {worst:.3g} > {atol:g}")
    if problems:
        raise ValueError("exported model does not match Keras: " + "; ".join(problems))
    return {"atol": atol, "sizes": [list(s) for s in sizes], "max_abs_diff": diffs, "reference": "keras network(x, training=False)"}


def _onnx_fn(path: Path):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda x: session.run([EXPORT_OUTPUT], {EXPORT_INPUT: np.asarray(x, np.float32)})[0]


def _savedmodel_fn(path: Path, signature: str):
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures[signature]
    return lambda x: fn(**{EXPORT_INPUT: tf.constant(np.asarray(x, np.float32))})[EXPORT_OUTPUT].numpy()


# =============================================================================== file-level inference
class Runner:
    """A translation/upscaling function on [-1, 1] batches plus what is needed to feed it any image."""

    def __init__(self, fn: Callable, channels: int, size_multiple: int = 1, scale: int = 1, receptive_radius: int | None = None,
                 backend: str = "keras", endpoint: str = ""):
        self.fn, self.channels, self.size_multiple, self.scale = fn, channels, size_multiple, scale
        self.receptive_radius, self.backend, self.endpoint = receptive_radius, backend, endpoint

    def __call__(self, images, tile: int | None = None, overlap: int | None = None) -> np.ndarray:
        """uint8 (or [-1, 1]) images of any size -> uint8, padded/tiled as needed."""
        x = match_channels(to_model_range(images), self.channels)
        if tile is None:
            return to_uint8(run_padded(self.fn, x, self.size_multiple, self.scale))
        overlap = self.receptive_radius if overlap is None else overlap
        if overlap is None:
            raise ValueError("tiling needs overlap= (this model does not state its receptive radius).")
        return to_uint8(run_tiled(self.fn, x, tile, overlap, self.scale, self.size_multiple))


def load_runner(model, backend: str = "keras", direction: str | None = None) -> Runner:
    """A :class:`Runner` for ``model``: an image-to-image GAN, a ``.keras`` path, a zoo name, or (for
    ``backend="onnx"``) a folder written by :func:`export_image_model` (or a zoo entry holding one)."""
    if backend not in ("keras", "onnx"):
        raise ValueError(f"backend must be 'keras' or 'onnx', got {backend!r}.")
    folder = None
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if path.is_dir():
            folder = path
        elif str(model).endswith(".keras"):
            import keras

            import ganzoo.architectures  # noqa: F401  (registers the classes)

            model = keras.saving.load_model(path, compile=False)
        else:
            from ganzoo import zoo

            folder = zoo.path(str(model))
    if folder is not None:
        if backend == "keras" or not (folder / EXPORT_MANIFEST).exists():
            if backend == "onnx":
                raise FileNotFoundError(f"{folder} has no {EXPORT_MANIFEST} of an ONNX export (export_image_model).")
            return load_runner(str(folder / "model.keras"), "keras", direction)
        manifest = json.loads((folder / EXPORT_MANIFEST).read_text())
        name = direction or manifest["default_endpoint"]
        if name not in manifest["endpoints"]:
            raise ValueError(f"no endpoint {name!r}; choose from {', '.join(manifest['endpoints'])}.")
        entry = manifest["endpoints"][name]
        return Runner(_onnx_fn(folder / entry["onnx"]), entry["input"]["shape"][-1], manifest["size_multiple"],
                      manifest["scale"], manifest.get("receptive_radius"), "onnx", name)
    if backend == "onnx":
        raise ValueError("the ONNX backend needs an export folder (export_image_model) or a zoo entry with one.")
    endpoints = model.export_endpoints()
    name = direction or next(iter(endpoints))
    if name not in endpoints:
        raise ValueError(f"{type(model).__name__} has no direction {name!r}; choose from {', '.join(endpoints)}.")
    network = endpoints[name]
    fn = lambda x: np.concatenate([np.asarray(network(x[i : i + 8], training=False)) for i in range(0, len(x), 8)])  # noqa: E731
    return Runner(fn, network.inputs[0].shape[-1], model.size_multiple, model.output_scale,
                  getattr(model, "receptive_radius", None), "keras", name)


def read_image(path) -> np.ndarray:
    """An image file as uint8 (H, W, C), C = 1 or 3 (alpha dropped)."""
    from PIL import Image

    with Image.open(path) as image:
        mode = "L" if image.mode in ("L", "I", "I;16", "F", "1") else "RGB"
        array = np.asarray(image.convert(mode), np.uint8)
    return array[..., None] if array.ndim == 2 else array


def translate_file(model, in_path, out_path, direction: str | None = None, backend: str = "keras") -> Path:
    """``ganzoo translate``: read ``in_path``, translate (any size: padded to the model's multiple), write ``out_path``."""
    runner = model if isinstance(model, Runner) else load_runner(model, backend, direction)
    return save_png(runner(read_image(in_path))[0], out_path)


def upscale_file(model, in_path, out_path, tile: int | None = 128, overlap: int | None = None, backend: str = "keras") -> Path:
    """``ganzoo upscale``: read ``in_path``, upscale in ``tile`` x ``tile`` LR tiles (None: whole image), write ``out_path``.

    ``overlap`` defaults to the model's receptive radius, which makes tiling invisible.
    """
    runner = model if isinstance(model, Runner) else load_runner(model, backend)
    return save_png(runner(read_image(in_path), tile=tile, overlap=overlap)[0], out_path)


# =============================================================================== panels
def save_panel(columns: Sequence[np.ndarray], path, padding: int = 2, upscale: int = 1) -> Path:
    """A sample panel: one row per example, one column per array (e.g. input | output | target).

    Each array is (N, H, W, C) uint8 or [-1, 1] float; smaller columns (an SR input) are enlarged
    with nearest-neighbour pixels to the largest height; gray columns are shown as RGB. ``upscale``
    enlarges the whole panel (nearest neighbour) for small patches.
    """
    columns = [np.asarray(c) if np.asarray(c).dtype == np.uint8 else _uint8(c) for c in columns]
    height = max(c.shape[1] for c in columns)
    shown = []
    for c in columns:
        factor = height // c.shape[1]
        c = c.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else c
        shown.append(np.repeat(c, 3, axis=-1) if c.shape[-1] == 1 else c)
    rows = np.stack(shown, axis=1).reshape(-1, *shown[0].shape[1:])
    return save_png(image_grid(rows, columns=len(shown), padding=padding), path, upscale=upscale)
