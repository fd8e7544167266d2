"""File-level image-to-image inference: read an image, translate or upscale it, write a PNG.

``model`` is anything :func:`ganzoo.deploy.loading.load` takes (a zoo name, a ``.keras`` file,
an export folder) or an already loaded model; ``backend="onnx"`` runs the export in ONNX Runtime
(:class:`ganzoo.deploy.runtime.OnnxImageModel`) with no TensorFlow in the computation.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganzoo.deploy import loading
from ganzoo.utils.images import read_image, save_png


def image_model(model, backend: str = "keras", what: str = "translate"):
    """``model`` loaded (if a name or path) and checked to offer ``what`` (``translate`` or ``upscale``)."""
    loaded = loading.load(model, backend=backend) if isinstance(model, (str, os.PathLike)) else model
    if not callable(getattr(loaded, what, None)):  # an image-to-image ONNX export's upscale() refuses by itself
        kind = getattr(loaded, "architecture", type(loaded).__name__)
        raise TypeError(
            f"{model!s} is a {kind} model, which cannot {what} images; use an "
            f"{'image-to-image' if what == 'translate' else 'super-resolution'} model."
        )
    return loaded


def translate_file(model, in_path, out_path, direction: str | None = None, backend: str = "keras") -> Path:
    """``ganzoo translate``: read ``in_path``, translate (any size: padded to the model's multiple), write ``out_path``."""
    return save_png(image_model(model, backend).translate(read_image(in_path), direction)[0], out_path)


def upscale_file(
    model, in_path, out_path, tile: int | None = 128, overlap: int | None = None, backend: str = "keras"
) -> Path:
    """``ganzoo upscale``: read ``in_path``, upscale in ``tile`` x ``tile`` LR tiles (None: whole image), write ``out_path``.

    ``overlap`` defaults to the model's receptive radius, which makes tiling invisible.
    """
    upscaler = image_model(model, backend, "upscale")
    return save_png(upscaler.upscale(read_image(in_path), tile=tile, overlap=overlap)[0], out_path)
