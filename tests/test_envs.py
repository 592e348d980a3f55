"""Every registered latent gridworld id, through the public Gymnasium API."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from latent_gridworld import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS, SPLITS
from latent_gridworld.core.world import build_maze
from latent_gridworld.encoders.pixels import tile_atlas
from latent_gridworld.expert import expert_action
from latent_gridworld.testing import (
    GOLDEN_SCENARIOS,
    arguments_table,
    golden_digests,
    registered_env_ids,
)

ENV_IDS = registered_env_ids()
GOLDEN_FILE = Path(__file__).parent / "golden" / "rollouts.json"

# Warnings the checkers may raise that are expected, each with the reason. Anything else fails.
ALLOWED_WARNINGS: dict[str, str] = {
    # SB3's default CnnPolicy needs >= 36x36 px; a pixel env with view_size * tile_size < 36
    # is valid, it just needs a custom features extractor (documented in docs/environments.md).
    "The minimal resolution for an image is 36x36": "small pixel views",
}

# kwargs that change the spaces or the task mix; every id is checked with each of them
CHECK_VARIANTS: list[dict[str, Any]] = [
    {},
    {"render_mode": "rgb_array"},
    {"render_mode": "ansi"},
    {"render_mode": "human"},
    {"full_view": True, "maze_cue": True, "position_cue": True, "icl_share": 0.5},
    {"split": "latent", "view_size": 3, "tile_size": 4},
    {"split": "new_maze", "view_size": 7, "size": 15},
]


def _unexplained(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not any(allowed in str(w.message) for allowed in ALLOWED_WARNINGS)
    ]


def _random_rollout(env: gym.Env[Any, Any], seed: int, n_steps: int) -> list[tuple[Any, ...]]:
    """(obs, reward, terminated, truncated, info) per step, resetting (unseeded) at episode end."""
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    out: list[tuple[Any, ...]] = [(obs, None, False, False, info)]
    for _ in range(n_steps):
        step = env.step(env.action_space.sample())
        out.append(step)
        if step[2] or step[3]:
            obs, info = env.reset()
            out.append((obs, None, False, False, info))
    return out


def _avoid_goal_action(env: gym.Env[Any, Any]) -> int:
    """An action that does not step onto the current goal (so the episode cannot terminate)."""
    state = env.unwrapped.state  # type: ignore[attr-defined]
    r, c = state.position
    goal = state.goal_cell
    for action, (dr, dc) in enumerate(ACTION_DELTAS):
        if (r + dr, c + dc) != goal:
            return action
    raise AssertionError("unreachable: at most one neighbour is the goal")


# ---------------------------------------------------------------------------- registry


def test_registered_ids_are_the_namespace_and_makeable() -> None:
    # the ids users write in gym.make (adding one is a public change: list it here too)
    assert ENV_IDS == [
        "LatentGridworld/ASCII-v0",
        "LatentGridworld/ASCII-v1",
        "LatentGridworld/Pixel-v0",
        "LatentGridworld/Pixel-v1",
    ]
    for env_id in ENV_IDS:
        spec = gym.spec(env_id)
        assert spec.namespace == "LatentGridworld"
        assert re.fullmatch(r"[A-Za-z0-9]+-v\d+", f"{spec.name}-v{spec.version}")
        # the env enforces max_steps itself; a TimeLimit would truncate twice
        assert spec.max_episode_steps is None


# ---------------------------------------------------------------------------- checkers


def variant_kwargs(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` adapted to the id's world: a radial (v1) world needs room for its arms."""
    if gym.spec(env_id).kwargs.get("maze_family") == "radial" and "size" in kwargs:
        return {**kwargs, "size": 23, "view_size": 5}
    return kwargs


@pytest.mark.parametrize("kwargs", CHECK_VARIANTS, ids=lambda kw: ",".join(kw) or "default")
def test_gymnasium_and_sb3_checkers_pass_without_unexplained_warnings(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    env = gym.make(env_id, **variant_kwargs(env_id, kwargs))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=False)
        sb3_check_env(env.unwrapped)
    env.close()
    assert _unexplained(caught) == []


def test_small_pixel_view_warning_is_the_allowed_one() -> None:
    # keeps ALLOWED_WARNINGS honest: the allowed text is what SB3 actually says
    env = gym.make("LatentGridworld/Pixel-v0", view_size=3)  # 24x24 px
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env.unwrapped)
    messages = [str(w.message) for w in caught]
    assert any("minimal resolution for an image is 36x36" in m for m in messages), messages
    assert _unexplained(caught) == []


