"""Moved from ganzoo.nets_image (issue 12 layout move)."""

from __future__ import annotations

import keras
from keras import ops


# ---------------------------------------------------------------------------------- schedule
@keras.saving.register_keras_serializable(package="ganzoo")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``initial_learning_rate`` for ``constant_steps``, then linearly to 0 over ``decay_steps``.

    CycleGAN's (and the pix2pix code's) schedule: 100 epochs at 2e-4, then 100 epochs of linear
    decay; pass epochs x steps_per_epoch. Serializable, so it survives ``model.save``.
    """

    def __init__(self, initial_learning_rate: float, constant_steps: int, decay_steps: int):
        if constant_steps < 0 or decay_steps < 1:
            raise ValueError(f"need constant_steps >= 0 and decay_steps >= 1, got {constant_steps}, {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.constant_steps = int(constant_steps)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.constant_steps) / float(self.decay_steps), 0.0, 1.0)
        return self.initial_learning_rate * (1.0 - progress)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "constant_steps": self.constant_steps,
            "decay_steps": self.decay_steps,
        }
