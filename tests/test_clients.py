"""The field's clients on the registered ids: one test per "zero glue" row of docs/clients.md.

Each test uses the client as its documentation shows, with ``import latent_gridworld`` (or the
``latent_gridworld:`` id prefix) and, where the table says so, an ``obs_format=`` keyword as the
only additions. A client that is not installed skips its tests with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import latent_gridworld  # noqa: F401  (registers the ids)
from latent_gridworld import SPLITS, expert_action
from latent_gridworld.envs.gridworld import INFO_KEYS
from latent_gridworld.vector import LatentGridworldVectorEnv

IDS = ("LatentGridworld/Pixel-v0", "LatentGridworld/ASCII-v0")
ROOT = Path(__file__).resolve().parents[1]
# short episodes, so that a few hundred steps cross truncations and resets
SHORT: dict[str, Any] = {"size": 7, "n_mazes": 8, "n_new_mazes": 3, "max_steps": 25}


@pytest.fixture(params=IDS)
def client_id(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def view_key(env_id: str) -> str:
    return "image" if "Pixel" in env_id else "view"


# ---------------------------------------------------------------------- info and spaces


def test_info_holds_numpy_values_only_and_no_observation_key(env_id: str) -> None:
    env = gym.make(env_id, maze_cue=False, position_cue=False)
    obs, info = env.reset(seed=0)
    infos = [info]
    for _ in range(5):
        obs, _, _, _, info = env.step(0)
        infos.append(info)
    for info in infos:
        assert tuple(info) == INFO_KEYS
        for key, value in info.items():
            assert isinstance(value, (np.ndarray, np.generic)), f"info[{key!r}] is {type(value)}"
            assert value.dtype.kind in "biu", f"info[{key!r}] dtype {value.dtype}"
        assert not set(info) & set(obs), "an info key repeats an observation key"
    assert SPLITS[int(info["split_id"])] == env.unwrapped.split == "train"  # type: ignore[attr-defined]
    assert info["goal_type"] == obs["goal"]


def test_sync_vector_env_batches_info_into_typed_arrays() -> None:
    """Bools are 0-d arrays: SyncVectorEnv batches them into bool arrays, not object arrays."""
    sync = gym.make_vec(IDS[1], num_envs=2, vectorization_mode="sync")
    _, info = sync.reset(seed=0)
    assert info["is_success"].dtype == bool and info["icl"].dtype == bool
    assert info["maze"].dtype == np.int64 and info["split_id"].dtype == np.int64
    assert not any(v.dtype == object for k, v in info.items())


def test_ascii_view_space_holds_a_zero_placeholder() -> None:
    space = gym.make(IDS[1]).observation_space
    assert np.zeros(25, np.uint8) in space["view"]  # type: ignore[index]


@pytest.mark.parametrize("obs_format", ["onehot", "flat"])
def test_obs_formats_pass_the_env_checker_and_match_gymnasium_flatten(
    client_id: str, obs_format: str
) -> None:
    from gymnasium.utils.env_checker import check_env

    kwargs = {"maze_cue": True, "position_cue": True}
    env = gym.make(client_id, obs_format=obs_format, **kwargs)
    check_env(env.unwrapped)
    plain = gym.make(client_id, **kwargs)
    dict_space = plain.observation_space
    obs, _ = env.reset(seed=3)
    ref, _ = plain.reset(seed=3)
    for _ in range(30):
        flat_ref = np.asarray(gym.spaces.flatten(dict_space, ref), dtype=np.float32)
        if obs_format == "flat":
            assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
            np.testing.assert_array_equal(obs, flat_ref)
            layout = env.unwrapped.obs_layout  # type: ignore[attr-defined]
            np.testing.assert_array_equal(
                obs[layout[view_key(client_id)]], ref[view_key(client_id)].ravel()
            )
        else:
            assert all(isinstance(s, gym.spaces.Box) for s in env.observation_space.values())  # type: ignore[attr-defined]
            np.testing.assert_array_equal(obs["goal"], np.eye(8, dtype=np.float32)[ref["goal"]])
            np.testing.assert_array_equal(obs[view_key(client_id)], ref[view_key(client_id)])
        obs, *_ = env.step(1)
        ref, *_ = plain.step(1)


def test_flat_shapes_of_the_defaults() -> None:
    assert gym.make(IDS[0], obs_format="flat").observation_space.shape == (8 + 40 * 40 * 3,)
    assert gym.make(IDS[1], obs_format="flat").observation_space.shape == (8 + 25,)


@pytest.mark.parametrize("obs_format", ["dict", "onehot", "flat"])
def test_native_vector_env_formats_match_sync(obs_format: str) -> None:
    """Same observations as SyncVectorEnv of single envs, across SAME_STEP autoresets."""
    from gymnasium.vector import AutoresetMode

    kwargs = {"obs_mode": "ascii", "obs_format": obs_format, **SHORT}
    sync = gym.vector.SyncVectorEnv(
        [lambda: latent_gridworld.LatentGridworldEnv(**kwargs) for _ in range(3)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    vec = LatentGridworldVectorEnv(3, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs)
    assert vec.single_observation_space == sync.single_observation_space
    a: Any
    b: Any
    a, _ = sync.reset(seed=0)
    b, _ = vec.reset(seed=0)
    finals = 0
    for t in range(60):
        assert data_equivalence(a, b), f"step {t}"
        actions = np.random.default_rng(t).integers(0, 4, 3)
        a, _, _, _, ia = sync.step(actions)
        b, _, _, _, ib = vec.step(actions)
        if "final_obs" in ia:
            finals += int(ia["_final_obs"].sum())
            for i in np.flatnonzero(ia["_final_obs"]):
                assert data_equivalence(ia["final_obs"][i], ib["final_obs"][i])
    assert finals > 0


# ---------------------------------------------------------------------- bad input


def test_unknown_kwarg_is_worded_the_python_way(env_id: str) -> None:
    with pytest.raises(
        TypeError, match=r"__init__\(\) got an unexpected keyword argument 'frameskip'"
    ):
        gym.make(env_id, frameskip=1)
    with pytest.raises(
        TypeError,
        match=r"LatentGridworldVectorEnv.__init__\(\) got an unexpected keyword argument "
        r"'frameskip'; valid: num_envs, autoreset_mode, obs_mode",
    ):
        gym.make_vec(env_id, num_envs=2, frameskip=1)
    with pytest.raises(
        ValueError, match=r"unknown obs_format 'box'; valid: 'dict', 'onehot', 'flat'"
    ):
        gym.make(env_id, obs_format="box")


@pytest.mark.parametrize("options", ["maze", [("maze", 1)], [], 3, {1: 2}])
def test_reset_options_must_be_a_mapping(options: Any) -> None:
    env = gym.make(IDS[1])
    vec = gym.make_vec(IDS[1], num_envs=2)
    for target in (env, vec):
        with pytest.raises(
            TypeError, match=r"reset(\(options=\.\.\.\) must be a dict| options are keyed)"
        ):
            target.reset(seed=0, options=options)
    with pytest.raises(TypeError, match=r"got str 'maze'\. Valid option names: maze, goal"):
        env.reset(options="maze")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- Gymnasium


@pytest.mark.filterwarnings("ignore:.*matplotlib is not installed")
def test_play_runs_without_a_key_mapping(client_id: str) -> None:
    pytest.importorskip("pygame", reason="gymnasium.utils.play needs pygame (the render extra)")
    import pygame
    from gymnasium.utils.play import play

    env = gym.make(client_id, render_mode="rgb_array")
    keys = env.unwrapped.get_keys_to_action()  # type: ignore[attr-defined]
    assert keys[("w",)] == keys[(pygame.K_UP,)] == 0
    assert keys[("d",)] == keys[(pygame.K_RIGHT,)] == 1
    assert keys[("s",)] == keys[(pygame.K_DOWN,)] == 2
    assert keys[("a",)] == keys[(pygame.K_LEFT,)] == 3
    actions: list[int] = []

    def callback(*args: Any) -> None:
        actions.append(int(args[2]))
        if len(actions) == 5:
            pygame.event.post(pygame.event.Event(pygame.QUIT))

    play(env, fps=1000, noop=1, callback=callback)  # no keys_to_action argument
    assert actions == [1] * 5


def test_time_aware_observation_recipe(client_id: str) -> None:
    """The ids have no spec step limit; gym.make(max_episode_steps=...) supplies it."""
    from gymnasium.wrappers import TimeAwareObservation

    with pytest.raises(ValueError, match="TimeLimit wrapper or the spec specify"):
        TimeAwareObservation(gym.make(client_id))
    limit = gym.make(client_id, max_steps=30).unwrapped.max_episode_steps  # type: ignore[attr-defined]
    assert limit == 30
    assert gym.make(client_id).unwrapped.max_episode_steps == 2 * 13 * 13  # type: ignore[attr-defined]
    env: Any = TimeAwareObservation(
        gym.make(client_id, max_steps=30, max_episode_steps=limit), flatten=False
    )
    obs, _ = env.reset(seed=0)
    assert obs["time"] == 0
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, _ = env.step(steps % 4)
        steps += 1
        done = terminated or truncated
    assert steps <= 30 and obs["time"] == steps


def test_native_vector_call_get_attr_set_attr_match_sync(client_id: str) -> None:
    sync: Any = gym.make_vec(
        client_id, num_envs=3, vectorization_mode="sync", render_mode="ansi", **SHORT
    )
    native: Any = gym.make_vec(client_id, num_envs=3, render_mode="ansi", **SHORT)
    assert native.get_attr("config") == sync.get_attr("config")
    assert native.get_attr("obs_mode") == sync.get_attr("obs_mode")
    assert native.get_attr("max_episode_steps") == sync.get_attr("max_episode_steps") == (25,) * 3
    sync.reset(seed=4)
    native.reset(seed=4)
    for _ in range(7):
        actions = np.array([0, 1, 2])
        sync.step(actions)
        native.step(actions)
    assert native.call("render") == sync.call("render")
    assert native.call("render_text") == sync.call("render_text")
    assert native.get_attr("split") == sync.get_attr("split")
    states_n, states_s = native.get_attr("state"), sync.get_attr("state")
    assert [s.position for s in states_n] == [s.position for s in states_s]
    assert [s.steps for s in states_n] == [s.steps for s in states_s] == [7, 7, 7]
    # the envs' own random generators, live
    assert [g.bit_generator.state for g in native.get_attr("np_random")] == [
        g.bit_generator.state for g in sync.get_attr("np_random")
    ]
    frames = native.call("render_frame", tile_size=2)
    assert [f.shape for f in frames] == [(14, 14, 3)] * 3
    for envs in (sync, native):
        envs.set_attr("curriculum_level", [1, 2, 3])
        assert envs.get_attr("curriculum_level") == (1, 2, 3)
        envs.set_attr("render_tile_size", 4)
        assert envs.get_attr("render_tile_size") == (4, 4, 4)
    with pytest.raises(AttributeError, match="cannot set 'tile_size' on the native vector env"):
        native.set_attr("tile_size", 3)
    with pytest.raises(
        ValueError, match=r"values must be a list or tuple of length num_envs \(3\)"
    ):
        native.set_attr("curriculum_level", [1, 2])
    with pytest.raises(ValueError, match=r"call\('step'\) would act on a copy"):
        native.call("step", 0)
    with pytest.raises(AttributeError, match="have no attribute 'nope'"):
        native.get_attr("nope")


# ---------------------------------------------------------------------- SB3 VecEnv tools


def test_sb3_vec_frame_stack_and_vec_normalize_with_onehot(client_id: str) -> None:
    sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 not installed")
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize

    venv = make_vec_env(client_id, n_envs=2, seed=0, env_kwargs={"obs_format": "onehot", **SHORT})
    stacked = VecFrameStack(venv, n_stack=4)
    obs = stacked.reset()
    assert obs["goal"].shape == (2, 32)
    normalized = VecNormalize(stacked)  # default norm_obs_keys: every key
    model = sb3.PPO("MultiInputPolicy", normalized, n_steps=32, batch_size=32, n_epochs=1,
                    seed=0, device="cpu")  # fmt: skip
    model.learn(total_timesteps=64)
    assert model.num_timesteps == 64


# ---------------------------------------------------------------------- TorchRL


def test_torchrl_gym_env_specs_info_and_rollout(client_id: str) -> None:
    pytest.importorskip("torchrl", reason="torchrl not installed")
    from torchrl.envs import GymEnv
    from torchrl.envs.utils import check_env_specs

    env = GymEnv(client_id, **SHORT)  # passes frameskip=1, retried without it
    check_env_specs(env)
    env = env.auto_register_info_dict()  # every info value becomes a tensor
    check_env_specs(env)
    goal_spec = env.observation_spec["goal"]
    assert type(goal_spec).__name__ == "OneHot"  # not overwritten by an info key
    td = env.rollout(120, break_when_any_done=False)
    assert td["next", "truncated"].sum() >= 1  # crossed at least one reset
    assert (
        td["goal_type"].shape == (120,)
        and td["next", "is_success"].dtype.is_floating_point is False
    )
    assert (td["goal"].argmax(-1) == td["goal_type"]).all()


def test_torchrl_batched_gym_env_with_onehot() -> None:
    """GymEnv(num_envs=...) zero-fills final observations; onehot keeps them inside the specs."""
    pytest.importorskip("torchrl", reason="torchrl not installed")
    from gymnasium.vector import AutoresetMode
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    vec = gym.make_vec(
        IDS[1], num_envs=2, obs_format="onehot", autoreset_mode=AutoresetMode.SAME_STEP, **SHORT
    )
    env = GymWrapper(vec)
    check_env_specs(env)
    td = env.rollout(80, break_when_any_done=False)
    assert td.shape == (2, 80) and td["next", "done"].sum() >= 2


# ---------------------------------------------------------------------- Tianshou


def test_tianshou_dqn_on_the_flat_format(client_id: str) -> None:
    pytest.importorskip("tianshou", reason="tianshou not installed")
    import tianshou as ts
    from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
    from tianshou.algorithm.optim import AdamOptimizerFactory
    from tianshou.data import CollectStats
    from tianshou.trainer import OffPolicyTrainerParams
    from tianshou.utils.net.common import Net
    from tianshou.utils.space_info import SpaceInfo

    def make() -> gym.Env[Any, Any]:
        return gym.make(client_id, obs_format="flat", **SHORT)

    env = make()
    space_info = SpaceInfo.from_env(env)  # Discrete and Box only: the flat Box passes
    net = Net(
        state_shape=space_info.observation_info.obs_shape,
        action_shape=space_info.action_info.action_shape,
        hidden_sizes=[32],
    )
    policy = DiscreteQLearningPolicy(model=net, action_space=env.action_space, eps_training=0.5)
    algorithm = ts.algorithm.DQN(policy=policy, optim=AdamOptimizerFactory(lr=1e-3))
    train_envs = ts.env.DummyVectorEnv([make for _ in range(2)])
    collector = ts.data.Collector[CollectStats](
        algorithm, train_envs, ts.data.VectorReplayBuffer(1000, 2), exploration_noise=True
    )
    test_collector = ts.data.Collector[CollectStats](
        algorithm, ts.env.DummyVectorEnv([make]), exploration_noise=True
    )
    result = algorithm.run_training(
        OffPolicyTrainerParams(
            training_collector=collector,
            test_collector=test_collector,
            max_epochs=1,
            epoch_num_steps=200,
            collection_step_num_env_steps=10,
            test_step_num_episodes=1,
            batch_size=32,
            update_step_num_gradient_steps_per_sample=0.1,
        )
    )
    assert result.train_step >= 200 and result.update_step >= 1


# ---------------------------------------------------------------------- Minari


@pytest.mark.parametrize("env_id", IDS)
def test_minari_data_collector_round_trip(
    env_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minari = pytest.importorskip("minari", reason="minari not installed")
    pytest.importorskip("jax", reason="DataCollector needs minari[create] (jax)")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    # pixels: jpeg_encoding=False, else the images come back lossy
    env = minari.DataCollector(gym.make(env_id, **SHORT), record_infos=True, jpeg_encoding=False)
    recorded: list[list[Any]] = []
    for episode in range(3):
        obs, _ = env.reset(seed=episode)
        views, done = [obs[view_key(env_id)]], False
        while not done:
            obs, _, terminated, truncated, _ = env.step(expert_action(env))
            views.append(obs[view_key(env_id)])
            done = terminated or truncated
        recorded.append(views)
    dataset = env.create_dataset(
        dataset_id="latentgridworld/test-v0",
        algorithm_name="expert",
        author="latent-gridworld tests",
        author_email="tests@example.invalid",
        code_permalink="https://example.invalid/latent-gridworld",
        description="expert episodes",
        eval_env=env_id,
    )
    loaded = minari.load_dataset("latentgridworld/test-v0")
    assert loaded.total_episodes == 3
    for views, ep in zip(recorded, loaded.iterate_episodes()):
        np.testing.assert_array_equal(ep.observations[view_key(env_id)], np.stack(views))
        assert set(ep.infos) == set(INFO_KEYS)
    assert dataset.total_steps == sum(len(v) - 1 for v in recorded)


# ---------------------------------------------------------------------- CleanRL-style example


def test_cleanrl_dqn_example_runs_with_only_the_prefixed_id() -> None:
    """The example imports nothing from latent_gridworld: the id prefix imports it."""
    pytest.importorskip("torch", reason="torch not installed")
    source = (ROOT / "examples" / "cleanrl_dqn.py").read_text()
    assert "import latent_gridworld" not in source and "from latent_gridworld" not in source
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "cleanrl_dqn.py"), "--total-timesteps", "400",
         "--learning-starts", "100", "--num-envs", "2", "--batch-size", "32"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "steps=400 " in result.stdout
