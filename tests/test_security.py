"""Issue 15, integrity and hostile input: what ganzoo trusts (a hash the user registered, its own
manifests and records) and what it refuses (a cache rewritten behind its back, an unverified
SavedModel, endless or huge downloads, zip bombs, special files, broken or hostile cards).

Downloads come from an ``http.server`` on 127.0.0.1 that each test starts and stops.
"""

import http.server
import io
import json
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import small_model
from test_zoo import CARD_FIELDS, Server, files_under, make_entry, sha256

import ganzoo
from ganzoo import cli, errors
from ganzoo.deploy import exporter, runtime, zoo
from ganzoo.deploy.loading import load_model
from ganzoo.utils import files as file_utils

REPO = Path(__file__).resolve().parents[1]
EXPORTED = REPO / "exported"


pytestmark = pytest.mark.usefixtures("zoo_dir")  # an isolated, empty zoo and cache (conftest)


@pytest.fixture(scope="module")
def saved_pair(tmp_path_factory):
    """Two saved small DCGANs with other weights: ((path, config), (path, config))."""
    folder = tmp_path_factory.mktemp("saved")
    pair = []
    for seed in (0, 1):
        model = small_model("dcgan", seed=seed)
        model.save(folder / f"model{seed}.keras")
        pair.append((folder / f"model{seed}.keras", model.get_config()))
    return pair


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    srv = Server(root)
    yield srv
    srv.stop()


def _recard(folder: Path, **changes) -> None:
    """Rewrite a cached entry's card.json consistently with the files now in the folder (what an attacker does)."""
    card = json.loads((folder / "card.json").read_text())
    card["files"] = {p.name: sha256(p) for p in folder.iterdir() if p.name != "card.json"}
    card.update(changes)
    (folder / "card.json").write_text(json.dumps(card))


# ------------------------------------------------------------------ 1. cache poisoning
def test_a_cached_keras_entry_replaced_consistently_is_refused(server, saved_pair, tmp_path):
    (good, config), (evil, _) = saved_pair
    shutil.copyfile(good, server.root / "tiny.keras")
    digest = sha256(good)
    zoo.register("remote-tiny", server.url("tiny.keras"), digest, config=config)
    folder = zoo.path("remote-tiny")
    assert zoo.verify(folder)["files"]["model.keras"] == digest
    server.stop()

    shutil.copyfile(evil, folder / "model.keras")  # other weights, and a card that agrees with them
    _recard(folder)
    assert zoo.verify(folder)  # consistent on its own: only the registered hash can tell
    with pytest.raises(errors.IntegrityError, match="does not match the registered sha256 of 'remote-tiny'"):
        zoo.path("remote-tiny")
    with pytest.raises(errors.IntegrityError, match="registered sha256"):
        ganzoo.load("remote-tiny", offline=True)


def test_a_cached_archive_entry_is_tied_to_the_archive_hash(server, zoo_dir, saved_pair, tmp_path):
    (good, config), (evil, _) = saved_pair
    packed = make_entry(tmp_path / "src", "dcgan-packed", (good, config))
    archive = server.root / "entry.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for relative in files_under(packed):
            zipped.write(packed / relative, relative)
    (zoo_dir / "dcgan-packed").mkdir()
    pointer = {"name": "dcgan-packed", "url": server.url("entry.zip"), "sha256": sha256(archive), **CARD_FIELDS}
    (zoo_dir / "dcgan-packed" / "card.json").write_text(json.dumps({**pointer, "config": config}))
    folder = zoo.path("dcgan-packed")
    record = json.loads(folder.with_name(folder.name + ".source.json").read_text())
    assert record["sha256"] == sha256(archive) and record["card_sha256"] == sha256(folder / "card.json")
    server.stop()

    shutil.copyfile(evil, folder / "model.keras")
    _recard(folder)
    with pytest.raises(errors.IntegrityError, match="card.json is not the one extracted from the download"):
        zoo.path("dcgan-packed", offline=True)
    # A cached folder without ganzoo's record (copied in by hand, or an older ganzoo's) is refused, not trusted.
    folder.with_name(folder.name + ".source.json").unlink()
    with pytest.raises(errors.IntegrityError, match="without a download record"):
        zoo.path("dcgan-packed", offline=True)


