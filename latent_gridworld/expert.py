"""The shortest-path expert: a table lookup in the maze's precomputed distance maps."""

from __future__ import annotations

from typing import Any

from latent_gridworld.core.constants import ACTION_DELTAS
from latent_gridworld.core.world import EpisodeState


def expert_action_for_state(state: EpisodeState) -> int:
    """A shortest-path action towards the current goal (ties: north, east, south, west)."""
    dist = state.maze.distances[state.maze.object_index(state.goal)]
    r, c = state.position
    here = dist[r, c]
    for action, (dr, dc) in enumerate(ACTION_DELTAS):
        d = dist[r + dr, c + dc]
        if 0 <= d < here:
            return action
    raise RuntimeError("the agent is already on the goal; the episode should have ended")


def expert_action(env: Any) -> int:
    """A shortest-path action for the current task of ``env`` (wrappers are looked through).

    Works for ICL episodes too: it always heads for the goal currently announced.

    >>> import gymnasium as gym
    >>> import latent_gridworld
    >>> env = gym.make("LatentGridworld/ASCII-v0")
    >>> obs, info = env.reset(seed=0)
    >>> steps, done = 0, False
    >>> while not done:
    ...     obs, reward, terminated, truncated, info = env.step(expert_action(env))
    ...     steps, done = steps + 1, terminated or truncated
    >>> bool(info["is_success"]), bool(steps == info["optimal_steps"])
    (True, True)
    """
    state = getattr(env.unwrapped, "state", None)
    if state is None:
        raise RuntimeError("expert_action needs an env that has been reset")
    return expert_action_for_state(state)
