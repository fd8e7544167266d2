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

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from ganzoo.data.datasets import IMAGE_EXTENSIONS, batch_and_prefetch
from ganzoo.errors import DataError
from ganzoo.utils.images import BT601_LUMA

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
_LUMA = np.array(BT601_LUMA, np.float32)
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
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater_equal(
                    tf.reduce_min(shape[:2]), crop_size, message="image smaller than crop_size"
                ),
                tf.debugging.assert_equal(
                    tf.shape(target)[:2], shape[:2] * scale, message="target size != scale x source size"
                ),
            ]
        ):
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
        return _skimage_pairs(
            arg, split, batch_size, crop_size, scale, flip, shuffle, seed, num_patches, drop_remainder
        )
    if kind == "tfds":
        return _tfds_sr_pairs(arg, split, batch_size, crop_size, scale, flip, shuffle, seed, data_dir, drop_remainder)
    return _folder_pairs(
        Path(arg).expanduser(),
        split,
        batch_size,
        crop_size,
        image_size,
        flip,
        shuffle,
        seed,
        source_channels,
        target_channels,
        drop_remainder,
    )


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
        raise DataError(
            f"super-resolution pairs from {name!r} need crop_size, a multiple of scale={scale} (HR pixels)."
        )
    try:
        ds = tfds.load(
            name, split=split, data_dir=data_dir, shuffle_files=shuffle, read_config=tfds.ReadConfig(shuffle_seed=seed)
        )
    except Exception as err:  # not prepared, no network, bad split
        raise DataError(
            f"could not load TFDS {name!r} split {split!r} (data_dir={data_dir!r}): {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}. Without network, prepare it in data_dir first."
        ) from err
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
    for a, b in (
        (root / split / sides[0], root / split / sides[1]),
        (root / f"{split}{sides[0]}", root / f"{split}{sides[1]}"),
    ):
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
        raise DataError(
            f"paired folders need matching names: only in {a_dir}: {only_a[:5]}, only in {b_dir}: {only_b[:5]}"
            f"{' ...' if len(only_a) > 5 or len(only_b) > 5 else ''}."
        )
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
    resized to ``crop_size`` (``skimage:hue``: the held-out patches, alternately to A and to B). An epoch
    is as long as the larger domain (the smaller repeats).
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
            # Alternate held-out patches go to A and B: disjoint (unpaired on held-out data too) and drawn from the
            # same photos in the same proportions, so the two directions' numbers are comparable. (Contiguous
            # halves gave A mostly the cat and B only the coffee cup: their PSNRs differed by content, ~4 dB.)
            patches = heldout_patches(size)
            half = len(patches) // 2
            a = tf.data.Dataset.from_tensor_slices(patches[0 : 2 * half : 2]).map(_to_unit)
            b = tf.data.Dataset.from_tensor_slices(patches[1 : 2 * half : 2]).map(lambda p: hue_shift(_to_unit(p)))
        ds = tf.data.Dataset.zip((a, b))
        return batch_and_prefetch(ds, batch_size, drop_remainder and train)

    if kind == "tfds":
        import tensorflow_datasets as tfds

        name, _, spec_split = arg.partition(":")
        split = spec_split or split
        sources = []
        for side in ("A", "B"):
            try:
                d = tfds.load(
                    name,
                    split=f"{split}{side}",
                    data_dir=data_dir,
                    shuffle_files=shuffle and train,
                    read_config=tfds.ReadConfig(shuffle_seed=seed),
                )
            except Exception as err:
                raise DataError(
                    f"could not load TFDS {name!r} split {split}{side} (data_dir={data_dir!r}): "
                    f"{type(err).__name__}. Without network, prepare it in data_dir first."
                ) from err
            sources.append(d.map(lambda ex: _to_unit(ex["image"])))
    else:
        a_dir, b_dir = _split_root(Path(arg).expanduser(), split, ("A", "B"))
        sources = []
        for folder in (a_dir, b_dir):
            files = _image_files(folder)
            if not files:
                raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {folder}.")
            sources.append(
                tf.data.Dataset.from_tensor_slices([str(p) for p in files.values()]).map(_decoder(channels, None))
            )

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
