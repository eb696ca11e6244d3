"""The Streamlit app served for real and driven in headless Chromium (selenium)."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from paraseek.embedder import Embedder
from paraseek.index import Writer

from .conftest import ROOT, free_port, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "docs" / "screenshots" / "search.png"
STARTUP_S = 120
WAIT_S = 120
QUESTION = "Why did Michael Flynn resign?"
# What `paraseek search "Why did Michael Flynn resign?"` puts first on the sample corpus.
FIRST_PASSAGE = "1) Pulling the Lens Back: The whole episode of Mike Flynn's resignation"
FIRST_TITLE = "From Revolution | Original Article"
SECOND_QUESTION = "Who is Haz?"
SECOND_PASSAGE = "Online, I go by the name Haz. I am part of the Infrared group"
BOX = (By.CSS_SELECTOR, "input[aria-label='Ask a question or type some words']")

pytestmark = pytest.mark.slow


@contextmanager
def serve(index: Path, logs: Path) -> Iterator[str]:
    """`streamlit run app.py` on `index` at a free local port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = dict(os.environ, PARASEEK_INDEX=str(index))
    with running(
        command, f"{url}/_stcore/health", logs / "streamlit.log", env,
        ready=lambda body: body.strip() == b"ok", startup_s=STARTUP_S,
    ):  # fmt: skip
        yield url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium from Debian (`make browser` installs it); never skipped."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail(
            f"The browser tests need {CHROMIUM} and {CHROMEDRIVER}; install them with "
            "`make browser` (apt-get install chromium chromium-driver)."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.set_window_size(1400, 1600)
        yield driver
    finally:
        driver.quit()


def page_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def click_until(
    driver: WebDriver,
    find: Callable[[WebDriver], WebElement],
    check: Callable[[WebDriver], bool],
    what: str,
) -> None:
    """Click what `find` finds until `check` holds, as a person clicks again when a click is
    lost (on a loaded machine, a click while the page redraws can be); at most WAIT_S."""
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        try:
            find(driver).click()
            WebDriverWait(driver, 20, poll_frequency=0.5).until(check)
            return
        except Exception:  # a stale element or no change yet: look again and click again
            continue
    wait_for(driver, check, what)


def wait_for(driver: WebDriver, check: Callable[[WebDriver], bool], what: str) -> None:
    try:
        WebDriverWait(driver, WAIT_S, poll_frequency=0.5).until(check)
    except Exception as exc:
        raise AssertionError(
            f"{what} within {WAIT_S} s; the page shows:\n{page_text(driver)}"
        ) from exc


def search(driver: WebDriver, url: str, query: str) -> None:
    """Open the app, wait for the search box, type `query` and press Enter."""
    driver.get(url)
    wait_for(driver, lambda d: bool(d.find_elements(*BOX)), "no search box appeared")
    counts = re.compile(r"\d+ documents? · \d+ passages? · model")
    wait_for(driver, lambda d: bool(counts.search(page_text(d))), "the index counts did not appear")
    retype(driver, query)


def retype(driver: WebDriver, query: str) -> None:
    """Replace the search box's text with `query` and press Enter."""
    field = driver.find_element(*BOX)
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(query, Keys.ENTER)


def test_a_question_in_the_browser_shows_its_best_passage(
    sample_index: Path, browser: WebDriver, tmp_path: Path
) -> None:
    with serve(sample_index, tmp_path / "server") as url:
        search(browser, url, QUESTION)
        wait_for(
            browser, lambda d: FIRST_PASSAGE in page_text(d), "the expected passage did not appear"
        )
        text = page_text(browser)
        assert FIRST_TITLE in text
        assert "Type a question and press Enter" not in text
        # The best hit comes first: its title and passage precede every other passage.
        assert text.index(FIRST_TITLE) < text.index(FIRST_PASSAGE)
        assert "q=Why+did+Michael+Flynn+resign" in browser.current_url
        wait_for(
            browser, lambda d: page_text(d).count(" · score ") == 10, "ten hits did not appear"
        )
        browser.execute_script("document.activeElement.blur()")  # no caret in the picture
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(SCREENSHOT))
        # A second question replaces the first (the URL already holds q by now).
        retype(browser, SECOND_QUESTION)
        wait_for(
            browser,
            lambda d: SECOND_PASSAGE in page_text(d) and FIRST_PASSAGE not in page_text(d),
            "the second question's passage did not replace the first's",
        )
        assert "q=Who+is+Haz" in browser.current_url
        assert browser.find_element(*BOX).get_attribute("value") == SECOND_QUESTION


def test_html_and_markdown_in_a_document_reach_the_page_as_plain_text(
    embedder: Embedder, browser: WebDriver, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    body = "Plain words with <script>alert(1)</script> and **bold** and <b>a tag</b> in them."
    (folder / "hostile.txt").write_text(f"Notes <i>italic</i>\n\n{body}\n", encoding="utf-8")
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([folder])
    with serve(index, tmp_path / "server") as url:
        search(browser, url, "plain words with a tag")
        wait_for(
            browser, lambda d: body in page_text(d), "the document's text was not shown as typed"
        )
        assert "Notes <i>italic</i>" in page_text(browser)
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - no script ran
        main = browser.find_element(By.CSS_SELECTOR, "[data-testid='stMain']")
        assert not main.find_elements(By.TAG_NAME, "script")
        assert not main.find_elements(By.XPATH, ".//b[normalize-space()='a tag']")
        assert not main.find_elements(By.XPATH, ".//i[normalize-space()='italic']")
        assert not main.find_elements(By.XPATH, ".//strong[normalize-space()='bold']")
        # The query's words are marked in the real page, and only they.
        marked = {m.text.lower() for m in main.find_elements(By.TAG_NAME, "mark")}
        assert marked and marked <= {"plain", "words", "with", "a", "tag"}


def test_a_compare_url_opens_its_tab_and_switching_tabs_updates_it(
    sample_index: Path, browser: WebDriver, tmp_path: Path
) -> None:
    side = "Two documents side by side"
    with serve(sample_index, tmp_path / "server") as url:
        browser.get(f"{url}/compare?tab={side.replace(' ', '+')}&shared=0.8")
        wait_for(
            browser,
            lambda d: "have a counterpart in the second (cosine ≥ 0.80)" in page_text(d),
            "the side-by-side tab did not open at 0.80",
        )
        assert "shared talking points, each a group" not in page_text(browser)  # not run
        click_until(
            browser,
            lambda d: next(
                t
                for t in d.find_elements(By.CSS_SELECTOR, "[data-testid='stTab']")
                if t.text == "Shared talking points"
            ),
            lambda d: "shared talking points, each a group" in page_text(d),
            "the talking points did not appear",
        )
        assert "tab=Shared+talking+points" in browser.current_url
        assert "doc_a=" in browser.current_url  # side by side's documents, for coming back
        assert "comments=" not in browser.current_url
        browser.find_element(By.XPATH, "//label[contains(., 'Include comments')]").click()
        wait_for(
            browser, lambda d: "comments=true" in d.current_url, "the switch did not reach the URL"
        )
