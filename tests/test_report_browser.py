"""The demo build's report in a real browser: the system's headless Chromium, driven by
Selenium through /usr/bin/chromedriver, opens the pages from file:// with no network. A browser
that is missing or does not start fails the test with a message saying so; it never skips.

Screenshots of every page are kept under out/test-artifacts/report/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.commands.report import build_report
from pipeline.commands.report.documents import PAGE_SIZE
from pipeline.commands.report.html import PAGES as SITE_PAGES
from tests.reportgen import make_demo_build, shared_root

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SAMPLES = PAGE_SIZE + 2  # more than a page of documents, fewer than the build keeps
ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts" / "report"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900")


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory) -> Path:
    return make_demo_build(shared_root(tmp_path_factory))


@pytest.fixture(scope="module")
def report(tmp_path_factory, demo_build) -> Path:
    out = tmp_path_factory.mktemp("report") / "site"
    return Path(build_report(str(demo_build), str(out), samples=SAMPLES)).parent


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.fail(f"selenium is not installed ({exc}): `make install` installs the dev extra")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: run `make browser` as root, or "
                        "`apt-get install chromium chromium-driver`")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:  # an explicit driver path: Selenium downloads nothing
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except WebDriverException as exc:
        pytest.fail(f"Chromium could not be started through {CHROMEDRIVER}: {exc.msg}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(browser, report: Path, page: str) -> None:
    browser.get((report / page).as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def _console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _broken_images(browser) -> list[str]:
    return browser.execute_script(
        "return Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));")


def _screenshot(browser, name: str) -> None:
    height = min(browser.execute_script("return document.body.scrollHeight"), 6000)
    browser.set_window_size(1280, max(height, 600))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    browser.set_window_size(1280, 900)


PAGES = tuple(href for href, _ in SITE_PAGES)


def test_pages_load_without_errors_and_every_image_shows(browser, report, capsys):
    for page in PAGES:
        _open(browser, report, page)
        assert _console_errors(browser) == [], page
        assert _broken_images(browser) == [], page
        _screenshot(browser, page.replace(".html", ""))
    with capsys.disabled():
        print(f"\nreport screenshots: {ARTIFACTS}")
    # the image rejects of the demo include thumbnails read back from the WARC
    _open(browser, report, "rejects.html")
    assert browser.execute_script("return document.querySelectorAll('img.thumb').length") > 0
    _open(browser, report, "pairs.html")
    frames = browser.execute_script(
        "return document.querySelectorAll('#src-video_text figure.frame img').length")
    pairs = browser.execute_script(
        "return document.querySelectorAll('#src-image_text figure.pair img').length")
    assert frames > 0 and pairs > 0


def test_every_reason_link_lands_on_its_examples(browser, report):
    _open(browser, report, "index.html")
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('a.reason-link')).map(a => "
        "[a.getAttribute('href'), a.classList.contains('zero')]);")
    chart = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg.funnel a')).map(a => "
        "a.getAttribute('xlink:href') || a.getAttribute('href'));")
    assert links and chart
    assert {h for h in chart} <= {h for h, _ in links}
    _open(browser, report, "rejects.html")
    found = browser.execute_script(
        "return Object.fromEntries(arguments[0].map(id => { const el = "
        "document.getElementById(id); return [id, el && el.classList.contains('reason') ? "
        "el.querySelectorAll('.example').length : null]; }));",
        [h.split("#", 1)[1] for h, _ in links])
    for href, zero in links:
        examples = found[href.split("#", 1)[1]]
        assert examples is not None, f"{href} lands on no reason section"
        assert zero or examples > 0, f"{href} has no examples"
    # and following one for real lands on it
    _open(browser, report, "index.html")
    first = next(h for h, zero in links if not zero)
    browser.find_element("css selector", f'a.reason-link[href="{first}"]').click()
    target = browser.execute_script("const t = document.querySelector(':target'); "
                                    "return t && [t.id, t.querySelectorAll('.example').length];")
    assert target == [first.split("#", 1)[1], target[1]] and target[1] > 0


def _visible_docs(browser) -> list[str]:
    return browser.execute_script("return Array.from(document.querySelectorAll("
                                  "'article.doc')).filter(d => !d.hidden).map(d => d.id);")


def test_documents_are_the_sample_and_page_and_search(browser, report, demo_build):
    kept = json.loads((demo_build / "manifest.json").read_text())["sources"]["interleaved"]
    assert kept["samples"] > SAMPLES  # so the sample is SAMPLES documents
    _open(browser, report, "documents.html")
    total = browser.execute_script("return document.querySelectorAll('article.doc').length")
    assert total == SAMPLES
    first = _visible_docs(browser)
    assert len(first) == PAGE_SIZE
    assert browser.find_element("id", "doc-page").text == "page 1 of 2"
    browser.find_element("id", "doc-next").click()
    second = _visible_docs(browser)
    assert browser.find_element("id", "doc-page").text == "page 2 of 2"
    assert len(second) == SAMPLES - PAGE_SIZE and not set(first) & set(second)
    assert browser.find_element("id", "doc-next").get_attribute("disabled") is not None
    browser.find_element("id", "doc-prev").click()
    assert _visible_docs(browser) == first
    url = browser.execute_script(
        f"return document.getElementById('{second[0]}').querySelector('header a.url').href;")
    browser.find_element("id", "doc-search").send_keys(url.rsplit("/", 1)[1])
    assert _visible_docs(browser) == [second[0]]
    assert _console_errors(browser) == []
