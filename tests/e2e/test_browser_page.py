"""The web page in headless Chromium against a live service: upload, URL, and error paths, with screenshots."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.deploy.live_server import LiveServer, host_directory, sample_image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LABELS = {"cancerous", "non-cancerous"}
NOT_AN_IMAGE = b"these are notes, not a dermoscopy image\n"


def _post_file(server: LiveServer, path: str, name: str, data: bytes) -> tuple[int, dict]:
    """What the API itself answers for one multipart upload (to compare the page with)."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{server.base_url}{path}", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _open(page, server: LiveServer) -> None:
    page.goto(server.base_url + "/")
    page.wait_for_selector("#service-status[data-state=ready]")
    assert "Decision support, not a diagnosis" in page.inner_text("#notice")


IMAGE_IDS = ["heatmap-image", "original-image", "overlay-base"]


def _wait_for_images(page, timeout_ms: int = 30_000) -> None:
    # Polled from Python with page.evaluate: wait_for_function's string predicate is compiled in the page,
    # which the page's own Content-Security-Policy (no 'unsafe-eval') sometimes refuses, failing the test.
    for _ in range(timeout_ms // 100):
        if page.evaluate("ids => ids.every(id => document.getElementById(id).naturalWidth > 0)", IMAGE_IDS):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"images not loaded within {timeout_ms} ms: {IMAGE_IDS}")


def test_upload_shows_probability_label_threshold_differential_and_map(
    page, web_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    image = sample_image(tmp_path)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    _open(page, web_server)

    page.set_input_files("#file-input", str(image))
    page.click("#submit-button")
    page.wait_for_selector("#result:not([hidden])")
    _wait_for_images(page)
    page.screenshot(path=str(artifacts / "upload-result.png"), full_page=True)

    status, expected = _post_file(web_server, "/gradcam", image.name, image.read_bytes())
    assert status == 200
    assert page.inner_text("#result-label") == expected["label"] and expected["label"] in LABELS
    assert re.fullmatch(r"(\d{1,3}\.\d|< 0\.1) % \(\d\.\d{3}\)", page.inner_text("#result-probability"))
    assert f"({expected['probability']:.3f})" in page.inner_text("#result-probability")
    assert page.inner_text("#result-threshold").startswith(f"{expected['threshold']:.3f}")
    heatmap = page.locator("#heatmap-image")
    assert heatmap.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert heatmap.get_attribute("alt")
    assert heatmap.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [
        expected["heatmap_width"], expected["heatmap_height"]]
    assert "not a diagnosis" in page.inner_text("#result-disclaimer")
    rows = page.locator("#differential-rows tr")
    assert rows.count() == 7
    assert [rows.nth(i).get_attribute("data-code") for i in range(7)] == [d["code"] for d in expected["differential"]]
    assert page.is_visible(".legend") and "One scale for every image" in page.inner_text(".legend")
    assert page.inner_text("#explanation-message") == expected["explanation"]["message"]
    assert page.inner_text("#explanation-target") == expected["explanation"]["target"]
    page.fill("#opacity-slider", "30")
    assert heatmap.evaluate("img => getComputedStyle(img).opacity") == "0.3"
    assert page.is_hidden("#warnings") == (expected["warnings"] == [])
    assert page.is_hidden("#error")

    foreign = [url for url in requests if not url.startswith((web_server.base_url, "data:", "blob:"))]
    assert not foreign, f"the page must work offline; it requested {foreign}"


def test_image_url_is_analysed(page, web_server: LiveServer, artifacts: Path, tmp_path: Path) -> None:
    image = sample_image(tmp_path)
    with host_directory(image.parent) as base_url:
        _open(page, web_server)
        page.fill("#url-input", f"{base_url}/{image.name}")
        page.click("#submit-button")
        page.wait_for_selector("#result:not([hidden])")
        _wait_for_images(page)
        page.screenshot(path=str(artifacts / "url-result.png"), full_page=True)
    assert page.inner_text("#result-label") in LABELS


def test_text_file_shows_the_problem_detail(page, web_server: LiveServer, artifacts: Path) -> None:
    status, problem = _post_file(web_server, "/gradcam", "notes.txt", NOT_AN_IMAGE)
    assert status >= 400 and problem["detail"]
    _open(page, web_server)

    page.set_input_files("#file-input", files=[{"name": "notes.txt", "mimeType": "text/plain",
                                                "buffer": NOT_AN_IMAGE}])
    page.click("#submit-button")
    page.wait_for_selector("#error:not([hidden])")
    page.screenshot(path=str(artifacts / "error-not-an-image.png"), full_page=True)

    assert page.inner_text("#error-title") == problem["title"]
    assert page.inner_text("#error-detail") == problem["detail"]
    assert f"HTTP {status}" in page.inner_text("#error-meta")
    assert page.is_hidden("#result")


def test_empty_form_explains_what_is_missing(page, web_server: LiveServer) -> None:
    _open(page, web_server)
    page.click("#submit-button")
    page.wait_for_selector("#error:not([hidden])")
    assert "Choose a file" in page.inner_text("#error-detail")


def test_warnings_show_above_the_verdict_and_the_empty_map_says_so(
    page, web_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    from PIL import Image

    flat = tmp_path / "flat-grey.png"
    Image.new("RGB", (48, 40), (128, 128, 128)).save(flat)  # tiny, featureless: the input check must object
    status, expected = _post_file(web_server, "/gradcam", flat.name, flat.read_bytes())
    assert status == 200 and expected["warnings"]
    _open(page, web_server)
    page.set_input_files("#file-input", str(flat))
    page.click("#submit-button")
    page.wait_for_selector("#result:not([hidden])")
    page.screenshot(path=str(artifacts / "warnings-result.png"), full_page=True)
    assert page.is_visible("#warnings")
    codes = page.locator("#warning-list li").evaluate_all("items => items.map(item => item.dataset.code)")
    assert codes == [warning["code"] for warning in expected["warnings"]]
    warnings_top = page.locator("#warnings").bounding_box()["y"]
    assert warnings_top < page.locator(".verdict").bounding_box()["y"], "warnings come before the verdict"
    if expected["explanation"]["empty"]:
        assert "No region stood out" in page.inner_text("#explanation-message")


def test_narrow_screens_switch_between_original_and_overlay(page, web_server: LiveServer, tmp_path: Path) -> None:
    image = sample_image(tmp_path)
    page.set_viewport_size({"width": 420, "height": 900})
    _open(page, web_server)
    page.set_input_files("#file-input", str(image))
    page.click("#submit-button")
    page.wait_for_selector("#result:not([hidden])")
    assert page.is_visible("#heatmap-image") and page.is_hidden("#original-image")
    page.click("#show-original")
    assert page.is_visible("#original-image") and page.is_hidden("#heatmap-image")
