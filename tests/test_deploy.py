"""One deploy path for every architecture: ganzoo.export, `ganzoo export`, the TensorFlow-free runtime
and Keras' own ``model.export``, each checked against the Keras model."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
from conftest import TINY_CONFIGS, small_model

import ganzoo
from ganzoo.cli import main as cli_main
from ganzoo.deploy import exporter
from ganzoo.deploy.manifest import read_manifest
from ganzoo.errors import ExportError, IntegrityError

ARCHITECTURES = sorted(TINY_CONFIGS)
KIND = {"stylegan": "style", "pix2pix": "image_to_image", "cyclegan": "image_to_image", "srgan": "super_resolution"}
GRAPHS = {
    "stylegan": ["generator", "mapping", "synthesis"],
    "pix2pix": ["translate"],
    "cyclegan": ["a2b", "b2a"],
    "srgan": ["upscale"],
}


def _model(name):
    keras.utils.set_random_seed(1)
    model = small_model(name)
    for variable in model.inference_generator.non_trainable_variables:  # non-trivial BatchNorm statistics
        if "moving_variance" in variable.path:
            variable.assign(variable * 1.5)
    return model


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """{architecture: (model, folder, manifest)}, each exported once through the public entry."""
    root = tmp_path_factory.mktemp("deploy")
    return {
        name: (model, root / name, ganzoo.export(model, root / name))
        for name, model in ((n, _model(n)) for n in ARCHITECTURES)
    }


def _probe_inputs(model) -> dict:
    """Fixed runtime-level inputs: seeds for generators, odd-sized uint8 images for image models."""
    if KIND.get(model.architecture, "latent") in ("latent", "style"):
        return {"n": 5, "seed": 11, "labels": None if model.num_classes is None else [0, 1, 2, 0, 1]}
    channels = {name: int(net.inputs[0].shape[-1]) for name, net in model.export_endpoints().items()}
    rng = np.random.default_rng(0)
    return {name: rng.integers(0, 256, (2, 19, 27, c)).astype(np.uint8).tolist() for name, c in channels.items()}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_public_export_of_every_architecture_is_complete_and_verified(exports, name):
    model, folder, manifest = exports[name]
    assert manifest == json.loads((folder / "manifest.json").read_text())
    assert manifest["manifest_version"] == 2 and manifest["kind"] == KIND.get(name, "latent")
    graphs = GRAPHS.get(name, ["generator"])
    assert list(manifest["graphs"]) == graphs and manifest["default_graph"] == graphs[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{g}.onnx" for g in graphs] + ["manifest.json", "savedmodel"]
    )
    verification = manifest["verification"]
    assert verification["passed"] and set(verification["max_abs_diff"]) == {
        f"{f}:{g}" for f in ("onnx", "savedmodel") for g in graphs
    }
    assert max(verification["max_abs_diff"].values()) <= 1e-4
    batches = {case["inputs"][next(iter(case["inputs"]))][0] for case in verification["cases"]}
    assert len(batches) == 2 and 1 in batches  # batch 1 and a larger batch
    for graph in manifest["graphs"].values():
        for spec in graph["inputs"]:
            assert spec["shape"] is None or spec["shape"] == [] or spec["shape"][0] is None  # dynamic batch
    if manifest["kind"] in ("image_to_image", "super_resolution"):
        spec = manifest["graphs"][graphs[0]]["inputs"][0]
        assert spec["name"] == "image" and spec["shape"][:3] == [None, None, None]  # any height and width
        sizes = {tuple(case["inputs"]["image"][1:3]) for case in verification["cases"]}
        assert len(sizes) == 2  # two input sizes checked
    if name == "stylegan":
        inputs = [s["name"] for s in manifest["graphs"]["generator"]["inputs"]]
        assert inputs == ["z", "truncation_psi", *model.noise_names]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_savedmodel_signatures_match_keras(exports, name):
    model, folder, manifest = exports[name]
    loaded = tf.saved_model.load(str(folder / "savedmodel"))
    for graph_name, graph in model.serving_graphs().items():
        signature = loaded.signatures[manifest["graphs"][graph_name]["savedmodel_signature"]]
        for feed in model.export_examples(graph_name, seed=4):
            got = signature(**{k: tf.constant(v) for k, v in feed.items()})[graph.output].numpy()
            want = keras.ops.convert_to_numpy(graph.fn(*[tf.constant(feed[s.name]) for s in graph.inputs]))
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


RUNTIME_SCRIPT = r"""
import json, sys
import numpy as np
from ganzoo.deploy import runtime
out = {}
for name, folder, probe in json.loads(sys.argv[1]):
    model = runtime.load(folder)
    if "n" in probe:
        out[name] = model.generate(probe["n"], seed=probe["seed"], labels=probe["labels"], raw=True)
        if model.kind == "style":
            out[name + ":truncated"] = model.generate(3, seed=2, truncation_psi=0.5, noise_mode="random", raw=True)
    else:
        for direction, images in probe.items():
            out[f"{name}:{direction}"] = model.translate(np.asarray(images, np.uint8), direction=direction, raw=True)
        if model.kind == "super_resolution":
            out[name + ":tiled"] = model.upscale(np.asarray(images, np.uint8), tile=8, raw=True)
