"""The shortest-path expert: its action in a running env, and its walks for datasets.

One rule: the first of north, east, south, west that gets closer to the goal. It is applied
here twice, in two forms kept equal by ``tests/test_datasets.py``
(``test_expert_table_matches_the_expert_everywhere``): :func:`expert_action_for_state` reads
the maze's distance map for one state (an env step), and :func:`expert_moves` computes the
move of every cell at once with array shifts (:func:`expert_table`, cached per maze), which
the dataset walks read with one list lookup per step. The walks (:func:`expert_episode`,
:func:`expert_cell_episode`) build their episodes with the one recorder,
:func:`latent_gridworld.episode.path_episode`. The scripted reference policies
(``agents/reference.py``) read :func:`expert_table` too.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import numpy as np

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS
from latent_gridworld.core.maze import distance_map
from latent_gridworld.core.world import EpisodeState
from latent_gridworld.episode import Episode, path_episode


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


def expert_moves(distances: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` the expert's move towards each of ``K`` targets, from their distance maps.

    The expert's rule: the first of north, east, south, west that gets closer (-1 where none
    does: walls, the target's own cell). ``distances`` is ``(K, H, W)``, -1 on walls.
    """
    dist = distances.astype(np.int32)
    _, h, w = dist.shape
    table = np.full(dist.shape, -1, dtype=np.int64)
    for action in reversed(range(len(ACTION_DELTAS))):  # the lowest valid action wins
        dr, dc = (int(x) for x in ACTION_DELTAS[action])
        ahead = np.full_like(dist, -1)
        rows, cols = slice(max(0, -dr), h - max(0, dr)), slice(max(0, -dc), w - max(0, dc))
        src_rows = slice(max(0, dr), h - max(0, -dr))
        src_cols = slice(max(0, dc), w - max(0, -dc))
        ahead[:, rows, cols] = dist[:, src_rows, src_cols]
        table = np.where((ahead >= 0) & (ahead < dist), action, table)
    return table


@functools.lru_cache(maxsize=512)
def expert_table(maze: world.Maze) -> list[list[list[int]]]:
    """``table[k][row][col]``: the expert's action towards object ``k`` from each cell.

    The same rule as :func:`~latent_gridworld.expert.expert_action_for_state` (the first of
    north, east, south, west that gets closer), computed once per maze with array shifts, so
    generating a dataset does one list lookup per step. -1 where no move gets closer (walls,
    the object's own cell).
    """
    table = expert_moves(maze.distances)
    return cast(list[list[list[int]]], table.tolist())


