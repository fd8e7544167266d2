"""File helpers shared by the zoo, export, the runtime and checkpoints (standard library only)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

CHUNK = 1 << 20
OFFLINE_ENV = "GANZOO_OFFLINE"


def offline_mode() -> bool:
    """Whether ``$GANZOO_OFFLINE`` forbids network access (1, true, yes or on): the zoo and the data sets ask it."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, data, **dump_options) -> None:
    """Write ``data`` as indented JSON, atomically (see :func:`atomic_write_bytes`); NaN is refused."""
    text = json.dumps(data, indent=2, allow_nan=False, **dump_options) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
