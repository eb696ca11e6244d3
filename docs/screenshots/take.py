"""Screenshots of every page of the running app, for the README.

Run: .venv/bin/python docs/screenshots/take.py paraseek-index   (the index `make run` builds of
data/corpus, named as given, which the Library page shows; needs
Debian's chromium and chromium-driver, as `make browser` installs). Writes docs/screenshots/*.png.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = str(Path(__file__).resolve().parents[2])
port = 8765
env = dict(os.environ, PARASEEK_INDEX=sys.argv[1])  # uploads: the default, <index>/library
server = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        f"{ROOT}/app.py",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--client.toolbarMode",
        "minimal",
    ],
    env=env,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
try:
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tempfile.mkdtemp()}",
        "--window-size=1400,1500",
    ]:
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)

    def shot(url, name, wait_text, settle=4):
        d.get(url)
        for _ in range(240):
            if wait_text in d.find_element(By.TAG_NAME, "body").text:
                break
            time.sleep(0.5)
        time.sleep(settle)
        d.save_screenshot(f"{ROOT}/docs/screenshots/{name}.png")
        print("saved", name)

    shot(f"http://127.0.0.1:{port}/?q=Why+did+Michael+Flynn+resign%3F", "search", "Download CSV")
    shot(
        f"http://127.0.0.1:{port}/compare?cq=What+role+does+religion+and+the+Church+play%3F",
        "compare",
        "doesn't address this",
    )
    shot(f"http://127.0.0.1:{port}/explore", "explore", "PCA of the embeddings", settle=6)
    shot(f"http://127.0.0.1:{port}/library", "library", "Indexed (UTC)")
    d.quit()
finally:
    server.terminate()
