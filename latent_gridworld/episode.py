"""``Episode``: one recorded episode in world terms (cell codes, not pixels or text).

Datasets, the episodic memory and the agents all exchange episodes in this form; any encoder
can turn its views into pixels (:func:`~latent_gridworld.encoders.pixels.codes_to_image`) or
ASCII (:func:`~latent_gridworld.encoders.ascii.codes_to_ascii`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from latent_gridworld.core.constants import SPLITS


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
    state = env.unwrapped.state
    views, goals, positions, visible, actions = [], [], [], [], []
    while True:
        views.append(state.maze.views[state.position])
        goals.append(state.goal)
        positions.append(state.position)
        visible.append(state.maze.visible[state.position])
        if state.done:
            break
        action = int(policy(env, obs))
        actions.append(action)
        obs, _, _, _, info = env.step(action)
        state = env.unwrapped.state
    return Episode(
        maze=int(info["maze"]),
        start=(int(info["start"][0]), int(info["start"][1])),
        split=SPLITS[int(info["split_id"])],
        views=np.stack(views).astype(np.uint8),
        goals=np.asarray(goals, dtype=np.int8),
        positions=np.asarray(positions, dtype=np.int16),
        visible=np.stack(visible),
        actions=np.asarray(actions, dtype=np.uint8),
        success=bool(info["is_success"]),
        optimal_steps=int(info["optimal_steps"]),
        placement=int(state.task.placement),
    )
