"""``ganzoo demo``: the site builder without a browser, then the page in a real headless Chromium.

The browser tests drive Debian's ``chromium`` through its ``chromium-driver`` with selenium (no
download: the driver's path is given, so Selenium Manager never runs), on one page shared by the
module: every bundled model loads without a console error, the page's numbers equal
``ganzoo.runtime``'s within 1e-4 for one model of each kind, and a screenshot is not blank. They
skip, saying why, only where Chromium, selenium or onnxruntime-web is missing; with ``CI=true`` they fail
instead. ``GANZOO_DEMO_SCREENSHOT=docs/img/demo.png`` keeps the screenshot (the README's picture).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

try:  # the test extra installs selenium; without it the browser tests say so (and fail under CI=true)
    from selenium import webdriver
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError:
    webdriver = WebDriverWait = None

from ganzoo.cli import main
from ganzoo.deploy import demo, runtime, zoo
from ganzoo.errors import DemoBuildError, UnknownNameError
from ganzoo.evaluation.evaluate import CLASSIFIERS
from ganzoo.utils.sampling import const_noise_maps, mix_styles

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
ATOL = 1e-4


@pytest.fixture
def fake_dist(tmp_path: Path) -> Path:
    """A stand-in for onnxruntime-web's dist folder (the builder only copies it)."""
    dist = tmp_path / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    for name in demo.ORT_FILES:
        (dist / name).write_bytes(b"// " + name.encode())
    (dist.parent / "package.json").write_text(json.dumps({"version": demo.ORT_WEB_VERSION}))
    return dist


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ the builder
def test_build_writes_a_self_contained_site(tmp_path, fake_dist):
    out = tmp_path / "site"
    index = demo.build(out, ["dcgan-digits", "stylegan-digits", "srgan-x2"], ort_dist=fake_dist)
    assert [m["name"] for m in index["models"]] == ["dcgan-digits", "stylegan-digits", "srgan-x2"]
    for name in (*demo.STATIC_FILES, "models.json", *(f"ort/{f}" for f in demo.ORT_FILES), *index["examples"]):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "models" / "stylegan-digits").iterdir()) == [
        "card.json",
        "manifest.json",
        "mapping.onnx",
        "noise_const.json",
        "synthesis.onnx",
    ]  # only the graphs the page runs
    for entry in index["models"]:
        manifest = json.loads((out / entry["path"] / "manifest.json").read_text())
        for graph, file in entry["graphs"].items():
            assert _sha256(out / entry["path"] / file) == manifest["artifacts"]["onnx"][graph]["sha256"]
        card = json.loads((out / entry["path"] / "card.json").read_text())
        assert card["limitations"] and card["intended_use"] and card["headline"]
    noise = json.loads((out / "models" / "stylegan-digits" / "noise_const.json").read_text())
    expected = const_noise_maps([4, 8, 8, 16, 16])
    assert all(np.array_equal(np.float32(noise[f"noise_{i}"]), m.ravel()) for i, m in enumerate(expected))
    files = [p for p in out.rglob("*") if p.is_file()]
    assert index["weight"]["total_bytes"] == pytest.approx(sum(p.stat().st_size for p in files), abs=64)
    assert index["weight"]["models_bytes"] == sum(p.stat().st_size for p in (out / "models").rglob("*") if p.is_file())
    for name in demo.STATIC_FILES:  # nothing fetched from elsewhere at run time
        assert not re.search(r"https?://", (out / name).read_text()), name
    assert json.loads((out / "models.json").read_text()) == index


def test_cards_show_their_headline_numbers_nested_ones_included():
    assert list(zoo.headline_metrics(zoo.info("pix2pix-colorize"))) == ["model.psnr_rgb", "baseline.psnr_rgb"]
    assert zoo.headline_metrics(zoo.info("srgan-x2")) == {
        "psnr_y": zoo.info("srgan-x2")["metrics"]["psnr_y"],
        "bicubic_psnr_y": zoo.info("srgan-x2")["metrics"]["bicubic_psnr_y"],
    }


