# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ftbook-installed
DEMO_OUT ?= .demo
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=1200

.PHONY: install demo test sync lab docs readme bench clean distclean

install: $(STAMP)  ## create .venv, install the package (editable) and dev tools, register the `ftbook` kernel

$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --user --name ftbook --display-name "Python (ftbook)" >/dev/null
	@touch $(STAMP)

demo: install  ## the course's main job, offline, on the embedded digits
	$(BIN)/ftbook demo --out $(DEMO_OUT) --force

sync: install  ## fail when the package or a notebook is out of step with nbdev-export / nbdev-clean
	@sha256sum ftbook/*.py nbs/*.ipynb > $(VENV)/.sync-before
	@$(BIN)/nbdev-export && $(BIN)/nbdev-clean
	@if ! sha256sum --quiet -c $(VENV)/.sync-before; then \
	  echo "nbdev-export or nbdev-clean changed the files above: commit the exported/cleaned versions."; exit 1; fi
	@echo "ftbook/ and nbs/ are in step with nbdev-export and nbdev-clean."

test: sync  ## sync check, then pytest tests/ and every notebook under nbval (CPU scale unless FTBOOK_SCALE says otherwise)
	$(BIN)/python -m pytest tests nbs $(NBVAL) -p no:cacheprovider --durations=3

lab: install  ## JupyterLab on the notebooks
	$(BIN)/jupyter lab nbs/

readme: install  ## README.md from nbs/index.ipynb (with Quarto via nbdev-readme when installed)
	@if command -v quarto >/dev/null; then $(BIN)/nbdev-readme; else $(BIN)/python .ci/readme.py nbs/index.ipynb README.md; fi

docs: install  ## the documentation site (needs Quarto)
	@if command -v quarto >/dev/null; then $(BIN)/nbdev-docs; else \
	  echo "Quarto is not installed, so the site cannot be built here. Install it from https://quarto.org/docs/get-started/ (or run $(BIN)/nbdev-install-quarto), then run make docs again."; exit 1; fi

clean:  ## remove what builds and runs made (keeps .venv and your data folder)
	rm -rf _docs _proc build dist *.egg-info .pytest_cache $(DEMO_OUT) nbs/.quarto
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV)
