"""Ray: RLlib PPO on the registered envs, evaluation sweeps as Ray tasks, memory on workers.

One local Ray instance (2 CPUs, no dashboard) serves the whole module and is shut down at the
end. Everything skips, with the reason, when the ``ray`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import latent_gridworld  # noqa: F401 - registers the env ids
from agents import distributed
from latent_gridworld.core.constants import ASCII_TO_CODE

RAY_REASON = "the 'ray' extra is not installed (pip install 'latent-gridworld[ray]')"
# one Ray instance for the module: with `pytest -n 2 --dist loadgroup` all of it runs in one
# worker (plain `-n 2` may split it and start a second instance in the other worker)
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def ray_mod() -> Any:
    return pytest.importorskip("ray", reason=RAY_REASON)


@pytest.fixture(scope="module")
def local_ray(ray_mod: Any) -> Iterator[Any]:
    """A local Ray instance with 2 CPUs; shut down after the module's tests."""
    started_here = not ray_mod.is_initialized()
    if started_here:
        ray_mod.init(
            address="local",  # never join a cluster that happens to run on this machine
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    yield ray_mod
    if started_here:
        ray_mod.shutdown()


# ---------------------------------------------------------------------------------- RLlib


@pytest.mark.parametrize("env_id", distributed.ENV_IDS)
def test_rllib_observation_is_a_box_the_default_encoders_take(env_id: str) -> None:
    env = distributed.make_rllib_env(env_id, {"size": 9, "n_mazes": 8})
    raw_env = env.unwrapped
    obs, _ = env.reset(seed=3)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    goal = raw_env.state.goal  # type: ignore[attr-defined]
    n_goals = raw_env.config.n_object_types  # type: ignore[attr-defined]
    raw = raw_env._observation()  # type: ignore[attr-defined]
    if env_id.startswith("LatentGridworld/Pixel"):
        # image scaled to [0, 1], then one constant plane per goal type, 1 at the goal
        np.testing.assert_array_equal(obs[..., :3], raw["image"] / np.float32(255))
        planes = obs[..., 3:]
        assert planes.shape[-1] == n_goals
        np.testing.assert_array_equal(planes.sum(axis=-1), 1.0)
        assert (planes[..., goal] == 1.0).all()
    else:
        cells = obs[:-n_goals].reshape(25, -1)
        np.testing.assert_array_equal(cells.sum(axis=1), 1.0)  # one code per cell
        codes = ASCII_TO_CODE[raw["view"]]
        np.testing.assert_array_equal(cells.argmax(axis=1), codes)
        np.testing.assert_array_equal(np.flatnonzero(obs[-n_goals:]), [goal])


def test_rllib_observation_encodes_cues_and_rejects_other_envs() -> None:
    env = distributed.make_rllib_env("LatentGridworld/ASCII-v0", {"size": 9, "position_cue": True})
    # 25 cells x 29 codes, 8 goals, 9 rows + 9 columns
    assert env.observation_space.shape == (25 * 29 + 8 + 9 + 9,)
    obs, info = env.reset(seed=0)
    row, col = info["position"]
    tail = obs[-18:]
    np.testing.assert_array_equal(np.flatnonzero(tail), [row, 9 + col])
    with pytest.raises(ValueError, match="unknown env id 'CartPole-v1'"):
        distributed.make_rllib_env("CartPole-v1")
    with pytest.raises(ValueError, match="wraps a LatentGridworld env"):
        distributed.RLlibObservation(gym.make("CartPole-v1"))


@pytest.mark.parametrize("env_id", distributed.ENV_IDS)
def test_one_ppo_iteration_on_each_registered_env(local_ray: Any, env_id: str) -> None:
    config = distributed.ppo_config(
        env_id,
        {"size": 9, "n_mazes": 8},
        num_env_runners=1,
        train_batch_size=64,
        minibatch_size=32,
        num_epochs=1,
        fcnet_hiddens=(32,),
        conv_filters=[[8, 3, 2], [8, 3, 2], [8, 3, 2]],
        seed=0,
    )
    algo = config.build_algo()
    try:
        # sampling happens in an env-runner actor, a process other than this one
        pids = algo.env_runner_group.foreach_env_runner(
            lambda runner: os.getpid(), local_env_runner=False
        )
        assert len(pids) == 1 and pids[0] != os.getpid()
        module = algo.get_module()
        before = {k: v.detach().clone() for k, v in module.state_dict().items()}
        result = algo.train()
        after = module.state_dict()
        assert result["training_iteration"] == 1
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 64
        learner = result["learners"]["default_policy"]
        assert np.isfinite(learner["total_loss"])
        assert learner["num_module_steps_trained"] >= 64
        assert any(not np.array_equal(before[k], after[k]) for k in before), "no weight changed"
        # the default encoders: a CNN for pixels, an MLP for ASCII
        encoders = {type(m).__name__ for m in module.encoder.modules()}
        expected = "TorchCNNEncoder" if "Pixel" in env_id else "TorchMLPEncoder"
        assert expected in encoders, encoders
    finally:
        algo.stop()


def test_ppo_config_rejects_unknown_env_and_bad_sizes(ray_mod: Any) -> None:
    with pytest.raises(ValueError, match="unknown env id 'Pixel'"):
        distributed.ppo_config("Pixel")
    with pytest.raises(ValueError, match="train_batch_size"):
        distributed.ppo_config(train_batch_size=0)


# ---------------------------------------------------------------------------------- addresses


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_address_fails_fast_with_a_clear_error(ray_mod: Any) -> None:
    port = _free_port()  # closed again: connecting is refused
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"cannot reach a Ray cluster at 127.0.0.1:{port}"):
        distributed.check_ray_address(f"127.0.0.1:{port}", timeout_s=5)
    assert time.monotonic() - start < 5


