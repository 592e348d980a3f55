"""Scripted reference policies: what a latent-task success rate should be compared with.

The prototype this package started from (docs/prototype.md) measured that a baseline's latent
success can be explained by exploration alone, so the benchmark always reports these next to
the agents:

* ``random``: a uniform random walk.
* ``visible_at_start``: the shortest path if the goal is in view at the start, else a random
  walk (the share of *trivial* tasks).
* ``wander_then_path``: a random walk until the goal has been seen, then the shortest path (an
  explorer with a perfect local map).
* ``search_then_path``: knows the maze's layout but not where the goal is: walks to the
  nearest cell it has not stood on (breadth-first, ties broken at random) until the goal has
  been seen, then takes the shortest path. What a memoryless agent that has learnt the layout
  can reach by search alone (ours).
* ``frontier``: knows the layout; walks to the nearest cell whose view window shows a floor
  cell not yet seen, until the goal has been seen (a view-aware searcher; ours).
* ``placement_informed``: like ``frontier``, but only cells where objects can be (the maze
  family's sites: arm ends in the radial family) count, minus the cells of this maze's
  explicit goals, which it knows from training (the strongest memoryless searcher; ours).
* ``told_cell``: told the goal's cell, takes the shortest path from the start: the ceiling
  of any agent that remembers where the goal is (``expert`` is its old name).

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
from latent_gridworld.expert import expert_table


def shortest_path_action(world: WorldConfig, info: dict[str, Any]) -> int:
    """The expert's action towards ``info["goal_type"]`` from ``info["position"]``.

    The expert's one rule (:func:`latent_gridworld.expert.expert_table`: the first of north,
    east, south, west that gets closer), so a reference that navigates walks as the expert the
    agents imitate does.
    """
    maze = build_maze(world, int(info["maze"]))
    r, c = (int(x) for x in info["position"])
    action = expert_table(maze)[maze.object_index(int(info["goal_type"]))][r][c]
    return action if action >= 0 else 0  # on the goal already: the episode is over, any will do


class ReferencePolicy:
    """Random walk until a condition on the goal holds, then the shortest path.

    Args:
        world: The world configuration (to read the maze's distance table).
        mode: One of :attr:`MODES`.
        seed: Seed of the random walk.
    """

    # every mode but ``expert`` (told_cell's old name) is a row of every benchmark table
    TABLE_MODES = (
        "random",
        "visible_at_start",
        "wander_then_path",
        "search_then_path",
        "frontier",
        "placement_informed",
        "told_cell",
    )
    MODES = (*TABLE_MODES, "expert")
    SEARCHERS = ("wander_then_path", "search_then_path", "frontier", "placement_informed")

    def __init__(self, world: WorldConfig, mode: str, seed: int = 0) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown reference policy {mode!r}; valid: {', '.join(self.MODES)}")
        self.world = world
        self.mode = mode
        self.rng = np.random.default_rng(seed)
        self._navigate = False
        self._visited: set[tuple[int, int]] = set()
        self._unseen = np.zeros((0, 0), dtype=bool)  # frontier searchers: cells still to see

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Decide at the start whether the goal is already known."""
        goal = int(info["goal_type"])
        self._navigate = self.mode in ("expert", "told_cell") or (
            self.mode != "random" and bool(info["visible_objects"][goal])
        )
        self._visited = set()
        if self.mode in ("frontier", "placement_informed"):
            maze = build_maze(self.world, int(info["maze"]))
            if self.mode == "frontier":
                self._unseen = ~maze.walls
            else:
                self._unseen = np.zeros_like(maze.walls)
                self._unseen[maze.sites[:, 0], maze.sites[:, 1]] = True
                explicit = (
                    maze.object_cells[~maze.latent] if maze.in_pool else maze.object_cells[:0]
                )
                self._unseen[explicit[:, 0], explicit[:, 1]] = False

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        """Random step, or a shortest-path step once the goal is known."""
        if self.mode in self.SEARCHERS and bool(info["seen_objects"][int(info["goal_type"])]):
            self._navigate = True
        if self._navigate:
            return shortest_path_action(self.world, info)
        if self.mode == "search_then_path":
            return self._towards_unvisited(info)
        if self.mode in ("frontier", "placement_informed"):
            return self._towards_frontier(info)
        return int(self.rng.integers(N_ACTIONS))

    def _towards_frontier(self, info: dict[str, Any]) -> int:
        """First step to the nearest cell whose view shows a cell still to be seen."""
        walls = build_maze(self.world, int(info["maze"])).walls
        half = self.world.observed_size // 2 if not self.world.full_view else walls.shape[0]
        r, c = (int(x) for x in info["position"])
        self._unseen[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1] = False
        padded = np.pad(self._unseen, half)
        side = 2 * half + 1
        shows = np.lib.stride_tricks.sliding_window_view(padded, (side, side)).any(axis=(-1, -2))
        return self._first_step(walls, (r, c), shows & ~walls)

    def _towards_unvisited(self, info: dict[str, Any]) -> int:
        """First step of a shortest path to the nearest floor cell not yet stood on."""
        walls = build_maze(self.world, int(info["maze"])).walls
        here = (int(info["position"][0]), int(info["position"][1]))
        self._visited.add(here)
        target = ~walls
        for cell in self._visited:
            target[cell] = False
        return self._first_step(walls, here, target)

    def _first_step(self, walls: np.ndarray, here: tuple[int, int], target: np.ndarray) -> int:
        """First action of a shortest path to the nearest ``target`` cell (ties at random)."""
        first: dict[tuple[int, int], int] = {here: -1}  # cell -> first action on the way
        queue = deque([here])
        while queue:
            cell = queue.popleft()
            if target[cell] and cell != here:
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
