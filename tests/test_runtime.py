"""ganzoo.runtime: ONNX Runtime sampling without TensorFlow, equal to the Keras model's generate()."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort
import pytest
from conftest import small_model

from ganzoo.deploy import runtime
from ganzoo.deploy.exporter import export

REPO = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: import only ganzoo.runtime, sample, save the arrays, report the modules.
SCRIPT = r"""
import json, sys
import numpy as np
import ganzoo.runtime as rt

out = sys.argv[1]
dcgan = rt.load(sys.argv[2])
cgan = rt.OnnxGenerator(sys.argv[3] + "/generator.onnx", threads=1)
np.save(out + "/dcgan_raw.npy", dcgan.generate(11, seed=4, raw=True, batch_size=4))
np.save(out + "/dcgan_uint8.npy", dcgan.generate(11, seed=4))
labels = np.arange(11) % cgan.num_classes
np.save(out + "/cgan_raw.npy", cgan.generate(11, seed=5, labels=labels, raw=True))
np.save(out + "/cgan_uint8.npy", cgan.generate(11, seed=5, labels=labels))
print(json.dumps({
    "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "tf2onnx", "onnx", "tf_keras"}),
    "dcgan": [dcgan.latent_dim, dcgan.num_classes, list(dcgan.image_shape)],
    "cgan": [cgan.latent_dim, cgan.num_classes, list(cgan.image_shape)],
}))
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("runtime")
    keras.utils.set_random_seed(11)
    models = {"dcgan": small_model("dcgan", ema_decay=0.99), "cgan": small_model("cgan")}
    for variable in models["dcgan"].ema_generator.trainable_variables:
        variable.assign(variable * 0.9)  # EMA weights differ from the raw generator's
    for name, model in models.items():
        export(model, root / name, formats=("onnx",))
    return root, models


def test_runtime_matches_keras_generate_without_importing_tensorflow(exports, tmp_path):
    root, models = exports
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(root / "dcgan"), str(root / "cgan")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []  # neither tensorflow nor keras (nor the converters) were imported
    assert report["dcgan"] == [8, None, [16, 16, 1]] and report["cgan"] == [8, 3, [16, 16, 1]]

    labels = np.arange(11) % 3
    expected = {
        "dcgan": models["dcgan"].generate(11, seed=4, raw=True),
        "cgan": models["cgan"].generate(11, seed=5, labels=labels, raw=True),
    }
    for name, reference in expected.items():
        raw = np.load(tmp_path / f"{name}_raw.npy")
        assert raw.dtype == np.float32 and raw.shape == reference.shape == (11, 16, 16, 1)
        np.testing.assert_allclose(raw, reference, rtol=0, atol=1e-4)
        images = np.load(tmp_path / f"{name}_uint8.npy")
        keras_images = models[name].generate(
            11, seed=4 if name == "dcgan" else 5, labels=None if name == "dcgan" else labels
        )
        assert images.dtype == np.uint8 and images.shape == (11, 16, 16, 1)
        assert np.max(np.abs(images.astype(int) - keras_images.astype(int))) <= 1


def test_onnx_generator_api_and_session_options(exports):
    root, models = exports
    generator = runtime.load(root / "dcgan")
    assert (generator.latent_dim, generator.num_classes, generator.image_shape) == (8, None, (16, 16, 1))
    assert not generator.is_conditional and "dcgan" in repr(generator)
    options = generator.session.get_session_options()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.intra_op_num_threads == runtime.physical_cores() >= 1
    assert (
        runtime.OnnxGenerator(root / "dcgan" / "generator.onnx", threads=1)
        .session.get_session_options()
        .intra_op_num_threads
        == 1
    )
    # Default seed is 0; batching does not change the result; run() is the raw forward pass.
    np.testing.assert_array_equal(generator.generate(5), generator.generate(5, seed=0, batch_size=2))
    z = np.random.default_rng(0).standard_normal((5, 8), dtype=np.float32)
    np.testing.assert_array_equal(generator.run(z), generator.generate(5, seed=0, raw=True))
    np.testing.assert_allclose(generator(z), keras.ops.convert_to_numpy(models["dcgan"](z)), rtol=0, atol=1e-4)


