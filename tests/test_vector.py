"""The batched vector env: parity with N single envs, Gymnasium vectorization modes, bad input."""

from __future__ import annotations

import pickle
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import latent_gridworld  # noqa: F401  (registers the ids)
from latent_gridworld.envs.gridworld import LatentGridworldEnv
from latent_gridworld.expert import expert_action_for_state
from latent_gridworld.vector import LatentGridworldVectorEnv

IDS = ("LatentGridworld/ASCII-v0", "LatentGridworld/Pixel-v0")
# small mazes and short limits so that goals, ICL second goals and truncations all happen
SMALL: dict[str, Any] = {"size": 7, "n_mazes": 8, "n_new_mazes": 3, "max_steps": 25}


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Equal values, dtypes and structure (dicts, arrays, object arrays, scalars)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert isinstance(b, np.ndarray) and b.dtype == object and a.shape == b.shape, where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert isinstance(b, (np.ndarray, np.generic)), f"{where}: {type(b)}"
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def policy(sync: gym.vector.SyncVectorEnv, rng: np.random.Generator) -> np.ndarray:
    """Mostly expert moves (so episodes end by success), some random ones."""
    actions = rng.integers(0, 4, size=sync.num_envs)
    for i, env in enumerate(sync.envs):
        state = env.unwrapped.state
        if state is not None and not state.done and rng.random() < 0.7:
            actions[i] = expert_action_for_state(state)
    return actions


def run_parity(mode: AutoresetMode, n: int, steps: int, seed: Any, **kwargs: Any) -> dict[str, int]:
    """Step a SyncVectorEnv of single envs and the batched env in lockstep; count events."""
    sync = gym.vector.SyncVectorEnv(
        [lambda: LatentGridworldEnv(**kwargs) for _ in range(n)], autoreset_mode=mode
    )
    vec = LatentGridworldVectorEnv(num_envs=n, autoreset_mode=mode, **kwargs)
    assert vec.single_observation_space == sync.single_observation_space
    assert vec.observation_space == sync.observation_space
    assert vec.action_space == sync.action_space
    assert_same(sync.reset(seed=seed), vec.reset(seed=seed), "reset")
    rng = np.random.default_rng(1)
    counts = {"terminated": 0, "truncated": 0, "second_goal_steps": 0}
    for t in range(steps):
        actions = policy(sync, rng)
        expected = sync.step(actions)
        got = vec.step(actions)
        assert_same(expected, got, f"step {t}")
        counts["terminated"] += int(expected[2].sum())
        counts["truncated"] += int(expected[3].sum())
        counts["second_goal_steps"] += int((expected[4]["goal_index"] == 1).sum())
    return counts


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("obs_mode", ["ascii", "pixel"])
def test_parity_with_single_envs_icl(mode: AutoresetMode, obs_mode: str) -> None:
    counts = run_parity(mode, 6, 120, 3, obs_mode=obs_mode, icl_share=0.6, **SMALL)
    # resets after success and after the time limit, and ICL second goals, were all exercised
    assert min(counts.values()) >= 3, counts


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "new_maze", "maze_cue": True, "position_cue": True, "step_penalty": 0.01},
        {"split": "latent", "full_view": True, "tile_size": 3},
        {"split": "explicit", "view_size": 3, "tile_size": 5},
    ],
)
def test_parity_other_configs(kwargs: dict[str, Any]) -> None:
    run_parity(
        AutoresetMode.NEXT_STEP, 5, 60, [7, 1, 9, 1, 100], obs_mode="pixel", **SMALL, **kwargs
    )


def test_parity_default_config_ascii() -> None:
    run_parity(AutoresetMode.SAME_STEP, 4, 80, 11, obs_mode="ascii")


