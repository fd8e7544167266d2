"""The library versions a result was made with, read from the installed distributions.

Reading package metadata imports nothing, so recording versions never pulls TensorFlow into a
TensorFlow-free command (``ganzoo list``) or the ONNX runtime.
"""

from __future__ import annotations

import platform
from importlib import metadata

# module -> distributions that provide it, first match wins
_DISTRIBUTIONS = {
    "ganzoo": ("ganzoo",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tf-nightly"),
    "keras": ("keras",),
    "tf2onnx": ("tf2onnx",),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "numpy": ("numpy",),
}


def versions(*modules: str) -> dict[str, str | None]:
    """``{module: version or None}`` for ``modules`` (default: all of ganzoo's stack) plus ``python``."""
    result: dict[str, str | None] = {}
    for module in modules or tuple(_DISTRIBUTIONS):
        version = None
        for name in _DISTRIBUTIONS.get(module, (module,)):
            try:
                version = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
        result[module] = version
    result["python"] = platform.python_version()
    return result
