"""The agent protocol: how any agent plugs into ``latent-gridworld benchmark``.

An agent acts on the ASCII env's observations, one episode at a time::

    class MyAgent:
        def reset(self, obs, info):   # a new episode starts
            ...
        def act(self, obs, info):     # -> an action in 0..3 (north, east, south, west)
            ...

``obs`` is the env's observation dict (``"view"``, ``"goal"``, and the cues the env is
configured with); ``info`` is the env's info dict (``maze``, ``goal``, ``position``,
``visible_objects``, ``seen_objects``, ...). Reading privileged ``info`` entries is allowed
(the oracle retrieval does: it knows the maze id) but say so when you report results.

An agent is built by a *factory* that receives an :class:`AgentContext`: the world
configuration and, if the benchmark runs with a memory, the :class:`~agents.memory.EpisodicMemory`
of the training episodes, which the agent may query however it likes (for instance through
``agents.memory.make_retriever``). The benchmark loads third-party factories by name::

    latent-gridworld benchmark --agent examples/third_party_agent.py:make_agent

An agent that can act on many episodes at once may also implement :class:`BatchAgent`; the
evaluation then steps all its episodes in lockstep (the transformer agents do).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from latent_gridworld.core.config import WorldConfig


@runtime_checkable
class Agent(Protocol):
    """Acts in one episode at a time."""

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """A new episode starts with ``obs``."""

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        """The action for ``obs`` (an int in ``0..3``)."""


@runtime_checkable
class BatchAgent(Protocol):
    """Acts in ``n`` episodes in lockstep (slots ``0..n-1``)."""

    def reset_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> None:
        """Episodes start in every slot."""

    def act_batch(
        self,
        slots: Sequence[int],
        observations: Sequence[dict[str, Any]],
        infos: Sequence[dict[str, Any]],
    ) -> np.ndarray:
        """Actions for the still-running ``slots`` (observations and infos given for those)."""


@dataclass
class AgentContext:
    """What a factory may use to build an agent.

    Attributes:
        world: The world configuration of the evaluation env (split aside).
        memory: Episodic memory of the training episodes, or None when the benchmark runs
            without one.
        seed: Seed for the agent's own randomness.
    """

    world: WorldConfig
    memory: Any | None
    seed: int


AgentFactory = Callable[[AgentContext], "Agent | BatchAgent"]


def load_factory(spec: str) -> AgentFactory:
    """Resolve ``"path/to/file.py:name"`` or ``"package.module:name"`` to a factory.

    Raises:
        ValueError: ``spec`` has no ``:name`` part, or the name is not a callable in it.
        FileNotFoundError / ImportError: the file or module cannot be found.
    """
    module_part, sep, name = spec.rpartition(":")
    if not sep or not module_part or not name:
        raise ValueError(
            f"agent spec {spec!r} must be 'path/to/file.py:factory' or 'module:factory'"
        )
    if module_part.endswith(".py"):
        path = Path(module_part)
        if not path.exists():
            raise FileNotFoundError(f"agent file not found: {path}")
        mod_name = f"_latent_gridworld_agent_{path.stem}"
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ValueError(f"{module_part} has no callable {name!r}")
    return factory


def check_action(action: Any) -> int:
    """An action as int, or ValueError naming the valid range."""
    a = int(action)
    if not 0 <= a < 4:
        raise ValueError(f"an agent returned action {action!r}; valid actions are 0..3")
    return a