def test_an_older_cache_without_its_record_is_adopted_if_it_verifies_or_downloaded_again(server, saved_pair):
    (good, config), (evil, _) = saved_pair
    shutil.copyfile(good, server.root / "tiny.keras")
    digest = sha256(good)
    zoo.register("remote-old", server.url("tiny.keras"), digest, config=config)
    folder = zoo.path("remote-old")
    record = folder.with_name(folder.name + ".source.json")
    record.unlink()  # what an older ganzoo left: its model file still hashes to the registered sha256
    assert zoo.path("remote-old", offline=True) == folder and record.is_file()
    record.unlink()
    shutil.copyfile(evil, folder / "model.keras")
    _recard(folder)
    with pytest.raises(errors.IntegrityError, match="without a download record"):
        zoo.path("remote-old", offline=True)
    assert zoo.path("remote-old") == folder and sha256(folder / "model.keras") == digest  # downloaded again


# ---------------------------------------------------------- 2. SavedModel verification
class _Writer(tf.Module):
    """A SavedModel whose serving function writes a file: a program, not weights."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker = marker

    @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="z")])
    def serve(self, z):
        tf.io.write_file(self.marker, "ran")
        return {"image": tf.zeros([tf.shape(z)[0], 16, 16, 1])}


def test_verification_never_runs_a_savedmodel_its_manifest_does_not_hash(tmp_path):
    folder = tmp_path / "export"
    shutil.copytree(EXPORTED / "dcgan-digits", folder)
    model = load_model(folder / "model.keras")
    marker = tmp_path / "marker.txt"
    shutil.rmtree(folder / "savedmodel")
    writer = _Writer(str(marker))
    tf.saved_model.save(writer, str(folder / "savedmodel"), signatures={"serving_default": writer.serve})
    with pytest.raises(errors.IntegrityError, match="not this export's SavedModel"):
        exporter.verify_parity(model, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["artifacts"]["savedmodel"]["sha256"]  # a manifest without the hash does not let it run either
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(errors.IntegrityError, match="not this export's SavedModel"):
        exporter.verify_parity(model, folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="No manifest.json"):
        exporter.verify_parity(model, folder)
    assert not marker.exists()


def test_a_keras_file_with_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "ran.txt"

    def payload(x):
        marker.write_text("ran")  # what a hostile Lambda layer would do
        return x

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(payload)])
    model.save(tmp_path / "evil.keras")
    marker.unlink(missing_ok=True)  # saving traced it once
    with pytest.raises(errors.ModelFileError, match="Lambda"):
        load_model(tmp_path / "evil.keras", gan_only=False)
    assert not marker.exists()


# ---------------------------------------------------------------------- 9, 10: runtime
def test_runtime_loads_a_style_export_without_the_hash_check():
    generator = runtime.load(EXPORTED / "stylegan-digits", check_hash=False)
    assert generator.generate(2, seed=0).shape[0] == 2


def _copy_export(tmp_path, name="dcgan-digits") -> Path:
    folder = tmp_path / name
    shutil.copytree(EXPORTED / name, folder, ignore=shutil.ignore_patterns("savedmodel", "model.keras"))
    return folder


def _edit_manifest(folder: Path, edit) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_manifest_without_an_onnx_hash_is_refused(tmp_path):
    folder = _copy_export(tmp_path)
    _edit_manifest(folder, lambda m: m["artifacts"]["onnx"]["generator"].pop("sha256"))
    with pytest.raises(errors.IntegrityError, match="records no sha256 for the generator ONNX graph"):
        runtime.load(folder)


@pytest.mark.parametrize("name, graph", [("dcgan-digits", "generator"), ("pix2pix-colorize", "translate")])
@pytest.mark.parametrize("path", ["../outside.onnx", "/etc/hostname"])
def test_manifest_onnx_paths_stay_inside_the_export_even_without_hashes(tmp_path, name, graph, path):
    folder = _copy_export(tmp_path, name)
    _edit_manifest(folder, lambda m: m["artifacts"]["onnx"][graph].update(path=path))
    for check_hash in (True, False):
        with pytest.raises(errors.IntegrityError, match="outside its folder"):
            runtime.load(folder, check_hash=check_hash)


def test_image_task_exports_are_hash_checked(tmp_path):
    folder = _copy_export(tmp_path, "pix2pix-colorize")
    (folder / "translate.onnx").write_bytes((folder / "translate.onnx").read_bytes() + b"\0")
    with pytest.raises(errors.IntegrityError, match="does not match the sha256"):
        runtime.load(folder)


def test_a_broken_manifest_gives_a_clear_error(tmp_path):
    folder = _copy_export(tmp_path)
    _edit_manifest(folder, lambda m: m["model"].pop("latent_dim"))
    with pytest.raises(errors.ModelFileError, match="lacks the field model.latent_dim"):
        runtime.load(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(errors.ModelFileError, match="is not valid JSON"):
        runtime.load(folder)


def test_runtime_checks_seed_and_bounds_n_like_gan_generate():
    generator = runtime.load(EXPORTED / "dcgan-digits")
    for seed in (-1, 1.5, "a", True):
        with pytest.raises(errors.InputError, match="seed must be a non-negative integer"):
            generator.generate(2, seed=seed)
    with pytest.raises(errors.InputError, match=r"n=1000000000 samples .* GiB; one call generates at most"):
        generator.generate(10**9)
    assert generator.generate(2, seed=None).shape == (2, 16, 16, 1)


# --------------------------------------------------------------------------- downloads
class _Endless(http.server.BaseHTTPRequestHandler):
    """``/trickle``: one byte every 0.1 s, for ever; ``/big``: 5000 bytes without a Content-Length."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        try:
            if self.path == "/big":
                self.wfile.write(b"x" * 5000)
                return
            for _ in range(600):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client gave up
            pass


