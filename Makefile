# The two commands of the README:
#   make demo   set everything up and run an example flow locally (no AWS), then show its result
#   make test   set everything up and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= .demo

.PHONY: setup demo test lint bench bench-aws bench-platform clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,aws,platform,kubernetes]'
	touch $@

demo: setup
	mkdir -p $(DEMO_DIR)/.flowlib
	cd $(DEMO_DIR) && ../$(PY) ../examples/hello_flow.py run --alpha 0.5
	cd $(DEMO_DIR) && ../$(PY) -c "from flowlib import Flow; r = Flow('HelloFlow').latest_run; \
	print(f'{r} successful={r.successful}:', r.data.summary)"

test: setup
	PYTHON=$(PY) bash .ci/install-infra-tools.sh
	$(PY) -m ruff check flowlib platform_cli tests bench examples
	$(VENV)/bin/lint-imports
	# Three workers on two cores: most tests wait on subprocesses, moto and terraform, not the
	# CPU. --dist loadfile keeps a file's tests (and its session fixtures) on one worker.
	$(PY) -m pytest -q -n 3 --dist loadfile

lint: setup
	$(PY) -m ruff check flowlib platform_cli tests bench examples
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) bench/run.py

bench-aws: setup
	$(PY) bench/aws/run.py

bench-platform: setup
	$(PY) bench/platform_timings.py --moto

clean:
	rm -rf $(VENV) $(DEMO_DIR) .venv-checkov
