"""Keras callbacks that show a GAN's progress as pictures, and its learning-rate decay.

* :class:`SampleGrid`: a PNG grid of fixed-seed samples every N epochs (the same
  latent vectors each time, so the change is the model's), optionally also written
  as a TensorBoard image summary. Models of 2-D points get a scatter plot instead.
* :class:`LossCurves`: a PNG of the epoch losses and discriminator outputs at the end.
* :class:`LinearLearningRateDecay`: CycleGAN's and pix2pix's constant-then-linear schedule, per epoch.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ganzoo.errors import InputError
from ganzoo.objectives.schedules import LinearDecay
from ganzoo.utils.images import image_grid, plot_points, pyplot, save_grid, save_panel


def default_labels(model, n: int) -> np.ndarray | None:
    """Labels that give a conditional model's grid one class per column, cycling."""
    if not getattr(model, "is_conditional", False):
        return None
    return np.arange(n, dtype=np.int32) % model.num_classes


class SampleGrid(keras.callbacks.Callback):
    """Write ``model.generate(n, seed=seed)`` as ``out_dir/epoch_XXX.png`` every ``every`` epochs.

    Args:
        out_dir: folder of the PNG files.
        every: epochs between grids (the last epoch always gets one).
        n: number of samples.
        seed: fixes the latent vectors, so successive grids are comparable.
        labels: class labels for conditional models (default: cycling through the classes).
        tensorboard_dir: if set, the grid is also logged there as an image summary.
        reference: for 2-D point models, true mode centres drawn under the samples.
    """

    def __init__(
        self,
        out_dir: str | Path,
        every: int = 1,
        n: int = 64,
        seed: int = 0,
        labels=None,
        tensorboard_dir: str | Path | None = None,
        reference: np.ndarray | None = None,
    ):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}.")
        self.out_dir = Path(out_dir)
        self.every = every
        self.n = n
        self.seed = seed
        self.labels = labels
        self.tensorboard_dir = tensorboard_dir
        self.reference = reference
        self._writer = None
        self.written: list[Path] = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every and epoch + 1 != last:
            return
        self.write(epoch + 1)

    def write(self, epoch: int) -> Path:
        labels = self.labels if self.labels is not None else default_labels(self.model, self.n)
        samples = self.model.generate(self.n, seed=self.seed, labels=labels)
        path = self.out_dir / f"epoch_{epoch:03d}.png"
        if samples.ndim == 2:
            plot_points(samples, path, reference=self.reference, title=f"epoch {epoch}")
        else:
            columns = self.model.num_classes if labels is not None and self.labels is None else None
            save_grid(samples, path, columns=columns)
            self._log_tensorboard(image_grid(samples, columns), epoch)
        self.written.append(path)
        return path

    def _log_tensorboard(self, grid: np.ndarray, epoch: int) -> None:
        if self.tensorboard_dir is None:
            return

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.tensorboard_dir))
        with self._writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch)
        self._writer.flush()


class TranslationPanels(keras.callbacks.Callback):
    """The :class:`SampleGrid` of image-to-image models: ``input | output | target`` rows of fixed inputs.

    Writes ``out_dir/epoch_XXX.png`` every ``every`` epochs (and after the last), translating the same
    held-out ``sources`` each time with ``model.translate`` (the EMA generator when enabled).
    """

    def __init__(self, out_dir: str | Path, sources: np.ndarray, targets: np.ndarray, every: int = 1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}.")
        if len(sources) != len(targets) or len(sources) == 0:
            raise ValueError(f"need as many sources as targets (at least one), got {len(sources)} and {len(targets)}.")
        self.out_dir, self.sources, self.targets, self.every = Path(out_dir), sources, targets, int(every)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        last = epoch + 1 == (self.params or {}).get("epochs")
        if (epoch + 1) % self.every == 0 or last:
            outputs = self.model.translate(self.sources, raw=True)
            save_panel([self.sources, outputs, self.targets], self.out_dir / f"epoch_{epoch + 1:03d}.png")


class LossCurves(keras.callbacks.Callback):
    """Plot the epoch logs (losses, discriminator outputs) to a PNG when training ends."""

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))

    def on_train_end(self, logs=None) -> None:
        if self.history:
            self.plot()

    def plot(self) -> Path:
        plt = pyplot()
        panels = [
            ("losses", [k for k in self.history if k.endswith("loss")]),
            (
                "discriminator",
                [k for k in self.history if k.removeprefix("val_") in ("d_real", "d_fake", "d_accuracy")],
            ),
        ]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        for ax, (title, names) in zip(axes, panels):
            for name in names:
                values = self.history[name]
                ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 20 else None, label=name)
            ax.set_title(title)
            ax.set_xlabel("epoch")
            if names:
                ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        return self.path


class LinearLearningRateDecay(keras.callbacks.Callback):
    """Every optimizer's learning rate constant for ``constant_epochs``, then linearly towards 0.

    The schedule of CycleGAN and of the pix2pix code (100 constant + 100 decaying epochs in the paper),
    stepped once per epoch as their official code steps it: epoch ``e`` (from 0) runs at
    ``lr * (1 - max(0, e + 1 - constant_epochs) / (decay_epochs + 1))``. It sets the ``g_optimizer`` and
    ``d_optimizer`` of a ganzoo GAN (or a plain Keras model's ``optimizer``), starting from the rates they
    have when the callback first sees the model. The rate depends on the epoch index alone, so a resumed
    run trains at the rates of an uninterrupted one. (:func:`ganzoo.models.cyclegan.paper_optimizers`
    puts the same schedule, per step, inside the optimizers.)
    """

    def __init__(self, constant_epochs: int, decay_epochs: int):
        super().__init__()
        if constant_epochs < 0 or decay_epochs < 1:
            raise InputError(
                f"LinearLearningRateDecay needs constant_epochs >= 0 and decay_epochs >= 1, got "
                f"{constant_epochs} and {decay_epochs}."
            )
        self.schedule = LinearDecay(1.0, constant_epochs, decay_epochs + 1)
        self.base_rates: dict[str, float] | None = None

    def _optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        found = {name: getattr(self.model, name, None) for name in ("g_optimizer", "d_optimizer", "optimizer")}
        found = {name: opt for name, opt in found.items() if isinstance(opt, keras.optimizers.Optimizer)}
        if not found:
            raise InputError("LinearLearningRateDecay: the model has no compiled optimizer; call compile() first.")
        # A float16 run's LossScaleOptimizer holds the schedule (if any) in its inner optimizer.
        scheduled = [
            name for name, opt in found.items() if callable(getattr(opt, "inner_optimizer", opt)._learning_rate)
        ]
        if scheduled:
            raise InputError(
                f"LinearLearningRateDecay: {', '.join(scheduled)} already has a learning-rate schedule; use a "
                f"constant learning rate with this callback, or the schedule alone."
            )
        return found

    def set_model(self, model) -> None:
        super().set_model(model)
        if self.base_rates is None:  # before any restore: the rates the run was compiled with
            self.base_rates = {
                name: float(keras.ops.convert_to_numpy(opt.learning_rate)) for name, opt in self._optimizers().items()
            }

    def factor(self, epoch: int) -> float:
        """The fraction of the base rates that epoch ``epoch`` (from 0) trains at."""
        return float(keras.ops.convert_to_numpy(self.schedule(epoch + 1)))

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        factor = self.factor(epoch)
        for name, opt in self._optimizers().items():
            opt.learning_rate = self.base_rates[name] * factor
