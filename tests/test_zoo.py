"""The pretrained-model zoo: entry folders of hash-checked files, local and downloaded.

Nothing is trained: an entry is a freshly built small DCGAN saved with ``model.save``.
Downloads come from an ``http.server`` on 127.0.0.1 that each test starts and stops.
"""

import dataclasses
import functools
import hashlib
import http.server
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import small_model

import ganzoo
from ganzoo import errors
from ganzoo.deploy import runtime, zoo
from ganzoo.deploy.exporter import verify_parity
from ganzoo.deploy.loading import load_model
from ganzoo.errors import UnknownNameError
from ganzoo.training.run import TrainConfig

REPO = Path(__file__).resolve().parents[1]
BUNDLED_DIR = zoo.bundled_dir  # the real one; the autouse fixture hides the bundled zoo from other tests

CARD_FIELDS = dict(
    architecture="dcgan",
    data={"name": "random", "description": "no data: untrained weights for tests"},
    training={"command": "none (built, not trained)", "epochs": 0, "seed": 0, "batch_size": 0},
    metrics={"protocol": "none measured (extractor: none, n_real: 0, n_fake: 0)"},
    license="Apache-2.0",
    intended_use="testing the zoo machinery",
    limitations="random weights; produces noise, not images",
)


pytestmark = pytest.mark.usefixtures("zoo_dir")  # an isolated, empty zoo and cache (conftest)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved small DCGAN: (model.keras path, its config, generate(4, seed=3))."""
    model = small_model("dcgan", seed=0)
    file = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(file)
    return file, model.get_config(), model.generate(4, seed=3)


def make_entry(parent: Path, name: str, saved, **fields) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    shutil.copyfile(saved[0], folder / "model.keras")
    zoo.write_card(folder, config=saved[1], **{**CARD_FIELDS, **fields})
    return folder


# ------------------------------------------------------------------- local
def test_local_entries_list_describe_and_load(zoo_dir, saved):
    folder = make_entry(zoo_dir, "dcgan-tiny", saved)
    make_entry(zoo_dir, "dcgan-small", saved)
    make_entry(zoo_dir, "cgan-tiny", saved)
    (zoo_dir / "not-an-entry").mkdir()  # no card.json: ignored

    assert zoo.list_models() == ["cgan-tiny", "dcgan-small", "dcgan-tiny"]
    assert zoo.list_models("dcgan-*") == ["dcgan-small", "dcgan-tiny"]
    assert zoo.list_models("*gan*tiny") == ["cgan-tiny", "dcgan-tiny"]

    card = zoo.info("dcgan-tiny")
    assert card["name"] == "dcgan-tiny" and card["architecture"] == "dcgan"
    assert card["files"] == {"model.keras": sha256(folder / "model.keras")}
    assert card["sizes"]["bytes"] == {"model.keras": (folder / "model.keras").stat().st_size}
    assert card["config"]["latent_dim"] == 8
    assert zoo.validate_card(card) == []
    card["name"] = "changed"  # info returns a copy
    assert zoo.info("dcgan-tiny")["name"] == "dcgan-tiny"

    assert zoo.path("dcgan-tiny") == folder
    model = ganzoo.load("dcgan-tiny")
    assert model.architecture == "dcgan"
    np.testing.assert_array_equal(model.generate(4, seed=3), saved[2])


def test_write_card_hashes_every_file_and_writes_sorted_json(tmp_path, saved):
    folder = tmp_path / "entry"
    (folder / "savedmodel" / "variables").mkdir(parents=True)
    shutil.copyfile(saved[0], folder / "model.keras")
    (folder / "savedmodel" / "variables" / "variables.index").write_bytes(b"index")
    model = small_model("dcgan")
    card = zoo.write_card(folder, model=model, config=saved[1], **CARD_FIELDS)

    text = (folder / "card.json").read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert json.loads(text) == json.loads(json.dumps(card))
    assert card["name"] == "entry"
    assert card["files"] == {
        "model.keras": sha256(folder / "model.keras"),
        "savedmodel/variables/variables.index": hashlib.sha256(b"index").hexdigest(),
    }
    assert card["sizes"]["total_bytes"] == (folder / "model.keras").stat().st_size + 5
    params = card["sizes"]["parameters"]
    assert params["generator"] == model.generator.count_params() and params["total"] > params["generator"]
    assert {"python", "ganzoo", "keras", "tensorflow"} <= set(card["versions"])
    assert zoo.verify(folder)["files"] == card["files"]

    with pytest.raises(ValueError, match="limitations"):
        zoo.write_card(folder, config=saved[1], **{**CARD_FIELDS, "limitations": ""})


