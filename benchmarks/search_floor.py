"""How much of `latent` a memoryless agent can solve by search: the floor under the baseline.

The paper's claim is that a parametric learner fails latent tasks because it never learnt
where latent objects are. In a gridworld it can still *find* them: a policy that has learnt a
maze's layout (not where the goal is) can search it systematically. This script measures that
floor for any world, with two scripted references (agents/reference.py):

- ``search_then_path``: knows the layout, walks to the nearest cell it has not stood on until
  the goal has been seen, then takes the shortest path (a strong memoryless searcher);
- ``wander_then_path``: a random walk until the goal has been seen, then the shortest path.

Success is counted under three step budgets: the benchmark's ``2 x shortest + 4`` (D9), a
tight ``shortest + 4`` and ``1.5 x shortest + 2``. A latent test measures memory only where
``search_then_path`` is low; docs/results.md section 11 has the table.

    python benchmarks/search_floor.py                     # sizes 13 17 21, views 3 5
    python benchmarks/search_floor.py --sizes 13 --views 5 --tasks 1000
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from tqdm.auto import tqdm

from agents.bc.evaluate import evaluate_agent
from agents.protocol import AgentContext
from agents.reference import reference_factory
from latent_gridworld.core.config import WorldConfig

MODES = ("search_then_path", "wander_then_path")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[13, 17, 21])
    p.add_argument("--views", type=int, nargs="+", default=[3, 5])
    p.add_argument("--split", default="latent", help="latent, explicit or new_maze")
    p.add_argument("--tasks", type=int, default=300, help="tasks per world and policy")
    p.add_argument("--seed", type=int, default=1000)
    args = p.parse_args()

    rows = []
    grid = list(itertools.product(args.sizes, args.views, MODES))
    t0 = time.perf_counter()
    for size, view, mode in tqdm(grid, desc="worlds x policies"):
        # the benchmark's world (16 mazes, 4 of 8 types, 1 latent, braid 0.3) at this size/view
        world = WorldConfig(size=size, view_size=view, n_mazes=16, position_cue=True)
        policy = reference_factory(mode)(AgentContext(world, None, 0))
        r = evaluate_agent(policy, world, args.split, args.tasks, seed=args.seed)
        ok, steps, opt = r.success, r.steps, r.optimal
        rows.append(
            (
                size,
                view,
                mode,
                ok.mean(),
                (ok & (steps <= 1.5 * opt + 2)).mean(),
                (ok & (steps <= opt + 4)).mean(),
                r.trivial.mean(),
                float(np.median(opt)),
            )
        )
    print(
        f"\n{args.split} split, {args.tasks} tasks per row, "
        f"{time.perf_counter() - t0:.0f} s in all\n"
    )
    print("| size | view | policy | 2x+4 | 1.5x+2 | x+4 | in view at start | median shortest |")
    print("|---|---|---|---|---|---|---|---|")
    for size, view, mode, a, b, c, triv, med in rows:
        print(
            f"| {size} | {view} | {mode} | {a:.3f} | {b:.3f} | {c:.3f} | {triv:.2f} | {med:.0f} |"
        )


if __name__ == "__main__":
    main()
