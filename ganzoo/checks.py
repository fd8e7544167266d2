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

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

# Values a [-1, 1] image may take: data pipelines clip, but resizing and user code can
# overshoot by round-off.
RANGE_TOLERANCE = 1e-3
_MAX_LISTED = 5


class InputError(ValueError):
    """Data or arguments handed to a model that do not fit it."""


class ModelFileError(ValueError):
    """A model, weights or export file that cannot be read, or that belongs to another model."""


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
    import tensorflow as tf

    images = images if tf.is_tensor(images) else tf.convert_to_tensor(images)
    if labels is not None and not tf.is_tensor(labels):
        labels = tf.convert_to_tensor(labels)
    check_spec(model, tuple(images.shape), images.dtype,
               None if labels is None else (tuple(labels.shape), labels.dtype))
    name = model_name(model)
    if model.is_conditional:
        if labels.shape.rank == 2:
            labels = tf.reshape(labels, [-1])
        labels = _with_label_assertions(tf.cast(labels, tf.int32), model.num_classes, name)
    images = _with_value_assertions(images, name, range_check=is_image_model(model))
    return images, labels


def check_spec(model, shape: tuple, dtype, labels: tuple | None = None) -> None:
    """The static checks of :func:`check_batch` on a batch's shape and dtype (``labels``: (shape, dtype) or None)."""
    import tensorflow as tf

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
            hint = (f" The channel count differs ({shape[3]} vs {expected[2]}): load the data with "
                    f"channels={expected[2]}, or create the model with image_shape={tuple(shape[1:])}.")
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
        raise InputError(f"{name} is class-conditional (num_classes={model.num_classes}): the dataset must yield "
                         f"(images, labels); load it with with_labels=True.")
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
    import tensorflow as tf

    flat = tf.cast(images, tf.float32)
    finite = tf.reduce_all(tf.math.is_finite(flat))
    checks = [tf.debugging.Assert(finite, [f"{name}: the batch contains NaN or infinite values; clean the data."])]
    if range_check:
        low, high = tf.reduce_min(flat), tf.reduce_max(flat)
        in_range = tf.logical_and(low >= -1.0 - RANGE_TOLERANCE, high <= 1.0 + RANGE_TOLERANCE)
        checks.append(tf.debugging.Assert(
            tf.logical_or(in_range, tf.logical_not(finite)),
            [f"{name}: images must lie in [-1, 1] (the range of the generator's tanh); this batch spans [",
             low, ",", high, "]. Values in 0..255 (or 0..1) need rescaling: load the data with ganzoo.data, or map "
             "ganzoo.checks.rescale_images over the dataset."],
            summarize=4,
        ))
    with tf.control_dependencies(checks):
        return tf.identity(images)


def _with_label_assertions(labels, num_classes: int, name: str):
    import tensorflow as tf

    low, high = tf.reduce_min(labels), tf.reduce_max(labels)
    ok = tf.logical_or(tf.equal(tf.size(labels), 0), tf.logical_and(low >= 0, high < num_classes))
    check = tf.debugging.Assert(
        ok, [f"{name}: labels must lie in [0, {num_classes}) (num_classes={num_classes}); this batch has labels from",
             low, "to", high, "."],
    )
    with tf.control_dependencies([check]):
        return tf.identity(labels)


def rescale_images(images, labels=None, source_range: tuple[float, float] = (0.0, 255.0)):
    """Map images from ``source_range`` (default 0..255) to float32 [-1, 1]; a ``dataset.map`` function.

    ``dataset.map(ganzoo.checks.rescale_images)`` converts a dataset of 0..255 images (with
    or without labels); ``source_range=(0, 1)`` converts [0, 1] images.
    """
    import tensorflow as tf

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
    import tensorflow as tf

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
    labels = None if label_spec is None else (
        tuple(label_spec.shape) if label_spec.shape.rank is not None else (None,), label_spec.dtype)
    try:
        check_spec(model, tuple(image_spec.shape), image_spec.dtype, labels)
    except InputError as error:
        raise InputError(f"{what}: {error}") from None


def check_generate_arguments(n, seed, batch_size) -> None:
    """Arguments of ``GAN.generate``: positive ints and an int (or None) seed."""
    for name, value in (("n", n), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}.")


# -------------------------------------------------------------------------------- files
def check_readable(path, kinds: str = "file") -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such {kinds}: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise ModelFileError(f"{path} is empty (0 bytes): a crashed or interrupted write? Expected a {kinds}.")
    return path


def _h5_structure(path: Path) -> dict[str, tuple]:
    import h5py

    structure: dict[str, tuple] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            structure[name] = tuple(obj.shape)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return structure


