"""Input validation: every place a user hands ganzoo data, labels or files gets a clear error.

Each error names what was wrong and what was expected (``docs/ERRORS.md`` has the table).
They are ``ValueError`` subclasses (:class:`InputError`, :class:`ModelFileError`) raised
*before* anything is written, so a bad input never corrupts a checkpoint or a model:
a failed ``load_weights`` puts the model's previous values back.

Checks that need the values of a batch (range, labels in range, finite) run inside the
train step as ``tf.debugging`` assertions and stop ``fit`` with ``InvalidArgumentError``
carrying the same kind of message; static checks (shape, dtype, missing labels) fail
when the step is traced, before the first update.
"""

from __future__ import annotations

import tensorflow as tf

from ganzoo.errors import InputError
from ganzoo.utils.sampling import check_positive_int, check_seed

# Values a [-1, 1] image may take: data pipelines clip, but resizing and user code can
# overshoot by round-off.
RANGE_TOLERANCE = 1e-3
_MAX_LISTED = 5


# ------------------------------------------------------------------------------ batches
def model_name(model) -> str:
    return f"{getattr(model, 'architecture', type(model).__name__)} model"


def is_image_model(model) -> bool:
    """Models of images (H, W, C) expect [-1, 1]; models of points (2-D mixtures) take any values."""
    return len(tuple(model.image_shape)) == 3


def check_batch(model, images, labels):
    """Check one training/evaluation batch against ``model``; return (images, labels) ready to use.

    Static checks raise :class:`InputError` at trace time (shape, channels, dtype,
    labels' dtype and shape); value checks (finite, range [-1, 1], labels in
    ``[0, num_classes)``) are assertions in the graph.
    """

    images = images if tf.is_tensor(images) else tf.convert_to_tensor(images)
    if labels is not None and not tf.is_tensor(labels):
        labels = tf.convert_to_tensor(labels)
    check_spec(
        model, tuple(images.shape), images.dtype, None if labels is None else (tuple(labels.shape), labels.dtype)
    )
    name = model_name(model)
    if model.is_conditional:
        if labels.shape.rank == 2:
            labels = tf.reshape(labels, [-1])
        labels = _with_label_assertions(tf.cast(labels, tf.int32), model.num_classes, name)
    images = _with_value_assertions(images, name, range_check=is_image_model(model))
    return images, labels


def check_spec(model, shape: tuple, dtype, labels: tuple | None = None) -> None:
    """The static checks of :func:`check_batch` on a batch's shape and dtype (``labels``: (shape, dtype) or None)."""

    name = model_name(model)
    dtype = tf.as_dtype(dtype)
    expected = tuple(model.image_shape)
    what = "images" if len(expected) == 3 else "samples"
    if dtype == tf.uint8 and is_image_model(model):
        raise InputError(
            f"{name}: {what} have dtype uint8 (pixel values 0..255); the model expects float32 in [-1, 1]. "
            f"Load them with ganzoo.data (which rescales), or map ganzoo.checks.rescale_images over the dataset."
        )
    if not dtype.is_floating:
        raise InputError(f"{name}: {what} have dtype {dtype.name}; expected float32 (or another float dtype).")
    if len(shape) != len(expected) + 1 or any(s is not None and s != e for s, e in zip(shape[1:], expected)):
        hint = ""
        if len(shape) == 4 and len(expected) == 3 and tuple(shape[1:3]) == expected[:2]:
            hint = (
                f" The channel count differs ({shape[3]} vs {expected[2]}): load the data with "
                f"channels={expected[2]}, or create the model with image_shape={tuple(shape[1:])}."
            )
        elif len(shape) == len(expected):
            hint = " Is the batch dimension missing? Batch the dataset (dataset.batch(n))."
        elif len(shape) == len(expected) + 1:
            hint = " Resize the data (image_size=...) or create the model with the data's shape."
        raise InputError(
            f"{name}: {what} of shape {_shape(shape)} do not fit the model, which expects (batch, "
            f"{', '.join(map(str, expected))}).{hint}"
        )
    if not model.is_conditional:
        return
    if labels is None:
        raise InputError(
            f"{name} is class-conditional (num_classes={model.num_classes}): the dataset must yield "
            f"(images, labels); load it with with_labels=True."
        )
    label_shape, label_dtype = labels
    label_dtype = tf.as_dtype(label_dtype)
    if not label_dtype.is_integer:
        raise InputError(
            f"{name}: labels have dtype {label_dtype.name}; expected integer class indices in "
            f"[0, {model.num_classes}) (int32), not one-hot or float labels."
        )
    if not (len(label_shape) == 1 or (len(label_shape) == 2 and label_shape[1] == 1)):
        raise InputError(
            f"{name}: labels of shape {_shape(tuple(label_shape))} do not fit; expected one class index per "
            f"image, shape (batch,)."
        )


