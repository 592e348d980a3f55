"""The floor under the latent test: what memoryless references solve, beside the ceiling.

A latent test measures memory only if no memoryless policy passes it. This script runs the
scripted references of ``agents/reference.py`` through the env (success counted as the env
does: the goal reached before the env's step budget truncates the task) on the latent split of
each world, over several pool seeds, and prints one row per (world, budget):

- ``search_then_path``: knows the layout, walks to the nearest cell it has not stood on;
- ``frontier``: knows the layout, walks to the nearest cell whose view shows unseen floor;
- ``placement_informed``: like ``frontier``, but only over cells where objects can be (arm
  ends), minus this maze's explicit goals (the strongest memoryless searcher);
- ``told_cell``: told the goal's cell (the ceiling: what an agent that remembers reaches);

plus the median / p90 shortest path, the share of tasks with the goal in view at the start,
and the latent coverage of the expert's first 1,000 ``train`` episodes (the share of latent
(maze, object) pairs seen in view at least once). Each number is the mean over pool seeds, with
the range over seeds in brackets.

    python benchmarks/search_floor.py                           # v1 and v0, 4 pool seeds
    python benchmarks/search_floor.py --worlds v1 --budgets 1.5,2 2,4 --tasks 400
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agents.evaluation import evaluate_agent
from agents.protocol import AgentContext
from agents.reference import reference_factory
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.registration import WORLD_V1
from latent_gridworld.testing import latent_coverage

POLICIES = ("search_then_path", "frontier", "placement_informed", "told_cell")
WORLDS: dict[str, dict[str, Any]] = {
    "v1": dict(WORLD_V1),
    # v0: the braided world (13x13, 5x5 view, 4 objects of which 1 latent)
    "v0": {},
}


def _budget(text: str) -> tuple[float, int]:
    scale, offset = text.split(",")
    return float(scale), int(offset)


def measure(world: dict[str, Any], budget: tuple[float, int], pool_seed: int, tasks: int) -> dict:
    """Latent success of every policy and the task statistics, for one pool seed."""
    config = WorldConfig(
        **{**world, "budget_scale": budget[0], "budget_offset": budget[1]}, pool_seed=pool_seed
    )
    out: dict[str, float] = {}
    for mode in POLICIES:
        policy = reference_factory(mode)(AgentContext(config, None, 0))
        r = evaluate_agent(policy, config, "latent", tasks, seed=1000)
        out[mode] = float(r.success.mean())
    told = reference_factory("told_cell")(AgentContext(config, None, 0))
    out["told_explicit"] = float(
        evaluate_agent(told, config, "explicit", tasks, 1000).success.mean()
    )
    out["median"] = float(np.median(r.optimal))
    out["p90"] = float(np.percentile(r.optimal, 90))
    out["in_view"] = float(r.trivial.mean())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    p.add_argument(
        "--budgets",
        type=_budget,
        nargs="+",
        default=[(1.5, 2), (2.0, 4)],
        help="scale,offset pairs: the budget is floor(scale * shortest + offset)",
    )
    p.add_argument("--pool-seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--tasks", type=int, default=300, help="latent tasks per pool seed")
    p.add_argument("--coverage-episodes", type=int, default=1000)
    args = p.parse_args()

    t0 = time.perf_counter()
    rows = []
    grid = [(w, b, s) for w in args.worlds for b in args.budgets for s in args.pool_seeds]
    results: dict[tuple[str, tuple[float, int]], list[dict]] = {}
    for name, budget, seed in tqdm(grid, desc="worlds x budgets x pool seeds"):
        results.setdefault((name, budget), []).append(
            measure(WORLDS[name], budget, seed, args.tasks)
        )
    coverage = {
        name: [
            latent_coverage(
                args.coverage_episodes,
                seed=0,
                env_id="LatentGridworld/ASCII-v0",
                **WORLDS[name],
                pool_seed=s,
            ).pair_share
            for s in args.pool_seeds
        ]
        for name in args.worlds
    }
    keys = [*POLICIES, "told_explicit", "median", "p90", "in_view"]
    print(
        f"\nlatent split, {args.tasks} tasks x {len(args.pool_seeds)} pool seeds per row, "
        f"{time.perf_counter() - t0:.0f} s in all; mean [min-max over pool seeds]\n"
    )
    head = " | ".join(["world", "budget", *keys, "coverage@" + str(args.coverage_episodes)])
    print(f"| {head} |")
    print("|" + "---|" * (len(keys) + 3))
    for (name, budget), rs in results.items():
        cells = []
        for k in keys:
            v = np.array([r[k] for r in rs])
            fmt = ".0f" if k in ("median", "p90") else ".3f"
            cells.append(f"{v.mean():{fmt}} [{v.min():{fmt}}-{v.max():{fmt}}]")
        cov = np.array(coverage[name])
        cells.append(f"{cov.mean():.3f} [{cov.min():.3f}-{cov.max():.3f}]")
        rows.append(f"| {name} | {budget[0]:g}x+{budget[1]} | " + " | ".join(cells) + " |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
