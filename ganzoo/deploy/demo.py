"""The zoo in a browser: ``ganzoo demo`` writes a static site that runs zoo models with onnxruntime-web.

    from ganzoo.deploy import demo
    summary = demo.build("site")            # every bundled entry within the size budget
    demo.serve("site").serve_forever()      # http://127.0.0.1:<port>/ (wasm needs http, not file://)

The site is self-contained and works offline once built::

    index.html demo.js demo.css           the page (ganzoo/deploy/web/)
    ort/                                  onnxruntime-web's wasm build, copied from the pinned npm package
    models.json                           the index the page reads: models, graphs, card numbers, page weight
    models/<name>/manifest.json card.json <graph>.onnx [noise_const.json]
    examples/*.png                        photos to try the image models on (scikit-image's held-out photos)

Only the graphs the page runs are copied (style models: ``mapping`` and ``synthesis``), each checked
against its manifest's sha256. The page's seeded latents come from :func:`page_latents`
(mulberry32 + Box-Muller), so Python can reproduce every draw; explicit inputs go through
``window.ganzooRun`` (see ``web/demo.js``). This module never imports TensorFlow.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage import data as skimage_data

from ganzoo import __version__
from ganzoo.deploy import zoo
from ganzoo.deploy.manifest import MANIFEST_FILENAME, check_artifact_hashes, read_manifest
from ganzoo.errors import DemoBuildError
from ganzoo.utils.files import write_json
from ganzoo.utils.sampling import const_noise_maps

ORT_WEB_VERSION = "1.30.0"  # keep equal to web/package.json (a test checks)
# One backend: the plain WebAssembly build (SIMD; runs single-threaded without cross-origin isolation).
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ORT_DIST_ENV = "GANZOO_ORT_DIST"
REPO_ORT_DIST = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "onnxruntime-web" / "dist"
DEFAULT_MAX_MODEL_MB = 4.0  # per model, the ONNX graphs the page loads (MiB)
STATIC_DIR = Path(__file__).resolve().parent / "web"
STATIC_FILES = ("index.html", "demo.js", "demo.css")
INDEX_FILE = "models.json"
SITE_MARKER = "ganzoo demo"
EXAMPLE_PHOTOS = ("chelsea", "coffee")  # held out of every image model's training (ganzoo.data.pairs)
EXAMPLE_HEIGHT = 96
CARD_KEYS = ("name", "architecture", "description", "data", "metrics", "license", "intended_use", "limitations")
MIME_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}


# ------------------------------------------------------------------ the page's random latents
def _mulberry32(seed: int):
    """The page's 32-bit generator (``mulberry32`` in demo.js), as unsigned 32-bit integers."""
    mask = 0xFFFFFFFF
    state = seed & mask
    while True:
        state = (state + 0x6D2B79F5) & mask
        t = ((state ^ (state >> 15)) * (state | 1)) & mask
        t = (t ^ ((t + ((t ^ (t >> 7)) * (t | 61))) & mask)) & mask
        yield (t ^ (t >> 14)) & mask


def page_latents(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """The latents the demo page draws for ``seed``: float32 (n, latent_dim), row-major.

    mulberry32(seed) gives uniforms ``(k + 0.5) / 2**32``; each pair (u1, u2) gives two normals by
    Box-Muller, ``r cos(2 pi u2)`` then ``r sin(2 pi u2)`` with ``r = sqrt(-2 ln u1)``. It is not
    numpy's PCG64 (``ganzoo.runtime`` draws), so a page seed and a Python seed give different samples.
    """
    count = n * latent_dim
    draws = _mulberry32(int(seed))
    uniforms = np.array([(next(draws) + 0.5) / 2**32 for _ in range(2 * math.ceil(count / 2))]).reshape(-1, 2)
    radius = np.sqrt(-2.0 * np.log(uniforms[:, 0]))
    angle = 2.0 * np.pi * uniforms[:, 1]
    normals = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).reshape(-1)
    return normals[:count].astype(np.float32).reshape(n, latent_dim)


