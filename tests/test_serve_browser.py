"""The web page of `pydarknet serve` in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium): upload dog.jpg, read the detections off the page,
compare them with pydarknet.detect(), check the boxes are drawn in Darknet's colours,
move the threshold slider, and keep a screenshot (PYDARKNET_ARTIFACTS or pytest's tmp)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers.serve_server import Server

import pydarknet

pytest.importorskip("fastapi", reason="the serve extras are not installed")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("Chromium is not installed: tests/run.sh installs Debian's chromium and "
                    "chromium-driver (apt-get install -y chromium chromium-driver)")  # fmt: skip
    profile = tempfile.mkdtemp(prefix="pydarknet-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--window-size=1280,1500",
                 f"--user-data-dir={profile}"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    with Server() as s:
        yield s


def page_detections(driver) -> list[tuple[str, float, tuple[float, ...]]]:  # type: ignore[no-untyped-def]
    """The table's rows: the numbers from each row's data attributes (JavaScript writes
    a double's shortest round-trip text), checked against the row's visible text."""
    rows = []
    for tr in driver.find_elements(By.CSS_SELECTOR, "#detections tbody tr"):
        cells = [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
        attr = {
            k: tr.get_attribute(f"data-{k}") for k in ("label", "confidence", "x", "y", "w", "h")
        }
        conf = float(attr["confidence"])  # type: ignore[arg-type]
        assert cells[1] == attr["label"] and cells[3] == f"{conf * 100:.1f}%", cells
        rows.append((attr["label"], conf, tuple(float(attr[k]) for k in "xywh")))  # type: ignore[arg-type]
    return rows


def wait_done(driver, text: str) -> None:  # type: ignore[no-untyped-def]
    def done(d) -> bool:  # type: ignore[no-untyped-def]
        status = d.find_element(By.ID, "status")
        assert status.get_attribute("data-state") != "error", status.text
        return status.get_attribute("data-state") == "done" and text in status.text

    WebDriverWait(driver, 120, poll_frequency=0.2).until(done)


def test_page_uploads_dog_and_shows_detect_results(
    browser, server, net, meta, dog, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    browser.get(server.url + "/")
    WebDriverWait(browser, 60).until(lambda d: "80 classes" in d.find_element(By.ID, "model").text)
    browser.find_element(By.ID, "file").send_keys(dog)
    wait_done(browser, "5 detections at threshold 0.50")
    want = pydarknet.detect(net, meta, dog)
    assert page_detections(browser) == want

    # The boxes are drawn on the canvas in Darknet's class colours (pydarknet.draw).
    size = browser.execute_script("const c = document.getElementById('canvas');"
                                  "return [c.width, c.height];")  # fmt: skip
    assert size == [768, 576]
    first_class: dict[tuple[float, ...], int] = {}  # a shared box: its lowest class's colour
    for label, _, box in want:
        first_class[box] = min(first_class.get(box, 999), meta.names.index(label))
    for (x, y, w, _h), class_id in first_class.items():
        left, mid = int(x - w / 2) + 1, int(y)
        rgba = browser.execute_script(
            "return Array.from(document.getElementById('canvas').getContext('2d')"
            ".getImageData(arguments[0], arguments[1], 1, 1).data);", left, mid)  # fmt: skip
        blue, green, red = pydarknet.class_color(class_id, 80)
        assert max(abs(a - b) for a, b in zip(rgba[:3], (red, green, blue), strict=True)) <= 2, (
            class_id
        )

    # The threshold slider asks again with the new threshold.
    browser.execute_script("const s = document.getElementById('thresh'); s.value = '0.25';"
                           "s.dispatchEvent(new Event('input'));")  # fmt: skip
    wait_done(browser, "at threshold 0.25")
    lower = pydarknet.detect(net, meta, dog, thresh=0.25)
    assert len(lower) > len(want) and page_detections(browser) == lower

    artifacts = Path(os.environ.get("PYDARKNET_ARTIFACTS") or tmp_path)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "serve_page_dog.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_page_shows_service_errors(browser, server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "not-an-image.jpg"
    bad.write_bytes(b"plain text, not a picture\n" * 10)
    browser.get(server.url + "/")
    browser.find_element(By.ID, "file").send_keys(str(bad))
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "error"
    )
    assert "415" in browser.find_element(By.ID, "status").text
    assert server.alive()
