"""Evaluation: numpy metrics (:mod:`~ganzoo.evaluation.metrics`), ``evaluate_model`` and its
feature extractors (:mod:`~ganzoo.evaluation.evaluate`), image-task scores
(:mod:`~ganzoo.evaluation.image_tasks`)."""

from ganzoo.evaluation.evaluate import (
    FIDCallback,
    KIDCallback,
    class_accuracy,
    digits_classifier,
    evaluate_model,
)

__all__ = ["FIDCallback", "KIDCallback", "class_accuracy", "digits_classifier", "evaluate_model"]
