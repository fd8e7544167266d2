"""One export entry for every kind of model: SavedModel and ONNX, verified, with one manifest.

    import ganzoo
    manifest = ganzoo.export(model, "exports/dcgan")        # a GAN, a zoo name or a .keras path

Each model names its inference graphs (``model.serving_graphs()``): latent generators
``generator`` (``z`` [, ``label``] -> ``image``); style-based ones ``generator``, ``mapping`` and
``synthesis`` (``z``, ``truncation_psi``, noise maps); image-to-image ones one graph per direction
(``translate``; ``a2b`` and ``b2a``; ``upscale``), ``image`` in and out with dynamic batch, height
and width. The export folder holds::

    <graph>.onnx        one ONNX file per graph (tf2onnx ``from_function``)
    savedmodel/         one SavedModel: the first graph is endpoint ``serve`` (= ``serving_default``),
                        the others are signatures named after their graph
    manifest.json       schema version 2: kind, graphs (inputs, output, shapes, dtypes, ranges),
                        the model's metadata, sha256 of every artifact, versions, verification

Discipline, the same for every kind: everything is written into a staging folder next to
``out_dir``, each artifact is run (ONNX Runtime, ``tf.saved_model.load``) on each graph's
examples (batch 1 and a larger batch; two sizes for image models) against the Keras networks
(``training=False``), and only a passing export is renamed into place. A failure leaves nothing
behind and an older export intact. Noise is never drawn inside a graph.

SavedModel hash: the sha256 of the lines ``"<sha256 of the file>  <relative posix path>\\n"``,
sorted by path (``sha256sum`` over the sorted file list); the per-file hashes are listed too.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

from ganzoo import distribute
from ganzoo.deploy import loading
from ganzoo.deploy.manifest import (
    MANIFEST_FILENAME,
    MANIFEST_VERSION,
    artifact_path,
    check_artifact_hashes,
    read_manifest,
    sha256_tree,
)
from ganzoo.errors import ExportError, ModelFileError
from ganzoo.models.base import GAN, ServingGraph
from ganzoo.utils.files import fsync_dir, fsync_tree, sha256_file, write_json
from ganzoo.utils.versions import versions

FORMATS = ("savedmodel", "onnx")
MIN_OPSET, MAX_OPSET = 13, 18
SAVEDMODEL_DIRNAME = "savedmodel"
DEFAULT_ENDPOINT = "serve"
DEFAULT_SIGNATURE = "serving_default"


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
    """Export every inference graph of a ganzoo model; return the manifest (also written to ``out_dir``).

    Args:
        model_or_path: a ``ganzoo.GAN``, a zoo name or the path of a ``.keras`` file saved from one.
        out_dir: directory to create. It must not exist (or be empty) unless ``overwrite``.
        formats: any of ``"savedmodel"``, ``"onnx"`` (a single name is accepted too).
        opset: ONNX opset, 13 to 18 (what tf2onnx supports).
        verify: run each artifact on the model's examples and compare with Keras; raise
            :class:`ExportError` (and write nothing) if any max abs difference exceeds ``atol``.
        atol: tolerance of that comparison.
        overwrite: replace an existing non-empty ``out_dir`` (only after the new export passed).
    """
    formats = _check_formats(formats)
    opset = _check_opset(opset)
    atol = _check_atol(atol)
    if isinstance(out_dir, GAN):
        raise TypeError("export(model_or_path, out_dir): the arguments look swapped; pass the model first.")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}.")
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    model, source = _resolve_model(model_or_path)
    if model.dtype_policy.name != "float32":  # exports are always float32: the same weights, no round-off
        model = distribute.float32_copy(model)
    graphs = model.serving_graphs()

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.export-", dir=out_dir.parent))
    try:
        artifacts: dict[str, Any] = {}
        if "savedmodel" in formats:
            artifacts["savedmodel"] = _export_savedmodel(graphs, staging / SAVEDMODEL_DIRNAME)
        if "onnx" in formats:
            artifacts["onnx"] = {name: _export_onnx(name, graph, staging, opset) for name, graph in graphs.items()}
        manifest = _manifest(model, graphs, formats, opset, artifacts, source)
        manifest["verification"] = verify_parity(model, staging, atol=atol, manifest=manifest) if verify else None
        write_json(staging / MANIFEST_FILENAME, manifest)
        fsync_tree(staging)  # on disk before the rename makes it the export
        _move_into_place(staging, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def verify_parity(
    model_or_path,
    export_dir: str | os.PathLike,
    atol: float = 1e-4,
    seed: int = 0,
    raise_on_failure: bool = True,
    manifest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compare every artifact of an export with the Keras networks (``training=False``).

    ``export_dir`` is an :func:`export` folder; its ``manifest.json`` (or ``manifest``) must
    describe this model's graphs, and every artifact must match the manifest's sha256 before
    it is loaded (so no graph ganzoo did not write is ever run). Each graph runs on
    ``model.export_examples(graph, seed)``. Returns ``{"passed", "atol", "seed", "reference",
    "max_abs_diff": {"<format>:<graph>": max}, "cases": [...]}``; raises :class:`ExportError`
    with the measured differences when a check fails and ``raise_on_failure``.
    """
    model, _ = _resolve_model(model_or_path)
    export_dir = Path(export_dir)
    atol = _check_atol(atol)
    if manifest is None:
        manifest = read_manifest(export_dir)
    check_artifact_hashes(export_dir, manifest)
    graphs = model.serving_graphs()
    _check_same_model(export_dir, manifest, model, graphs)
    runners = {}
    if "onnx" in manifest["artifacts"]:
        for name, info in manifest["artifacts"]["onnx"].items():
            runners[f"onnx:{name}"] = _onnx_runner(artifact_path(export_dir, info["path"]), graphs[name])
    if "savedmodel" in manifest["artifacts"]:
        # A SavedModel is a TensorFlow program: it runs only once its hash matched the manifest (above).
        loaded = tf.saved_model.load(str(artifact_path(export_dir, manifest["artifacts"]["savedmodel"]["path"])))
        for name in graphs:
            runners[f"savedmodel:{name}"] = _savedmodel_runner(
                loaded, manifest["graphs"][name]["savedmodel_signature"], graphs[name]
            )
    diffs: dict[str, float] = {}
    cases: list[dict[str, Any]] = []
    problems: list[str] = []
    for key, run in runners.items():
        name = key.split(":", 1)[1]
        graph = graphs[name]
        worst = 0.0
        for feed in model.export_examples(name, seed):
            reference = _run_keras(graph, feed)
            output = run(feed)
            shape = {k: list(v.shape) for k, v in feed.items()}
            if output.shape != reference.shape:
                problems.append(f"{key} on {shape}: output shape {output.shape} != Keras {reference.shape}")
                worst = float("inf")
                continue
            diff = float(np.max(np.abs(output.astype(np.float64) - reference.astype(np.float64))))
            diff = diff if np.isfinite(diff) else float("inf")
            cases.append({"artifact": key, "inputs": shape, "max_abs_diff": diff})
            worst = max(worst, diff)
        diffs[key] = worst
        if worst > atol:
            problems.append(f"{key}: max abs difference {worst:.3g} > atol {atol:g}")
    result = {
        "passed": not problems,
        "atol": atol,
        "seed": seed,
        "reference": "the Keras networks, training=False",
        "max_abs_diff": diffs,
        "cases": cases,
    }
    if problems and raise_on_failure:
        raise ExportError("The export does not match the Keras model: " + "; ".join(problems) + ".")
    return result