def test_tampered_file_is_refused_before_anything_is_read(zoo_dir, saved, monkeypatch):
    folder = make_entry(zoo_dir, "dcgan-tiny", saved)
    expected = sha256(folder / "model.keras")
    data = bytearray((folder / "model.keras").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "model.keras").write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()

    calls = []
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: calls.append(a))
    with pytest.raises(errors.IntegrityError) as caught:
        ganzoo.load("dcgan-tiny")
    message = str(caught.value)
    assert "model.keras" in message and expected in message and actual in message
    assert (caught.value.file, caught.value.expected, caught.value.actual) == ("model.keras", expected, actual)
    assert isinstance(caught.value, ValueError)
    assert calls == []  # nothing was half-loaded
    with pytest.raises(errors.IntegrityError):
        zoo.path("dcgan-tiny")


@pytest.mark.parametrize("problem", ["missing", "unlisted"])
def test_missing_or_unlisted_file_is_refused(zoo_dir, saved, problem):
    folder = make_entry(zoo_dir, "dcgan-tiny", saved)
    if problem == "missing":
        (folder / "model.keras").unlink()
        match = "missing 'model.keras'"
    else:
        (folder / "notes").mkdir()
        (folder / "notes" / "extra.txt").write_text("not in the card")
        match = "'notes/extra.txt', which its card does not list"
    with pytest.raises(errors.IntegrityError, match=match):
        ganzoo.load("dcgan-tiny")


def test_unknown_name_suggests_the_closest(zoo_dir, saved):
    make_entry(zoo_dir, "dcgan-digits", saved)
    for call in (zoo.info, ganzoo.load, zoo.path):
        with pytest.raises(UnknownNameError, match="Did you mean 'dcgan-digits'"):
            call("dcgan-digit")


def test_zoo_dir_order_and_a_bad_zoo_dir(zoo_dir, saved, tmp_path, monkeypatch):
    first = tmp_path / "first"
    make_entry(first, "dcgan-tiny", saved, intended_use="the first folder wins")
    make_entry(zoo_dir, "dcgan-tiny", saved)
    monkeypatch.setenv("GANZOO_ZOO_DIR", os.pathsep.join([str(first), str(zoo_dir)]))
    assert zoo.info("dcgan-tiny")["intended_use"] == "the first folder wins"
    monkeypatch.setenv("GANZOO_ZOO_DIR", str(tmp_path / "no-such-dir"))
    with pytest.raises(NotADirectoryError, match="GANZOO_ZOO_DIR"):
        zoo.list_models()


