"""File helpers shared by the zoo, export, the runtime and checkpoints (standard library only).

One mechanism each: :func:`sha256_file` for hashes, :func:`atomic_write_bytes` (temporary file,
fsync, rename, fsync of the folder) for every small file ganzoo writes, :func:`temporary_path`
for the temporary names of bigger writers, and :func:`remove_stale_temporaries` to clear what a
killed writer left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

CHUNK = 1 << 20
OFFLINE_ENV = "GANZOO_OFFLINE"


def offline_mode() -> bool:
    """Whether ``$GANZOO_OFFLINE`` forbids network access (1, true, yes or on): the zoo and the data sets ask it."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# Temporary files are named ".tmp-<pid>-<final name>[.<random>]" so that the files of a writer that
# was killed can be told from those of a live one (see remove_stale_temporaries).
_TEMPORARY = re.compile(r"^\.tmp-(\d+)-")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary name beside ``path`` that this process writes before renaming it to ``path``."""
    path = Path(path)
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a written file to disk (before it is renamed into place)."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries to disk (after a rename), where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not supported on every platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: str | os.PathLike) -> None:
    """Flush every file and folder below ``folder`` (before the folder is renamed into place)."""
    for dirpath, _, filenames in os.walk(folder):
        for filename in filenames:
            fsync_file(Path(dirpath, filename))
        fsync_dir(dirpath)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{temporary_path(path).name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, data, **dump_options) -> None:
    """Write ``data`` as indented JSON, atomically (see :func:`atomic_write_bytes`); NaN is refused."""
    text = json.dumps(data, indent=2, allow_nan=False, **dump_options) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that writers which are no longer running left in ``folder``; return them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        match = _TEMPORARY.match(entry.name)
        if match and entry.is_file() and not _alive(int(match.group(1))):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