# ------------------------------------------------------------------------ model & args
def _resolve_model(model_or_path) -> tuple[GAN, dict[str, Any] | None]:
    """A ganzoo GAN from a GAN instance, a zoo name or a ``.keras`` path; returns (model, source or None)."""
    if isinstance(model_or_path, GAN):
        return model_or_path, None
    if not isinstance(model_or_path, (str, os.PathLike)):
        raise TypeError(
            f"Expected a ganzoo GAN model, a zoo name or the path of a .keras file, got "
            f"{type(model_or_path).__module__}.{type(model_or_path).__name__}."
        )
    model = loading.load(model_or_path)
    if not isinstance(model, GAN):
        raise TypeError(f"{model_or_path!s} holds a {type(model).__name__}, not a ganzoo GAN: nothing to export.")
    return model, loading.describe_source(model_or_path)


def _check_same_model(export_dir: Path, manifest: dict[str, Any], model: GAN, graphs: dict[str, ServingGraph]) -> None:
    """Raise :class:`ModelFileError` when the export describes another architecture or other graph interfaces."""
    problems = []
    if manifest.get("architecture") != model.architecture:
        problems.append(f"architecture {manifest.get('architecture')!r} (expected {model.architecture!r})")
    elif list(manifest["graphs"]) != list(graphs):
        problems.append(f"graphs {list(manifest['graphs'])} (expected {list(graphs)})")
    else:
        for name, graph in graphs.items():
            declared = [(spec["name"], spec["shape"]) for spec in manifest["graphs"][name]["inputs"]]
            expected = [(entry["name"], entry["shape"]) for entry in map(_tensor_entry, graph.inputs)]
            if declared != expected:
                problems.append(f"{name} inputs {declared} (expected {expected})")
    if problems:
        raise ModelFileError(f"{export_dir} was exported from another model: {'; '.join(problems)}.")


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    try:
        formats = tuple(formats)
    except TypeError:
        raise TypeError(f"formats must be a sequence of format names from {FORMATS}, got {formats!r}.") from None
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(
            f"Unknown export format(s) {', '.join(map(repr, unknown))}. Valid formats: {', '.join(FORMATS)}."
        )
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


