"""The benchmark's jobs, run where the executor puts them, and the executors themselves.

Each job function takes one job of :mod:`agents.experiments.jobs` and returns its typed result;
they are module-level functions so that a spawned process or a Ray worker imports them by name.
Spawned processes, not forked ones: FAISS/torch OpenMP and fork do not mix. Every job runs
single-threaded (:func:`init_worker`), so ``--jobs N`` uses N cores.

This module imports torch and FAISS (the BC agents, the memory, the probes); the driver's other
modules do not, so ``--help`` and the report stay light (``agents.experiments.cli`` imports the
run, and with it this module, only after the arguments parse).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from agents.bc.agent import BCAgent
from agents.bc.checkpoint import load_checkpoint
from agents.bc.config import TrainConfig
from agents.bc.probe import closed_loop_belief, goal_location_probe, memory_probe, told_success
from agents.bc.train import load_pool, train
from agents.distributed import RayExecutor
from agents.evaluation import evaluate_agent
from agents.experiments.jobs import (
    REFERENCES,
    BeliefJob,
    EvalJob,
    EvalJobResult,
    GoalProbeJob,
    RowKey,
    RowOutcome,
    TrainJob,
    TrainResult,
    third_party_name,
)
from agents.memory import EpisodicMemory
from agents.progress import StatusWriter, TqdmToStatus
from agents.protocol import AgentContext, load_factory
from agents.reference import reference_factory

# ------------------------------------------------------------------------------------------
# executors


class _Done:
    """A finished 'future' (``--jobs 1`` runs everything in this process)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _InProcess:
    """The ``ProcessPoolExecutor`` calls the benchmark uses, run in this process."""

    def __enter__(self) -> _InProcess:
        init_worker()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Done:
        return _Done(fn(*args))


def executor(jobs: int, ray: str | None = None) -> Any:
    """Where the jobs run: this process (``jobs == 1``), spawned processes, or Ray tasks."""
    if ray is not None:
        return RayExecutor(ray, initializer=init_worker, local_num_cpus=jobs)
    if jobs == 1:
        return _InProcess()
    ctx = multiprocessing.get_context("spawn")  # FAISS/torch OpenMP and fork do not mix
    return ProcessPoolExecutor(jobs, mp_context=ctx, initializer=init_worker)


def init_worker() -> None:
    """One thread per job: the jobs side by side share the cores, not each other's threads."""
    torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------
# jobs


def run_train(job: TrainJob) -> TrainResult:
    """Train one agent; with a ``status`` file, its tqdm bar reports there (steps, loss, ETA)."""
    # frozen: with --jobs 1 training runs in this process, and the run's config stays as it
    # was (results.json records it)
    config = job.config
    label = f"{config.agent} s{config.seed}"
    writer = StatusWriter(job.status, label)
    writer.update("setup")
    t0 = time.perf_counter()
    if job.status is None:
        path = train(config)
    else:  # the bar goes to the status file, never to the shared terminal
        config = dataclasses.replace(config, progress=True)
        with contextlib.redirect_stderr(TqdmToStatus(writer, sys.stderr, train_desc=label)):
            path = train(config)
    stats = json.loads((Path(config.out) / "train_stats.json").read_text())
    writer.done(f"loss {stats['final_loss']:.3f}")
    return TrainResult(str(path), time.perf_counter() - t0, stats)


def run_eval(job: EvalJob) -> EvalJobResult:
    """Evaluate ``job.rows`` (and the memory probe): per-task outcomes per row."""
    t0 = time.perf_counter()
    writer = StatusWriter(job.status, f"eval s{job.seed}")
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
    makers: dict[str, Callable[..., Any]] = {}  # agent name -> a fresh agent
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
    rows: dict[RowKey, RowOutcome] = {}
    for i, key in enumerate(job.rows):
        writer.update("evaluate", i, len(job.rows), f"{key.agent} on {key.split}")
        # a fresh agent per row: its random draws then depend on the row alone, not on which
        # rows ran before it, so a row evaluated alone equals the same row of a full run
        agent = makers[key.agent]()
        r = evaluate_agent(agent, world, key.split, job.n_tasks, seed=1000 + seed)
        rows[key] = RowOutcome.of(r)
    probe = None
    if job.probe and "retrieval" in loaded:
        writer.update("memory probe")
        probe = memory_probe(r_model, r_cfg, pool, memory)
    seconds = time.perf_counter() - t0
    writer.done()
    return EvalJobResult(rows, probe, seconds)


def _with_goal_heads(
    paths: Mapping[str, str], writer: StatusWriter, stage: str
) -> Iterator[tuple[str, Any, TrainConfig]]:
    """The BC agents of ``paths`` whose model has a goal head, loaded in name order."""
    for i, (agent, path) in enumerate(sorted(paths.items())):
        writer.update(stage, i, len(paths), agent)
        model, cfg, _ = load_checkpoint(path)
        if model.goal_head is not None:
            yield agent, model, cfg


def _pool_memory(config: TrainConfig) -> EpisodicMemory:
    """The memory of a run's pool dataset: what its retrieval agent retrieves from."""
    memory = EpisodicMemory.for_world(config.world_config())
    memory.extend(load_pool(config))
    return memory


def run_goal_probe(job: GoalProbeJob) -> dict[str, Any]:
    """The goal-location probe of every BC agent with a goal head (see agents/bc/probe.py)."""
    writer = StatusWriter(job.status, job.label)
    out: dict[str, Any] = {}
    for agent, model, cfg in _with_goal_heads(job.paths, writer, "goal-location probe"):
        memory = _pool_memory(cfg) if cfg.agent == "retrieval" else None
        out[agent] = goal_location_probe(model, cfg, memory)
    writer.done()
    return out


def run_belief(job: BeliefJob) -> dict[str, Any]:
    """The closed-loop belief probe on ``latent`` (agents.bc.probe.closed_loop_belief)."""
    seed, n_tasks = job.seed, job.n_tasks
    writer = StatusWriter(job.status, f"belief s{seed}")
    out: dict[str, Any] = {}
    for agent, model, cfg in _with_goal_heads(job.paths, writer, "closed-loop belief"):
        world = cfg.world_config()
        variants: dict[str, tuple[Any, int | None]] = {agent: (None, None)}
        if cfg.agent == "retrieval":
            memory = _pool_memory(cfg)
            variants = {agent: (memory, None), f"{agent}-distractors": (memory, 0)}
        for name, (mem, n_relevant) in variants.items():
            bc = BCAgent(model, cfg, mem, n_relevant=n_relevant, seed=seed)
            # the tasks of the table's latent column (evaluate_agent's seed in run_eval)
            out[name] = closed_loop_belief(bc, world, "latent", n_tasks, seed=1000 + seed)
            if model.target_embed is not None:  # the same tasks, told the true goal cell
                told = BCAgent(model, cfg, mem, n_relevant=n_relevant, seed=seed, told_goal=True)
                out[name]["success_if_told"] = told_success(
                    told, world, "latent", n_tasks, seed=1000 + seed
                )
    writer.done()
    return out