def test_same_step_final_obs_and_info() -> None:
    vec = LatentGridworldVectorEnv(4, obs_mode="ascii", autoreset_mode="SameStep", **SMALL)
    vec.reset(seed=0)
    for _ in range(SMALL["max_steps"]):
        obs, _, term, trunc, info = vec.step(np.zeros(4, dtype=np.int64))
        if (term | trunc).any():
            break
    done = term | trunc
    assert done.any()
    np.testing.assert_array_equal(info["_final_obs"], done)
    for i in np.flatnonzero(done):
        assert set(info["final_obs"][i]) == {"view", "goal"}
        assert info["final_info"]["is_success"][i] == term[i]
        assert info["goal_index"][i] == 0  # the new episode's info
    assert all(info["final_obs"][i] is None for i in np.flatnonzero(~done))


def test_next_step_autoreset_ignores_action_and_gives_reward_zero() -> None:
    vec = LatentGridworldVectorEnv(2, obs_mode="ascii", **{**SMALL, "max_steps": 3})
    vec.reset(seed=5)
    for _ in range(3):
        _, _, term, trunc, _ = vec.step(np.array([1, 1]))
    assert (term | trunc).all()
    obs, reward, term, trunc, info = vec.step(np.array([1, 1]))
    np.testing.assert_array_equal(reward, [0.0, 0.0])
    assert not term.any() and not trunc.any()
    np.testing.assert_array_equal(info["position"], info["start"])


def test_make_vec_uses_vector_entry_point_for_both_ids() -> None:
    for env_id in IDS:
        envs = gym.make_vec(env_id, num_envs=3, size=7)
        assert isinstance(envs.unwrapped, LatentGridworldVectorEnv)
        assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        obs, _ = envs.reset(seed=0)
        assert envs.observation_space.contains(obs)
        envs.close()


@pytest.mark.parametrize("env_id", IDS)
def test_async_shared_memory_and_sync_match_batched(env_id: str) -> None:
    kw = {"size": 7, "max_steps": 10}
    batched = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kw)
    sync = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync", **kw)
    asyn = gym.make_vec(
        env_id,
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"shared_memory": True},
        **kw,
    )
    try:
        results = [e.reset(seed=4)[0] for e in (batched, sync, asyn)]
        for r in results[1:]:
            assert_same(results[0], r)
        for t in range(15):  # past one truncation and its autoreset
            a = np.array([t % 4, (t * 3) % 4])
            out = [e.step(a) for e in (batched, sync, asyn)]
            assert asyn.observation_space.contains(out[2][0])
            for o in out[1:]:
                for k in range(4):
                    assert_same(out[0][k], o[k], f"step {t} item {k}")
    finally:
        for e in (batched, sync, asyn):
            e.close()


def test_reset_options_pin_the_task_for_every_env() -> None:
    from latent_gridworld.core.world import build_maze

    single = LatentGridworldEnv(obs_mode="ascii", **SMALL)
    maze = build_maze(single.config, 1)
    goal, start = int(maze.explicit_types[0]), tuple(int(x) for x in maze.train_starts[0])
    options = {"maze": 1, "goal": goal, "start": start}
    sobs, sinfo = single.reset(seed=2, options=options)
    vec = LatentGridworldVectorEnv(3, obs_mode="ascii", **SMALL)
    obs, info = vec.reset(seed=2, options=options)
    np.testing.assert_array_equal(info["maze"], [1, 1, 1])
    np.testing.assert_array_equal(info["goal_type"], [goal] * 3)
    np.testing.assert_array_equal(info["start"], [start] * 3)
    np.testing.assert_array_equal(info["optimal_steps"], [sinfo["optimal_steps"]] * 3)
    np.testing.assert_array_equal(obs["view"], np.stack([sobs["view"]] * 3))
    # options only partly pinned: the rest is drawn with each env's generator, as single envs do
    _, sinfo = single.reset(seed=5, options={"maze": 2})
    _, info = vec.reset(seed=5, options={"maze": 2})
    assert info["goal_type"][0] == sinfo["goal_type"]
    assert tuple(info["start"][0]) == tuple(sinfo["start"])
    with pytest.raises(ValueError, match="valid splits"):
        vec.reset(options={"split": "nope"})
    with pytest.raises(ValueError, match="unknown reset option"):
        vec.reset(options={"mazes": 1})


