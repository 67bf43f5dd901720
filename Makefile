# One command each: `make demo` runs the product on its embedded default, `make lab` plays the
# university lab on it and writes lab-report/, `make test` creates the environment and runs
# every test.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: test demo lab lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

demo: $(STAMP)
	$(VENV)/bin/python -m bot.demo

lab: $(STAMP)
	$(VENV)/bin/python -m bot.lab --out lab-report

bench: $(STAMP)
	$(VENV)/bin/python bench/provisioning.py

clean:
	rm -rf $(VENV)
