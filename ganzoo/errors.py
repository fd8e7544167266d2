"""Every error ganzoo raises on bad input, and the "did you mean" helper.

Each message names what was wrong and what was expected (docs/ERRORS.md has the table).
Most are ``ValueError`` subclasses, raised before anything is written, so a bad input never
corrupts a checkpoint, a cache or an export.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


class InputError(ValueError):
    """Data or arguments handed to a model that do not fit it."""


class ModelFileError(ValueError):
    """A model, weights or export file that cannot be read, or that belongs to another model."""


class DataError(ValueError):
    """A data source or argument that cannot give the dataset asked for.

    A ValueError, so that callers that already catch bad values keep working.
    """


class DistributionError(ValueError):
    """A strategy, cluster or batch configuration that cannot work, with what was expected."""


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or an infinite loss."""


class ExportError(ValueError):
    """An export that could not be produced or did not reproduce the Keras generator."""


class IntegrityError(ValueError):
    """A zoo entry's files do not match its card: changed, missing or unlisted."""

    def __init__(self, message: str, file: str | None = None, expected: str | None = None, actual: str | None = None):
        super().__init__(message)
        self.file, self.expected, self.actual = file, expected, actual


class DownloadError(OSError):
    """A download failed (HTTP or connection error, truncated transfer, wrong hash); nothing was cached."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"Could not download {url}: {reason}")
        self.url, self.reason = url, reason


class OfflineError(DownloadError):
    """A file is needed from the network but offline mode is on and it is not cached."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction folder (absolute path, ``..``, link, device)."""


class DemoBuildError(ValueError):
    """A browser demo that cannot be built: onnxruntime-web missing or of another version, a model without
    an ONNX export or over the size budget, or an output folder that holds something else."""