def test_reset_mask_resets_only_selected_envs() -> None:
    vec = LatentGridworldVectorEnv(3, obs_mode="ascii", autoreset_mode="Disabled", **SMALL)
    obs0, _ = vec.reset(seed=0)
    vec.step(np.array([0, 1, 2]))
    before = vec.get_state(1)
    mask = np.array([True, False, True])
    obs, info = vec.reset(seed=0, options={"reset_mask": mask})
    np.testing.assert_array_equal(info["_maze"], mask)
    np.testing.assert_array_equal(obs["view"][[0, 2]], obs0["view"][[0, 2]])  # same seeds
    after = vec.get_state(1)
    assert after.position == before.position and after.steps == before.steps == 1
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        vec.reset(options={"reset_mask": np.array([True, False])})


def test_disabled_mode_refuses_to_step_finished_envs() -> None:
    vec = LatentGridworldVectorEnv(2, obs_mode="ascii", autoreset_mode="Disabled", **SMALL)
    vec.reset(seed=0)
    for _ in range(SMALL["max_steps"]):
        vec.step(np.array([0, 0]))
    with pytest.raises(RuntimeError, match="reset_mask"):
        vec.step(np.array([0, 0]))
    vec.reset(options={"reset_mask": np.array([True, True])})
    vec.step(np.array([0, 0]))


@pytest.mark.parametrize(
    ("actions", "match"),
    [
        (np.zeros(2, dtype=np.int64), r"shape \(3,\)"),
        (np.zeros((3, 1), dtype=np.int64), r"shape \(3,\)"),
        (np.zeros(3, dtype=np.float32), "integers in 0..3"),
        (np.array([True, False, True]), "integers in 0..3"),
        (np.array([0, 4, 1]), r"action 4 of env 1 is outside Discrete\(4\)"),
        (np.array([-1, 0, 1]), r"action -1 of env 0"),
    ],
)
def test_bad_actions_are_named(actions: np.ndarray, match: str) -> None:
    vec = LatentGridworldVectorEnv(3, obs_mode="ascii", **SMALL)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        vec.step(actions)


