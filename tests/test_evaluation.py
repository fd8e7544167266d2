"""Model evaluation with its protocol: evaluate_model, class accuracy, the metric callback, the classifier."""

import json

import keras
import numpy as np
import pytest
from conftest import small_model

import ganzoo
from ganzoo.deploy import zoo
from ganzoo.evaluation import evaluate as evaluation
from ganzoo.utils.files import sha256_file

FAST = dict(kid_subsets=10, kid_subset_size=200)  # KID's protocol fields still report what was used
PROTOCOL = ("extractor", "n_real", "n_fake", "split", "seed", "data")


@pytest.fixture(scope="module")
def digits_test():
    return evaluation.load_real("digits", "test", (16, 16, 1), with_labels=True)


class RealImages:
    """A 'generator' that returns real test digits: what a perfect model would produce."""

    image_shape = (16, 16, 1)

    def __init__(self, images, labels=None, num_classes=None):
        self.images, self.labels, self.num_classes = images, labels, num_classes

    @property
    def is_conditional(self):
        return self.num_classes is not None

    def generate(self, n, seed=None, labels=None, raw=False):
        rng = np.random.default_rng(seed)
        if labels is None:
            return self.images[rng.choice(len(self.images), n, replace=n > len(self.images))]
        labels = np.broadcast_to(np.asarray(labels), (n,))
        return np.stack([self.images[rng.choice(np.flatnonzero(self.labels == c))] for c in labels])


def test_shipped_digits_classifier_and_its_card():
    folder = zoo.path(evaluation.DIGITS_CLASSIFIER)
    card = json.loads((folder / "card.json").read_text())
    model_file = folder / "model.keras"
    assert model_file.stat().st_size < 1_000_000
    digest = sha256_file(model_file)
    assert card["sha256"] == card["files"]["model.keras"] == digest
    assert card["test_accuracy"] >= 0.95 and card["purpose"].startswith("feature extractor")
    for field in ("name", "data", "command", "date", "versions"):
        assert card[field], field
    assert card["seed"] == 0 and "tools/train_classifier.py" in card.get("reproduce", card["command"])
    assert set(card["versions"]) >= {"tensorflow", "keras"}
    extractor = evaluation.digits_classifier()
    assert digest[:12] in extractor.name and extractor.feature_dim == 128


def test_a_missing_classifier_says_how_to_get_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_classifier.py"):
        evaluation.digits_classifier(tmp_path / "nothing.keras")


def test_evaluate_model_reports_protocol_and_finite_numbers():
    result = evaluation.evaluate_model(small_model("dcgan"), "digits", n_fake=300, seed=3, **FAST)
    for field in PROTOCOL:
        assert field in result, field
    assert result["n_real"] == 1617 and result["n_fake"] == 300 and result["split"] == "train" and result["seed"] == 3
    assert result["extractor"].startswith("ganzoo-digits-classifier/")
    assert result["kid_subsets"] == 10 and result["kid_subset_size"] == 200
    for key in ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage"):
        assert np.isfinite(result[key]), key


def test_real_images_score_far_better_than_an_untrained_model(digits_test):
    """Real test digits against the real train split set the floor; an untrained DCGAN is far above it."""
    images, _ = digits_test
    real = evaluation.evaluate_model(RealImages(images), "digits", metrics=("fid", "pr"), n_fake=180)
    untrained = evaluation.evaluate_model(small_model("dcgan"), "digits", metrics=("fid", "pr"), n_fake=180)
    assert real["n_real"] == untrained["n_real"] == 1617 and real["n_fake"] == 180
    assert real["fid"] < 0.05 * untrained["fid"]
    assert real["precision"] > 0.7 > untrained["precision"]
    assert real["recall"] > 0.7 > untrained["recall"]


