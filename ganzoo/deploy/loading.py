"""The one loader: a zoo name, a ``.keras`` file or an export folder, with one set of errors.

    ganzoo.load("dcgan-digits")                      # Keras model, hash-verified
    ganzoo.load("run/model.keras")                   # safe mode: no code from the file runs
    ganzoo.load("exports/dcgan", backend="onnx")     # the TensorFlow-free runtime of an export

Every command and module that needs a model goes through :func:`load`; weights files go through
:func:`load_weights`, which leaves the model untouched when the file does not fit.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import h5py
import keras

from ganzoo.deploy import runtime, zoo
from ganzoo.errors import IntegrityError, ModelFileError
from ganzoo.models import GAN, architecture_class
from ganzoo.models.base import OPTIMIZER_STATE_KEY
from ganzoo.models.checks import _MAX_LISTED, model_name
from ganzoo.utils.files import sha256_file

BACKENDS = ("keras", "onnx")


# -------------------------------------------------------------------------------- files
def check_readable(path, kinds: str = "file") -> Path:
    """``path`` as a Path, or a clear error when it is missing, a folder or empty."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such {kinds}: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; expected a {kinds}.")
    if path.is_file() and path.stat().st_size == 0:
        raise ModelFileError(f"{path} is empty (0 bytes): a crashed or interrupted write? Expected a {kinds}.")
    return path


def _h5_structure(path: Path) -> dict[str, tuple]:
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
        parts.append(
            "different shapes: "
            + ", ".join(
                f"{k} {file_structure[k]} in the file vs {model_structure_[k]} in the model"
                for k in shapes[:_MAX_LISTED]
            )
        )
    if missing:
        parts.append(
            f"missing from the file: {', '.join(missing[:_MAX_LISTED])}"
            + (f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else "")
        )
    if extra:
        parts.append(
            f"not in the model: {', '.join(extra[:_MAX_LISTED])}"
            + (f" and {len(extra) - _MAX_LISTED} more" if len(extra) > _MAX_LISTED else "")
        )
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
            raise ModelFileError(
                f"{path} could not be read ({type(error).__name__}: {error}); the model was left unchanged."
            ) from error
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
                raise ModelFileError(
                    f"{path} is a zip file but not a .keras model (it lacks config.json or "
                    f"model.weights.h5; has {sorted(names)[:_MAX_LISTED]})."
                )
            bad = archive.testzip()
            if bad is not None:
                raise ModelFileError(f"{path} is corrupted: member {bad} fails its CRC check.")
            return json.loads(archive.read("config.json"))
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{path} is not a readable .keras file ({error}); it may be truncated or corrupted. Expected the zip "
            f"file written by model.save(...)."
        ) from error


def load_model(path, architecture: str | None = None, compile: bool = True, gan_only: bool = True) -> keras.Model:
    """Load a ``.keras`` file safely (``safe_mode=True``: no code from the file runs).

    Raises :class:`ModelFileError` for a truncated or corrupted file, a file that holds no
    ganzoo model (unless ``gan_only=False``: any Keras model, e.g. the zoo's digits
    classifier), or one of another ``architecture`` than asked for.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(
            f"{path}: expected a .keras file written by model.save(...); for a .weights.h5 file use "
            f"model.load_weights on a model of the right architecture."
        )
    config = read_keras_config(path)
    registered = config.get("registered_name") or config.get("class_name")
    if architecture is not None:
        expected_class = architecture_class(architecture)
        if registered not in (f"ganzoo>{expected_class.__name__}", expected_class.__name__):
            raise ModelFileError(
                f"{path} holds a {registered!r}, not a {architecture!r} model ({expected_class.__name__})."
            )
    omitted = (config.get("compile_config") or {}).get(OPTIMIZER_STATE_KEY) == "omitted"
    try:
        with warnings.catch_warnings():
            if omitted:  # saved with include_optimizer=False: fresh optimizers are intended, not a mismatch
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as error:
        raise ModelFileError(f"{path} could not be loaded ({type(error).__name__}: {error}).") from error
    if gan_only and not isinstance(model, GAN):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a ganzoo GAN model.")
    return model


def load(name_or_path, *, backend: str = "keras", offline: bool | None = None, compile: bool = True):
    """A model from a zoo name, a ``.keras`` file or a folder (a zoo entry or an export).

    ``backend="keras"`` gives the Keras model (a :class:`ganzoo.GAN`; a zoo entry that is not a
    GAN, like ``digits-classifier``, loads as the Keras model it is). ``backend="onnx"`` gives the
    ONNX Runtime model of an export folder or of a zoo entry's export (:mod:`ganzoo.deploy.runtime`).
    Zoo entries are hash-verified before anything is read.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
    if isinstance(name_or_path, keras.Model):
        if backend == "onnx":
            raise ValueError("backend='onnx' loads an export folder or a zoo name, not a Keras model: export it first.")
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"Expected a zoo name, a .keras path or a folder, got {type(name_or_path).__name__}.")
    path = Path(name_or_path)
    if _is_zoo_name(name_or_path):
        folder = zoo.path(name_or_path, offline=offline)  # verifies every file against its card
        card = zoo.info(name_or_path)
        if backend == "onnx":
            return runtime.load(folder)
        model = load_model(folder / zoo.MODEL_FILE, compile=compile, gan_only=False)
        expected = card.get("architecture")
        if isinstance(model, GAN) and expected is not None and expected != model.architecture:
            raise IntegrityError(
                f"Zoo entry {name_or_path!r}: card says architecture {expected!r} but "
                f"{zoo.MODEL_FILE} holds {model.architecture!r}.",
                file=zoo.MODEL_FILE,
            )
        return model
    if path.is_dir():
        if backend == "onnx":
            return runtime.load(path)
        if not (path / zoo.MODEL_FILE).is_file():
            raise ModelFileError(f"{path} holds no {zoo.MODEL_FILE}; an export folder loads with backend='onnx'.")
        return load_model(path / zoo.MODEL_FILE, compile=compile)
    if path.suffix == ".keras":
        if backend == "onnx":
            raise ValueError(f"{path} is a Keras file: load it with backend='keras', or export it for ONNX Runtime.")
        if not path.is_file():
            raise FileNotFoundError(f"No such .keras file: {path}")
        return load_model(path, compile=compile)
    if isinstance(name_or_path, str) and not path.suffix and len(path.parts) == 1:
        raise zoo.unknown_model_error(name_or_path)  # a name: say which names exist
    raise FileNotFoundError(f"{name_or_path!s} is not a .keras file, an existing folder or a zoo name.")


def _is_zoo_name(name_or_path) -> bool:
    """A zoo name (and no file or folder of that name here, which would take precedence)."""
    return isinstance(name_or_path, str) and not Path(name_or_path).exists() and name_or_path in zoo.list_models()


def describe_source(name_or_path) -> dict[str, Any]:
    """Where a loaded model came from, for manifests: the zoo name and its file's hash, or the path and its hash."""
    path = Path(name_or_path)
    if _is_zoo_name(name_or_path):
        return {"zoo": name_or_path, "sha256": zoo.info(name_or_path)["files"][zoo.MODEL_FILE]}
    file = path / zoo.MODEL_FILE if path.is_dir() else path
    return {"path": str(path), "sha256": sha256_file(file)}