# ------------------------------------------------------------------ onnxruntime-web
def _ort_version(dist: Path) -> str | None:
    package = dist.parent / "package.json"
    try:
        return json.loads(package.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


def _has_ort_files(dist: Path) -> bool:
    return all((dist / name).is_file() for name in ORT_FILES)


NPM_TIMEOUT_S = 300


def _npm_install(prefix: Path) -> None:
    """``npm install onnxruntime-web@ORT_WEB_VERSION`` into ``prefix`` (ganzoo's cache).

    The exact version is pinned; its dependencies are not (no lockfile outside a checkout), which does not
    matter for the page: the dist files it copies are self-contained bundles of onnxruntime-web itself.
    No install scripts run, and npm gets ``NPM_TIMEOUT_S`` seconds.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    package = {"private": True, "dependencies": {"onnxruntime-web": ORT_WEB_VERSION}}
    write_json(prefix / "package.json", package)
    print(f"ganzoo demo: installing onnxruntime-web {ORT_WEB_VERSION} with npm into {prefix}", file=sys.stderr)
    command = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        raise DemoBuildError(
            f"npm install of onnxruntime-web {ORT_WEB_VERSION} did not finish in {NPM_TIMEOUT_S} s; "
            "pass --ort-dist or run `npm ci --prefix web` in a checkout."
        ) from err
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["(no output)"]
        first = next((line for line in lines if "error" in line.lower() or "ERR!" in line), lines[-1])
        raise DemoBuildError(f"npm install of onnxruntime-web {ORT_WEB_VERSION} into {prefix} failed: {first}")


def find_ort_dist(explicit: str | os.PathLike | None = None) -> Path:
    """The ``dist`` folder of onnxruntime-web ``ORT_WEB_VERSION``, first match wins.

    ``explicit`` (``--ort-dist``), ``$GANZOO_ORT_DIST``, this checkout's ``web/node_modules`` (``npm ci
    --prefix web``), ganzoo's cache; failing all, ``npm install`` into the cache unless offline
    (``GANZOO_OFFLINE=1``) or npm is missing, in which case the error says how to get it. A folder
    whose ``../package.json`` names another version is refused: the page was tested with the pinned one.
    """
    cached = zoo.cache_dir() / f"onnxruntime-web-{ORT_WEB_VERSION}"
    cached_dist = cached / "node_modules" / "onnxruntime-web" / "dist"
    given = explicit or os.environ.get(ORT_DIST_ENV)
    candidates = [Path(given).expanduser()] if given else [REPO_ORT_DIST, cached_dist]
    for dist in candidates:
        if not _has_ort_files(dist):
            continue
        version = _ort_version(dist)
        if version not in (None, ORT_WEB_VERSION):
            raise DemoBuildError(
                f"{dist} holds onnxruntime-web {version}; ganzoo demo pins {ORT_WEB_VERSION} "
                f"(npm install onnxruntime-web@{ORT_WEB_VERSION})."
            )
        return dist
    how = f"run `npm ci --prefix web` in a ganzoo checkout, or pass --ort-dist DIR (or set {ORT_DIST_ENV})"
    if given:
        raise DemoBuildError(f"{given} is not onnxruntime-web's dist folder (it lacks {', '.join(ORT_FILES)}); {how}.")
    if zoo.is_offline() or shutil.which("npm") is None:
        reason = "offline mode is on" if zoo.is_offline() else "npm is not installed"
        raise DemoBuildError(f"onnxruntime-web {ORT_WEB_VERSION} not found and {reason}: {how}.")
    _npm_install(cached)
    if not _has_ort_files(cached_dist):
        raise DemoBuildError(f"npm installed onnxruntime-web into {cached} but it lacks {', '.join(ORT_FILES)}.")
    return cached_dist


# ------------------------------------------------------------------ models
def page_graphs(manifest: dict[str, Any]) -> list[str]:
    """The graphs the page runs: style models compose ``mapping`` and ``synthesis`` (for truncation and
    mixing); latent models their default graph; image models every direction."""
    if manifest["kind"] == "style":
        return ["mapping", "synthesis"]
    if manifest["kind"] == "latent":
        return [manifest["default_graph"]]
    return list(manifest["graphs"])


def _model_bytes(folder: Path, manifest: dict[str, Any]) -> int:
    onnx = manifest["artifacts"]["onnx"]
    return sum((folder / onnx[graph]["path"]).stat().st_size for graph in page_graphs(manifest))


def _has_onnx_export(name: str) -> bool:
    """A local entry whose card lists a manifest (the default selection never downloads a remote entry)."""
    return MANIFEST_FILENAME in zoo.info(name).get("files", {})


def select_models(
    names: list[str] | tuple[str, ...] = (), max_model_mb: float = DEFAULT_MAX_MODEL_MB
) -> list[tuple[str, Path, dict[str, Any]]]:
    """``[(name, verified folder, manifest)]``: the named entries, or by default every local entry with
    an ONNX export whose page graphs fit ``max_model_mb``. A named entry over the budget is an error."""
    if not (isinstance(max_model_mb, (int, float)) and math.isfinite(max_model_mb) and max_model_mb > 0):
        raise DemoBuildError(f"the model size budget must be a finite number of MiB above 0; got {max_model_mb!r}.")
    budget = int(max_model_mb * 2**20)
    chosen = []
    for name in names or [n for n in zoo.list_models() if _has_onnx_export(n)]:
        folder = zoo.path(name)  # an unknown name raises here, with the closest names
        if not (folder / MANIFEST_FILENAME).is_file():
            raise DemoBuildError(f"zoo model {name!r} has no ONNX export (manifest.json); `ganzoo export` it first.")
        manifest = read_manifest(folder)
        check_artifact_hashes(folder, manifest, formats=("onnx",))
        size = _model_bytes(folder, manifest)
        if size > budget:
            if names:
                raise DemoBuildError(
                    f"zoo model {name!r} needs {size / 2**20:.1f} MiB of ONNX graphs, over the "
                    f"{max_model_mb:g} MiB budget; raise --max-model-mb."
                )
            continue
        chosen.append((name, folder, manifest))
    if not chosen:
        raise DemoBuildError(f"no zoo model with an ONNX export fits the {max_model_mb:g} MiB budget.")
    return chosen


def _card_info(card: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a card: its documentary fields, headline numbers and parameter count."""
    info = {key: card[key] for key in CARD_KEYS if key in card}
    info["headline"] = zoo.headline_metrics(card)
    info["parameters"] = card.get("sizes", {}).get("parameters", {}).get("generator")
    return info


