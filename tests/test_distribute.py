"""tf.distribute without GPUs: MirroredStrategy over two logical CPUs, MultiWorkerMirroredStrategy over two
worker processes on 127.0.0.1. Both must train like one device with the same global batch and seeds.

Logical devices must be configured before TensorFlow initializes, so the mirrored checks run in a
subprocess; the workers are subprocesses too (bounded in time, killed on failure).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganzoo import distribute, errors
from ganzoo.deploy import loading
from ganzoo.training.run import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))
    if "TF_CONFIG" not in extra:
        env.pop("TF_CONFIG", None)
    return env


MIRRORED = r"""
import json, os, sys, tempfile
from ganzoo import distribute
distribute.split_cpu(2)  # before TensorFlow initializes
import keras, numpy as np, tensorflow as tf
from conftest import SMALL_CONFIGS, dataset_for, small_model
from ganzoo.training import TrainConfig, train

mirrored = distribute.get_strategy("mirrored")
single = distribute.get_strategy("default")
report = {"replicas": mirrored.num_replicas_in_sync}


def fit(name, strategy, sync_bn=False, **overrides):
    keras.utils.set_random_seed(1)
    with strategy.scope():
        model = small_model(name, seed=3, **overrides)
        model.compile()
    if sync_bn:
        distribute.synchronize_batch_norm(model)
    history = model.fit(dataset_for(model, n=32, batch_size=8), epochs=2, verbose=0).history
    return model, history


def max_difference(a, b):
    return max(float(np.max(np.abs(x.numpy() - y.numpy()), initial=0.0)) for x, y in zip(a.variables, b.variables))


def replicas_agree(model):
    worst = 0.0
    for v in model.variables:
        values = [t.numpy() for t in mirrored.experimental_local_results(v.value)]
        assert len(values) == 2, v.path
        worst = max(worst, float(np.max(np.abs(values[0] - values[1]), initial=0.0)))
    return worst


for name, overrides, sync_bn in [("vanilla_gan", {}, False), ("dcgan", {"d_norm": "batch"}, True)]:
    one, h1 = fit(name, single, **overrides)
    two, h2 = fit(name, mirrored, sync_bn=sync_bn, **overrides)
    report[name] = {
        "weights": max_difference(one, two),
        "replicas": replicas_agree(two),
        "logs": {k: max(abs(a - b) for a, b in zip(h1[k], h2[k])) for k in ("d_loss", "g_loss", "d_real", "d_fake", "d_accuracy")},
        "steps": int(two.g_optimizer.iterations.numpy()),
    }

# Every architecture trains under the strategy with finite logs and identical replicas.
for name in sorted(set(SMALL_CONFIGS) - {"vanilla_gan", "dcgan"}):
    model, history = fit(name, mirrored)
    report[name] = {"finite": bool(all(np.all(np.isfinite(v)) for v in history.values())),
                    "replicas": replicas_agree(model), "steps": int(model.g_optimizer.iterations.numpy())}

# Draws: different per replica, and together the single-device draw of the global batch.
with mirrored.scope():
    model = small_model("vanilla_gan", seed=9)
per_replica = mirrored.run(tf.function(lambda: model.sample_latent(4)))
halves = [t.numpy() for t in mirrored.experimental_local_results(per_replica)]
reference = small_model("vanilla_gan", seed=9).sample_latent(8).numpy()
report["draws"] = {"replicas_differ": bool(not np.allclose(halves[0], halves[1])),
                   "equal_single": float(np.max(np.abs(np.concatenate(halves) - reference)))}

# The training entry point (`ganzoo train --strategy mirrored`): same final weights as one device.
out = tempfile.mkdtemp()
config = dict(architecture="vanilla_gan", data="ring8", epochs=2, batch_size=500, seed=4, sample_every=10,
              model={"hidden_units": [16]})
