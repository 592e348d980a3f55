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
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("train", "explicit", "latent", "new_maze")
REFERENCES = ("random", "visible_at_start", "wander_then_path", "search_then_path")
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
    """

    seeds: list[int]
    steps: int
    eval_tasks: int
    pool_episodes: int = 4000
    eval_every: int = 1000
    train: dict[str, Any] = field(default_factory=dict)


# The recipe of docs/results.md section 10: the goal-location loss, object-location tokens in
# every step row, and an oracle whose relevant episode passed the goal on the way to another
# goal, trimmed to the steps that show it (the retrieval settings do not touch the baseline).
RECIPE: dict[str, Any] = {
    "aux_goal_weight": 1.0,
    "object_slots": 2,
    "memory_trim": "goal",
    "relevant_goal": "other",
}

PRESETS = {
    # the experiment of docs/results.md
    "default": Preset(seeds=[0, 1, 2, 3, 4], steps=8000, eval_tasks=200, train=dict(RECIPE)),
    # the first recipe of docs/results.md section 3 (2,000 steps, no object tokens)
    "default-v1": Preset(
        seeds=[0, 1, 2, 3, 4], steps=2000, eval_tasks=200, train={"aux_goal_weight": 1.0}
    ),
    # `make demo`: the default recipe with one seed, fewer steps and tasks and no periodic
    # evaluation, so that a fresh clone (venv set-up included) finishes within 15 minutes
    "demo": Preset(
        seeds=[0],
        steps=2500,
        eval_tasks=100,
        pool_episodes=2000,
        eval_every=0,
        train=dict(RECIPE),
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
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``latent-gridworld benchmark`` arguments."""
    p = argparse.ArgumentParser(
        prog="latent-gridworld benchmark",
        description="Train and evaluate the paired BC agents (baseline vs episodic retrieval).",
    )
    p.add_argument("--preset", default="default", help=f"one of {', '.join(PRESETS)}")
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


def _train_job(config_dict: dict[str, Any]) -> dict[str, Any]:
    from agents.bc.train import TrainConfig, train

    config = TrainConfig(**config_dict)
    t0 = time.perf_counter()
    path = train(config)
    stats = json.loads((Path(config.out) / "train_stats.json").read_text())
    return {"path": str(path), "wall_seconds": time.perf_counter() - t0, **stats}


def _eval_job(
    seed: int,
    paths: dict[str, str],
    splits: Sequence[str],
    n_tasks: int,
    third_party: Sequence[str],
) -> dict[str, Any]:
    """Evaluate every agent of one seed; returns per-task outcome arrays as lists."""
    from agents.bc.agent import BCAgent
    from agents.bc.evaluate import evaluate_agent
    from agents.bc.train import load_checkpoint, load_pool
    from agents.memory import EpisodicMemory
    from agents.protocol import AgentContext, load_factory
    from agents.reference import reference_factory

    t0 = time.perf_counter()
    loaded = {name: load_checkpoint(path) for name, path in paths.items()}
    any_cfg = next(iter(loaded.values()))[1]
    world = any_cfg.world_config()
    pool = load_pool(any_cfg)
    memory = EpisodicMemory(n_object_types=world.n_object_types)
    memory.extend(pool)
    context = AgentContext(world, memory, seed)
    agents: dict[str, Any] = {}
    if "baseline" in loaded:
        model, cfg, _ = loaded["baseline"]
        agents["baseline"] = BCAgent(model, cfg, None, seed=seed)
    if "retrieval" in loaded:
        model, cfg, _ = loaded["retrieval"]
        agents["retrieval"] = BCAgent(model, cfg, memory, seed=seed)
        agents["retrieval-distractors"] = BCAgent(model, cfg, memory, n_relevant=0, seed=seed)
        if cfg.retrieval == "oracle":  # the same weights, with knn retrieval at test time
            knn = dataclasses.replace(cfg, retrieval="knn")
            agents["retrieval-knn@test"] = BCAgent(model, knn, memory, seed=seed)
    for mode in REFERENCES:
        agents[f"ref:{mode}"] = reference_factory(mode)(context)
    for spec in third_party:
        agents[spec.rsplit("/", 1)[-1]] = load_factory(spec)(context)
    out: dict[str, Any] = {}
    for name, agent in agents.items():
        for split in splits:
            r = evaluate_agent(agent, world, split, n_tasks, seed=1000 + seed)
            out[f"{name}|{split}"] = {
                "success": r.success.tolist(),
                "efficiency": r.efficiency.round(4).tolist(),
                "trivial": r.trivial.tolist(),
                "steps": r.steps.tolist(),
                "optimal": r.optimal.tolist(),
            }
    if "retrieval" in loaded:
        from agents.bc.probe import memory_probe

        model, cfg, _ = loaded["retrieval"]
        out["_probe"] = memory_probe(model, cfg, pool, memory)
    out["_seconds"] = time.perf_counter() - t0
    return out


