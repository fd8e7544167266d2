"""Evaluating generators with the protocol written next to every number.

    from ganzoo import evaluation
    result = evaluation.evaluate_model(model, "digits")          # fid, kid, precision/recall, density/coverage
    result["fid"], result["extractor"], result["n_real"], result["n_fake"], result["split"], result["seed"]

Protocol (what :func:`evaluate_model` does, and what it reports):

* **Real samples**: the *whole* ``split`` of ``data_spec`` from :func:`ganzoo.data.load`, unshuffled,
  at the model's image size and channel count. The default split is the data set's
  (:data:`DEFAULT_SPLITS`): ``"test"`` for Fashion-MNIST (its 10,000 test images), ``"train"`` for the
  digits, whose test split (180 images) is smaller than the 128 feature dimensions a Fréchet distance
  needs. Compare numbers only with numbers from the same split and sample sizes.
* **Fake samples**: ``model.generate(n_fake, seed=seed, raw=True)`` (float in [-1, 1]); ``n_fake``
  defaults to the number of real samples (at most 10,000). Conditional models get labels drawn
  (``seed``) from the real split's label frequencies.
* **Features**: ``extractor`` (any :class:`ganzoo.metrics.FeatureExtractor`). Default for ``digits``
  and ``fashion_mnist``: the zoo's domain classifier of that data (:func:`domain_classifier`, 128-d
  ``features`` layer; its name carries the sha256 prefix of the weights). Default for other image
  data: Keras InceptionV3 with ImageNet weights, *only* if they are already in the Keras cache (nothing
  is downloaded); otherwise a ``ValueError`` says how to pass an extractor.
* **Floor** (:func:`real_floor`): the same metrics for real images that no model made: the other
  split (the test split for ``"train"``, the training split for ``"test"``; cut to a seeded subsample
  of the evaluated split's size when larger) against the evaluated split, in the same features. In
  a domain classifier's features the floor is close to 0: quote a model's FID beside it rather than
  as a ratio.
* **Metrics**: :func:`ganzoo.metrics.evaluate` (FID, KID mean/std over subsets, improved
  precision/recall with k=3, density/coverage with k=5), whose protocol fields are included.
* **Class accuracy** (conditional models, extractor with ``probabilities``): the share of
  generated samples the domain classifier assigns to the class they were generated for, per
  class and its unweighted mean over classes.
* **2-D point models** (``ring8``/``grid25``): :func:`ganzoo.metrics.mode_statistics` of
  ``n_fake`` (default 2,500, the VEEGAN/PacGAN protocol) samples, ``min_count`` scaled from 20
  per 2,500.

:class:`MetricCallback` computes the same metrics on fixed-seed samples every N epochs during
``fit`` and writes them into ``logs`` (``logs["kid"]``), so that ``ModelCheckpoint(monitor="kid")``
and ``EarlyStopping(monitor="kid")`` can use them.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ganzoo.data import datasets as data_lib
from ganzoo.deploy import loading, zoo
from ganzoo.evaluation import metrics as metrics_lib
from ganzoo.utils.files import sha256_file

__all__ = [
    "DIGITS_CLASSIFIER",
    "CLASSIFIERS",
    "DEFAULT_SPLITS",
    "default_split",
    "digits_classifier",
    "domain_classifier",
    "real_floor",
    "default_extractor",
    "load_real",
    "evaluate_model",
    "class_accuracy",
    "MetricCallback",
    "KIDCallback",
    "FIDCallback",
]

DIGITS_CLASSIFIER = "digits-classifier"  # the zoo entry
CLASSIFIERS = {"digits": DIGITS_CLASSIFIER, "fashion_mnist": "fashion-classifier"}  # data spec -> zoo entry
DEFAULT_SPLITS = {"fashion_mnist": "test"}  # the split evaluate_model compares with; "train" otherwise


def default_split(data_spec: str) -> str:
    """The real split :func:`evaluate_model` compares with by default (see the module docstring)."""
    return DEFAULT_SPLITS.get(data_spec, "train")


_MIXTURES = ("ring8", "grid25")
_POINT_METRICS = ("modes",)
_DEFAULT_POINT_SAMPLES = 2500
_MAX_DEFAULT_FAKE = 10_000
_CLASSIFIER_CACHE: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------------
# The digits classifier


def domain_classifier(
    data_spec: str = "digits", path: str | os.PathLike | None = None, batch_size: int = 256
) -> metrics_lib.ClassifierFeatures:
    """The zoo's classifier of ``data_spec`` as a feature extractor (128-d ``features`` + class probabilities).

    Loads the zoo entry of :data:`CLASSIFIERS` (``digits-classifier``, ``fashion-classifier``;
    hash-verified against its card, wherever the zoo lives: a source checkout or an installed wheel),
    or the ``.keras`` file ``path``, and wraps it in :class:`ganzoo.metrics.ClassifierFeatures` named
    ``ganzoo-<entry>/features-128/sha256:<first 12 hex digits>`` so that reports say exactly which
    weights produced them. Build one with ``python tools/train_classifier.py --data DATA``.
    """
    if data_spec not in CLASSIFIERS:
        raise ValueError(f"ganzoo ships classifiers for {', '.join(CLASSIFIERS)}, not for {data_spec!r}.")
    entry = CLASSIFIERS[data_spec]
    if path is not None:
        file = Path(path)
    elif entry in zoo.list_models():
        file = zoo.path(entry) / zoo.MODEL_FILE
    else:
        file = None  # not in the zoo: say how to make it
    if file is None or not file.is_file():
        raise FileNotFoundError(
            f"The {data_spec} classifier {file or entry} is missing. Train it with "
            f"`python tools/train_classifier.py --data {data_spec}` (minutes on a CPU), or pass extractor= "
            "explicitly (e.g. ganzoo.metrics.ClassifierFeatures(your_classifier))."
        )
    digest = sha256_file(file)
    model = _CLASSIFIER_CACHE.get(digest)
    if model is None:
        model = loading.load_model(file, compile=False, gan_only=False)
        _CLASSIFIER_CACHE[digest] = model
    return metrics_lib.ClassifierFeatures(
        model,
        layer_name="features",
        batch_size=batch_size,
        name=f"ganzoo-{entry}/features-128/sha256:{digest[:12]}",
    )


def digits_classifier(path: str | os.PathLike | None = None, batch_size: int = 256) -> metrics_lib.ClassifierFeatures:
    """:func:`domain_classifier` of the digits (the zoo's ``digits-classifier``)."""
    return domain_classifier("digits", path, batch_size)


def _inception_weights_cached() -> bool:
    """Whether Keras' InceptionV3 ImageNet weights (no top) are already in the Keras cache."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    candidates = [
        Path(home) / "models" / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        Path("/tmp/.keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ]
    return any(p.is_file() for p in candidates)


def default_extractor(data_spec: str, image_shape: Sequence[int]) -> metrics_lib.FeatureExtractor:
    """The extractor :func:`evaluate_model` uses when none is given (see the module docstring)."""
    if data_spec in CLASSIFIERS:
        return domain_classifier(data_spec)
    if _inception_weights_cached():
        return metrics_lib.InceptionFeatures(weights="imagenet")
    raise ValueError(
        f"No feature extractor fits {data_spec!r} images of shape {tuple(image_shape)}: ganzoo ships "
        f"classifiers for {', '.join(CLASSIFIERS)} only, and InceptionV3's ImageNet weights are not in the Keras cache "
        "(~/.keras/models; nothing is downloaded). Pass extractor=..., e.g. "
        "ganzoo.metrics.ClassifierFeatures(a_classifier_trained_on_this_data) or "
        "ganzoo.metrics.InceptionFeatures(weights='/path/to/inception_v3_notop.h5'), and report its name "
        "with the numbers."
    )


# ---------------------------------------------------------------------------------------------
# Real data


_REAL_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}
_REAL_CACHE_MAX_BYTES = 256 << 20  # the named data sets are small; folders/TFDS are not cached beyond this


def load_real(
    data_spec: str,
    split: str,
    image_shape: Sequence[int] | None = None,
    with_labels: bool = False,
    data_dir: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole ``split`` of ``data_spec`` as float32 arrays (images in [-1, 1]), unshuffled.

    Results are cached per arguments for the session (read-only arrays), so evaluating several
    models or checkpoints loads the data once.
    """
    key = (data_spec, split, tuple(image_shape) if image_shape is not None else None, with_labels, data_dir)
    if key not in _REAL_CACHE:
        images, labels = _load_real(data_spec, split, image_shape, with_labels, data_dir)
        for array in (images, labels):
            if array is not None:
                array.flags.writeable = False
        if images.nbytes <= _REAL_CACHE_MAX_BYTES and not data_spec.startswith("folder:"):
            _REAL_CACHE[key] = (images, labels)
        return images, labels
    return _REAL_CACHE[key]


def _load_real(data_spec, split, image_shape, with_labels, data_dir):

    kwargs: dict[str, Any] = {}
    if data_spec not in _MIXTURES and image_shape is not None and len(image_shape) == 3:
        kwargs.update(image_size=(int(image_shape[0]), int(image_shape[1])), channels=int(image_shape[2]))
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    ds = data_lib.load(
        data_spec, batch_size=256, split=split, with_labels=with_labels, shuffle=False, drop_remainder=False, **kwargs
    )
    images, labels = [], []
    for element in ds.as_numpy_iterator():
        if with_labels:
            images.append(element[0])
            labels.append(element[1])
        else:
            images.append(element)
    return np.concatenate(images).astype(np.float32), (np.concatenate(labels).astype(np.int64) if with_labels else None)


# ---------------------------------------------------------------------------------------------
# Evaluation


def _is_points(model) -> bool:
    return len(tuple(model.image_shape)) == 1


def _conditional(model) -> bool:
    return bool(getattr(model, "is_conditional", False))


def _match_channels(images: np.ndarray, extractor) -> np.ndarray:
    """Average RGB to grayscale for a 1-channel classifier (grayscale is tiled to RGB by the extractor)."""
    hwc = getattr(extractor, "_input_hwc", None)
    if hwc and hwc[2] == 1 and images.shape[-1] == 3:
        return images.mean(axis=-1, keepdims=True)
    return images


def evaluate_model(
    model,
    data_spec: str = "digits",
    metrics: Sequence[str] = ("fid", "kid", "pr", "dc"),
    n_fake: int | None = None,
    extractor: metrics_lib.FeatureExtractor | None = None,
    split: str | None = None,
    seed: int = 0,
    *,
    data_dir: str | None = None,
    **metric_kwargs,
) -> dict[str, Any]:
    """Evaluate ``model`` against the whole ``split`` of ``data_spec``; numbers plus their protocol.

    ``split`` defaults to the data set's (:data:`DEFAULT_SPLITS`). ``model`` is a :class:`ganzoo.GAN`
    (or any object with ``image_shape`` and
    ``generate(n, seed=, labels=, raw=True)``). ``metrics`` are those of
    :func:`ganzoo.metrics.evaluate` (``fid``, ``kid``, ``pr``, ``dc``, ``is``); ``metric_kwargs``
    (``kid_subsets``, ``kid_subset_size``, ``pr_k``, ``dc_k``, ``is_splits``) go to it. For 2-D
    point models the result is :func:`ganzoo.metrics.mode_statistics` instead.

    Every result carries ``data``, ``split``, ``seed``, ``n_real``, ``n_fake`` and (images)
    ``extractor``; conditional models add ``class_accuracy`` (mean over classes) and
    ``class_accuracy_per_class``. See the module docstring for the full protocol.
    """

    if _is_points(model):
        if data_spec not in _MIXTURES:
            raise ValueError(
                f"{type(model).__name__} generates points of shape {tuple(model.image_shape)}; "
                f"evaluate it on a mixture ({', '.join(_MIXTURES)}), not {data_spec!r}."
            )
        n = int(n_fake or _DEFAULT_POINT_SAMPLES)
        modes, std = data_lib.mixture_modes(data_spec)
        points = np.asarray(model.generate(n, seed=seed, raw=True), dtype=np.float64)
        min_count = max(1, math.ceil(20 * n / 2500))
        result = metrics_lib.mode_statistics(points, modes, std, min_count=min_count)
        result.update(
            data=data_spec,
            n=n,
            n_fake=n,
            seed=int(seed),
            min_count=min_count,
            num_std=3.0,
            mode_std=float(std),
            protocol="VEEGAN/PacGAN mode statistics: nearest mode, within 3 std, "
            f"a mode covered with >= {min_count} high-quality samples of {n}",
        )
        return result

    image_shape = tuple(model.image_shape)
    conditional = _conditional(model)
    split = split or default_split(data_spec)
    real, real_labels = load_real(data_spec, split, image_shape, with_labels=conditional, data_dir=data_dir)
    n_fake = int(n_fake or min(len(real), _MAX_DEFAULT_FAKE))
    if extractor is None:
        extractor = default_extractor(data_spec, image_shape)
    labels = None
    if conditional:
        known = real_labels[real_labels < model.num_classes]  # a model of fewer classes than the data has
        if len(known) == 0:
            raise ValueError(f"none of the {data_spec!r} labels is below the model's num_classes={model.num_classes}.")
        labels = np.random.default_rng(seed).choice(known, size=n_fake).astype(np.int32)
    fake = np.asarray(
        model.generate(n_fake, seed=seed, raw=True, **({"labels": labels} if conditional else {})), dtype=np.float32
    )
    fake = np.clip(fake, -1.0, 1.0)
    result = metrics_lib.evaluate(
        _match_channels(real, extractor),
        _match_channels(fake, extractor),
        extractor,
        metrics=metrics,
        seed=seed,
        **metric_kwargs,
    )
    result.update(
        data=data_spec,
        split=split,
        image_shape=list(image_shape),
        real_source=f"ganzoo.data.load({data_spec!r}, split={split!r}), all {len(real)} samples",
        fake_source=f"model.generate({n_fake}, seed={seed}, raw=True)"
        + (", labels drawn from the real label frequencies" if conditional else ""),
    )
    result["protocol"] = _image_protocol(result)
    if conditional and hasattr(extractor, "probabilities"):
        result.update(_class_accuracy(extractor, _match_channels(fake, extractor), labels, model.num_classes))
    elif conditional:
        result["class_accuracy_note"] = f"extractor {extractor.name!r} has no class probabilities"
    return result


def _image_protocol(result: dict[str, Any]) -> str:
    """One sentence a reader needs to compare these numbers with others: features, samples, parameters."""
    parts = [
        f"{result['n_real']} real images ({result['real_source']}) vs {result['n_fake']} generated "
        f"({result['fake_source']}), in the {result['feature_dim']}-d features of {result['extractor']}"
    ]
    if "kid" in result:
        parts.append(f"KID unbiased, {result['kid_subsets']} subsets of {result['kid_subset_size']}")
    if "pr_k" in result:
        parts.append(f"precision/recall k={result['pr_k']}")
    if "dc_k" in result:
        parts.append(f"density/coverage k={result['dc_k']}")
    return "; ".join(parts) + f"; seed {result['seed']}"


def real_floor(
    data_spec: str,
    image_shape: Sequence[int],
    metrics: Sequence[str] = ("fid", "kid", "pr", "dc"),
    extractor: metrics_lib.FeatureExtractor | None = None,
    split: str | None = None,
    seed: int = 0,
    **metric_kwargs,
) -> dict[str, Any]:
    """The floor of :func:`evaluate_model`'s numbers: real images that no model made, scored the same way.

    The other split (``train`` for ``test`` and the other way round) plays the generated set against
    the whole ``split``, in the same features, with the same metric parameters; a larger one is cut to
    a seeded subsample of ``split``'s size (FID depends on the sample sizes).
    """
    split = split or default_split(data_spec)
    if split not in ("train", "test"):
        raise ValueError(f"the floor compares the train and test splits; split must be one of them, not {split!r}.")
    other = "test" if split == "train" else "train"
    real, _ = load_real(data_spec, split, image_shape)
    stand_in, _ = load_real(data_spec, other, image_shape)
    if len(stand_in) > len(real):
        stand_in = stand_in[np.sort(np.random.default_rng(seed).choice(len(stand_in), len(real), replace=False))]
    extractor = extractor if extractor is not None else default_extractor(data_spec, image_shape)
    result = metrics_lib.evaluate(
        _match_channels(real, extractor),
        _match_channels(stand_in, extractor),
        extractor,
        metrics=metrics,
        seed=seed,
        **metric_kwargs,
    )
    result["what"] = (
        f"real {data_spec} {other} images ({len(stand_in)}) scored as if generated, against the {split} split "
        f"({len(real)})"
    )
    return result


def _class_accuracy(extractor, images: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, Any]:
    probs = np.asarray(extractor.probabilities(images))
    if probs.shape[1] < num_classes:
        raise ValueError(
            f"the classifier {extractor.name!r} knows {probs.shape[1]} classes; the model has {num_classes}."
        )
    predicted = probs.argmax(axis=1)
    per_class, counts = {}, {}
    for c in np.unique(labels):
        mask = labels == c
        per_class[int(c)] = float((predicted[mask] == c).mean())
        counts[int(c)] = int(mask.sum())
    return {
        "class_accuracy": float(np.mean(list(per_class.values()))),
        "class_accuracy_per_class": per_class,
        "class_accuracy_n": counts,
        "class_accuracy_classifier": extractor.name,
    }


def class_accuracy(
    model,
    classes: Sequence[int] | None = None,
    n_per_class: int = 100,
    extractor: metrics_lib.FeatureExtractor | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy of the domain classifier on ``n_per_class`` samples of each class in ``classes``.

    Default classes: all of the model's; default classifier: the digits classifier. Returns
    ``class_accuracy`` (unweighted mean over classes), ``class_accuracy_per_class``,
    ``class_accuracy_n``, ``class_accuracy_classifier``, ``seed``.
    """
    if not _conditional(model):
        raise ValueError(f"{type(model).__name__} is not class-conditional: class accuracy needs labels.")
    extractor = extractor if extractor is not None else digits_classifier()
    if not hasattr(extractor, "probabilities"):
        raise ValueError(f"extractor {extractor.name!r} has no probabilities(); pass a classifier.")
    classes = list(range(model.num_classes)) if classes is None else [int(c) for c in classes]
    labels = np.repeat(np.asarray(classes, dtype=np.int32), int(n_per_class))
    fake = np.clip(np.asarray(model.generate(len(labels), seed=seed, labels=labels, raw=True), np.float32), -1, 1)
    result = _class_accuracy(extractor, _match_channels(fake, extractor), labels, model.num_classes)
    result["seed"] = int(seed)
    return result


# ---------------------------------------------------------------------------------------------
# During training


class MetricCallback(keras.callbacks.Callback):
    """Compute sample-quality metrics every ``every`` epochs and write them into ``logs``.

    The samples are ``model.generate(n, seed=seed, raw=True)``: the same latent vectors every time,
    so the change between epochs is the model's. Real features are extracted once, at the start of
    training, from ``real`` (an array of real samples) or else from the whole ``split`` of
    ``data_spec`` (default: :func:`default_split`; at most ``n_real`` of them, a fixed subsample).

    Image metrics: ``"fid"``, ``"kid"`` (also writes ``kid_std``), ``"precision"``/``"recall"``
    (``"pr"``), ``"density"``/``"coverage"`` (``"dc"``). For 2-D point models: ``"modes"``
    (``modes_covered``, ``high_quality_fraction``, ``reverse_kl``).

    Put it *before* ``ModelCheckpoint``/``EarlyStopping`` in the callbacks list: they read the
    same ``logs`` dict after it. On epochs without an evaluation the keys are absent (those
    callbacks then skip the epoch with a warning); use ``every=1`` to monitor every epoch.
    ``self.history`` keeps ``(epoch, {metric: value})`` of every evaluation.
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("kid",),
        every: int = 1,
        n: int = 512,
        real: Any = None,
        data_spec: str = "digits",
        split: str | None = None,
        n_real: int = 2000,
        extractor: metrics_lib.FeatureExtractor | None = None,
        seed: int = 0,
        labels: Any = None,
        kid_subsets: int = 50,
        kid_subset_size: int = 500,
        prefix: str = "",
        verbose: bool = False,
    ):
        super().__init__()
        known = ("fid", "kid", "pr", "dc", "modes")
        unknown = [m for m in metrics if m not in known]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; choose from {known}.")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}.")
        self.metric_names = tuple(metrics)
        self.every = int(every)
        self.n = int(n)
        self.real = real
        self.data_spec = data_spec
        self.split = split
        self.n_real = int(n_real)
        self.extractor = extractor
        self.seed = int(seed)
        self.labels = labels
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.prefix = prefix
        self.verbose = verbose
        self.history: list[tuple[int, dict[str, float]]] = []
        self._real_features: np.ndarray | None = None

    def on_train_begin(self, logs=None) -> None:
        if _is_points(self.model):
            if "modes" not in self.metric_names or len(self.metric_names) != 1:
                raise ValueError("a model of 2-D points supports metrics=('modes',) only.")
            return
        if "modes" in self.metric_names:
            raise ValueError("'modes' applies to models of 2-D points only.")
        if self._real_features is not None:
            return
        image_shape = tuple(self.model.image_shape)
        if self.extractor is None:
            self.extractor = default_extractor(self.data_spec, image_shape)
        if self.real is not None:
            real = np.asarray(self.real, dtype=np.float32)
        else:
            real, _ = load_real(self.data_spec, self.split or default_split(self.data_spec), image_shape)
        if len(real) > self.n_real:
            index = np.sort(np.random.default_rng(self.seed).choice(len(real), self.n_real, replace=False))
            real = real[index]
        self._real_features = np.asarray(self.extractor(_match_channels(real, self.extractor)), np.float64)

    def _labels(self):
        if self.labels is not None or not _conditional(self.model):
            return self.labels
        return np.arange(self.n, dtype=np.int32) % self.model.num_classes

    def compute(self) -> dict[str, float]:
        """The metrics of the model's current fixed-seed samples."""
        labels = self._labels()
        fake = self.model.generate(
            self.n, seed=self.seed, raw=True, **({"labels": labels} if labels is not None else {})
        )
        fake = np.asarray(fake, dtype=np.float32)
        if _is_points(self.model):
            modes, std = data_lib.mixture_modes(self.data_spec)
            stats = metrics_lib.mode_statistics(fake, modes, std, min_count=max(1, math.ceil(20 * self.n / 2500)))
            return {k: float(stats[k]) for k in ("modes_covered", "high_quality_fraction", "reverse_kl")}
        if not np.isfinite(fake).all():
            return {name: float("nan") for name in self._keys()}
        fake_features = np.asarray(self.extractor(_match_channels(np.clip(fake, -1, 1), self.extractor)), np.float64)
        real = self._real_features
        values: dict[str, float] = {}
        if "fid" in self.metric_names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # rank-deficient covariance at small n
                values["fid"] = metrics_lib.fid(real, fake_features)
        if "kid" in self.metric_names:
            values["kid"], values["kid_std"] = metrics_lib.kid(
                real, fake_features, num_subsets=self.kid_subsets, subset_size=self.kid_subset_size, seed=self.seed
            )
        if "pr" in self.metric_names:
            values["precision"], values["recall"] = metrics_lib.precision_recall(real, fake_features)
        if "dc" in self.metric_names:
            values["density"], values["coverage"] = metrics_lib.density_coverage(real, fake_features)
        return values

    def _keys(self) -> list[str]:
        names = {
            "fid": ["fid"],
            "kid": ["kid", "kid_std"],
            "pr": ["precision", "recall"],
            "dc": ["density", "coverage"],
        }
        return [k for m in self.metric_names for k in names.get(m, [])]

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every and epoch + 1 != last:
            return
        values = self.compute()
        self.history.append((epoch + 1, values))
        if logs is not None:
            for key, value in values.items():
                logs[self.prefix + key] = value
        if self.verbose:
            print(
                f"epoch {epoch + 1}: " + ", ".join(f"{self.prefix}{k}={v:.4g}" for k, v in values.items()), flush=True
            )


class KIDCallback(MetricCallback):
    """:class:`MetricCallback` with ``metrics=("kid",)``: writes ``logs["kid"]`` and ``logs["kid_std"]``."""

    def __init__(self, every: int = 1, n: int = 512, **kwargs):
        super().__init__(metrics=("kid",), every=every, n=n, **kwargs)


class FIDCallback(MetricCallback):
    """:class:`MetricCallback` with ``metrics=("fid",)``: writes ``logs["fid"]`` (biased at small ``n``)."""

    def __init__(self, every: int = 1, n: int = 512, **kwargs):
        super().__init__(metrics=("fid",), every=every, n=n, **kwargs)
