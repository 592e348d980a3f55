# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# `make test` runs the suite twice over, in two virtual environments:
#   .venv      the newest Gymnasium (what users install), every extra except `ray`
#   .venv-ray  `ray[rllib]`, which pins its own Gymnasium (1.2.x), for the tests that need Ray
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
RAY_VENV ?= .venv-ray
RAY_PY := $(RAY_VENV)/bin/python
RAY_PIP := $(RAY_VENV)/bin/pip
RAY_STAMP := $(RAY_VENV)/.installed
# the tests that need Ray; in .venv they skip, naming the missing extra
RAY_TESTS ?= tests/test_ray.py
export SDL_VIDEODRIVER ?= dummy
export SDL_AUDIODRIVER ?= dummy
# torch and faiss-cpu each ship their own OpenMP runtime; passive waiting stops them spinning
# against each other on small machines (see docs/memory.md)
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test test-main test-ray bench lint format type venv venv-ray clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# the pinned CPU build first: any other torch requirement would pull a multi-GB CUDA build
	$(PIP) install --progress-bar off torch==2.13.0
	$(PIP) install --progress-bar off torch==2.13.0 -e '.[render,agents,dev,bench,clients]'
	touch $(STAMP)

$(RAY_STAMP): pyproject.toml
	test -x $(RAY_PY) || $(PYTHON) -m venv $(RAY_VENV)
	$(RAY_PIP) install -q --upgrade pip
	# the same pinned CPU build first
	$(RAY_PIP) install --progress-bar off torch==2.13.0
	$(RAY_PIP) install --progress-bar off -e '.[agents,dev,ray]'
	touch $(RAY_STAMP)

venv: $(STAMP)

venv-ray: $(RAY_STAMP)

demo: $(STAMP)
	$(VENV)/bin/latent-gridworld benchmark --preset demo

test: test-main test-ray

# the whole suite on the newest Gymnasium; the Ray tests skip here with their reason
test-main: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup

# one local Ray instance serves the module, so one process (-n 0: no xdist workers)
test-ray: $(RAY_STAMP)
	$(RAY_PY) -m pytest -n 0 $(RAY_TESTS)

bench: $(STAMP)
	$(PY) benchmarks/vector_throughput.py
	$(PY) benchmarks/memory_throughput.py
# its XLand-MiniGrid rows need JAX in a venv of its own (JAX_VENV, default .venv-jax):
# python3 -m venv .venv-jax && .venv-jax/bin/pip install jax jaxlib xminigrid
	$(PY) benchmarks/env_throughput.py --jax-python $(or $(JAX_VENV),.venv-jax)/bin/python

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) $(RAY_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