def test_default_selection_is_every_onnx_entry_within_the_budget():
    everything = [name for name, _, _ in demo.select_models()]
    classifiers = set(CLASSIFIERS.values())  # the evaluation's feature extractors have no ONNX export
    assert everything == [n for n in zoo.list_models() if n not in classifiers]
    small = [name for name, _, _ in demo.select_models(max_model_mb=1.0)]
    sizes = {
        name: sum((zoo.path(name) / m["artifacts"]["onnx"][g]["path"]).stat().st_size for g in demo.page_graphs(m))
        for name, _, m in demo.select_models()
    }
    assert small == [name for name, size in sizes.items() if size <= 2**20]
    assert "stylegan-digits" in small and "cgan-fashion" not in small


def test_bad_names_budgets_and_folders_are_refused(tmp_path, fake_dist):
    with pytest.raises(UnknownNameError, match="dcgan-digits"):
        demo.build(tmp_path / "a", ["dcgan-digit"], ort_dist=fake_dist)
    with pytest.raises(DemoBuildError, match="no ONNX export"):
        demo.build(tmp_path / "b", ["digits-classifier"], ort_dist=fake_dist)
    with pytest.raises(DemoBuildError, match=r"over the 0.5 MiB budget; raise --max-model-mb"):
        demo.build(tmp_path / "c", ["cgan-digits"], ort_dist=fake_dist, max_model_mb=0.5)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DemoBuildError, match="not a ganzoo demo site"):
        demo.build(other, ["srgan-x2"], ort_dist=fake_dist)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "onnxruntime-web"]  # no staging left behind
    site = tmp_path / "site"
    demo.build(site, ["srgan-x2"], ort_dist=fake_dist)
    demo.build(site, ["vanilla_gan-ring8"], ort_dist=fake_dist)  # an earlier site is replaced
    assert [p.name for p in (site / "models").iterdir()] == ["vanilla_gan-ring8"]


def test_missing_or_wrong_onnxruntime_web_says_how_to_get_it(tmp_path, fake_dist, monkeypatch):
    monkeypatch.setattr(demo, "REPO_ORT_DIST", tmp_path / "no-checkout")
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
    monkeypatch.delenv(demo.ORT_DIST_ENV, raising=False)
    with pytest.raises(DemoBuildError, match=r"not found and offline mode is on: run `npm ci --prefix web`"):
        demo.find_ort_dist()
    with pytest.raises(DemoBuildError, match="lacks ort.wasm.min.js"):
        demo.find_ort_dist(tmp_path)
    (fake_dist.parent / "package.json").write_text(json.dumps({"version": "1.0.0"}))
    monkeypatch.setenv(demo.ORT_DIST_ENV, str(fake_dist))
    with pytest.raises(DemoBuildError, match=f"holds onnxruntime-web 1.0.0; ganzoo demo pins {demo.ORT_WEB_VERSION}"):
        demo.find_ort_dist()


def test_the_pinned_version_is_the_one_in_web_package_json():
    package = json.loads((ROOT / "web" / "package.json").read_text())
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    assert package["dependencies"] == {"onnxruntime-web": demo.ORT_WEB_VERSION}
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == demo.ORT_WEB_VERSION


def test_cli_builds_and_reports_the_page_weight(tmp_path, fake_dist, capsys):
    assert main(["demo", "srgan-x2", "--out", str(tmp_path / "site"), "--ort-dist", str(fake_dist)]) == 0
    assert re.search(r"1 model \(srgan-x2\); page weight [\d.]+ MB", capsys.readouterr().out)
    assert main(["demo", "nope", "--out", str(tmp_path / "x"), "--ort-dist", str(fake_dist)]) == 2
    assert capsys.readouterr().err.startswith("ganzoo demo: error: Unknown zoo model 'nope'")


def test_serve_answers_on_localhost_with_the_wasm_mime_type(tmp_path, fake_dist):
    demo.build(tmp_path / "site", ["srgan-x2"], ort_dist=fake_dist)
    server = demo.serve(tmp_path / "site")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ort/ort-wasm-simd-threaded.wasm") as response:
            assert response.headers["Content-Type"] == "application/wasm"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(DemoBuildError, match="not a built demo site"):
        demo.serve(tmp_path)


