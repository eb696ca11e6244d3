"""examples/search-box.html in headless Chromium against the API served by uvicorn (CORS, XSS)."""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from paraseek.api import create_app
from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
from paraseek.search import Searcher

from . import test_browser
from .conftest import ROOT, free_port, running
from .test_browser import wait_for

EXAMPLES = ROOT / "examples"
KEY = "box-key"
SCRIPT = "<script>window.__xss=1</script>"
IMAGE = '<img src=x onerror="window.__xss=1">'
HOSTILE = (
    f"The harbour crane collapsed during the storm {SCRIPT} and the crane operator wrote "
    f"{IMAGE} in the accident report.\n"
)
STARTUP_S = 60
browser = test_browser.browser  # the headless Chromium fixtures, shared
chromium_of_the_module = test_browser.chromium_of_the_module

pytestmark = pytest.mark.slow


@contextmanager
def api_server(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free 127.0.0.1 port in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start within {STARTUP_S} s")
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def page_server(folder: Path) -> Iterator[str]:
    """`folder` served as static files on another free 127.0.0.1 port; yields its origin."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=20)


@pytest.fixture
def hostile_searcher(embedder: Embedder, tmp_path: Path) -> Searcher:
    """An index of a document whose text is markup, a plain one with a reader's comment, and a
    news item with a quotation."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "crane.txt").write_text(f"Crane report <b>draft</b>\n\n{HOSTILE}", encoding="utf-8")
    (folder / "bakery.txt").write_text(
        "Bakery notes\n\nThe bakery sells rye bread and poppy seed rolls every morning.\n\n"
        "<i>Mallory</i> said...\n\nThe crane outside the bakery scared the customers away.\n",
        encoding="utf-8",
    )
    (folder / "port.txt").write_text(
        "Port news\n\nThe harbour reopened on Monday after the storm.\n\n"
        "The harbour master said:\n\n\u201cThe crane will be rebuilt before winter.\u201d\n\n"
        "Ferries run to the islands again from Tuesday.\n",
        encoding="utf-8",
    )
    index = tmp_path / "index"
    with Writer(index, embedder) as writer:
        writer.update([folder])
    return Searcher(Index(index), embedder)


def results_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "results").text


def status_text(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "status").text


def ask(driver: WebDriver, query: str) -> None:
    field = driver.find_element(By.ID, "q")
    field.clear()
    field.send_keys(query, Keys.ENTER)


def test_the_search_box_shows_document_markup_as_text(
    hostile_searcher: Searcher,
    browser: WebDriver,
) -> None:
    with page_server(EXAMPLES) as page:
        app = create_app(hostile_searcher, cors_origins=[page], api_key=KEY)
        with api_server(app) as api:
            browser.get(f"{page}/search-box.html?api={api}")
            assert browser.find_element(By.ID, "api").get_attribute("value") == api
            # Without the key: the API's JSON error reaches the page (CORS on errors too).
            ask(browser, "harbour crane accident report")
            wait_for(
                browser, lambda d: "This API needs a key" in status_text(d), "no key error shown"
            )
            browser.find_element(By.TAG_NAME, "summary").click()
            browser.find_element(By.ID, "key").send_keys(KEY)
            ask(browser, "harbour crane accident report")
            wait_for(browser, lambda d: SCRIPT in results_text(d), "the hit did not appear")
            text = results_text(browser)
            assert IMAGE in text  # shown literally, as typed in the document
            assert "Crane report <b>draft</b>" in text  # the title, literally
            assert "crane.txt" in text and "score " in text
            assert "comment by <i>Mallory</i>" in text  # a reader's comment, marked, literally
            assert "quoting The harbour master" in text  # a quotation is not a comment
            assert "comment by The harbour master" not in text
            assert text.index("Crane report") < text.index("Bakery notes")  # best first
            results = browser.find_element(By.ID, "results")
            for tag in ("script", "img", "b"):
                assert not results.find_elements(By.TAG_NAME, tag), tag
            assert browser.execute_script("return typeof window.__xss") == "undefined"
            assert "q=harbour+crane+accident+report" in browser.current_url
            assert KEY not in browser.current_url
            # A blank query is refused by the API with its own message.
            ask(browser, "   ")
            wait_for(browser, lambda d: "The query is empty" in status_text(d), "no empty error")
            assert results_text(browser) == ""
        assert browser.execute_script("return typeof window.__xss") == "undefined"


def test_a_page_from_an_origin_not_allowed_cannot_read_the_api(
    hostile_searcher: Searcher,
    browser: WebDriver,
    tmp_path: Path,
) -> None:
    # `serve` itself, in its own process, as `paraseek api` runs it.
    port = free_port()
    code = "import sys; from paraseek.api import serve; serve(sys.argv[1], port=int(sys.argv[2]))"
    env = dict(os.environ, PARASEEK_CORS_ORIGINS="http://127.0.0.1:1", PARASEEK_API_KEY="")
    log = tmp_path / "api.log"
    command = [sys.executable, "-c", code, str(hostile_searcher.index.path), str(port)]
    api = f"http://127.0.0.1:{port}"
    with running(command, f"{api}/health", log, env, startup_s=STARTUP_S):
        with page_server(EXAMPLES) as page:
            browser.get(f"{page}/search-box.html?api={api}&q=bakery")
            wait_for(
                browser, lambda d: "Cannot reach the API" in status_text(d), "no CORS failure shown"
            )
            assert results_text(browser) == ""
    assert "API for" in log.read_text()
