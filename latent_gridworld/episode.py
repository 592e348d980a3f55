"""``Episode``: one recorded episode in world terms (cell codes, not pixels or text).

Datasets, the episodic memory and the agents all exchange episodes in this form; any encoder
can turn its views into pixels (:func:`~latent_gridworld.encoders.pixels.codes_to_image`) or
ASCII (:func:`~latent_gridworld.encoders.ascii.codes_to_ascii`).

Every episode the package or the agents record is assembled by :func:`path_episode`, the one
recorder: from a played env through :class:`EpisodeRecorder` (:func:`record_episode`, the
``play`` window, the RL retrieval wrapper) or from the expert's walks in
:mod:`latent_gridworld.datasets`, so each keeps every field (the placement included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from latent_gridworld.core.constants import SPLITS
from latent_gridworld.core.world import EpisodeState, Maze


@dataclass(frozen=True, eq=False)
class Episode:
    """A whole episode.

    Attributes:
        maze: Maze id.
        start: Start cell (row, col).
        split: The split the task came from.
        views: ``(T + 1, V, V)`` uint8 cell codes: the view before each action, and the last one.
        goals: ``(T + 1,)`` int8 goal object type shown with each view.
        positions: ``(T + 1, 2)`` int16 agent (row, col) with each view.
        visible: ``(T + 1, n_object_types)`` bool, object types inside each view.
        actions: ``(T,)`` uint8 actions taken.
        success: The final goal was reached.
        optimal_steps: Shortest-path steps for the goals announced.
        placement: Object placement variant of the maze (0: the maze's own).
    """

    maze: int
    start: tuple[int, int]
    split: str
    views: np.ndarray
    goals: np.ndarray
    positions: np.ndarray
    visible: np.ndarray
    actions: np.ndarray
    success: bool
    optimal_steps: int
    placement: int = 0

    def __len__(self) -> int:
        """Number of actions taken."""
        return len(self.actions)

    @property
    def goal_sequence(self) -> np.ndarray:
        """The distinct goals in the order they were announced (2 in an ICL episode)."""
        change = np.flatnonzero(np.diff(self.goals.astype(np.int64))) + 1
        return self.goals[np.concatenate([[0], change])].astype(np.int64)

    @property
    def seen_objects(self) -> np.ndarray:
        """``(n_object_types,)`` bool, object types seen at any step."""
        return np.asarray(self.visible.any(axis=0))

    def first_seen_step(self) -> np.ndarray:
        """``(n_object_types,)`` first step at which each type was visible (-1 if never)."""
        seen = self.visible.any(axis=0)
        first = self.visible.argmax(axis=0).astype(np.int64)
        first[~seen] = -1
        return first


def path_episode(
    maze: Maze,
    split: str,
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    goals: int | Sequence[int] | np.ndarray,
    actions: Sequence[int] | np.ndarray,
    *,
    success: bool,
    optimal_steps: int,
) -> Episode:
    """The :class:`Episode` of a walk through ``maze`` along the cells ``(rows[t], cols[t])``.

    The one place an episode is assembled from what happened: every recorder (the env's
    :class:`EpisodeRecorder`, the dataset expert's walks, the player, the RL wrapper) gives the
    cells visited, the goal shown at each (or one goal for all) and the actions, and the views
    and visible objects are gathered from the maze's tables in one indexing each. The maze id,
    the placement and the start (the first cell) come from the maze and the path, so no
    recorder can leave one out.
    """
    row_arr, col_arr = np.asarray(rows), np.asarray(cols)
    if isinstance(goals, (int, np.integer)):
        goal_arr = np.full(len(row_arr), goals, dtype=np.int8)
    else:
        goal_arr = np.asarray(goals, dtype=np.int8)
    return Episode(
        maze=int(maze.maze_id),
        start=(int(row_arr[0]), int(col_arr[0])),
        split=split,
        views=maze.views[row_arr, col_arr],
        goals=goal_arr,
        positions=np.stack([row_arr, col_arr], axis=1).astype(np.int16),
        visible=maze.visible[row_arr, col_arr],
        actions=np.asarray(actions, dtype=np.uint8),
        success=bool(success),
        optimal_steps=int(optimal_steps),
        placement=int(maze.placement),
    )


class EpisodeRecorder:
    """Records an episode of a latent gridworld env as it is played, step by step.

    Made from the state right after ``reset`` (``env.unwrapped.state``) and the episode's split
    (``SPLITS[info["split_id"]]``); :meth:`step` after each ``env.step``; :meth:`episode` at
    any time gives the episode so far. It keeps cells, goals and actions only: the views are
    the maze's, gathered once by :func:`path_episode`.
    """

    def __init__(self, state: EpisodeState, split: str) -> None:
        self.maze = state.maze
        self.split = split
        self.rows = [int(state.position[0])]
        self.cols = [int(state.position[1])]
        self.goals = [int(state.goal)]
        self.actions: list[int] = []

    def __len__(self) -> int:
        """Number of actions recorded."""
        return len(self.actions)

    def step(self, action: int, state: EpisodeState) -> None:
        """Record ``action`` and the state the env stepped to."""
        self.actions.append(int(action))
        self.rows.append(int(state.position[0]))
        self.cols.append(int(state.position[1]))
        self.goals.append(int(state.goal))

    def episode(self, state: EpisodeState) -> Episode:
        """The episode so far; ``state`` (the env's current one) says whether it succeeded."""
        return path_episode(
            self.maze,
            self.split,
            self.rows,
            self.cols,
            self.goals,
            self.actions,
            success=state.terminated,
            optimal_steps=state.optimal_steps,
        )


def record_episode(
    env: Any,
    policy: Callable[[Any, dict[str, Any]], int],
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> Episode:
    """Run one episode of ``env`` (a latent gridworld env, possibly wrapped) with ``policy``.

    ``policy(env, obs)`` returns an action; :func:`latent_gridworld.expert_action` fits as
    ``lambda env, obs: expert_action(env)``.
    """
    obs, info = env.reset(seed=seed, options=options)
    recorder = EpisodeRecorder(env.unwrapped.state, SPLITS[int(info["split_id"])])
    while not env.unwrapped.state.done:
        action = int(policy(env, obs))
        obs, *_ = env.step(action)
        recorder.step(action, env.unwrapped.state)
    return recorder.episode(env.unwrapped.state)