def test_default_spaces(env_id: str) -> None:
    env = gym.make(env_id)
    space = env.observation_space
    assert isinstance(space, gym.spaces.Dict)
    assert env.action_space == gym.spaces.Discrete(4)
    assert space["goal"] == gym.spaces.Discrete(8)
    # v0: a 5x5 view of 8-px tiles; v1: a 3x3 view of 12-px tiles (SB3's CNN needs >= 36 px)
    side, px = (5, 40) if env_id.endswith("-v0") else (3, 36)
    # v1 shows the maze id: its hub room looks alike in every maze
    cue = set() if env_id.endswith("-v0") else {"maze"}
    if "Pixel" in env_id:
        assert set(space.spaces) == {"image", "goal"} | cue
        assert space["image"] == gym.spaces.Box(0, 255, (px, px, 3), np.uint8)
    else:
        assert set(space.spaces) == {"view", "goal"} | cue
        assert space["view"] == gym.spaces.Box(0, 126, (side * side,), np.uint8)


def test_info_keys_are_the_documented_list(env_id: str) -> None:
    from latent_gridworld.envs.gridworld import INFO_KEYS

    env = gym.make(env_id)
    _, info = env.reset(seed=0)
    assert tuple(info) == INFO_KEYS
    _, _, _, _, info = env.step(0)
    assert tuple(info) == INFO_KEYS


# ---------------------------------------------------------------------------- determinism


def test_same_seed_same_trajectory(env_id: str) -> None:
    a = _random_rollout(gym.make(env_id, icl_share=0.5), seed=7, n_steps=600)
    b = _random_rollout(gym.make(env_id, icl_share=0.5), seed=7, n_steps=600)
    assert len(a) == len(b)
    for step_a, step_b in zip(a, b):
        assert data_equivalence(step_a, step_b)


def test_observations_stay_in_the_space(env_id: str) -> None:
    env = gym.make(env_id, icl_share=0.5, position_cue=True, maze_cue=True, split="new_maze")
    for obs, *_ in _random_rollout(env, seed=2, n_steps=400):
        assert env.observation_space.contains(obs)


def test_spec_json_round_trip_remakes_the_same_env(env_id: str) -> None:
    env = gym.make(env_id, split="latent", pool_seed=3)
    spec = gym.envs.registration.EnvSpec.from_json(env.spec.to_json())
    assert spec == env.spec
    again = gym.make(spec)
    assert data_equivalence(env.reset(seed=1), again.reset(seed=1))


def test_different_seeds_differ(env_id: str) -> None:
    env = gym.make(env_id)
    tasks = set()
    for seed in range(8):
        _, info = env.reset(seed=seed)
        tasks.add((info["maze"], info["goal_type"], tuple(info["start"])))
    assert len(tasks) > 1


def test_golden_rollout_hashes(env_id: str, request: pytest.FixtureRequest) -> None:
    """Any change to what an id does must come with a new version suffix (-vN)."""
    golden: dict[str, Any] = json.loads(GOLDEN_FILE.read_text()) if GOLDEN_FILE.exists() else {}
    actual = golden_digests(env_id)
    if env_id not in golden:
        if request.config.getoption("--update-golden"):
            golden[env_id] = actual
            GOLDEN_FILE.write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n")
            return
        pytest.fail(
            f"no golden rollout hashes for {env_id} in {GOLDEN_FILE}; record them with "
            "`pytest tests/test_envs.py -k golden --update-golden` (adds missing ids only)"
        )
    changed = sorted(name for name in GOLDEN_SCENARIOS if golden[env_id].get(name) != actual[name])
    assert not changed, (
        f"{env_id} behaves differently from its recorded golden rollouts in scenario(s) "
        f"{changed} (see latent_gridworld.testing.GOLDEN_SCENARIOS). If the change is "
        f"intended, bump the version suffix of the id (e.g. -v0 -> -v1) in "
        f"latent_gridworld/registration.py, add a version-history line in "
        f"docs/environments.md, and record the new id with `--update-golden`; never edit the "
        f"hashes of an existing id."
    )


def test_golden_file_has_no_stale_ids() -> None:
    golden = json.loads(GOLDEN_FILE.read_text())
    assert sorted(golden) == ENV_IDS


