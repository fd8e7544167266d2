"""A training run: data -> model -> ``fit`` with the standard callbacks -> files in one folder.

``ganzoo train`` and the zoo's ``tools/`` scripts both go through :func:`train`, so
a run is described completely by its :class:`TrainConfig`, which is written next to
its outputs (``config.json``) together with the library versions that produced it.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ganzoo import distribute
from ganzoo.data import datasets as data_lib
from ganzoo.data import pairs as image_tasks
from ganzoo.deploy import loading
from ganzoo.errors import DistributionError, InputError
from ganzoo.models import architecture_class, create
from ganzoo.training import reliability
from ganzoo.training.callbacks import LinearLearningRateDecay, LossCurves, SampleGrid, TranslationPanels
from ganzoo.training.diagnostics import GANMonitor
from ganzoo.utils.files import write_json
from ganzoo.utils.sampling import check_positive_int
from ganzoo.utils.versions import versions


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (JSON-serialisable)."""

    architecture: str
    data: str = "digits"
    epochs: int = 10
    batch_size: int = 64
    image_size: int | None = None
    channels: int | None = None
    seed: int = 0
    loss: str | None = None  # None: the architecture's default loss
    # Adam settings; None keeps the architecture's default optimizers (for most, Adam(2e-4, beta_1=0.5)).
    g_learning_rate: float | None = None
    d_learning_rate: float | None = None
    beta_1: float | None = None
    beta_2: float | None = None
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # architecture arguments
    sample_every: int = 1
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism()
    strategy: str = "default"  # ganzoo.distribute.STRATEGIES: default, mirrored, multiworker (TF_CONFIG), tpu
    precision: str = "float32"  # float32, mixed_float16 or mixed_bfloat16
    # Fine-tuning: start from the networks of a zoo model or .keras file of the same architecture and shapes.
    init_from: str | None = None
    compile: dict[str, Any] = dataclasses.field(default_factory=dict)  # extra compile() arguments, e.g. srgan's phase
    monitor: bool = True  # attach GANMonitor: name mode collapse, vanishing gradients, oscillation, divergence
    # The last N epochs decay both learning rates linearly towards 0 (CycleGAN, pix2pix); 0: constant rates.
    lr_decay_epochs: int = 0


def load_dataset(config: TrainConfig, split: str = "train", shuffle: bool = True, drop_remainder: bool = True):
    """The run's batches: images [with labels] from ``ganzoo.data``, or pairs from ``ganzoo.image_tasks``."""
    cls = architecture_class(config.architecture)
    if cls.data_kind != "images":
        return _image_pairs(config, cls, split, shuffle, drop_remainder)
    conditional = cls.requires_labels
    kwargs = (
        {} if config.data in ("ring8", "grid25") else {"image_size": config.image_size, "channels": config.channels}
    )
    return data_lib.load(
        config.data,
        batch_size=config.batch_size,
        split=split,
        with_labels=conditional,
        shuffle=shuffle,
        seed=config.seed,
        drop_remainder=drop_remainder,
        **kwargs,
    )


def _image_pairs(config: TrainConfig, cls, split: str, shuffle: bool, drop_remainder: bool):
    """(source, target) or (a, b) batches: ``config.image_size`` is the (target) crop size."""
    common = dict(
        split=split,
        batch_size=config.batch_size,
        crop_size=config.image_size,
        shuffle=shuffle,
        seed=config.seed,
        drop_remainder=drop_remainder,
    )
    if cls.data_kind == "unpaired":
        return image_tasks.load_unpaired(config.data, channels=config.channels or 3, **common)
    scale = config.model.get("scale", _default_argument(cls, "scale"))
    return image_tasks.load_pairs(config.data, scale=scale, **common)


def _default_argument(cls, name: str):
    """The default of constructor argument ``name`` of ``cls`` (None when it has none)."""
    for klass in cls.__mro__:
        parameter = inspect.signature(klass.__init__).parameters.get(name) if "__init__" in vars(klass) else None
        if parameter is not None and parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return None


