# Two commands set up and check a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,distributed]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py

test: $(STAMP)
	$(PY) -m pytest tests -n 2 --dist worksteal

bench: $(STAMP)
	$(PY) benchmarks/cpu.py
	$(PY) benchmarks/call_overhead.py
	$(PY) benchmarks/transform_overhead.py
	$(PY) benchmarks/control_flow.py
	$(PY) benchmarks/disk_cache.py

clean:
	rm -rf $(VENV) build *.egg-info
