"""Export a GAN's generator to a TensorFlow SavedModel and to ONNX, verified and with a manifest.

    from ganzoo.export import export
    manifest = export(model, "exported/dcgan")          # or export("run/model.keras", ...)

writes::

    exported/dcgan/
        generator.onnx      ONNX (tf2onnx.convert.from_function), inputs z [, label], output image
        savedmodel/         SavedModel; signature "serving_default" (= endpoint "serve"), same names
        manifest.json       shapes, dtypes, value ranges, latent recipe, sha256s, versions, parity

Only the inference graph of the generator used for sampling (the EMA copy when the
model keeps one) is exported, with ``training=False`` (BatchNorm uses its moving
statistics). Noise is never drawn inside the graph: ``z`` is an input, drawn by the
caller with :func:`ganzoo.sampling.latent_vectors` (``ganzoo.runtime`` does exactly that).

Artifacts are written to a temporary directory next to ``out_dir``, verified against
the Keras generator, and only then moved into place: a failed export leaves nothing.

SavedModel hash: ``artifacts.savedmodel.sha256`` is the sha256 of the UTF-8 text made of
one line ``"<sha256 of the file>  <relative posix path>\\n"`` per file of the directory,
sorted by path: the output of ``sha256sum`` on the sorted file list, so
``(cd savedmodel && find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum``
reproduces it. The per-file hashes are listed too, under ``artifacts.savedmodel.files``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ganzoo.files import sha256_file
from ganzoo.sampling import latent_vectors

FORMATS = ("savedmodel", "onnx")
MIN_OPSET, MAX_OPSET = 13, 18
ONNX_FILENAME = "generator.onnx"
SAVEDMODEL_DIRNAME = "savedmodel"
MANIFEST_FILENAME = "manifest.json"
MANIFEST_VERSION = 1
SERVING_SIGNATURE = "serving_default"
SERVING_ENDPOINT = "serve"
OUTPUT_NAME = "image"
POSTPROCESSING = "uint8 = round((x + 1) * 127.5)"
LATENT_RECIPE = "numpy.random.default_rng(seed).standard_normal((n, latent_dim), dtype=numpy.float32)"
VERIFY_BATCH_SIZES = (1, 7)


class ExportError(ValueError):
    """An export that could not be produced or did not reproduce the Keras generator."""


# --------------------------------------------------------------------------- public API
def export(
    model_or_path,
    out_dir: str | os.PathLike,
    formats: Iterable[str] | str = FORMATS,
    opset: int = 17,
    verify: bool = True,
    atol: float = 1e-4,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Export the (EMA) generator of a ganzoo GAN; return the manifest (also written to ``out_dir``).

    Args:
        model_or_path: a ``ganzoo.GAN`` or the path of a ``.keras`` file saved from one.
        out_dir: directory to create. It must not exist (or be empty) unless ``overwrite``.
        formats: any of ``"savedmodel"``, ``"onnx"`` (a single name is accepted too).
        opset: ONNX opset, 13 to 18 (what tf2onnx supports).
        verify: load each artifact back (ONNX Runtime, ``tf.saved_model.load``), run it at
            batch sizes 1 and 7 and compare with the Keras generator; raise
            :class:`ExportError` (and write nothing) if any max abs difference exceeds ``atol``.
        atol: tolerance of that comparison.
        overwrite: replace an existing non-empty ``out_dir`` (only after the new export passed).
    """
    formats = _check_formats(formats)
    opset = _check_opset(opset)
    atol = _check_atol(atol)
    if _is_gan(out_dir):
        raise TypeError("export(model_or_path, out_dir): the arguments look swapped; pass the model first.")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}.")
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    model, source = _resolve_model(model_or_path)
    if model.dtype_policy.name != "float32":  # exports are always float32: the same weights, no round-off
        from ganzoo.distribute import float32_copy

        model = float32_copy(model)

    import tensorflow as tf

    generator = model.inference_generator
    specs = input_specs(model)
    _check_generator_interface(model, generator)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.export-", dir=out_dir.parent))
    try:
        artifacts: dict[str, Any] = {}
        if "savedmodel" in formats:
            artifacts["savedmodel"] = _export_savedmodel(generator, specs, staging / SAVEDMODEL_DIRNAME)
        if "onnx" in formats:
            artifacts["onnx"] = _export_onnx(generator, specs, staging / ONNX_FILENAME, opset)
        verification = None
        if verify:
            verification = verify_parity(model, staging, formats=formats, atol=atol)
        manifest = _manifest(model, generator, formats, opset, artifacts, verification, source, tf)
        _write_json(staging / MANIFEST_FILENAME, manifest)
        _move_into_place(staging, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def verify_parity(
    model_or_path,
    export_dir: str | os.PathLike,
    formats: Iterable[str] | str | None = None,
    batch_sizes: Iterable[int] = VERIFY_BATCH_SIZES,
    atol: float = 1e-4,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> dict[str, Any]:
    """Compare exported artifacts with the Keras generator (``training=False``) on random inputs.

    ``export_dir`` holds ``generator.onnx`` and/or ``savedmodel/`` (an ``export`` output
    directory). ``formats`` defaults to those present. For each batch size, latents are
    drawn with ``latent_vectors(batch, latent_dim, seed + batch)`` (and uniform labels for
    conditional models); the ONNX file runs in ONNX Runtime and the SavedModel through its
    ``serving_default`` signature (after ``tf.saved_model.load``). Input/output names are
    checked too. Returns ``{"passed", "atol", "seed", "batch_sizes", "reference",
    "max_abs_diff": {format: max}, "by_batch": {format: {batch: diff}}}``; raises
    :class:`ExportError` with the measured differences when a check fails and
    ``raise_on_failure``.
    """
    model, _ = _resolve_model(model_or_path)
    export_dir = Path(export_dir)
    if formats is None:
        formats = tuple(f for f in FORMATS if (export_dir / _artifact_name(f)).exists())
        if not formats:
            raise FileNotFoundError(f"No {ONNX_FILENAME} or {SAVEDMODEL_DIRNAME}/ in {export_dir}.")
    else:
        formats = _check_formats(formats)
    atol = _check_atol(atol)
    batch_sizes = [int(b) for b in batch_sizes]
    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(f"batch_sizes must be positive integers, got {batch_sizes!r}.")

    from ganzoo.checks import check_export

    check_export(export_dir, model)  # an export of another architecture or shape: a clear ModelFileError
    generator = model.inference_generator
    runners = {"onnx": _onnx_runner, "savedmodel": _savedmodel_runner}
    run = {fmt: runners[fmt](export_dir / _artifact_name(fmt), model) for fmt in formats}
    by_batch: dict[str, dict[str, float]] = {fmt: {} for fmt in formats}
    problems: list[str] = []
    rng = np.random.default_rng(seed)
    for batch in batch_sizes:
        inputs = {"z": latent_vectors(batch, model.latent_dim, seed + batch)}
        if model.is_conditional:
            inputs["label"] = rng.integers(0, model.num_classes, batch).astype(np.int32)
        reference = _run_keras(generator, inputs)
        for fmt in formats:
            output = run[fmt](inputs)
            if output.shape != reference.shape:
                problems.append(f"{fmt} at batch {batch}: output shape {output.shape} != Keras {reference.shape}")
                by_batch[fmt][str(batch)] = float("inf")
                continue
            diff = float(np.max(np.abs(output.astype(np.float64) - reference.astype(np.float64))))
            if not np.isfinite(diff):
                diff = float("inf")
            by_batch[fmt][str(batch)] = diff
            if diff > atol:
                problems.append(f"{fmt} at batch {batch}: max abs difference {diff:.3g} > atol {atol:g}")
    result = {
        "passed": not problems,
        "atol": atol,
        "seed": seed,
        "batch_sizes": batch_sizes,
        "reference": "keras generator(inputs, training=False)",
        "max_abs_diff": {fmt: max(by_batch[fmt].values()) for fmt in formats},
        "by_batch": by_batch,
    }
    if problems and raise_on_failure:
        raise ExportError("Exported generator does not match the Keras generator: " + "; ".join(problems) + ".")
    return result


def input_specs(model) -> list:
    """The named ``tf.TensorSpec`` inputs of the exported graph: ``z`` [, ``label``], dynamic batch."""
    import tensorflow as tf

    specs = [tf.TensorSpec((None, model.latent_dim), tf.float32, name="z")]
    if model.is_conditional:
        specs.append(tf.TensorSpec((None,), tf.int32, name="label"))
    return specs


def sha256_tree(directory: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """(hash of the directory, {relative posix path: sha256}); see the module docstring."""
    directory = Path(directory)
    files = {p.relative_to(directory).as_posix(): sha256_file(p) for p in directory.rglob("*") if p.is_file()}
    listing = "".join(f"{digest}  {path}\n" for path, digest in sorted(files.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest(), dict(sorted(files.items()))


# ------------------------------------------------------------------------ model & args
def _resolve_model(model_or_path):
    """A ganzoo GAN from a GAN instance, a zoo name or a ``.keras`` path; returns (model, source info or None)."""
    from ganzoo import zoo
    from ganzoo.base import GAN

    if isinstance(model_or_path, GAN):
        return model_or_path, None
    if isinstance(model_or_path, str) and model_or_path in zoo.list_models():
        model = zoo.load(model_or_path)  # hash-verified
        return model, {"zoo": model_or_path, "sha256": zoo.info(model_or_path)["files"][zoo.MODEL_FILE]}
    if isinstance(model_or_path, (str, os.PathLike)):
        path = Path(model_or_path)
        if not _looks_like_model_path(path):
            raise ValueError(
                f"Cannot export {str(model_or_path)!r}: pass a ganzoo GAN model, a zoo name (see "
                "`ganzoo list`) or the path of a .keras file saved with model.save(...)."
            )
        if not path.is_file():
            raise FileNotFoundError(f"No such .keras file: {path}")
        from ganzoo.checks import load_model

        model = load_model(path, compile=False)  # safe mode; a broken or non-GAN file is a ModelFileError
        return model, {"path": str(path), "sha256": sha256_file(path)}
    raise TypeError(
        f"Expected a ganzoo GAN model or the path of a .keras file, got {type(model_or_path).__module__}."
        f"{type(model_or_path).__name__}."
    )


def _looks_like_model_path(path) -> bool:
    return str(path).endswith(".keras")


def _is_gan(value) -> bool:
    if isinstance(value, (str, os.PathLike)) or value is None:
        return False
    from ganzoo.base import GAN

    return isinstance(value, GAN)


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    try:
        formats = tuple(formats)
    except TypeError:
        raise TypeError(f"formats must be a sequence of format names from {FORMATS}, got {formats!r}.") from None
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"Unknown export format(s) {', '.join(map(repr, unknown))}. Valid formats: {', '.join(FORMATS)}.")
    if not formats:
        raise ValueError(f"formats is empty: choose among {', '.join(FORMATS)}.")
    return tuple(f for f in FORMATS if f in formats)


def _check_opset(opset) -> int:
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an integer in [{MIN_OPSET}, {MAX_OPSET}], got {opset!r}.")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be in [{MIN_OPSET}, {MAX_OPSET}] (what tf2onnx supports), got {opset}.")
    return int(opset)


def _check_atol(atol) -> float:
    if isinstance(atol, bool) or not isinstance(atol, (int, float, np.floating, np.integer)) or not atol >= 0:
        raise ValueError(f"atol must be a non-negative number, got {atol!r}.")
    return float(atol)


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"out_dir {out_dir} exists and is not a directory.")
        if any(out_dir.iterdir()) and not overwrite:
            raise FileExistsError(f"out_dir {out_dir} exists and is not empty; pass overwrite=True to replace it.")


def _check_generator_interface(model, generator) -> None:
    names = [t.name for t in generator.inputs]
    expected = ["z", "label"] if model.is_conditional else ["z"]
    if names != expected:
        raise ExportError(f"{generator.name} has inputs {names}; the export interface expects {expected}.")
    if tuple(generator.inputs[0].shape[1:]) != (model.latent_dim,):
        raise ExportError(f"{generator.name} takes z of shape {generator.inputs[0].shape}, not (None, {model.latent_dim}).")


def _artifact_name(fmt: str) -> str:
    return ONNX_FILENAME if fmt == "onnx" else SAVEDMODEL_DIRNAME


# --------------------------------------------------------------------------- writers
def _serving_fn(generator, conditional: bool):
    """The exported computation: named inputs in, ``{"image": G(inputs, training=False)}`` out."""
    if conditional:
        def serve(z, label):
            return {OUTPUT_NAME: generator([z, label], training=False)}
    else:
        def serve(z):
            return {OUTPUT_NAME: generator(z, training=False)}
    return serve


def _export_savedmodel(generator, specs, path: Path) -> dict[str, Any]:
    import keras

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(SERVING_ENDPOINT, _serving_fn(generator, len(specs) > 1), input_signature=specs)
    archive.write_out(str(path), verbose=False)  # the first endpoint is also "serving_default"
    digest, files = sha256_tree(path)
    return {
        "path": SAVEDMODEL_DIRNAME,
        "signature": SERVING_SIGNATURE,
        "endpoint": SERVING_ENDPOINT,
        "sha256": digest,
        "sha256_method": "sha256 of the lines '<sha256 of file>  <relative posix path>\\n' for every file, "
        "sorted by path (sha256sum format)",
        "files": files,
    }


def _export_onnx(generator, specs, path: Path, opset: int) -> dict[str, Any]:
    import onnx
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(_serving_fn(generator, len(specs) > 1))
    _check_no_random_ops_tf(fn.get_concrete_function(*specs))
    model_proto, _ = tf2onnx.convert.from_function(fn, input_signature=specs, opset=opset)
    _rename_output(model_proto, OUTPUT_NAME)
    onnx.checker.check_model(model_proto)
    _check_onnx_graph(model_proto, [s.name for s in specs], opset)
    onnx.save_model(model_proto, str(path))
    return {
        "path": ONNX_FILENAME,
        "opset": opset,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }


def _check_no_random_ops_tf(concrete_fn) -> None:
    graph_def = concrete_fn.graph.as_graph_def()  # with the library of nested functions
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    random_ops = sorted(op for op in ops if "Random" in op)
    if random_ops:
        raise ExportError(f"The generator graph draws random numbers ({', '.join(random_ops)}); keep noise as inputs.")


def random_onnx_ops(model_proto) -> list[str]:
    """Random* op types anywhere in an ONNX graph (subgraphs included)."""
    found = set()
    graphs = [model_proto.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            if node.op_type.startswith("Random") or "Random" in node.op_type:
                found.add(node.op_type)
            graphs.extend(attr.g for attr in node.attribute if attr.HasField("g"))
            for attr in node.attribute:
                graphs.extend(attr.graphs)
    return sorted(found)


def _rename_output(model_proto, name: str) -> None:
    outputs = model_proto.graph.output
    if len(outputs) != 1:
        raise ExportError(f"Expected one ONNX output, got {[o.name for o in outputs]}.")
    old = outputs[0].name
    if old == name:
        return
    for node in model_proto.graph.node:
        for i, value in enumerate(node.output):
            if value == old:
                node.output[i] = name
        for i, value in enumerate(node.input):
            if value == old:
                node.input[i] = name
    outputs[0].name = name


def _check_onnx_graph(model_proto, input_names: list[str], opset: int) -> None:
    names = [i.name for i in model_proto.graph.input]
    if names != input_names:
        raise ExportError(f"ONNX inputs are {names}, expected {input_names}.")
    outputs = [o.name for o in model_proto.graph.output]
    if outputs != [OUTPUT_NAME]:
        raise ExportError(f"ONNX outputs are {outputs}, expected [{OUTPUT_NAME!r}].")
    for value in [*model_proto.graph.input, *model_proto.graph.output]:
        batch = value.type.tensor_type.shape.dim[0]
        if batch.HasField("dim_value"):
            raise ExportError(f"ONNX {value.name} has a fixed batch size {batch.dim_value}; expected a dynamic one.")
    random_ops = random_onnx_ops(model_proto)
    if random_ops:
        raise ExportError(f"The ONNX graph contains random ops {random_ops}; keep noise as inputs.")
    versions = {o.domain: o.version for o in model_proto.opset_import}
    if versions.get("", versions.get("ai.onnx")) != opset:
        raise ExportError(f"ONNX model has opset {versions}, asked for {opset}.")


def _move_into_place(staging: Path, out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:  # appeared while exporting
            raise FileExistsError(f"out_dir {out_dir} exists and is not empty; pass overwrite=True to replace it.")
        backup = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.replace(out_dir, backup / "old")
        try:
            os.replace(staging, out_dir)
        except BaseException:
            os.replace(backup / "old", out_dir)
            raise
        finally:
            shutil.rmtree(backup, ignore_errors=True)
        return
    if out_dir.exists():
        out_dir.rmdir()
    os.replace(staging, out_dir)


# -------------------------------------------------------------------------- runners
def _run_keras(generator, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import keras

    args = inputs["z"] if "label" not in inputs else [inputs["z"], inputs["label"]]
    return np.asarray(keras.ops.convert_to_numpy(generator(args, training=False)), np.float32)


def _onnx_runner(path: Path, model):
    import onnxruntime as ort

    if not path.is_file():
        raise FileNotFoundError(f"No ONNX file at {path}.")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    expected = ["z", "label"] if model.is_conditional else ["z"]
    if sorted(names) != sorted(expected) or [o.name for o in session.get_outputs()] != [OUTPUT_NAME]:
        raise ExportError(
            f"ONNX interface {names} -> {[o.name for o in session.get_outputs()]}, expected {expected} -> ['{OUTPUT_NAME}']."
        )
    return lambda inputs: _run_onnx(session, inputs)


def _run_onnx(session, inputs: dict[str, np.ndarray]) -> np.ndarray:
    (output,) = session.run([OUTPUT_NAME], inputs)
    return np.asarray(output)


def _savedmodel_runner(path: Path, model):
    import tensorflow as tf

    if not path.is_dir():
        raise FileNotFoundError(f"No SavedModel directory at {path}.")
    loaded = tf.saved_model.load(str(path))
    if SERVING_SIGNATURE not in loaded.signatures:
        raise ExportError(f"SavedModel at {path} has no {SERVING_SIGNATURE!r} signature ({list(loaded.signatures)}).")
    signature = loaded.signatures[SERVING_SIGNATURE]
    input_keys = sorted(signature.structured_input_signature[1])
    expected = sorted(["z", "label"] if model.is_conditional else ["z"])
    output_keys = sorted(signature.structured_outputs)
    if input_keys != expected or output_keys != [OUTPUT_NAME]:
        raise ExportError(f"{SERVING_SIGNATURE} maps {input_keys} -> {output_keys}, expected {expected} -> ['{OUTPUT_NAME}'].")
    return lambda inputs: _run_savedmodel(loaded, inputs)


def _run_savedmodel(loaded, inputs: dict[str, np.ndarray]) -> np.ndarray:
    import tensorflow as tf

    outputs = loaded.signatures[SERVING_SIGNATURE](**{k: tf.constant(v) for k, v in inputs.items()})
    return outputs[OUTPUT_NAME].numpy()


# -------------------------------------------------------------------------- manifest
def _manifest(model, generator, formats, opset, artifacts, verification, source, tf) -> dict[str, Any]:
    shape = [int(s) for s in model.image_shape]
    is_image = len(shape) > 1
    inputs = [{
        "name": "z",
        "dtype": "float32",
        "shape": [None, model.latent_dim],
        "distribution": "standard normal N(0, 1), independent entries",
    }]
    if model.is_conditional:
        inputs.append({
            "name": "label",
            "dtype": "int32",
            "shape": [None],
            "range": [0, model.num_classes],
            "description": f"class index, an integer in [0, {model.num_classes})",
        })
    output = {"name": OUTPUT_NAME, "dtype": "float32", "shape": [None, *shape]}
    if is_image:
        output.update({
            "kind": "image",
            "layout": "NHWC" if len(shape) == 3 else None,
            "range": [-1.0, 1.0],
            "postprocessing": POSTPROCESSING + ", clipped to [0, 255]",
        })
    else:
        output.update({"kind": "points", "range": None, "postprocessing": None})
    return {
        "manifest_version": MANIFEST_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "architecture": model.architecture,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "config": _jsonable(model.get_config()),
        "generator": {
            "name": generator.name,
            "ema": getattr(model, "ema_generator", None) is not None and generator is model.ema_generator,
            "parameters": int(generator.count_params()),
            "training": False,
        },
        "latent_dim": model.latent_dim,
        "num_classes": model.num_classes,
        "conditional": model.is_conditional,
        "image_shape": shape,
        "inputs": inputs,
        "outputs": [output],
        "latent_sampling": {
            "recipe": LATENT_RECIPE,
            "function": "ganzoo.sampling.latent_vectors(n, latent_dim, seed)",
        },
        "formats": list(formats),
        "opset": opset if "onnx" in formats else None,
        "artifacts": artifacts,
        "source": source,
        "versions": _versions(tf),
        "verification": verification,
    }


def _versions(tf) -> dict[str, str | None]:
    import keras

    import ganzoo

    def version(module_name):
        try:
            module = __import__(module_name)
        except ImportError:
            return None
        return getattr(module, "__version__", None)

    return {
        "ganzoo": ganzoo.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": version("tf2onnx"),
        "onnx": version("onnx"),
        "onnxruntime": version("onnxruntime"),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
