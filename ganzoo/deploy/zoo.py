"""The zoo registry: pretrained models by name, as data (``ganzoo.load("dcgan-digits")`` loads one).

The zoo is data, not code. Each entry is a folder ``<name>/`` holding a
``card.json`` and the files the card lists with their sha256::

    exported/dcgan-digits/
        card.json        name, architecture, config, files {path: sha256}, data,
                         training, metrics, license, intended_use, limitations,
                         sizes, created, versions
        model.keras      the full Keras model (keras.saving.load_model, safe_mode=True)
        generator.onnx   ... any other artifact, each listed in card["files"]

Adding a pretrained model means adding a folder (see ``exported/README.md``).
Entries are looked up, first match wins, in:

1. names added at run time with :func:`register` (a user's own remote entries);
2. the folders in ``$GANZOO_ZOO_DIR`` (``os.pathsep``-separated), for extra entries;
3. the bundled folder: ``ganzoo/_exported`` in an installed wheel, or the
   repository's ``exported/`` in a source checkout or an editable install.

A card may point at a remote artifact instead of holding files: ``"url"`` (http or https;
:func:`register` also takes a ``file:`` URL of a regular file) and ``"sha256"`` of either a
``.keras`` file or a ``.zip``/``.tar.gz`` of an entry folder. It is downloaded once into
:func:`cache_dir` (``$GANZOO_CACHE``, default ``~/.cache/ganzoo``), streamed to a temporary
file (at most ``GANZOO_DOWNLOAD_MAX_BYTES``, within ``GANZOO_DOWNLOAD_DEADLINE`` seconds),
hash-checked, extracted within :data:`MAX_ARCHIVE_MEMBERS` and :data:`MAX_EXTRACTED_BYTES`, and
only then moved into place, with a record of the download (``<sha256[:16]>.source.json``: its
sha256 and its card's) beside it. ``GANZOO_OFFLINE=1`` (or ``offline=True``) never touches the
network but still serves what is cached.

Every file is hash-checked against the card before anything is read, and a cached entry's card
against the record of the registered sha256: a changed, missing, unlisted or special file, or a
cache rewritten behind ganzoo's back, raises :class:`IntegrityError` and nothing is loaded.

This module never imports TensorFlow (``ganzoo list`` and ``ganzoo info`` answer at once);
loading an entry's model is :func:`ganzoo.deploy.loading.load`.
"""

from __future__ import annotations

import copy
import datetime
import fnmatch
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from ganzoo import __version__
from ganzoo.errors import (
    DownloadError,
    IntegrityError,
    OfflineError,
    UnknownNameError,
    UnsafeArchiveError,
    unknown_name_error,
)
from ganzoo.utils.files import CHUNK, offline_mode, sha256_file, write_json
from ganzoo.utils.versions import versions

__all__ = [
    "CARD_FILE",
    "REQUIRED_CARD_FIELDS",
    "DownloadError",
    "IntegrityError",
    "OfflineError",
    "UnsafeArchiveError",
    "bundled_dir",
    "cache_dir",
    "headline_metrics",
    "info",
    "is_offline",
    "list_models",
    "path",
    "register",
    "unregister",
    "validate_card",
    "verify",
    "write_card",
    "zoo_dirs",
]