# --------------------------------------------------------------------------- writers
def _signature_names(graphs: dict[str, ServingGraph]) -> dict[str, str]:
    """SavedModel signature of each graph: the first is ``serving_default``, the others their own name."""
    return {name: DEFAULT_SIGNATURE if i == 0 else name for i, name in enumerate(graphs)}


def _export_savedmodel(graphs: dict[str, ServingGraph], path: Path) -> dict[str, Any]:
    archive = keras.export.ExportArchive()
    tracked = []
    for graph in graphs.values():
        if not any(graph.network is t for t in tracked):
            archive.track(graph.network)
            tracked.append(graph.network)
    for i, (name, graph) in enumerate(graphs.items()):
        archive.add_endpoint(DEFAULT_ENDPOINT if i == 0 else name, _named(graph), input_signature=graph.inputs)
    archive.write_out(str(path), verbose=False)  # the first endpoint is also "serving_default"
    digest, files = sha256_tree(path)
    return {
        "path": SAVEDMODEL_DIRNAME,
        "sha256": digest,
        "sha256_method": "sha256 of the lines '<sha256 of file>  <relative posix path>\\n' for every file, "
        "sorted by path (sha256sum format)",
        "files": files,
    }


def _named(graph: ServingGraph):
    """``graph.fn`` returning ``{output name: tensor}`` (what a SavedModel signature and ONNX output are named)."""

    def serve(*tensors):
        return {graph.output: graph.fn(*tensors)}

    return serve