# ------------------------------------------------------------------ the page in Chromium
def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason}; CI must install it (see .ci/run).")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The built site (every bundled model), served on 127.0.0.1 and opened once in headless Chromium."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        _unavailable(
            "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        )
    if webdriver is None:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANZOO_OFFLINE", "1")  # tests never run npm
        try:
            dist = demo.find_ort_dist()
        except DemoBuildError as error:
            _unavailable(str(error))
    site = tmp_path_factory.mktemp("demo") / "site"
    demo.build(site, ort_dist=dist)
    server = demo.serve(site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    try:
        driver.set_script_timeout(120)
        driver.url = f"http://127.0.0.1:{server.server_address[1]}/"
        driver.get(driver.url)
        driver.loaded = _call(driver, "window.ganzooReady")
        driver.console = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        yield driver
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()


def _call(driver, expression: str, argument=None):
    """Await a JavaScript promise in the page; its value, or a pytest failure with the page's error."""
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"Promise.resolve({expression}).then((value) => done({{value}}), (e) => done({{error: String(e)}}));",
        argument,
    )
    if "error" in result:
        pytest.fail(f"the page raised: {result['error']}")
    return result["value"]


def test_every_bundled_model_loads_without_a_console_error(page):
    assert page.loaded == {name: "ok" for name, _, _ in demo.select_models()}
    assert page.console == []


def _browser(page, request: dict) -> np.ndarray:
    result = _call(page, "ganzooRun(arguments[0])", request)
    return np.asarray(result["output"], np.float32).reshape(result["shape"])


def _explicit_cases():
    rng = np.random.default_rng(16)
    z = rng.standard_normal((3, 64), dtype=np.float32)
    z2 = rng.standard_normal((3, 64), dtype=np.float32)
    noise = {f"noise_{i}": rng.standard_normal((3, r, r, 1), dtype=np.float32) for i, r in enumerate([4, 8, 8, 16, 16])}
    photo = rng.integers(0, 256, (21, 27, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (18, 13, 4), dtype=np.uint8)

    def style(g):
        ws = mix_styles(g.mapping_ws(z, 0.7), g.mapping_ws(z2, 0.7), 2)
        return g.synthesis_from(ws, noise)

    def image(image):
        return {"height": image.shape[0], "width": image.shape[1], "channels": image.shape[2], "data": image.ravel()}

    return {
        "latent": [
            ("cgan-digits", {"z": z, "labels": [0, 4, 9]}, lambda g: g.run(z, np.array([0, 4, 9]))),
        ],
        "style": [
            (
                "stylegan-digits",
                {"z": z, "truncation_psi": 0.7, "noise": noise, "mix": {"z": z2, "cutoff": 2}},
                style,
            ),
        ],
        "image_to_image": [  # pix2pix: RGB -> gray (BT.601) and padding to 32; cyclegan: alpha dropped, b2a
            ("pix2pix-colorize", {"image": image(photo)}, lambda g: g.translate(photo, raw=True)),
            ("cyclegan-hue", {"image": image(rgba), "direction": "b2a"}, lambda g: g.translate(rgba, "b2a", raw=True)),
        ],
        "super_resolution": [("srgan-x2", {"image": image(photo)}, lambda g: g.upscale(photo, raw=True))],
    }


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("kind", ["latent", "style", "image_to_image", "super_resolution"])
def test_explicit_inputs_give_the_runtimes_numbers(page, kind):
    for name, request, expected in _explicit_cases()[kind]:
        want = expected(runtime.load(zoo.path(name), threads=1))
        got = _browser(page, _jsonable({"model": name, **request}))
        assert got.shape == want.shape, name
        diff = float(np.max(np.abs(got - want)))
        print(f"{kind} {name}: max |browser - ganzoo.runtime| = {diff:.2e}")
        assert diff <= ATOL, (name, diff)


def test_bad_explicit_inputs_are_refused_with_what_was_expected(page):
    def error(request: dict) -> str:
        script = (
            "const done = arguments[arguments.length - 1];"
            "ganzooRun(arguments[0]).then(() => done('no error'), (e) => done(String(e)));"
        )
        return page.execute_async_script(script, request)

    assert "this page has cgan-digits" in error({"model": "nope"})
    assert "labels must be an int or 2 ints in [0, 10)" in error({"model": "cgan-digits", "n": 2, "labels": [3, 10]})
    assert "labels in [0, 10) needed" in error({"model": "cgan-digits", "n": 2})
    assert "takes no labels" in error({"model": "dcgan-digits", "labels": 1})
    assert "needs 48 values" in error({"model": "stylegan-digits", "n": 3, "noise": {"noise_0": [0] * 16}})


def test_seeded_draws_are_the_documented_generator_and_const_noise_matches(page):
    result = _call(page, "ganzooRun(arguments[0])", {"model": "stylegan-digits", "seed": 7, "n": 2})
    z = demo.page_latents(2, 64, 7)
    np.testing.assert_allclose(np.float32(result["z"]).reshape(2, 64), z, atol=1e-6)
    g = runtime.load(zoo.path("stylegan-digits"), threads=1)
    want = g.synthesis_from(g.mapping_ws(z, 1.0), g.noise_inputs(2))
    got = np.float32(result["output"]).reshape(result["shape"])
    assert np.max(np.abs(got - want)) <= ATOL


def test_screenshot_of_the_page_is_not_blank(page, tmp_path):
    page.execute_script("window.scrollTo(0, 0)")
    path = Path(os.environ.get("GANZOO_DEMO_SCREENSHOT") or tmp_path / "demo.png")
    assert page.save_screenshot(str(path))
    pixels = np.asarray(Image.open(path).convert("RGB"), np.float32)
    assert pixels.shape[0] >= 800 and pixels.shape[1] >= 1000
    # A blank or unstyled page has a handful of colours; rendered sample grids and text have hundreds.
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 300
    n = len(page.loaded)
    assert page.find_element("id", "status").text.startswith(f"{n} of {n} models running")


def test_an_uploaded_image_is_upscaled_and_offered_for_download(page, tmp_path):
    photo = np.random.default_rng(3).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "upload.png")
    page.find_element("css selector", "#srgan-x2 input[type=file]").send_keys(str(tmp_path / "upload.png"))
    output = "const c = document.querySelectorAll('#srgan-x2 figure canvas')[1]; return [c.width, c.height];"
    WebDriverWait(page, 30).until(lambda driver: driver.execute_script(output) == [60, 40])  # x2
    link = page.find_element("css selector", "#srgan-x2 a[download]").get_attribute("href")
    assert link.startswith("data:image/png;base64,")


def test_the_query_interface_runs_a_request_from_the_url(page):
    request = {"model": "vanilla_gan-ring8", "seed": 3, "n": 4}
    page.get(page.url + "?run=" + urllib.request.quote(json.dumps(request)))
    result = _call(page, "window.ganzooResult")
    g = runtime.load(zoo.path("vanilla_gan-ring8"), threads=1)
    np.testing.assert_allclose(
        np.float32(result["output"]).reshape(4, 2), g.run(demo.page_latents(4, 16, 3)), atol=ATOL
    )
    assert json.loads(page.find_element("id", "run-result").text)["shape"] == [4, 2]


@pytest.mark.parametrize("budget", [float("inf"), float("nan"), 0.0, -1.0])
def test_a_budget_that_is_no_finite_positive_size_is_refused(budget, capsys):
    with pytest.raises(DemoBuildError, match="finite number of MiB above 0"):
        demo.select_models(max_model_mb=budget)
    assert main(["demo", "--max-model-mb", str(budget), "--out", "unused"]) == 2
    assert "finite number of MiB" in capsys.readouterr().err


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_a_port_out_of_range_is_refused_in_one_line(port, tmp_path):
    (tmp_path / demo.INDEX_FILE).write_text("<html></html>")
    with pytest.raises(DemoBuildError, match="port must be an integer from 0"):
        demo.serve(tmp_path, port)