CARD_FILE = "card.json"
MODEL_FILE = "model.keras"
# Fields every zoo card must carry (write_card fills name, files, sizes, created, versions).
REQUIRED_CARD_FIELDS = (
    "name",
    "architecture",
    "config",
    "files",
    "data",
    "training",
    "metrics",
    "license",
    "intended_use",
    "limitations",
    "sizes",
    "created",
    "versions",
)
# A card's main quality numbers, in this order when present (dotted keys look into nested metrics).
HEADLINE_METRICS = (
    "fid",
    "kid",
    "precision",
    "recall",
    "class_accuracy",
    "cas.cas",
    "modes_covered",
    "high_quality_fraction",
    "psnr_y",
    "bicubic_psnr_y",
    "model.psnr_rgb",
    "baseline.psnr_rgb",
    "a2b_judged_b",
    "a2b_psnr_rgb",
    "test_accuracy",
)
_DOCUMENTED_FIELDS = ("architecture", "config", "data", "training", "metrics", "license", "intended_use", "limitations")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_URL_SCHEMES = ("http", "https")
_REGISTER_SCHEMES = (*_URL_SCHEMES, "file")  # register() may name a local file; a card's "url" may not
DEFAULT_TIMEOUT_S = 60.0  # per read: GANZOO_DOWNLOAD_TIMEOUT
DEFAULT_DEADLINE_S = 3600.0  # for a whole download: GANZOO_DOWNLOAD_DEADLINE
DEFAULT_MAX_DOWNLOAD_BYTES = 8 << 30  # GANZOO_DOWNLOAD_MAX_BYTES
MAX_ARCHIVE_MEMBERS = 10_000
MAX_EXTRACTED_BYTES = 16 << 30
SOURCE_RECORD = ".source.json"  # <cache>/<name>/<sha256[:16]>.source.json: which download made a cached entry

_REGISTERED: dict[str, dict[str, Any]] = {}


