"""Data: every pipeline yields float32 images in [-1, 1] (NHWC), batched ``tf.data``.

* :mod:`ganzoo.data.datasets`: ``load(spec)`` for image and point datasets (``digits``, ``faces``,
  ``ring8``, ``grid25``, ``tfds:NAME``, ``folder:PATH``) and ``from_arrays``.
* :mod:`ganzoo.data.pairs`: paired and unpaired pipelines for image-to-image and
  super-resolution models, and the embedded scikit-image tasks.
"""

from ganzoo.data.datasets import (
    IMAGE_EXTENSIONS,
    SPECS,
    from_arrays,
    load,
    mixture_modes,
    num_examples,
)
from ganzoo.data.pairs import TASKS, load_pairs, load_unpaired, pairs_from_arrays
from ganzoo.errors import DataError

__all__ = [
    "DataError",
    "IMAGE_EXTENSIONS",
    "SPECS",
    "TASKS",
    "from_arrays",
    "load",
    "load_pairs",
    "load_unpaired",
    "mixture_modes",
    "num_examples",
    "pairs_from_arrays",
]
