# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
export SDL_VIDEODRIVER ?= dummy
export SDL_AUDIODRIVER ?= dummy
# torch and faiss-cpu each ship their own OpenMP runtime; passive waiting stops them spinning
# against each other on small machines (see docs/memory.md)
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test bench lint format type venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# the pinned CPU build first: any other torch requirement would pull a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[render,agents,dev,bench,ray]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/latent-gridworld benchmark --preset demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup

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
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
