"""Reading an export's ``manifest.json`` and checking its artifacts' hashes, without TensorFlow.

Both the exporter's verification and the ONNX runtime go through :func:`read_manifest` and
:func:`check_artifact_hashes` before any graph is read, so a file that is not the one ganzoo
wrote (swapped, edited, truncated) is refused instead of run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ganzoo.errors import IntegrityError, ModelFileError
from ganzoo.utils.files import sha256_file

MANIFEST_FILENAME = "manifest.json"
MANIFEST_VERSION = 2
KINDS = ("latent", "style", "image_to_image", "super_resolution")


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an export folder (schema version 2), with a clear error for anything else."""
    folder = Path(folder)
    path = folder / MANIFEST_FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"No {MANIFEST_FILENAME} in {folder}: not a folder written by ganzoo.export.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise ModelFileError(f"{path} is not valid JSON ({type(error).__name__}).") from None
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        version = manifest.get("manifest_version") if isinstance(manifest, dict) else None
        raise ModelFileError(
            f"{path} has manifest version {version!r}; this ganzoo reads version {MANIFEST_VERSION}: export the model "
            "again with `ganzoo export`."
        )
    if manifest.get("kind") not in KINDS or not isinstance(manifest.get("graphs"), dict):
        raise ModelFileError(
            f"{path} names kind {manifest.get('kind')!r}; expected one of {', '.join(KINDS)} with graphs."
        )
    return manifest


def sha256_tree(directory: str | os.PathLike) -> tuple[str, dict[str, str]]:
    """(hash of a directory, {relative posix path: sha256}): sha256 of the ``sha256sum`` lines, sorted by path."""
    directory = Path(directory)
    files = {p.relative_to(directory).as_posix(): sha256_file(p) for p in directory.rglob("*") if p.is_file()}
    listing = "".join(f"{digest}  {path}\n" for path, digest in sorted(files.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest(), dict(sorted(files.items()))


def check_artifact_hashes(folder: str | os.PathLike, manifest: dict[str, Any], formats=("onnx", "savedmodel")) -> None:
    """Raise :class:`IntegrityError` unless every artifact of ``formats`` matches the manifest's sha256."""
    folder = Path(folder)
    artifacts = manifest.get("artifacts", {})
    if "onnx" in formats and "onnx" in artifacts:
        for graph, info in artifacts["onnx"].items():
            path = artifact_path(folder, info.get("path"))
            if not info.get("sha256"):
                raise IntegrityError(
                    f"{folder / MANIFEST_FILENAME} records no sha256 for the {graph} ONNX graph.",
                    file=str(info.get("path")),
                )
            if not path.is_file() or sha256_file(path) != info["sha256"]:
                raise IntegrityError(
                    f"{path} does not match the sha256 in {MANIFEST_FILENAME}: missing, changed or "
                    "not this export's file.",
                    file=path.name,
                )
    if "savedmodel" in formats and "savedmodel" in artifacts:
        info = artifacts["savedmodel"]
        path = artifact_path(folder, info.get("path"))
        if not info.get("sha256") or not path.is_dir() or sha256_tree(path)[0] != info["sha256"]:
            raise IntegrityError(
                f"{path} does not match the sha256 in {MANIFEST_FILENAME}: missing, changed or "
                "not this export's SavedModel.",
                file=path.name,
            )


def artifact_path(folder: str | os.PathLike, relative) -> Path:
    """The path of an artifact the manifest names, refused unless it stays inside the export folder."""
    folder = Path(folder)
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise IntegrityError(
            f"{folder / MANIFEST_FILENAME} names an artifact path {relative!r} outside its folder.",
            file=MANIFEST_FILENAME,
        )
    return folder / relative
