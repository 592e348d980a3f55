"""World v1: the radial-arm family, its start rules, the in-env budget, and option checks.

Geometry is checked by recomputing it (flood fills, window crops), not by reading the tables
under test.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from hypothesis import assume, given
from hypothesis import strategies as st
from test_properties import PROPERTY_SETTINGS, _flood
from test_vector import assert_same, run_parity

import latent_gridworld  # noqa: F401  (registers the ids)
from latent_gridworld import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS
from latent_gridworld.core.world import Maze, build_maze
from latent_gridworld.expert import expert_action
from latent_gridworld.registration import WORLD_V1
from latent_gridworld.vector import LatentGridworldVectorEnv

V1 = WorldConfig(**WORLD_V1)


@st.composite
def radial_configs(draw: st.DrawFn) -> WorldConfig:
    """Valid radial worlds: 3x3 rooms with up to 8 arms, 5x5 rooms with up to 12."""
    room = draw(st.sampled_from([3, 5]))
    view = draw(st.sampled_from([3, 5]))
    arms_hi = draw(st.integers(4, 8 if room == 3 else 12))
    arms_lo = draw(st.integers(4, arms_hi))
    len_lo = draw(st.integers(view // 2 + 4, 7))
    objects = draw(st.integers(2, arms_lo))
    latent = draw(st.integers(1, objects - 1))
    kwargs = dict(
        maze_family="radial",
        size=room + 2 * len_lo + 2 + 2 * draw(st.integers(0, 1)),
        room_size=room,
        view_size=view,
        n_arms=(arms_lo, arms_hi),
        arm_length=(len_lo, len_lo + draw(st.integers(0, 2))),
        n_object_types=objects,
        objects_per_maze=objects,
        latent_per_maze=latent,
        n_mazes=objects + 2,
        n_new_mazes=2,
        pool_seed=draw(st.integers(0, 2**32 - 1)),
    )
    try:
        return WorldConfig(**kwargs)  # type: ignore[arg-type]
    except ValueError as e:  # tight parameters the layout probe rejects are not examples
        assume("do not fit" not in str(e))
        raise


def _room(config: WorldConfig) -> np.ndarray:
    lo = config.size // 2 - config.room_size // 2
    room = np.zeros((config.size, config.size), dtype=bool)
    room[lo : lo + config.room_size, lo : lo + config.room_size] = True
    return room


def _arm_of(maze: Maze, config: WorldConfig, cell: tuple[int, int]) -> np.ndarray:
    """The cells of the arm that ``cell`` is in: its flood fill with the room walled off."""
    return _flood(maze.walls | _room(config), cell)


@PROPERTY_SETTINGS
@given(radial_configs())
def test_radial_mazes_are_connected_private_and_reachable(config: WorldConfig) -> None:
    half = config.view_size // 2
    for maze_id in (0, config.n_mazes - 1, config.n_mazes, config.n_mazes + 5):
        maze = build_maze(config, maze_id)
        floor = ~maze.walls
        assert (_flood(maze.walls, tuple(maze.held_out_starts[0])) == floor).all()
        assert (maze.distances[:, floor] >= 0).all()  # every object from every cell
        arms = config.n_arms[0] <= len(maze.sites) <= config.n_arms[1]
        assert arms, (len(maze.sites), config.n_arms)
        for r, c in maze.sites:
            own = _arm_of(maze, config, (int(r), int(c)))
            assert config.arm_length[0] <= own.sum() <= config.arm_length[1]
            # a corridor: every arm cell has at most two floor neighbours, its end exactly one
            nbrs = sum(np.roll(floor, s, axis=a) for s in (1, -1) for a in (0, 1))
            assert (nbrs[own] <= 2).all() and nbrs[r, c] == 1
            window = floor[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1]
            mine = own[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1]
            assert not (window & ~mine).any(), f"arm end {(r, c)} of maze {maze_id} is seen"
        # objects are at arm ends, each at a different one
        ends = {tuple(map(int, s)) for s in maze.sites}
        assert {tuple(map(int, o)) for o in maze.object_cells} <= ends
        assert len({tuple(map(int, o)) for o in maze.object_cells}) == config.objects_per_maze


def test_v1_starts_train_beside_another_object_and_test_in_the_hub() -> None:
    room = _room(V1)
    arm_starts = 0
    for split in ("train", "explicit", "latent", "new_maze"):
        env = gym.make("LatentGridworld/ASCII-v1", split=split)
        for seed in range(40):
            _, info = env.reset(seed=seed)
            start = tuple(int(x) for x in info["start"])
            maze = build_maze(V1, int(info["maze"]))
            goal = int(info["goal_type"])
            if split == "train" and not room[start]:  # beside an object, never the goal's
                seen = np.flatnonzero(info["visible_objects"])
                assert len(seen) == 1 and seen[0] != goal, (seed, seen, goal)
                arm_starts += 1
            else:
                assert room[start] and not info["visible_objects"][goal]
            if split == "latent":
                assert goal in maze.latent_types
    assert 10 <= arm_starts <= 30  # hub_start_share=0.5 of 40 train tasks start in the hub


def test_v1_budget_truncates_at_one_and_a_half_shortest_plus_two(v1_id: str) -> None:
    env = gym.make(v1_id, split="latent")
    for seed in range(5):
        _, info = env.reset(seed=seed)
        budget = int(1.5 * info["optimal_steps"] + 2)
        assert info["budget"] == budget
        steps, truncated = 0, False
        while not truncated:  # walk away from the goal: the budget must end it, exactly
            state = env.unwrapped.state  # type: ignore[attr-defined]
            r, c = state.position
            action = next(
                a for a, (dr, dc) in enumerate(ACTION_DELTAS) if (r + dr, c + dc) != state.goal_cell
            )
            _, _, terminated, truncated, info = env.step(action)
            assert not terminated
            steps += 1
        assert steps == budget and not info["is_success"]


def test_v1_expert_succeeds_within_budget_and_max_steps_overrides(v1_id: str) -> None:
    env = gym.make(v1_id, split="explicit")
    _, info = env.reset(seed=3)
    done, steps = False, 0
    while not done:
        _, _, terminated, truncated, info = env.step(expert_action(env))
        done, steps = terminated or truncated, steps + 1
    assert info["is_success"] and steps == info["optimal_steps"]
    env = gym.make(v1_id, max_steps=5)
    _, info = env.reset(seed=0)
    assert info["budget"] == 5


def test_icl_second_goal_gets_its_own_budget() -> None:
    env = gym.make("LatentGridworld/ASCII-v1", icl_share=1.0)
    for seed in range(30):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(expert_action(env))
            done = terminated or truncated
            if info["goal_index"] == 1:  # announced at this step, from this cell
                state = env.unwrapped.state  # type: ignore[attr-defined]
                assert info["budget"] == int(1.5 * state.distance_to_goal() + 2)
                assert state.goal_start == state.steps
                return
    pytest.fail("no ICL second goal in 30 episodes")


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objects_per_maze": 11}, r"too many objects for the arms: objects_per_maze 11 > n_arms"),
        ({"view_size": 15, "arm_length": (7, 10)}, r"arms of 7 cells cannot be private for view"),
        ({"size": 19}, r"a 19x19 grid is too small for the arms: .* needs size >= 21"),
        ({"n_arms": (10, 13)}, r"n_arms max 13 does not fit a 5x5 hub room \(at most 12 arms"),
        ({"room_size": 4}, r"room_size must be an odd integer >= 3, got 4"),
        ({"n_arms": (9, 8)}, r"n_arms must be a \(min, max\) pair with 1 <= min <= max"),
        ({"arm_length": 7}, r"arm_length must be a \(min, max\) pair of integers, got 7"),
        ({"maze_family": "spiral"}, r"unknown maze_family 'spiral'; valid: braided, radial"),
        ({"budget_scale": 0.5}, r"budget_scale must be >= 1"),
        (
            {
                "size": 19,
                "room_size": 5,
                "view_size": 5,
                "n_arms": (11, 11),
                "arm_length": (6, 6),
                "objects_per_maze": 3,
                "n_object_types": 3,
                "latent_per_maze": 1,
                "n_mazes": 5,
            },
            r"11 arms of 6-6 cells with private ends for view_size 5 do not fit a 19x19 grid",
        ),
    ],
)
def test_impossible_radial_parameters(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid latent gridworld parameters: .*" + match):
        gym.make("LatentGridworld/ASCII-v1", **kwargs)


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("size", "13", "an integer"),
        ("size", 13.0, "an integer"),
        ("braid", "0.3", "a finite number"),
        ("max_steps", "10", "an integer or None"),
        ("max_steps", 2.5, "an integer or None"),
        ("max_steps", float("inf"), "an integer or None"),
        ("latent_per_maze", 1.5, "an integer"),
        ("pool_seed", 1.5, "an integer"),
        ("pool_seed", None, "an integer"),
        ("n_new_mazes", 1.5, "an integer"),
        ("step_penalty", float("nan"), "a finite number"),
        ("step_penalty", float("inf"), "a finite number"),
        ("full_view", "no", "a bool"),
        ("maze_cue", "false", "a bool"),
        ("position_cue", [], "a bool"),
        ("split", 3, "a string"),
    ],
)
def test_wrong_types_are_named(field: str, value: Any, kind: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be {kind}, got "):
        gym.make("LatentGridworld/ASCII-v0", **{field: value})


@pytest.mark.parametrize("value", ["8", 2.5, 0, True])
def test_tile_sizes_must_be_positive_integers(value: Any) -> None:
    for name in ("tile_size", "render_tile_size"):
        with pytest.raises(ValueError, match=rf"{name} must be an integer >= 1, got {value!r}"):
            gym.make("LatentGridworld/Pixel-v1", **{name: value})


def test_numpy_values_are_accepted_as_plain_values() -> None:
    config = WorldConfig(size=np.int64(15), braid=np.float32(0.5), full_view=np.bool_(False))
    assert type(config.size) is int and type(config.braid) is float
    assert config == WorldConfig(size=15, braid=0.5)


def test_size_five_works_with_the_defaults() -> None:
    env = gym.make("LatentGridworld/ASCII-v0", size=5)
    _, info = env.reset(seed=0)
    assert info["optimal_steps"] >= 1


@pytest.mark.parametrize(
    ("split", "options", "match"),
    [
        ("new_maze", {"maze": 3}, r"maze 3 is a training-pool maze .* but the split is 'new_maze'"),
        ("latent", {"maze": 40}, r"maze 40 is outside the training pool .* no latent objects"),
        ("explicit", {"maze": 40}, r"maze 40 is outside the training pool"),
        ("latent", {"maze": 0, "goal": "EXPLICIT"}, r"is not latent in maze 0"),
        ("train", {"maze": 0, "goal": "LATENT"}, r"is latent in maze 0: latent pairs are never"),
        ("explicit", {"maze": 0, "goal": "LATENT"}, r"never explicit goals; use split='latent'"),
        ("latent", {"maze": 0, "start": (0, 0)}, r"start \(0, 0\) is not a floor cell of maze 0"),
    ],
)
def test_options_that_contradict_the_split(
    env_id: str, split: str, options: dict[str, Any], match: str
) -> None:
    env = gym.make(env_id, split=split)
    maze = build_maze(env.unwrapped.config, 0)  # type: ignore[attr-defined]
    if options.get("goal") == "EXPLICIT":
        options = {**options, "goal": int(maze.explicit_types[0])}
    elif options.get("goal") == "LATENT":
        options = {**options, "goal": int(maze.latent_types[0])}
    with pytest.raises(ValueError, match=match):
        env.reset(seed=0, options=options)
    venv = gym.make_vec(env_id, num_envs=2, split=split)
    with pytest.raises(ValueError, match=match):
        venv.reset(seed=0, options=options)


@pytest.mark.parametrize("options", [["maze"], "maze", ("maze", 3)])
def test_options_must_be_a_mapping(options: Any) -> None:
    env = gym.make("LatentGridworld/ASCII-v1")
    with pytest.raises(
        TypeError,
        match=r"reset\(options=\.\.\.\) must be a dict of option name -> value, or None; got",
    ):
        env.reset(seed=0, options=options)
    venv = gym.make_vec("LatentGridworld/ASCII-v1", num_envs=2)
    with pytest.raises(
        TypeError,
        match=r"reset\(options=\.\.\.\) must be a dict of option name -> value, or None; got",
    ):
        venv.reset(seed=0, options=options)


# ------------------------------------------------------------------------- single == vector


OPTION_SETS: list[dict[str, Any]] = [
    {},
    {"maze": 3},
    {"maze": 3, "placement": 2},
    {"placement": 1},
    {"goal": 2},
    {"maze": 3, "placement": 2, "goal": "LATENT"},
    {"split": "latent"},
    {"split": "new_maze", "maze": 20},
    {"maze": 5, "start": "FREE"},
    {"icl": True},
    {"split": "train", "goal": 1, "icl": True},
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o) or "none")
@pytest.mark.parametrize("env_id", ["LatentGridworld/ASCII-v1", "LatentGridworld/ASCII-v0"])
def test_single_and_vector_env_resolve_every_option_alike(
    env_id: str, options: dict[str, Any]
) -> None:
    single = gym.make(env_id).unwrapped
    config = single.config  # type: ignore[attr-defined]
    if options.get("goal") == "LATENT":
        options = {**options, "goal": int(build_maze(config, 3, 2).latent_types[0])}
        options["split"] = "latent"
    if options.get("start") == "FREE":
        options = {**options, "start": tuple(int(x) for x in build_maze(config, 5).start_cells[0])}
    vec = LatentGridworldVectorEnv(num_envs=3, **dict(gym.spec(env_id).kwargs))
    vec_obs, vec_info = vec.reset(seed=11, options=options)
    for i in range(3):
        obs, info = single.reset(seed=11 + i, options=options)
        assert_same(obs, {k: v[i] for k, v in vec_obs.items()}, f"obs {i}")
        for key, value in info.items():
            assert_same(np.asarray(value), np.asarray(vec_info[key][i]), f"info[{key}] {i}")
        assert vec.get_state(i).maze.placement == single.state.maze.placement  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_v1_vector_parity_with_budgets_and_icl(mode: AutoresetMode) -> None:
    # one latent object per maze, so that ICL second goals (never latent) are common
    world = {**WORLD_V1, "latent_per_maze": 1, "hub_start_share": 0.0}
    counts = run_parity(mode, 6, 200, 5, obs_mode="ascii", icl_share=0.6, **world)
    assert counts["truncated"] >= 3 and counts["second_goal_steps"] >= 3, counts


def test_vector_placement_option_matches_the_single_env_goal_cell() -> None:
    # the bug the shared resolver fixed: the vector env ignored placement
    single = gym.make("LatentGridworld/ASCII-v0").unwrapped
    maze = build_maze(single.config, 3, 2)  # type: ignore[attr-defined]
    options = {"maze": 3, "placement": 2, "goal": int(maze.explicit_types[0])}
    single.reset(seed=0, options=options)
    vec = LatentGridworldVectorEnv(num_envs=1, obs_mode="ascii")
    vec.reset(seed=0, options=options)
    assert vec.get_state(0).goal_cell == single.state.goal_cell  # type: ignore[attr-defined]
