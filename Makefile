# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)           ## install, fill the demo workspace on first use, open the TUI
	$(BIN)/workbench demo

test: $(STAMP)           ## install and run the whole test suite (lint and type checks included)
	$(BIN)/ruff check .
	$(BIN)/mypy pipelines storage
	$(BIN)/python -m pytest -q

bench: $(STAMP)          ## print the performance figures
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/browse_10m.py
	$(BIN)/python benchmarks/sweep_overhead.py
	$(BIN)/python benchmarks/runs_table.py
	$(BIN)/python benchmarks/metric_points.py
	$(BIN)/python benchmarks/compare_200.py
	$(BIN)/python benchmarks/wide_add.py
	$(BIN)/python benchmarks/image.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/predict_batch.py
	$(BIN)/python benchmarks/data_add.py

screenshot: $(STAMP)     ## re-export the README picture from the app itself
	$(BIN)/python scripts/readme_screenshot.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
