# Two commands for a newcomer: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo check lint bench soak clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changed, so a second `make test` starts at once.
$(STAMP): requirements/base.txt requirements/dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@touch $(STAMP)

# Every test, in one process per core (pytest-xdist): the e2e tests are mostly waiting on the
# processes they start, so two workers halve the wall time on a 2-core machine.
test: $(STAMP)
	$(PY) -m pytest -n auto

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The spec's compile check, adapted to this layout, plus Django's own checks and the linter.
check: $(STAMP)
	$(PY) -m py_compile todoist_sync/todoist.py todoist_sync/tasks.py todoist_sync/api/views.py \
		todoist_sync/models.py planner/api/views.py planner/models.py
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py check
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .

demo: $(STAMP)
	$(PY) -m scripts.demo

# Each bench runs even when one before it missed a target (then `make bench` fails); see
# BENCHMARKS.md. bench_healthz: the API's p95 beside a flood of /healthz probes (~40 s).
# bench_webhooks: the endpoint, echoes, an idle OAuth user, and a person's rename restored end
# to end through the simulator's webhooks and a real qcluster (~2 min).
# bench_sweep, the safety-net sweep over 1,000 users in real processes, takes 6 to 8 min: the
# sweep spreads them over its 5-minute interval.
bench: $(STAMP)
	$(PY) -m scripts.bench --rate-limit; status=$$?; \
	$(PY) -m scripts.bench_reconcile || status=1; \
	$(PY) -m scripts.bench_healthz || status=1; \
	$(PY) -m scripts.bench_webhooks || status=1; \
	$(PY) -m scripts.bench_sweep && exit $$status

soak: $(STAMP)
	SOAK_SIZE=large $(PY) -m pytest -m soak -p no:randomly

# The reusable app alone, as a wheel in dist/ (pyproject.toml; docs/reuse.md: use todoist_sync in your
# own project). setuptools' build/ is removed first: it keeps deleted modules and would ship them.
.PHONY: wheel
wheel: $(STAMP)
	rm -rf build *.egg-info
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir dist .
	rm -rf build *.egg-info

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
