"""``VecPotentialShaping``: potential-based reward shaping for the *training* envs only.

In world v1 the reward is sparse (1 for reaching the goal) and a random walk almost never
reaches a ``train`` goal (1.4% within 200 steps, 0 of 3,082 under the env's budget), so PPO sees
next to no signal (docs/results.md: 0-1% success after 2M steps). Potential-based shaping (Ng,
Harada and Russell 1999) adds

    F(s, s') = gamma * Phi(s') - Phi(s),   Phi(s) = -d(s) / scale,

where ``d(s)`` is the shortest-path distance (the env's own BFS table, ``Maze.distances``) from
the agent's cell to the current goal. Because ``F`` is a difference of potentials, the
discounted sum over an episode telescopes to ``gamma**T * Phi(s_T) - Phi(s_0)``, a term that no
action after ``s_0`` can change, so the optimal policies of the shaped and the unshaped task
are the same; only the credit assignment gets easier. Two boundary rules keep that true:

- a terminal state (the goal reached) has ``Phi = 0``, as the absorbing state must; its
  distance is 0 anyway;
- a truncated episode (step limit) ends with ``gamma * Phi(s_T)`` of its real last state, and
  the next episode starts from ``Phi(s_0')`` of its own first state: SB3 bootstraps a truncated
  episode from its terminal observation, so no potential leaks from one episode into the next.

An ICL episode's goal change is a change of state (the observed goal is part of it), so the
step that announces the second goal is shaped with the new goal's distance.

The wrapper reads only the env's public info (``maze``, ``goal_type``, ``position``; the
terminal state's from ``infos[i]``) and builds the distance tables with
:func:`latent_gridworld.core.world.build_maze`. Evaluation never goes through it: every
evaluation (:func:`agents.rl.evaluate.evaluate`, the BC protocol of :mod:`agents.rl.agent`)
builds its own unshaped envs, and success is the env's ``is_success`` under its own budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvObs,
    VecEnvStepReturn,
    VecEnvWrapper,
)

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.sb3 import LatentGridworldSB3VecEnv


def batched_base(venv: VecEnv) -> LatentGridworldSB3VecEnv:
    """The :class:`~latent_gridworld.sb3.LatentGridworldSB3VecEnv` under a stack of wrappers.

    Raises:
        ValueError: There is none (shaping reads its batched info).
    """
    env: Any = venv
    while not isinstance(env, LatentGridworldSB3VecEnv):
        if not isinstance(env, VecEnvWrapper):
            raise ValueError(
                "VecPotentialShaping needs latent_gridworld.sb3.LatentGridworldSB3VecEnv under "
                f"its wrappers (it reads the batched info); got {type(venv).__name__}"
            )
        env = env.venv
    return env


class VecPotentialShaping(VecEnvWrapper):
    """Add ``gamma * Phi(s') - Phi(s)``, ``Phi = -distance to the goal / scale``, to rewards.

    Args:
        venv: A batched latent-gridworld SB3 env, possibly wrapped (``VecRetrieval``,
            ``VecMonitor``: put ``VecMonitor`` *inside* to log the env's own returns).
        gamma: The learner's discount; shaping preserves optimal policies only with it.
        scale: Steps per unit of potential (``Phi = -d / scale``).

    ``shaping_sum`` holds, per env, the discounted sum of the shaping terms of the running
    episode (what the telescoping identity is checked on); ``last_shaping`` the latest terms.
    """

    def __init__(self, venv: VecEnv, gamma: float, scale: float = 10.0) -> None:
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        super().__init__(venv)
        self._base = batched_base(venv)
        self.config: WorldConfig = self._base.venv.config
        self.gamma = float(gamma)
        self.scale = float(scale)
        n = self.num_envs
        self._phi = np.zeros(n, dtype=np.float64)  # Phi of each env's current state
        self._placement = np.zeros(n, dtype=np.int64)  # of the running episode
        self._tables: dict[tuple[int, int], np.ndarray] = {}
        self._discount = np.ones(n, dtype=np.float64)
        self.shaping_sum = np.zeros(n, dtype=np.float64)
        self.last_shaping = np.zeros(n, dtype=np.float32)

    # ------------------------------------------------------------------ VecEnv API

    def reset(self) -> VecEnvObs:
        """Reset every env; the potentials start from each first state."""
        obs = self.venv.reset()
        info = self._base.batched_info
        self._placement = np.asarray(info["placement"], dtype=np.int64).copy()
        self._phi = self.potential(
            info["maze"], info["goal_type"], info["position"], self._placement
        )
        self._discount[:] = 1.0
        self.shaping_sum[:] = 0.0
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step and add each env's shaping term (episode ends as in the module docstring)."""
        obs, rewards, dones, infos = self.venv.step_wait()
        info = self._base.batched_info  # after SB3's same-step reset: the new episodes' states
        placement = np.asarray(info["placement"], dtype=np.int64).copy()
        phi_now = self.potential(info["maze"], info["goal_type"], info["position"], placement)
        phi_next = phi_now.copy()
        for i in np.flatnonzero(dones):
            final = infos[i]
            if final.get("is_success", False):
                phi_next[i] = 0.0  # the absorbing state
            else:  # truncated: the real last state, in the episode's own placement
                phi_next[i] = self.potential(
                    np.array([final["maze"]]),
                    np.array([final["goal_type"]]),
                    np.asarray(final["position"]).reshape(1, 2),
                    self._placement[i : i + 1],
                )[0]
        shaping = self.gamma * phi_next - self._phi
        self.shaping_sum += self._discount * shaping
        self._discount *= self.gamma
        for i in np.flatnonzero(dones):
            infos[i]["shaping_sum"] = float(self.shaping_sum[i])
        self.shaping_sum[dones] = 0.0
        self._discount[dones] = 1.0
        self._phi = phi_now
        self._placement = placement
        self.last_shaping = shaping.astype(np.float32)
        return obs, (rewards + self.last_shaping).astype(np.float32), dones, infos

    # ------------------------------------------------------------------ the potential

    def potential(
        self,
        maze: np.ndarray,
        goal: np.ndarray,
        position: np.ndarray,
        placement: np.ndarray,
    ) -> np.ndarray:
        """``Phi = -d / scale`` for each (maze id, goal type, (row, col), placement) row.

        Raises:
            ValueError: A goal absent from its maze, or a cell on a wall (no distance).
        """
        maze = np.asarray(maze, dtype=np.int64).reshape(-1)
        goal = np.asarray(goal, dtype=np.int64).reshape(-1)
        position = np.asarray(position, dtype=np.int64).reshape(-1, 2)
        d = np.empty(len(maze), dtype=np.float64)
        for i in range(len(maze)):  # one dict lookup per env: the network costs 100x more
            table = self._table(int(maze[i]), int(placement[i]))
            d[i] = table[goal[i], position[i, 0], position[i, 1]]
        if (d < 0).any():
            i = int(np.flatnonzero(d < 0)[0])
            raise ValueError(
                f"no distance to goal {goal[i]} from {tuple(position[i])} in maze {maze[i]}: "
                "the goal is not in the maze or the cell is a wall"
            )
        return -d / self.scale

    def _table(self, maze_id: int, placement: int) -> np.ndarray:
        """``(n_object_types, H, W)`` distances to each type's object (-1 if absent/wall)."""
        key = (maze_id, placement)
        table = self._tables.get(key)
        if table is None:
            maze = world.build_maze(self.config, maze_id, placement)
            h, w = maze.walls.shape
            table = np.full((self.config.n_object_types, h, w), -1.0)
            table[maze.object_types] = maze.distances
            self._tables[key] = table
        return table
