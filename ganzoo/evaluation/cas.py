"""Classification Accuracy Score (Ravuri and Vinyals 2019): how well a conditional generator's samples train a classifier.

    from ganzoo.evaluation import cas
    result = cas.classification_accuracy_score(model, "fashion_mnist")
    result["cas"], result["real_accuracy"], result["protocol"]

Protocol: a fixed classifier recipe (:data:`RECIPE`: ``ganzoo.metrics.build_digits_classifier``, the small
CNN of two conv layers, pooling and a 128-unit dense layer, Adam(1e-3), ``epochs`` passes at batch 128,
seed ``seed``) is trained on ``n_per_class`` generated images of every class (default: as many images as
the real training split holds, 60,000 for Fashion-MNIST) and tested on the whole real test split. The
same recipe trained on the real training split gives ``real_accuracy``, the number CAS is read against:
synthetic data that is as useful as real data scores the same. This is the use of generated images as
training data, measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganzoo.evaluation import metrics as metrics_lib
from ganzoo.evaluation.evaluate import load_real

__all__ = ["RECIPE", "classification_accuracy_score", "train_and_test"]

RECIPE = {"builder": "ganzoo.metrics.build_digits_classifier", "optimizer": "Adam(1e-3)", "batch_size": 128}
_REAL_ACCURACY: dict[tuple, dict[str, Any]] = {}  # (data, shape, epochs, seed) -> the real-data reference


def train_and_test(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    epochs: int,
    seed: int,
) -> dict[str, Any]:
    """Train :data:`RECIPE` on one labelled set and return its accuracy (overall and per class) on another."""
    classifier = metrics_lib.train_classifier(
        train_images, train_labels, epochs=epochs, seed=seed, batch_size=RECIPE["batch_size"]
    )
    predicted = np.asarray(classifier.predict(test_images, batch_size=512, verbose=0)).argmax(axis=1)
    correct = predicted == np.asarray(test_labels)
    return {
        "accuracy": float(correct.mean()),
        "per_class": {int(c): float(correct[test_labels == c].mean()) for c in np.unique(test_labels)},
    }


def classification_accuracy_score(
    model,
    data_spec: str = "fashion_mnist",
    n_per_class: int | None = None,
    epochs: int = 5,
    seed: int = 0,
    real_baseline: bool = True,
) -> dict[str, Any]:
    """CAS of a class-conditional ``model`` on ``data_spec`` (see the module docstring for the protocol).

    ``model`` is a :class:`ganzoo.GAN` with ``num_classes`` (or any object with ``image_shape``,
    ``num_classes`` and ``generate(n, seed=, labels=, raw=True)``). With ``real_baseline`` the recipe is
    also trained on the real training split (computed once per data, shape, epochs and seed in a session).
    Returns ``cas``, ``cas_per_class``, ``real_accuracy`` (and per class), ``n_train``, ``n_test``,
    ``epochs``, ``seed``, ``recipe`` and ``protocol``.
    """
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    if num_classes < 2:
        raise ValueError(f"{type(model).__name__} is not class-conditional: CAS needs a model that takes labels.")
    image_shape = tuple(model.image_shape)
    test_images, test_labels = load_real(data_spec, "test", image_shape, with_labels=True)
    train_images, train_labels = load_real(data_spec, "train", image_shape, with_labels=True)
    if n_per_class is None:
        n_per_class = int(np.ceil(len(train_images) / num_classes))
    if int(n_per_class) < 1:
        raise ValueError(f"n_per_class must be >= 1; got {n_per_class}.")
    labels = np.repeat(np.arange(num_classes, dtype=np.int32), int(n_per_class))
    fake = np.clip(np.asarray(model.generate(len(labels), seed=seed, labels=labels, raw=True), np.float32), -1, 1)
    synthetic = train_and_test(fake, labels, test_images, test_labels, epochs, seed)
    result: dict[str, Any] = {
        "cas": synthetic["accuracy"],
        "cas_per_class": synthetic["per_class"],
        "n_train": int(len(labels)),
        "n_test": int(len(test_labels)),
        "epochs": int(epochs),
        "seed": int(seed),
        "recipe": dict(RECIPE, epochs=int(epochs)),
    }
    if real_baseline:
        key = (data_spec, image_shape, int(epochs), int(seed))
        if key not in _REAL_ACCURACY:
            _REAL_ACCURACY[key] = train_and_test(train_images, train_labels, test_images, test_labels, epochs, seed)
        result["real_accuracy"] = _REAL_ACCURACY[key]["accuracy"]
        result["real_accuracy_per_class"] = _REAL_ACCURACY[key]["per_class"]
        result["n_real_train"] = int(len(train_labels))
    result["protocol"] = (
        f"CAS (Ravuri & Vinyals 2019): {RECIPE['builder']} trained {epochs} epochs (batch {RECIPE['batch_size']}, "
        f"{RECIPE['optimizer']}, seed {seed}) on {len(labels)} generated images ({n_per_class} per class, "
        f"model.generate(seed={seed}, raw=True)), tested on all {len(test_labels)} real {data_spec} test images"
        + (
            f"; real_accuracy: the same recipe trained on the {len(train_labels)} real training images"
            if real_baseline
            else ""
        )
    )
    return result
