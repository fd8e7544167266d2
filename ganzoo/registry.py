"""Architectures by name: ``create("dcgan", image_shape=(32, 32, 3))``.

A variant registers itself with :func:`register_architecture`; the registry is the
only thing ``create`` and ``list_architectures`` know about, so adding a variant
never touches this file.
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from ganzoo.base import GAN

_ARCHITECTURES: dict[str, type] = {}


class UnknownNameError(KeyError):
    """A name that is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])


def unknown_name_error(kind: str, name: str, valid: Iterable[str]) -> UnknownNameError:
    """An error for an unknown ``name`` that suggests the closest valid names."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return UnknownNameError(f"Unknown {kind} {name!r}.{hint} Valid names: {', '.join(valid) or '(none)'}.")


def register_architecture(name: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`ganzoo.GAN` subclass creatable by ``name``."""

    def decorator(cls: type) -> type:
        if name in _ARCHITECTURES and _ARCHITECTURES[name] is not cls:
            raise ValueError(f"Architecture {name!r} is already registered by {_ARCHITECTURES[name].__name__}.")
        _ARCHITECTURES[name] = cls
        cls.architecture = name
        return cls

    return decorator


def _import_builtin_architectures() -> None:
    """Register ganzoo's own variants (their modules register themselves on import)."""
    import ganzoo.architectures  # noqa: F401


def list_architectures(pattern: str | None = None) -> list[str]:
    """Names of the registered architectures, optionally filtered by a glob pattern."""
    _import_builtin_architectures()
    names = sorted(_ARCHITECTURES)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def architecture_class(name: str) -> type:
    _import_builtin_architectures()
    if name not in _ARCHITECTURES:
        raise unknown_name_error("architecture", name, _ARCHITECTURES)
    return _ARCHITECTURES[name]


def create(name: str, **config) -> "GAN":
    """Build an uncompiled model of architecture ``name``; ``config`` goes to its constructor."""
    return architecture_class(name)(**config)