# ---------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("render_mode", [None, "human"])
def test_pickle_mid_episode_resumes_identically(env_id: str, render_mode: str | None) -> None:
    env = gym.make(env_id, icl_share=1.0, render_mode=render_mode)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        env.step(int(rng.integers(4)))
    clone = pickle.loads(pickle.dumps(env))
    # continue both with the same actions, expert included (ICL second goals use the env RNG)
    # two human-mode envs share pygame's one display and re-open it in turn (slow): fewer steps
    for step in range(400 if render_mode is None else 40):
        action = expert_action(env) if step % 3 else int(rng.integers(4))
        a, b = env.step(action), clone.step(action)
        assert data_equivalence(a, b)
        if a[2] or a[3]:
            assert data_equivalence(env.reset(), clone.reset())
    env.close()
    clone.close()


def test_get_state_set_state_round_trip(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=1)
    env.step(0)
    saved = env.unwrapped.get_state()  # type: ignore[attr-defined]
    first = [env.step(a) for a in (1, 2, 3, 1)]
    env.unwrapped.set_state(saved)  # type: ignore[attr-defined]
    assert data_equivalence(first, [env.step(a) for a in (1, 2, 3, 1)])


# ---------------------------------------------------------------------------- rendering


def test_every_declared_render_mode_renders_headless(env_id: str) -> None:
    modes = gym.make(env_id).metadata["render_modes"]
    assert set(modes) == {"rgb_array", "ansi", "human"}
    for mode in modes:
        env = gym.make(env_id, render_mode=mode, render_tile_size=10)
        env.reset(seed=0)
        state = env.unwrapped.state  # type: ignore[attr-defined]
        size = env.unwrapped.config.size  # type: ignore[attr-defined]
        out = env.render()
        if mode == "rgb_array":
            assert out.shape == (size * 10, size * 10, 3) and out.dtype == np.uint8
            gr, gc = state.goal_cell
            goal_tile = out[gr * 10 : (gr + 1) * 10, gc * 10 : (gc + 1) * 10]
            assert (goal_tile[0] == (255, 215, 0)).all()  # the goal is outlined
        elif mode == "ansi":
            lines = out.rstrip("\n").split("\n")
            assert len(lines) == size + 1
            assert all(len(line) == size for line in lines[:-1])
            assert "".join(lines[:-1]).count("@") == 1
            r, c = state.position
            assert lines[r][c] == "@"
            assert lines[-1] == f"goal: {chr(65 + state.goal)}"
        else:
            import pygame

            assert out is None
            surface = pygame.display.get_surface()
            assert surface is not None and surface.get_size() == (size * 10, size * 10)
            env.step(0)  # renders again, into the same window
        env.close()


def test_render_without_mode_warns_and_returns_none(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="without a render_mode"):
        assert env.render() is None


# ---------------------------------------------------------------------------- episode ends


@pytest.mark.parametrize("max_steps", [1, 7, 30])
def test_truncates_exactly_at_max_steps(env_id: str, max_steps: int) -> None:
    env = gym.make(env_id, max_steps=max_steps)
    env.reset(seed=max_steps)
    for t in range(1, max_steps + 1):
        _, _, terminated, truncated, info = env.step(_avoid_goal_action(env))
        assert not terminated
        assert truncated == (t == max_steps), f"step {t}"
        assert not info["is_success"] and info["is_success"].dtype == bool
    with pytest.raises(RuntimeError, match=r"episode has ended .*call reset\(\)"):
        env.step(0)


def test_default_limit_is_two_size_squared(v0_id: str) -> None:
    env = gym.make(v0_id, size=7)
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(_avoid_goal_action(env))
        assert not terminated
        steps += 1
    assert steps == 2 * 7 * 7


def test_reaching_the_goal_terminates_with_reward_one(env_id: str) -> None:
    env = gym.make(env_id, step_penalty=0.25)
    _, info = env.reset(seed=5)
    rewards = []
    terminated = False
    while not terminated:
        _, reward, terminated, truncated, info = env.step(expert_action(env))
        assert not truncated
        rewards.append(reward)
    assert rewards[:-1] == [-0.25] * (len(rewards) - 1)
    assert rewards[-1] == pytest.approx(0.75)
    assert info["is_success"] and len(rewards) == info["optimal_steps"]


# ---------------------------------------------------------------------------- aliasing