def test_address_that_is_not_ray_fails_within_the_timeout(ray_mod: Any) -> None:
    # a TCP port that accepts connections but speaks no Ray: ray.init alone would hang for minutes
    with socket.socket() as server:
        server.bind(("0.0.0.0", 0))
        server.listen(8)
        port = server.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(ConnectionError, match=r"no Ray cluster answered .* within 4 s"):
            distributed.check_ray_address(f"127.0.0.1:{port}", timeout_s=4)
        assert time.monotonic() - start < 10


def test_malformed_address_names_the_valid_forms(ray_mod: Any) -> None:
    with pytest.raises(ValueError, match="valid: 'HOST:PORT'"):
        distributed.check_ray_address("no-port-here", timeout_s=1)


def test_without_ray_every_entry_point_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    hint = r"pip install 'latent-gridworld\[ray\]'"
    with pytest.raises(ImportError, match=hint):
        distributed.require_ray()
    with pytest.raises(ImportError, match=hint):
        distributed.connect_ray("127.0.0.1:6379")
    with pytest.raises(ImportError, match=hint), distributed.RayExecutor():
        pass


# ---------------------------------------------------------------------------------- sweeps

GRID = [
    distributed.EvalCell(agent, split, seed, n_tasks=6, world=world)
    for world in ({"size": 9}, {"size": 9, "full_view": True})  # an ablation axis
    for agent in ("random", "wander_then_path")
    for split in ("explicit", "latent")
    for seed in (0, 1)
]


def test_grid_on_ray_equals_the_local_run(local_ray: Any) -> None:
    local = distributed.run_grid(GRID)
    with distributed.RayExecutor(initializer=distributed._one_thread) as pool:
        remote = distributed.run_grid(GRID, pool)
        assert local_ray.is_initialized()  # the fixture's instance, reused and left running
    assert remote == local
    # the cells differ from each other (the comparison is not vacuous)
    assert len({str(r) for r in local}) > len(GRID) // 2
    # the full-view ablation makes "wander until seen" succeed on every latent task
    full_view = [
        r for c, r in zip(GRID, local) if c.world.get("full_view") and c.agent == "wander_then_path"
    ]
    assert all(all(r["success"]) for r in full_view)


def test_a_failing_cell_raises_its_own_error(local_ray: Any) -> None:
    bad = distributed.EvalCell("no_such_policy.py:make", "train", 0, n_tasks=1)
    with distributed.RayExecutor() as pool:
        future = pool.submit(distributed.evaluate_cell, bad)
        with pytest.raises(FileNotFoundError):
            future.result()


# ---------------------------------------------------------------------------------- memory