# -------------------------------------------------------------------- HTTP
class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/truncated/<file>`` announces more bytes than it sends, ``/error/...`` is a 500."""

    requests: list  # set per server

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.requests.append(self.path)
        if self.path.startswith("/error/"):
            self.send_error(500, "Internal Server Error")
        elif self.path.startswith("/truncated/"):
            body = (Path(self.directory) / self.path.split("/", 2)[2]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:
            super().do_GET()


class Server:
    def __init__(self, root: Path):
        self.root, self.requests = root, []
        handler = type("Handler", (_Handler,), {"requests": self.requests})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        self.httpd.timeout = 5
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.running = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def stop(self):
        if self.running:
            self.running = False
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    srv = Server(root)
    yield srv
    srv.stop()


def assert_cache_empty(cache: Path):
    assert not cache.exists() or files_under(cache) == []


def test_download_then_cache_then_offline(server, saved, tmp_path, monkeypatch):
    shutil.copyfile(saved[0], server.root / "tiny.keras")
    digest = sha256(saved[0])
    zoo.register("remote-tiny", server.url("tiny.keras"), digest, config=saved[1], card={"architecture": "dcgan"})
    assert "remote-tiny" in zoo.list_models("remote-*")
    assert zoo.info("remote-tiny")["url"] == server.url("tiny.keras")

    model = ganzoo.load("remote-tiny")
    np.testing.assert_array_equal(model.generate(4, seed=3), saved[2])
    assert server.requests == ["/tiny.keras"]
    folder = tmp_path / "cache" / "remote-tiny" / digest[:16]
    assert (
        files_under(tmp_path / "cache")
        == [
            f"remote-tiny/{digest[:16]}.source.json",  # ganzoo's record: the registered hash and the card's
            f"remote-tiny/{digest[:16]}/card.json",
            f"remote-tiny/{digest[:16]}/model.keras",
        ]
    )

    server.stop()  # the cache answers from now on
    assert zoo.path("remote-tiny") == folder
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    np.testing.assert_array_equal(ganzoo.load("remote-tiny").generate(4, seed=3), saved[2])
    monkeypatch.delenv("GANZOO_OFFLINE")

    # Not cached and the server is gone: a connection error naming the URL.
    zoo.register("remote-other", server.url("other.keras"), "0" * 64)
    with pytest.raises(errors.DownloadError, match="other.keras.*connection error"):
        zoo.path("remote-other")
    assert len(server.requests) == 1

    # A cached file changed afterwards is caught like a local one.
    (folder / "model.keras").write_bytes(b"corrupt")
    with pytest.raises(errors.IntegrityError, match="model.keras"):
        ganzoo.load("remote-tiny", offline=True)


def test_offline_mode_refuses_the_network(server, saved, tmp_path, monkeypatch):
    shutil.copyfile(saved[0], server.root / "tiny.keras")
    zoo.register("remote-tiny", server.url("tiny.keras"), sha256(saved[0]))
    with pytest.raises(errors.OfflineError, match="offline mode") as caught:
        ganzoo.load("remote-tiny", offline=True)
    assert server.url("tiny.keras") in str(caught.value)
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    with pytest.raises(errors.OfflineError, match="GANZOO_OFFLINE"):
        zoo.path("remote-tiny")
    assert server.requests == []
    assert_cache_empty(tmp_path / "cache")


@pytest.mark.parametrize("case", ["wrong_hash", "truncated", "server_error", "not_found"])
def test_failed_downloads_raise_and_leave_nothing(server, saved, tmp_path, case):
    shutil.copyfile(saved[0], server.root / "tiny.keras")
    digest = sha256(saved[0])
    path, expected_hash, reason = {
        "wrong_hash": ("tiny.keras", "f" * 64, f"sha256 mismatch: expected {'f' * 64}, got {digest}"),
        "truncated": ("truncated/tiny.keras", digest, "truncated transfer"),
        "server_error": ("error/tiny.keras", digest, "HTTP error 500"),
        "not_found": ("missing.keras", digest, "HTTP error 404"),
    }[case]
    zoo.register("remote-tiny", server.url(path), expected_hash)
    with pytest.raises(errors.DownloadError) as caught:
        ganzoo.load("remote-tiny")
    assert caught.value.url == server.url(path)
    assert server.url(path) in str(caught.value) and reason in str(caught.value)
    assert_cache_empty(tmp_path / "cache")
    # The downloader itself leaves nothing beside its destination either.
    (tmp_path / "downloads").mkdir()
    with pytest.raises(errors.DownloadError, match=reason.split(":")[0]):
        zoo._download(server.url(path), tmp_path / "downloads" / "file", expected_hash)
    assert files_under(tmp_path / "downloads") == []


def _entry_archive(folder: Path, archive: Path, top_level: str | None) -> Path:
    prefix = f"{top_level}/" if top_level else ""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zipped:
            for relative in files_under(folder):
                zipped.write(folder / relative, prefix + relative)
    else:
        with tarfile.open(archive, "w:gz") as tarred:
            for relative in files_under(folder):
                tarred.add(folder / relative, prefix + relative)
    return archive


@pytest.mark.parametrize("archive_name, top_level", [("entry.zip", None), ("entry.tar.gz", "dcgan-packed")])
def test_archive_entry_from_a_pointer_card(server, zoo_dir, saved, tmp_path, archive_name, top_level):
    packed = make_entry(tmp_path / "src", "dcgan-packed", saved)
    archive = _entry_archive(packed, server.root / archive_name, top_level)
    # A zoo folder that only points at the archive: data, not code.
    (zoo_dir / "dcgan-packed").mkdir()
    pointer = {"name": "dcgan-packed", "url": server.url(archive_name), "sha256": sha256(archive), **CARD_FIELDS}
    pointer["config"] = saved[1]
    (zoo_dir / "dcgan-packed" / "card.json").write_text(json.dumps(pointer))
    assert zoo.validate_card(pointer) == []

    folder = zoo.path("dcgan-packed")
    assert folder == tmp_path / "cache" / "dcgan-packed" / sha256(archive)[:16]
    assert files_under(folder) == ["card.json", "model.keras"]
    assert zoo.verify(folder)["files"] == {"model.keras": sha256(saved[0])}
    assert sha256(folder / "model.keras") == sha256(saved[0])
    assert files_under(tmp_path / "cache") == [
        f"dcgan-packed/{sha256(archive)[:16]}{f}" for f in (".source.json", "/card.json", "/model.keras")
    ]
    server.stop()
    assert zoo.path("dcgan-packed", offline=True) == folder


def test_archive_escaping_its_folder_is_refused(server, saved, tmp_path):
    archive = server.root / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("card.json", json.dumps({"name": "evil", "files": {}}))
        zipped.writestr("../evil", "escaped")
    zoo.register("evil", server.url("evil.zip"), sha256(archive))
    with pytest.raises(errors.UnsafeArchiveError, match=r"'\.\./evil'"):
        zoo.path("evil")
    assert not any(p.name == "evil" and p.is_file() for p in tmp_path.rglob("*") if p != archive)
    assert_cache_empty(tmp_path / "cache")


def _tar_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        tarred.addfile(member, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def _tar_member(name: str, kind=tarfile.REGTYPE, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.size = kind, linkname, size
    return member


@pytest.mark.parametrize(
    "make",
    [
        lambda: _tar_with(_tar_member("link", tarfile.SYMTYPE, "/etc/passwd")),
        lambda: _tar_with(_tar_member("hard", tarfile.LNKTYPE, "../../outside")),
        lambda: _tar_with(_tar_member("/abs/file", size=1), b"x"),
        lambda: _tar_with(_tar_member("a/../../up", size=1), b"x"),
        lambda: _zip_with("/abs/file"),
        lambda: _zip_with("..\\win\\up"),
        lambda: _zip_symlink(),
    ],
    ids=["tar-symlink", "tar-hardlink", "tar-absolute", "tar-dotdot", "zip-absolute", "zip-backslash", "zip-symlink"],
)
def test_extract_archive_rejects_unsafe_members(tmp_path, make):
    archive = tmp_path / "archive.bin"
    archive.write_bytes(make())
    with pytest.raises(errors.UnsafeArchiveError, match="Refusing to extract"):
        zoo.extract_archive(archive, tmp_path / "out")
    assert files_under(tmp_path / "out") == []


def _zip_with(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("ok.txt", "fine")
        zipped.writestr(zipfile.ZipInfo(name), "bad")
    return buffer.getvalue()


def _zip_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zipped.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def test_register_validates_its_arguments(zoo_dir, saved):
    make_entry(zoo_dir, "dcgan-tiny", saved)
    with pytest.raises(ValueError, match="already exists"):
        zoo.register("dcgan-tiny", "https://example.invalid/m.keras", "0" * 64)
    with pytest.raises(ValueError, match="64 hex digits"):
        zoo.register("mine", "https://example.invalid/m.keras", "abc")
    with pytest.raises(ValueError, match="scheme"):
        zoo.register("mine", "ftp://example.invalid/m.keras", "0" * 64)
    with pytest.raises(ValueError, match="Invalid zoo model name"):
        zoo.register("../mine", "https://example.invalid/m.keras", "0" * 64)
    zoo.register("mine", "https://example.invalid/m.keras", "0" * 64)
    zoo.unregister("mine")
    assert zoo.list_models() == ["dcgan-tiny"]


# ------------------------------------------------------------- bundled zoo
def test_bundled_entries_verify_and_have_complete_cards():
    """Every folder in the repository's exported/ is a complete, hash-consistent entry."""
    bundled = BUNDLED_DIR()
    assert bundled is not None and bundled.resolve() == (REPO / "exported").resolve()
    for folder in sorted(p for p in bundled.iterdir() if p.is_dir() and not p.name.startswith(".")):
        assert (folder / "card.json").is_file(), f"{folder} has no card.json"
        card = json.loads((folder / "card.json").read_text())
        assert card.get("name") == folder.name
        assert zoo.validate_card(card) == [], (folder.name, zoo.validate_card(card))
        if "url" not in card:
            zoo.verify(folder)


