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

.PHONY: install demo test lab lint bench mutate clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@if ! command -v bwrap >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	elif ! command -v bwrap >/dev/null; then \
	  echo "bubblewrap is missing, and grading refuses to run without its sandbox: sudo apt-get install bubblewrap"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m autograder demo

test: $(STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: chromium student-venv

# Only the browser tests need Chromium, so `make test` installs it (as root, with apt-get) and
# `make install` and `make demo` do not wait for it.
chromium:
	@if [ -z "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	elif [ -z "$(CHROMIUM)" ]; then \
	  echo "Chromium is missing, so the browser tests will be skipped: sudo apt-get install chromium"; \
	fi

# The student's side of `make lab`: the student zip's pyproject.toml installed in its own venv
# (`pip install -e .` in the released folder, as its README says), without the instructor's
# nbgrader extensions.
STUDENT_VENV ?= build/student-venv
STUDENT_DIR := build/release/student
STUDENT_STAMP := $(STUDENT_VENV)/.installed-stamp

student-venv: $(STUDENT_STAMP)

$(STUDENT_DIR)/pyproject.toml: | $(STAMP)
	$(BIN)/python -m autograder release

$(STUDENT_STAMP): $(STUDENT_DIR)/pyproject.toml
	test -x $(STUDENT_VENV)/bin/python || $(PYTHON) -m venv $(STUDENT_VENV)
	$(STUDENT_VENV)/bin/python -m pip install --quiet $(TORCH)
	$(STUDENT_VENV)/bin/python -m pip install --quiet -e $(STUDENT_DIR)
	touch $(STUDENT_STAMP)

lab: $(STAMP)
	$(BIN)/python -m autograder release
	$(MAKE) student-venv
	cd $(STUDENT_DIR) && $(abspath $(STUDENT_VENV))/bin/jupyter lab

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

# Mutation testing of the hidden tests (mutmut): minutes per lab, so not part of `make test`.
mutate: $(STAMP)
	$(BIN)/python -m autograder mutate

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf build .pytest_cache .ruff_cache
