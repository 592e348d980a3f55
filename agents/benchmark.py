"""``latent-gridworld benchmark``: train (or load) the paired BC agents, evaluate, report.

For every seed it trains the baseline and the retrieval agent with one config (they differ only
in the memory), then runs closed-loop episodes in the ASCII env on ``train``, ``explicit``,
``latent`` and ``new_maze``, for:

* ``baseline`` and ``retrieval`` (the pair),
* ``retrieval-distractors``: the retrieval agent given distractors only (same k), the control
  that shows whether it uses what it retrieves,
* ``retrieval-knn@test``: the oracle-trained retrieval agent with ``knn`` retrieval at test
  time (how much it depends on retrieval precision),
* the scripted reference policies (:mod:`agents.reference`),
* any third-party agent given with ``--agent path/to/file.py:factory``
  (:mod:`agents.protocol`).

It prints an agent x split table (success and path efficiency, mean over seeds with a 95%
t-interval, or a binomial interval over tasks for one seed; latent success split into trivial
tasks, where the goal is in view at the start, and the rest), and writes ``results.json`` and
``results.png`` to ``--out``. Checkpoints found in ``--out`` (or ``--checkpoints``) are loaded
instead of retrained when their config matches; a mismatch is an error before any training.

    latent-gridworld benchmark --preset demo
    latent-gridworld benchmark --preset default --seeds 0 1 2 --out runs/default
    latent-gridworld benchmark --preset default --full-view --out runs/full_view

Why one module of this size: it is the experiment driver (presets, configs, jobs, the
evaluation cache, the report), and its parts pass results to each other as string-keyed dicts
and tuples. Its seams are known (``agents/experiments/{presets, jobs, results, report}``); the
split goes with typed job results, so that it moves typed values, not dict conventions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.reference import ReferencePolicy
from latent_gridworld.registration import WORLD_V1

SPLITS = ("train", "explicit", "latent", "new_maze")
# the memoryless floor (the strongest searchers) and the told-cell ceiling: a latent number is
# read against them, measured on the same tasks in the same run
REFERENCES = ReferencePolicy.TABLE_MODES
TIGHT_SLACK = 4  # the tight success budget: shortest path + 4 steps


@dataclass
class Preset:
    """Sizes of one benchmark run.

    Attributes:
        seeds: Training seeds (one baseline and one retrieval agent each).
        steps: Gradient steps per agent (both agents get the same number).
        eval_tasks: Closed-loop tasks per split, agent and seed.
        pool_episodes: Expert episodes in each seed's pool dataset (and memory).
        eval_every: Steps between the closed-loop evaluations logged to TensorBoard.
        train: Other :class:`~agents.bc.train.TrainConfig` fields.
        duration: How long the preset takes on 2 cores, and where that number comes from
            (``--help`` and the run's first line say it, so nobody starts hours by accident).
    """

    seeds: list[int]
    steps: int
    eval_tasks: int
    pool_episodes: int = 4000
    eval_every: int = 1000
    train: dict[str, Any] = field(default_factory=dict)
    duration: str = ""


# The recipe of docs/results.md section 10: the goal-location loss, object-location tokens in
# every step row, and an oracle whose relevant episode passed the goal on the way to another
# goal, trimmed to the steps that show it (the retrieval settings do not touch the baseline).
RECIPE: dict[str, Any] = {
    "aux_goal_weight": 1.0,
    "object_slots": 2,
    "memory_trim": "goal",
    "relevant_goal": "other",
}
# the world-v1 recipe (docs/results.md, world v1): the v0 recipe's knobs, measured again there,
# with retrieved episodes cut to the walk around the goal's sighting (``route``): v1's one
# decision is which hub exit leads to the goal's arm, and the walk out of that arm shows it
# (seed 0, 200 latent tasks: 0.525 with ``route``; 0.30 with ``goal`` on the demo's 100 tasks)
V1_RECIPE: dict[str, Any] = {**RECIPE, "memory_trim": "route"}
# 8,000 steps: at 2,500 the retrieval agent did not yet read its memory in v1 (latent 0.06, as
# with distractors only); at 8,000 it did (0.30 vs 0.06), docs/results.md
V1_STEPS = 8000
V1_POOL_EPISODES = 2000
V1_DEMO_DURATION = (
    "1,138 s measured for `make demo` from a fresh clone, venv included, with a training run "
    "beside it (training 975-1,025 s per agent, side by side; one agent alone: 601 s)"
)
V1_DEFAULT_DURATION = (
    "about 1 h on 2 cores: 10 training runs of about 10 min, two side by side, and the "
    "evaluation; estimated from the demo's measured times, not timed end to end"
)

# World v1 (the registered -v1 ids' world) with the position cue the object-location tokens
# read; world v0 (braided 13x13) with the benchmark's old success rule, 2 x shortest + 4, now
# the env's own budget, so that the v0 tables reproduce.
WORLD_V1_BC: dict[str, Any] = {**WORLD_V1, "position_cue": True}
WORLD_V0_BC: dict[str, Any] = {
    "size": 13,
    "view_size": 5,
    "position_cue": True,
    "budget_scale": 2.0,
    "budget_offset": 4,
}

DEFAULT_PRESET = "default"
PRESETS = {
    # the experiment of docs/results.md, world v1
    "default": Preset(
        seeds=[0, 1, 2, 3, 4],
        steps=V1_STEPS,
        eval_tasks=200,
        pool_episodes=V1_POOL_EPISODES,
        train={**V1_RECIPE, "world": dict(WORLD_V1_BC)},
        duration=V1_DEFAULT_DURATION,
    ),
    # `make demo`: the default with one seed and fewer tasks, so that a fresh clone (venv set-up
    # included) finishes within 15 minutes
    "demo": Preset(
        seeds=[0],
        steps=V1_STEPS,
        eval_tasks=100,
        pool_episodes=V1_POOL_EPISODES,
        eval_every=0,
        train={**V1_RECIPE, "world": dict(WORLD_V1_BC)},
        duration=V1_DEMO_DURATION,
    ),
    # world v0 (docs/results.md, history): the 5-seed experiment of the old tables
    "v0-default": Preset(
        seeds=[0, 1, 2, 3, 4],
        steps=8000,
        eval_tasks=200,
        train={**RECIPE, "world": dict(WORLD_V0_BC)},
        duration="about 1.5-2 h, estimated from docs/results.md's v0 history (training "
        "662-733 s per baseline and 1,244-1,344 s per retrieval agent and seed, two jobs side "
        "by side, evaluation 1,103 s); never timed end to end",
    ),
    # world v0: the first recipe of the v0 history (2,000 steps, no object tokens)
    "v0-first-recipe": Preset(
        seeds=[0, 1, 2, 3, 4],
        steps=2000,
        eval_tasks=200,
        train={"aux_goal_weight": 1.0, "world": dict(WORLD_V0_BC)},
        duration="not timed end to end; its training took 162-282 s per agent and seed "
        "on a quiet machine (docs/results.md, v0 history)",
    ),
    # world v0: the old `make demo`
    "v0-demo": Preset(
        seeds=[0],
        steps=2500,
        eval_tasks=100,
        pool_episodes=2000,
        eval_every=0,
        train={**RECIPE, "world": dict(WORLD_V0_BC)},
        duration="446 s measured before the BC speed-up (`make demo` from a fresh clone, "
        "venv included: 9 min 13 s)",
    ),
    # seconds, for tests and smoke checks: a 7x7 world and a tiny model (numbers meaningless)
    "smoke": Preset(
        seeds=[0],
        steps=30,
        eval_tasks=8,
        pool_episodes=200,
        eval_every=0,
        train={
            "world": {
                "size": 7,
                "view_size": 3,
                "n_mazes": 4,
                "n_object_types": 4,
                "objects_per_maze": 3,
                "position_cue": True,
            },
            "model": {"d_token": 4, "d_model": 16, "n_layers": 1, "n_heads": 2},
            "batch_size": 8,
            "eval_tasks": 0,
            "stream": {"buffer_size": 16, "episodes_per_maze": 4, "new_mazes_per_step": 1},
        },
        duration="about 30 s; for tests, its numbers mean nothing",
    ),
}


def describe_presets(width: int = 96) -> str:
    """The presets, their sizes and durations, one paragraph each (the end of ``--help``)."""
    lines = ["presets (durations on a 2-core machine):"]
    indent = max(len(name) for name in PRESETS) + 3
    for name, p in PRESETS.items():
        seeds = f"{len(p.seeds)} seed{'s' if len(p.seeds) > 1 else ''}"
        text = (
            f"{seeds} x {p.steps:,} steps x {p.eval_tasks} tasks/split"
            f"{' (the default)' if name == DEFAULT_PRESET else ''}: {p.duration}"
        )
        lines.append(
            textwrap.fill(
                text,
                width,
                initial_indent=f"  {name:<{indent - 2}}",
                subsequent_indent=" " * indent,
            )
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``latent-gridworld benchmark`` arguments."""
    p = argparse.ArgumentParser(
        prog="latent-gridworld benchmark",
        description=textwrap.fill(
            "Train and evaluate the paired BC agents (baseline vs episodic retrieval). Without "
            f"--preset it runs the {DEFAULT_PRESET!r} preset, the full experiment (hours); "
            "`--preset demo` is the one `make demo` runs (minutes).",
            96,
        ),
        epilog=describe_presets(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        help=f"one of {', '.join(PRESETS)} (default: {DEFAULT_PRESET}; sizes and times below)",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default: the preset's)")
    p.add_argument("--steps", type=int, help="gradient steps per agent (default: the preset's)")
    p.add_argument("--eval-tasks", type=int, help="tasks per split (default: the preset's)")
    p.add_argument("--out", help="output folder (default: runs/benchmark-<preset>)")
    p.add_argument("--checkpoints", help="folder with <agent>_s<seed>/model.pt to load")
    p.add_argument("--retrain", action="store_true", help="train even if checkpoints exist")
    p.add_argument("--jobs", type=int, default=2, help="parallel single-thread processes")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the jobs as Ray tasks: on a local Ray instance with --jobs CPUs, or on the "
        "cluster at ADDRESS (HOST:PORT, ray://HOST:PORT, auto); see docs/scaling.md",
    )
    p.add_argument("--splits", nargs="+", default=list(SPLITS), help="splits to evaluate")
    p.add_argument(
        "--bc-agents",
        nargs="+",
        default=["baseline", "retrieval"],
        help="BC agents to train and evaluate (default: both)",
    )
    p.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="FILE.py:FACTORY",
        help="a third-party agent factory (repeatable); see agents/protocol.py",
    )
    g = p.add_argument_group("ablations")
    g.add_argument("--full-view", action="store_true", help="observe the whole maze")
    g.add_argument(
        "--no-icl", action="store_true", help="no within-episode ICL episodes in the training data"
    )
    g.add_argument(
        "--no-stream",
        action="store_true",
        help="no fresh/moved-maze stream in training (pool dataset only)",
    )
    g.add_argument("--retrieval", default="oracle", help="oracle or knn")
    g.add_argument("--n-distractors", type=int, help="distractors per retrieval (default 2)")
    g.add_argument(
        "--aux-goal-weight",
        type=float,
        help="weight of the auxiliary goal-location loss (default: the preset's)",
    )
    g.add_argument(
        "--no-position-cue", action="store_true", help="no (row, col) cue in the observation"
    )
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any other training field, as in `python -m agents.bc.train --set` (repeatable; "
        "JSON objects are merged into dict fields)",
    )
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument(
        "--reevaluate",
        action="store_true",
        help="evaluate every row again (default: rows whose checkpoint, agent source, seed and "
        "task count match a stored evaluation in <out>/eval_s<seed>.json are reused)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite <out>/results.{json,txt,png} even if another run (other agents, splits "
        "or settings) wrote them (default: such a run writes results-<N>.* beside them)",
    )
    p.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between progress lines of the running jobs (default 10; 0: none)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


# ------------------------------------------------------------------------------------------
# configs


def make_configs(args: argparse.Namespace) -> tuple[Preset, dict[tuple[str, int], Any]]:
    """The preset (with overrides) and a TrainConfig per (agent, seed); validates everything."""
    from agents.bc.train import AGENTS, RETRIEVAL_MODES, TrainConfig, apply_overrides

    if args.preset not in PRESETS:
        raise ValueError(f"unknown preset {args.preset!r}; valid: {', '.join(PRESETS)}")
    if args.retrieval not in RETRIEVAL_MODES:
        raise ValueError(
            f"unknown retrieval mode {args.retrieval!r}; valid: {', '.join(RETRIEVAL_MODES)}"
        )
    unknown = set(args.splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}; valid: {', '.join(SPLITS)}")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    base = PRESETS[args.preset]
    preset = Preset(
        seeds=list(args.seeds) if args.seeds else list(base.seeds),
        steps=args.steps or base.steps,
        eval_tasks=args.eval_tasks or base.eval_tasks,
        pool_episodes=base.pool_episodes,
        eval_every=base.eval_every,
        train=dict(base.train),
    )
    out = Path(args.out or f"runs/benchmark-{args.preset}")
    configs = {}
    unknown = set(args.bc_agents) - set(AGENTS)
    if unknown or not args.bc_agents:
        raise ValueError(f"unknown BC agent(s) {sorted(unknown)}; valid: {', '.join(AGENTS)}")
    for seed in preset.seeds:
        for agent in args.bc_agents:
            c = TrainConfig(
                agent=agent,
                seed=seed,
                steps=preset.steps,
                pool_episodes=preset.pool_episodes,
                eval_every=preset.eval_every,
                retrieval=args.retrieval,
                out=str(out / f"{agent}_s{seed}"),
                progress=False,
                **preset.train,
            )
            if args.full_view:
                c.world = {**c.world, "full_view": True}
            if args.no_position_cue:
                c.world = {**c.world, "position_cue": False}
            if args.no_icl:
                c.pool_icl_share = 0.0
            if args.no_stream:
                c.stream = {**c.stream, "stream_share": 0.0}
            if args.n_distractors is not None:
                c.n_distractors = args.n_distractors
            if args.aux_goal_weight is not None:
                c.aux_goal_weight = args.aux_goal_weight
            apply_overrides(c, args.set)
            c.validate()
            configs[(agent, seed)] = c
    return preset, configs


def find_checkpoint(config: Any, folder: str | None) -> Path | None:
    """An existing checkpoint for ``config`` (in ``folder`` or its own out dir), validated."""
    from agents.bc.train import load_checkpoint

    candidates = [Path(config.out) / "model.pt"]
    if folder:
        candidates.insert(0, Path(folder) / f"{config.agent}_s{config.seed}" / "model.pt")
    for path in candidates:
        if path.exists():
            _, loaded, extra = load_checkpoint(path, expect=config)  # raises on a mismatch
            if extra["step"] != config.steps or loaded.steps != config.steps:
                raise ValueError(
                    f"checkpoint {path} has {extra['step']} steps, this run asks for "
                    f"{config.steps}; pass --retrain or another --out"
                )
            return path
    return None


# ------------------------------------------------------------------------------------------
# jobs (run in spawned single-thread processes)


class _Done:
    """A finished 'future' (``--jobs 1`` runs everything in this process)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _InProcess:
    """The ``ProcessPoolExecutor`` calls the benchmark uses, run in this process."""

    def __enter__(self) -> _InProcess:
        _init_worker()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Any, *args: Any) -> _Done:
        return _Done(fn(*args))


def _executor(jobs: int, ray: str | None = None) -> Any:
    if ray is not None:
        from agents.distributed import RayExecutor

        return RayExecutor(ray, initializer=_init_worker, local_num_cpus=jobs)
    if jobs == 1:
        return _InProcess()
    ctx = multiprocessing.get_context("spawn")  # FAISS/torch OpenMP and fork do not mix
    return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


@dataclass(frozen=True)
class RowKey:
    """One row of the table: an agent on a split (``"agent|split"`` in ``results.json``)."""

    agent: str
    split: str

    def __str__(self) -> str:
        return f"{self.agent}|{self.split}"

    @classmethod
    def parse(cls, text: str) -> RowKey:
        """The key of a stored row, e.g. ``RowKey.parse("baseline|latent")``."""
        agent, sep, split = text.rpartition("|")
        if not sep:
            raise ValueError(f"a row key is 'agent|split', got {text!r}")
        return cls(agent, split)


@dataclass(frozen=True)
class EvalJob:
    """The rows of one seed that still need evaluating (what an evaluation job is sent).

    Attributes:
        seed: The training seed (tasks are drawn with ``1000 + seed``).
        paths: BC agent -> checkpoint of this seed.
        n_tasks: Closed-loop tasks per row.
        third_party: ``FILE.py:FACTORY`` specs of the third-party agents.
        rows: The rows to evaluate (all others of the seed are cached).
        probe: Whether to run the memory probe of the retrieval agent too.
        status: The job's progress file (:mod:`agents.progress`), or ``None``.
    """

    seed: int
    paths: dict[str, str]
    n_tasks: int
    third_party: tuple[str, ...] = ()
    rows: tuple[RowKey, ...] = ()
    probe: bool = False
    status: str | None = None


def _status_writer(path: str | None, label: str) -> Any:
    from agents.progress import StatusWriter

    return StatusWriter(path, label)


def _train_job(config_dict: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """Train one agent; with a ``status`` file, its tqdm bar reports there (steps, loss, ETA)."""
    import contextlib

    from agents.bc.train import TrainConfig, train
    from agents.progress import TqdmToStatus

    config = TrainConfig(**config_dict)
    label = f"{config.agent} s{config.seed}"
    writer = _status_writer(status, label)
    writer.update("setup")
    t0 = time.perf_counter()
    if status is None:
        path = train(config)
    else:  # the bar goes to the status file, never to the shared terminal
        config = dataclasses.replace(config, progress=True)
        with contextlib.redirect_stderr(TqdmToStatus(writer, sys.stderr, train_desc=label)):
            path = train(config)
    stats = json.loads((Path(config.out) / "train_stats.json").read_text())
    writer.done(f"loss {stats['final_loss']:.3f}")
    return {"path": str(path), "wall_seconds": time.perf_counter() - t0, **stats}


def agent_names(
    config: Any | None, third_party: Sequence[str], bc_agents: Sequence[str]
) -> list[str]:
    """The table's agents, in order; ``config`` is the retrieval agent's (``None``: none)."""
    names = [a for a in ("baseline",) if a in bc_agents]
    if "retrieval" in bc_agents:
        names += ["retrieval", "retrieval-distractors"]
        if config is None or config.retrieval == "oracle":  # the same weights, knn at test time
            names.append("retrieval-knn@test")
    names += [f"ref:{mode}" for mode in REFERENCES]
    names += [third_party_name(spec) for spec in third_party]
    return names


def third_party_name(spec: str) -> str:
    """The table's name for ``--agent spec``: the spec without its folders.

    >>> third_party_name("examples/third_party_agent.py:make_agent")
    'third_party_agent.py:make_agent'
    """
    return spec.rsplit("/", 1)[-1]


def _eval_job(job: EvalJob) -> dict[str, Any]:
    """Evaluate ``job.rows`` (and the memory probe); returns per-task outcome lists per row."""
    from agents.bc.agent import BCAgent
    from agents.bc.train import load_checkpoint, load_pool
    from agents.evaluation import evaluate_agent
    from agents.memory import EpisodicMemory
    from agents.protocol import AgentContext, load_factory
    from agents.reference import reference_factory

    t0 = time.perf_counter()
    writer = _status_writer(job.status, f"eval s{job.seed}")
    writer.update("setup")
    needed = {key.agent for key in job.rows}
    loaded = {name: load_checkpoint(path) for name, path in job.paths.items()}
    any_cfg = next(iter(loaded.values()))[1]
    world = any_cfg.world_config()
    memory = None
    pool: Sequence[Any] = []
    if job.probe or needed - {"baseline"}:  # the references and the others see the memory
        pool = load_pool(any_cfg)
        memory = EpisodicMemory.for_world(world)
        memory.extend(pool)
    context = AgentContext(world, memory, job.seed)
    seed = job.seed
    makers: dict[str, Any] = {}
    if "baseline" in loaded:
        model, cfg, _ = loaded["baseline"]
        makers["baseline"] = lambda: BCAgent(model, cfg, None, seed=seed)
    if "retrieval" in loaded:
        r_model, r_cfg, _ = loaded["retrieval"]
        makers["retrieval"] = lambda: BCAgent(r_model, r_cfg, memory, seed=seed)
        makers["retrieval-distractors"] = lambda: BCAgent(
            r_model, r_cfg, memory, n_relevant=0, seed=seed
        )
        knn = dataclasses.replace(r_cfg, retrieval="knn")
        makers["retrieval-knn@test"] = lambda: BCAgent(r_model, knn, memory, seed=seed)
    for mode in REFERENCES:
        makers[f"ref:{mode}"] = lambda mode=mode: reference_factory(mode)(context)
    for spec in job.third_party:
        makers[third_party_name(spec)] = lambda spec=spec: load_factory(spec)(context)
    out: dict[str, Any] = {"rows": {}}
    for i, key in enumerate(job.rows):
        writer.update("evaluate", i, len(job.rows), f"{key.agent} on {key.split}")
        # a fresh agent per row: its random draws then depend on the row alone, not on which
        # rows ran before it, so a row evaluated alone equals the same row of a full run
        agent = makers[key.agent]()
        r = evaluate_agent(agent, world, key.split, job.n_tasks, seed=1000 + seed)
        out["rows"][str(key)] = {
            "success": r.success.tolist(),
            "efficiency": r.efficiency.round(4).tolist(),
            "trivial": r.trivial.tolist(),
            "steps": r.steps.tolist(),
            "optimal": r.optimal.tolist(),
        }
    if job.probe and "retrieval" in loaded:
        from agents.bc.probe import memory_probe

        writer.update("memory probe")
        out["_probe"] = memory_probe(r_model, r_cfg, pool, memory)
    out["_seconds"] = time.perf_counter() - t0
    writer.done()
    return out


def _goal_probe_job(
    paths: dict[str, str], status: str | None = None, label: str = "goal probe"
) -> dict[str, Any]:
    """The goal-location probe of every BC agent with a goal head (see agents/bc/probe.py)."""
    from agents.bc.probe import goal_location_probe
    from agents.bc.train import load_checkpoint, load_pool
    from agents.memory import EpisodicMemory

    writer = _status_writer(status, label)
    out: dict[str, Any] = {}
    for i, (agent, path) in enumerate(sorted(paths.items())):
        writer.update("goal-location probe", i, len(paths), agent)
        model, cfg, _ = load_checkpoint(path)
        if model.goal_head is None:
            continue
        memory = None
        if cfg.agent == "retrieval":
            memory = EpisodicMemory.for_world(cfg.world_config())
            memory.extend(load_pool(cfg))
        out[agent] = goal_location_probe(model, cfg, memory)
    writer.done()
    return out


def _belief_job(
    paths: dict[str, str], seed: int, n_tasks: int, status: str | None = None
) -> dict[str, Any]:
    """The closed-loop belief probe on ``latent`` (agents.bc.probe.closed_loop_belief)."""
    from agents.bc.agent import BCAgent
    from agents.bc.probe import closed_loop_belief, told_success
    from agents.bc.train import load_checkpoint, load_pool
    from agents.memory import EpisodicMemory

    writer = _status_writer(status, f"belief s{seed}")
    out: dict[str, Any] = {}
    for i, (agent, path) in enumerate(sorted(paths.items())):
        writer.update("closed-loop belief", i, len(paths), agent)
        model, cfg, _ = load_checkpoint(path)
        if model.goal_head is None:
            continue
        world = cfg.world_config()
        variants: dict[str, tuple[Any, int | None]] = {agent: (None, None)}
        if cfg.agent == "retrieval":
            memory = EpisodicMemory.for_world(world)
            memory.extend(load_pool(cfg))
            variants = {agent: (memory, None), f"{agent}-distractors": (memory, 0)}
        for name, (mem, n_relevant) in variants.items():
            bc = BCAgent(model, cfg, mem, n_relevant=n_relevant, seed=seed)
            # the tasks of the table's latent column (evaluate_agent's seed in _eval_job)
            out[name] = closed_loop_belief(bc, world, "latent", n_tasks, seed=1000 + seed)
            if model.target_embed is not None:  # the same tasks, told the true goal cell
                told = BCAgent(model, cfg, mem, n_relevant=n_relevant, seed=seed, told_goal=True)
                out[name]["success_if_told"] = told_success(
                    told, world, "latent", n_tasks, seed=1000 + seed
                )
    writer.done()
    return out


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def probe_lines(per_seed: dict[int, dict[str, Any]]) -> list[str]:
    """The memory and goal-location probe lines of every seed, for the console."""
    lines = []
    for seed, r in per_seed.items():
        if "_probe" in r:
            lines.append(
                f"memory probe (seed {seed}, teacher-forced loss): "
                + "; ".join(
                    f"{kind}: relevant {v['relevant_loss']:.3f}, distractors "
                    f"{v['distractors_loss']:.3f}, none {v['none_loss']:.3f}"
                    for kind, v in r["_probe"].items()
                )
            )
    for seed, r in per_seed.items():
        if r.get("_goal_probe"):
            lines.append(format_goal_probe(seed, r["_goal_probe"]))
    for seed, r in per_seed.items():
        if r.get("_belief"):
            lines.append(
                f"closed-loop belief (seed {seed}, latent tasks with the goal out of view: "
                "goal head right at the first step; success if right / if wrong"
                + (
                    " / if told the cell"
                    if any("success_if_told" in b for b in r["_belief"].values())
                    else ""
                )
                + "): "
                + "; ".join(
                    f"{agent} {_num(b['belief_right'])}; {_num(b['success_if_right'])} / "
                    f"{_num(b['success_if_wrong'])}"
                    + (f" / {_num(b['success_if_told'])}" if "success_if_told" in b else "")
                    for agent, b in r["_belief"].items()
                )
            )
    return lines


def format_goal_probe(seed: int, probe: dict[str, Any]) -> str:
    """One line: how often each agent's goal head points at the goal just before seeing it."""
    parts = []
    for agent, splits in probe.items():
        for variant in ("none", "relevant", "distractors"):
            accs = [
                f"{split} {r[f'{variant}_before_acc']:.2f}"
                for split, r in splits.items()
                if f"{variant}_before_acc" in r
            ]
            if accs and not (agent == "retrieval" and variant == "none"):
                label = agent if variant == "none" else f"{agent} ({variant})"
                parts.append(f"{label}: " + ", ".join(accs))
    return (
        f"goal-location probe (seed {seed}, share of tasks whose goal cell the model names just "
        "before the goal comes into view): " + "; ".join(parts)
    )


# Bump when what an evaluation row measures changes (the tasks, the references, the outcomes);
# 3: a fresh agent per row (before, one agent object ran all splits in turn)
EVAL_CACHE_VERSION = 3


def _digest(obj: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _file_digest(path: str | Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _source_digest(spec: str) -> str:
    """The content hash of a third-party agent's source file (``""`` if it has none)."""
    import importlib.util

    module_part = spec.rpartition(":")[0]
    if module_part.endswith(".py"):
        return _file_digest(module_part)
    found = importlib.util.find_spec(module_part)
    origin = found.origin if found is not None else None
    return _file_digest(origin) if origin and Path(origin).is_file() else ""


def row_identities(
    seed: int,
    configs: dict[str, Any],
    paths: dict[str, str],
    third_party: Sequence[str],
    n_tasks: int,
) -> dict[str, str]:
    """Agent name -> what its rows of this seed depend on, hashed (the evaluation cache's key).

    A BC row depends on its checkpoint (by content); a reference or third-party row on the
    world and the pool dataset its memory holds, and a third-party row also on its source file.
    All rows depend on the seed and the task count. So adding ``--agent x.py:f`` to a finished
    run evaluates only x's rows, and retraining one agent re-evaluates only that agent's.

    Args:
        seed: The training seed.
        configs: BC agent -> its :class:`~agents.bc.train.TrainConfig` for this seed.
        paths: BC agent -> its checkpoint.
        third_party: The ``--agent`` specs.
        n_tasks: Tasks per row.
    """
    base = {"seed": seed, "tasks": n_tasks, "version": EVAL_CACHE_VERSION}
    any_cfg = next(iter(configs.values()))
    world_pool = {
        "world": asdict(any_cfg.world_config()),
        "pool": [any_cfg.dataset, any_cfg.pool_episodes, any_cfg.pool_icl_share, any_cfg.seed],
    }
    checkpoints = {agent: _file_digest(path) for agent, path in paths.items()}
    retrieval = configs.get("retrieval")
    out: dict[str, str] = {}
    for name in agent_names(retrieval, third_party, list(configs)):
        if name == "baseline":
            ident: dict[str, Any] = {"checkpoint": checkpoints["baseline"]}
        elif name.startswith("retrieval"):
            ident = {"checkpoint": checkpoints["retrieval"]}
        elif name.startswith("ref:"):
            ident = {"reference": name, **world_pool}
        else:
            spec = next(s for s in third_party if third_party_name(s) == name)
            ident = {"spec": spec, "source": _source_digest(spec), **world_pool}
        out[name] = _digest({"agent": name, **ident, **base})
    return out


def _cache_path(out: Path, seed: int) -> Path:
    return out / f"eval_s{seed}.json"


def load_eval_cache(out: Path, seed: int) -> dict[str, Any]:
    """The stored evaluations of one seed: ``{"rows": {key: ...}, "extras": {...}}``.

    An unreadable file or one of another cache version reads as empty (it is rewritten).
    """
    path = _cache_path(out, seed)
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"rows": {}, "extras": {}}
    if stored.get("version") != EVAL_CACHE_VERSION:
        return {"rows": {}, "extras": {}}
    return {"rows": stored.get("rows", {}), "extras": stored.get("extras", {})}


def store_eval_cache(out: Path, seed: int, cache: dict[str, Any]) -> None:
    """Write one seed's evaluations (atomically: an interrupted run keeps the old file)."""
    path = _cache_path(out, seed)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": EVAL_CACHE_VERSION, **cache}))
    tmp.replace(path)


def _row_cache_key(identity: str, key: RowKey) -> str:
    return f"{identity}:{key.split}"


# ------------------------------------------------------------------------------------------
# aggregation and report


def aggregate(per_seed: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean and 95% half-width per agent x split (over seeds; over tasks for one seed)."""
    from agents.evaluation import binomial_ci, mean_ci

    keys = list(dict.fromkeys(k for r in per_seed.values() for k in r if not k.startswith("_")))
    table: dict[str, dict[str, Any]] = {}
    for key in keys:
        runs = [r[key] for r in per_seed.values() if key in r]
        success = [np.asarray(x["success"], dtype=bool) for x in runs]
        eff = [np.asarray(x["efficiency"], dtype=float) for x in runs]
        trivial = [np.asarray(x["trivial"], dtype=bool) for x in runs]
        if len(runs) > 1:
            s, s_ci = mean_ci([x.mean() for x in success])
            e, e_ci = mean_ci([x.mean() for x in eff])
        else:
            s, s_ci = binomial_ci(success[0])
            e, e_ci = float(eff[0].mean()), float(1.96 * eff[0].std(ddof=1) / np.sqrt(len(eff[0])))
        # success within a tight budget of shortest + 4 steps: an explorer that does not know
        # where the goal is rarely makes it (the default budget is 2 x shortest + 4)
        tight = [
            np.asarray(x["success"], dtype=bool)
            & (np.asarray(x["steps"]) <= np.asarray(x["optimal"]) + TIGHT_SLACK)
            for x in runs
            if "steps" in x
        ]
        nontrivial = [x[~t].mean() for x, t in zip(success, trivial, strict=True) if (~t).any()]
        trivial_s = [x[t].mean() for x, t in zip(success, trivial, strict=True) if t.any()]
        table[key] = {
            "success": s,
            "success_ci": s_ci,
            "efficiency": e,
            "efficiency_ci": e_ci,
            "success_nontrivial": float(np.mean(nontrivial)) if nontrivial else float("nan"),
            "success_trivial": float(np.mean(trivial_s)) if trivial_s else float("nan"),
            "trivial_share": float(np.mean([t.mean() for t in trivial])),
            "success_tight": float(np.mean([x.mean() for x in tight])) if tight else float("nan"),
            "per_seed_success": [float(x.mean()) for x in success],
            "tasks_per_seed": int(len(success[0])),
        }
    return table


# the narrowest agent and split columns (the widths of every table before they grew to fit)
AGENT_COLUMN = 24
SPLIT_COLUMN = 10


def table_agents(table: Mapping[str, Any]) -> list[str]:
    """The agents of a table (or a seed's rows), in order of first appearance."""
    return list(dict.fromkeys(RowKey.parse(k).agent for k in table if not k.startswith("_")))


def format_table(table: dict[str, dict[str, Any]], splits: Sequence[str]) -> str:
    """A plain-text agent x split table; the agent column is as wide as the longest name."""
    agents = table_agents(table)
    width = max([AGENT_COLUMN, *(len(a) + 2 for a in agents)])
    split_width = max([SPLIT_COLUMN, *(len(s) + 2 for s in splits)])
    lines = [
        f"{'agent':<{width}}{'split':<{split_width}}{'success':>16}{'efficiency':>16}"
        f"{'non-trivial':>13}{'trivial':>9}{'tight':>8}",
    ]
    for agent in agents:
        for split in splits:
            row = table.get(str(RowKey(agent, split)))
            if row is None:
                continue
            lines.append(
                f"{agent:<{width}}{split:<{split_width}}"
                f"{_pm(row['success'], row['success_ci']):>16}"
                f"{_pm(row['efficiency'], row['efficiency_ci']):>16}"
                f"{row['success_nontrivial']:>13.3f}{row['success_trivial']:>9.3f}"
                f"{row['success_tight']:>8.3f}"
            )
    return "\n".join(lines)


def _pm(mean: float, ci: float) -> str:
    return f"{mean:.3f} ± {ci:.3f}" if np.isfinite(ci) else f"{mean:.3f}"


def plot(table: dict[str, dict[str, Any]], splits: Sequence[str], path: Path, title: str) -> None:
    """Grouped bars: success per split, one bar per agent, 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = table_agents(table)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(splits) * len(agents) / 3), 4.2))
    width = 0.8 / len(agents)
    x = np.arange(len(splits))
    for j, agent in enumerate(agents):
        rows = [table.get(str(RowKey(agent, s))) for s in splits]
        means = [r["success"] if r else np.nan for r in rows]
        cis = [r["success_ci"] if r and np.isfinite(r["success_ci"]) else 0 for r in rows]
        ax.bar(
            x + (j - (len(agents) - 1) / 2) * width, means, width, yerr=cis, capsize=2, label=agent
        )
    ax.set_xticks(x, splits)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------
# results files


def run_title(results: Mapping[str, Any]) -> str:
    """The first line of ``results.txt``: preset, sizes, world, retrieval and ``--set`` items."""
    config = results["train_config"]
    try:
        sets = build_parser().parse_args(results.get("argv", [])).set
    except SystemExit:  # an argv of another version: the title goes without its --set items
        sets = []
    return (
        f"{results['preset']}: {len(results['seeds'])} seed(s), {results['steps']} steps, "
        f"{results['eval_tasks']} tasks/split, world {config['world']}, retrieval "
        f"{config['retrieval']}" + "".join(f", --set {item}" for item in sets)
    )


def _per_seed_of(results: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """``results.json``'s outcomes and probes, back in the per-seed form of a run."""
    per_seed: dict[int, dict[str, Any]] = {}
    for seed, rows in results["per_seed"].items():
        r = dict(rows)
        for field_name, key in (
            ("memory_probe", "_probe"),
            ("goal_probe", "_goal_probe"),
            ("closed_loop_belief", "_belief"),
        ):
            if seed in results.get(field_name, {}):
                r[key] = results[field_name][seed]
        per_seed[int(seed)] = r
    return per_seed


def render_results(results: Mapping[str, Any]) -> str:
    """``results.txt`` from ``results.json``: the title, the table, the probe lines.

    The table is aggregated again from the per-task outcomes (not copied from the stored
    table), so a committed table that :func:`check_result_tables` accepts is what the current
    code makes of the stored outcomes.
    """
    per_seed = _per_seed_of(results)
    table = aggregate(per_seed)
    present = {RowKey.parse(k).split for k in table}
    splits = [s for s in SPLITS if s in present]
    lines = [run_title(results), "", format_table(table, splits)]
    probes = probe_lines(per_seed)
    if probes:
        lines += ["", *probes]
    return "\n".join(lines) + "\n"


def check_result_tables(folder: str | Path, write: bool = False) -> dict[str, str]:
    """Compare every ``<name>.txt`` in ``folder`` that has a ``<name>.json`` with its rendering.

    Args:
        folder: A folder of committed tables (``docs/result_tables``), each ``NAME.txt`` beside
            the ``results.json`` it came from, stored as ``NAME.json``.
        write: Rewrite the tables that differ (or are missing) instead of only reporting them.

    Returns:
        ``NAME`` -> ``"ok"``, ``"differs"``, ``"missing"`` (a ``.json`` without its ``.txt``),
        ``"written"`` (with ``write``) or ``"no stored results"`` (a ``.txt`` alone: not
        checkable, its ``results.json`` was never kept).
    """
    folder = Path(folder)
    status: dict[str, str] = {}
    for stored in sorted(folder.glob("*.json")):
        table = stored.with_suffix(".txt")
        text = render_results(json.loads(stored.read_text()))
        current = table.read_text() if table.exists() else None
        if current == text:
            status[stored.stem] = "ok"
        elif write:
            table.write_text(text)
            status[stored.stem] = "written"
        else:
            status[stored.stem] = "missing" if current is None else "differs"
    for table in sorted(folder.glob("*.txt")):
        if table.stem not in status:
            status[table.stem] = "no stored results"
    return status


def run_settings(results: Mapping[str, Any]) -> dict[str, Any]:
    """What makes two runs the same run: preset, sizes, training config and the table's rows.

    Two runs with equal settings write the same results (training and evaluation are
    deterministic), so one may overwrite the other's files; any other run may not, silently.
    """
    config = {
        k: v for k, v in results["train_config"].items() if k not in ("out", "progress", "agent")
    }
    return {
        "preset": results["preset"],
        "seeds": list(results["seeds"]),
        "steps": results["steps"],
        "eval_tasks": results["eval_tasks"],
        "train_config": config,
        "rows": sorted(results["rows"] if "rows" in results else results["table"]),
    }


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What differs between two runs' settings, in a few words."""
    parts = []
    for key in new:
        if old.get(key) == new[key]:
            continue
        if key == "rows":
            added = len(set(new[key]) - set(old.get(key, [])))
            removed = len(set(old.get(key, [])) - set(new[key]))
            parts.append(f"rows: {added} it lacks, {removed} this run lacks")
        elif key == "train_config":
            fields = sorted(
                k
                for k in set(new[key]) | set(old.get(key, {}))
                if old.get(key, {}).get(k) != new[key].get(k)
            )
            parts.append(f"train config: {', '.join(fields)}")
        else:
            parts.append(f"{key}: {old.get(key)} -> {new[key]}")
    return "; ".join(parts)


def choose_results_stem(out: Path, settings: Mapping[str, Any], force: bool) -> tuple[str, str]:
    """The file stem this run writes its results under, and a sentence saying why.

    ``results`` unless ``<out>/results.json`` holds another run (other settings); then the
    first ``results-<N>`` that is free or holds this same run, so that nothing is overwritten
    silently: ``--force`` overwrites ``results`` anyway.
    """
    target = out / "results.json"
    if not target.exists():
        return "results", ""
    if force:
        return "results", f"--force: overwriting {target}, which another run may have written"
    try:
        old = run_settings(json.loads(target.read_text()))
    except (ValueError, KeyError, TypeError):
        old = {}
    if old == settings:
        return "results", f"{target} holds a run with these settings; rewriting it"
    n = 1
    while True:
        stem = f"results-{n}"
        candidate = out / f"{stem}.json"
        if not candidate.exists():
            break
        try:
            if run_settings(json.loads(candidate.read_text())) == settings:
                break
        except (ValueError, KeyError, TypeError):
            pass
        n += 1
    why = _differences(old, settings) or "it cannot be read"
    return stem, (
        f"{target} holds another run ({why}): this run writes {out / stem}.{{json,txt,png}} "
        "beside it (--force overwrites results.json instead)"
    )


# ------------------------------------------------------------------------------------------
# main


def _status_files(out: Path, labels: Sequence[str], quiet: bool) -> dict[str, Path]:
    """A progress file per job label (none when ``--quiet``)."""
    if quiet:
        return {}
    return {label: out / ".progress" / f"{label.replace(' ', '_')}.json" for label in labels}


@dataclass
class _SeedEval:
    """One seed's evaluation state: its stored rows and probes, and what they must match."""

    paths: dict[str, str]  # BC agent -> checkpoint
    digests: dict[str, str]  # BC agent -> checkpoint content hash
    identities: dict[str, str]  # table agent -> what its rows depend on (hashed)
    cache: dict[str, Any]  # {"rows": ..., "extras": ...} as in eval_s<seed>.json

    def todo(self, splits: Sequence[str]) -> tuple[RowKey, ...]:
        """The rows no stored evaluation covers."""
        return tuple(
            RowKey(agent, split)
            for agent, ident in self.identities.items()
            for split in splits
            if _row_cache_key(ident, RowKey(agent, split)) not in self.cache["rows"]
        )

    def extra_key(self, name: str, n_tasks: int) -> str:
        """What a probe result depends on: the checkpoints it reads (and the task count)."""
        if name == "_probe":
            return _digest(self.digests.get("retrieval"))
        if name == "_goal_probe":
            return _digest(self.digests)
        return _digest([self.digests, n_tasks])

    def has_extra(self, name: str, n_tasks: int) -> bool:
        """Whether the stored probe ``name`` is of these checkpoints."""
        return self.cache["extras"].get(name, {}).get("key") == self.extra_key(name, n_tasks)

    def set_extra(self, name: str, n_tasks: int, value: Any) -> None:
        """Store a probe result with its key."""
        self.cache["extras"][name] = {"key": self.extra_key(name, n_tasks), "value": value}

    def add_rows(self, rows: Mapping[str, Any]) -> None:
        """Store freshly evaluated rows, replacing the same rows of older checkpoints/sources."""
        stored = self.cache["rows"]
        for text, outcomes in rows.items():
            key = RowKey.parse(text)
            for stale in [k for k, v in stored.items() if v["row"] == text]:
                del stored[stale]
            stored[_row_cache_key(self.identities[key.agent], key)] = {
                "row": text,
                "outcomes": outcomes,
            }

    def result(self, splits: Sequence[str], n_tasks: int) -> dict[str, Any]:
        """``{"agent|split": outcomes, "_probe": ..., ...}`` for the requested rows."""
        out: dict[str, Any] = {}
        for agent, ident in self.identities.items():
            for split in splits:
                key = RowKey(agent, split)
                out[str(key)] = self.cache["rows"][_row_cache_key(ident, key)]["outcomes"]
        for name in ("_probe", "_goal_probe", "_belief"):
            if self.has_extra(name, n_tasks) and (name != "_belief" or "latent" in splits):
                out[name] = self.cache["extras"][name]["value"]
        return out


def evaluate_seeds(
    args: argparse.Namespace,
    preset: Preset,
    configs: dict[tuple[str, int], Any],
    paths: dict[tuple[str, int], str],
    out: Path,
    say: Callable[[str], None] = lambda line: None,
) -> dict[int, dict[str, Any]]:
    """Evaluate every seed, reusing each stored row whose checkpoint, agent and tasks match.

    Returns:
        seed -> ``{"agent|split": outcomes, "_probe": ..., "_goal_probe": ..., "_belief": ...}``.
    """
    from agents.progress import Monitor

    every = 0.0 if args.quiet else args.progress_every
    n_tasks = preset.eval_tasks
    seeds: dict[int, _SeedEval] = {}
    for seed in preset.seeds:
        seed_paths = {a: str(paths[(a, seed)]) for a in args.bc_agents}
        seed_configs = {a: configs[(a, seed)] for a in args.bc_agents}
        seeds[seed] = _SeedEval(
            paths=seed_paths,
            digests={a: _file_digest(p) for a, p in seed_paths.items()},
            identities=row_identities(seed, seed_configs, seed_paths, args.agent, n_tasks),
            cache={"rows": {}, "extras": {}} if args.reevaluate else load_eval_cache(out, seed),
        )
    jobs = {
        seed: EvalJob(
            seed,
            s.paths,
            n_tasks,
            tuple(args.agent),
            s.todo(args.splits),
            probe="retrieval" in args.bc_agents and not s.has_extra("_probe", n_tasks),
        )
        for seed, s in seeds.items()
    }
    jobs = {seed: job for seed, job in jobs.items() if job.rows or job.probe}
    n_rows = sum(len(s.identities) for s in seeds.values()) * len(args.splits)
    n_todo = sum(len(job.rows) for job in jobs.values())
    say(
        f"evaluating {n_todo} of {n_rows} agent x split rows ({len(seeds)} seed(s), "
        f"{n_tasks} tasks each)"
        + (f"; {n_rows - n_todo} reused from {out}/eval_s<seed>.json" if n_todo < n_rows else "")
        + " ..."
    )

    files = _status_files(out, [f"eval s{s}" for s in jobs], args.quiet)
    with Monitor(files, say, every), _executor(args.jobs, args.ray) as pool:
        futures = {
            seed: pool.submit(
                _eval_job, dataclasses.replace(job, status=_str(files.get(f"eval s{seed}")))
            )
            for seed, job in jobs.items()
        }
        for seed, fut in futures.items():
            result = fut.result()
            seeds[seed].add_rows(result["rows"])
            if "_probe" in result:
                seeds[seed].set_extra("_probe", n_tasks, result["_probe"])
            store_eval_cache(out, seed, seeds[seed].cache)

    # the probes, each in its own jobs (and only for checkpoints not probed before)
    probes: list[tuple[str, str, str, Callable[..., Any]]] = [
        ("_goal_probe", "goal probe", "goal-location probe", _goal_probe_job)
    ]
    if "latent" in args.splits:
        probes.append(("_belief", "belief", "closed-loop belief probe", _belief_job))
    for name, label, title, job_fn in probes:
        missing = [seed for seed, s in seeds.items() if not s.has_extra(name, n_tasks)]
        if not missing:
            continue
        say(f"{title} of {len(missing)} seed(s) ...")
        files = _status_files(out, [f"{label} s{seed}" for seed in missing], args.quiet)
        with Monitor(files, say, every), _executor(args.jobs, args.ray) as pool:
            submitted = {}
            for seed in missing:
                status = _str(files.get(f"{label} s{seed}"))
                if name == "_goal_probe":
                    job_args: tuple[Any, ...] = (seeds[seed].paths, status, f"{label} s{seed}")
                else:
                    job_args = (seeds[seed].paths, seed, n_tasks, status)
                submitted[seed] = pool.submit(job_fn, *job_args)
            for seed, fut in submitted.items():
                seeds[seed].set_extra(name, n_tasks, fut.result())
                store_eval_cache(out, seed, seeds[seed].cache)
    return {seed: s.result(args.splits, n_tasks) for seed, s in sorted(seeds.items())}


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (2 on bad input)."""
    from agents.progress import Monitor

    t_start = time.perf_counter()
    args = build_parser().parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    every = 0.0 if args.quiet else args.progress_every
    try:
        preset, configs = make_configs(args)
        from agents.protocol import load_factory

        for spec in args.agent:
            load_factory(spec)  # a bad agent spec fails now, not after training
        names = [third_party_name(spec) for spec in args.agent]
        if len(set(names)) < len(names):
            raise ValueError(f"two --agent specs share a name: {names}; rename one file")
        existing = {}
        if not args.retrain:
            for key, c in configs.items():
                path = find_checkpoint(c, args.checkpoints)
                if path is not None:
                    existing[key] = path
        if args.ray is not None:
            from agents.distributed import connect_ray

            # before anything is written: a missing extra or a bad address stops the run here
            connect_ray(args.ray, num_cpus=args.jobs)
    except (ValueError, FileNotFoundError, ImportError, ConnectionError) as err:
        print(f"latent-gridworld benchmark: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/benchmark-{args.preset}")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    c0 = next(iter(configs.values()))
    retrieval_cfg = next((c for (a, _), c in configs.items() if a == "retrieval"), None)
    rows = [
        str(RowKey(agent, split))
        for agent in agent_names(retrieval_cfg, args.agent, args.bc_agents)
        for split in args.splits
    ]
    settings = run_settings(
        {
            "preset": args.preset,
            "seeds": preset.seeds,
            "steps": preset.steps,
            "eval_tasks": preset.eval_tasks,
            "train_config": asdict(c0),
            "rows": rows,
        }
    )
    stem, why = choose_results_stem(out, settings, args.force)
    if why:
        say(why)

    # -- train what is missing, two single-thread processes side by side
    todo = [c for key, c in configs.items() if key not in existing]
    paths = {key: str(p) for key, p in existing.items()}
    train_stats: dict[str, Any] = {}
    t_train = time.perf_counter()
    if todo:
        say(
            f"training {len(todo)} agent(s) ({preset.steps} steps each, {args.jobs} jobs); "
            f"preset {args.preset}: {PRESETS[args.preset].duration}"
            + ("; `--preset demo` takes minutes" if args.preset == DEFAULT_PRESET else "")
            + (f"; progress every {every:g} s" if every > 0 else "")
            + " ..."
        )
        files = _status_files(out, [f"{c.agent} s{c.seed}" for c in todo], args.quiet)
        with Monitor(files, say, every), _executor(args.jobs, args.ray) as pool:
            futures = {
                (c.agent, c.seed): pool.submit(
                    _train_job, asdict(c), _str(files.get(f"{c.agent} s{c.seed}"))
                )
                for c in todo
            }
            for key, fut in futures.items():
                stats = fut.result()
                paths[key] = stats["path"]
                train_stats[f"{key[0]}_s{key[1]}"] = {
                    k: v for k, v in stats.items() if k != "history"
                } | {"history": stats["history"]}
                say(
                    f"  {key[0]} seed {key[1]}: {stats['train_seconds']:.0f} s, "
                    f"loss {stats['final_loss']:.3f}"
                )
    train_seconds = time.perf_counter() - t_train
    for key, path in existing.items():
        stats_file = Path(path).parent / "train_stats.json"
        if stats_file.exists():
            train_stats[f"{key[0]}_s{key[1]}"] = json.loads(stats_file.read_text())

    # -- evaluate every seed (only the rows no stored evaluation covers)
    t_eval = time.perf_counter()
    per_seed = evaluate_seeds(args, preset, configs, paths, out, say)
    eval_seconds = time.perf_counter() - t_eval

    table = aggregate(per_seed)
    results = {
        "preset": args.preset,
        "argv": list(sys.argv[1:] if argv is None else argv),
        "seeds": preset.seeds,
        "steps": preset.steps,
        "eval_tasks": preset.eval_tasks,
        "train_config": asdict(c0),
        "table": table,
        "per_seed": {
            str(s): {k: v for k, v in r.items() if not k.startswith("_")}
            for s, r in per_seed.items()
        },
        "memory_probe": {str(s): r["_probe"] for s, r in per_seed.items() if "_probe" in r},
        "goal_probe": {
            str(s): r["_goal_probe"] for s, r in per_seed.items() if r.get("_goal_probe")
        },
        "closed_loop_belief": {
            str(s): r["_belief"] for s, r in per_seed.items() if r.get("_belief")
        },
        "train_stats": train_stats,
        "wall_seconds": {
            "total": time.perf_counter() - t_start,
            "train": train_seconds,
            "eval": eval_seconds,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    text = render_results(results)
    say("")
    say(text.split("\n", 2)[2].rstrip("\n"))  # the table and probe lines (the title is long)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (out / f"{stem}.txt").write_text(text)
    if not args.no_plot:
        plot(table, args.splits, out / f"{stem}.png", run_title(results))
    say(
        f"\nwrote {out / stem}.json, {stem}.txt"
        + ("" if args.no_plot else f", {stem}.png")
        + ("" if stem == "results" else " (results.json holds another run, see above)")
    )
    say(
        f"wall time: {results['wall_seconds']['total']:.0f} s "
        f"(train {train_seconds:.0f} s, eval {eval_seconds:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