def test_bundled_cards_record_the_recipe_that_tools_train_zoo_runs():
    """Reproducibility: each entry built by tools/train_zoo.py records, phase by phase, the configs its recipe
    there would train now (fields added since an entry was built hold their defaults); a recipe changed
    without rebuilding its entry fails here."""
    spec = importlib.util.spec_from_file_location("train_zoo", REPO / "tools" / "train_zoo.py")
    train_zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_zoo)
    defaults = dataclasses.asdict(TrainConfig(architecture="-"))
    built = 0
    for card_path in sorted((REPO / "exported").glob("*/card.json")):
        card = json.loads(card_path.read_text())
        if card["training"]["command"] != f"python tools/train_zoo.py {card['name']}":
            continue
        built += 1
        recipe = train_zoo.recorded_configs(
            train_zoo.RECIPES[card["name"]]["phases"], REPO / "runs" / "zoo" / card["name"]
        )
        recorded = [{**defaults, **phase} for phase in card["training"]["phases"]]
        assert recorded == recipe, f"{card['name']}: its card and its recipe in tools/train_zoo.py differ"
    assert built >= 14


def test_wheel_ships_the_exported_folder(tmp_path):
    """A regular (non-editable) install carries exported/ as ganzoo/_exported, found by bundled_dir()."""
    pyproject = (REPO / "pyproject.toml").read_text()
    if '"ganzoo._exported" = "exported"' not in pyproject.replace("'", '"'):
        pytest.skip("pyproject.toml does not map ganzoo._exported to exported/ yet (see exported/README.md)")
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "setup.py", source)
    shutil.copytree(REPO / "ganzoo", source / "ganzoo", ignore=shutil.ignore_patterns("__pycache__"))
    (source / "README.md").write_text("readme")  # pyproject's readme; its content does not matter here
    entry = source / "exported" / "demo-entry" / "savedmodel" / "variables"
    entry.mkdir(parents=True)
    for relative in ("card.json", "model.keras", "savedmodel/saved_model.pb", "savedmodel/variables/variables.index"):
        (source / "exported" / "demo-entry" / relative).write_text(relative)
    dist = tmp_path / "dist"
    build = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", build, str(dist)], cwd=source, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    wheel = next(dist.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for relative in ("card.json", "model.keras", "savedmodel/saved_model.pb", "savedmodel/variables/variables.index"):
        assert f"ganzoo/_exported/demo-entry/{relative}" in names
    modules = {p.relative_to(source).as_posix() for p in (source / "ganzoo").rglob("*.py")}
    assert modules <= names, f"modules missing from the wheel: {modules - names}"

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = "import ganzoo.deploy.zoo as z; print(z.bundled_dir()); print(z.list_models())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANZOO_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == [str(site / "ganzoo" / "_exported"), "['demo-entry']"]