# ------------------------------------------------------------------ locations
def cache_dir() -> Path:
    """Where downloads go: ``$GANZOO_CACHE`` or ``~/.cache/ganzoo`` (not created here)."""
    env = os.environ.get("GANZOO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganzoo"


def bundled_dir() -> Path | None:
    """The zoo shipped with ganzoo: ``ganzoo/_exported`` (wheel) or the checkout's ``exported/``."""
    package = Path(__file__).resolve().parent.parent  # ganzoo/
    installed = package / "_exported"
    if installed.is_dir():
        return installed
    checkout = package.parent / "exported"  # source tree or editable install
    if checkout.is_dir() and (package.parent / "pyproject.toml").is_file():
        return checkout
    return None


def zoo_dirs() -> list[Path]:
    """The folders searched for entries, in order: ``$GANZOO_ZOO_DIR`` then the bundled zoo."""
    dirs = []
    for part in os.environ.get("GANZOO_ZOO_DIR", "").split(os.pathsep):
        if not part:
            continue
        folder = Path(part).expanduser()
        if not folder.is_dir():
            raise NotADirectoryError(f"GANZOO_ZOO_DIR names {str(folder)!r}, which is not a directory.")
        dirs.append(folder)
    bundled = bundled_dir()
    if bundled is not None:
        dirs.append(bundled)
    return dirs


def _folder_entries() -> dict[str, Path]:
    entries: dict[str, Path] = {}
    for root in zoo_dirs():
        for child in sorted(root.iterdir()):
            if child.name.startswith(".") or not (child / CARD_FILE).is_file():
                continue
            entries.setdefault(child.name, child)
    return entries


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the zoo entries, sorted, optionally filtered by a glob ``pattern`` (``"dcgan-*"``)."""
    names = set(_folder_entries()) | set(_REGISTERED)
    return sorted(n for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern))


def _entry(name: str) -> tuple[dict[str, Any], Path | None]:
    """``(card, folder)`` of entry ``name``; folder is None for a registered entry."""
    if name in _REGISTERED:
        return copy.deepcopy(_REGISTERED[name]), None
    folder = _folder_entries().get(name)
    if folder is None:
        raise unknown_name_error("zoo model", name, list_models())
    return _read_card(folder, name), folder


def _read_card(folder: Path, name: str | None = None) -> dict[str, Any]:
    card_path = folder / CARD_FILE
    _check_regular(card_path, folder)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise IntegrityError(
            f"Zoo card {card_path} is not UTF-8 text; a card is a JSON file.", file=CARD_FILE
        ) from None
    except RecursionError:
        raise IntegrityError(f"Zoo card {card_path} is nested too deeply to be a zoo card.", file=CARD_FILE) from None
    except (OSError, json.JSONDecodeError) as error:
        raise IntegrityError(f"Cannot read zoo card {card_path}: {error}", file=CARD_FILE) from error
    if not isinstance(card, dict):
        raise IntegrityError(f"Zoo card {card_path} must hold a JSON object.", file=CARD_FILE)
    if name is not None and card.get("name") != name:
        raise IntegrityError(
            f"Zoo card {card_path} has name {card.get('name')!r}, but its folder is named {name!r}.", file=CARD_FILE
        )
    return card


def unknown_model_error(name: str) -> UnknownNameError:
    """The error for a name that is not in the zoo, with the closest names."""
    return unknown_name_error("zoo model", name, list_models())


def headline_metrics(card: dict[str, Any]) -> dict[str, Any]:
    """The card's main quality numbers (:data:`HEADLINE_METRICS` found in ``card["metrics"]``), for
    ``ganzoo list`` and the demo page."""
    found = {}
    for key in HEADLINE_METRICS:
        value: Any = card.get("metrics", {})
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            found[key] = value
    return found


def info(name: str) -> dict[str, Any]:
    """The card of entry ``name`` (a copy; nothing is downloaded or verified)."""
    return _entry(name)[0]


# ------------------------------------------------------------ verification
def _check_regular(full: Path, folder: Path) -> None:
    """Refuse a link or a special file (FIFO, device, socket), which could escape the entry or block a read."""
    try:
        mode = os.lstat(full).st_mode
    except FileNotFoundError:
        return  # reported as missing by the caller
    if stat.S_ISLNK(mode):
        raise IntegrityError(f"Zoo entry {folder} contains a symbolic link {full}; links are not allowed.")
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise IntegrityError(
            f"Zoo entry {folder} contains {full}, which is not a regular file (a FIFO, device or socket); "
            "only regular files are allowed."
        )


def _relative_files(folder: Path) -> Iterator[str]:
    """Every file below ``folder`` except the card, as POSIX relative paths; links and special files are refused."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for entry in (*dirnames, *filenames):
            _check_regular(Path(dirpath, entry), folder)
        for filename in filenames:
            relative = Path(dirpath, filename).relative_to(folder).as_posix()
            if relative != CARD_FILE:
                yield relative


def _check_relative_path(relative: str, where: str) -> None:
    parts = PurePosixPath(relative).parts
    if not relative or relative.startswith("/") or "\\" in relative or ".." in parts or ":" in relative:
        raise IntegrityError(f"{where} lists an unsafe file path {relative!r}.", file=relative)


def verify(folder: str | os.PathLike) -> dict[str, Any]:
    """Check every file of the entry ``folder`` against its card; return the card.

    Raises :class:`IntegrityError` if a listed file is missing or has another sha256,
    or if the folder holds a file the card does not list.
    """
    folder = Path(folder)
    card = _read_card(folder)
    files = card.get("files")
    if not isinstance(files, dict) or not files:
        raise IntegrityError(f"Zoo card {folder / CARD_FILE} lists no files (a 'files' mapping path -> sha256).")
    for relative, expected in files.items():
        _check_relative_path(relative, f"Zoo card {folder / CARD_FILE}")
        if not isinstance(expected, str) or not _SHA256.match(expected):
            raise IntegrityError(
                f"Zoo card {folder / CARD_FILE} gives {relative!r} an invalid sha256 {expected!r}.", file=relative
            )
    present = set(_relative_files(folder))
    missing = sorted(set(files) - present)
    if missing:
        raise IntegrityError(
            f"Zoo entry {folder} is missing {missing[0]!r}, listed in its card with sha256 {files[missing[0]]}"
            + (f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else "")
            + ".",
            file=missing[0],
            expected=files[missing[0]],
        )
    extra = sorted(present - set(files))
    if extra:
        raise IntegrityError(
            f"Zoo entry {folder} holds {extra[0]!r}, which its card does not list"
            + (f" (also unlisted: {', '.join(extra[1:])})" if len(extra) > 1 else "")
            + "; list it with its sha256 (ganzoo.zoo.write_card) or remove it.",
            file=extra[0],
        )
    for relative in sorted(files):
        actual = sha256_file(folder / relative)
        if actual != files[relative]:
            raise IntegrityError(
                f"Zoo entry {folder}: {relative!r} has sha256 {actual}, but its card expects {files[relative]}. "
                "The file was changed or corrupted; restore it or re-download the entry.",
                file=relative,
                expected=files[relative],
                actual=actual,
            )
    return card


def validate_card(card: dict[str, Any]) -> list[str]:
    """Problems that keep ``card`` from being a complete zoo card (empty when it is one)."""
    required = REQUIRED_CARD_FIELDS
    if "url" in card:  # a pointer to a remote artifact: its files are listed by the artifact
        required = tuple(f for f in required if f not in ("files", "sizes", "created", "versions")) + ("sha256",)
    problems = [f"missing field {field!r}" for field in required if card.get(field) in (None, "", {}, [])]
    if "name" in card and not (isinstance(card["name"], str) and _NAME.match(card["name"])):
        problems.append(f"invalid name {card['name']!r} (letters, digits, '.', '_', '-')")
    metrics = card.get("metrics")
    if isinstance(metrics, dict) and metrics and "protocol" not in metrics:
        problems.append("metrics has no 'protocol' (extractor, n_real, n_fake)")
    if isinstance(card.get("files"), dict) and MODEL_FILE not in card["files"]:
        problems.append(f"files does not list {MODEL_FILE!r}")
    return problems


# ------------------------------------------------------------------ loading
def is_offline(offline: bool | None = None) -> bool:
    """Offline mode: ``offline`` when given, else ``$GANZOO_OFFLINE`` (also read by ``ganzoo demo``'s npm fallback)."""
    if offline is not None:
        return bool(offline)
    return offline_mode()


def path(name: str, *, offline: bool | None = None) -> Path:
    """The folder of entry ``name`` with every file verified, downloading a remote entry first."""
    card, folder = _entry(name)
    if "url" not in card:
        return _verify_named(folder, name)
    if folder is not None and set(_relative_files(folder)):
        raise IntegrityError(
            f"Zoo entry {folder} has a card with a 'url' and also local files; a remote entry's folder holds only "
            f"{CARD_FILE}."
        )
    return _fetch(name, card, offline=is_offline(offline), registered=folder is None)


def _verify_named(folder: Path, name: str) -> Path:
    card = verify(folder)
    if card.get("name") != name:
        raise IntegrityError(f"Zoo card in {folder} has name {card.get('name')!r}, expected {name!r}.", file=CARD_FILE)
    return folder


# ------------------------------------------------------------ remote entries
def register(
    name: str,
    url: str,
    sha256: str,
    config: dict[str, Any] | None = None,
    card: dict[str, Any] | None = None,
) -> None:
    """Add a remote entry for this process: a ``.keras`` file or a ``.zip``/``.tar.gz`` of an entry folder.

    ``sha256`` is the hash of the file at ``url``; ``config`` and ``card`` become the
    entry's card (what :func:`info` returns). Registering a name again replaces the
    earlier registration; a name that a zoo folder already provides is refused.
    """
    _check_name(name)
    sha256 = sha256.lower()
    if not _SHA256.match(sha256):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}.")
    _check_url(url, _REGISTER_SCHEMES)
    if name not in _REGISTERED and name in _folder_entries():
        raise ValueError(f"Zoo model {name!r} already exists in {_folder_entries()[name]}; pick another name.")
    entry = dict(card or {})
    entry.update(name=name, url=url, sha256=sha256)
    if config is not None:
        entry["config"] = config
    _REGISTERED[name] = copy.deepcopy(entry)


