"""One benchmark run, top to bottom: validate, train what is missing, evaluate, write the results.

For every seed it trains the baseline and the retrieval agent with one config (they differ only
in the memory), then evaluates every row (:func:`agents.experiments.jobs.agent_names` x split)
that no stored evaluation covers, runs the probes, and writes ``results.{json,txt,png}``. Jobs
run side by side in single-thread processes or on Ray (:mod:`agents.experiments.workers`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from agents.bc.config import TrainConfig
from agents.distributed import connect_ray
from agents.experiments.cache import EvalCache, Probe, SeedEval, file_digest, row_identities
from agents.experiments.configs import find_checkpoint, make_configs
from agents.experiments.jobs import (
    BeliefJob,
    EvalJob,
    GoalProbeJob,
    RowKey,
    SeedResults,
    TrainJob,
    TrainResult,
    agent_names,
    third_party_name,
)
from agents.experiments.presets import DEFAULT_PRESET, PRESETS, Preset
from agents.experiments.report import plot, render_results, run_title
from agents.experiments.results import (
    aggregate,
    choose_results_stem,
    results_document,
    run_settings,
)
from agents.experiments.workers import executor, run_belief, run_eval, run_goal_probe, run_train
from agents.progress import Monitor
from agents.protocol import load_factory


def _status_files(out: Path, labels: Sequence[str], quiet: bool) -> dict[str, Path]:
    """A progress file per job label (none when ``--quiet``)."""
    if quiet:
        return {}
    return {label: out / ".progress" / f"{label.replace(' ', '_')}.json" for label in labels}


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def train_agents(
    args: argparse.Namespace,
    todo: Sequence[TrainConfig],
    out: Path,
    say: Callable[[str], None],
) -> dict[tuple[str, int], TrainResult]:
    """Train ``todo``, ``--jobs`` single-thread jobs side by side; (agent, seed) -> its result."""
    every = 0.0 if args.quiet else args.progress_every
    files = _status_files(out, [f"{c.agent} s{c.seed}" for c in todo], args.quiet)
    trained: dict[tuple[str, int], TrainResult] = {}
    with Monitor(files, say, every), executor(args.jobs, args.ray) as pool:
        futures = {
            (c.agent, c.seed): pool.submit(
                run_train, TrainJob(c, _str(files.get(f"{c.agent} s{c.seed}")))
            )
            for c in todo
        }
        for key, fut in futures.items():
            result: TrainResult = fut.result()
            trained[key] = result
            say(
                f"  {key[0]} seed {key[1]}: {result.stats['train_seconds']:.0f} s, "
                f"loss {result.stats['final_loss']:.3f}"
            )
    return trained


def evaluate_seeds(
    args: argparse.Namespace,
    preset: Preset,
    configs: Mapping[tuple[str, int], TrainConfig],
    paths: Mapping[tuple[str, int], str],
    out: Path,
    say: Callable[[str], None] = lambda line: None,
) -> dict[int, SeedResults]:
    """Evaluate every seed, reusing each stored row whose checkpoint, agent and tasks match."""
    every = 0.0 if args.quiet else args.progress_every
    n_tasks = preset.eval_tasks
    seeds: dict[int, SeedEval] = {}
    for seed in preset.seeds:
        seed_paths = {a: str(paths[(a, seed)]) for a in args.bc_agents}
        seed_configs = {a: configs[(a, seed)] for a in args.bc_agents}
        seeds[seed] = SeedEval(
            paths=seed_paths,
            digests={a: file_digest(p) for a, p in seed_paths.items()},
            identities=row_identities(seed, seed_configs, seed_paths, args.agent, n_tasks),
            cache=EvalCache() if args.reevaluate else EvalCache.load(out, seed),
        )
    jobs = {
        seed: EvalJob(
            seed,
            s.paths,
            n_tasks,
            tuple(args.agent),
            s.todo(args.splits),
            probe="retrieval" in args.bc_agents and not s.has_probe(Probe.MEMORY, n_tasks),
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
    with Monitor(files, say, every), executor(args.jobs, args.ray) as pool:
        futures = {
            seed: pool.submit(run_eval, replace(job, status=_str(files.get(f"eval s{seed}"))))
            for seed, job in jobs.items()
        }
        for seed, fut in futures.items():
            result = fut.result()
            seeds[seed].add_rows(result.rows)
            if result.memory_probe is not None:
                seeds[seed].set_probe(Probe.MEMORY, n_tasks, result.memory_probe)
            seeds[seed].cache.store(out, seed)

    # the probes, each in its own jobs (and only for checkpoints not probed before)
    probes: list[tuple[Probe, str, str]] = [(Probe.GOAL, "goal probe", "goal-location probe")]
    if "latent" in args.splits:
        probes.append((Probe.BELIEF, "belief", "closed-loop belief probe"))
    for probe, label, title in probes:
        missing = [seed for seed, s in seeds.items() if not s.has_probe(probe, n_tasks)]
        if not missing:
            continue
        say(f"{title} of {len(missing)} seed(s) ...")
        files = _status_files(out, [f"{label} s{seed}" for seed in missing], args.quiet)
        with Monitor(files, say, every), executor(args.jobs, args.ray) as pool:
            submitted = {}
            for seed in missing:
                status = _str(files.get(f"{label} s{seed}"))
                if probe is Probe.GOAL:
                    job = GoalProbeJob(seeds[seed].paths, status, f"{label} s{seed}")
                    submitted[seed] = pool.submit(run_goal_probe, job)
                else:
                    belief = BeliefJob(seeds[seed].paths, seed, n_tasks, status)
                    submitted[seed] = pool.submit(run_belief, belief)
            for seed, fut in submitted.items():
                seeds[seed].set_probe(probe, n_tasks, fut.result())
                seeds[seed].cache.store(out, seed)
    return {seed: s.result(args.splits, n_tasks) for seed, s in sorted(seeds.items())}


def run(args: argparse.Namespace, argv: Sequence[str] | None, t_start: float) -> int:
    """The run of parsed ``args``; returns the exit status (2 on bad input, before any work).

    Args:
        args: The parsed command line (:func:`agents.experiments.arguments.build_parser`).
        argv: The command line as given (``None``: ``sys.argv``), recorded in ``results.json``.
        t_start: When the command started (``time.perf_counter``), for the wall time.
    """
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    every = 0.0 if args.quiet else args.progress_every
    try:
        preset, configs = make_configs(args)
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
            "train_config": c0.to_dict(),
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
        for (agent, seed), trained in train_agents(args, todo, out, say).items():
            paths[(agent, seed)] = trained.path
            train_stats[f"{agent}_s{seed}"] = trained.record()
    train_seconds = time.perf_counter() - t_train
    for (agent, seed), path in existing.items():
        stats_file = Path(path).parent / "train_stats.json"
        if stats_file.exists():
            train_stats[f"{agent}_s{seed}"] = json.loads(stats_file.read_text())

    # -- evaluate every seed (only the rows no stored evaluation covers)
    t_eval = time.perf_counter()
    per_seed = evaluate_seeds(args, preset, configs, paths, out, say)
    eval_seconds = time.perf_counter() - t_eval

    table = aggregate({seed: r.rows for seed, r in per_seed.items()})
    results = results_document(
        preset=args.preset,
        argv=list(sys.argv[1:] if argv is None else argv),
        seeds=preset.seeds,
        steps=preset.steps,
        eval_tasks=preset.eval_tasks,
        train_config=c0.to_dict(),
        table=table,
        per_seed=per_seed,
        train_stats=train_stats,
        wall_seconds={
            "total": time.perf_counter() - t_start,
            "train": train_seconds,
            "eval": eval_seconds,
        },
        machine={
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    )
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
