"""Issue 15, reliability: training runs, checkpoints, resume and the API/CLI keep their promises
(a failed command deletes nothing, a resume is exact or refused in one line, a bad argument is named)."""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import dataset_for, small_model
from PIL import Image
from test_resume import _CrashAtEpoch

import ganzoo
from ganzoo import cli, distribute, errors
from ganzoo.deploy.loading import load_model
from ganzoo.training import reliability
from ganzoo.training.run import TrainConfig, train
from ganzoo.utils import files as file_utils

REPO = Path(__file__).resolve().parents[1]
# One epoch of ring8 with a tiny MLP takes a second or two.
RING = dict(architecture="vanilla_gan", data="ring8", batch_size=500, seed=1, sample_every=10, monitor=False)
RING_MODEL = dict(hidden_units=(16,))


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------- 3, 4: train command
def test_a_mistyped_train_command_keeps_the_crash_backup(tmp_path, capsys):
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / "latest.json").write_text('{"epoch": 3}')
    code = cli.main(
        ["train", "vanilla_gan", "--data", "ring8", "--set", "latnet_dim=8", "--out", str(tmp_path / "run")]
    )
    assert code == 2 and "latnet_dim" in capsys.readouterr().err
    assert (backup / "latest.json").read_text() == '{"epoch": 3}'  # still there for the --resume the user forgot


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_epochs_must_be_positive(tmp_path, capsys, epochs):
    code = cli.main(["train", "vanilla_gan", "--data", "ring8", "--epochs", epochs, "--out", str(tmp_path / "run")])
    assert code == 2
    assert f"epochs must be a positive integer, got {epochs}" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()


# ----------------------------------------------------------------------------- resume
def test_resume_refuses_other_settings_and_a_finished_run(tmp_path):
    config = TrainConfig(**RING, epochs=2, model=RING_MODEL)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, tmp_path, verbose=0, extra_callbacks=[_CrashAtEpoch(1)])
    assert json.loads((tmp_path / "backup" / "latest.json").read_text())["epoch"] == 1
    for change, named in ((dict(seed=2), "seed (1 there, 2 now)"), (dict(batch_size=250), "batch_size (500 there")):
        with pytest.raises(errors.InputError, match=re.escape(named)):
            train(TrainConfig(**{**RING, **change}, epochs=2, model=RING_MODEL), tmp_path, resume=True, verbose=0)
    assert (tmp_path / "backup" / "latest.json").is_file()  # a refused resume changes nothing
    train(config, tmp_path, resume=True, verbose=0)  # the same settings (more epochs would be fine too)
    assert [line.split(",")[0] for line in (tmp_path / "history.csv").read_text().splitlines()[1:]] == ["0", "1"]
    with pytest.raises(errors.InputError, match="has finished .* nothing to resume"):
        train(TrainConfig(**RING, epochs=3, model=RING_MODEL), tmp_path, resume=True, verbose=0)


def test_resume_with_dropout_is_exact(tmp_path):
    """Dropout's seed generators are saved with the backup (they were not: a 3e-3 weight gap after a resume)."""

    def fresh():
        keras.utils.set_random_seed(3)
        model = small_model("vanilla_gan", dropout=0.3, seed=11)
        model.compile()
        return model

    data = dataset_for(fresh(), n=32)
    reference = fresh()
    reference.fit(data, epochs=3, verbose=0)
    crashed = fresh()
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashed.fit(data, epochs=3, verbose=0, callbacks=[reliability.BackupAndRestore(tmp_path), _CrashAtEpoch(2)])
    resumed = fresh()
    resumed.fit(data, epochs=3, verbose=0, callbacks=[reliability.BackupAndRestore(tmp_path)])
    dropout_states = [
        g.state.numpy() for m in (reference, resumed) for layer in m._flatten_layers() for g in layer._seed_generators
    ]
    assert len(dropout_states) >= 2
    for a, b in zip(reference.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_multi_worker_resume_restores_the_agreed_epoch(tmp_path):
    model = small_model("vanilla_gan")
    model.compile()
    backup = reliability.BackupAndRestore(tmp_path)
    backup.set_model(model)
    for epoch in (1, 2, 3):
        backup.save(epoch)  # keeps epochs 3 and 2
    assert distribute.agreed_minimum(3) == 3  # one worker: its own epoch
    backup.at_most = 2  # another worker only got to epoch 2: this one restores its older backup
    backup.on_train_begin()
    assert model._initial_epoch == 2
    backup.at_most = 1
    with pytest.raises(errors.DistributionError, match=r"agreed to resume from epoch 1.*hold epochs \[3, 2\]"):
        backup.on_train_begin()


AGREE = """
import sys
from ganzoo import distribute
strategy = distribute.get_strategy("multiworker")
print("agreed", distribute.agreed_minimum(int(sys.argv[1]), strategy))
"""


def test_workers_agree_on_the_oldest_epoch_they_can_restore():
    """Two worker processes on 127.0.0.1 whose backups ended at epochs 3 and 2 both resume from 2."""
    workers = [f"127.0.0.1:{port}" for port in distribute.free_ports(2)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", AGREE, str(epoch)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**env, "TF_CONFIG": distribute.tf_config(workers, i)},
        )
        for i, epoch in enumerate((3, 2))
    ]
    try:
        outputs = [p.communicate(timeout=200)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in processes] == [0, 0]
    assert [out.strip().splitlines()[-1] for out in outputs] == ["agreed 2", "agreed 2"]