def unregister(name: str) -> None:
    """Forget an entry added with :func:`register` (its cached files stay)."""
    if name not in _REGISTERED:
        raise unknown_name_error("registered zoo model", name, _REGISTERED)
    del _REGISTERED[name]


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"Invalid zoo model name {name!r}: use letters, digits, '.', '_' and '-'.")


def _check_url(url: str, schemes: tuple[str, ...] = _URL_SCHEMES) -> None:
    """Refuse a URL of another scheme than ``schemes``, and a ``file:`` URL that is not a regular file."""
    if not isinstance(url, str):
        raise ValueError(f"A zoo URL must be a string, got {type(url).__name__}.")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"Unsupported URL {url!r}: the scheme must be one of {', '.join(schemes)}.")
    if parts.scheme.lower() == "file":
        local = Path(urllib.request.url2pathname(parts.path))
        if not local.is_file():  # /dev/zero or a FIFO would never end
            raise ValueError(f"file: URL {url!r} does not name a regular file.")


def _fetch(name: str, card: dict[str, Any], offline: bool, registered: bool = False) -> Path:
    """Download (or find in the cache) the remote entry ``name``; return its verified folder.

    ``registered``: the entry was added with :func:`register` (which may name a ``file:`` URL).
    """
    _check_name(name)
    url, sha256 = card["url"], str(card.get("sha256", "")).lower()
    _check_url(url, _REGISTER_SCHEMES if registered else _URL_SCHEMES)
    if not _SHA256.match(sha256):
        raise IntegrityError(f"Remote zoo entry {name!r} needs a 'sha256' of 64 hex digits, got {sha256!r}.")
    final = cache_dir() / name / sha256[:16]
    record = final.with_name(final.name + SOURCE_RECORD)
    if final.is_dir() and not record.exists() and not _adopt_legacy_cache(final, record, url, sha256):
        if offline:
            raise IntegrityError(
                f"Cached zoo entry {final} was cached by an older ganzoo without a download record, so it cannot be "
                f"tied to the registered sha256 of {name!r}: run once with network access to download it again, "
                "or remove it.",
                expected=sha256,
            )
        _discard(final)  # an older cache that cannot be verified: download it again
    if final.is_dir():
        return _verify_cached(final, record, name, sha256)
    if offline:
        raise OfflineError(
            url,
            f"offline mode is on (GANZOO_OFFLINE=1 or offline=True) and zoo model {name!r} is not in the cache "
            f"({final}). Run once with network access, or copy the entry folder there.",
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    # Everything happens in a private staging folder beside the final one, renamed into
    # place only once downloaded, hash-checked, extracted and verified.
    staging = Path(tempfile.mkdtemp(prefix=f".{sha256[:16]}-", dir=final.parent))
    try:
        download = _download(url, staging / "download", sha256, desc=name)
        if _is_keras_file(url, download):
            folder = staging / "entry"
            folder.mkdir()
            os.replace(download, folder / MODEL_FILE)
            entry = {k: v for k, v in card.items() if k not in ("url", "sha256")}
            entry.update(name=name, files={MODEL_FILE: sha256}, source={"url": url, "sha256": sha256})
            _write_json(folder / CARD_FILE, entry)
        else:
            extract_archive(download, staging / "entry", source=url)
            folder = _entry_root(staging / "entry", url)
        _verify_named(folder, name)
        # The record ties the entry to the registered hash; it is written before the folder appears, so a
        # cached folder without its record is refused, not trusted.
        _write_json(record, {"url": url, "sha256": sha256, "card_sha256": sha256_file(folder / CARD_FILE)})
        try:
            os.replace(folder, final)
        except OSError:
            if not final.is_dir():  # not another process having won the race
                raise
        return _verify_cached(final, record, name, sha256)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            final.parent.rmdir()  # only succeeds if a failure left it empty
        except OSError:
            pass


def _adopt_legacy_cache(folder: Path, record: Path, url: str, sha256: str) -> bool:
    """Write the missing record of a single-file ``.keras`` entry cached by an older ganzoo, if it verifies.

    Such an entry is its model file plus a card ganzoo wrote; the file must hash to the registered
    sha256 and be the card's only file. Archives cannot be checked this way (their hash is the archive's).
    """
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
        files = card.get("files") if isinstance(card, dict) else None
        if files != {MODEL_FILE: sha256} or sha256_file(folder / MODEL_FILE) != sha256:
            return False
    except (OSError, ValueError, RecursionError):
        return False
    _write_json(record, {"url": url, "sha256": sha256, "card_sha256": sha256_file(folder / CARD_FILE)})
    return True


def _discard(folder: Path) -> None:
    """Remove a cache folder: renamed aside first, so that no reader ever sees it half-deleted."""
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}-discarded-", dir=folder.parent))
    try:
        os.replace(folder, aside / folder.name)
    except OSError:
        if folder.is_dir():  # not another process having discarded it first
            raise
    shutil.rmtree(aside, ignore_errors=True)