a = train(TrainConfig(**config), os.path.join(out, "one"), verbose=0)
b = train(TrainConfig(**config, strategy="mirrored"), os.path.join(out, "two"), verbose=0)
saved = json.load(open(os.path.join(out, "two", "config.json")))["distribution"]
report["train"] = {"weights": max_difference(a, b), "distribution": saved}
print("REPORT " + json.dumps(report))
"""


def _run(script: str, timeout: int, **env) -> dict:
    process = subprocess.run(
        [sys.executable, "-c", script], env=_env(**env), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("REPORT ")]
    assert process.returncode == 0 and lines, (process.stdout + process.stderr)[-4000:]
    return json.loads(lines[-1][len("REPORT ") :])


def test_mirrored_over_two_logical_cpus_equals_one_device():
    report = _run(MIRRORED, timeout=400)
    print(json.dumps(report, indent=1))
    assert report["replicas"] == 2
    for name in ("vanilla_gan", "dcgan"):  # MLP, and a conv GAN with synchronized batch norm
        result = report[name]
        assert result["steps"] == 8
        assert result["replicas"] == 0.0, f"{name}: replicas diverged"
        assert result["weights"] < 1e-5, f"{name}: mirrored vs single device differ by {result['weights']}"
        # Logged values are means over the global batch (not the first replica's): equal to one device's.
        assert max(result["logs"].values()) < 1e-5, result["logs"]
    for name, result in report.items():
        if isinstance(result, dict) and "finite" in result:
            assert result["finite"] and result["replicas"] == 0.0 and result["steps"] == 8, (name, result)
    assert report["draws"]["replicas_differ"] and report["draws"]["equal_single"] < 1e-6
    assert report["train"]["weights"] < 1e-5
    assert report["train"]["distribution"]["strategy"] == "MirroredStrategy"
    assert report["train"]["distribution"]["replicas"] == 2


def test_multi_worker_over_two_processes_equals_one_device(tmp_path):
    ports = distribute.free_ports(2)
    workers = [f"127.0.0.1:{port}" for port in ports]
    args = [
        "train",
        "vanilla_gan",
        "--data",
        "ring8",
        "--epochs",
        "2",
        "--batch-size",
        "500",
        "--seed",
        "4",
        "--sample-every",
        "10",
        "--set",
        "hidden_units=(16,)",
        "--strategy",
        "multiworker",
        "--out",
        str(tmp_path / "mw"),
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "ganzoo.cli", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(TF_CONFIG=distribute.tf_config(workers, i)),
        )
        for i in range(2)
    ]
    try:
        # Meanwhile, the same run on one device, in this process.
        single = train(
            TrainConfig(
                architecture="vanilla_gan",
                data="ring8",
                epochs=2,
                batch_size=500,
                seed=4,
                sample_every=10,
                model={"hidden_units": (16,)},
            ),
            tmp_path / "one",
            verbose=0,
        )
        outputs = [p.communicate(timeout=400)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-4000:]
    chief = loading.load_model(tmp_path / "mw" / "model.keras")
    other = loading.load_model(tmp_path / "mw" / ".worker-1" / "model.keras")  # non-chief files stay apart
    record = json.loads((tmp_path / "mw" / "config.json").read_text())["distribution"]
    assert record == {"strategy": "MultiWorkerMirroredStrategy", "replicas": 2, "workers": 2, "worker_index": 0}
    assert int(chief.g_optimizer.iterations.numpy()) == 2 * (10_000 // 500)
    worst_workers = max(
        float(np.max(np.abs(a.numpy() - b.numpy()), initial=0.0)) for a, b in zip(chief.variables, other.variables)
    )
    worst_single = max(
        float(np.max(np.abs(a.numpy() - b.numpy()), initial=0.0)) for a, b in zip(chief.variables, single.variables)
    )
    print(f"multi-worker: workers differ by {worst_workers}, chief vs one device by {worst_single}")
    assert worst_workers == 0.0
    assert worst_single < 1e-5
    history = (tmp_path / "mw" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs, written by the chief


# --------------------------------------------------------------------------- small pieces
def test_get_strategy_by_name_and_clear_errors(monkeypatch):
    import tensorflow as tf

    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    assert distribute.get_strategy(None) is tf.distribute.get_strategy()
    with pytest.raises(errors.DistributionError, match="unknown strategy 'mirorred'.*multiworker"):
        distribute.get_strategy("mirorred")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(errors.DistributionError, match="TF_CONFIG"):
        distribute.get_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(errors.DistributionError, match="TF_CONFIG is not valid"):
        distribute.get_strategy("multiworker")


def test_tf_config_and_cluster_info():
    config = distribute.tf_config(["127.0.0.1:1000", "127.0.0.1:1001"], 1)
    info = distribute.cluster_info({"TF_CONFIG": config})
    assert (info.task_type, info.index, info.num_workers, info.is_chief) == ("worker", 1, 2, False)
    assert distribute.cluster_info({"TF_CONFIG": distribute.tf_config(["h:1", "h:2"], 0)}).is_chief
    assert distribute.cluster_info({}) is None
    with pytest.raises(errors.DistributionError, match="outside the cluster"):
        distribute.tf_config(["h:1"], 3)
    with pytest.raises(errors.DistributionError, match="not in its cluster"):
        distribute.cluster_info(
            {"TF_CONFIG": json.dumps({"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 2}})}
        )
    assert len(set(distribute.free_ports(3))) == 3


def test_global_batch_must_split_over_replicas():
    class Two:
        num_replicas_in_sync = 2

    assert distribute.check_global_batch_size(64, Two()) == 32
    with pytest.raises(errors.DistributionError, match="63 does not split evenly over 2 replicas"):
        distribute.check_global_batch_size(63, Two())


def test_cli_accepts_strategy_and_precision():
    from ganzoo.cli import build_parser

    args = build_parser().parse_args(
        ["train", "dcgan", "--strategy", "multiworker", "--precision", "mixed_bfloat16", "--deterministic", "--resume"]
    )
    assert (args.strategy, args.precision, args.deterministic, args.resume) == (
        "multiworker",
        "mixed_bfloat16",
        True,
        True,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "dcgan", "--strategy", "horovod"])


def test_logs_are_scalars_outside_multi_worker():
    import tensorflow as tf

    assert distribute.log_value(tf.constant(1.5)).shape == ()
    assert not distribute.is_multi_worker()


@pytest.mark.parametrize("name", ["vanilla_gan", "dcgan", "cgan", "wgan_gp"])
@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_finite_and_exports_float32_with_parity(name, precision, tmp_path):
    import keras
    import tensorflow as tf
    from conftest import SMALL_CONFIGS, dataset_for

    import ganzoo
    from ganzoo.deploy.exporter import export

    config = SMALL_CONFIGS.get(name, SMALL_CONFIGS["dcgan"])
    model = ganzoo.create(name, **config, dtype=precision, seed=0)
    model.compile()
    assert model.generator.layers[1].compute_dtype == precision.split("_")[1]
    float16 = precision == "mixed_float16"
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer) == float16
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer) == float16
    before = [v.numpy().copy() for v in model.generator.trainable_variables]
    # StopOnNaN watches every log: a float16 step skipped by the loss scaler must not look like a NaN.
    from ganzoo.training.reliability import StopOnNaN

    history = model.fit(dataset_for(model), epochs=2, verbose=0, callbacks=[StopOnNaN()]).history
    assert all(np.all(np.isfinite(values)) for values in history.values()), history
    assert any(np.abs(a - v.numpy()).max() > 0 for a, v in zip(before, model.generator.trainable_variables))
    assert (
        model(
            model.sample_latent(2) if not model.is_conditional else [model.sample_latent(2), tf.zeros(2, "int32")]
        ).dtype
        == "float32"
    )
    manifest = export(model, tmp_path / "export")
    assert manifest["verification"]["passed"] and max(manifest["verification"]["max_abs_diff"].values()) <= 1e-4
    loaded = tf.saved_model.load(str(tmp_path / "export" / "savedmodel"))
    assert all(v.dtype == tf.float32 for v in loaded.variables)