def _bundled_gan_entries() -> list[str]:
    names = []
    for card_file in sorted((REPO / "exported").glob("*/card.json")):
        card = json.loads(card_file.read_text())
        if "url" not in card and not card.get("purpose", "").startswith("feature extractor"):  # classifiers: no GANs
            names.append(card_file.parent.name)
    return names


@pytest.mark.parametrize("name", _bundled_gan_entries())
def test_every_bundled_entry_exports_with_parity_and_samples_at_once(name):
    """Export parity of the shipped artifacts (every graph, ONNX and SavedModel, batch 1 and > 1, <= 1e-4), checked
    anew, and the runtime reproducing the Keras model."""
    folder = REPO / "exported" / name
    zoo.verify(folder)
    model = load_model(folder / "model.keras")
    report = verify_parity(model, folder)
    assert report["passed"] and {key.split(":")[0] for key in report["max_abs_diff"]} == {"onnx", "savedmodel"}
    assert max(report["max_abs_diff"].values()) <= 1e-4
    assert len({key.split(":")[1] for key in report["max_abs_diff"]}) == len(model.serving_graphs())
    exported = runtime.load(folder)
    if model.data_kind != "images":
        image = np.random.default_rng(0).integers(0, 256, (1, 21, 18, model.generator.inputs[0].shape[-1]), np.uint8)
        np.testing.assert_allclose(exported.translate(image, raw=True), model.translate(image, raw=True), atol=1e-4)
    if model.data_kind == "images":
        labels = np.arange(4) % model.num_classes if model.is_conditional else None
        samples = model.generate(4, seed=0, labels=labels)
        assert samples.shape[0] == 4 and np.all(np.isfinite(samples))
        np.testing.assert_allclose(
            exported.generate(4, seed=0, labels=labels, raw=True),
            model.generate(4, seed=0, labels=labels, raw=True),
            rtol=0,
            atol=1e-4,
        )