def _verify_cached(folder: Path, record: Path, name: str, sha256: str) -> Path:
    """A cached remote entry, verified against the hash the user registered (not only against its own card).

    The card lists every file's sha256, and ganzoo's record beside the folder ties the card's own sha256
    to the registered hash of the download.
    """
    problem = None
    try:
        source = json.loads(record.read_text(encoding="utf-8"))
        recorded = source.get("sha256") if isinstance(source, dict) else None
        if recorded != sha256:
            problem = f"its record {record} is for another download (sha256 {recorded!r})"
        elif sha256_file(folder / CARD_FILE) != source.get("card_sha256"):
            problem = f"its {CARD_FILE} is not the one extracted from the download of sha256 {sha256}"
    except (OSError, ValueError, RecursionError) as error:
        problem = f"its download record {record} cannot be read ({type(error).__name__})"
    if problem is not None:
        raise IntegrityError(
            f"Cached zoo entry {folder} does not match the registered sha256 of {name!r}: {problem}. Remove "
            f"{folder} to download it again.",
            expected=sha256,
        )
    return _verify_named(folder, name)


def _is_keras_file(url: str, file: Path) -> bool:
    suffix = urllib.parse.urlsplit(url).path.lower()
    if suffix.endswith(".keras"):
        return True
    if suffix.endswith((".zip", ".tar.gz", ".tgz", ".tar")):
        return False
    if zipfile.is_zipfile(file):  # sniff: a .keras file is a zip with config.json at its root
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
        return "config.json" in names and not any(n.endswith(CARD_FILE) for n in names)
    return False


