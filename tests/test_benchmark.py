"""``latent-gridworld benchmark``: end to end on the smoke preset, checkpoints, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.benchmark import SPLITS, aggregate, format_table, main
from agents.protocol import load_factory
from latent_gridworld.cli import main as cli_main

EXAMPLE = "examples/third_party_agent.py:make_agent"
AGENTS = {
    "baseline",
    "retrieval",
    "retrieval-distractors",
    "retrieval-knn@test",
    "ref:random",
    "ref:visible_at_start",
    "ref:wander_then_path",
    "ref:search_then_path",
    "third_party_agent.py:make_agent",
}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "smoke"
    code = main(
        ["--preset", "smoke", "--jobs", "1", "--out", str(out), "--quiet", "--agent", EXAMPLE]
    )
    return code, out


def test_smoke_benchmark_writes_the_table_json_and_plot(smoke_run):
    code, out = smoke_run
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["table"]) == {f"{a}|{s}" for a in AGENTS for s in SPLITS}
    row = results["table"]["baseline|latent"]
    tasks = results["per_seed"]["0"]["baseline|latent"]
    assert row["success"] == pytest.approx(np.mean(tasks["success"]))
    assert row["tasks_per_seed"] == 8
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "baseline_s0" / "model.pt").exists() and (
        out / "retrieval_s0" / "model.pt"
    ).exists()
    assert results["train_stats"]["retrieval_s0"]["steps"] == 30
    # the same tasks for every agent: the expert-free references see identical trivial flags
    assert tasks["trivial"] == results["per_seed"]["0"]["ref:random|latent"]["trivial"]


def test_second_run_loads_the_checkpoints_instead_of_training(smoke_run, capsys):
    _, out = smoke_run
    before = (out / "retrieval_s0" / "model.pt").stat().st_mtime_ns
    assert main(["--preset", "smoke", "--jobs", "1", "--out", str(out), "--splits", "latent"]) == 0
    printed = capsys.readouterr().out
    assert "training" not in printed
    assert (out / "retrieval_s0" / "model.pt").stat().st_mtime_ns == before


def test_checkpoint_of_another_config_is_an_error_before_training(smoke_run, capsys):
    _, out = smoke_run
    code = main(["--preset", "smoke", "--jobs", "1", "--out", str(out), "--n-distractors", "1"])
    assert code == 2
    assert "trained with another config: n_distractors: checkpoint 2 vs requested 1" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "huge"], "unknown preset 'huge'; valid: default, default-v1, demo, smoke"),
        (["--retrieval", "bm25"], "unknown retrieval mode 'bm25'; valid: oracle, knn"),
        (["--splits", "test"], "unknown split(s) ['test']"),
        (["--bc-agents", "lstm"], "unknown BC agent(s) ['lstm']; valid: baseline, retrieval"),
        (["--agent", "no_colon"], "must be 'path/to/file.py:factory' or 'module:factory'"),
        (["--agent", "missing.py:make"], "agent file not found: missing.py"),
        (["--agent", "examples/third_party_agent.py:nope"], "has no callable 'nope'"),
        (["--set", "learning_rate=0.1"], "--set expects KEY=JSON with KEY one of"),
        (["--set", "lr=fast"], "--set lr: 'fast' is not valid JSON"),
        (["--set", 'stream={"moved_shares": 1}'], "unknown stream option(s) ['moved_shares']"),
    ],
)
def test_bad_input_fails_before_anything_runs(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert cli_main(["benchmark", "--preset", "smoke", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_example_agent_follows_the_protocol():
    factory = load_factory(EXAMPLE)
    assert factory.__name__ == "make_agent"


def test_aggregate_over_seeds_and_the_trivial_split():
    per_seed = {
        0: {
            "a|latent": {
                "success": [1, 0, 0, 1],
                "efficiency": [1, 0, 0, 0.5],
                "trivial": [1, 0, 0, 0],
            }
        },
        1: {
            "a|latent": {
                "success": [1, 1, 0, 0],
                "efficiency": [1, 1, 0, 0],
                "trivial": [1, 0, 0, 0],
            }
        },
    }
    row = aggregate(per_seed)["a|latent"]
    assert row["success"] == pytest.approx(0.5)
    assert row["success_ci"] == pytest.approx(0.0)  # both seeds at 0.5
    assert row["success_trivial"] == pytest.approx(1.0)
    assert row["success_nontrivial"] == pytest.approx(1 / 3)
    assert row["per_seed_success"] == [0.5, 0.5]
    assert "0.500 ± 0.000" in format_table(aggregate(per_seed), ["latent"])


def _steps_to_nearest(walls, start, targets) -> int:
    """Breadth-first steps from ``start`` to the nearest cell of ``targets``."""
    from collections import deque

    seen, queue = {start: 0}, deque([start])
    while queue:
        cell = queue.popleft()
        if cell in targets:
            return seen[cell]
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            nxt = (cell[0] + dr, cell[1] + dc)
            if not walls[nxt] and nxt not in seen:
                seen[nxt] = seen[cell] + 1
                queue.append(nxt)
    return -1


def test_reference_policies_rank_as_their_knowledge_does():
    from agents.bc.evaluate import evaluate_agent
    from agents.protocol import AgentContext
    from agents.reference import reference_factory
    from latent_gridworld.core.config import WorldConfig

    # the v0 protocol's budget (2 x shortest + 4), now the env's own
    world = WorldConfig(size=9, n_mazes=8, budget_scale=2.0, budget_offset=4)
    rates = {
        mode: evaluate_agent(
            reference_factory(mode)(AgentContext(world, None, 0)), world, "latent", 80, seed=3
        ).success_rate
        for mode in ("random", "wander_then_path", "search_then_path", "expert")
    }
    # knowing the layout makes search systematic: it beats a random walk until seen
    assert rates["random"] <= rates["wander_then_path"] < rates["search_then_path"] < 1.0
    assert rates["expert"] == 1.0


def test_search_reference_heads_for_the_nearest_unvisited_cell_until_it_sees_the_goal():
    import numpy as np

    from agents.bc.evaluate import make_env
    from agents.protocol import AgentContext
    from agents.reference import reference_factory
    from latent_gridworld.core.config import WorldConfig

    world = WorldConfig(size=9, n_mazes=8)
    env = make_env(world, "latent")
    policy = reference_factory("search_then_path")(AgentContext(world, None, 0))
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        walls = env.unwrapped.state.maze.walls
        unvisited = {(int(r), int(c)) for r, c in np.argwhere(~walls)}
        here, done = tuple(int(x) for x in info["position"]), False
        unvisited.discard(here)
        while not done:
            searching = not info["seen_objects"][info["goal_type"]]
            before = _steps_to_nearest(walls, here, unvisited)
            obs, _, done, _, info = env.step(policy.act(obs, info))
            here = tuple(int(x) for x in info["position"])
            if searching and unvisited:
                assert _steps_to_nearest(walls, here, unvisited) == before - 1
            unvisited.discard(here)
        assert here == tuple(env.unwrapped.state.goal_cell)