def test_observations_never_alias(env_id: str) -> None:
    env = gym.make(env_id, position_cue=True, maze_cue=True)
    ref = gym.make(env_id, position_cue=True, maze_cue=True)
    obs, info = env.reset(seed=11)
    ref_obs, _ = ref.reset(seed=11)
    state = env.unwrapped.state  # type: ignore[attr-defined]
    tables = [state.maze.views, state.maze.codes, state.maze.visible, tile_atlas(8)]
    history = [obs]
    for step in range(25):
        for key, value in obs.items():
            if isinstance(value, np.ndarray):
                for table in tables:
                    assert not np.shares_memory(value, table), f"obs[{key!r}] is a table view"
                for earlier in history[:-1]:
                    assert not np.shares_memory(value, earlier[key])
        # scribble over everything we were given; the env must not notice
        for value in obs.values():
            if isinstance(value, np.ndarray) and value.ndim:
                value[...] = 0
        for value in info.values():
            if isinstance(value, np.ndarray):
                value[...] = 0
        action = step % 4
        obs, _, term, trunc, info = env.step(action)
        ref_obs, *_ = ref.step(action)
        assert data_equivalence(obs, ref_obs), f"step {step}"
        history.append(obs)
        if term or trunc:
            break
    # the earlier observations were zeroed by us, the latest is intact: no shared buffer
    assert data_equivalence(obs, ref_obs)


# ---------------------------------------------------------------------------- reset options


def test_reset_options_pin_the_task(env_id: str) -> None:
    env = gym.make(env_id)
    maze = build_maze(env.unwrapped.config, 3)  # type: ignore[attr-defined]
    goal = int(maze.explicit_types[0])
    start = tuple(int(x) for x in maze.train_starts[0])
    infos = [
        env.reset(seed=s, options={"maze": 3, "goal": goal, "start": start})[1] for s in range(4)
    ]
    for info in infos:
        assert (info["maze"], info["goal_type"], tuple(info["start"])) == (3, goal, start)
        assert tuple(info["position"]) == start and info["goal_index"] == 0
    assert data_equivalence(infos[0], infos[1])  # the seed no longer matters


def test_reset_options_goal_letter_split_icl(env_id: str) -> None:
    env = gym.make(env_id)
    maze = build_maze(env.unwrapped.config, 5)  # type: ignore[attr-defined]
    letter = chr(65 + int(maze.latent_types[0]))
    _, info = env.reset(seed=0, options={"maze": 5, "goal": letter.lower(), "split": "latent"})
    assert info["goal_type"] == int(maze.latent_types[0])
    assert SPLITS[info["split_id"]] == "latent" == env.unwrapped.split  # type: ignore[attr-defined]
    # a start from the held-out cells: the latent split never starts from training starts
    held_out = {tuple(c) for c in maze.held_out_starts.tolist()}
    assert tuple(info["start"].tolist()) in held_out
    _, info = env.reset(seed=0, options={"icl": True})
    assert info["icl"] and info["icl"].dtype == bool and SPLITS[info["split_id"]] == "train"


@pytest.mark.parametrize("split", ["train", "explicit", "latent", "new_maze"])
def test_reset_option_goal_alone_finds_a_maze_of_the_split(env_id: str, split: str) -> None:
    env = gym.make(env_id, split=split)
    config = env.unwrapped.config  # type: ignore[attr-defined]
    for seed in range(6):
        for goal in range(config.n_object_types):
            _, info = env.reset(seed=seed, options={"goal": goal})
            maze = build_maze(config, info["maze"])
            assert info["goal_type"] == goal
            if split == "latent":
                assert goal in maze.latent_types
            elif split == "new_maze":
                assert info["maze"] >= config.n_mazes and goal in maze.object_types
            else:
                assert goal in maze.explicit_types


