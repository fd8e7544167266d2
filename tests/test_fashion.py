"""Fashion-MNIST: the data spec on the real IDX files, the reader's errors, the evaluation protocol and CAS."""

import gzip
import json
import os

import numpy as np
import pytest

import ganzoo
from ganzoo.cli import main as cli_main
from ganzoo.data import fashion_mnist
from ganzoo.deploy import zoo
from ganzoo.errors import DataError
from ganzoo.evaluation import cas as cas_lib
from ganzoo.evaluation import evaluate as evaluation

REAL_FILES = fashion_mnist.find_dir()
needs_files = pytest.mark.skipif(
    REAL_FILES is None and not os.environ.get("CI"),
    reason="Fashion-MNIST's IDX files are not installed (apt-get install dataset-fashion-mnist); CI installs them",
)


def write_idx(path, array: np.ndarray, magic_type: int = 0x08) -> None:
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def fake_folder(folder, n_train=10, n_test=10_000):
    """Four IDX files (random pixels; a real-sized test split): a stand-in for a user's own copy."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = fashion_mnist.FILES[split]
        write_idx(folder / images, rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / labels, rng.integers(0, 10, n))
    return folder


@needs_files
@pytest.mark.parametrize("split, count", [("train", 60_000), ("test", 10_000)])
def test_fashion_mnist_spec_reads_the_real_files(split, count):
    assert ganzoo.data.num_examples("fashion_mnist", split) == count
    ds = ganzoo.data.load(
        "fashion_mnist", split=split, with_labels=True, batch_size=4096, shuffle=False, drop_remainder=False
    )
    images, labels = (np.concatenate(part) for part in zip(*ds.as_numpy_iterator()))
    assert images.shape == (count, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert labels.shape == (count,) and set(np.unique(labels)) == set(range(10))
    assert np.all(np.bincount(labels) == count // 10)  # both splits are balanced
    raw, raw_labels = fashion_mnist.load_arrays(split)
    np.testing.assert_array_equal(labels, raw_labels)  # no shuffling, nothing dropped
    np.testing.assert_allclose(images[..., 0], raw / 127.5 - 1.0, atol=1e-6)  # 28 px: no resampling


@needs_files
def test_fashion_mnist_resizes_for_power_of_two_architectures():
    ds = ganzoo.data.load("fashion_mnist", split="test", image_size=32, batch_size=16, shuffle=False)
    assert next(iter(ds)).shape == (16, 32, 32, 1)


def test_a_users_own_folder_by_data_dir_and_environment(tmp_path, monkeypatch):
    folder = fake_folder(tmp_path / "mine")
    images, labels = fashion_mnist.load_arrays("test", data_dir=folder)
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(folder))
    assert fashion_mnist.find_dir() == folder
    ds = ganzoo.data.load("fashion_mnist", split="test", batch_size=10, shuffle=False)
    np.testing.assert_allclose(next(iter(ds)).numpy()[..., 0], images[:10] / 127.5 - 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[: len(raw) // 2], "truncated"),  # cut inside the pixel data
        (lambda raw: raw[:10], "truncated"),  # cut inside the header
        (lambda raw: b"\x00\x00\x08\x02" + raw[4:], "dimensions"),  # an image file that says 2-D
        (lambda raw: b"\x01\x02\x03\x04" + raw[4:], "not an IDX file"),
        (lambda raw: raw + b"\x00" * 7, "too long"),
    ],
)
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, damage, message):
    folder = fake_folder(tmp_path / "data")
    target = folder / fashion_mnist.FILES["test"][0]
    raw = gzip.decompress(target.read_bytes())
    target.write_bytes(gzip.compress(damage(raw)))
    with pytest.raises(DataError, match=message) as error:
        fashion_mnist.load_arrays("test", data_dir=folder)
    assert target.name in str(error.value)


def test_a_cut_gzip_stream_is_a_clear_error(tmp_path):
    folder = fake_folder(tmp_path / "data")
    target = folder / fashion_mnist.FILES["test"][1]
    target.write_bytes(target.read_bytes()[:-20])
    with pytest.raises(DataError, match="cannot read IDX file .*t10k-labels"):
        fashion_mnist.load_arrays("test", data_dir=folder)


def test_wrong_counts_are_refused(tmp_path):
    folder = fake_folder(tmp_path / "data")
    write_idx(folder / fashion_mnist.FILES["test"][1], np.zeros(9_999))
    with pytest.raises(DataError, match="10000 images but .*9999 labels"):
        fashion_mnist.load_arrays("test", data_dir=folder)


def test_missing_data_offline_names_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "env"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    with pytest.raises(DataError) as error:
        fashion_mnist.load_arrays("train", tfds_fallback=lambda split: None)
    text = str(error.value)
    for place in ("env", "keras", "debian", "TFDS", "apt-get install dataset-fashion-mnist", "Offline"):
        assert place in text, place
    with pytest.raises(DataError, match=r"data_dir only applies"):
        ganzoo.data.load("digits", data_dir=str(tmp_path))


class CopyingModel:
    """A 'conditional generator' that returns real training images of the requested classes."""

    num_classes, is_conditional = 10, True

    def __init__(self, data, image_shape):
        self.image_shape = image_shape
        self.images, self.labels = evaluation.load_real(data, "train", image_shape, with_labels=True)

    def generate(self, n, seed=None, labels=None, raw=False):
        rng = np.random.default_rng(seed)
        return np.stack([self.images[rng.choice(np.flatnonzero(self.labels == c))] for c in labels])


def test_cas_of_a_model_that_copies_real_data_matches_the_real_trained_classifier():
    model = CopyingModel("digits", (16, 16, 1))
    result = cas_lib.classification_accuracy_score(model, "digits", epochs=8, seed=0)
    assert result["n_train"] == 1620 and result["n_test"] == 180 and result["n_real_train"] == 1617
    assert result["real_accuracy"] > 0.9
    assert abs(result["cas"] - result["real_accuracy"]) < 0.04
    assert "Ravuri" in result["protocol"] and "180 real digits test images" in result["protocol"]
    # An independent computation of the same number: the recipe trained by hand on the same samples.
    labels = np.repeat(np.arange(10, dtype=np.int32), 162)
    samples = model.generate(len(labels), seed=0, labels=labels)
    test_images, test_labels = evaluation.load_real("digits", "test", (16, 16, 1), with_labels=True)
    classifier = ganzoo.metrics.train_classifier(samples, labels, epochs=8, seed=0, batch_size=128)
    accuracy = float((classifier.predict(test_images, verbose=0).argmax(1) == test_labels).mean())
    assert result["cas"] == pytest.approx(accuracy, abs=0.02)  # CPU training is repeatable up to thread order


def test_cas_of_a_model_that_ignores_its_labels_is_chance():
    class IgnoresLabels(CopyingModel):
        def generate(self, n, seed=None, labels=None, raw=False):
            return super().generate(n, seed, np.random.default_rng(seed).permutation(labels), raw)

    result = cas_lib.classification_accuracy_score(
        IgnoresLabels("digits", (16, 16, 1)), "digits", epochs=3, real_baseline=False
    )
    assert result["cas"] < 0.3 and "real_accuracy" not in result


def test_cas_refuses_an_unconditional_model():
    with pytest.raises(ValueError, match="not class-conditional"):
        cas_lib.classification_accuracy_score(ganzoo.create("dcgan", image_shape=(16, 16, 1)), "digits")


def test_cli_eval_cas(tmp_path, capsys, monkeypatch):
    model = ganzoo.create("cgan", image_shape=(16, 16, 1), num_classes=10, latent_dim=8, base_filters=8)
    model.save(tmp_path / "cgan.keras")
    out = tmp_path / "cas.json"
    code = cli_main(
        [
            "eval",
            str(tmp_path / "cgan.keras"),
            "--data",
            "digits",
            "--metrics",
            "cas",
            "--cas-epochs",
            "1",
            "--cas-per-class",
            "20",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["n_train"] == 200 and 0 <= result["cas"] <= 1 and "Ravuri" in result["cas_protocol"]
    assert "fid" not in result  # only what was asked for


@pytest.mark.skipif("fashion-classifier" not in zoo.list_models(), reason="not yet trained")
@needs_files
def test_shipped_fashion_classifier_accuracy_and_the_protocols_floor():
    card = zoo.info("fashion-classifier")
    extractor = evaluation.domain_classifier("fashion_mnist")
    images, labels = evaluation.load_real("fashion_mnist", "test", (28, 28, 1), with_labels=True)
    accuracy = float((extractor.probabilities(images).argmax(1) == labels).mean())
    assert accuracy >= 0.92 and accuracy == pytest.approx(card["test_accuracy"], abs=2e-4)
    floor = evaluation.real_floor("fashion_mnist", (28, 28, 1), metrics=("fid",))
    assert floor["n_real"] == floor["n_fake"] == 10_000 and floor["fid"] < 1.0
    shipped = [zoo.info(name) for name in zoo.list_models() if name.endswith("-fashion")]
    for entry in (e for e in shipped if e["config"].get("image_shape") == [28, 28, 1]):
        assert entry["metrics"]["reference"]["fid"] == pytest.approx(floor["fid"], rel=1e-6), entry["name"]


def test_a_missing_classifier_says_how_to_train_it(monkeypatch):
    monkeypatch.setattr(evaluation.zoo, "list_models", lambda pattern=None: [])
    with pytest.raises(FileNotFoundError, match=r"train_classifier.py --data fashion_mnist"):
        evaluation.domain_classifier("fashion_mnist")
    with pytest.raises(ValueError, match="ships classifiers for digits, fashion_mnist"):
        evaluation.domain_classifier("faces")