@pytest.fixture
def endless():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_trickling_server_hits_the_overall_deadline(endless, tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_DOWNLOAD_DEADLINE", "1")
    zoo.register("slow", f"{endless}/trickle", "0" * 64)
    start = time.monotonic()
    with pytest.raises(errors.DownloadError, match="not finished after GANZOO_DOWNLOAD_DEADLINE=1 s"):
        zoo.path("slow")
    assert time.monotonic() - start < 20  # the server never stops: only the deadline ends it (slack for busy CI)
    assert not (tmp_path / "cache").exists() or files_under(tmp_path / "cache") == []


def test_downloads_have_a_maximum_size(endless, server, saved_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_DOWNLOAD_MAX_BYTES", "1000")
    zoo.register("big", f"{endless}/big", "0" * 64)  # no Content-Length: the running count stops it
    with pytest.raises(errors.DownloadError, match="more than GANZOO_DOWNLOAD_MAX_BYTES=1000 bytes"):
        zoo.path("big")
    shutil.copyfile(saved_pair[0][0], server.root / "tiny.keras")  # announced too large: refused before reading
    zoo.register("tiny", server.url("tiny.keras"), sha256(saved_pair[0][0]))
    with pytest.raises(errors.DownloadError, match="announces .* bytes, more than GANZOO_DOWNLOAD_MAX_BYTES"):
        zoo.path("tiny")
    assert files_under(tmp_path / "cache") == []


def test_url_schemes_and_a_bad_timeout_setting(zoo_dir, saved_pair, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="does not name a regular file"):
        zoo.register("zero", "file:///dev/zero", "0" * 64)
    with pytest.raises(ValueError, match="scheme must be one of http, https, file"):
        zoo.register("ftp", "ftp://example.org/x.keras", "0" * 64)
    (zoo_dir / "pointer").mkdir()  # a card may only point at http(s): a card is data from someone else
    card = {"name": "pointer", "url": "file:///dev/zero", "sha256": "0" * 64, **CARD_FIELDS}
    (zoo_dir / "pointer" / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="scheme must be one of http, https"):
        zoo.path("pointer")
    local = saved_pair[0][0]
    zoo.register("local", local.as_uri(), sha256(local))  # the user's own file: fine
    assert (zoo.path("local") / "model.keras").read_bytes() == local.read_bytes()
    monkeypatch.setenv("GANZOO_DOWNLOAD_TIMEOUT", "abc")
    zoo.register("other", "http://127.0.0.1:9/x.keras", "0" * 64)
    with pytest.raises(ValueError, match="GANZOO_DOWNLOAD_TIMEOUT must be a positive number, got 'abc'"):
        zoo.path("other")


# ---------------------------------------------------------------------------- archives
def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def test_archives_have_caps_on_extracted_size_and_member_count(tmp_path, server, monkeypatch):
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip({"zeros": b"\0" * (4 << 20)}))  # 4 MiB from about 4 KB
    assert bomb.stat().st_size < 10_000
    with pytest.raises(errors.UnsafeArchiveError, match=r"4194304 bytes once extracted, more than 1000000"):
        zoo.extract_archive(bomb, tmp_path / "out", max_bytes=1_000_000)
    many = tmp_path / "many.zip"
    many.write_bytes(_zip({f"f{i}": b"" for i in range(5)}))
    with pytest.raises(errors.UnsafeArchiveError, match="5 members, more than 3"):
        zoo.extract_archive(many, tmp_path / "out", max_members=3)
    assert files_under(tmp_path / "out") == []
    # The caps apply to downloaded entries, and nothing is cached.
    monkeypatch.setattr(zoo, "MAX_EXTRACTED_BYTES", 1_000_000)
    shutil.copyfile(bomb, server.root / "bomb.zip")
    zoo.register("bomb", server.url("bomb.zip"), sha256(bomb))
    with pytest.raises(errors.UnsafeArchiveError, match="more than 1000000"):
        zoo.path("bomb")
    assert files_under(tmp_path / "cache") == []
    assert zoo.MAX_ARCHIVE_MEMBERS == 10_000


# -------------------------------------------------------------------------- zoo folders
def test_a_fifo_in_an_entry_is_refused_without_blocking(zoo_dir, saved_pair):
    folder = make_entry(zoo_dir, "dcgan-fifo", saved_pair[0])
    card = json.loads((folder / "card.json").read_text())
    os.mkfifo(folder / "pipe")
    card["files"]["pipe"] = "0" * 64
    (folder / "card.json").write_text(json.dumps(card))
    result = {}

    def call():
        try:
            zoo.path("dcgan-fifo")
        except Exception as error:  # noqa: BLE001 - handed to the test thread
            result["error"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "zoo.path blocked on a FIFO"
    assert isinstance(result["error"], errors.IntegrityError) and "not a regular file" in str(result["error"])


def test_broken_and_hostile_cards(zoo_dir, saved_pair, capsys):
    make_entry(zoo_dir, "dcgan-good", saved_pair[0], intended_use="\x1b]0;owned\x07\x1b[31mred")
    (zoo_dir / "latin1").mkdir()
    (zoo_dir / "latin1" / "card.json").write_bytes('{"name": "latin1", "license": "caf\xe9"}'.encode("latin-1"))
    (zoo_dir / "deep").mkdir()
    (zoo_dir / "deep" / "card.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(errors.IntegrityError, match="is not UTF-8 text"):
        zoo.info("latin1")
    with pytest.raises(errors.IntegrityError, match="nested too deeply"):
        zoo.info("deep")

    assert cli.main(["list"]) == 0  # the good entry is listed, the broken ones reported
    out, err = capsys.readouterr()
    assert "dcgan-good" in out
    assert "skipped zoo entry latin1" in err and "skipped zoo entry deep" in err

    assert cli.main(["info", "dcgan-good"]) == 0  # card strings cannot reach the terminal as escape codes
    out, _ = capsys.readouterr()
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[31mred" in out
    assert cli.main(["info", "deep"]) == 2
    assert "nested too deeply" in capsys.readouterr().err


# ---------------------------------------------------------------------------- durability
def test_card_and_export_json_are_fsynced_before_the_rename(tmp_path, saved_pair, monkeypatch):
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(file_utils.os, "fsync", fsync)
    folder = tmp_path / "entry"
    folder.mkdir()
    shutil.copyfile(saved_pair[0][0], folder / "model.keras")
    zoo.write_card(folder, config=saved_pair[0][1], **CARD_FIELDS)
    assert any(Path(p).name.startswith(".") and "card.json" in Path(p).name for p in synced)  # the file, before rename
    assert str(folder) in synced  # and the folder, after it

    # An export folder is flushed as a whole before it is renamed into place.
    flushed = []
    monkeypatch.setattr(exporter, "fsync_tree", lambda path: flushed.append(sorted(p.name for p in path.iterdir())))
    ganzoo.export(small_model("vanilla_gan"), tmp_path / "export", formats="onnx")
    assert flushed == [["generator.onnx", "manifest.json"]]
    np.testing.assert_equal(sorted(p.name for p in (tmp_path / "export").iterdir()), flushed[0])
