"""Exact resume after a crash, atomic checkpoints, and a clear stop on NaN (``ganzoo.reliability``)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import dataset_for, small_model

from ganzoo import errors
from ganzoo.deploy import loading
from ganzoo.training import reliability
from ganzoo.training.run import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]

# A training process: `python child.py CONFIG_JSON OUT [--resume] [--pause-at EPOCH BATCH MARKER]`.
# With --pause-at it writes MARKER in the middle of that epoch and waits there to be killed.
CHILD = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras
from ganzoo.training import TrainConfig, train

config, out = TrainConfig(**json.loads(sys.argv[1])), sys.argv[2]
callbacks = []
if "--pause-at" in sys.argv:
    i = sys.argv.index("--pause-at")
    epoch, batch, marker = int(sys.argv[i + 1]), int(sys.argv[i + 2]), sys.argv[i + 3]

    class PauseMidEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            self.epoch = e

        def on_train_batch_end(self, b, logs=None):
            if self.epoch == epoch and b == batch:
                open(marker, "w").write("paused")
                time.sleep(600)  # the test kills us here, in the middle of the epoch

    callbacks.append(PauseMidEpoch())
train(config, out, resume="--resume" in sys.argv, verbose=0, extra_callbacks=callbacks)
"""

CONFIG = dict(
    architecture="dcgan",
    data="digits",
    image_size=8,
    epochs=3,
    batch_size=128,
    seed=5,
    deterministic=True,
    sample_every=10,
    model=dict(latent_dim=8, base_filters=8, ema_decay=0.9, augment="ada"),
)
# The same run through the command line.
CLI_ARGS = [
    "train",
    "dcgan",
    "--data",
    "digits",
    "--image-size",
    "8",
    "--epochs",
    "3",
    "--batch-size",
    "128",
    "--seed",
    "5",
    "--deterministic",
    "--sample-every",
    "10",
    "--set",
    "latent_dim=8",
    "--set",
    "base_filters=8",
    "--set",
    "ema_decay=0.9",
    "--set",
    "augment=ada",
]
STEPS_PER_EPOCH = 1617 // 128  # digits' train split


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.pop("TF_CONFIG", None)
    return env


@pytest.fixture
def op_determinism():
    """The in-process runs enable op determinism (config.deterministic); switch it off afterwards."""
    yield
    from tensorflow.python.framework import config as tf_config

    if hasattr(tf_config, "disable_op_determinism"):
        tf_config.disable_op_determinism()


def _state(path) -> dict[str, np.ndarray]:
    """Every variable a resumed run must get right: both networks, EMA, optimizers, seeds, ADA's p."""
    model = loading.load_model(path)
    # Keyed by position (paths get per-process suffixes like dense_3), named for the messages.
    state = {
        f"model/{i}/{v.path.split('/', 1)[0].rstrip('_0123456789')}/{v.name}": v.numpy()
        for i, v in enumerate(model.variables)
    }
    for name in ("g_optimizer", "d_optimizer"):
        state.update({f"{name}/{i}": v.numpy() for i, v in enumerate(getattr(model, name).variables)})
    state["seed_generator"] = model.seed_generator.state.numpy()
    state.update({f"ema/{i}": v.numpy() for i, v in enumerate(model.ema_generator.weights)})
    state.update({f"augmenter/{v.name}": v.numpy() for v in model.augmenter.variables})  # ADA's p, its seed
    return state


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path, op_determinism):
    from ganzoo import cli

    child = tmp_path / "child.py"
    child.write_text(CHILD)
    marker = tmp_path / "paused"
    crashed_dir = tmp_path / "crashed"
    # Epoch 2 of 3, batch 6 of 12: the process is killed in the middle of an epoch.
    crashed = subprocess.Popen(
        [sys.executable, str(child), json.dumps(CONFIG), str(crashed_dir), "--pause-at", "1", "5", str(marker)],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        train(TrainConfig(**CONFIG), tmp_path / "reference", verbose=0)  # uninterrupted, meanwhile
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert crashed.poll() is None, crashed.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the training process never reached the middle of epoch 2"
            time.sleep(0.1)
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait(timeout=30)
    finally:
        if crashed.poll() is None:
            crashed.kill()
            crashed.wait()
    assert crashed.returncode == -signal.SIGKILL
    assert json.loads((crashed_dir / "backup" / "latest.json").read_text())["epoch"] == 1  # last finished epoch
    assert not (crashed_dir / "model.keras").exists()

    assert cli.main([*CLI_ARGS, "--out", str(crashed_dir), "--resume"]) == 0  # restart: `ganzoo train --resume`

    a, b = _state(tmp_path / "reference" / "model.keras"), _state(crashed_dir / "model.keras")
    assert a.keys() == b.keys()
    differences = {k: float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)), initial=0.0)) for k in a}
    worst = max(differences, key=differences.get)
    print(f"resume vs uninterrupted: {len(a)} variables, largest difference {differences[worst]:.3g} ({worst})")
    assert differences[worst] <= 1e-6, f"largest difference {differences[worst]} in {worst}"
    # The run really trained, and the compared state includes the parts that are easy to lose.
    assert int(a["g_optimizer/0"]) == int(b["d_optimizer/0"]) == 3 * STEPS_PER_EPOCH
    assert "augmenter/p" in a and a["augmenter/p"] != 0.0 and "ema/0" in a
    assert not (crashed_dir / "backup").exists()  # removed once training finished