def build_model(config: TrainConfig, dataset) -> keras.Model:
    """Create the architecture with its shapes (and number of classes) read from the data."""
    cls = architecture_class(config.architecture)
    spec = dataset.element_spec
    image_spec = spec[0] if isinstance(spec, tuple) else spec
    shape = tuple(image_spec.shape[1:])
    if cls.data_kind != "images":  # crops have no static size: read one batch
        source, target = (tuple(t.shape[1:]) for t in next(iter(dataset)))
        shape = target if cls.data_kind == "pairs" else source  # pairs: sized by the output
    inferred: dict[str, Any] = {"data_shape" if "data_shape" in cls.constructor_arguments() else "image_shape": shape}
    if "source_channels" in cls.constructor_arguments():
        inferred["source_channels"] = int(source[-1])
    if cls.requires_labels and "num_classes" not in config.model:
        labels = np.concatenate([batch[1].numpy() for batch in dataset])
        inferred["num_classes"] = int(labels.max()) + 1
    precision = {} if config.precision == "float32" else {"dtype": distribute.check_precision(config.precision)}
    source = None
    if config.init_from is not None:  # fine-tuning: the source's architecture arguments are the defaults
        source = loading.load(config.init_from)
        if type(source) is not cls:
            raise InputError(
                f"--init-from {config.init_from} is a {source.architecture} model; this run trains "
                f"{config.architecture}."
            )
        inferred = {**{k: v for k, v in source.get_config().items() if k not in ("name", "dtype", "seed")}, **inferred}
    model = create(config.architecture, **{**inferred, "seed": config.seed, **precision, **config.model})
    if source is not None:
        _initialize_from(model, source, config.init_from)
    compile_options = dict(config.compile)
    if "jit_compile" not in compile_options and cls.xla_pays and not tf.distribute.has_strategy():
        compile_options["jit_compile"] = True  # XLA where tools/bench.py measured it faster (one device)
    model.compile(
        g_optimizer=_adam(config, config.g_learning_rate, model, model.generator),
        d_optimizer=_adam(config, config.d_learning_rate, model, model.discriminator),
        loss=config.loss,
        **compile_options,
    )
    return model


def _initialize_from(model, source, name_or_path: str) -> None:
    """Copy the network weights (not the optimizers) of ``source`` (a loaded zoo model or file) into ``model``."""
    ours, theirs = [w.shape for w in model.weights], [w.shape for w in source.weights]
    if ours != theirs:
        raise InputError(
            f"--init-from {name_or_path} has other shapes than this {model.architecture} model "
            f"({len(theirs)} vs {len(ours)} weights; first differing: "
            f"{next((a, b) for a, b in zip(theirs + [None], ours + [None]) if a != b)}): the data's "
            f"image size and channels must be the source's ({tuple(source.image_shape)})."
        )
    model.set_weights(source.get_weights())


def _adam(config: TrainConfig, learning_rate: float | None, model, network) -> keras.optimizers.Optimizer | None:
    """Adam with the config's settings, the architecture's default filling the unset ones; None if none is set.

    The settings go through ``model.adam_settings`` (StyleGAN's lazy-regularization correction).
    """
    if learning_rate is None and config.beta_1 is None and config.beta_2 is None:
        return None
    default = model.default_optimizer()
    lr, beta_1, beta_2 = model.adam_settings(
        network,
        learning_rate if learning_rate is not None else float(default.learning_rate),
        config.beta_1 if config.beta_1 is not None else float(default.beta_1),
        config.beta_2 if config.beta_2 is not None else float(default.beta_2),
    )
    return keras.optimizers.Adam(
        lr,
        beta_1=beta_1,
        beta_2=beta_2,
    )


# Settings a resumed run must share with the run it continues: they fix the model and the order of the batches.
RESUME_KEYS = ("architecture", "data", "batch_size", "image_size", "channels", "seed", "loss", "model")


