# Two commands on a fresh machine with Python 3.11, pip and make:
#   make demo   # set up .venv, generate sample data if missing, run the main job on sample_data/
#   make test   # set up the same .venv and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build on these machines; on a GPU machine set TORCH_SPEC to the build you want.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.medtl-installed

.PHONY: install demo test lint sample-data bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

sample-data: install
	$(BIN)/python scripts/make_sample_data.py --out sample_data --if-missing

demo: sample-data
	$(BIN)/python scripts/demo.py

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check medtl apps tests bench scripts

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
