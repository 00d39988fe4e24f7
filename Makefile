# Two commands do everything from a clean clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test verify lint typecheck system-tools bench api-snapshot clean lab native pure native-test native-compile native-install

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,dev]'
	@touch $(STAMP)

setup: $(STAMP)

system-tools:
	@bash scripts/install-system-tools.sh

demo: $(STAMP) system-tools
	$(PY) -m sim.cli demo --out out/demo
	$(PY) -m sim.cli export scenarios/retry_storm_resilient.toml --out out/demo/export --preview

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check resilience

typecheck: $(STAMP)
	$(PY) -m mypy --strict resilience sim dashboards alerts

test: $(STAMP) system-tools lint typecheck
	RWB_PURE=1 $(PY) -m pytest -q -m "not verify and not native" --nbmake tests notebooks  # notebooks run in test mode (notebooks/conftest.py)

lab: $(STAMP)
	$(PY) -m jupyter lab notebooks/

# The sources by default; `make verify RWB_PURE=0` runs an installed compiled build (CI does).
RWB_PURE ?= 1
verify: $(STAMP) system-tools
	RWB_PURE=$(RWB_PURE) $(PY) -m pytest -q -m verify --timeout 1500  # long runs: a per-test bound for a loaded machine

bench: $(STAMP)
	$(PY) benchmarks/overhead.py

api-snapshot: $(STAMP)
	$(PY) -m resilience._api > tests/resilience/api_snapshot.txt
	$(PY) -m sim._api > tests/sim/api_snapshot.txt

# Optional: the simulator's hot modules compiled with mypyc (same results, faster); `make pure` undoes it.
# Rebuilt when a source it may cover changes (sim/native.py lists the modules).
NATIVE := sim/_native_manifest.json
$(NATIVE): $(STAMP) sim/native.py scripts/native.py sim/stepper.py $(wildcard sim/graph/*.py sim/model/*.py sim/observe/*.py)
	$(PY) scripts/native.py build

native: $(NATIVE)

# The two halves of `make native`: compile into build/native/lib (the package untouched), then install.
native-compile: $(STAMP)
	$(PY) scripts/native.py compile

native-install: $(STAMP)
	$(PY) scripts/native.py install

pure:
	@if test -x $(PY); then $(PY) scripts/native.py clean; fi

# The compiled build against the sources (same results), then back to pure Python.
native-test: $(NATIVE)
	$(PY) -m pytest -q -m native tests
	$(PY) scripts/native.py clean

clean: pure
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build/native
