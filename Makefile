# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ftbook-installed
DEMO_OUT ?= .demo
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=1200
# The course's numerics: MKL, oneDNN and ATen capped at AVX2, so that a number trained here is the number trained on
# another machine (chapter 01, "Same numbers on every machine"; the values are ftbook.data.PINNED_NUMERICS, and
# tests/test_numerics.py checks that this file, .ci/run and the kernel agree with it). Read before torch starts.
# Set one of them in the environment to override it (an empty value unpins that library).
ATEN_CPU_CAPABILITY ?= avx2
ONEDNN_MAX_CPU_ISA ?= AVX2
MKL_CBWR ?= AVX2
export ATEN_CPU_CAPABILITY ONEDNN_MAX_CPU_ISA MKL_CBWR
PINS := ATEN_CPU_CAPABILITY ONEDNN_MAX_CPU_ISA MKL_CBWR

.PHONY: install demo test sync wheel-test lab docs site-test readme bench bench-text backbone scarce finetune-study clean distclean

install: $(STAMP)  ## create .venv, install the package (editable) and dev tools, register the `ftbook` kernel

$(STAMP): pyproject.toml constraints.txt Makefile
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python -m ipykernel install --user --name ftbook --display-name "Python (ftbook)" $(foreach p,$(PINS),--env $(p) $($(p))) >/dev/null
	@touch $(STAMP)

demo: install  ## the course's main job, offline, on the embedded digits
	$(BIN)/ftbook demo --out $(DEMO_OUT) --force

sync: install  ## fail when the package or a notebook is out of step with nbdev-export / nbdev-clean
	@sha256sum ftbook/*.py nbs/*.ipynb > $(VENV)/.sync-before
	@$(BIN)/nbdev-export && $(BIN)/nbdev-clean
	@if ! sha256sum --quiet -c $(VENV)/.sync-before; then \
	  echo "nbdev-export or nbdev-clean changed the files above: commit the exported/cleaned versions."; exit 1; fi
	@echo "ftbook/ and nbs/ are in step with nbdev-export and nbdev-clean."

wheel-test: install  ## build the wheel, install it alone in a fresh venv that borrows .venv's dependencies, run ftbook finetune outside the repo
	@rm -rf dist build/wheel-venv && $(BIN)/python -m build --wheel --outdir dist . >/dev/null
	@# The dependencies come from .venv through a .pth file (a fresh copy of torch costs minutes); the wheel itself is
	@# installed with --no-deps, and its declared requirements are checked against what that environment has.
	@$(PYTHON) -m venv build/wheel-venv && W=build/wheel-venv/bin && \
	  $(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$$($$W/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/ftbook-deps.pth" && \
	  $$W/pip install -q --no-deps dist/ftbook-*.whl 2>build/wheel-pip.log || { cat build/wheel-pip.log; exit 1; }
	@cd "$$(mktemp -d)" && set -e && W=$(CURDIR)/build/wheel-venv/bin && \
	  $$W/python -c "import ftbook, sys; assert ftbook.__file__.startswith('$(CURDIR)/build/wheel-venv/'), ftbook.__file__; from ftbook.models import pretrained_backbone; m, c = pretrained_backbone(); print('wheel carries', c['name'], c['sha256'][:12])" && \
	  $$W/python -c "from importlib.metadata import requires, version; from packaging.requirements import Requirement; rs = [Requirement(r) for r in requires('ftbook')]; bad = [str(r) for r in rs if not r.marker and version(r.name) not in r.specifier]; assert not bad, bad; print('wheel requirements met:', len([r for r in rs if not r.marker]))" && \
	  $$W/ftbook demo --help >/dev/null && \
	  $$W/python -c "from ftbook.data import make_messy_folder; make_messy_folder('photos', n_per_class=10)" && \
	  $$W/ftbook finetune photos --out run --size 32 --epochs 2 >/dev/null && test -f run/model.safetensors && \
	  echo "wheel-test: the wheel installs in a fresh environment and runs ftbook finetune outside the repository (the demo runs in the recipe chapter)."

test: sync wheel-test  ## sync check, the wheel test, then pytest tests/ and every notebook under nbval (CPU scale unless FTBOOK_SCALE says otherwise)
	$(BIN)/python -m pytest tests nbs $(NBVAL) -p no:cacheprovider --durations=3

lab: install  ## JupyterLab on the notebooks
	$(BIN)/jupyter lab nbs/

readme: install  ## README.md from nbs/index.ipynb (with Quarto via nbdev-readme when installed), links made absolute for PyPI
	@if command -v quarto >/dev/null; then PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbdev-readme; else $(BIN)/python .ci/readme.py nbs/index.ipynb README.md; fi
	@$(BIN)/python .ci/readme_links.py README.md

docs: install  ## the documentation site in _docs/ (needs Quarto on PATH)
	@command -v quarto >/dev/null || { echo "Quarto is not installed, so the site cannot be built here. Install it from https://quarto.org/docs/get-started/ (or run $(BIN)/nbdev-install-quarto), then run make docs again."; exit 1; }
	@start=$$(date +%s) && $(BIN)/nbdev-docs && echo "docs: _docs/ built in $$(( $$(date +%s) - start )) s"

site-test: install  ## check the built site: pages, figures, links, API names, and in headless Chromium (screenshots in build/screenshots/)
	$(BIN)/python -m pytest tests/test_site.py tests/test_browser.py -p no:cacheprovider -q -rs

clean:  ## remove what builds and runs made (keeps .venv and your data folder)
	rm -rf _docs _proc build dist *.egg-info .pytest_cache $(DEMO_OUT) nbs/.quarto
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean  ## also remove the virtual environment
	rm -rf $(VENV)

backbone: install  ## maintainers: pretrain the shipped backbone (full-scale recipe) into ftbook/backbones/ with its model card
	FTBOOK_SCALE=full $(BIN)/python -c "from ftbook.train import train_shipped_backbone; train_shipped_backbone()"

scarce: install  ## maintainers: run chapter 06's confirmatory study of the 'scarce' claim (minutes on a CPU) into ftbook/backbones/
	$(BIN)/python -c "from ftbook.finetune import scarce_study; scarce_study()"

finetune-study: install  ## maintainers: run chapter 06's whole experiment (minutes on a CPU) and its re-run spread into ftbook/backbones/
	$(BIN)/python -c "from ftbook.finetune import finetune_study; print(finetune_study())"

bench: install  ## images/s: bare timm forward_features vs the recipe from JPEG files per size; ftbook's fit vs PyTorch and fastai
	@D=$$(mktemp -d) && $(BIN)/python -c "import sys; from ftbook.course import lookalike_folder, benchmark, print_benchmark; \
	  print_benchmark(benchmark(lookalike_folder(sys.argv[1], n_train=256), sizes=(160, 192, 224)))" $$D/photos; rm -rf $$D
	$(BIN)/python -c "from ftbook.train import benchmark, print_benchmark; print_benchmark(benchmark(n_images=16384, epochs=2))"
	@$(MAKE) --no-print-directory bench-text

bench-text: install  ## text: ftbook finetune against Transformers' Trainer (rate chosen on validation), same splits, 3 seeds (tens of minutes on 2 cores)
	$(BIN)/python -c "from ftbook.text import text_benchmark, print_text_benchmark; print_text_benchmark(text_benchmark())"