def expert_episode(
    config: WorldConfig, task: world.Task, rng: np.random.Generator, noise: float = 0.0
) -> Episode:
    """Run the shortest-path expert on ``task``; ``rng`` draws an ICL second goal.

    Equivalent to ``record_episode(env, expert)`` with the task pinned, without the cost of
    encoding observations (views are gathered from the maze's lookup table at the end).

    With ``noise > 0`` each step is, with that probability, a *perturbation*: a move to an open
    neighbouring cell other than the expert's (drawn from ``rng``). The episode then shows
    states off the shortest path and how the expert gets back from them; ``actions`` holds
    what was taken, and :func:`expert_labels` gives the expert's action at every step (the
    DART recipe for compounding errors in behavioural cloning: Laskey et al., 2017; ours).
    With ``noise == 0`` nothing extra is drawn from ``rng``.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}")
    state = world.start_episode(config, task)
    maze = state.maze
    table = expert_table(maze)
    if noise == 0.0 and not task.icl:
        return _expert_walk(config, task, maze, table[maze.object_index(task.goal)])
    goal = state.goal
    policy = table[maze.object_index(goal)]
    rows, cols, goals, actions = [state.position[0]], [state.position[1]], [state.goal], []
    while not state.done:
        r, c = state.position
        action = policy[r][c]
        if noise > 0.0 and rng.random() < noise:
            action = _perturbation(maze, r, c, action, rng)
        actions.append(action)
        world.step(config, state, action, rng)
        rows.append(state.position[0])
        cols.append(state.position[1])
        goals.append(state.goal)
        if state.goal != goal:  # an ICL second goal was announced
            goal = state.goal
            policy = table[maze.object_index(goal)]
    return path_episode(
        maze,
        config.split,
        rows,
        cols,
        goals,
        actions,
        success=state.terminated,
        optimal_steps=state.optimal_steps,
    )


def _expert_walk(
    config: WorldConfig, task: world.Task, maze: world.Maze, policy: list[list[int]]
) -> Episode:
    """:func:`expert_episode` without ICL or noise: a walk down the move table, no env steps.

    The same episode :func:`~latent_gridworld.core.world.step` would make (reaching the goal
    terminates, ``episode_limit`` truncates); ~10x faster, which matters for the training
    stream (16 expert episodes per step).
    """
    goal = maze.object_index(task.goal)
    goal_cell = (int(maze.object_cells[goal, 0]), int(maze.object_cells[goal, 1]))
    r, c = int(task.start[0]), int(task.start[1])
    rows, cols = [r], [c]
    actions: list[int] = []
    deltas = [(int(dr), int(dc)) for dr, dc in ACTION_DELTAS]
    limit = config.episode_limit
    while (r, c) != goal_cell and len(actions) < limit:
        action = policy[r][c]
        dr, dc = deltas[action]
        r, c = r + dr, c + dc
        rows.append(r)
        cols.append(c)
        actions.append(action)
    return path_episode(
        maze,
        config.split,
        rows,
        cols,
        task.goal,
        actions,
        success=(r, c) == goal_cell,
        optimal_steps=int(maze.distances[goal, task.start[0], task.start[1]]),
    )


def expert_cell_episode(
    config: WorldConfig,
    maze: world.Maze,
    start: tuple[int, int],
    cell: tuple[int, int],
    letter: int,
    rng: np.random.Generator,
    noise: float = 0.0,
) -> tuple[Episode, np.ndarray]:
    """The expert walking from ``start`` to an arbitrary floor ``cell``, and its labels.

    Training data for "go to the cell you were told" (ours): the views are the maze's, the
    goal shown at every step is ``letter`` (the caller picks one the cell does not hold), and
    the moves follow the expert's rule (:func:`expert_moves`), perturbed at rate ``noise`` as
    in :func:`expert_episode`. Returns the episode and the expert's action at each of its
    steps.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}")
    if maze.walls[cell] or maze.walls[start]:
        raise ValueError(f"start {start} and cell {cell} must be floor cells")
    dist = distance_map(maze.walls, cell)
    policy = expert_moves(dist[None])[0]
    r, c = start
    rows, cols = [r], [c]
    actions: list[int] = []
    labels: list[int] = []
    while (r, c) != tuple(cell) and len(actions) < config.episode_limit:
        expert = int(policy[r, c])
        action = expert
        if noise > 0.0 and rng.random() < noise:
            action = _perturbation(maze, r, c, expert, rng)
        dr, dc = ACTION_DELTAS[action]
        r, c = r + int(dr), c + int(dc)
        rows.append(r)
        cols.append(c)
        actions.append(action)
        labels.append(expert)
    episode = path_episode(
        maze,
        config.split,
        rows,
        cols,
        letter,
        actions,
        success=(r, c) == tuple(cell),
        optimal_steps=int(dist[start]),
    )
    return episode, np.asarray(labels, dtype=np.int64)


def _perturbation(maze: world.Maze, r: int, c: int, expert: int, rng: np.random.Generator) -> int:
    """A move from ``(r, c)`` to an open neighbour other than the expert's (or the expert's)."""
    moves = [
        a
        for a, (dr, dc) in enumerate(ACTION_DELTAS)
        if a != expert and not maze.walls[r + int(dr), c + int(dc)]
    ]
    return int(moves[int(rng.integers(len(moves)))]) if moves else expert


def expert_labels(config: WorldConfig, episode: Episode) -> np.ndarray:
    """``(T,)`` the expert's action at each acting step of ``episode`` (for its goal then).

    Equal to ``episode.actions`` for an expert episode; for a perturbed one (see
    :func:`expert_episode`) these are the labels to imitate.
    """
    maze = world.build_maze(config, episode.maze, int(getattr(episode, "placement", 0)))
    table = np.asarray(expert_table(maze))
    t = len(episode)
    index_of = np.full(config.n_object_types, -1, dtype=np.int64)
    index_of[maze.object_types] = np.arange(len(maze.object_types))
    goals = index_of[episode.goals[:t].astype(np.int64)]
    rows, cols = episode.positions[:t, 0], episode.positions[:t, 1]
    return table[goals, rows, cols].astype(np.int64)
