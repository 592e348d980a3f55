"""The PPO agents' retrieval wrapper, features extractor, training script and evaluation."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
import torch  # noqa: E402
from gymnasium.utils.env_checker import check_env as gym_check_env  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from agents.memory import EpisodicMemory  # noqa: E402
from agents.rl import EnvSpec, RetrievalObservation, evaluate, expert_memory, make_env  # noqa: E402
from agents.rl.config import TrainConfig  # noqa: E402
from agents.rl.extractor import RetrievalExtractor, policy_kwargs  # noqa: E402
from agents.rl.runs import load_run  # noqa: E402
from agents.rl.train import parse_args, train  # noqa: E402
from agents.rl.wrapper import END_ACTION, MEMORY_KEYS  # noqa: E402
from latent_gridworld.core.constants import OBJECT_BASE  # noqa: E402
from latent_gridworld.encoders.pixels import codes_to_image  # noqa: E402
from latent_gridworld.expert import expert_action  # noqa: E402
from latent_gridworld.integrity import MAGIC, TRAILER_LEN, FileFormatError  # noqa: E402

WORLD = {"size": 9, "n_mazes": 8, "max_steps": 40}


@pytest.fixture(scope="module")
def memory() -> EpisodicMemory:
    return expert_memory(WORLD, 48, seed=0)


def wrapped(
    memory: EpisodicMemory | None, mode: str = "oracle", **kw: object
) -> RetrievalObservation:
    return make_env(EnvSpec(world=WORLD, mode=mode), memory, seed=0, **kw)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


# ---------------------------------------------------------------- the wrapper


def test_observation_space_is_identical_for_every_mode(memory: EpisodicMemory) -> None:
    spaces_ = [wrapped(memory, mode).observation_space for mode in ("oracle", "knn", "none")]
    assert spaces_[0] == spaces_[1] == spaces_[2]
    assert wrapped(None, "none").observation_space == spaces_[0]
    space = spaces_[0]
    assert set(MEMORY_KEYS) <= set(space.spaces)
    # k = 3 episodes x L = 8 steps x a 5x5 view
    assert space["mem_views"].shape == (3 * 8 * 25,)
    assert space["mem_mask"].shape == (24,)
    assert all(space[key].dtype == np.uint8 for key in MEMORY_KEYS)


@pytest.mark.parametrize("mode", ["oracle", "none"])
def test_observations_of_successive_calls_share_no_memory(
    memory: EpisodicMemory, mode: str
) -> None:
    """A kept observation never changes when the env steps or resets again (replay buffers)."""
    env = wrapped(memory, mode)
    history: list[dict[str, np.ndarray]] = []
    obs, _ = env.reset(seed=5)
    for step in range(30):
        for key in MEMORY_KEYS:
            for earlier in history:
                assert not np.shares_memory(obs[key], earlier[key]), (key, step)
        snapshot = {key: obs[key].copy() for key in MEMORY_KEYS}
        history.append(obs)
        # scribble over what we were given; the next observation must not notice
        for key in MEMORY_KEYS:
            obs[key][...] = 0
        obs, _, terminated, truncated, _ = env.step(step % 4)
        if terminated or truncated:
            obs, _ = env.reset()
        elif mode == "oracle":
            # the same retrieval until the next query: equal values, separate memory
            assert all(np.array_equal(obs[key], snapshot[key]) for key in MEMORY_KEYS)


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
@pytest.mark.parametrize("mode", ["oracle", "none"])
def test_sb3_and_gymnasium_checkers_pass(memory: EpisodicMemory, mode: str) -> None:
    env = wrapped(memory, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns on shapes its policies cannot read
        check_env(env, skip_render_check=True)
    gym_check_env(wrapped(memory, mode), skip_render_check=True)


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
def test_checkers_pass_with_the_position_cue_and_route_trim() -> None:
    world = {"position_cue": True}
    spec = EnvSpec(world=world, env_id="LatentGridworld/Pixel-v1", tile_size=None, trim="route")
    memory = expert_memory(world, 16, seed=0, env_id=spec.env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(make_env(spec, memory), skip_render_check=True)
    gym_check_env(make_env(spec, memory), skip_render_check=True)


def test_oracle_delivers_a_step_that_shows_the_goal(memory: EpisodicMemory) -> None:
    env = wrapped(memory, "oracle", k=3, n_relevant=1, n_distractors=2)
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        mem = env.unflatten(obs)
        valid = mem["mem_mask"].astype(bool)
        assert valid.any(axis=1).sum() == 3  # 3 episodes retrieved
        assert (mem["mem_views"][valid] == OBJECT_BASE + info["goal_type"]).any()
        # padding slots stay empty
        assert not mem["mem_views"][~valid].any()
        assert (mem["mem_actions"][~valid] == END_ACTION).all()


def test_none_mode_masks_everything(memory: EpisodicMemory) -> None:
    env = wrapped(memory, "none")
    obs, _ = env.reset(seed=3)
    assert not obs["mem_mask"].any() and not obs["mem_views"].any()
    assert (obs["mem_actions"] == END_ACTION).all()
    obs, *_ = env.step(0)
    assert not obs["mem_mask"].any()


def test_both_modes_see_the_same_tasks(memory: EpisodicMemory) -> None:
    a, b = wrapped(memory, "oracle"), wrapped(memory, "none")
    for seed in range(5):
        (oa, ia), (ob, ib) = a.reset(seed=seed), b.reset(seed=seed)
        assert (ia["maze"], ia["goal_type"], tuple(ia["start"])) == (
            ib["maze"],
            ib["goal_type"],
            tuple(ib["start"]),
        )
        np.testing.assert_array_equal(oa["image"], ob["image"])


def test_online_fill_stores_each_finished_episode(memory: EpisodicMemory) -> None:
    own = EpisodicMemory(n_object_types=8)
    env = wrapped(own, "oracle", fill_online=True)
    obs, info = env.reset(seed=1)
    start_view = env.unwrapped.state.view()
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, info = env.step(expert_action(env))
        steps, done = steps + 1, terminated or truncated
    assert len(own) == 1
    episode = own[0]
    assert len(episode.actions) == steps == info["optimal_steps"]
    assert episode.success and episode.maze == info["maze"]
    np.testing.assert_array_equal(episode.views[0], start_view)
    # the next episode retrieves from what was stored
    obs, _ = env.reset(seed=2)
    assert obs["mem_mask"].any()


def test_online_fill_keeps_the_placement() -> None:
    own = EpisodicMemory(n_object_types=8)
    env = wrapped(own, "oracle", fill_online=True)
    env.reset(seed=1, options={"placement": 1})
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(expert_action(env))
        done = terminated or truncated
    assert len(own) == 1 and own[0].placement == 1 and own[0].split == "train"


def test_bad_memory_is_rejected_at_construction(memory: EpisodicMemory) -> None:
    with pytest.raises(ValueError, match="unknown trim 'last'; valid: visible, uniform, route"):
        wrapped(memory, trim="last")
    with pytest.raises(ValueError, match="mode 'oracle' needs an EpisodicMemory"):
        wrapped(None, "oracle")
    with pytest.raises(ValueError, match="fill_online=True needs an EpisodicMemory"):
        wrapped(None, "none", fill_online=True)
    with pytest.raises(ValueError, match="n_object_types=6 but the env has 8"):
        wrapped(EpisodicMemory(n_object_types=6), "oracle")
    small = expert_memory({**WORLD, "view_size": 3}, 4, seed=0)
    with pytest.raises(ValueError, match="3x3 views but the env observes 5x5"):
        wrapped(small, "oracle")
    with pytest.raises(
        ValueError, match="unknown retrieval mode 'oracel'; valid: oracle, knn, none"
    ):
        wrapped(memory, "oracel")
    with pytest.raises(ValueError, match="wraps a LatentGridworld env"):
        RetrievalObservation(gym.make("CartPole-v1"), memory)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the extractor


def test_codes_path_equals_rendering_then_convolving(memory: EpisodicMemory) -> None:
    env = wrapped(memory)
    extractor = RetrievalExtractor(env.observation_space)
    codes = np.stack([memory[i].views[0] for i in range(4)])
    image = torch.as_tensor(codes_to_image(codes, 8), dtype=torch.float32) / 255.0
    with torch.no_grad():
        from_codes = extractor.encode_codes(torch.as_tensor(codes))
        from_pixels = extractor.encode_image(image)
    torch.testing.assert_close(from_codes, from_pixels, rtol=1e-5, atol=1e-5)


def test_extractor_rejects_an_env_without_memory_keys() -> None:
    env = gym.make("LatentGridworld/Pixel-v0", **WORLD)
    with pytest.raises(ValueError, match="needs observation keys"):
        RetrievalExtractor(env.observation_space)  # type: ignore[arg-type]


# ---------------------------------------------------------------- PPO


def tiny_ppo(memory: EpisodicMemory, mode: str) -> PPO:
    venv = DummyVecEnv([lambda: wrapped(memory, mode) for _ in range(2)])
    return PPO(
        "MultiInputPolicy",
        venv,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        policy_kwargs=policy_kwargs(),
        seed=0,
        device="cpu",
    )


def test_tiny_ppo_runs_for_both_variants_with_one_network(memory: EpisodicMemory) -> None:
    models = {mode: tiny_ppo(memory, mode) for mode in ("oracle", "none")}
    counts = {m: sum(p.numel() for p in model.policy.parameters()) for m, model in models.items()}
    assert counts["oracle"] == counts["none"]
    for model in models.values():
        model.learn(64)
        assert model.num_timesteps == 64


def test_checkpoint_round_trip_gives_identical_actions(
    memory: EpisodicMemory, tmp_path: Path
) -> None:
    model = tiny_ppo(memory, "oracle")
    model.learn(64)
    model.save(tmp_path / "model")
    loaded = PPO.load(tmp_path / "model", device="cpu")
    env = wrapped(memory)
    obs = [env.reset(seed=s)[0] for s in range(8)]
    batch = {key: np.stack([o[key] for o in obs]) for key in obs[0]}
    a, _ = model.predict(batch, deterministic=True)
    b, _ = loaded.predict(batch, deterministic=True)
    np.testing.assert_array_equal(a, b)
    for p, q in zip(model.policy.parameters(), loaded.policy.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


# ---------------------------------------------------------------- the protocol adapter


def test_protocol_agent_sees_what_the_pixel_env_shows(memory: EpisodicMemory) -> None:
    from agents.rl.agent import PPOAgent
    from latent_gridworld.core.config import WorldConfig

    spec = EnvSpec(world=WORLD, mode="none")
    agent = PPOAgent(tiny_ppo(memory, "none"), spec, None)
    pixel = wrapped(None, "none")
    ascii_env = gym.make("LatentGridworld/ASCII-v0", **WORLD)
    for seed in range(3):
        expected, _ = pixel.reset(seed=seed)
        obs, info = ascii_env.reset(seed=seed)
        agent.reset_batch([obs], [info])
        got = agent.observation(obs, agent._memory_obs[0])
        assert set(got) == set(expected)
        for key in got:
            np.testing.assert_array_equal(got[key], expected[key])
    with pytest.raises(ValueError, match="size: trained 9 vs evaluated 11"):
        agent.check_world(WorldConfig(**{**WORLD, "size": 11}))
    # v1 shows the maze cue: the adapter passes it on (the extractor embeds it)
    v1 = EnvSpec(world={}, env_id="LatentGridworld/Pixel-v1", tile_size=None, mode="none")
    agent = PPOAgent(tiny_ppo(memory, "none"), v1, None)
    pixel = make_env(v1, None)
    ascii_env = gym.make("LatentGridworld/ASCII-v1")
    for seed in range(3):
        expected, _ = pixel.reset(seed=seed)
        obs, info = ascii_env.reset(seed=seed)
        agent.reset_batch([obs], [info])
        got = agent.observation(obs, agent._memory_obs[0])
        assert set(got) == set(expected) and "maze" in got
        for key in got:
            np.testing.assert_array_equal(got[key], expected[key])


def test_protocol_evaluation_runs_the_bc_protocol(memory: EpisodicMemory) -> None:
    from agents.evaluation import evaluate_agent
    from agents.rl.agent import PPOAgent
    from latent_gridworld.core.config import WorldConfig

    agent = PPOAgent(tiny_ppo(memory, "oracle"), EnvSpec(world=WORLD), memory, seed=0)
    r = evaluate_agent(agent, WorldConfig(**WORLD), "latent", 6, seed=0)
    assert len(r.success) == 6
    assert ((r.efficiency > 0) == r.success).all()


# ---------------------------------------------------------------- evaluation and the script


class _Walker:
    """A policy that always goes north then east: predictable, for protocol checks."""

    def predict(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> tuple:
        return np.zeros(len(obs["goal"]), dtype=np.int64), None


def test_evaluate_counts_every_episode_and_bounds_efficiency(memory: EpisodicMemory) -> None:
    spec = EnvSpec(world=WORLD)
    r = evaluate(_Walker(), spec, memory, "explicit", 10, n_parallel=4)
    assert r["n"] == 10
    assert 0.0 <= r["efficiency"] <= r["success"] <= 1.0
    # the same seeds give the same result (paired protocol)
    assert evaluate(_Walker(), spec, memory, "explicit", 10, n_parallel=3) == r


def test_config_rejects_unknown_choices_and_parses_flags() -> None:
    with pytest.raises(ValueError, match="unknown retrieval 'orcale'; valid: oracle, knn, none"):
        TrainConfig(retrieval="orcale")
    with pytest.raises(
        ValueError, match="unknown memory_fill 'disk'; valid: prefill, online, both"
    ):
        TrainConfig(memory_fill="disk")
    config = parse_args(["--retrieval", "none", "--seed", "3", "--no-progress-bar"])
    assert (config.retrieval, config.seed, config.progress_bar, config.name) == (
        "none",
        3,
        False,
        "none_s3",
    )


def test_presets_and_old_configs_give_their_worlds() -> None:
    v1 = parse_args(["--retrieval", "none"])
    assert (v1.env_id, v1.world, v1.vec_env, v1.total_timesteps) == (
        "LatentGridworld/Pixel-v1",
        {},
        "batched",
        2_000_000,
    )
    assert v1.env_spec.world_config().maze_family == "radial"
    assert (v1.reward_shaping, v1.train_max_steps) == ("distance", 64)
    assert TrainConfig().reward_shaping == "none"  # the field default; the v1 preset shapes
    v0 = parse_args(["--preset", "v0-9x9", "--total-timesteps", "5000"])
    assert v0.env_spec.world_config().size == 9 and v0.total_timesteps == 5000
    assert (v0.tile_size, v0.vec_env, v0.train_max_steps) == (8, "dummy", None)
    assert v0.reward_shaping == "none"
    # a config.json written before presets existed names no env id: it is the v0 world
    old = {f: v for f, v in dataclasses.asdict(v0).items() if f not in ("env_id", "preset")}
    assert TrainConfig.from_json(json.dumps(old)).env_id == "LatentGridworld/Pixel-v0"
    # a v1 config.json written before the maze cue input: its network has no maze embedding
    old_v1 = {f: v for f, v in dataclasses.asdict(v1).items() if f != "maze_input"}
    assert v1.maze_input and not TrainConfig.from_json(json.dumps(old_v1)).maze_input
    assert not v0.maze_input
    # a config.json of the untyped ``extra`` field: empty reloads, world kwargs in it are named
    assert TrainConfig.from_json(json.dumps({**dataclasses.asdict(v1), "extra": {}})) == v1
    with pytest.raises(ValueError, match=r"world kwargs \['room_size'\] through the removed"):
        TrainConfig.from_json(json.dumps({**dataclasses.asdict(v1), "extra": {"room_size": 7}}))
    with pytest.raises(ValueError, match="unknown preset 'v2'; valid: v1, v0-9x9"):
        TrainConfig.from_preset("v2")
    with pytest.raises(ValueError, match="use vec_env='dummy' for knn"):
        TrainConfig(retrieval="knn")


def tiny_config(tmp_path: Path, **overrides: object) -> TrainConfig:
    """A v1 config of 64 steps (2 envs x 32) with one periodic and a final evaluation."""
    tiny: dict[str, object] = {
        "total_timesteps": 64,
        "n_envs": 2,
        "n_steps": 32,
        "batch_size": 32,
        "n_epochs": 1,
        "prefill_episodes": 16,
        "eval_every": 64,
        "eval_episodes": 2,
        "final_eval_episodes": 4,
        "run_dir": str(tmp_path),
        "progress_bar": False,
    }
    return TrainConfig(**{**tiny, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("algo", ["ppo", "recurrent_ppo"])
def test_train_writes_checkpoint_curves_and_results(tmp_path: Path, algo: str) -> None:
    if algo == "recurrent_ppo":
        pytest.importorskip("sb3_contrib")
    config = tiny_config(tmp_path, retrieval="oracle", algo=algo, train_max_steps=30)
    results = train(config)
    out = tmp_path / config.name
    assert (out / "model.zip").exists() and (out / "checkpoint.zip").exists()
    assert any((out / "tb").rglob("events.out.tfevents.*"))
    header = (out / "curves.csv").read_text().splitlines()[0].split(",")
    assert {"timesteps", "latent_success", "explicit_efficiency"} <= set(header)
    saved = json.loads((out / "results.json").read_text())
    for split in ("train", "explicit", "latent", "new_maze", "latent_distractors_only"):
        assert saved[split]["n"] == 4
    timing = results["timing"]
    assert timing["steps"] == 64 and 0 < timing["env_share"] < 1
    assert 0 < timing["retrieval_share"] < 1
    # the checkpoint reloads and plays through the BC benchmark's protocol (LSTM state too)
    from agents.rl.agent import evaluate_run

    protocol = evaluate_run(out, n_tasks=3)
    assert protocol["latent"]["n"] == 3 and protocol["latent_distractors_only"]["n"] == 3
    # the final checkpoint carries a whole-file checksum: one flipped byte is refused by name
    data = (out / "model.zip").read_bytes()
    assert data[-TRAILER_LEN:].startswith(MAGIC)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_run(out)
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    (out / "model.zip").write_bytes(bytes(damaged))
    with pytest.raises(FileFormatError, match=r"model\.zip is corrupted"):
        load_run(out)


# ---------------------------------------------------------------- the batched env


def _pair(
    memory: EpisodicMemory, world: dict[str, object], env_id: str, n: int, **kw: object
) -> tuple[object, DummyVecEnv]:
    from agents.rl.vec_wrapper import VecRetrieval
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    spec = EnvSpec(world=world, env_id=env_id, tile_size=None, **kw)  # type: ignore[arg-type]
    batched = VecRetrieval(
        LatentGridworldSB3VecEnv.from_id(env_id, num_envs=n, **world),
        memory,
        spec.mode,
        requery=spec.requery,
        trim=spec.trim,
    )
    dummy = DummyVecEnv([lambda: make_env(spec, memory) for _ in range(n)])
    return batched, dummy


@pytest.mark.parametrize("world", ["v1", "v1_uniform", "v1_route", "v1_position", "v0_icl"])
def test_batched_retrieval_equals_the_single_env_wrapper(
    memory: EpisodicMemory, world: str
) -> None:
    if world.startswith("v1"):
        env_world: dict[str, object] = {"position_cue": True} if world == "v1_position" else {}
        env_id = "LatentGridworld/Pixel-v1"
        kw = {"trim": world.removeprefix("v1_")} if world in ("v1_uniform", "v1_route") else {}
        if world == "v1_position":
            kw = {"trim": "route"}
        mem = expert_memory(env_world, 48, seed=0, env_id=env_id)
    else:  # ICL episodes announce a second goal: the goal_change re-query
        env_world = {**WORLD, "icl_share": 1.0, "tile_size": 8}
        env_id, kw, mem = "LatentGridworld/Pixel-v0", {"requery": "goal_change"}, memory
    batched, dummy = _pair(mem, env_world, env_id, 3, **kw)
    assert batched.observation_space == dummy.observation_space
    batched.seed(7)
    dummy.seed(7)
    ob, od = batched.reset(), dummy.reset()
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(150):
        for key in od:
            np.testing.assert_array_equal(ob[key], od[key], err_msg=key)
        assert batched.observation_space.contains({k: v[0] for k, v in ob.items()})
        # mostly the expert (goals get reached, ICL goals announced), sometimes a random step
        actions = np.array(
            [
                expert_action(e.unwrapped) if rng.random() < 0.8 else rng.integers(4)
                for e in dummy.envs
            ]
        )
        ob, rb, db, ib = batched.step(actions)
        od, rd, dd, idd = dummy.step(actions)
        np.testing.assert_array_equal(db, dd)
        np.testing.assert_allclose(rb, rd)
        for i in np.flatnonzero(db):
            ends += 1
            for key in od:  # the terminal observation (value bootstrap) carries mem_* too
                np.testing.assert_array_equal(
                    ib[i]["terminal_observation"][key], idd[i]["terminal_observation"][key]
                )
    assert ends > 5
    # one query per reset, plus one per announced second goal with goal_change
    if world.startswith("v1"):
        assert batched.timing()["queries"] == 3 + ends
    else:
        assert batched.timing()["queries"] > 3 + ends


def test_batched_retrieval_observations_share_no_memory(memory: EpisodicMemory) -> None:
    batched, _ = _pair(memory, {**WORLD, "tile_size": 8}, "LatentGridworld/Pixel-v0", 2)
    batched.seed(0)
    first = batched.reset()
    kept = {k: v.copy() for k, v in first.items()}
    second, *_ = batched.step(np.zeros(2, dtype=np.int64))
    for key in MEMORY_KEYS:
        assert not np.shares_memory(first[key], second[key])
        second[key][:] = 1  # editing one observation leaves the other intact
        np.testing.assert_array_equal(first[key], kept[key])


def test_batched_retrieval_rejects_what_it_cannot_serve(memory: EpisodicMemory) -> None:
    from agents.rl.vec_wrapper import VecRetrieval
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    base = LatentGridworldSB3VecEnv.from_id("LatentGridworld/Pixel-v0", 2, **WORLD)
    with pytest.raises(ValueError, match="knn needs the episode so far"):
        VecRetrieval(base, memory, "knn")
    with pytest.raises(ValueError, match="unknown trim 'last'; valid: visible, uniform, route"):
        VecRetrieval(base, memory, trim="last")
    with pytest.raises(ValueError, match="unknown trim 'last'; valid: visible, uniform, route"):
        VecRetrieval(base, memory, trim="last")
    with pytest.raises(ValueError, match="mode 'oracle' needs an EpisodicMemory"):
        VecRetrieval(base, None, "oracle")
    with pytest.raises(ValueError, match="wrap single envs in agents.rl.RetrievalObservation"):
        VecRetrieval(DummyVecEnv([lambda: wrapped(memory)]), memory)  # type: ignore[arg-type]
    v1 = LatentGridworldSB3VecEnv.from_id("LatentGridworld/Pixel-v1", 2)
    with pytest.raises(ValueError, match="memory episodes have 5x5 views but the env observes 3x3"):
        VecRetrieval(v1, memory)


# ---------------------------------------------------------------- reward shaping


def _shaped_v1(n: int = 2, **world: object) -> tuple[object, object]:
    from agents.rl.shaping import VecPotentialShaping
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    base = LatentGridworldSB3VecEnv.from_id("LatentGridworld/Pixel-v1", num_envs=n, **world)
    return base, VecPotentialShaping(base, gamma=0.9, scale=4.0)


def test_shaped_reward_is_the_potential_difference_on_a_scripted_walk() -> None:
    from latent_gridworld.core import world

    base, shaped = _shaped_v1()
    shaped.seed(3)  # type: ignore[attr-defined]
    shaped.reset()  # type: ignore[attr-defined]
    config = base.venv.config  # type: ignore[attr-defined]

    def distance(i: int) -> int:
        info = base.batched_info  # type: ignore[attr-defined]
        maze = world.build_maze(config, int(info["maze"][i]))
        k = maze.object_index(int(info["goal_type"][i]))
        r, c = info["position"][i]
        return int(maze.distances[k, r, c])

    # a fixed action script, not the expert: steps toward, away from and into walls
    script = [0, 1, 2, 3, 3, 0, 0, 2, 1, 1, 3, 2]
    checked = 0
    before = [distance(i) for i in range(2)]
    for a in script:
        _, rewards, dones, infos = shaped.step(np.array([a, (a + 1) % 4]))  # type: ignore[attr-defined]
        after = [distance(i) for i in range(2)]
        for i in range(2):
            if dones[i]:
                continue
            expected = 0.9 * (-after[i] / 4.0) - (-before[i] / 4.0)  # env reward 0: no goal
            assert rewards[i] == pytest.approx(expected, abs=1e-6)
            checked += 1
        before = after
    assert checked > 15
    # a wall bump keeps the cell: the term is (1 - gamma) * d / scale, not 0
    assert any(r > 0 for r in shaped.last_shaping)  # type: ignore[attr-defined]


def test_shaping_terms_telescope_over_each_episode() -> None:
    # a short limit so that both endings occur: goals reached (expert) and truncations
    base, shaped = _shaped_v1(3, max_steps=25)
    shaped.seed(0)  # type: ignore[attr-defined]
    shaped.reset()  # type: ignore[attr-defined]
    info = base.batched_info  # type: ignore[attr-defined]
    phi0 = shaped.potential(  # type: ignore[attr-defined]
        info["maze"], info["goal_type"], info["position"], np.zeros(3, dtype=np.int64)
    )
    steps = np.zeros(3, dtype=np.int64)
    rng = np.random.default_rng(0)
    endings = {True: 0, False: 0}
    env_return = np.zeros(3)
    for _ in range(200):
        # mostly downhill on the distance table (goals get reached), sometimes a random step
        actions = np.array(
            [_downhill(base, i) if rng.random() < 0.7 else rng.integers(4) for i in range(3)]
        )
        _, rewards, dones, infos = shaped.step(actions)  # type: ignore[attr-defined]
        steps += 1
        env_return += rewards - shaped.last_shaping  # type: ignore[attr-defined]
        for i in np.flatnonzero(dones):
            final = infos[i]
            success = bool(final["is_success"])
            if success:
                phi_t = 0.0
            else:
                phi_t = shaped.potential(  # type: ignore[attr-defined]
                    np.array([final["maze"]]),
                    np.array([final["goal_type"]]),
                    np.asarray(final["position"]).reshape(1, 2),
                    np.zeros(1, dtype=np.int64),
                )[0]
            # sum_t gamma^t F_t = gamma^T Phi(s_T) - Phi(s_0)
            assert final["shaping_sum"] == pytest.approx(
                0.9 ** steps[i] * phi_t - phi0[i], abs=1e-5
            )
            assert env_return[i] == pytest.approx(float(success))  # the env's reward untouched
            endings[success] += 1
            steps[i] = 0
            env_return[i] = 0.0
        now = base.batched_info  # type: ignore[attr-defined]
        phi0[dones] = shaped.potential(  # type: ignore[attr-defined]
            now["maze"], now["goal_type"], now["position"], np.zeros(3, dtype=np.int64)
        )[dones]
    assert endings[True] > 3 and endings[False] > 3


def _downhill(base: object, i: int) -> int:
    """The action that most shortens env ``i``'s distance to its goal (a scripted expert)."""
    from latent_gridworld.core import world
    from latent_gridworld.core.constants import ACTION_DELTAS

    info = base.batched_info  # type: ignore[attr-defined]
    maze = world.build_maze(base.venv.config, int(info["maze"][i]))  # type: ignore[attr-defined]
    dist = maze.distances[maze.object_index(int(info["goal_type"][i]))]
    r, c = info["position"][i]
    after = [dist[r + dr, c + dc] for dr, dc in ACTION_DELTAS]
    return int(np.argmin([d if d >= 0 else 10**6 for d in after]))