def check_resumable(config: TrainConfig, out: Path, backup: reliability.BackupAndRestore) -> None:
    """Raise :class:`InputError` when ``config`` cannot continue the run in ``out``.

    A finished run has no backup left (``model.keras`` is its result): resuming it would silently
    train again from epoch 0. A config that differs from the run's ``config.json`` in one of
    :data:`RESUME_KEYS` would end in neither run.
    """
    if backup.latest() is None and (out / "model.keras").is_file():
        raise InputError(
            f"--resume: the run in {out} has finished (model.keras is written and no backup is left), so there is "
            f"nothing to resume. Drop --resume to train again from scratch, or fine-tune it with --init-from "
            f"{out / 'model.keras'}."
        )
    recorded = out / "config.json"
    if not recorded.is_file():
        return
    try:
        before = dict(json.loads(recorded.read_text(encoding="utf-8"))["config"])
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"--resume: {recorded} is not a run record written by ganzoo train ({error!r}).") from None
    now = json.loads(json.dumps(dataclasses.asdict(config), default=str))
    differences = [
        f"{key} ({before.get(key)!r} there, {now[key]!r} now)" for key in RESUME_KEYS if before.get(key) != now[key]
    ]
    if differences:
        raise InputError(
            f"--resume: this command differs from the run in {out} in {', '.join(differences)}; a resumed run must "
            f"repeat these settings (--epochs may grow). Drop --resume to start a new run."
        )


def _agreed_first_epoch(config: TrainConfig, out: Path, backup, strategy) -> int:
    """The epoch every worker of a multi-worker run resumes from, or the same error on all of them.

    A worker that cannot resume (other settings, no backup that verifies) still takes part in the
    agreement with -1, so that the others raise too instead of waiting for it forever.
    """
    try:
        check_resumable(config, out, backup)
        own, error = backup.initial_epoch(), None
    except (ValueError, OSError) as err:
        own, error = -1, err
    agreed = distribute.agreed_minimum(own, strategy)
    if error is not None:
        raise error
    if agreed < 0:
        raise DistributionError("another worker cannot resume this run (see its error); none of them resumes.")
    backup.at_most = agreed
    return agreed


