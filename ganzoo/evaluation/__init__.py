"""Evaluation: numpy metrics (:mod:`~ganzoo.evaluation.metrics`), ``evaluate_model``, its feature
extractors and the real-data floor (:mod:`~ganzoo.evaluation.evaluate`), the classification accuracy
score of conditional models (:mod:`~ganzoo.evaluation.cas`), image-task scores
(:mod:`~ganzoo.evaluation.image_tasks`)."""

from ganzoo.evaluation.cas import classification_accuracy_score
from ganzoo.evaluation.evaluate import (
    FIDCallback,
    KIDCallback,
    class_accuracy,
    digits_classifier,
    domain_classifier,
    evaluate_model,
    real_floor,
)

__all__ = [
    "FIDCallback",
    "KIDCallback",
    "class_accuracy",
    "classification_accuracy_score",
    "digits_classifier",
    "domain_classifier",
    "evaluate_model",
    "real_floor",
]
