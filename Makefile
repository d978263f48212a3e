# Two entry points for a fresh clone: `make demo` and `make test`. Both create .venv when missing.
PY := .venv/bin/python
PROMPT ?= Medium shot, eye level, static shot. A woman with long red hair in a blue shirt is laughing, center of frame. Studio with a plain teal backdrop, warm light.

.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	# torch is pinned first: the CPU build lies on local disk; an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,animate,drama,serve,ray]'
	touch $@

venv: .venv/.installed

demo: .venv/.installed
	.venv/bin/openreels generate "$(PROMPT)" --output out/demo.mp4

test: .venv/.installed
	$(PY) -m pytest

lint: .venv/.installed
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests

.PHONY: venv demo test lint
