"""Reliability of a training run: exact resume after a crash, atomic checkpoints, a clear stop on NaN.

* :class:`BackupAndRestore` saves the complete training state at the end of every epoch
  (both networks, both optimizers' slots and step counters, the EMA generator, every
  variable of augmentation or progressive-growing state, the model's seed-generator state)
  and restores it at the start of ``fit``, so a killed run continues where the last epoch
  ended. Each backup is written to a new file, flushed, and only then made current by an
  atomic rename of a small pointer file (``latest.json``, which records its sha256 and those
  of the older backups kept): a crash during a save leaves the previous backup current and
  readable, a corrupted current backup falls back to the newest older one that verifies, and
  the temporary files of a killed save are removed when training starts.
* :func:`epoch_batches` makes the order of the batches of epoch ``e`` a function of
  ``(seed, e)`` only, so the epoch a resumed run replays gets the same batches as in an
  uninterrupted run. With ``tf.config.experimental.enable_op_determinism()`` a resumed run
  then ends with the same weights as an uninterrupted one.
* :class:`AtomicModelCheckpoint` writes ``last.keras`` through a temporary file and a rename.
* :class:`StopOnNaN` stops training at the first step whose logs hold a NaN or an infinity,
  with a message naming the step, the values and the likely cause, *before* the end-of-epoch
  checkpoints run, so the last good checkpoint is left as it was.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ganzoo import errors
from ganzoo.deploy import loading
from ganzoo.errors import NonFiniteLossError
from ganzoo.models.base import group_critic_batches
from ganzoo.utils import files as file_utils
from ganzoo.utils.files import sha256_file

BACKUP_FORMAT = 1
LATEST = "latest.json"
_BACKUP_NAME = re.compile(r"^ckpt-\d+\.weights\.h5$")  # a plain name: never a path out of backup_dir


# ------------------------------------------------------------------------------ files
def atomic_save(model, path) -> Path:
    """``model.save(path)`` through a temporary file in the same folder and an atomic rename.

    Temporary files left by a writer that was killed are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file_utils.remove_stale_temporaries(path.parent)
    tmp = file_utils.temporary_path(path)
    try:
        model.save(tmp)
        file_utils.fsync_file(tmp)
        os.replace(tmp, path)
        file_utils.fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ------------------------------------------------------------------------- backups