def _probe_job(path: str) -> dict[str, Any]:
    """The memory probe alone (for evaluations cached before the probe existed)."""
    from agents.bc.probe import memory_probe
    from agents.bc.train import load_checkpoint, load_pool
    from agents.memory import EpisodicMemory

    model, cfg, _ = load_checkpoint(path)
    pool = load_pool(cfg)
    memory = EpisodicMemory(n_object_types=cfg.world_config().n_object_types)
    memory.extend(pool)
    return memory_probe(model, cfg, pool, memory)


def _goal_probe_job(paths: dict[str, str]) -> dict[str, Any]:
    """The goal-location probe of every BC agent with a goal head (see agents/bc/probe.py)."""
    from agents.bc.probe import goal_location_probe
    from agents.bc.train import load_checkpoint, load_pool
    from agents.memory import EpisodicMemory

    out: dict[str, Any] = {}
    for agent, path in sorted(paths.items()):
        model, cfg, _ = load_checkpoint(path)
        if model.goal_head is None:
            continue
        memory = None
        if cfg.agent == "retrieval":
            memory = EpisodicMemory(n_object_types=cfg.world_config().n_object_types)
            memory.extend(load_pool(cfg))
        out[agent] = goal_location_probe(model, cfg, memory)
    return out


def _belief_job(paths: dict[str, str], seed: int, n_tasks: int) -> dict[str, Any]:
    """The closed-loop belief probe on ``latent`` (agents.bc.probe.closed_loop_belief)."""
    from agents.bc.agent import BCAgent
    from agents.bc.probe import closed_loop_belief, told_success
    from agents.bc.train import load_checkpoint, load_pool
    from agents.memory import EpisodicMemory

    out: dict[str, Any] = {}
    for agent, path in sorted(paths.items()):
        model, cfg, _ = load_checkpoint(path)
        if model.goal_head is None:
            continue
        world = cfg.world_config()
        variants: dict[str, tuple[Any, int | None]] = {agent: (None, None)}
        if cfg.agent == "retrieval":
            memory = EpisodicMemory(n_object_types=world.n_object_types)
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


def _eval_key(job: tuple[Any, ...]) -> dict[str, Any]:
    """What an evaluation depends on: checkpoints (by content hash), splits, tasks, agents."""
    import hashlib

    seed, paths, splits, n_tasks, third_party = job
    digests = {a: hashlib.sha256(Path(p).read_bytes()).hexdigest() for a, p in paths.items()}
    return {
        "seed": seed,
        "checkpoints": digests,
        "splits": splits,
        "tasks": n_tasks,
        "third_party": third_party,
        "references": list(REFERENCES),
        "version": 1,
    }


def _cached_eval(out: Path, job: tuple[Any, ...]) -> dict[str, Any] | None:
    """A stored evaluation of exactly this job, if any."""
    path = out / f"eval_s{job[0]}.json"
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    result = stored["result"] if stored.get("key") == _eval_key(job) else None
    return result


def _store_eval(out: Path, job: tuple[Any, ...], result: dict[str, Any]) -> None:
    (out / f"eval_s{job[0]}.json").write_text(json.dumps({"key": _eval_key(job), "result": result}))


# ------------------------------------------------------------------------------------------
# aggregation and report