def _with_value_assertions(images, name: str, range_check: bool):

    flat = tf.cast(images, tf.float32)
    finite = tf.reduce_all(tf.math.is_finite(flat))
    checks = [tf.debugging.Assert(finite, [f"{name}: the batch contains NaN or infinite values; clean the data."])]
    if range_check:
        low, high = tf.reduce_min(flat), tf.reduce_max(flat)
        in_range = tf.logical_and(low >= -1.0 - RANGE_TOLERANCE, high <= 1.0 + RANGE_TOLERANCE)
        checks.append(
            tf.debugging.Assert(
                tf.logical_or(in_range, tf.logical_not(finite)),
                [
                    f"{name}: images must lie in [-1, 1] (the range of the generator's tanh); this batch spans [",
                    low,
                    ",",
                    high,
                    "]. Values in 0..255 (or 0..1) need rescaling: load the data with ganzoo.data, or map "
                    "ganzoo.models.checks.rescale_images over the dataset.",
                ],
                summarize=4,
            )
        )
    with tf.control_dependencies(checks):
        return tf.identity(images)


def _with_label_assertions(labels, num_classes: int, name: str):

    low, high = tf.reduce_min(labels), tf.reduce_max(labels)
    ok = tf.logical_or(tf.equal(tf.size(labels), 0), tf.logical_and(low >= 0, high < num_classes))
    check = tf.debugging.Assert(
        ok,
        [
            f"{name}: labels must lie in [0, {num_classes}) (num_classes={num_classes}); this batch has labels from",
            low,
            "to",
            high,
            ".",
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(labels)


def rescale_images(images, labels=None, source_range: tuple[float, float] = (0.0, 255.0)):
    """Map images from ``source_range`` (default 0..255) to float32 [-1, 1]; a ``dataset.map`` function.

    ``dataset.map(ganzoo.checks.rescale_images)`` converts a dataset of 0..255 images (with
    or without labels); ``source_range=(0, 1)`` converts [0, 1] images.
    """

    low, high = source_range
    if not high > low:
        raise InputError(f"source_range must be (low, high) with high > low, got {source_range!r}.")
    scaled = (tf.cast(images, tf.float32) - low) * (2.0 / (high - low)) - 1.0
    return scaled if labels is None else (scaled, labels)


# ----------------------------------------------------------------------------- datasets
def check_dataset(dataset, model=None, what: str = "the dataset") -> None:
    """Refuse a dataset that yields no batches, or whose elements cannot fit ``model``.

    Checks what the ``element_spec`` tells (shapes, dtypes, labels) without reading data,
    plus the cardinality when TensorFlow knows it.
    """

    if not isinstance(dataset, tf.data.Dataset):
        raise InputError(f"{what} must be a tf.data.Dataset, got {type(dataset).__name__}.")
    cardinality = int(dataset.cardinality())
    if cardinality == 0:
        raise InputError(
            f"{what} yields no batches: it is empty, or its batch size is larger than its number of examples "
            f"with drop_remainder=True. Check the data source, or use a smaller batch size."
        )
    if model is None:
        return
    spec = dataset.element_spec
    if isinstance(spec, dict):
        raise InputError(f"{what} yields dicts ({sorted(spec)}); expected images or (images, labels) tuples.")
    image_spec, label_spec = (spec[0], spec[1] if len(spec) > 1 else None) if isinstance(spec, tuple) else (spec, None)
    if image_spec.shape.rank is None:
        return
    labels = (
        None
        if label_spec is None
        else (tuple(label_spec.shape) if label_spec.shape.rank is not None else (None,), label_spec.dtype)
    )
    try:
        check_spec(model, tuple(image_spec.shape), image_spec.dtype, labels)
    except InputError as error:
        raise InputError(f"{what}: {error}") from None


def check_generate_arguments(n, seed, batch_size) -> None:
    """Arguments of ``GAN.generate``: positive ints and an int (or None) seed."""
    check_positive_int("n", n)
    check_positive_int("batch_size", batch_size)
    check_seed(seed)


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("batch" if i == 0 and s is None else str(s) for i, s in enumerate(shape)) + ")"