def test_bad_construction_and_seeds() -> None:
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="num_envs must be an integer >= 1"):
            LatentGridworldVectorEnv(num_envs=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="autoreset_mode"):
        LatentGridworldVectorEnv(2, autoreset_mode="sometimes")
    with pytest.raises(ValueError, match="valid: 'pixel', 'ascii'"):
        LatentGridworldVectorEnv(2, obs_mode="rgb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="render_mode"):
        LatentGridworldVectorEnv(2, render_mode="human")
    with pytest.raises(ValueError, match="Invalid latent gridworld parameters"):
        LatentGridworldVectorEnv(2, size=4)
    vec = LatentGridworldVectorEnv(2, obs_mode="ascii", **SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"one seed per env \(2\)"):
        vec.reset(seed=[1, 2, 3])


def test_seeding_is_per_env_and_reproducible() -> None:
    a = LatentGridworldVectorEnv(4, obs_mode="ascii", **SMALL)
    b = LatentGridworldVectorEnv(4, obs_mode="ascii", **SMALL)
    oa, ia = a.reset(seed=10)
    ob, ib = b.reset(seed=[10, 11, 12, 13])
    assert_same((oa, ia), (ob, ib))
    # env 2 alone, seeded 12, is env 2 of the batch
    single = LatentGridworldVectorEnv(1, obs_mode="ascii", **SMALL)
    o1, _ = single.reset(seed=12)
    np.testing.assert_array_equal(o1["view"][0], oa["view"][2])


def test_pixels_are_the_atlas_image_of_the_view() -> None:
    from latent_gridworld.encoders.pixels import codes_to_image

    vec = LatentGridworldVectorEnv(3, obs_mode="pixel", tile_size=7, **SMALL)
    obs, _ = vec.reset(seed=1)
    for i in range(3):
        state = vec.get_state(i)
        np.testing.assert_array_equal(obs["image"][i], codes_to_image(state.view(), 7))


def test_pickle_round_trip_continues_identically() -> None:
    vec = LatentGridworldVectorEnv(3, obs_mode="ascii", icl_share=0.5, **SMALL)
    vec.reset(seed=0)
    vec.step(np.array([0, 1, 2]))
    clone = pickle.loads(pickle.dumps(vec))
    for t in range(30):
        a = np.array([t % 4, (t + 1) % 4, (t + 2) % 4])
        assert_same(vec.step(a), clone.step(a), f"step {t}")


def test_render_rgb_array_and_ansi_match_single_env() -> None:
    single = LatentGridworldEnv(obs_mode="ascii", render_mode="ansi", **SMALL)
    single.reset(seed=3)
    vec = LatentGridworldVectorEnv(2, obs_mode="ascii", render_mode="ansi", **SMALL)
    vec.reset(seed=3)
    texts = vec.render()
    assert texts is not None and texts[0] == single.render()
    rgb = LatentGridworldVectorEnv(2, render_mode="rgb_array", render_tile_size=4, **SMALL)
    rgb.reset(seed=3)
    frames = rgb.render()
    assert frames is not None and frames[0].shape == (7 * 4, 7 * 4, 3)


def test_new_mazes_are_added_to_the_tables_on_demand() -> None:
    vec = LatentGridworldVectorEnv(2, obs_mode="ascii", **SMALL)
    vec.reset(seed=0, options={"maze": 1000})  # far beyond the pool and the held-out mazes
    single = LatentGridworldEnv(obs_mode="ascii", **SMALL)
    obs, info = single.reset(seed=0, options={"maze": 1000})
    vobs, vinfo = vec.reset(seed=0, options={"maze": 1000})
    np.testing.assert_array_equal(vobs["view"][0], obs["view"])
    assert vinfo["maze"][0] == 1000 and vinfo["split_id"][0] == info["split_id"]


# ------------------------------------------------------------------------------------ SB3


def test_sb3_adapter_auto_resets_with_terminal_observation() -> None:
    pytest.importorskip("stable_baselines3")
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    venv = LatentGridworldSB3VecEnv(num_envs=3, obs_mode="ascii", **{**SMALL, "max_steps": 4})
    venv.seed(0)
    obs = venv.reset()
    assert obs["view"].shape == (3, 25)
    ref = LatentGridworldVectorEnv(
        3, obs_mode="ascii", autoreset_mode="SameStep", **{**SMALL, "max_steps": 4}
    )
    ref.reset(seed=0)
    for _ in range(4):
        a = np.array([0, 1, 2])
        obs, rewards, dones, infos = venv.step(a)
        robs, rrew, rterm, rtrunc, rinfo = ref.step(a)
    assert rewards.dtype == np.float32
    np.testing.assert_array_equal(dones, rterm | rtrunc)
    assert dones.all()
    for i in range(3):
        np.testing.assert_array_equal(
            infos[i]["terminal_observation"]["view"], rinfo["final_obs"][i]["view"]
        )
        assert infos[i]["TimeLimit.truncated"] == bool(rtrunc[i] and not rterm[i])
        assert infos[i]["is_success"] == bool(rterm[i])
    np.testing.assert_array_equal(obs["view"], robs["view"])


def test_sb3_ppo_trains_on_the_adapter() -> None:
    pytest.importorskip("stable_baselines3")
    import torch
    from stable_baselines3 import PPO

    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    torch.set_num_threads(1)
    venv = LatentGridworldSB3VecEnv(num_envs=4, obs_mode="pixel", **SMALL)
    model = PPO(
        "MultiInputPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu"
    )
    model.learn(total_timesteps=64)
    assert model.num_timesteps == 64
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (4,)


def test_step_path_has_no_per_env_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps in which no env resets never call the single-env transition or task sampler.

    A structural check instead of a timed one: speed is measured in benchmarks/, not asserted.
    """
    from latent_gridworld.core import world

    n = 256
    vec = LatentGridworldVectorEnv(n, obs_mode="ascii", max_steps=50)
    vec.reset(seed=0)

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("per-env Python call on the batched step path")

    monkeypatch.setattr(world, "step", forbidden)
    monkeypatch.setattr(world, "start_episode", forbidden)
    for _ in range(3):
        vec.step(np.zeros(n, dtype=np.int64))