def test_class_accuracy_of_conditional_models(digits_test):
    images, labels = digits_test
    cgan = small_model("cgan")  # 3 classes, untrained
    result = evaluation.evaluate_model(cgan, "digits", metrics=("fid",), n_fake=150)
    assert set(result["class_accuracy_per_class"]) == {0, 1, 2}
    assert 0.0 <= result["class_accuracy"] <= 1.0 and sum(result["class_accuracy_n"].values()) == 150
    for field in PROTOCOL:
        assert field in result, field

    oracle = RealImages(images, labels, num_classes=10)  # real digits of the requested class
    accuracy = evaluation.class_accuracy(oracle, classes=[0, 3, 7], n_per_class=20)
    assert accuracy["class_accuracy"] >= 0.9 and set(accuracy["class_accuracy_per_class"]) == {0, 3, 7}
    assert evaluation.class_accuracy(cgan, n_per_class=10)["class_accuracy_n"] == {0: 10, 1: 10, 2: 10}
    with pytest.raises(ValueError, match="not class-conditional"):
        evaluation.class_accuracy(small_model("dcgan"))


def test_points_models_get_mode_statistics():
    model = ganzoo.create("vanilla_gan", data_shape=(2,), hidden_units=(16,), seed=0)
    result = evaluation.evaluate_model(model, "ring8")
    assert result["data"] == "ring8" and result["n"] == result["n_fake"] == 2500 and result["seed"] == 0
    assert result["num_modes"] == 8 and 0 <= result["modes_covered"] <= 8 and result["min_count"] == 20
    assert len(result["mode_counts"]) == 8
    with pytest.raises(ValueError, match="mixture"):
        evaluation.evaluate_model(model, "digits")


def test_no_fitting_extractor_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(evaluation, "_inception_weights_cached", lambda: False)
    model = ganzoo.create("dcgan", image_shape=(32, 32, 3), latent_dim=8, base_filters=8)
    with pytest.raises(ValueError, match=r"extractor=.*ClassifierFeatures"):
        evaluation.evaluate_model(model, "faces", n_fake=10)


def test_kid_callback_feeds_model_checkpoint_and_early_stopping(tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model("vanilla_gan")  # an MLP on 8x8 digits: quick to trace; the classifier resizes to 16x16
    model.compile()
    real, _ = evaluation.load_real("digits", "train", (8, 8, 1))
    train = ganzoo.data.from_arrays(real[:256], batch_size=64, seed=0)
    kid = evaluation.KIDCallback(n=128, real=real[:300], kid_subsets=5, kid_subset_size=100)
    best = tmp_path / "best.keras"
    history = model.fit(
        train,
        epochs=2,
        verbose=0,
        callbacks=[
            kid,
            keras.callbacks.ModelCheckpoint(str(best), monitor="kid", mode="min", save_best_only=True),
            keras.callbacks.EarlyStopping(monitor="kid", mode="min", patience=5),
        ],
    )
    assert len(history.history["kid"]) == 2 and np.isfinite(history.history["kid"]).all()
    assert "kid_std" in history.history and best.is_file()
    assert [epoch for epoch, _ in kid.history] == [1, 2]


def test_metric_callback_every_n_epochs_and_points():
    model = ganzoo.create("vanilla_gan", data_shape=(2,), hidden_units=(16,), seed=0)
    model.compile()
    callback = evaluation.MetricCallback(metrics=("modes",), every=2, n=500, data_spec="ring8")
    history = model.fit(
        ganzoo.data.load("ring8", batch_size=500, num_samples=1000), epochs=3, verbose=0, callbacks=[callback]
    )
    assert [epoch for epoch, _ in callback.history] == [2, 3]  # every 2nd epoch, and the last
    assert set(callback.history[0][1]) == {"modes_covered", "high_quality_fraction", "reverse_kl"}
    assert "modes_covered" in history.history
    with pytest.raises(ValueError, match="unknown metrics"):
        evaluation.MetricCallback(metrics=("fid", "bogus"))
