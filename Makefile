# The two quickstart commands are `make demo` and `make test`; both install first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch pinned to the build this course is tested with; override for another platform,
# for example: make install TORCH="torch torchvision"
TORCH ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed-stamp
# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
CHROMIUM := $(shell command -v chromium || command -v chromium-browser)
PYTEST_ARGS ?=

.PHONY: install demo test lab lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@if [ -z "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif [ -z "$(CHROMIUM)" ]; then \
	  echo "Chromium is missing, so the browser tests will be skipped: sudo apt-get install chromium"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m autograder demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/python -m autograder release
	$(BIN)/jupyter lab build/release/student

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf build .pytest_cache .ruff_cache