def weights_structure(path) -> dict[str, tuple]:
    """{variable path: shape} of a ``.weights.h5`` file (or of the weights inside a ``.keras`` file)."""
    path = check_readable(path, "weights file")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
                archive.extract("model.weights.h5", tmp)
                return _h5_structure(Path(tmp) / "model.weights.h5")
        return _h5_structure(path)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"{path} is not a readable Keras weights file ({type(error).__name__}: {error}); it may be truncated or "
            f"corrupted. Expected an HDF5 .weights.h5 written by model.save_weights (or a .keras file)."
        ) from error


def model_structure(model) -> dict[str, tuple]:
    """{variable path: shape} that ``model.save_weights`` would write."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.weights.h5"
        model.save_weights(path)
        return _h5_structure(path)


def _describe_differences(file_structure: dict, model_structure_: dict) -> str:
    missing = sorted(set(model_structure_) - set(file_structure))
    extra = sorted(set(file_structure) - set(model_structure_))
    shapes = sorted(k for k in set(file_structure) & set(model_structure_) if file_structure[k] != model_structure_[k])
    parts = []
    if shapes:
        parts.append("different shapes: " + ", ".join(
            f"{k} {file_structure[k]} in the file vs {model_structure_[k]} in the model" for k in shapes[:_MAX_LISTED]))
    if missing:
        parts.append(f"missing from the file: {', '.join(missing[:_MAX_LISTED])}"
                     + (f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""))
    if extra:
        parts.append(f"not in the model: {', '.join(extra[:_MAX_LISTED])}"
                     + (f" and {len(extra) - _MAX_LISTED} more" if len(extra) > _MAX_LISTED else ""))
    return "; ".join(parts)


def load_weights(model, path, load=None) -> None:
    """``model.load_weights(path)`` with clear errors, and the model untouched when it fails.

    Refuses an empty, truncated or corrupted file and a file written by a model of another
    architecture or configuration (its variables, including both optimizers', are compared
    with the model's before anything is assigned).
    """
    path = check_readable(path, "weights file")
    file_structure = weights_structure(path)
    expected = model_structure(model)
    difference = _describe_differences(file_structure, expected)
    if difference:
        raise ModelFileError(
            f"{path} does not hold weights of this {model_name(model)} ({_summary(model)}): {difference}. "
            f"Load it into a model created with the same architecture and arguments (and compiled, when the file "
            f"holds optimizer state)."
        )
    snapshot = [v.numpy() for v in _all_variables(model)]
    try:
        (load or model.load_weights)(path)
    except Exception as error:
        for variable, value in zip(_all_variables(model), snapshot):
            variable.assign(value)
        if isinstance(error, (OSError, KeyError)):
            raise ModelFileError(f"{path} could not be read ({type(error).__name__}: {error}); the model was left "
                                 f"unchanged.") from error
        raise


def _all_variables(model) -> list:
    variables = list(model.variables)
    for optimizer in (getattr(model, "g_optimizer", None), getattr(model, "d_optimizer", None)):
        if optimizer is not None:
            variables += list(optimizer.variables)
    seen, unique = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            unique.append(v)
    return unique


def _summary(model) -> str:
    config = model.get_config() if hasattr(model, "get_config") else {}
    keys = ("image_shape", "data_shape", "latent_dim", "num_classes", "base_filters", "hidden_units")
    return ", ".join(f"{k}={config[k]!r}" for k in keys if config.get(k) is not None)


def read_keras_config(path) -> dict[str, Any]:
    """The ``config.json`` of a ``.keras`` file, without deserializing (and so without running) anything."""
    path = check_readable(path, ".keras file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names or "model.weights.h5" not in names:
                raise ModelFileError(f"{path} is a zip file but not a .keras model (it lacks config.json or "
                                     f"model.weights.h5; has {sorted(names)[:_MAX_LISTED]}).")
            bad = archive.testzip()
            if bad is not None:
                raise ModelFileError(f"{path} is corrupted: member {bad} fails its CRC check.")
            return json.loads(archive.read("config.json"))
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{path} is not a readable .keras file ({error}); it may be truncated or corrupted. Expected the zip "
            f"file written by model.save(...)."
        ) from error


def load_model(path, architecture: str | None = None, compile: bool = True):
    """Load a ganzoo ``.keras`` file safely (``safe_mode=True``: no code from the file runs).

    Raises :class:`ModelFileError` for a truncated or corrupted file, a file that holds no
    ganzoo model, or one of another ``architecture`` than asked for.
    """
    import keras

    import ganzoo.architectures  # noqa: F401  (registers the classes the file names)
    from ganzoo.base import GAN
    from ganzoo.registry import architecture_class

    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: expected a .keras file written by model.save(...); for a .weights.h5 file use "
                             f"model.load_weights on a model of the right architecture.")
    config = read_keras_config(path)
    class_name = config.get("class_name")
    registered = config.get("registered_name") or class_name
    if architecture is not None:
        expected_class = architecture_class(architecture)
        if registered not in (f"ganzoo>{expected_class.__name__}", expected_class.__name__):
            raise ModelFileError(f"{path} holds a {registered!r}, not a {architecture!r} model "
                                 f"({expected_class.__name__}).")
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except ModelFileError:
        raise
    except Exception as error:
        raise ModelFileError(f"{path} could not be loaded ({type(error).__name__}: {error}).") from error
    if not isinstance(model, GAN):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a ganzoo GAN model.")
    return model


def lambda_layers(model) -> list[str]:
    """Names of Lambda layers (arbitrary Python code) in ``model``: zoo models must have none."""
    import keras

    return [layer.name for layer in model._flatten_layers(include_self=True, recursive=True)
            if isinstance(layer, keras.layers.Lambda)]


def check_export(path, model=None, expected: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check that an export (its directory, ``generator.onnx`` or ``savedmodel/``) fits ``model``.

    Compares the architecture, latent size, class count and image shape recorded in the
    export's ``manifest.json``, and the input/output shapes in the ONNX graph or the
    SavedModel signature, with ``model`` (a GAN) or ``expected`` (the same keys). Returns
    what the export declares; raises :class:`ModelFileError` on a mismatch.
    """
    path = check_readable(path, "export")
    want = dict(expected or {})
    if model is not None:
        want = {"architecture": model.architecture, "latent_dim": model.latent_dim,
                "num_classes": model.num_classes, "image_shape": list(model.image_shape), **want}
    declared: dict[str, Any] = {}
    root = path if path.is_dir() and not (path / "saved_model.pb").exists() else path.parent
    manifest = root / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
        except ValueError as error:
            raise ModelFileError(f"{manifest} is not valid JSON ({error}).") from error
        declared.update({k: data.get(k) for k in ("architecture", "latent_dim", "num_classes", "image_shape")})
    onnx_path = path if path.suffix == ".onnx" else (root / "generator.onnx" if path.is_dir() else None)
    if onnx_path is not None and onnx_path.is_file():
        declared.update(_onnx_interface(onnx_path))
    saved = path if (path / "saved_model.pb").exists() else root / "savedmodel"
    if saved.is_dir() and (saved / "saved_model.pb").exists() and "latent_dim" not in declared:
        declared.update(_savedmodel_interface(saved))
    problems = []
    for key, value in want.items():
        if key in declared and declared[key] is not None and value is not None and _norm(declared[key]) != _norm(value):
            problems.append(f"{key} {declared[key]!r} (expected {value!r})")
    if problems:
        raise ModelFileError(f"{path} was exported from another model: {'; '.join(problems)}.")
    return declared


def _norm(value):
    return list(value) if isinstance(value, (tuple, list)) else value


def _onnx_interface(path: Path) -> dict[str, Any]:
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as error:  # onnx raises DecodeError and others for damaged files
        raise ModelFileError(f"{path} is not a readable ONNX model ({type(error).__name__}: {error}).") from error

    def dims(value_info):
        return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]

    inputs = {i.name: dims(i) for i in graph.input}
    info: dict[str, Any] = {}
    if "z" in inputs and len(inputs["z"]) == 2:
        info["latent_dim"] = inputs["z"][1]
    if graph.output:
        out = dims(graph.output[0])
        if all(d is not None for d in out[1:]):
            info["image_shape"] = out[1:]
    return info


def _savedmodel_interface(path: Path) -> dict[str, Any]:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures["serving_default"]
    except Exception as error:  # missing variables, bad protobuf, no signature
        raise ModelFileError(f"{path} is not a readable SavedModel with a serving_default signature "
                             f"({type(error).__name__}: {error}).") from error
    info: dict[str, Any] = {}
    _, kwargs = signature.structured_input_signature
    if "z" in kwargs and kwargs["z"].shape.rank == 2:
        info["latent_dim"] = kwargs["z"].shape[1]
    outputs = signature.structured_outputs
    first = next(iter(outputs.values())) if isinstance(outputs, dict) else None
    if first is not None and all(d is not None for d in first.shape[1:]):
        info["image_shape"] = list(first.shape[1:])
    return info


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("batch" if i == 0 and s is None else str(s) for i, s in enumerate(shape)) + ")"


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