def test_points_model_returns_float_points(tmp_path):
    model = small_model("vanilla_gan", data_shape=(2,))
    export(model, tmp_path / "points", formats="onnx")
    generator = runtime.load(tmp_path / "points")
    points = generator.generate(6, seed=2)
    assert points.dtype == np.float32 and points.shape == (6, 2)
    np.testing.assert_allclose(points, model.generate(6, seed=2), rtol=0, atol=1e-4)


def test_labels_and_arguments_are_validated(exports):
    root, _ = exports
    cgan, dcgan = runtime.load(root / "cgan"), runtime.load(root / "dcgan")
    assert cgan.generate(3, seed=1, labels=2).shape == (3, 16, 16, 1)
    np.testing.assert_array_equal(cgan.generate(3, seed=1, labels=2), cgan.generate(3, seed=1, labels=[2, 2, 2]))
    with pytest.raises(ValueError, match="class-conditional: pass labels"):
        cgan.generate(2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values from 0 to 3"):
        cgan.generate(2, labels=[0, 3])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        cgan.generate(2, labels=-1)
    with pytest.raises(ValueError, match="labels must be an int or 2 ints"):
        cgan.generate(2, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="labels must be an int or 2 ints"):
        cgan.generate(2, labels=[0.0, 1.0])
    with pytest.raises(ValueError, match="unconditional; do not pass labels"):
        dcgan.generate(2, labels=1)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            dcgan.generate(bad)
    with pytest.raises(ValueError, match="batch_size"):
        dcgan.generate(2, batch_size=0)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 8\)"):
        dcgan.run(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="threads"):
        runtime.OnnxGenerator(root / "dcgan", threads=0)


def test_missing_or_mismatched_files_give_clear_errors(exports, tmp_path):
    root, _ = exports
    with pytest.raises(FileNotFoundError, match="No manifest.json in .*: not a folder written by ganzoo.export"):
        runtime.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="No manifest.json in"):
        runtime.load(tmp_path / "model.keras")
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "generator.onnx").write_bytes((root / "dcgan" / "generator.onnx").read_bytes())
    with pytest.raises(FileNotFoundError, match="No manifest.json in"):
        runtime.load(lone / "generator.onnx")
    # The cgan's ONNX file under the dcgan's manifest: caught by the hash, and by the input names.
    (lone / "generator.onnx").write_bytes((root / "cgan" / "generator.onnx").read_bytes())
    (lone / "manifest.json").write_text((root / "dcgan" / "manifest.json").read_text())
    with pytest.raises(ValueError, match="does not match the sha256"):
        runtime.load(lone)
    with pytest.raises(ValueError, match=r"has inputs \['z', 'label'\]"):
        runtime.load(lone, check_hash=False)


SAMPLE_SCRIPT = r"""
import json, sys
from ganzoo.cli import main

code = main(["sample", sys.argv[1], "-n", "8", "-o", sys.argv[2], *sys.argv[3:]])
print(json.dumps({"code": code, "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"})}))
"""


@pytest.mark.parametrize(
    "name, options",
    [
        ("dcgan-digits", []),
        ("cgan-digits", []),
        ("vanilla_gan-ring8", []),
        ("stylegan-digits", ["--truncation", "0.7", "--noise-mode", "random"]),
    ],
)
def test_cli_sample_of_every_generator_kind_runs_without_tensorflow(name, options, tmp_path):
    """`ganzoo sample NAME` (ONNX backend) never imports TensorFlow: that is what makes its cold start ~1 s."""
    from PIL import Image

    output = tmp_path / "samples.png"
    result = subprocess.run(
        [sys.executable, "-c", SAMPLE_SCRIPT, name, str(output), *options],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"code": 0, "heavy": []}
    assert Image.open(output).size[0] > 16