def _entry_root(extracted: Path, url: str) -> Path:
    """The folder holding card.json: the archive root, or its single top-level folder."""
    if (extracted / CARD_FILE).is_file():
        return extracted
    children = [c for c in extracted.iterdir()]
    if len(children) == 1 and children[0].is_dir() and (children[0] / CARD_FILE).is_file():
        return children[0]
    raise IntegrityError(f"The archive at {url} holds no {CARD_FILE} at its root or in a single top-level folder.")


def _setting(variable: str, default: float) -> float:
    """A positive number from the environment variable ``variable`` (``default`` when unset)."""
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"{variable} must be a positive number, got {text!r}.")
    return value


def _timeout() -> float:
    """Seconds one read may wait (``GANZOO_DOWNLOAD_TIMEOUT``)."""
    return _setting("GANZOO_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT_S)


def _deadline() -> float:
    """Seconds a whole download may take (``GANZOO_DOWNLOAD_DEADLINE``): a server trickling bytes cannot hold a load."""
    return _setting("GANZOO_DOWNLOAD_DEADLINE", DEFAULT_DEADLINE_S)


def _max_bytes() -> int:
    """The largest download accepted (``GANZOO_DOWNLOAD_MAX_BYTES``)."""
    return int(_setting("GANZOO_DOWNLOAD_MAX_BYTES", DEFAULT_MAX_DOWNLOAD_BYTES))


def _download(url: str, destination: Path, sha256: str, desc: str | None = None) -> Path:
    """Stream ``url`` to a temporary file beside ``destination``; move it there once its hash matches.

    Raises :class:`DownloadError` (and leaves no file behind) on an HTTP or connection
    error, a read that waits longer than ``GANZOO_DOWNLOAD_TIMEOUT``, a download that takes longer
    than ``GANZOO_DOWNLOAD_DEADLINE`` or is larger than ``GANZOO_DOWNLOAD_MAX_BYTES``, a transfer
    shorter or longer than its Content-Length, or a wrong hash.
    """
    timeout, deadline, max_bytes = _timeout(), _deadline(), _max_bytes()
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}-", delete=False)
    temporary = Path(handle.name)
    try:
        with handle:
            digest, received, expected_length = hashlib.sha256(), 0, None
            request = urllib.request.Request(url, headers={"User-Agent": f"ganzoo/{__version__}"})
            try:
                end = time.monotonic() + deadline
                with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response:
                    length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
                    expected_length = int(length) if length and length.isdigit() else None
                    if expected_length is not None and expected_length > max_bytes:
                        raise DownloadError(
                            url,
                            f"it announces {expected_length} bytes, more than GANZOO_DOWNLOAD_MAX_BYTES={max_bytes}",
                        )
                    read = getattr(response, "read1", response.read)  # returns what has arrived, not a full chunk
                    with _progress(expected_length, desc) as bar:
                        for chunk in iter(lambda: read(CHUNK), b""):
                            handle.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
                            if received > max_bytes:
                                raise DownloadError(url, f"more than GANZOO_DOWNLOAD_MAX_BYTES={max_bytes} bytes")
                            if time.monotonic() > end:
                                raise DownloadError(
                                    url,
                                    f"not finished after GANZOO_DOWNLOAD_DEADLINE={deadline:g} s ({received} bytes)",
                                )
            except urllib.error.HTTPError as error:
                raise DownloadError(url, f"HTTP error {error.code} {error.reason}") from error
            except urllib.error.URLError as error:
                raise DownloadError(url, f"connection error: {error.reason}") from error
            except TimeoutError as error:
                raise DownloadError(url, f"timed out after {min(timeout, deadline):g} s") from error
            except (http.client.HTTPException, ConnectionError) as error:
                raise DownloadError(url, f"transfer failed: {type(error).__name__}: {error}") from error
            if expected_length is not None and received != expected_length:
                raise DownloadError(
                    url, f"truncated transfer: received {received} bytes, Content-Length announced {expected_length}"
                )
            actual = digest.hexdigest()
            if actual != sha256:
                raise DownloadError(url, f"sha256 mismatch: expected {sha256}, got {actual} ({received} bytes)")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, destination)
        return destination
    finally:
        temporary.unlink(missing_ok=True)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