@pytest.fixture(scope="module")
def memory() -> Any:
    pytest.importorskip("agents.memory", reason="the 'agents' extra (faiss) is not installed")
    from agents.memory import EpisodicMemory
    from latent_gridworld.datasets import generate_dataset

    mem = EpisodicMemory(n_object_types=8)
    mem.extend(generate_dataset(episodes=60, seed=0, size=9, n_mazes=8))
    return mem


@pytest.mark.parametrize("route", ["object_store", "file"])
def test_memory_built_here_reaches_workers_intact(
    local_ray: Any, memory: Any, route: str, tmp_path: Any
) -> None:
    path = str(tmp_path / "memory.npz") if route == "file" else None
    handle = distributed.share_memory(memory, path=path)

    # defined here so that Ray ships it by value (workers cannot import this test module)
    def _what_a_worker_sees(handle: distributed.MemoryHandle) -> dict[str, Any]:
        memory = handle.get()
        scores, ids = memory.search(memory.keys[:10], k=5)
        first = memory[0]
        return {
            "pid": os.getpid(),
            "len": len(memory),
            "ids": ids.tolist(),
            "relevant": memory.relevant_ids(first.maze, int(first.goal_sequence[0])).tolist(),
            "cached": handle.get() is memory,
            "last_views": memory[59].views.tolist(),
        }

    task = local_ray.remote(num_cpus=1)(_what_a_worker_sees)
    seen = local_ray.get(task.remote(handle))
    _, ids = memory.search(memory.keys[:10], k=5)
    first = memory[0]
    assert seen["pid"] != os.getpid()
    assert seen["len"] == len(memory) == 60
    assert seen["ids"] == ids.tolist()
    assert seen["relevant"] == memory.relevant_ids(first.maze, int(first.goal_sequence[0])).tolist()
    assert seen["cached"]
    assert seen["last_views"] == memory[59].views.tolist()  # episode content, not just ids


def test_memory_handle_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        distributed.MemoryHandle()


# ---------------------------------------------------------------------------------- benchmark

BENCH_ARGS = [
    "--preset", "smoke", "--seeds", "0", "1", "--steps", "10", "--eval-tasks", "4",
    "--splits", "latent", "new_maze", "--no-plot", "--quiet",
]  # fmt: skip


def test_benchmark_on_ray_writes_the_same_results_as_a_local_run(
    local_ray: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="the 'agents' extra is not installed")
    from agents.experiments import cli as benchmark

    assert benchmark.main([*BENCH_ARGS, "--jobs", "1", "--out", str(tmp_path / "local")]) == 0
    assert benchmark.main([*BENCH_ARGS, "--ray", "--out", str(tmp_path / "ray")]) == 0
    local = json.loads((tmp_path / "local" / "results.json").read_text())
    remote = json.loads((tmp_path / "ray" / "results.json").read_text())
    assert remote["per_seed"] == local["per_seed"]  # every task's outcome, every agent and seed
    assert remote["table"] == local["table"]
    assert {k: v["final_loss"] for k, v in remote["train_stats"].items()} == {
        k: v["final_loss"] for k, v in local["train_stats"].items()
    }
    assert sorted(local["per_seed"]) == ["0", "1"]
    assert (tmp_path / "ray" / "results.txt").read_text() == (
        tmp_path / "local" / "results.txt"
    ).read_text()


def test_benchmark_without_ray_names_the_extra_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="the 'agents' extra is not installed")
    from agents.experiments import cli as benchmark

    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "out"
    assert benchmark.main([*BENCH_ARGS, "--ray", "--out", str(out)]) == 2
    assert "pip install 'latent-gridworld[ray]'" in capsys.readouterr().err
    assert not out.exists()


def test_benchmark_with_an_unreachable_address_fails_fast_and_writes_nothing(
    ray_mod: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="the 'agents' extra is not installed")
    from agents.experiments import cli as benchmark

    out = tmp_path / "out"
    start = time.monotonic()
    code = benchmark.main([*BENCH_ARGS, "--ray", f"127.0.0.1:{_free_port()}", "--out", str(out)])
    assert code == 2 and time.monotonic() - start < 30
    assert "cannot reach a Ray cluster at 127.0.0.1" in capsys.readouterr().err
    assert not out.exists()