class BackupAndRestore(keras.callbacks.Callback):
    """Back up the whole training state each epoch, atomically; restore it when ``fit`` starts.

    Args:
        backup_dir: folder of the backups; holds ``latest.json`` (the current backup's epoch,
            file name and sha256, and the same for the older backups kept) and
            ``ckpt-EPOCH.weights.h5`` files.
        delete_checkpoint: remove the folder when training finishes normally (as Keras does).
        keep: number of backups kept (at least 1; the current one is never removed). With 2 or
            more, a current backup that fails its hash check is skipped with a warning and the
            newest older one that verifies is restored.

    Works for any model; for a :class:`ganzoo.GAN` the weights file includes both
    optimizers (built by ``compile``, so their state is restored and not skipped) and the
    seed-generator state. Multi-worker runs give each worker its own ``backup_dir``.
    Temporary files of a save that was killed are removed when training starts.
    """

    def __init__(self, backup_dir, delete_checkpoint: bool = True, keep: int = 2):
        super().__init__()
        if not backup_dir:
            raise ValueError("backup_dir must be a folder path.")
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}.")
        self.backup_dir = Path(backup_dir)
        self.delete_checkpoint = delete_checkpoint
        self.keep = keep
        self.restored_epoch: int | None = None
        self.at_most: int | None = None  # multi-worker resume: the epoch every worker agreed on

    # -- reading
    def latest(self) -> dict[str, Any] | None:
        """The current backup's record (``epoch``, ``weights``, ``sha256``), or None when there is none."""
        records = self.records()
        return records[0] if records else None

    def records(self) -> list[dict[str, Any]]:
        """The records of every backup kept, newest first (empty when there is none)."""
        pointer = self.backup_dir / LATEST
        if not pointer.is_file():
            return []
        try:
            latest = json.loads(pointer.read_text())
            records = [latest, *latest.get("previous", [])]
            records = [
                {"epoch": int(r["epoch"]), "weights": str(r["weights"]), "sha256": str(r["sha256"])} for r in records
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise errors.ModelFileError(
                f"{pointer} is not a valid backup record ({error!r}); it was not written by "
                f"ganzoo.training.reliability.BackupAndRestore. Remove {self.backup_dir} to start afresh."
            ) from error
        for record in records:
            if not _BACKUP_NAME.match(record["weights"]):
                raise errors.ModelFileError(
                    f"{pointer} names the backup {record['weights']!r}; expected a file ckpt-EPOCH.weights.h5 "
                    f"inside {self.backup_dir}. Remove {self.backup_dir} to start afresh."
                )
        return records

    def usable(self) -> dict[str, Any] | None:
        """The newest backup whose file matches its recorded sha256 (None without backups).

        A newer backup that is missing or corrupted is skipped with a warning; when none verifies,
        :class:`ModelFileError` names each one's problem.
        """
        problems = []
        for record in self.records():
            if self.at_most is not None and record["epoch"] > self.at_most:
                continue
            weights = self.backup_dir / record["weights"]
            if not weights.is_file():
                problems.append(f"{weights.name} is missing")
                continue
            actual = sha256_file(weights)
            if actual != record["sha256"]:
                problems.append(
                    f"backup {weights} is corrupted: its sha256 is {actual}, the backup record says {record['sha256']}"
                )
                continue
            if problems:
                warnings.warn(
                    f"Restoring the older backup of epoch {record['epoch']}: {'; '.join(problems)}.", stacklevel=2
                )
            return record
        if problems:
            raise errors.ModelFileError(
                f"No backup in {self.backup_dir} can be restored: {'; '.join(problems)}. Remove {self.backup_dir} "
                f"to start afresh (the run's checkpoints/ folder is unaffected)."
            )
        return None

    def initial_epoch(self) -> int:
        """The epoch a ``fit`` with this callback will start from (0 without a backup)."""
        record = self.usable()
        return int(record["epoch"]) if record else 0

    def on_train_begin(self, logs=None) -> None:
        file_utils.remove_stale_temporaries(self.backup_dir)
        record = self.usable()
        if self.at_most is not None and (record["epoch"] if record else 0) != self.at_most:
            kept = [r["epoch"] for r in self.records()]
            raise errors.DistributionError(
                f"The workers agreed to resume from epoch {self.at_most}, but the backups in {self.backup_dir} hold "
                f"epochs {kept}: the workers cannot restart together. Remove every worker's backup to start afresh."
            )
        if record is None:
            return
        _build_optimizers(self.model)
        loading.load_weights(self.model, self.backup_dir / record["weights"])
        self.model._initial_epoch = int(record["epoch"])
        self.restored_epoch = int(record["epoch"])

    # -- writing
    def on_epoch_end(self, epoch, logs=None) -> None:
        self.save(epoch + 1)

    def save(self, epoch: int) -> Path:
        """Write the state after ``epoch`` finished epochs and make it the current backup."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"ckpt-{epoch:05d}.weights.h5"
        final = self.backup_dir / name
        tmp = file_utils.temporary_path(final)
        try:
            self.model.save_weights(tmp, overwrite=True)
            file_utils.fsync_file(tmp)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()
        file_utils.fsync_dir(self.backup_dir)
        try:
            previous = [r for r in self.records() if r["weights"] != name]
        except errors.ModelFileError:  # an unreadable record is replaced, not kept
            previous = []
        record = {"epoch": int(epoch), "weights": name, "sha256": sha256_file(final)}
        kept = previous[: self.keep - 1]
        file_utils.write_json(self.backup_dir / LATEST, {"format": BACKUP_FORMAT, **record, "previous": kept})
        self._prune({name, *(r["weights"] for r in kept)})
        return final

    def _prune(self, kept: set[str]) -> None:
        for old in self.backup_dir.glob("ckpt-*.weights.h5"):
            if old.name not in kept:
                old.unlink(missing_ok=True)

    def on_train_end(self, logs=None) -> None:
        if self.delete_checkpoint and self.backup_dir.exists():
            shutil.rmtree(self.backup_dir)


def _build_optimizers(model) -> None:
    """Build every optimizer of ``model`` on its variables before a restore (Keras only builds ``model.optimizer``)."""
    g_opt, d_opt = getattr(model, "g_optimizer", None), getattr(model, "d_optimizer", None)
    for optimizer, network in (
        (g_opt, getattr(model, "generator", None)),
        (d_opt, getattr(model, "discriminator", None)),
    ):
        if optimizer is not None and not optimizer.built and network is not None:
            optimizer.build(network.trainable_variables)
    if getattr(model, "optimizer", None) is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Save the model to ``path`` (a ``.keras`` file) at the end of every epoch, atomically."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None) -> None:
        atomic_save(self.model, self.path)


# ------------------------------------------------------------------------------- data
def epoch_batches(
    examples,
    batch_size: int,
    seed: int,
    epochs: int,
    first_epoch: int = 0,
    count: int | None = None,
    buffer_size: int = 10_000,
    d_steps: int = 1,
):
    """(dataset, steps per epoch): batches whose order in epoch ``e`` depends on ``(seed, e)`` only.

    ``examples`` is an unbatched, unshuffled, finite dataset. The result runs from
    ``first_epoch`` to ``epochs`` as one dataset: pass ``steps_per_epoch=steps`` to ``fit``
    (which then keeps one iterator across epochs). Each epoch drops its last partial batch.
    With ``d_steps > 1`` each epoch's batches are grouped ``d_steps`` at a time (one generator step
    whose critic steps each take their own batch, :func:`ganzoo.models.base.group_critic_batches`),
    within the epoch, so that a resumed epoch starts on the same group.
    """

    if count is None:
        count = int(examples.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    steps = count // batch_size
    if steps == 0:
        raise errors.InputError(
            f"batch_size={batch_size} is larger than the dataset, which has {count} examples: no batch would come out "
            f"(the last partial batch of each epoch is dropped). Use batch_size <= {count}."
        )
    buffer = max(1, min(count, buffer_size))

    def epoch_data(epoch):
        # The op seed is a tensor; a graph-level seed of this function's own graph keeps TensorFlow
        # from comparing it with 0 in Python (which fails when the program's global seed is 0).
        tf.compat.v1.get_default_graph().seed = 1
        epoch_seed = tf.constant(int(seed) * 1_000_003, tf.int64) + epoch
        batches = examples.shuffle(buffer, seed=epoch_seed, reshuffle_each_iteration=False).batch(
            batch_size, drop_remainder=True
        )
        return group_critic_batches(batches, d_steps, known_length=False) if d_steps > 1 else batches

    dataset = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_data).prefetch(tf.data.AUTOTUNE)
    return dataset, -(-steps // d_steps)


class StopOnNaN(keras.callbacks.Callback):
    """Stop at the first step whose logs hold NaN or Inf, naming the step, the losses and the likely cause.

    Raises :class:`NonFiniteLossError` from ``on_train_batch_end``: ``fit`` stops at once,
    the end-of-epoch callbacks do not run, and so no checkpoint or backup is overwritten
    with the broken weights. Put it before callbacks that write files on batch end.
    """

    def __init__(self, checkpoint_hint: str | None = None):
        super().__init__()
        self.checkpoint_hint = checkpoint_hint
        self._epoch = 0
        self._last_finite_epoch: int | None = None

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None) -> None:
        self._last_finite_epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None) -> None:
        values = {k: _as_float(v) for k, v in (logs or {}).items()}
        bad = {k: v for k, v in values.items() if v is not None and not math.isfinite(v)}
        if bad:
            raise NonFiniteLossError(self.message(batch, values, bad))

    def message(self, batch: int, values: dict[str, float | None], bad: dict[str, float]) -> str:
        steps = (self.params or {}).get("steps") or 0
        step = self._epoch * steps + batch + 1 if steps else None
        losses = [k for k in bad if k.endswith("loss")]
        named = ", ".join(f"{k}={v}" for k, v in bad.items())
        where = f"epoch {self._epoch + 1}, batch {batch + 1}" + (f" (global step {step})" if step else "")
        others = ", ".join(f"{k}={v:.4g}" for k, v in values.items() if k not in bad and v is not None)
        text = (
            f"Training stopped at {where}: {'the loss ' + ' and '.join(losses) if losses else 'a logged value'} "
            f"became non-finite ({named}{'; ' + others if others else ''}). Likely cause: {self.likely_cause(values)}"
        )
        if self.checkpoint_hint:
            last = f" (from the end of epoch {self._last_finite_epoch})" if self._last_finite_epoch else ""
            text += f" The last good checkpoint{last} is intact: {self.checkpoint_hint}"
        return text

    def likely_cause(self, values: dict[str, float | None]) -> str:
        model = self.model
        policy = getattr(getattr(model, "dtype_policy", None), "name", "float32")
        rates = {}
        for name in ("g_optimizer", "d_optimizer"):
            optimizer = getattr(model, name, None)
            if optimizer is not None:
                rates[name[0]] = _as_float(getattr(optimizer, "learning_rate", None))
        norms = {k: v for k, v in values.items() if k.endswith("grad_norm") and v is not None}
        if any(rate is not None and rate > 1e-2 for rate in rates.values()):
            shown = ", ".join(f"{k}: {v:.3g}" for k, v in rates.items() if v is not None)
            return (
                f"a learning rate far above the usual 1e-4..1e-3 ({shown}) made the weights diverge; lower it "
                f"(--g-lr/--d-lr)."
            )
        if any(not math.isfinite(v) or v > 1e3 for v in norms.values()):
            return (
                "exploding gradients (" + ", ".join(f"{k}={v:.3g}" for k, v in norms.items()) + "): lower the "
                "learning rates, or stabilise the discriminator (gp_weight, spectral_norm=True, r1_gamma)."
            )
        if policy == "mixed_float16":
            return (
                "float16 overflow under mixed_float16 (loss scaling could not absorb it): train in "
                "mixed_bfloat16 or float32, or lower the learning rates."
            )
        return (
            "a numerical blow-up in the losses or penalties: lower the learning rates, and check that the data "
            "are finite and in [-1, 1]."
        )


def _as_float(value) -> float | None:
    try:
        return float(keras.ops.convert_to_numpy(value).reshape(-1)[0]) if value is not None else None
    except (TypeError, ValueError, IndexError):
        return None