def train(
    config: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    verbose: int | str = "auto",
    extra_callbacks: list | None = None,
) -> keras.Model:
    """Train ``config`` with ``model.fit`` and write everything a run leaves behind into ``out_dir``.

    Files: ``config.json`` (the config, model config, distribution and versions), ``samples/epoch_XXX.png``,
    ``loss_curves.png``, ``history.csv``, ``checkpoints/last.keras`` (every epoch, written atomically),
    ``model.keras`` (final), ``diagnostics.json`` (what :class:`GANMonitor` found, when ``config.monitor``) and ``backup/`` (the complete state of the last finished epoch while training
    runs: ``resume=True`` continues a crashed run from it; otherwise it is cleared once the run has passed its
    checks). ``resume=True`` refuses a run that finished (its backup is gone) and a config whose data, model,
    seed or batch settings differ from the run's ``config.json`` (:func:`check_resumable`).

    Resuming is exact: the batches of epoch ``e`` depend only on ``(seed, e)`` and the backup holds
    both networks, both optimizers, the EMA weights and the seed state, so a resumed run ends with
    the weights of an uninterrupted one (bit for bit with ``deterministic=True``). (The embedded
    image-to-image tasks draw fresh random patches every epoch, so their resumed epochs see other
    patches than an uninterrupted run would: resume continues them, but not bit for bit.)
    Image-to-image architectures read ``(source, target)`` or ``(a, b)`` batches from
    :mod:`ganzoo.image_tasks` (``config.image_size`` is the crop size) and get
    ``input | output | target`` panels in ``samples/`` instead of sample grids.
    ``config.strategy`` distributes training (batches are global batches, split over the replicas);
    under multi-worker every worker runs this same function, the chief (worker 0) writes ``out_dir``
    and the others write the same files under ``out_dir/.worker-N``. A NaN or infinite loss stops
    training with :class:`ganzoo.reliability.NonFiniteLossError` and leaves the checkpoints as they were.
    """
    check_positive_int("epochs", config.epochs)
    decay = config.lr_decay_epochs
    if isinstance(decay, bool) or not isinstance(decay, (int, np.integer)) or not 0 <= decay <= config.epochs:
        raise InputError(
            f"lr_decay_epochs must be an integer from 0 to epochs ({config.epochs}), got {config.lr_decay_epochs!r}."
        )
    # First: a multi-worker strategy must be created before TensorFlow runs any operation.
    strategy = distribute.get_strategy(config.strategy)
    distribute.check_global_batch_size(config.batch_size, strategy)
    distribute.check_precision(config.precision)
    worker = distribute.cluster_info() if distribute.is_multi_worker(strategy) else None
    out = Path(out_dir)
    if worker is not None and not worker.is_chief:
        out = out / f".worker-{worker.index}"
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    backup = reliability.BackupAndRestore(out / "backup")
    first_epoch = 0
    if resume and worker is None:
        check_resumable(config, out, backup)
        first_epoch = backup.initial_epoch()
    elif resume:  # every worker restarts from the oldest epoch all of them can restore
        first_epoch = _agreed_first_epoch(config, out, backup, strategy)
    source = load_dataset(config, shuffle=False, drop_remainder=False)  # the examples, in a fixed order
    with strategy.scope():
        model = build_model(config, source)
    if distribute.num_replicas(strategy) > 1:
        distribute.synchronize_batch_norm(model)  # batch statistics over the global batch, as on one device
    dataset, steps = reliability.epoch_batches(
        source.unbatch(), config.batch_size, config.seed, config.epochs, first_epoch=first_epoch, d_steps=model.d_steps
    )
    dataset = distribute.shard_by_data(dataset)
    reference = data_lib.mixture_modes(config.data)[0] if config.data in ("ring8", "grid25") else None
    if model.data_kind == "images":
        samples = SampleGrid(out / "samples", every=config.sample_every, reference=reference)
    else:  # fixed held-out inputs, translated: input | output | target (cyclegan: an unpaired B)
        sources, targets = next(iter(load_dataset(config, split="test", shuffle=False, drop_remainder=False)))
        samples = TranslationPanels(
            out / "samples", sources.numpy()[:8], targets.numpy()[:8], every=config.sample_every
        )
    callbacks = [
        reliability.StopOnNaN(
            checkpoint_hint=f"{out / 'backup'} and {out / 'checkpoints' / 'last.keras'}; fix the "
            f"cause, then continue with `ganzoo train ... --resume`."
        ),
        samples,
        LossCurves(out / "loss_curves.png"),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resume),
        reliability.AtomicModelCheckpoint(out / "checkpoints" / "last.keras"),
        *(extra_callbacks or []),
        backup,
    ]
    if config.lr_decay_epochs:
        callbacks.insert(0, LinearLearningRateDecay(config.epochs - config.lr_decay_epochs, config.lr_decay_epochs))
    monitor = None
    if config.monitor:
        # Quiet on a healthy run; names a failure (print, warning, diagnostics.json) with evidence and remedy.
        # Diversity needs samples of a latent generator; image-to-image runs get the log-based checks.
        latent = model.data_kind == "images"
        monitor = GANMonitor(
            reference=source if latent else None,
            modes=config.data if config.data in ("ring8", "grid25") else None,
            diversity_every=200 if latent else 0,
            seed=config.seed,
        )
        callbacks.insert(1, monitor)
    if not resume and backup.backup_dir.exists():
        # A fresh run must not pick up a crashed run's state; removed only now that the data, the model and
        # the config have passed their checks, so a mistyped command keeps the crash backup.
        shutil.rmtree(backup.backup_dir)
    record = {
        "config": dataclasses.asdict(config),
        "model_config": model.get_config(),
        "distribution": distribute.describe(strategy),
        "versions": versions(),
    }
    write_json(out / "config.json", record, default=str)  # after every check: a refused command keeps the old one
    # shuffle=False: the pipeline shuffles itself (fit's own flag does not apply to tf.data).
    model.fit(dataset, epochs=config.epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False)
    reliability.atomic_save(model, out / "model.keras")
    if monitor is not None:
        write_json(out / "diagnostics.json", {"events": monitor.events, "diversity": monitor.diversity_history})
    return model
