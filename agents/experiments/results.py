"""From per-task outcomes to the table's numbers, and ``results.json`` (written, read, compared).

:func:`aggregate` makes a :class:`RowSummary` per row: the mean over seeds with a 95%
t-interval, or for one seed a binomial interval over its tasks. :func:`results_document` is
``results.json`` (its layout is what ``benchmarks/check_result_tables.py`` and the committed
``docs/result_tables/*.json`` read, so it does not change), :func:`seed_results` reads it back,
and :func:`choose_results_stem` keeps a run from overwriting another run's files silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.evaluation import binomial_ci, mean_ci
from agents.experiments.jobs import RowKey, RowOutcome, SeedResults

TIGHT_SLACK = 4  # the tight success budget: shortest path + 4 steps


@dataclass(frozen=True)
class RowSummary:
    """One row of the table (an agent on a split), over every seed.

    Attributes:
        success: Mean success.
        success_ci: Its 95% half-width (over seeds; over tasks for one seed).
        efficiency: Mean path efficiency.
        efficiency_ci: Its 95% half-width.
        success_nontrivial: Success on the tasks whose goal is out of view at the start.
        success_trivial: Success on the others.
        trivial_share: The share of trivial tasks.
        success_tight: Success within shortest + :data:`TIGHT_SLACK` steps.
        per_seed_success: Mean success of each seed.
        tasks_per_seed: Tasks of one seed.
    """

    success: float
    success_ci: float
    efficiency: float
    efficiency_ci: float
    success_nontrivial: float
    success_trivial: float
    trivial_share: float
    success_tight: float
    per_seed_success: tuple[float, ...]
    tasks_per_seed: int

    def to_json(self) -> dict[str, Any]:
        """The row of ``results.json``'s ``table``."""
        return {**asdict(self), "per_seed_success": list(self.per_seed_success)}


def aggregate(per_seed: Mapping[int, Mapping[RowKey, RowOutcome]]) -> dict[RowKey, RowSummary]:
    """Mean and 95% half-width per agent x split (over seeds; over tasks for one seed)."""
    keys = list(dict.fromkeys(k for rows in per_seed.values() for k in rows))
    table: dict[RowKey, RowSummary] = {}
    for key in keys:
        runs = [rows[key] for rows in per_seed.values() if key in rows]
        success = [np.asarray(x.success, dtype=bool) for x in runs]
        eff = [np.asarray(x.efficiency, dtype=float) for x in runs]
        trivial = [np.asarray(x.trivial, dtype=bool) for x in runs]
        if len(runs) > 1:
            s, s_ci = mean_ci([x.mean() for x in success])
            e, e_ci = mean_ci([x.mean() for x in eff])
        else:
            s, s_ci = binomial_ci(success[0])
            e, e_ci = float(eff[0].mean()), float(1.96 * eff[0].std(ddof=1) / np.sqrt(len(eff[0])))
        # success within a tight budget of shortest + 4 steps: an explorer that does not know
        # where the goal is rarely makes it (the default budget is 2 x shortest + 4)
        tight = [
            np.asarray(x.success, dtype=bool)
            & (np.asarray(x.steps) <= np.asarray(x.optimal) + TIGHT_SLACK)
            for x in runs
            if x.steps is not None and x.optimal is not None
        ]
        nontrivial = [x[~t].mean() for x, t in zip(success, trivial, strict=True) if (~t).any()]
        trivial_s = [x[t].mean() for x, t in zip(success, trivial, strict=True) if t.any()]
        table[key] = RowSummary(
            success=s,
            success_ci=s_ci,
            efficiency=e,
            efficiency_ci=e_ci,
            success_nontrivial=float(np.mean(nontrivial)) if nontrivial else float("nan"),
            success_trivial=float(np.mean(trivial_s)) if trivial_s else float("nan"),
            trivial_share=float(np.mean([t.mean() for t in trivial])),
            success_tight=float(np.mean([x.mean() for x in tight])) if tight else float("nan"),
            per_seed_success=tuple(float(x.mean()) for x in success),
            tasks_per_seed=int(len(success[0])),
        )
    return table


def table_agents(table: Mapping[RowKey, Any]) -> list[str]:
    """The agents of a table (or a seed's rows), in order of first appearance."""
    return list(dict.fromkeys(key.agent for key in table))


def results_document(
    *,
    preset: str,
    argv: list[str],
    seeds: list[int],
    steps: int,
    eval_tasks: int,
    train_config: dict[str, Any],
    table: Mapping[RowKey, RowSummary],
    per_seed: Mapping[int, SeedResults],
    train_stats: dict[str, Any],
    wall_seconds: dict[str, float],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """``results.json``: the run's settings, the table, every task's outcome, the probes."""
    return {
        "preset": preset,
        "argv": argv,
        "seeds": seeds,
        "steps": steps,
        "eval_tasks": eval_tasks,
        "train_config": train_config,
        "table": {str(key): row.to_json() for key, row in table.items()},
        "per_seed": {
            str(s): {str(key): outcome.to_json() for key, outcome in r.rows.items()}
            for s, r in per_seed.items()
        },
        "memory_probe": {
            str(s): r.memory_probe for s, r in per_seed.items() if r.memory_probe is not None
        },
        "goal_probe": {str(s): r.goal_probe for s, r in per_seed.items() if r.goal_probe},
        "closed_loop_belief": {str(s): r.belief for s, r in per_seed.items() if r.belief},
        "train_stats": train_stats,
        "wall_seconds": wall_seconds,
        "machine": machine,
    }


def seed_results(results: Mapping[str, Any]) -> dict[int, SeedResults]:
    """``results.json``'s outcomes and probes, back in the per-seed form of a run."""
    per_seed: dict[int, SeedResults] = {}
    for seed, rows in results["per_seed"].items():
        probes = {
            name: results[field_name][seed]
            for name, field_name in (
                ("memory_probe", "memory_probe"),
                ("goal_probe", "goal_probe"),
                ("belief", "closed_loop_belief"),
            )
            if seed in results.get(field_name, {})
        }
        per_seed[int(seed)] = SeedResults(
            {RowKey.parse(k): RowOutcome.from_json(v) for k, v in rows.items()}, **probes
        )
    return per_seed


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