np.savez(sys.argv[2], **out)
assert "tensorflow" not in sys.modules and "keras" not in sys.modules, "the runtime imported TensorFlow"
print("runtime ok")
"""


def test_runtime_reproduces_keras_for_every_architecture_without_tensorflow(exports, tmp_path):
    jobs = [(name, str(folder), _probe_inputs(model)) for name, (model, folder, _) in exports.items()]
    result = subprocess.run(
        [sys.executable, "-c", RUNTIME_SCRIPT, json.dumps(jobs), str(tmp_path / "out.npz")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "runtime ok" in result.stdout, result.stderr[-3000:]
    outputs = np.load(tmp_path / "out.npz")
    for name, _, probe in jobs:
        model = exports[name][0]
        if "n" in probe:
            np.testing.assert_allclose(
                outputs[name],
                model.generate(probe["n"], seed=probe["seed"], labels=probe["labels"], raw=True),
                rtol=0,
                atol=1e-4,
            )
            if name == "stylegan":
                want = model.generate(3, seed=2, truncation_psi=0.5, noise_mode="random", raw=True)
                np.testing.assert_allclose(outputs[name + ":truncated"], want, rtol=0, atol=1e-4)
        else:
            for direction, images in probe.items():
                want = model.translate(np.asarray(images, np.uint8), direction=direction, raw=True)
                assert outputs[f"{name}:{direction}"].shape == want.shape
                np.testing.assert_allclose(outputs[f"{name}:{direction}"], want, rtol=0, atol=1e-4)
            if name == "srgan":
                np.testing.assert_allclose(
                    outputs["srgan:tiled"], model.upscale(np.asarray(images, np.uint8), raw=True), rtol=0, atol=1e-4
                )


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_cli_export_of_a_keras_file(exports, tmp_path, name, capsys):
    model = exports[name][0]
    model.save(tmp_path / "model.keras")
    assert cli_main(["export", str(tmp_path / "model.keras"), "--out", str(tmp_path / "out")]) == 0
    assert "max |difference| to Keras" in capsys.readouterr().out
    manifest = read_manifest(tmp_path / "out")
    assert manifest["kind"] == KIND.get(name, "latent") and manifest["verification"]["passed"]
    assert manifest["source"]["path"] == str(tmp_path / "model.keras")
    assert list(manifest["graphs"]) == GRAPHS.get(name, ["generator"])


def _bundled_gans() -> list[str]:
    return [name for name in ganzoo.list_models() if ganzoo.zoo.info(name).get("architecture") in TINY_CONFIGS]


@pytest.mark.parametrize("name", _bundled_gans())
def test_cli_export_of_every_bundled_zoo_entry(tmp_path, name, capsys):
    assert cli_main(["export", name, "--out", str(tmp_path / "out"), "--format", "onnx,savedmodel"]) == 0
    manifest = read_manifest(tmp_path / "out")
    card = ganzoo.zoo.info(name)
    assert manifest["source"] == {"zoo": name, "sha256": card["files"]["model.keras"]}
    assert manifest["verification"]["passed"] and max(manifest["verification"]["max_abs_diff"].values()) <= 1e-4
    # the fresh export computes what the shipped one does
    shipped, fresh = ganzoo.runtime.load(ganzoo.zoo.path(name)), ganzoo.runtime.load(tmp_path / "out")
    if manifest["kind"] in ("latent", "style"):
        labels = [0, 1, 2] if manifest["model"].get("num_classes") else None
        np.testing.assert_allclose(
            fresh.generate(3, seed=1, labels=labels, raw=True),
            shipped.generate(3, seed=1, labels=labels, raw=True),
            rtol=0,
            atol=1e-5,
        )
    else:
        image = np.random.default_rng(1).integers(0, 256, (1, 24, 20, 3), np.uint8)
        np.testing.assert_allclose(
            fresh.translate(image, raw=True), shipped.translate(image, raw=True), rtol=0, atol=1e-5
        )


def _keras_reference_inputs(model):
    if model.export_kind in ("image_to_image", "super_resolution"):
        multiple = model.size_multiple
        channels = int(next(iter(model.export_endpoints().values())).inputs[0].shape[-1])
        return (
            np.random.default_rng(0)
            .uniform(-1, 1, (3, 2 * max(multiple, 8), max(multiple, 8), channels))
            .astype(np.float32)
        )
    z = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype(np.float32)
    return [z, np.array([0, 1, 2], np.int32)] if model.is_conditional else z


def _check_keras_export(model, path: Path):
    inputs = _keras_reference_inputs(model)
    want = keras.ops.convert_to_numpy(model(inputs))
    model.export(str(path / "saved"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(path / "saved"))  # keep a reference: its variables live with it
    served = loaded.serve(inputs)  # one argument: z, or [z, label]
    np.testing.assert_allclose(np.asarray(served), want, rtol=0, atol=1e-4)
    model.export(str(path / "model.onnx"), format="onnx", verbose=False)
    session = ort.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])
    feed = dict(zip([i.name for i in session.get_inputs()], inputs if isinstance(inputs, list) else [inputs]))
    np.testing.assert_allclose(session.run(None, feed)[0], want, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_keras_own_export_works_on_fresh_and_reloaded_models(tmp_path, name):
    model = _model(name)
    _check_keras_export(model, tmp_path / "fresh")
    model.save(tmp_path / "m.keras")
    _check_keras_export(keras.saving.load_model(tmp_path / "m.keras"), tmp_path / "loaded")


def test_keras_own_export_works_on_a_trained_model(tmp_path):
    from conftest import dataset_for

    model = small_model("cgan")
    model.compile()
    model.fit(dataset_for(model, n=16), epochs=1, verbose=0)
    assert model.predict(_keras_reference_inputs(model), verbose=0).shape == (3, 16, 16, 1)
    _check_keras_export(model, tmp_path)


@pytest.mark.parametrize("name", ["dcgan", "stylegan", "pix2pix", "cyclegan", "srgan"])
def test_a_failed_export_leaves_nothing_and_keeps_the_older_export(exports, tmp_path, monkeypatch, name):
    model = exports[name][0]
    folder = tmp_path / "export"
    ganzoo.export(model, folder)
    before = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    real = exporter._run_keras
    monkeypatch.setattr(exporter, "_run_keras", lambda graph, feed: real(graph, feed) + 1e-3)  # forced parity failure
    with pytest.raises(ExportError, match=r"max abs difference 0\.001 > atol"):
        ganzoo.export(model, folder, overwrite=True)
    with pytest.raises(ExportError):
        ganzoo.export(model, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging folder, no new export
    after = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before


def test_runtime_and_verification_refuse_a_swapped_graph(exports, tmp_path):
    import shutil

    folder = tmp_path / "dcgan"
    shutil.copytree(exports["dcgan"][1], folder)
    (folder / "generator.onnx").write_bytes((exports["wgan_gp"][1] / "generator.onnx").read_bytes())
    with pytest.raises(IntegrityError, match="does not match the sha256"):
        ganzoo.runtime.load(folder)
    with pytest.raises(IntegrityError, match="does not match the sha256"):
        exporter.verify_parity(exports["dcgan"][0], folder)
    assert ganzoo.runtime.load(folder, check_hash=False).latent_dim == exports["dcgan"][0].latent_dim


def test_export_and_load_resolve_names_and_keep_the_function(exports):
    import ganzoo.deploy.exporter  # noqa: F401  (importing the module must not shadow the function)

    assert callable(ganzoo.export) and ganzoo.export is exporter.export
    from ganzoo import export

    assert export is exporter.export
    for name in ganzoo.list_models():
        assert ganzoo.load(name) is not None
    assert isinstance(ganzoo.load("digits-classifier"), keras.Model)