def test_reset_option_maze_beyond_pool_is_a_new_maze(env_id: str) -> None:
    env = gym.make(env_id)
    _, info = env.reset(seed=0, options={"maze": 10_000})
    maze = build_maze(env.unwrapped.config, 10_000)  # type: ignore[attr-defined]
    assert info["maze"] == 10_000 and not maze.in_pool and not maze.latent.any()


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (4, r"action 4 is outside Discrete\(4\); valid: 0=NORTH, 1=EAST, 2=SOUTH, 3=WEST"),
        (-1, r"action -1 is outside Discrete\(4\)"),
        (1.0, r"action must be an integer in 0..3 \(NORTH, EAST, SOUTH, WEST\), got 1.0"),
        ("north", r"action must be an integer in 0..3"),
        (True, r"action must be an integer in 0..3"),
        (np.array([1, 2]), r"action must be an integer in 0..3"),
    ],
)
def test_action_outside_the_space(env_id: str, action: Any, match: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(action)


def test_numpy_integer_actions_are_accepted(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    env.step(np.int64(1))
    env.step(np.array(2))


def test_unknown_split(env_id: str) -> None:
    valid = r"valid splits are train, explicit, latent, new_maze"
    with pytest.raises(ValueError, match=rf"unknown split 'test'; {valid}"):
        gym.make(env_id, split="test")
    env = gym.make(env_id)
    with pytest.raises(ValueError, match=rf"unknown split 'heldout'; {valid}"):
        env.reset(options={"split": "heldout"})


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"maze": -1}, r"options\['maze'\] must be a non-negative integer id, got -1"),
        ({"maze": "maze-3"}, r"options\['maze'\] must be a non-negative integer id, got 'maze-3'"),
        ({"maze": 2.0}, r"options\['maze'\] must be a non-negative integer id, got 2.0"),
        ({"placement": True}, r"options\['placement'\] must be a non-negative integer id"),
        ({"goal": "Z"}, r"unknown goal 'Z'; valid letters: ABCDEFGH"),
        ({"goal": 8}, r"unknown goal 8; object types are 0..7"),
        ({"goal": "AB"}, r"unknown goal 'AB'; valid letters: ABCDEFGH"),
        ({"goal": None}, r"goal must be an object type \(int or letter\), got None"),
        ({"seed": 3}, r"unknown reset option\(s\) \['seed'\]; valid: \('maze', 'goal'"),
        ({"maze": 0, "start": (0, 0)}, r"start \(0, 0\) is not a floor cell of maze 0"),
        ({"maze": 0, "start": 5}, r"options\['start'\] must be a \(row, col\) pair of integers"),
        ({"maze": 0, "start": (1.0, 2.0)}, r"must be a \(row, col\) pair of integers, got \(1.0"),
        ({"maze": 0, "start": "13"}, r"must be a \(row, col\) pair of integers, got '13'"),
        ({"icl": "no"}, r"options\['icl'\] must be a bool, got 'no'"),
        ({"icl": 1}, r"options\['icl'\] must be a bool, got 1"),
        ({"maze": 0, "start": (99, 1)}, r"start \(99, 1\) is not a floor cell of maze 0"),
    ],
)
def test_bad_reset_options(env_id: str, options: dict[str, Any], match: str) -> None:
    env = gym.make(env_id)
    with pytest.raises(ValueError, match=match):
        env.reset(seed=0, options=options)


def test_goal_not_in_the_chosen_maze(v0_id: str) -> None:
    env = gym.make(v0_id)  # (every v1 maze holds every object type)
    maze = build_maze(env.unwrapped.config, 0)  # type: ignore[attr-defined]
    absent = next(t for t in range(8) if t not in maze.object_types)
    letters = ", ".join(f"{t} ({chr(65 + t)})" for t in maze.object_types)
    with pytest.raises(
        ValueError, match=re.escape(f"goal {absent} is not in maze 0; its objects are {letters}")
    ):
        env.reset(seed=0, options={"maze": 0, "goal": absent})


def test_start_on_an_object(env_id: str) -> None:
    env = gym.make(env_id)
    maze = build_maze(env.unwrapped.config, 0)  # type: ignore[attr-defined]
    r, c = (int(x) for x in maze.object_cells[0])
    with pytest.raises(ValueError, match=rf"start \({r}, {c}\) holds an object in maze 0"):
        env.reset(options={"maze": 0, "start": (r, c)})


def test_goal_that_no_maze_of_the_split_offers(env_id: str) -> None:
    # one held-out maze holds 1 of 26 types: most goals cannot be a new_maze goal
    env = gym.make(env_id, n_object_types=26, n_mazes=26, n_new_mazes=1, split="new_maze")
    held = build_maze(env.unwrapped.config, 26)  # type: ignore[attr-defined]
    absent = next(t for t in range(26) if t not in held.object_types)
    with pytest.raises(
        ValueError, match=rf"goal {absent} \({chr(65 + absent)}\) is never a 'new_maze' goal"
    ):
        env.reset(seed=0, options={"goal": absent})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objects_per_maze": 9}, r"objects_per_maze \(9\) exceeds n_object_types \(8\)"),
        (
            {"size": 5, "objects_per_maze": 6, "n_object_types": 6, "latent_per_maze": 0},
            r"objects_per_maze \(6\) needs more free cells than a 5x5 maze guarantees",
        ),
        (
            {"view_size": 27},
            r"view_size 27 is larger than allowed for size 13 \(at most 2 \* size - 1 = 25\)",
        ),
        ({"view_size": 4}, r"view_size must be an odd integer >= 1, got 4"),
        ({"size": 12}, r"size must be an odd integer >= 5, got 12"),
        ({"latent_per_maze": 4}, r"latent_per_maze must be in 0..objects_per_maze-1 = 3, got 4"),
        ({"n_mazes": 4}, r"n_mazes \* latent_per_maze = 4 < n_object_types = 8"),
        ({"n_object_types": 27}, r"n_object_types must be in 1..26, got 27"),
        ({"braid": 1.5}, r"braid must be in \[0, 1\], got 1.5"),
        ({"icl_share": -0.1}, r"icl_share must be in \[0, 1\], got -0.1"),
        ({"held_out_start_share": 1.0}, r"held_out_start_share must be in \(0, 1\), got 1.0"),
        ({"max_steps": 0}, r"max_steps must be >= 1, got 0"),
        ({"split": "latent", "latent_per_maze": 0}, r"split 'latent' needs latent objects"),
    ],
)
def test_impossible_parameters(v0_id: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=r"Invalid latent gridworld parameters: .*" + match):
        gym.make(v0_id, **kwargs)


