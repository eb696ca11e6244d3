"""The Compare page on a large index: seconds from a question to the page drawn, in AppTest.

Run by hand: .venv/bin/python benchmarks/compare_page.py INDEX [QUESTION ...]

Streamlit's AppTest runs app.py in this process (no browser: the time to send and draw the
elements in one is not counted), opens the Compare page, and puts each question in turn;
then presses "Show 20 more". Prints the seconds of each, and how many answers are shown.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["Does vitamin D reduce fracture risk?", "What causes insulin resistance?"]


def main() -> None:
    os.environ["PARASEEK_INDEX"] = sys.argv[1]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.run()
    at.switch_page("ui/compare.py")
    at.run()
    at.text_input(key="cq").input("warm up the model and the floor").run()
    for question in sys.argv[2:] or QUESTIONS:
        started = time.perf_counter()
        at.text_input(key="cq").input(question).run()
        answers = len([m for m in at.markdown if " · score " in m.value])
        print(f"{time.perf_counter() - started:.2f} s, {answers} answers shown: {question}")
    more = [b for b in at.button if b.label.startswith("Show ")]
    if more:
        started = time.perf_counter()
        more[0].click().run()
        answers = len([m for m in at.markdown if " · score " in m.value])
        print(f"{time.perf_counter() - started:.2f} s, {answers} answers shown: {more[0].label}")


if __name__ == "__main__":
    main()
