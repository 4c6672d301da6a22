# Two commands do all set-up: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0
export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint bench clean browser

install: $(STAMP)

# pip is upgraded first: the stock pip skips trafilatura's `lxml[html_clean]` extra. torch is
# pinned and passed as a constraint so open_clip's torchvision cannot pull a newer torch.
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/m3w demo --output out/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The report's browser test drives the system's Chromium through its chromedriver (Selenium
# downloads nothing). Installed here when missing and running as root; otherwise say how.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium chromium-driver; \
	else echo "make browser: chromium and chromedriver are missing; install them as root:" \
		"apt-get install -y chromium chromium-driver (the report's browser test needs them)"; fi

# Tests run in parallel worker processes (at most 4, one per core), each test on its own data.
test: lint browser
	$(PY) -m pytest -n auto --maxprocesses 4

bench: $(STAMP)
	$(PY) bench/build_bench.py
	$(PY) bench/image_bench.py
	$(PY) bench/pairs_bench.py
	$(PY) bench/warc_bench.py
	$(PY) bench/extract_bench.py
	$(PY) bench/image_split.py
	$(PY) bench/dedup_bench.py
	$(PY) bench/curation_bench.py
	$(PY) bench/shuffle_bench.py --pages 2000
	$(PY) bench/scale_bench.py --sizes 2000 6000 --check-runners 2 --check-portable   # --sizes 10000 100000 ... for the large runs

clean:
	rm -rf out .pytest_cache .ruff_cache
