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

from .conftest import INTERVIEW, ROOT, SCRIPT, copy_index, free_port, running

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
STARTUP_S = 120
WAIT_S = 120
QUESTION = "Why did Michael Flynn resign?"
# What `paraseek search "Why did Michael Flynn resign?"` puts first on the sample corpus.
FIRST_PASSAGE = "1) Pulling the Lens Back: The whole episode of Mike Flynn's resignation"
FIRST_TITLE = (
    "Pulling the Lens Back: The whole episode of Mike Flynn's resignation …"  # no headline
)
SECOND_QUESTION = "Who is Haz?"
SECOND_PASSAGE = "Online, I go by the name Haz. I am part of the Infrared group"
BOX = (By.CSS_SELECTOR, "input[aria-label='Ask a question or type some words']")

# Set to a folder to keep the pages' screenshots (PARASEEK_SCREENSHOTS=docs/screenshots for the
# README); otherwise they go to the test's own folder: a test run leaves tracked files alone.
SHOTS = os.environ.get("PARASEEK_SCREENSHOTS")

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


def chromium(tmp_path: Path, *extra: str) -> WebDriver:
    """Headless Chromium from Debian (`make browser` installs it), with `extra` flags."""
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
        "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}", *extra,
    ):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def chromium_of_the_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium for the module's tests (starting one takes a second or two)."""
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium_of_the_module: WebDriver) -> WebDriver:
    """Headless Chromium at 1400 x 1600 on a blank page, without cookies or storage a test
    before left; never skipped. Each test opens its pages in it afresh, so each page is a new
    Streamlit session of its own."""
    driver = chromium_of_the_module
    driver.get("about:blank")
    driver.delete_all_cookies()
    driver.set_window_size(1400, 1600)
    return driver


@pytest.fixture(scope="module")
def sample_app(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the sample index, served once for the module's tests that only read it."""
    with serve(sample_index, tmp_path_factory.mktemp("server")) as url:
        yield url


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
    sample_app: str, browser: WebDriver, tmp_path: Path
) -> None:
    url = sample_app
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
    wait_for(browser, lambda d: page_text(d).count(" · score ") == 10, "ten hits did not appear")
    browser.execute_script("document.activeElement.blur()")  # no caret in the picture
    folder = Path(SHOTS or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(folder / "search.png"))
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
    sample_app: str, browser: WebDriver, tmp_path: Path
) -> None:
    url = sample_app
    side = "Two documents side by side"
    browser.get(f"{url}/compare?tab={side.replace(' ', '+')}&shared=0.8")
    wait_for(
        browser,
        lambda d: "have a counterpart in the second (score ≥ 0.80)" in page_text(d),
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


def in_view(driver: WebDriver, css: str) -> bool:
    """Whether the element `css` finds lies within the window's height now."""
    return bool(
        driver.execute_script(
            "const e = document.querySelector(arguments[0]); if (!e) return false;"
            "const r = e.getBoundingClientRect();"
            "return r.top >= 0 && r.bottom <= window.innerHeight;",
            css,
        )
    )


def test_a_hit_opens_its_passage_on_the_read_page_and_back_returns(
    sample_app: str, browser: WebDriver, tmp_path: Path
) -> None:
    url = sample_app
    search(browser, url, QUESTION)
    wait_for(browser, lambda d: FIRST_PASSAGE in page_text(d), "the first hit did not appear")
    link = browser.find_element(By.CSS_SELECTOR, "a[href^='read?doc=']")
    assert link.text == FIRST_TITLE
    link.click()
    wait_for(
        browser,
        lambda d: (
            FIRST_PASSAGE
            in " ".join(e.text for e in d.find_elements(By.CSS_SELECTOR, ".ps-target"))
        ),
        "the Read page did not open with the hit's passage highlighted",
    )
    assert "/read?doc=" in browser.current_url and "&p=" in browser.current_url
    text = page_text(browser)
    assert "12 passages" in text and "000_eacbcdf2668e75b6.txt" in text
    marked = browser.find_elements(By.CSS_SELECTOR, ".ps-hit")
    assert marked  # the query's other hits in this document
    wait_for(browser, lambda d: in_view(d, ".ps-target"), "the passage was not in view")
    # Back where the search was, with its hits.
    browser.back()
    wait_for(browser, lambda d: FIRST_PASSAGE in page_text(d), "Back did not return to the hits")
    assert browser.find_element(*BOX).get_attribute("value") == QUESTION
    # A passage deep in a long document is scrolled into view; the page's own link leads
    # back to the search.
    browser.get(f"{url}/read?doc={INTERVIEW.name}&p=150&q=Who+is+Haz%3F")
    wait_for(
        browser,
        lambda d: bool(d.find_elements(By.CSS_SELECTOR, "#p150.ps-target")),
        "passage 150 was not highlighted",
    )
    wait_for(browser, lambda d: in_view(d, "#p150"), "passage 150 was not scrolled into view")
    assert (
        browser.execute_script("return document.querySelector('#p1').getBoundingClientRect().top")
        < 0
    )
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(Path(SHOTS) / "read.png"))
    browser.find_element(By.LINK_TEXT, "← Back to the search").click()
    wait_for(
        browser,
        lambda d: SECOND_PASSAGE in page_text(d),
        "the page's link did not lead back to the search",
    )
    assert browser.find_element(*BOX).get_attribute("value") == SECOND_QUESTION