# ------------------------------------------------------------------------ checkpoints
def test_temporary_files_of_a_killed_save_are_removed(tmp_path):
    model = small_model("vanilla_gan")
    model.compile()
    dead = _dead_pid()
    stale = [
        tmp_path / "backup" / f".tmp-{dead}-ckpt-00002.weights.h5",
        tmp_path / "backup" / f".tmp-{dead}-latest.json.x1y2.tmp",
        tmp_path / "checkpoints" / f".tmp-{dead}-last.keras",
    ]
    live = tmp_path / "backup" / f".tmp-{os.getppid()}-ckpt-00003.weights.h5"  # a writer that still runs
    for path in (*stale, live):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half")
    backup = reliability.BackupAndRestore(tmp_path / "backup")
    backup.set_model(model)
    backup.on_train_begin()
    reliability.atomic_save(model, tmp_path / "checkpoints" / "last.keras")
    assert [p for p in stale if p.exists()] == [] and live.exists()
    assert file_utils.remove_stale_temporaries(tmp_path / "nowhere") == []


def test_a_corrupt_latest_backup_falls_back_to_an_older_one_that_verifies(tmp_path):
    model = small_model("vanilla_gan")
    model.compile()
    backup = reliability.BackupAndRestore(tmp_path)
    backup.set_model(model)
    backup.save(1)
    epoch_1 = [v.numpy() for v in model.variables]
    model.fit(dataset_for(model, n=16), epochs=1, verbose=0)
    newest = backup.save(2)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == ["ckpt-00001.weights.h5", "ckpt-00002.weights.h5"]
    newest.write_bytes(newest.read_bytes()[:1000])
    restored = small_model("vanilla_gan")
    restored.compile()
    backup.set_model(restored)
    with pytest.warns(UserWarning, match="Restoring the older backup of epoch 1: backup .*ckpt-00002.* is corrupted"):
        assert backup.initial_epoch() == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backup.on_train_begin()
    assert restored._initial_epoch == 1
    for a, b in zip(epoch_1, restored.variables):
        np.testing.assert_array_equal(a, b.numpy())
    (tmp_path / "ckpt-00001.weights.h5").unlink()  # nothing left that verifies: refused, naming both
    with pytest.raises(errors.ModelFileError, match="No backup .* can be restored: .*corrupted.*ckpt-00001"):
        backup.on_train_begin()


def test_latest_json_cannot_point_outside_the_backup_folder(tmp_path):
    model = small_model("vanilla_gan")
    model.compile()
    outside = tmp_path / "outside.weights.h5"
    model.save_weights(outside)
    (tmp_path / "backup").mkdir()
    for name in ("../outside.weights.h5", str(outside)):
        record = {"format": 1, "epoch": 5, "weights": name, "sha256": file_utils.sha256_file(outside)}
        (tmp_path / "backup" / "latest.json").write_text(json.dumps(record))
        with pytest.raises(errors.ModelFileError, match="expected a file ckpt-EPOCH.weights.h5 inside"):
            reliability.BackupAndRestore(tmp_path / "backup").initial_epoch()


# ------------------------------------------------------------------- 7: undecodable image
def _junk_png(path: Path) -> None:
    """A PNG whose chunks all have valid CRCs (Pillow's verify() passes) but whose pixel data is junk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"junk" * 4) + chunk(b"IEND", b""))


def test_an_image_that_passes_verify_but_does_not_decode_is_named_before_training(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"ok{i}.png")
    _junk_png(folder / "bad.png")
    with Image.open(folder / "bad.png") as image:
        image.verify()  # the case: checksums are fine
    with pytest.raises(errors.DataError, match="bad.png"):
        ganzoo.data.load(f"folder:{folder}", batch_size=2)
    code = cli.main(["train", "dcgan", "--data", f"folder:{folder}", "--batch-size", "2", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "bad.png" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------ 8 and the API/CLI
@pytest.mark.parametrize(
    "argv, message",
    [
        (["translate", "{tmp}/dcgan.keras", "{tmp}/in.png", "-o", "{tmp}/out.png"], "cannot translate"),
        (["sample", "dcgan-digits", "--label", "3", "-o", "{tmp}/out.png"], "is unconditional: it takes no --label"),
        (["sample", "dcgan-digits", "-n", "1000000000", "-o", "{tmp}/out.png"], "one call generates at most"),
    ],
    ids=["translate-a-dcgan", "label-on-unconditional", "a-billion-samples"],
)
def test_cli_refusals_are_one_line(tmp_path, capsys, argv, message):
    small_model("dcgan").save(tmp_path / "dcgan.keras")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "in.png")
    assert cli.main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.png").exists()


def test_api_errors_name_the_rule(tmp_path):
    with pytest.raises(ValueError, match="need an even image size .* got 15 px"):
        ganzoo.create("dcgan", image_shape=(15, 15, 1))
    (tmp_path / "x.keras").mkdir()
    with pytest.raises(errors.ModelFileError, match="x.keras is a folder; expected a .keras file"):
        load_model(tmp_path / "x.keras")
    model = small_model("dcgan")
    with pytest.raises(errors.InputError, match=r"n=1000000000 samples of shape \(16, 16, 1\) would take"):
        model.generate(10**9)
    assert model.generate(2, seed=0).shape == (2, 16, 16, 1)
    shutil.rmtree(tmp_path / "x.keras")