def _export_onnx(name: str, graph: ServingGraph, folder: Path, opset: int) -> dict[str, Any]:
    fn = tf.function(_named(graph), input_signature=graph.inputs)
    _check_no_random_ops_tf(fn.get_concrete_function())
    model_proto, _ = tf2onnx.convert.from_function(fn, input_signature=graph.inputs, opset=opset)
    _rename_output(model_proto, graph.output)
    onnx.checker.check_model(model_proto)
    _check_onnx_graph(model_proto, [s.name for s in graph.inputs], graph.output, opset)
    path = folder / f"{name}.onnx"
    onnx.save_model(model_proto, str(path))
    return {"path": path.name, "opset": opset, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def _check_no_random_ops_tf(concrete_fn) -> None:
    graph_def = concrete_fn.graph.as_graph_def()  # with the library of nested functions
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    random_ops = sorted(op for op in ops if "Random" in op)
    if random_ops:
        raise ExportError(f"The graph draws random numbers ({', '.join(random_ops)}); keep noise as inputs.")


def random_onnx_ops(model_proto) -> list[str]:
    """Random* op types anywhere in an ONNX graph (subgraphs included)."""
    found = set()
    graphs = [model_proto.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            if "Random" in node.op_type:
                found.add(node.op_type)
            for attr in node.attribute:
                if attr.HasField("g"):
                    graphs.append(attr.g)
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
        node.output[:] = [name if v == old else v for v in node.output]
        node.input[:] = [name if v == old else v for v in node.input]
    outputs[0].name = name


def _check_onnx_graph(model_proto, input_names: list[str], output: str, opset: int) -> None:
    names = [i.name for i in model_proto.graph.input]
    if names != input_names:
        raise ExportError(f"ONNX inputs are {names}, expected {input_names}.")
    outputs = [o.name for o in model_proto.graph.output]
    if outputs != [output]:
        raise ExportError(f"ONNX outputs are {outputs}, expected [{output!r}].")
    for value in [*model_proto.graph.input, *model_proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value"):
            raise ExportError(f"ONNX {value.name} has a fixed batch size {dims[0].dim_value}; expected a dynamic one.")
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
        fsync_dir(out_dir.parent)
        return
    if out_dir.exists():
        out_dir.rmdir()
    os.replace(staging, out_dir)
    fsync_dir(out_dir.parent)


# -------------------------------------------------------------------------- runners
def _run_keras(graph: ServingGraph, feed: dict[str, np.ndarray]) -> np.ndarray:
    tensors = [tf.constant(feed[spec.name], dtype=spec.dtype) for spec in graph.inputs]
    return np.asarray(keras.ops.convert_to_numpy(graph.fn(*tensors)), np.float32)


def _onnx_runner(path: Path, graph: ServingGraph):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    expected = [s.name for s in graph.inputs]
    if names != expected or [o.name for o in session.get_outputs()] != [graph.output]:
        raise ExportError(
            f"{path.name}: interface {names} -> {[o.name for o in session.get_outputs()]}, expected {expected} -> "
            f"[{graph.output!r}]."
        )
    return lambda feed: np.asarray(session.run([graph.output], feed)[0])


def _savedmodel_runner(loaded, signature_name: str, graph: ServingGraph):
    if signature_name not in loaded.signatures:
        raise ExportError(f"The SavedModel has no {signature_name!r} signature ({list(loaded.signatures)}).")
    signature = loaded.signatures[signature_name]
    input_keys = sorted(signature.structured_input_signature[1])
    expected = sorted(s.name for s in graph.inputs)
    if input_keys != expected or sorted(signature.structured_outputs) != [graph.output]:
        raise ExportError(
            f"Signature {signature_name!r} maps {input_keys} -> {sorted(signature.structured_outputs)}, "
            f"expected {expected} -> [{graph.output!r}]."
        )
    return lambda feed: signature(**{k: tf.constant(v) for k, v in feed.items()})[graph.output].numpy()


# -------------------------------------------------------------------------- manifest
def _tensor_entry(spec, describe: dict[str, Any] | None = None) -> dict[str, Any]:
    shape = None if spec.shape.rank is None else [None if d is None else int(d) for d in spec.shape.as_list()]
    return {"name": spec.name, "dtype": spec.dtype.name, "shape": shape, **(describe or {})}


def _manifest(model: GAN, graphs: dict[str, ServingGraph], formats, opset, artifacts, source) -> dict[str, Any]:
    signatures = _signature_names(graphs)
    described = {}
    for name, graph in graphs.items():
        output = _run_keras(graph, model.export_examples(name)[0])
        out_spec = tf.TensorSpec((None, *output.shape[1:]), tf.float32, name=graph.output)
        if model.export_kind in ("image_to_image", "super_resolution"):  # height and width follow the input
            out_spec = tf.TensorSpec((None, None, None, output.shape[-1]), tf.float32, name=graph.output)
        described[name] = {
            "inputs": [_tensor_entry(spec, graph.describe.get(spec.name)) for spec in graph.inputs],
            "output": _tensor_entry(out_spec),
            "onnx": f"{name}.onnx" if "onnx" in formats else None,
            "savedmodel_signature": signatures[name] if "savedmodel" in formats else None,
        }
    inference = model.inference_generator
    return {
        "manifest_version": MANIFEST_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "kind": model.export_kind,
        "architecture": model.architecture,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "config": _jsonable(model.get_config()),
        "default_graph": next(iter(graphs)),
        "graphs": described,
        "model": _jsonable(model.serving_metadata()),
        "generator": {
            "name": inference.name,
            "ema": getattr(model, "ema_generator", None) is not None and inference is model.ema_generator,
            "parameters": int(
                sum(n.count_params() for n in {id(g.network): g.network for g in graphs.values()}.values())
            ),
            "training": False,
        },
        "formats": list(formats),
        "opset": opset if "onnx" in formats else None,
        "artifacts": artifacts,
        "source": source,
        "versions": versions(),
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
