# The two commands of the README: `make serve` and `make test`.
# Each creates the virtual environment it needs on first use.
# Dependencies come pinned from the lock file; the project itself is installed on top
# without resolving anything again (`make lock` refreshes the pins: see README).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
LOCK := requirements/dev.lock

.PHONY: serve test lint bench lock mutation

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r $(LOCK)
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

lock: $(STAMP)
	$(VENV)/bin/pip-compile --quiet --extra dev --extra s3 --strip-extras \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

serve: $(STAMP)
	$(VENV)/bin/gridflow serve $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	./scripts/ensure-browser
	$(VENV)/bin/pytest $(ARGS)

# On demand, not in `make test`: mutmut over the rules modules of domain/ (against the
# unit tests) and the views' folding (against the views' tests on SQLite), one module at a
# time at low priority; docs/mutation.md is the report. ARGS: modules, --children N.
mutation: $(STAMP)
	$(VENV)/bin/python scripts/mutation.py $(ARGS)