def test_only_the_training_envs_are_shaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.rl import shaping

    calls = {"init": 0, "steps": 0}
    init, step_wait = shaping.VecPotentialShaping.__init__, shaping.VecPotentialShaping.step_wait

    def counted_init(self: object, *args: object, **kwargs: object) -> None:
        calls["init"] += 1
        init(self, *args, **kwargs)  # type: ignore[arg-type]

    def counted_step(self: object) -> object:
        calls["steps"] += 1
        return step_wait(self)  # type: ignore[arg-type]

    monkeypatch.setattr(shaping.VecPotentialShaping, "__init__", counted_init)
    monkeypatch.setattr(shaping.VecPotentialShaping, "step_wait", counted_step)
    config = tiny_config(tmp_path, retrieval="none", reward_shaping="distance", eval_episodes=3)
    results = train(config)
    # one shaped env (training), stepped once per training step; the periodic and final
    # evaluations (24 episodes of >= 1 step) never went through it
    assert calls == {"init": 1, "steps": 64 // 2}
    assert results["explicit"]["n"] == 4
    model = load_run(tmp_path / config.name)[0]
    assert model.policy.features_extractor.maze_cue
    with pytest.raises(ValueError, match="needs vec_env='batched'"):
        TrainConfig(reward_shaping="distance", vec_env="dummy", retrieval="none")
    with pytest.raises(ValueError, match="unknown reward_shaping 'ng'; valid: none, distance"):
        TrainConfig(reward_shaping="ng")


def test_extractor_embeds_the_maze_cue_only_when_asked() -> None:
    v1 = EnvSpec(world={}, env_id="LatentGridworld/Pixel-v1", tile_size=None, mode="none")
    env = make_env(v1, None)
    space = env.observation_space
    with_cue = RetrievalExtractor(space, maze_cue=True)
    without = RetrievalExtractor(space)
    obs = [env.reset(seed=s)[0] for s in range(6)]
    batch = {k: torch.as_tensor(np.stack([o[k] for o in obs])) for k in obs[0]}
    batch["goal"] = torch.nn.functional.one_hot(batch["goal"].long(), space["goal"].n).float()
    batch["image"] = batch["image"].float() / 255
    batch["maze"] = torch.nn.functional.one_hot(batch["maze"].long(), space["maze"].n).float()
    other = {**batch, "maze": batch["maze"].roll(1, dims=1)}  # every maze id moved by one
    with torch.no_grad():
        assert not torch.allclose(with_cue(batch), with_cue(other))
        torch.testing.assert_close(without(batch), without(other))
    v0 = wrapped(None, "none").observation_space
    with pytest.raises(ValueError, match="maze_cue=True needs a Discrete 'maze' observation"):
        RetrievalExtractor(v0, maze_cue=True)


def test_position_cue_delivers_and_embeds_where_each_retrieved_step_was() -> None:
    from stable_baselines3.common.preprocessing import preprocess_obs

    world = {"position_cue": True}
    spec = EnvSpec(
        world=world, env_id="LatentGridworld/Pixel-v1", tile_size=None, mode="oracle", trim="route"
    )
    memory = expert_memory(world, 32, seed=0, env_id=spec.env_id)
    env = make_env(spec, memory)
    space = env.observation_space
    obs, _ = env.reset(seed=3)
    assert space.contains(obs) and "mem_positions" in obs
    steps = obs["mem_positions"].reshape(-1, 2)[obs["mem_mask"].astype(bool)]
    views = obs["mem_views"].reshape(len(obs["mem_mask"]), -1)[obs["mem_mask"].astype(bool)]
    # each delivered cell is where its view was taken, in some memory episode
    recorded = {
        (tuple(cell), view.tobytes())
        for episode in memory.episodes(np.arange(len(memory)))
        for cell, view in zip(episode.positions, episode.views, strict=True)
    }
    assert len(steps) > 0
    assert all((tuple(c), v.tobytes()) in recorded for c, v in zip(steps, views, strict=True))
    no_cue = EnvSpec(world={}, env_id=spec.env_id, tile_size=None)
    assert "mem_positions" not in make_env(no_cue, memory).observation_space.spaces
    assert not RetrievalExtractor(make_env(no_cue, memory).observation_space).positions
    extractor = RetrievalExtractor(space, maze_cue=True)
    assert extractor.positions
    raw = {k: torch.as_tensor(np.stack([obs[k], obs[k]])) for k in obs}
    batch = preprocess_obs(raw, space)
    moved = preprocess_obs({**raw, "mem_positions": (raw["mem_positions"] + 1) % 21}, space)
    here = preprocess_obs({**raw, "position": (raw["position"] + 1) % 21}, space)
    with torch.no_grad():
        out = extractor(batch)
        assert not torch.allclose(out, extractor(moved))  # where retrieved steps were
        assert not torch.allclose(out, extractor(here))  # where the agent is
