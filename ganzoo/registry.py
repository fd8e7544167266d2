"""Architectures by name: a variant registers itself with :func:`register_architecture`.

The registry imports no architecture: ``ganzoo.models`` imports every built-in variant (which
registers it) and offers ``create`` and ``list_architectures`` on top of this dict, so adding a
variant never touches this file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from ganzoo.errors import unknown_name_error

_ARCHITECTURES: dict[str, type] = {}


def register_architecture(name: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`ganzoo.GAN` subclass creatable by ``name``."""

    def decorator(cls: type) -> type:
        if name in _ARCHITECTURES and _ARCHITECTURES[name] is not cls:
            raise ValueError(f"Architecture {name!r} is already registered by {_ARCHITECTURES[name].__name__}.")
        _ARCHITECTURES[name] = cls
        cls.architecture = name
        return cls

    return decorator


def registered(pattern: str | None = None) -> list[str]:
    """Names registered so far, optionally filtered by a glob pattern."""
    return [n for n in sorted(_ARCHITECTURES) if pattern is None or fnmatch.fnmatch(n, pattern)]


def lookup(name: str) -> type:
    """The class registered as ``name``; an unknown name lists the valid ones."""
    if name not in _ARCHITECTURES:
        raise unknown_name_error("architecture", name, _ARCHITECTURES)
    return _ARCHITECTURES[name]