def _fit(model, data, epochs, callbacks=()):
    model.fit(data, epochs=epochs, verbose=0, callbacks=list(callbacks))


def _all_state(model):
    values = [v.numpy() for v in model.variables]
    for optimizer in (model.g_optimizer, model.d_optimizer):
        values += [v.numpy() for v in optimizer.variables]
    return values + [model.seed_generator.state.numpy()]


class _CrashAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("callback_class", [keras.callbacks.BackupAndRestore, reliability.BackupAndRestore])
def test_backup_and_restore_restores_networks_optimizers_ema_and_seed(tmp_path, callback_class):
    """Keras's own callback works on a GAN too (both optimizers are built in compile, the seed state is saved)."""

    def fresh():
        keras.utils.set_random_seed(3)
        model = small_model("vanilla_gan", ema_decay=0.9, seed=11)
        model.compile()
        return model

    data = dataset_for(fresh(), n=32)
    reference = fresh()
    _fit(reference, data, epochs=3)

    crashed = fresh()
    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(crashed, data, epochs=3, callbacks=[callback_class(str(tmp_path / "b")), _CrashAtEpoch(2)])
    resumed = fresh()  # a new process would build a new model
    _fit(resumed, data, epochs=3, callbacks=[callback_class(str(tmp_path / "b"))])
    assert int(resumed.g_optimizer.iterations.numpy()) == int(reference.g_optimizer.iterations.numpy()) == 12
    for a, b in zip(_all_state(reference), _all_state(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_crash_during_a_save_leaves_the_latest_backup_readable(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    model = small_model("vanilla_gan")
    model.compile()
    backup = reliability.BackupAndRestore(tmp_path / "backup")
    backup.set_model(model)
    backup.save(1)
    good = [v.numpy() for v in model.variables]
    record = backup.latest()

    def torn_write(path, overwrite=True):  # the process "dies" half-way through writing the file
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        raise KeyboardInterrupt("killed while saving")

    _fit(model, dataset_for(model, n=8), epochs=1)
    monkeypatch.setattr(model, "save_weights", torn_write)
    with pytest.raises(KeyboardInterrupt):
        backup.save(2)
    monkeypatch.undo()
    assert backup.latest() == record  # still the epoch-1 backup, intact and verified
    assert not list((tmp_path / "backup").glob(".tmp-*"))
    restored = small_model("vanilla_gan")
    restored.compile()
    backup.set_model(restored)
    backup.on_train_begin()
    assert restored._initial_epoch == 1
    for a, b in zip(good, [v.numpy() for v in restored.variables]):
        np.testing.assert_array_equal(a, b)


def test_a_corrupted_backup_is_refused_and_the_model_left_alone(tmp_path):
    model = small_model("vanilla_gan")
    model.compile()
    backup = reliability.BackupAndRestore(tmp_path / "backup")
    backup.set_model(model)
    weights = backup.save(1)
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated behind the callback's back
    other = small_model("vanilla_gan")
    other.compile()
    before = [v.numpy() for v in other.variables]
    backup.set_model(other)
    with pytest.raises(errors.ModelFileError, match="corrupted: its sha256"):
        backup.on_train_begin()
    for a, b in zip(before, [v.numpy() for v in other.variables]):
        np.testing.assert_array_equal(a, b)


def test_atomic_model_checkpoint_keeps_the_previous_file_when_a_save_fails(tmp_path, monkeypatch):
    model = small_model("vanilla_gan")
    model.compile()
    checkpoint = reliability.AtomicModelCheckpoint(tmp_path / "last.keras")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0)
    digest = reliability.sha256_file(tmp_path / "last.keras")

    def failing_save(path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.on_epoch_end(1)
    assert reliability.sha256_file(tmp_path / "last.keras") == digest
    assert [p.name for p in tmp_path.iterdir()] == ["last.keras"]
    loading.load_model(tmp_path / "last.keras")


class _LearningRateBomb(keras.callbacks.Callback):
    """Sets the discriminator's learning rate absurdly high at the start of epoch 2."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.model.d_optimizer.learning_rate.assign(1e30)


def test_a_nan_loss_stops_training_naming_step_loss_and_cause_and_keeps_the_checkpoints(tmp_path):
    config = TrainConfig(
        architecture="vanilla_gan",
        data="ring8",
        epochs=3,
        batch_size=500,
        seed=1,
        sample_every=10,
        model=dict(hidden_units=(16,)),
    )
    with pytest.raises(errors.NonFiniteLossError) as error:
        train(config, tmp_path, verbose=0, extra_callbacks=[_LearningRateBomb()])
    message = str(error.value)
    assert "epoch 2, batch" in message and "global step" in message
    assert "loss" in message and ("nan" in message or "inf" in message)
    assert "learning rate" in message and "1e+30" in message
    assert "last good checkpoint (from the end of epoch 1) is intact" in message and "--resume" in message
    # The epoch-1 checkpoint and backup were not overwritten with the broken weights.
    assert json.loads((tmp_path / "backup" / "latest.json").read_text())["epoch"] == 1
    last = loading.load_model(tmp_path / "checkpoints" / "last.keras")
    assert all(np.all(np.isfinite(v.numpy())) for v in last.weights)
    assert int(last.d_optimizer.iterations.numpy()) == 20  # the end of epoch 1
    assert not (tmp_path / "model.keras").exists()


def test_nan_message_names_float16_overflow_under_mixed_float16():
    model = small_model("vanilla_gan", dtype="mixed_float16")
    model.compile()
    stop = reliability.StopOnNaN()
    stop.set_model(model)
    stop.set_params({"steps": 10, "epochs": 1})
    stop.on_epoch_begin(0)
    with pytest.raises(errors.NonFiniteLossError, match=r"batch 4 \(global step 4\).*g_loss=inf.*float16 overflow"):
        stop.on_train_batch_end(3, {"g_loss": np.inf, "d_loss": 0.7, "g_grad_norm": 1.0})
    stop.on_train_batch_end(4, {"g_loss": 0.6, "d_loss": 0.7})  # finite logs pass


def test_a_run_with_several_critic_steps_takes_one_batch_per_critic_step(tmp_path):
    """``ganzoo train wgan_gp``: 25 batches an epoch, 5 critic steps each on its own: 5 generator steps an epoch."""
    config = TrainConfig(
        architecture="wgan_gp", data="digits", epochs=2, batch_size=64, model=dict(base_filters=8), monitor=False
    )
    model = train(config, tmp_path / "run", verbose=0)
    assert int(model.g_optimizer.iterations.numpy()) == 2 * 5
    assert int(model.d_optimizer.iterations.numpy()) == 2 * 25