def test_the_api_docs_work_without_internet(sample_index: Path, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(SCRIPT), "api", "--index", str(sample_index), "--port", str(port)]
    # No name resolves but the loopback address: a CDN is as far as on a machine offline.
    driver = chromium(tmp_path, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    try:
        with running(command, f"{url}/health", tmp_path / "api.log", startup_s=STARTUP_S):
            driver.get(f"{url}/docs")
            wait_for(
                driver,
                lambda d: (
                    "/passages/{passage_id}/similar"
                    in " ".join(
                        e.text for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary")
                    )
                ),
                "Swagger UI did not draw the routes",
            )
            driver.get(f"{url}/redoc")
            wait_for(
                driver,
                lambda d: "The k passages closest to a query" in page_text(d),
                "ReDoc did not draw the routes",
            )
    finally:
        driver.quit()


EXTRA_TITLES = [  # three more documents, their titles as long as real ones
    "The Municipal Budget Debate: Transport, Housing and the Future of the Inner City Districts",
    "Letters to the Editor on the Proposed Closure of the Northern Railway Line",
    "Minutes of the Regional Assembly Meeting on Water Supply and Drought Planning",
]


def eight_documents(sample_index: Path, embedder: Embedder, tmp_path: Path) -> Path:
    """The sample index (5 documents) with three more: the most the grid fits unscrolled."""
    index = copy_index(sample_index, tmp_path / "eight")
    folder = tmp_path / "extra"
    folder.mkdir()
    for n, title in enumerate(EXTRA_TITLES):
        (folder / f"extra{n}.txt").write_text(
            f"{title}\n\nThe assembly discussed the plan at length and voted on it in March.",
            encoding="utf-8",
        )
    with Writer(index, embedder) as writer:
        writer.update([folder])
    return index


def fits(driver: WebDriver, css: str) -> bool:
    """Whether every element `css` finds shows its whole content: no sideways scroll, no cut."""
    return bool(
        driver.execute_script(
            "const all = document.querySelectorAll(arguments[0]);"
            "return all.length > 0 && [...all].every(e => e.scrollWidth <= e.clientWidth + 1);",
            css,
        )
    )


def test_the_grid_fits_1400_pixels_with_8_documents(
    sample_index: Path, embedder: Embedder, browser: WebDriver, tmp_path: Path
) -> None:
    index = eight_documents(sample_index, embedder, tmp_path)
    with serve(index, tmp_path / "server") as url:
        browser.set_window_size(1400, 1000)
        questions = "&".join(f"mq={q.replace(' ', '+')}" for q in (QUESTION, SECOND_QUESTION))
        browser.get(f"{url}/compare?tab=Many+questions&{questions}")
        wait_for(
            browser, lambda d: bool(d.find_elements(By.CSS_SELECTOR, ".ps-grid td.s")),
            "the grid did not appear",
        )  # fmt: skip
        headers = browser.find_elements(By.CSS_SELECTOR, ".ps-grid thead th[title]")
        assert len(headers) == 8
        assert {h.get_attribute("title") for h in headers} >= set(EXTRA_TITLES)  # whole titles
        assert fits(browser, ".ps-grid-wrap")  # no sideways scroll at 1400 px
        if SHOTS:
            assert browser.save_screenshot(str(Path(SHOTS) / "compare-grid.png"))


def test_a_hits_buttons_keep_their_labels_at_700_pixels(
    sample_app: str, browser: WebDriver, tmp_path: Path
) -> None:
    url = sample_app
    browser.set_window_size(700, 1000)
    search(browser, url, QUESTION)
    wait_for(browser, lambda d: FIRST_PASSAGE in page_text(d), "the first hit did not appear")
    # A label is cut with an ellipsis on its Markdown container, whose content then
    # overflows it.
    buttons = ", ".join(
        f"[data-testid='{widget}'] [data-testid='stMarkdownContainer']"
        for widget in ("stButton", "stCheckbox")
    )
    wait_for(
        browser, lambda d: "More like this" in page_text(d), "the hit's actions did not appear"
    )
    labels = browser.find_elements(By.CSS_SELECTOR, buttons)
    assert {"More like this", "Show context"} <= {e.text for e in labels}
    assert fits(browser, buttons)
