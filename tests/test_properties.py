"""Properties of the maze pool over generator parameters (hypothesis).

The checks recompute what they assert (flood fill, window membership) instead of trusting the
tables under test.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import OBJECT_BASE, Cell
from latent_gridworld.core.world import Maze, build_maze, sample_task, start_episode, step
from latent_gridworld.expert import expert_action_for_state

# modest by default so the file runs in seconds; LG_HYPOTHESIS_EXAMPLES=500 for a deep run
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("LG_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def configs(draw: st.DrawFn) -> WorldConfig:
    """Valid configs, built constructively so hypothesis never wastes examples on rejects."""
    size = draw(st.sampled_from([5, 7, 9, 11, 13, 15]))
    min_floor = (size // 2) ** 2
    n_types = draw(st.integers(1, 12))
    per_maze = draw(st.integers(1, min(n_types, min_floor - 2)))
    latent = draw(st.integers(0, per_maze - 1))
    # the fewest mazes for which a balanced split exists, plus a few
    need = -(-n_types // (per_maze - latent))
    if latent:
        need = max(need, -(-n_types // latent))
    n_mazes = draw(st.integers(need, need + 6))
    return WorldConfig(
        size=size,
        braid=draw(st.floats(0.0, 1.0)),
        n_object_types=n_types,
        objects_per_maze=per_maze,
        latent_per_maze=latent,
        n_mazes=n_mazes,
        n_new_mazes=draw(st.integers(1, 4)),
        pool_seed=draw(st.integers(0, 2**32 - 1)),
        view_size=draw(st.sampled_from([1, 3, 5, 7])),
        held_out_start_share=draw(st.floats(0.05, 0.95)),
    )


def _flood(walls: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """Cells reachable from ``start`` by 4-neighbour moves (iterated dilation, no BFS reuse)."""
    reach = np.zeros_like(walls)
    reach[start] = True
    while True:
        grown = reach.copy()
        grown[1:] |= reach[:-1]
        grown[:-1] |= reach[1:]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= ~walls
        if (grown == reach).all():
            return reach
        reach = grown


def _mazes(config: WorldConfig) -> list[Maze]:
    """The pool, the held-out mazes and one maze of the unlimited stream."""
    ids = [*range(config.n_mazes + config.n_new_mazes), config.n_mazes + config.n_new_mazes + 7]
    return [build_maze(config, i) for i in ids]


@PROPERTY_SETTINGS
@given(configs())
def test_every_maze_is_connected_and_every_object_reachable(config: WorldConfig) -> None:
    for maze in _mazes(config):
        walls = maze.walls
        assert walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()
        floor = np.argwhere(~walls)
        reach = _flood(walls, (int(floor[0, 0]), int(floor[0, 1])))
        assert (reach == ~walls).all(), f"maze {maze.maze_id} is not connected"
        # objects: distinct types on distinct floor cells, each reachable from every floor cell
        cells = {tuple(c) for c in maze.object_cells.tolist()}
        assert len(cells) == config.objects_per_maze
        assert len(set(maze.object_types.tolist())) == config.objects_per_maze
        for k, (r, c) in enumerate(maze.object_cells.tolist()):
            assert not walls[r, c]
            assert maze.codes[r, c] == OBJECT_BASE + maze.object_types[k]
            assert (maze.distances[k][~walls] >= 0).all()
            assert maze.distances[k][r, c] == 0
            assert _flood(walls, (r, c))[~walls].all()


@PROPERTY_SETTINGS
@given(configs())
def test_splits_are_balanced(config: WorldConfig) -> None:
    pool = [build_maze(config, m) for m in range(config.n_mazes)]
    explicit_somewhere = set().union(*(set(m.explicit_types.tolist()) for m in pool))
    assert explicit_somewhere == set(range(config.n_object_types))
    for maze in pool:
        assert maze.in_pool and maze.latent.sum() == config.latent_per_maze
    if config.latent_per_maze:
        latent_somewhere = set().union(*(set(m.latent_types.tolist()) for m in pool))
        # every type is latent in some maze and a goal in another: a latent failure can never
        # be blamed on a goal token the agent has not seen as a goal
        assert latent_somewhere == set(range(config.n_object_types))
    for maze in _mazes(config)[config.n_mazes :]:
        assert not maze.in_pool and not maze.latent.any()


@PROPERTY_SETTINGS
@given(configs(), st.integers(0, 2**32 - 1))
def test_latent_pairs_are_never_train_goals(config: WorldConfig, seed: int) -> None:
    config = config.replace(icl_share=0.7)
    latent_pairs = {
        (m, int(t)) for m in range(config.n_mazes) for t in build_maze(config, m).latent_types
    }
    rng = np.random.default_rng(seed)
    for _ in range(60):
        task = sample_task(config, rng, "train")
        state = start_episode(config, task)
        goals = [state.goal]
        while not state.done:  # the expert reaches the first goal: ICL second goals appear
            step(config, state, expert_action_for_state(state), rng)
            goals.append(state.goal)
        assert state.terminated
        for goal in set(goals):
            assert (task.maze, goal) not in latent_pairs


@PROPERTY_SETTINGS
@given(configs(), st.integers(0, 2**32 - 1))
def test_split_tasks_draw_from_their_own_cells_and_goals(config: WorldConfig, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for maze in _mazes(config)[: config.n_mazes]:
        train = {tuple(c) for c in maze.train_starts.tolist()}
        held = {tuple(c) for c in maze.held_out_starts.tolist()}
        objects = {tuple(c) for c in maze.object_cells.tolist()}
        free = {tuple(c) for c in np.argwhere(~maze.walls).tolist()} - objects
        assert train and held and not train & held
        assert train | held == free
    splits = ["train", "explicit", "new_maze"] + (["latent"] * bool(config.latent_per_maze))
    for split in splits:
        for _ in range(20):
            task = sample_task(config, rng, split)
            maze = build_maze(config, task.maze)
            start = {tuple(task.start)}
            if split == "new_maze":
                assert config.n_mazes <= task.maze < config.n_mazes + config.n_new_mazes
                continue
            assert task.maze < config.n_mazes
            starts = maze.train_starts if split == "train" else maze.held_out_starts
            assert start <= {tuple(c) for c in starts.tolist()}
            types = maze.latent_types if split == "latent" else maze.explicit_types
            assert task.goal in types


@PROPERTY_SETTINGS
@given(configs())
def test_view_and_visibility_tables_match_a_direct_crop(config: WorldConfig) -> None:
    maze = build_maze(config, 0)
    v, half = config.view_size, config.view_size // 2
    padded = np.pad(maze.codes, half, constant_values=Cell.WALL)
    for r, c in np.argwhere(~maze.walls).tolist():
        crop = padded[r : r + v, c : c + v].copy()
        crop[half, half] = Cell.AGENT
        assert (maze.views[r, c] == crop).all()
        shown = {int(x) - OBJECT_BASE for x in np.unique(crop) if x >= OBJECT_BASE}
        assert set(np.flatnonzero(maze.visible[r, c]).tolist()) == shown