def _progress(total: int | None, desc: str | None):
    """A tqdm byte progress bar on an interactive stderr, else a no-op."""
    if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


# ----------------------------------------------------------------- archives
def extract_archive(
    archive: str | os.PathLike,
    target: str | os.PathLike,
    source: str | None = None,
    max_members: int | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Extract a ``.zip`` or tar archive into ``target`` after checking every member.

    Raises :class:`UnsafeArchiveError` before writing anything if a member has an
    absolute path, a ``..`` component, or is a link or special file, or if the archive holds
    more than ``max_members`` members or more than ``max_bytes`` once extracted (a zip bomb; defaults
    :data:`MAX_ARCHIVE_MEMBERS` and :data:`MAX_EXTRACTED_BYTES`).
    The sizes are the members' declared ones, which extraction enforces (zip checks each
    member's size and CRC; a tar member is as long as its header says).
    """
    archive, target = Path(archive), Path(target)
    where = source or str(archive)
    max_members = MAX_ARCHIVE_MEMBERS if max_members is None else max_members
    max_bytes = MAX_EXTRACTED_BYTES if max_bytes is None else max_bytes
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()

    def check(member: str) -> None:
        normalized = member.replace("\\", "/")
        parts = PurePosixPath(normalized).parts
        if (
            not normalized
            or normalized.startswith("/")
            or re.match(r"^[A-Za-z]:", normalized)
            or ".." in parts
            or not (root / normalized).resolve().is_relative_to(root)
        ):
            raise UnsafeArchiveError(
                f"Refusing to extract {where}: member {member!r} would be written outside {target}."
            )

    def check_totals(count: int, total: int) -> None:
        if count > max_members:
            raise UnsafeArchiveError(f"Refusing to extract {where}: {count} members, more than {max_members}.")
        if total > max_bytes:
            raise UnsafeArchiveError(
                f"Refusing to extract {where}: {total} bytes once extracted, more than {max_bytes}."
            )

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            check_totals(len(members), sum(m.file_size for m in members))
            for info_ in members:
                check(info_.filename)
                kind = stat.S_IFMT(info_.external_attr >> 16)  # 0 when the zip records no Unix type
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafeArchiveError(
                        f"Refusing to extract {where}: member {info_.filename!r} is not a regular file."
                    )
            zipped.extractall(target)
        return target
    try:
        tarred = tarfile.open(archive, "r:*")
    except tarfile.TarError as error:
        raise UnsafeArchiveError(f"{where} is neither a zip nor a tar archive: {error}") from error
    with tarred:
        members = tarred.getmembers()
        check_totals(len(members), sum(m.size for m in members if m.isfile()))
        for member in members:
            check(member.name)
            if not (member.isfile() or member.isdir()):
                kind = "a link" if (member.issym() or member.islnk()) else "a special file"
                raise UnsafeArchiveError(f"Refusing to extract {where}: member {member.name!r} is {kind}.")
        if hasattr(tarfile, "data_filter"):
            tarred.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4; the checks above already ran
            tarred.extractall(target, members=members)
    return target


# --------------------------------------------------------------- writing cards
def _json_default(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _write_json(file: Path, data: dict[str, Any]) -> None:
    write_json(file, data, sort_keys=True, default=_json_default, ensure_ascii=False)


def write_card(folder: str | os.PathLike, *, model=None, **fields) -> dict[str, Any]:
    """Hash and measure every file in ``folder`` and write its ``card.json``; return the card.

    ``fields`` are the card's documentary fields (``architecture``, ``config``, ``data``,
    ``training``, ``metrics``, ``license``, ``intended_use``, ``limitations``; all
    required). Filled in here: ``name`` (default: the folder's name), ``files``
    (sha256 of each file), ``sizes`` (bytes per file and in total, merged with any
    given ``sizes``; with ``model=`` also parameter counts), ``created`` (today, UTC)
    and ``versions`` (Python and package versions, merged with any given).
    """
    folder = Path(folder)
    fields = dict(fields)
    name = fields.setdefault("name", folder.name)
    _check_name(name)
    missing = [field for field in _DOCUMENTED_FIELDS if fields.get(field) in (None, "", {}, [])]
    if missing:
        raise ValueError(f"write_card({str(folder)!r}) needs the card fields: {', '.join(missing)}.")
    if "files" in fields:
        raise ValueError("write_card computes 'files' itself; do not pass it.")
    files = sorted(_relative_files(folder))
    if not files:
        raise ValueError(f"{folder} holds no files to list in its card.")
    fields["files"] = {relative: sha256_file(folder / relative) for relative in files}
    byte_sizes = {relative: (folder / relative).stat().st_size for relative in files}
    sizes = {"bytes": byte_sizes, "total_bytes": sum(byte_sizes.values())}
    if model is not None:
        if lambda_layers(model):  # a Lambda layer is Python code: safe-mode loading would refuse it
            raise ValueError(
                f"zoo models must not contain Lambda layers; {name} has {', '.join(lambda_layers(model))}."
            )
        sizes["parameters"] = _parameter_counts(model)
    sizes.update(fields.get("sizes") or {})
    fields["sizes"] = sizes
    fields.setdefault("created", datetime.datetime.now(datetime.timezone.utc).date().isoformat())
    fields["versions"] = {
        **{k: v for k, v in versions("ganzoo", "tensorflow", "keras", "numpy").items() if v},
        **(fields.get("versions") or {}),
    }
    problems = validate_card(fields)
    if problems:
        raise ValueError(f"Card for {folder} is incomplete: {'; '.join(problems)}.")
    _write_json(folder / CARD_FILE, fields)
    return fields


def lambda_layers(model) -> list[str]:
    """Names of Lambda layers (arbitrary Python code) in ``model``: zoo models must have none."""
    return [
        layer.name
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if type(layer).__name__ == "Lambda"
    ]


def _parameter_counts(model) -> dict[str, int]:
    counts = {
        "generator": int(model.generator.count_params()),
        "discriminator": int(model.discriminator.count_params()),
    }
    counts["total"] = counts["generator"] + counts["discriminator"]
    return counts
