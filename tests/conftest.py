"""Shared test set-up: headless pygame, the registered ids, and the golden-hash option."""

from __future__ import annotations

import os
from importlib import metadata

# Before anything can import pygame: no window, no sound card (CI machines have neither).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pytest  # noqa: E402

import latent_gridworld  # noqa: E402, F401 - registers the ids
from latent_gridworld.testing import registered_env_ids  # noqa: E402

ENV_IDS = registered_env_ids()
assert ENV_IDS, "no latent_gridworld env is registered"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def pytest_report_header(config: pytest.Config) -> str:
    """Say which Gymnasium (and Ray) this run tests on: `make test` runs two environments."""
    return f"gymnasium {_version('gymnasium')}, ray {_version('ray')}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="record golden rollout hashes for registered ids that have none (never overwrites)",
    )


BRAIDED_IDS = [i for i in ENV_IDS if i.endswith("-v0")]  # the v0 world: braided mazes
RADIAL_IDS = [i for i in ENV_IDS if i not in BRAIDED_IDS]  # world v1 and later: radial arms


@pytest.fixture(params=ENV_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=BRAIDED_IDS)
def v0_id(request: pytest.FixtureRequest) -> str:
    """An id of the braided (v0) world, for tests of its own sizes and rules."""
    return str(request.param)


@pytest.fixture(params=RADIAL_IDS)
def v1_id(request: pytest.FixtureRequest) -> str:
    """An id of the radial-arm (v1) world."""
    return str(request.param)
