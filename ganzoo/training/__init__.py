"""Training: runs as data (``TrainConfig`` + ``train``), callbacks, reliability and diagnostics.

* :mod:`ganzoo.training.run`: a complete run folder from a config (what ``ganzoo train`` does).
* :mod:`ganzoo.training.callbacks`: sample grids, translation panels, loss curves.
* :mod:`ganzoo.training.reliability`: atomic checkpoints, exact resume, stopping on NaN.
* :mod:`ganzoo.training.diagnostics`: ``GANMonitor``, which names a failing run's failure.
"""

from ganzoo.training.run import TrainConfig, build_model, load_dataset, train

__all__ = ["TrainConfig", "build_model", "load_dataset", "train"]
