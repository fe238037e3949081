# Heed. `make run` starts it locally on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAGE ?= dev
DIST ?= dist

.PHONY: venv run test unit bench lint package clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) -m local.stack

test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest -q tests --ignore=tests/bench

unit: venv
	$(PY) -m pytest -q tests/unit

bench: venv
	$(PY) -m pytest -q -s tests/bench

lint: venv
	$(PY) -m ruff check .

# The Lambda zip must carry functions/ and templates/: Chalice packages only
# app.py, chalicelib/ and vendor/, and vendor/'s contents land at the zip root.
package: venv
	rm -rf vendor $(DIST)/$(STAGE)
	mkdir -p vendor $(DIST)
	cp -r functions templates vendor/
	find vendor -name __pycache__ -prune -exec rm -rf {} +
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template infra/template.yaml $(DIST)/$(STAGE)
	rm -rf vendor

clean:
	rm -rf vendor dist .pytest_cache