def aggregate(per_seed: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean and 95% half-width per agent x split (over seeds; over tasks for one seed)."""
    from agents.bc.evaluate import binomial_ci, mean_ci

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


def format_table(table: dict[str, dict[str, Any]], splits: Sequence[str]) -> str:
    """A plain-text agent x split table."""
    agents = list(dict.fromkeys(k.split("|")[0] for k in table))
    lines = [
        f"{'agent':<24}{'split':<10}{'success':>16}{'efficiency':>16}{'non-trivial':>13}"
        f"{'trivial':>9}{'tight':>8}",
    ]
    for agent in agents:
        for split in splits:
            row = table.get(f"{agent}|{split}")
            if row is None:
                continue
            lines.append(
                f"{agent:<24}{split:<10}"
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

    agents = list(dict.fromkeys(k.split("|")[0] for k in table))
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(splits) * len(agents) / 3), 4.2))
    width = 0.8 / len(agents)
    x = np.arange(len(splits))
    for j, agent in enumerate(agents):
        rows = [table.get(f"{agent}|{s}") for s in splits]
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
# main


def evaluate_seeds(
    args: argparse.Namespace, preset: Preset, paths: dict[tuple[str, int], str], out: Path
) -> dict[int, dict[str, Any]]:
    """Evaluate every seed (reusing stored evaluations of the same checkpoints and tasks)."""
    per_seed: dict[int, dict[str, Any]] = {}
    jobs = {}
    all_jobs = {}
    for seed in preset.seeds:
        job = all_jobs[seed] = (
            seed,
            {a: paths[(a, seed)] for a in args.bc_agents},
            list(args.splits),
            preset.eval_tasks,
            list(args.agent),
        )
        cached = _cached_eval(out, job)
        if cached is not None:  # these exact checkpoints, tasks and agents were evaluated
            per_seed[seed] = cached
        else:
            jobs[seed] = job
    with _executor(args.jobs, args.ray) as pool:
        futures = {seed: pool.submit(_eval_job, *job) for seed, job in jobs.items()}
        for seed, fut in futures.items():
            per_seed[seed] = fut.result()
            _store_eval(out, jobs[seed], per_seed[seed])
    if "retrieval" in args.bc_agents:
        missing = [seed for seed, r in per_seed.items() if "_probe" not in r]
        with _executor(args.jobs, args.ray) as pool:
            probes = {s: pool.submit(_probe_job, paths[("retrieval", s)]) for s in missing}
            for seed, fut in probes.items():
                per_seed[seed]["_probe"] = fut.result()
    missing = [seed for seed, r in per_seed.items() if "_goal_probe" not in r]
    with _executor(args.jobs, args.ray) as pool:
        goal_probes = {
            s: pool.submit(
                _goal_probe_job, {a: str(paths[(a, s)]) for a in args.bc_agents if (a, s) in paths}
            )
            for s in missing
        }
        for seed, fut in goal_probes.items():
            per_seed[seed]["_goal_probe"] = fut.result()
            _store_eval(out, all_jobs[seed], per_seed[seed])  # keep the probe with the evaluation
    missing = [seed for seed, r in per_seed.items() if "_belief" not in r]
    if "latent" in args.splits:
        with _executor(args.jobs, args.ray) as pool:
            beliefs = {
                s: pool.submit(
                    _belief_job,
                    {a: str(paths[(a, s)]) for a in args.bc_agents if (a, s) in paths},
                    s,
                    all_jobs[s][3],
                )
                for s in missing
            }
            for seed, fut in beliefs.items():
                per_seed[seed]["_belief"] = fut.result()
                _store_eval(out, all_jobs[seed], per_seed[seed])
    return dict(sorted(per_seed.items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (2 on bad input)."""
    t_start = time.perf_counter()
    args = build_parser().parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    try:
        preset, configs = make_configs(args)
        from agents.protocol import load_factory

        for spec in args.agent:
            load_factory(spec)  # a bad agent spec fails now, not after training
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

    # -- train what is missing, two single-thread processes side by side
    todo = [c for key, c in configs.items() if key not in existing]
    paths = {key: str(p) for key, p in existing.items()}
    train_stats: dict[str, Any] = {}
    t_train = time.perf_counter()
    if todo:
        say(f"training {len(todo)} agent(s) ({preset.steps} steps each, {args.jobs} jobs) ...")
        with _executor(args.jobs, args.ray) as pool:
            futures = {(c.agent, c.seed): pool.submit(_train_job, asdict(c)) for c in todo}
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

    # -- evaluate every seed
    say(
        f"evaluating {len(preset.seeds)} seed(s) x {len(args.splits)} splits x "
        f"{preset.eval_tasks} tasks ..."
    )
    t_eval = time.perf_counter()
    per_seed = evaluate_seeds(args, preset, paths, out)
    eval_seconds = time.perf_counter() - t_eval

    table = aggregate(per_seed)
    text = format_table(table, args.splits)
    say("")
    say(text)
    for line in probe_lines(per_seed):
        say(line)
    c0 = next(iter(configs.values()))
    title = (
        f"{args.preset}: {len(preset.seeds)} seed(s), {preset.steps} steps, "
        f"{preset.eval_tasks} tasks/split, world {c0.world}, retrieval {c0.retrieval}"
        + "".join(f", --set {item}" for item in args.set)
    )
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
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.txt").write_text(title + "\n\n" + text + "\n")
    if not args.no_plot:
        plot(table, args.splits, out / "results.png", title)
    say(f"\nwrote {out / 'results.json'}" + ("" if args.no_plot else f", {out / 'results.png'}"))
    say(
        f"wall time: {results['wall_seconds']['total']:.0f} s "
        f"(train {train_seconds:.0f} s, eval {eval_seconds:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