def test_latent_split_option_without_latent_objects(env_id: str) -> None:
    env = gym.make(env_id, latent_per_maze=0)
    with pytest.raises(
        ValueError, match=r"the latent split needs latent objects: latent_per_maze is 0"
    ):
        env.reset(seed=0, options={"split": "latent"})


def test_unknown_constructor_arguments(env_id: str) -> None:
    # Python's own wording: TorchRL's GymEnv retries without 'frameskip' only on it
    with pytest.raises(
        TypeError,
        match=r"LatentGridworldEnv.__init__\(\) got an unexpected keyword argument 'sise'; "
        r"valid: obs_mode, obs_format, .*size",
    ):
        gym.make(env_id, sise=9)
    with pytest.raises(TypeError, match=r"argument 'sise' \(also 'frameskip'\); valid: "):
        gym.make(env_id, sise=9, frameskip=1)
    with pytest.raises(
        ValueError, match=r"unknown render_mode 'window'; valid: \['rgb_array', 'ansi', 'human'\]"
    ):
        with pytest.warns(UserWarning, match="not in the possible render_modes"):
            gym.make(env_id, render_mode="window")


def test_step_before_reset_and_after_the_end(env_id: str) -> None:
    raw = gym.make(env_id).unwrapped
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\) or render\(\)"):
        raw.step(0)
    env = gym.make(env_id)
    env.reset(seed=2)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(expert_action(env))
    with pytest.raises(
        RuntimeError, match=r"the episode has ended \(terminated or truncated\); call reset\(\)"
    ):
        env.step(0)
    env.reset()
    env.step(0)  # fine again after reset


def test_config_is_reachable_through_make(env_id: str) -> None:
    kwargs = {f: getattr(WorldConfig(), f) for f in WorldConfig.__dataclass_fields__}
    kwargs.update(size=9, n_mazes=8, braid=0.0, split="explicit")
    env = gym.make(env_id, **kwargs)
    assert env.unwrapped.config == WorldConfig(**kwargs)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- vector envs


def test_vector_envs_and_shared_memory(env_id: str) -> None:
    """make_vec works, and the spaces fit async shared memory (Minigrid's mission does not)."""
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")
    obs, _ = envs.reset(seed=0)
    assert all(obs[k].shape[0] == 2 for k in obs)
    envs.close()
    space = gym.make(env_id).observation_space
    from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory

    memory = create_shared_memory(space, n=2)
    read_from_shared_memory(space, memory, n=2)


# ---------------------------------------------------------------------------- imports


def test_import_does_not_pull_in_pygame_or_torch() -> None:
    code = (
        "import sys, gymnasium as gym, latent_gridworld;"
        "env = gym.make('LatentGridworld/Pixel-v0', render_mode='rgb_array');"
        "env.reset(seed=0); env.step(0); env.render();"
        "gym.make('LatentGridworld/ASCII-v0', render_mode='ansi').reset(seed=0);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pygame', 'torch'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- docs


def test_environments_doc_is_current() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "environments.md").read_text()
    table = doc.split("<!-- BEGIN ARGUMENTS (generated) -->\n", 1)[1].split("<!-- END", 1)[0]
    assert table == arguments_table(), (
        "regenerate the table in docs/environments.md with "
        "`python -m latent_gridworld.testing --arguments-table`"
    )
    for env_id in ENV_IDS:
        assert f"## `{env_id}`" in doc, f"docs/environments.md needs a section for {env_id}"
