"""``latent-gridworld benchmark``: end to end on the smoke preset, checkpoints, bad input.

Also what a newcomer relies on: the evaluation cache (only new rows are evaluated), results
that are never overwritten silently, live progress lines, the committed tables matching their
stored results, and the README's SB3 snippet.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from agents.cli import main as cli_main
from agents.experiments.arguments import build_parser
from agents.experiments.cli import main
from agents.experiments.jobs import SPLITS, RowKey, RowOutcome
from agents.experiments.presets import PRESETS
from agents.experiments.report import check_result_tables, format_table, render_results
from agents.experiments.results import aggregate
from agents.protocol import load_factory

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
    "ref:frontier",
    "ref:placement_informed",
    "ref:told_cell",
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
        (
            ["--preset", "huge"],
            "unknown preset 'huge'; valid: default, demo, v0-default, v0-first-recipe, v0-demo, "
            "smoke",
        ),
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
    """What the docs promise a third-party agent file: load it, build it, evaluate it, twice."""
    from agents.evaluation import evaluate_agent
    from agents.protocol import Agent, AgentContext
    from latent_gridworld.core.config import WorldConfig

    factory = load_factory(EXAMPLE)
    world = WorldConfig(size=9, n_mazes=8)
    agent = factory(AgentContext(world, None, seed=0))
    assert isinstance(agent, Agent)
    first = evaluate_agent(agent, world, "latent", 8, seed=0)
    again = evaluate_agent(factory(AgentContext(world, None, seed=0)), world, "latent", 8, seed=0)
    assert len(first.success) == 8 and (first.steps >= first.optimal).all()
    for name in ("success", "steps", "trivial"):  # its own randomness follows context.seed
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name), err_msg=name)


def test_aggregate_over_seeds_and_the_trivial_split():
    key = RowKey("a", "latent")
    per_seed = {  # outcomes stored without steps (results of older runs): no tight column
        0: {
            key: RowOutcome((True, False, False, True), (1, 0, 0, 0.5), (True, False, False, False))
        },
        1: {key: RowOutcome((True, True, False, False), (1, 1, 0, 0), (True, False, False, False))},
    }
    row = aggregate(per_seed)[key]
    assert row.success == pytest.approx(0.5)
    assert row.success_ci == pytest.approx(0.0)  # both seeds at 0.5
    assert row.success_trivial == pytest.approx(1.0)
    assert row.success_nontrivial == pytest.approx(1 / 3)
    assert row.per_seed_success == (0.5, 0.5)
    assert np.isnan(row.success_tight)
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
    from agents.evaluation import evaluate_agent
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


def test_told_cell_reference_takes_the_experts_actions_step_for_step():
    from agents.evaluation import make_env
    from agents.protocol import AgentContext
    from agents.reference import reference_factory
    from latent_gridworld.core.config import WorldConfig
    from latent_gridworld.expert import expert_action

    # the ceiling row is the expert the agents imitate, step for step (its one move rule)
    world = WorldConfig(size=9, n_mazes=8)
    env = make_env(world, "latent")
    policy = reference_factory("told_cell")(AgentContext(world, None, 0))
    steps = 0
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        policy.reset(obs, info)
        done = False
        while not done:
            action = policy.act(obs, info)
            assert action == expert_action(env)
            obs, _, terminated, truncated, info = env.step(action)
            done, steps = terminated or truncated, steps + 1
        assert info["is_success"]
    assert steps > 20


def test_search_reference_heads_for_the_nearest_unvisited_cell_until_it_sees_the_goal():
    import numpy as np

    from agents.evaluation import make_env
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


# ------------------------------------------------------------------------------------------
# what a newcomer relies on (issue 19)

ROOT = Path(__file__).resolve().parent.parent
OUTCOME = RowOutcome(
    success=(True, False),
    efficiency=(1.0, 0.0),
    trivial=(False, False),
    steps=(3, 9),
    optimal=(3, 4),
)


def _copy_run(smoke_run, tmp_path: Path) -> Path:
    """A private copy of the smoke run's folder (its checkpoints, evaluations and results)."""
    _, out = smoke_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    for extra in copy.glob("results-*"):  # written by the other tests
        extra.unlink()
    return copy


