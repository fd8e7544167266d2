"""The `ganzoo` command line and the picture-writing callbacks."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from conftest import dataset_for, small_model
from PIL import Image

from ganzoo import cli
from ganzoo.cli import train as train_command
from ganzoo.errors import InputError
from ganzoo.training.callbacks import LossCurves, SampleGrid
from ganzoo.training.run import TrainConfig, train


def test_train_command_writes_a_complete_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(
        [
            "train",
            "vanilla_gan",
            "--data",
            "ring8",
            "--epochs",
            "2",
            "--batch-size",
            "500",
            "--set",
            "hidden_units=(16,)",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    for name in (
        "config.json",
        "history.csv",
        "loss_curves.png",
        "model.keras",
        "checkpoints/last.keras",
        "samples/epoch_001.png",
        "samples/epoch_002.png",
    ):
        assert (out / name).is_file(), name
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["architecture"] == "vanilla_gan"
    assert record["model_config"]["hidden_units"] == [16]
    assert {"tensorflow", "keras", "ganzoo"} <= set(record["versions"])
    assert not (out / "backup").exists()  # removed by BackupAndRestore after a finished run
    lines = (out / "history.csv").read_text().splitlines()
    assert len(lines) == 3 and "d_loss" in lines[0]
    # `ganzoo eval RUN` reads the data spec from the run and states its protocol.
    capsys.readouterr()
    assert cli.main(["eval", str(out), "-n", "500", "--json", str(tmp_path / "eval.json")]) == 0
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["data"] == "ring8" and result["n_fake"] == 500 and 0 <= result["modes_covered"] <= 8
    assert "modes_covered" in capsys.readouterr().out


def test_train_command_attaches_the_monitor_which_names_a_discriminator_that_wins(tmp_path, capsys):
    """D 10^4 times faster than G: GANMonitor says D overpowers G, with its evidence and a remedy."""
    out = tmp_path / "run"
    args = ["train", "dcgan", "--data", "digits", "--epochs", "20", "--set", "base_filters=8", "--out", str(out)]
    assert cli.main([*args, "--g-lr", "1e-7", "--d-lr", "1e-3", "--sample-every", "20"]) == 0
    events = json.loads((out / "diagnostics.json").read_text())["events"]
    assert any(e["failure"] == "vanishing_gradients" for e in events), events
    printed = capsys.readouterr().out
    assert "GANMonitor [vanishing_gradients]" in printed and "Remedy:" in printed
    quiet = tmp_path / "quiet"
    assert cli.main([*args[:-1], str(quiet), "--epochs", "1", "--no-monitor"]) == 0
    assert not (quiet / "diagnostics.json").exists()


def test_train_command_reports_user_errors_without_a_traceback(tmp_path, capsys):
    assert cli.main(["train", "dcgn", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'dcgan'" in capsys.readouterr().err


def test_training_compiles_with_xla_only_where_it_was_measured_to_pay():
    from ganzoo.training import run as training

    def compiled(architecture, **config):
        cfg = training.TrainConfig(architecture=architecture, data="digits", batch_size=64, **config)
        return training.build_model(cfg, training.load_dataset(cfg)).jit_compile

    assert compiled("dcgan") is True and compiled("cgan") is True  # xla_pays (tools/bench.py: 2.5x on CPU)
    assert compiled("dcgan", compile={"jit_compile": False}) is False  # an explicit choice wins
    assert compiled("stylegan", model={"channel_max": 8, "mapping_layers": 1}) is False


def test_importing_ganzoo_first_turns_on_onednn_kernels_unless_told_otherwise():
    import os
    import subprocess
    import sys

    script = "import os, ganzoo; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    opted_out = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "TF_ENABLE_ONEDNN_OPTS": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    import platform

    assert first.stdout.strip() == ("1" if platform.machine().lower() in ("x86_64", "amd64") else "None")
    assert opted_out.stdout.strip() == "0"


def test_list_command(capsys):
    assert cli.main(["list"]) == 0
    output = capsys.readouterr().out
    assert "dcgan" in output and "cgan" in output and "vanilla_gan" in output


def test_set_parses_python_literals():
    assert train_command.parse_assignment("hidden_units=(16, 8)") == ("hidden_units", (16, 8))
    assert train_command.parse_assignment("augment=ada") == ("augment", "ada")
    with pytest.raises(Exception):
        train_command.parse_assignment("no_equals_sign")


def test_sample_grid_uses_the_same_latents_every_time(tmp_path):
    model = small_model("dcgan")
    callback = SampleGrid(tmp_path, n=10)
    callback.set_model(model)
    first = np.asarray(Image.open(callback.write(1)))
    second = np.asarray(Image.open(callback.write(2)))
    np.testing.assert_array_equal(first, second)
    # 10 tiles of 16 px enlarged x4, on a 4x3 grid with 2 px padding (also enlarged).
    assert first.shape == ((3 * 18 + 2) * 4, (4 * 18 + 2) * 4)


def test_sample_grid_every_n_epochs_and_tensorboard(tmp_path):
    model = small_model("cgan")
    model.compile()
    grid = SampleGrid(tmp_path / "samples", every=2, n=6, tensorboard_dir=tmp_path / "tb")
    curves = LossCurves(tmp_path / "curves.png")
    model.fit(dataset_for(model), epochs=3, callbacks=[grid, curves], verbose=0)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch_002.png", "epoch_003.png"]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert Image.open(tmp_path / "curves.png").size[0] > 500
    assert len(curves.history["d_loss"]) == 3


def test_init_from_fine_tunes_a_saved_model_with_its_own_arguments(tmp_path):
    from ganzoo.errors import InputError
    from ganzoo.training.run import TrainConfig, build_model, load_dataset

    source = small_model("dcgan", ema_decay=0.9)  # non-default arguments the run does not repeat
    source.save(tmp_path / "source.keras")
    config = TrainConfig(
        architecture="dcgan",
        data="digits",
        image_size=16,
        channels=1,
        batch_size=32,
        init_from=str(tmp_path / "source.keras"),
    )
    model = build_model(config, load_dataset(config))
    assert (model.latent_dim, model.base_filters, model.ema_decay) == (8, 8, 0.9)
    for a, b in zip(source.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(InputError, match=r"other shapes.*\(16, 16, 1\)"):
        bigger = TrainConfig(**{**config.__dict__, "image_size": 32})
        build_model(bigger, load_dataset(bigger))
    with pytest.raises(InputError, match="is a cgan model; this run trains dcgan"):
        small_model("cgan").save(tmp_path / "cgan.keras")
        build_model(TrainConfig(**{**config.__dict__, "init_from": str(tmp_path / "cgan.keras")}), load_dataset(config))


def test_lr_decay_epochs_decays_both_rates_linearly_over_the_last_epochs(tmp_path):
    seen = []

    class Rates(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            optimizers = (self.model.g_optimizer, self.model.d_optimizer)
            seen.append([float(keras.ops.convert_to_numpy(o.learning_rate)) for o in optimizers])

    config = TrainConfig(
        "vanilla_gan",
        data="ring8",
        epochs=5,
        batch_size=500,
        model={"hidden_units": (16,)},
        lr_decay_epochs=3,
        monitor=False,
    )
    train(config, tmp_path / "run", verbose=0, extra_callbacks=[Rates()])
    rates = np.array(seen)
    # The official CycleGAN schedule with n_epochs=2, n_epochs_decay=3: 1, 1, 3/4, 2/4, 1/4 of the base.
    np.testing.assert_allclose(rates / rates[0], [[1, 1], [1, 1], [0.75, 0.75], [0.5, 0.5], [0.25, 0.25]], rtol=1e-6)
    with pytest.raises(InputError, match="lr_decay_epochs must be an integer from 0 to epochs"):
        train(dataclasses.replace(config, lr_decay_epochs=6), tmp_path / "bad", verbose=0)
