"""ganzoo: a Keras model zoo of generative adversarial networks.

    import ganzoo
    model = ganzoo.create("dcgan", image_shape=(16, 16, 1))
    model.compile()
    model.fit(ganzoo.data.load("digits", batch_size=64), epochs=5)
    images = model.generate(16, seed=0)   # uint8, (16, 16, 16, 1)

Attributes are imported on first use, so ``import ganzoo.runtime`` (the ONNX Runtime
inference path) and ``ganzoo --help`` never pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import platform
import sys

# TensorFlow turns its oneDNN kernels on by itself only on x86 CPUs with AVX-512 VNNI/AMX-class
# features; on plain AVX2 machines they still train ganzoo's conv nets 1.5-1.7x faster
# (docs/BENCHMARKS.md). This only takes effect before TensorFlow is imported; TF_ENABLE_ONEDNN_OPTS=0 opts out.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "GAN": ("ganzoo.models.base", "GAN"),
    "create": ("ganzoo.models", "create"),
    "list_architectures": ("ganzoo.models", "list_architectures"),
    "register_architecture": ("ganzoo.registry", "register_architecture"),
    "load_model": ("ganzoo.deploy.loading", "load_model"),
    "load": ("ganzoo.deploy.loading", "load"),
    "list_models": ("ganzoo.deploy.zoo", "list_models"),
    "info": ("ganzoo.deploy.zoo", "info"),
    "register": ("ganzoo.deploy.zoo", "register"),
    "export": ("ganzoo.deploy.exporter", "export"),
    "callbacks": ("ganzoo.training.callbacks", None),
    "data": ("ganzoo.data", None),
    "diagnostics": ("ganzoo.training.diagnostics", None),
    "losses": ("ganzoo.objectives.losses", None),
    "metrics": ("ganzoo.evaluation.metrics", None),
    "training": ("ganzoo.training", None),
    "runtime": ("ganzoo.deploy.runtime", None),
    "zoo": ("ganzoo.deploy.zoo", None),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _ModuleAliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import ganzoo.runtime`` (and the other public modules above) imports the module it stands for.

    The short public names are the ones users type (``from ganzoo.runtime import load``); the
    modules live in their layer (``ganzoo.deploy.runtime``). An alias is the same module object,
    never a copy.
    """

    aliases = {
        f"ganzoo.{name}": target
        for name, (target, attribute) in _LAZY.items()
        if attribute is None and target != f"ganzoo.{name}"
    }

    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in self.aliases else None

    def create_module(self, spec):
        return importlib.import_module(self.aliases[spec.name])

    def exec_module(self, module) -> None:
        """The target module is already executed."""


if not any(isinstance(finder, _ModuleAliases) for finder in sys.meta_path):
    sys.meta_path.append(_ModuleAliases())
