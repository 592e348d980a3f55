"""Scripted reference policies: what a latent-task success rate should be compared with.

DESIGN.md D9 measured that a baseline's latent success can be explained by exploration alone,
so the benchmark always reports these next to the agents:

* ``random``: a uniform random walk.
* ``visible_at_start``: the shortest path if the goal is in view at the start, else a random
  walk (the share of *trivial* tasks).
* ``wander_then_path``: a random walk until the goal has been seen, then the shortest path (an
  explorer with a perfect local map).
* ``search_then_path``: knows the maze's layout but not where the goal is: walks to the
  nearest cell it has not stood on (breadth-first, ties broken at random) until the goal has
  been seen, then takes the shortest path. What a memoryless agent that has learnt the layout
  can reach by search alone (ours).
* ``expert``: the shortest path from the start (knows the whole map; the upper bound).

They are privileged: the shortest path is read from the maze's distance table, built from the
world configuration and ``info["maze"]``. Each follows :class:`agents.protocol.Agent`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from agents.protocol import AgentContext
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS, N_ACTIONS
from latent_gridworld.core.world import build_maze


def shortest_path_action(world: WorldConfig, info: dict[str, Any]) -> int:
    """A shortest-path action towards ``info["goal_type"]`` from ``info["position"]``."""
    maze = build_maze(world, int(info["maze"]))
    dist = maze.distances[maze.object_index(int(info["goal_type"]))]
    r, c = (int(x) for x in info["position"])
    for action, (dr, dc) in enumerate(ACTION_DELTAS):
        d = dist[r + dr, c + dc]
        if 0 <= d < dist[r, c]:
            return action
    return 0  # on the goal already: the episode is over, any action will do


class ReferencePolicy:
    """Random walk until a condition on the goal holds, then the shortest path.

    Args:
        world: The world configuration (to read the maze's distance table).
        mode: ``random``, ``visible_at_start``, ``wander_then_path`` or ``expert``.
        seed: Seed of the random walk.
    """

    MODES = ("random", "visible_at_start", "wander_then_path", "search_then_path", "expert")

    def __init__(self, world: WorldConfig, mode: str, seed: int = 0) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown reference policy {mode!r}; valid: {', '.join(self.MODES)}")
        self.world = world
        self.mode = mode
        self.rng = np.random.default_rng(seed)
        self._navigate = False
        self._visited: set[tuple[int, int]] = set()

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Decide at the start whether the goal is already known."""
        goal = int(info["goal_type"])
        self._navigate = self.mode == "expert" or (
            self.mode in ("visible_at_start", "wander_then_path", "search_then_path")
            and bool(info["visible_objects"][goal])
        )
        self._visited = set()

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        """Random step, or a shortest-path step once the goal is known."""
        searching = self.mode in ("wander_then_path", "search_then_path")
        if searching and bool(info["seen_objects"][int(info["goal_type"])]):
            self._navigate = True
        if self._navigate:
            return shortest_path_action(self.world, info)
        if self.mode == "search_then_path":
            return self._towards_unvisited(info)
        return int(self.rng.integers(N_ACTIONS))

    def _towards_unvisited(self, info: dict[str, Any]) -> int:
        """First step of a shortest path to the nearest floor cell not yet stood on."""
        walls = build_maze(self.world, int(info["maze"])).walls
        here = (int(info["position"][0]), int(info["position"][1]))
        self._visited.add(here)
        first: dict[tuple[int, int], int] = {here: -1}  # cell -> first action on the way
        queue = deque([here])
        while queue:
            cell = queue.popleft()
            if cell not in self._visited:
                return first[cell]
            for action in self.rng.permutation(N_ACTIONS):
                dr, dc = ACTION_DELTAS[action]
                nxt = (cell[0] + int(dr), cell[1] + int(dc))
                if not walls[nxt] and nxt not in first:
                    first[nxt] = int(action) if cell == here else first[cell]
                    queue.append(nxt)
        return int(self.rng.integers(N_ACTIONS))  # every cell visited: wander


def reference_factory(mode: str) -> Callable[[AgentContext], ReferencePolicy]:
    """A protocol factory for the reference policy ``mode``.

    >>> from latent_gridworld import WorldConfig
    >>> factory = reference_factory("expert")
    >>> factory(AgentContext(WorldConfig(), memory=None, seed=0)).mode
    'expert'
    """
    if mode not in ReferencePolicy.MODES:
        raise ValueError(
            f"unknown reference policy {mode!r}; valid: {', '.join(ReferencePolicy.MODES)}"
        )
    return lambda context: ReferencePolicy(context.world, mode, context.seed)