def _write_model(site: Path, name: str, folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    target = site / "models" / name
    target.mkdir(parents=True)
    onnx = manifest["artifacts"]["onnx"]
    graphs = {graph: onnx[graph]["path"] for graph in page_graphs(manifest)}
    for path in graphs.values():
        shutil.copyfile(folder / path, target / path)
    shutil.copyfile(folder / MANIFEST_FILENAME, target / MANIFEST_FILENAME)
    card = _card_info(zoo.info(name))
    write_json(target / "card.json", card, sort_keys=True)
    if manifest["kind"] == "style":  # noise_mode="const": the same fixed maps as ganzoo.runtime
        model = manifest["model"]
        maps = const_noise_maps([int(shape[1]) for shape in model["noise_inputs"].values()])
        write_json(target / "noise_const.json", {k: m.ravel().tolist() for k, m in zip(model["noise_inputs"], maps)})
    return {
        "name": name,
        "kind": manifest["kind"],
        "architecture": manifest.get("architecture"),
        "path": f"models/{name}/",
        "graphs": graphs,
        "bytes": _model_bytes(folder, manifest),
        "description": card.get("description", ""),
    }


def _write_examples(site: Path) -> list[str]:
    """Photos to try the image models on, ``EXAMPLE_HEIGHT`` pixels high (the models' training never saw them)."""
    paths = []
    for photo in EXAMPLE_PHOTOS:
        image = Image.fromarray(getattr(skimage_data, photo)())
        width = round(image.width * EXAMPLE_HEIGHT / image.height)
        path = site / "examples" / f"{photo}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.resize((width, EXAMPLE_HEIGHT), Image.Resampling.LANCZOS).save(path)
        paths.append(path.relative_to(site).as_posix())
    return paths


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _check_out_dir(out: Path) -> None:
    """``out`` must be new, empty, or an earlier demo site (which is replaced)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    try:
        previous = json.loads((out / INDEX_FILE).read_text(encoding="utf-8")).get("generator")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != SITE_MARKER:
        raise DemoBuildError(f"{out} exists and is not a ganzoo demo site; choose a new or empty folder.")


def build(
    out: str | os.PathLike,
    names: list[str] | tuple[str, ...] = (),
    ort_dist: str | os.PathLike | None = None,
    max_model_mb: float = DEFAULT_MAX_MODEL_MB,
) -> dict[str, Any]:
    """Write the demo site to ``out`` and return its index (``models.json``: models, page weight).

    Everything is staged beside ``out`` and moved into place at the end, so a failure leaves an
    earlier site as it was.
    """
    out = Path(out).resolve()
    _check_out_dir(out)
    dist = find_ort_dist(ort_dist)
    models = select_models(names, max_model_mb)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".staging", dir=out.parent))
    try:
        stage.chmod(0o755)  # mkdtemp's folders are private; a site is for serving
        for name in STATIC_FILES:
            shutil.copyfile(STATIC_DIR / name, stage / name)
        (stage / "ort").mkdir()
        for name in ORT_FILES:
            shutil.copyfile(dist / name, stage / "ort" / name)
        (stage / "ort" / "NOTICE.txt").write_text(
            f"onnxruntime-web {ORT_WEB_VERSION} (https://www.npmjs.com/package/onnxruntime-web), "
            "Copyright (c) Microsoft Corporation, MIT License.\n",
            encoding="utf-8",
        )
        entries = [_write_model(stage, *model) for model in models]
        examples = _write_examples(stage)
        runtime_bytes = _folder_bytes(stage / "ort")
        models_bytes = _folder_bytes(stage / "models")
        index = {
            "generator": SITE_MARKER,
            "ganzoo": __version__,
            "onnxruntime_web": ORT_WEB_VERSION,
            "latents": "mulberry32(seed) + Box-Muller (ganzoo.deploy.demo.page_latents)",
            "models": entries,
            "examples": examples,
            "weight": {"runtime_bytes": runtime_bytes, "models_bytes": models_bytes},
        }
        write_json(stage / INDEX_FILE, index)
        index["weight"]["total_bytes"] = _folder_bytes(stage)
        write_json(stage / INDEX_FILE, index)
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            out.rename(trash / "site")
            stage.rename(out)
            shutil.rmtree(trash)
        else:
            stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return index


# ------------------------------------------------------------------ serving
class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the MIME types WebAssembly needs, without a log line per request."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(folder: str | os.PathLike, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server for a built site on 127.0.0.1 (``port=0``: a free port; see ``server_address``).

    Call ``serve_forever()`` on it (or run it in a thread); only this machine can reach it.
    """
    folder = Path(folder)
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise DemoBuildError(f"port must be an integer from 0 (a free one) to 65535; got {port!r}.")
    if not (folder / INDEX_FILE).is_file():
        raise DemoBuildError(f"{folder} is not a built demo site (no {INDEX_FILE}); run `ganzoo demo --out {folder}`.")
    handler = functools.partial(_Handler, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