def test_table_columns_fit_the_longest_agent_name():
    name = "third_party_agent.py:make_agent"
    table = aggregate({0: {RowKey(name, "latent"): OUTCOME, RowKey("baseline", "latent"): OUTCOME}})
    lines = format_table(table, ["latent"]).splitlines()
    assert lines[0].startswith("agent" + " " * (len(name) - 3) + "split")
    assert lines[1].startswith(f"{name}  latent  ")
    assert lines[2].startswith("baseline" + " " * (len(name) + 2 - len("baseline")) + "latent")
    # short names keep the layout of the committed tables (agent column 24, split column 10)
    short = format_table(aggregate({0: {RowKey("baseline", "latent"): OUTCOME}}), ["latent"])
    short = short.splitlines()
    assert short[1].startswith("baseline" + " " * 16 + "latent" + " " * 4 + "   0.500 ± ")


def test_a_run_with_other_rows_never_overwrites_the_results(smoke_run, tmp_path, capsys):
    out = _copy_run(smoke_run, tmp_path)
    before = {n: (out / n).read_bytes() for n in ("results.json", "results.txt", "results.png")}
    argv = ["--preset", "smoke", "--jobs", "1", "--out", str(out), "--agent", EXAMPLE]
    assert main([*argv, "--splits", "latent"]) == 0
    printed = capsys.readouterr().out
    assert (
        f"{out / 'results.json'} holds another run (rows: 0 it lacks, 36 this run lacks): this "
        f"run writes {out / 'results-1'}.{{json,txt,png}} beside it (--force overwrites "
        "results.json instead)"
    ) in printed
    assert f"wrote {out / 'results-1'}.json, results-1.txt, results-1.png" in printed
    assert {n: (out / n).read_bytes() for n in before} == before
    new = json.loads((out / "results-1.json").read_text())
    assert set(new["table"]) == {f"{a}|latent" for a in AGENTS}
    # the same run again rewrites its own file instead of starting a third one
    assert main([*argv, "--splits", "latent"]) == 0
    assert "holds another run" in capsys.readouterr().out
    assert not (out / "results-2.json").exists()
    # --force is the way to overwrite results.json, and it says so
    assert main([*argv, "--splits", "latent", "--force"]) == 0
    assert f"--force: overwriting {out / 'results.json'}" in capsys.readouterr().out
    assert set(json.loads((out / "results.json").read_text())["table"]) == set(new["table"])


