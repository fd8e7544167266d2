"""ganzoo.export on latent generators: SavedModel + ONNX of the (EMA) generator, verified, with a manifest v2.

(Every architecture and kind is covered in test_deploy.py.)
"""

import hashlib
import importlib
import json
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf
from conftest import small_model

import ganzoo
from ganzoo.deploy.exporter import export, verify_parity
from ganzoo.errors import ExportError, ModelFileError, UnknownNameError
from ganzoo.models import architecture_class
from ganzoo.utils.sampling import latent_vectors

# The module itself: the attribute ganzoo.export is the export() function.
export_lib = importlib.import_module("ganzoo.deploy.exporter")

# name -> (architecture, overrides)
CASES = {
    "points": ("vanilla_gan", dict(data_shape=(2,))),
    "vanilla_image": ("vanilla_gan", {}),
    "dcgan": ("dcgan", {}),
    "cgan": ("cgan", {}),
    "dcgan_ema": ("dcgan", dict(ema_decay=0.9)),
}


def _make(case):
    architecture, overrides = CASES[case]
    keras.utils.set_random_seed(3)
    model = small_model(architecture, **overrides)
    if model.ema_generator is not None:
        # Make the EMA generator differ from the raw one, so the test sees which is exported.
        for variable in model.ema_generator.weights:  # its own weights (it is not trainable itself)
            if "moving_" not in variable.path:
                variable.assign(variable * 0.5 + 0.01)
    # Non-trivial BatchNorm statistics: exports must use them (training=False).
    for variable in model.inference_generator.non_trainable_variables:
        if "moving_variance" in variable.path:
            variable.assign(variable * 1.7)
        elif "moving_mean" in variable.path:
            variable.assign(variable + 0.1)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{case: (model, out_dir, manifest)}: every case exported once in both formats."""
    root = tmp_path_factory.mktemp("exports")
    results = {}
    for case in CASES:
        model = _make(case)
        out_dir = root / case
        results[case] = (model, out_dir, export(model, out_dir))
    return results


def _inputs(model, batch, seed):
    inputs = {"z": latent_vectors(batch, model.latent_dim, seed)}
    if model.is_conditional:
        inputs["label"] = np.random.default_rng(seed).integers(0, model.num_classes, batch).astype(np.int32)
    return inputs


def _keras(model, inputs):
    args = inputs["z"] if "label" not in inputs else [inputs["z"], inputs["label"]]
    return keras.ops.convert_to_numpy(model.inference_generator(args, training=False))


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("case", list(CASES))
def test_onnx_and_savedmodel_match_keras_at_several_batch_sizes(exported, case):
    model, out_dir, _ = exported[case]
    session = ort.InferenceSession(str(out_dir / "generator.onnx"), providers=["CPUExecutionProvider"])
    serve = tf.saved_model.load(str(out_dir / "savedmodel")).signatures["serving_default"]
    for batch in (1, 5, 13):  # the graph has a dynamic batch dimension
        inputs = _inputs(model, batch, seed=100 + batch)
        reference = _keras(model, inputs)
        assert reference.shape == (batch, *model.image_shape)
        (onnx_out,) = session.run(["image"], inputs)
        saved_out = serve(**{k: tf.constant(v) for k, v in inputs.items()})["image"].numpy()
        assert onnx_out.shape == saved_out.shape == reference.shape
        assert onnx_out.dtype == saved_out.dtype == np.float32
        np.testing.assert_allclose(onnx_out, reference, rtol=0, atol=1e-4)
        np.testing.assert_allclose(saved_out, reference, rtol=0, atol=1e-4)


def test_the_ema_generator_is_what_gets_exported(exported):
    model, out_dir, manifest = exported["dcgan_ema"]
    assert manifest["generator"] == {**manifest["generator"], "name": "ema_generator", "ema": True}
    inputs = _inputs(model, 4, seed=7)
    (onnx_out,) = ort.InferenceSession(str(out_dir / "generator.onnx")).run(["image"], inputs)
    ema = keras.ops.convert_to_numpy(model.ema_generator(inputs["z"], training=False))
    raw = keras.ops.convert_to_numpy(model.generator(inputs["z"], training=False))
    assert np.max(np.abs(ema - raw)) > 0.05 * np.max(np.abs(raw))  # the two generators really differ
    np.testing.assert_allclose(onnx_out, ema, rtol=0, atol=1e-4)
    assert exported["dcgan"][2]["generator"]["ema"] is False


@pytest.mark.parametrize("case", list(CASES))
def test_serving_default_signature_has_named_inputs_and_output(exported, case):
    model, out_dir, _ = exported[case]
    signature = tf.saved_model.load(str(out_dir / "savedmodel")).signatures["serving_default"]
    args, kwargs = signature.structured_input_signature
    assert args == ()
    expected = {"z", "label"} if model.is_conditional else {"z"}
    assert set(kwargs) == expected
    assert kwargs["z"].shape.as_list() == [None, model.latent_dim] and kwargs["z"].dtype == tf.float32
    if model.is_conditional:
        assert kwargs["label"].shape.as_list() == [None] and kwargs["label"].dtype == tf.int32
    assert list(signature.structured_outputs) == ["image"]
    assert signature.structured_outputs["image"].shape.as_list() == [None, *model.image_shape]


@pytest.mark.parametrize("case", list(CASES))
def test_onnx_graph_interface_is_named_dynamic_and_free_of_random_ops(exported, case):
    model, out_dir, _ = exported[case]
    proto = onnx.load(str(out_dir / "generator.onnx"))
    onnx.checker.check_model(proto)
    inputs = {i.name: i for i in proto.graph.input}
    assert list(inputs) == (["z", "label"] if model.is_conditional else ["z"])
    assert [o.name for o in proto.graph.output] == ["image"]
    for value in [*proto.graph.input, *proto.graph.output]:
        assert not value.type.tensor_type.shape.dim[0].HasField("dim_value"), value.name  # dynamic batch
    assert inputs["z"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert inputs["z"].type.tensor_type.shape.dim[1].dim_value == model.latent_dim
    if model.is_conditional:
        assert inputs["label"].type.tensor_type.elem_type == onnx.TensorProto.INT32
    op_types = {node.op_type for node in proto.graph.node}
    assert not [op for op in op_types if "Random" in op], op_types
    assert not {"Dropout", "Multinomial", "Bernoulli"} & op_types
    assert {o.domain: o.version for o in proto.opset_import}[""] == 17


def test_random_op_scanner_finds_random_nodes():
    node = onnx.helper.make_node("RandomNormalLike", ["x"], ["y"])
    graph = onnx.helper.make_graph(
        [node],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 2])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])],
    )
    assert export_lib.random_onnx_ops(onnx.helper.make_model(graph)) == ["RandomNormalLike"]


@pytest.mark.parametrize("case", list(CASES))
def test_manifest_describes_interface_hashes_versions_and_parity(exported, case):
    model, out_dir, manifest = exported[case]
    assert sorted(p.name for p in out_dir.iterdir()) == ["generator.onnx", "manifest.json", "savedmodel"]
    on_disk = json.loads((out_dir / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["architecture"] == model.architecture
    assert on_disk["config"] == json.loads(json.dumps(model.get_config()))
    rebuilt = architecture_class(on_disk["architecture"]).from_config(on_disk["config"])  # the config suffices
    assert rebuilt.inference_generator.count_params() == on_disk["generator"]["parameters"]
    meta = on_disk["model"]
    assert meta["latent_dim"] == model.latent_dim and meta["num_classes"] == model.num_classes
    assert meta["image_shape"] == list(model.image_shape)
    assert on_disk["manifest_version"] == 2 and on_disk["kind"] == "latent" and on_disk["default_graph"] == "generator"
    graph = on_disk["graphs"]["generator"]
    assert graph["onnx"] == "generator.onnx" and graph["savedmodel_signature"] == "serving_default"

    z, *label = graph["inputs"]
    assert z == {**z, "name": "z", "dtype": "float32", "shape": [None, model.latent_dim]}
    assert "N(0, 1)" in z["distribution"]
    if model.is_conditional:
        assert label == [
            {**label[0], "name": "label", "dtype": "int32", "shape": [None], "range": [0, model.num_classes]}
        ]
    else:
        assert label == []
    image = graph["output"]
    assert image["name"] == "image" and image["dtype"] == "float32" and image["shape"] == [None, *model.image_shape]
    output = meta["output"]
    if len(model.image_shape) == 1:
        assert output["kind"] == "points" and output["range"] is None
    else:
        assert output["kind"] == "image" and output["range"] == [-1.0, 1.0]
        assert output["postprocessing"].startswith("uint8 = clip(round((x + 1) * 127.5), 0, 255)")
        assert output["layout"] == "NHWC"
    assert "default_rng(seed).standard_normal((n, latent_dim)" in z["recipe"]

    artifacts = on_disk["artifacts"]
    assert artifacts["onnx"]["generator"]["sha256"] == _sha256(out_dir / "generator.onnx")
    assert artifacts["onnx"]["generator"]["opset"] == on_disk["opset"] == 17
    saved = artifacts["savedmodel"]
    files = sorted(p for p in (out_dir / "savedmodel").rglob("*") if p.is_file())
    per_file = {p.relative_to(out_dir / "savedmodel").as_posix(): _sha256(p) for p in files}
    assert saved["files"] == per_file and "saved_model.pb" in per_file
    listing = "".join(f"{digest}  {path}\n" for path, digest in sorted(per_file.items()))
    assert saved["sha256"] == hashlib.sha256(listing.encode()).hexdigest()

    versions = on_disk["versions"]
    assert versions["tensorflow"] == tf.__version__ and versions["keras"] == keras.__version__
    assert versions["ganzoo"] == ganzoo.__version__
    assert versions["tf2onnx"] and versions["onnx"] == onnx.__version__

    verification = on_disk["verification"]
    assert verification["passed"] is True
    assert sorted({case["inputs"]["z"][0] for case in verification["cases"]}) == [1, 7]
    assert set(verification["max_abs_diff"]) == {"onnx:generator", "savedmodel:generator"}
    assert all(0 <= d <= 1e-4 for d in verification["max_abs_diff"].values())


def test_verify_parity_runs_on_its_own(exported):
    model, out_dir, _ = exported["cgan"]
    result = verify_parity(model, out_dir, seed=5)
    assert result["passed"] and len(result["cases"]) == 4 and result["seed"] == 5
    assert result["max_abs_diff"]["onnx:generator"] <= 1e-4 and result["max_abs_diff"]["savedmodel:generator"] <= 1e-4
    # Against another model's weights the same artifacts fail, with the measured difference.
    other = small_model("cgan", seed=9)
    with pytest.raises(ExportError, match=r"max abs difference .* > atol"):
        verify_parity(other, out_dir)
    report = verify_parity(other, out_dir, raise_on_failure=False)
    assert not report["passed"] and report["max_abs_diff"]["onnx:generator"] > 1e-4
    # An export of another architecture is refused before anything is run.
    with pytest.raises(ModelFileError, match="exported from another model: architecture 'cgan'"):
        verify_parity(small_model("dcgan"), out_dir)


@pytest.mark.parametrize("broken", ["onnx", "savedmodel"])
def test_failed_verification_raises_and_leaves_nothing_behind(tmp_path, monkeypatch, broken):
    model = small_model("vanilla_gan", data_shape=(2,))
    runner = f"_{broken}_runner"
    real = getattr(export_lib, runner)
    monkeypatch.setattr(export_lib, runner, lambda *args: lambda feed, run=real(*args): run(feed) + 1e-3)
    out_dir = tmp_path / "exports" / "model"
    with pytest.raises(ExportError, match=rf"{broken}:generator: max abs difference 0.001 > atol 0.0001"):
        export(model, out_dir)
    assert not out_dir.exists()
    assert list((tmp_path / "exports").iterdir()) == []  # no staging directory left either
    # verify=False skips the comparison (and so succeeds).
    manifest = export(model, out_dir, formats=[broken], verify=False)
    assert manifest["verification"] is None and manifest["formats"] == [broken]
    artifact = {"onnx": "generator.onnx", "savedmodel": "savedmodel"}[broken]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([artifact, "manifest.json"])


def test_nan_outputs_fail_verification(tmp_path, monkeypatch):
    model = small_model("vanilla_gan", data_shape=(2,))
    monkeypatch.setattr(
        export_lib, "_onnx_runner", lambda *args: lambda feed: np.full((len(feed["z"]), 2), np.nan, np.float32)
    )
    with pytest.raises(ExportError, match="onnx:generator: max abs difference inf"):
        export(model, tmp_path / "out", formats="onnx")
    assert not (tmp_path / "out").exists()


def test_export_from_a_keras_file_and_overwrite(tmp_path):
    model = small_model("cgan")
    path = tmp_path / "model.keras"
    model.save(path)
    out_dir = tmp_path / "out"
    manifest = export(str(path), out_dir, formats=("onnx",), opset=13)
    assert manifest["source"] == {"path": str(path), "sha256": _sha256(path)}
    assert manifest["opset"] == 13 and not (out_dir / "savedmodel").exists()
    inputs = _inputs(model, 3, seed=1)
    (onnx_out,) = ort.InferenceSession(str(out_dir / "generator.onnx")).run(["image"], inputs)
    np.testing.assert_allclose(onnx_out, _keras(model, inputs), rtol=0, atol=1e-4)

    with pytest.raises(FileExistsError, match="overwrite=True"):
        export(model, out_dir, formats="onnx")
    manifest = export(model, out_dir, formats="savedmodel", overwrite=True)
    assert sorted(p.name for p in out_dir.iterdir()) == ["manifest.json", "savedmodel"]
    assert manifest["opset"] is None and manifest["source"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "out"]


def test_bad_arguments_give_clear_errors(tmp_path):
    model = small_model("vanilla_gan", data_shape=(2,))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="Unknown export format.*'tflite'.*Valid formats: savedmodel, onnx"):
        export(model, out, formats=("onnx", "tflite"))
    with pytest.raises(ValueError, match="formats is empty"):
        export(model, out, formats=())
    for opset in (12, 19):
        with pytest.raises(ValueError, match=r"opset must be in \[13, 18\]"):
            export(model, out, opset=opset)
    with pytest.raises(TypeError, match="opset must be an integer"):
        export(model, out, opset="17")
    with pytest.raises(ValueError, match="atol"):
        export(model, out, atol=-1.0)
    with pytest.raises(TypeError, match="arguments look swapped"):
        export(str(out), model)
    with pytest.raises(UnknownNameError, match=r"Unknown zoo model 'dcgan-mnist'.*Valid names"):
        export("dcgan-mnist", out)
    with pytest.raises(FileNotFoundError, match="No such .keras file"):
        export(tmp_path / "missing.keras", out)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="ganzoo GAN"):
        export(plain, out)
    plain_path = tmp_path / "plain.keras"
    plain.save(plain_path)
    with pytest.raises(ModelFileError, match="not a ganzoo GAN"):
        export(plain_path, out)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a directory"):
        export(model, tmp_path / "file")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "plain.keras"]
    with pytest.raises(FileNotFoundError):
        verify_parity(model, tmp_path)
