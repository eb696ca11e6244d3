# Two commands: `make run` (install, index the sample corpus, start the app) and `make test`.
# While editing: `make check` (lint, types and the tests not marked slow).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= paraseek-index
STAMP := $(VENV)/.installed

.PHONY: install run test check screenshots index browser bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,scale]'
	touch $(STAMP)

# The sample corpus indexed into $(INDEX); a later run embeds only what changed in data/corpus.
# An index of another format than this paraseek reads (built before an upgrade) is moved aside
# to $(INDEX).format-N-TIME, never deleted, and the sample is indexed afresh.
index: $(STAMP)
	@if [ -f $(INDEX)/manifest.json ]; then \
		have=$$($(BIN)/python -c 'import json, sys; print(json.load(open(sys.argv[1])).get("format_version"))' $(INDEX)/manifest.json); \
		want=$$($(BIN)/python -c 'from paraseek.index.database import FORMAT_VERSION; print(FORMAT_VERSION)'); \
		if [ "$$have" != "$$want" ]; then \
			aside=$(INDEX).format-$$have-$$(date +%Y%m%d%H%M%S); \
			mv $(INDEX) $$aside; \
			echo "$(INDEX) is of index format $$have, this paraseek reads $$want: moved to $$aside; indexing data/corpus afresh"; \
		fi; \
	fi
	$(BIN)/paraseek index data/corpus --index $(INDEX)

run: index
	$(BIN)/paraseek serve --index $(INDEX)

# Chromium and its driver come from Debian for the real-browser tests.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# pytest-xdist: two workers (the 2-core machines this runs on), each test file on one worker so
# its module fixtures are built once, the files with slow tests handed out first (tests/conftest.py).
XDIST ?= -n 2 --dist loadfile --no-loadscope-reorder

# The int8 model of both lanes: built by the first run into .venv/paraseek-cache and reused by
# the next ones (unless PARASEEK_CACHE says otherwise); a build is keyed by the model's weights,
# the library versions and the calibration text, so a change to any of them builds anew.
TEST_CACHE = PARASEEK_CACHE=$${PARASEEK_CACHE:-$(CURDIR)/$(VENV)/paraseek-cache}

# Every test.
test: $(STAMP) browser
	$(TEST_CACHE) $(BIN)/python -m pytest $(XDIST) --durations=15

# The fast lane: ruff, mypy, and the tests not marked slow.
check: $(STAMP)
	$(BIN)/ruff check paraseek app.py ui tests benchmarks
	$(BIN)/ruff format --check paraseek app.py ui tests benchmarks
	$(BIN)/mypy paraseek app.py ui
	$(TEST_CACHE) $(BIN)/python -m pytest $(XDIST) -m "not slow" --ignore=tests/test_style.py -q

# The pictures in README.md and docs/app.md, taken in headless Chromium: the browser tests'
# (read.png, compare-grid.png), then every page of the sample index (take.py).
screenshots: browser index
	PARASEEK_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/test_browser.py -q
	$(BIN)/python docs/screenshots/take.py $(INDEX)

# Every benchmark -> docs/benchmarks.md: about 25 minutes on 2 Zen 5 cores, an hour on the Xeon
# of earlier sessions; the 1M-passage indexes dominate. A part: make bench ONLY=embedding
# (sections: embedding, profile, indexing, ann, search, app; indexing needs ../shared/eval).
ONLY ?= embedding,profile,indexing,ann,search,app
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --only $(ONLY)

clean:
	rm -rf $(VENV) $(INDEX) .pytest_cache