def test_adding_an_agent_evaluates_only_its_rows(smoke_run, tmp_path, capsys):
    out = _copy_run(smoke_run, tmp_path)
    second = tmp_path / "second_agent.py"
    second.write_text(
        "from agents.reference import reference_factory\n\n\n"
        "def make_agent(context):\n"
        "    return reference_factory('random')(context)\n"
    )
    argv = ["--preset", "smoke", "--jobs", "1", "--out", str(out), "--agent", EXAMPLE]
    argv += ["--agent", f"{second}:make_agent", "--no-plot"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert (
        "evaluating 4 of 52 agent x split rows (1 seed(s), 8 tasks each); 48 reused from "
        f"{out}/eval_s<seed>.json ..."
    ) in printed
    old = json.loads((out / "results.json").read_text())["per_seed"]["0"]
    new = json.loads((out / "results-1.json").read_text())["per_seed"]["0"]
    assert {k: new[k] for k in old} == old
    # a real evaluation: the same policy and seed as ref:random, the same outcomes
    assert new["second_agent.py:make_agent|latent"] == new["ref:random|latent"]
    # an edited agent file is evaluated again; nothing else is
    second.write_text(second.read_text() + "# edited\n")
    assert main(argv) == 0
    assert "evaluating 4 of 52 agent x split rows" in capsys.readouterr().out


def test_a_row_evaluated_alone_equals_the_same_row_of_a_full_run(smoke_run, tmp_path):
    out = _copy_run(smoke_run, tmp_path)
    argv = ["--preset", "smoke", "--jobs", "1", "--out", str(out), "--agent", EXAMPLE]
    assert main([*argv, "--splits", "latent", "--reevaluate", "--quiet", "--no-plot"]) == 0
    full = json.loads((out / "results.json").read_text())["per_seed"]["0"]
    alone = json.loads((out / "results-1.json").read_text())["per_seed"]["0"]
    assert alone == {k: v for k, v in full.items() if k.endswith("|latent")}


@pytest.mark.slow
def test_jobs_in_worker_processes_report_progress_while_they_run(tmp_path, capsys):
    out = tmp_path / "progress"
    argv = ["--preset", "smoke", "--jobs", "2", "--out", str(out), "--splits", "latent"]
    assert main([*argv, "--progress-every", "0.2", "--no-plot"]) == 0
    printed = capsys.readouterr().out
    stamp = r"^  \[\d+:\d\d\] "
    for agent in ("baseline", "retrieval"):  # each in its own spawned process
        assert re.search(stamp + agent + r" s0: (setup|generate train|train)", printed, re.M)
    assert re.search(stamp + r"eval s0: (setup|evaluate|memory probe)", printed, re.M)
    assert "training 2 agent(s) (30 steps each, 2 jobs); preset smoke: about 30 s" in printed


def test_a_tqdm_bar_in_a_job_becomes_status_lines(tmp_path):
    from tqdm import tqdm

    from agents.progress import Monitor, StatusWriter, TqdmToStatus, read_status

    path = tmp_path / "baseline.json"
    passthrough = io.StringIO()
    writer = StatusWriter(path, "baseline s0", min_interval=0)
    stream = TqdmToStatus(writer, passthrough, train_desc="baseline s0")
    bar = tqdm(range(40), desc="baseline s0", file=stream, mininterval=0)
    for step in bar:
        if step == 10:
            bar.set_postfix(loss="1.234")
        if step == 20:
            break
    stream.write("UserWarning: other output passes through\n")
    status = read_status(path)
    assert status is not None
    assert status.line().startswith("baseline s0: train 20/40 (50%), loss 1.234, ETA ")
    assert passthrough.getvalue() == "UserWarning: other output passes through\n"
    monitor = Monitor({"baseline s0": path, "retrieval s0": tmp_path / "none.json"}, print)
    (line,) = monitor.lines()
    assert re.fullmatch(
        r"  \[0:0\d\] baseline s0: train 20/40 \(50%\), loss 1\.234, ETA \d:\d\d  \(1 waiting\)",
        line,
    )
    writer.done()
    assert monitor.lines()[0].endswith("] 1 waiting, 1 done ...")


def test_help_names_the_default_preset_and_how_long_each_takes(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    default = "Without --preset it runs the 'default' preset, the full experiment (about 40 min"
    assert default in text
    for name, preset in PRESETS.items():
        assert f"{name} {len(preset.seeds)} seed" in text
        assert " ".join(preset.duration.split()) in text
    assert "demo 1 seed x 8,000 steps x 100 tasks/split: 540 s measured" in text


def test_committed_tables_are_what_the_code_makes_of_their_stored_results():
    status = check_result_tables(ROOT / "docs" / "result_tables")
    assert status["demo"] == "ok"
    assert {name: s for name, s in status.items() if s not in ("ok", "no stored results")} == {}


def test_check_result_tables_finds_a_table_that_drifted(smoke_run, tmp_path):
    _, out = smoke_run
    shutil.copy(out / "results.json", tmp_path / "smoke.json")
    (tmp_path / "old.txt").write_text("a table whose results.json was not kept\n")
    assert check_result_tables(tmp_path) == {"smoke": "missing", "old": "no stored results"}
    assert check_result_tables(tmp_path, write=True)["smoke"] == "written"
    # results.txt is the same rendering of results.json
    assert (tmp_path / "smoke.txt").read_text() == (out / "results.txt").read_text()
    assert render_results(json.loads((out / "results.json").read_text())).startswith(
        "smoke: 1 seed(s), 30 steps, 8 tasks/split, world {"
    )
    drifted = (tmp_path / "smoke.txt").read_text().replace("±", "+-", 1)
    (tmp_path / "smoke.txt").write_text(drifted)
    assert check_result_tables(tmp_path)["smoke"] == "differs"


def test_readme_sb3_snippet_runs_and_its_sizes_fit_its_step_count(monkeypatch):
    from stable_baselines3 import PPO

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (code,) = [b for b in blocks if "LatentGridworldSB3VecEnv" in b]
    calls = []
    learn = PPO.learn

    def one_rollout(self, total_timesteps, **kwargs):
        calls.append((self.n_steps, self.n_envs, self.batch_size, total_timesteps, kwargs))
        return learn(self, total_timesteps=self.n_steps * self.n_envs, **kwargs)

    monkeypatch.setattr(PPO, "learn", one_rollout)
    exec(compile(code, "README.md", "exec"), {})
    ((n_steps, n_envs, batch_size, total, kwargs),) = calls
    assert kwargs.get("progress_bar") is True  # SB3 raises here if tqdm or rich is missing
    rollout = n_steps * n_envs
    assert rollout % batch_size == 0
    # a handful of rollouts: SB3's default n_steps=2048 x 64 envs ran 53 min for learn(10_000)
    assert 5 <= total / rollout <= 20
