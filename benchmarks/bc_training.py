"""BC training speed: the code before the speed-up (commit 893fd40) against this tree, one run.

Each version trains the same config through its own ``agents.bc.train.train`` in a subprocess
with one thread (``threads=1``, ``OMP_NUM_THREADS=1``), on one pool dataset generated once and
loaded by both (setup is not timed), without evaluation or TensorBoard. Reported per step:
the whole step, the data pipeline (sampling, expert episodes and mazes of the stream,
retrieval, token rows, collation) and the model (forward, backward, clipping, optimiser; for
the old code, the step minus its data time). The old tree comes from ``git archive``.

    python benchmarks/bc_training.py                      # both recipes, 300 steps each
    python benchmarks/bc_training.py --steps 100 --recipes cli --clock wall

Numbers are averages over all steps, the first ones included (the stream buffer fills and the
new code's per-episode token caches warm up then), so the ratio is if anything conservative.

The last table is the bound on the model's share: the floating-point operations of one
gradient step of this tree's model on real batches of each recipe (``torch``'s flop counter:
forward, backward), and the time they take at the single-thread fp32 rate of a large matrix
product on this CPU (the best case for these few, small matrices), next to a tenth of the old
step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OLD_COMMIT = "893fd40"
ROOT = Path(__file__).resolve().parent.parent

# the preset recipe of agents/experiments/presets.py (RECIPE); "cli" is a bare TrainConfig, as
# ``python -m agents.bc.train --agent retrieval`` trains
RECIPES: dict[str, dict[str, Any]] = {
    "cli": {},
    "default": {
        "aux_goal_weight": 1.0,
        "object_slots": 2,
        "memory_trim": "goal",
        "relevant_goal": "other",
    },
}

# ``time.perf_counter`` (what both versions' loops time themselves with) is swapped for the
# process's CPU clock: the seconds this one core spent, whatever else the machine runs (on a
# shared 2-core machine wall time mostly measures the neighbours)
WORKER = """
import json, sys, time
if sys.argv[2] == "cpu":
    time.perf_counter = time.process_time
from agents.bc.train import TrainConfig, train
# the old tree's config took the dict as keyword arguments; the typed one reads it
read = getattr(TrainConfig, "from_dict", lambda values: TrainConfig(**values))
config = read(json.loads(sys.argv[1]))
train(config)
print("STATS " + open(config.out + "/train_stats.json").read().replace("\\n", " "))
"""


def run_version(tree: Path, config: dict[str, Any], clock: str) -> dict[str, float]:
    """Train ``config`` with the code in ``tree``; seconds per step (total, data, model)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(config), clock],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"training in {tree} failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("STATS "))
    stats = json.loads(line[len("STATS ") :])
    steps = stats["steps"]
    total = stats["train_seconds"] / steps
    data = stats["data_seconds"] / steps
    model = stats["model_seconds"] / steps if "model_seconds" in stats else total - data
    return {"step": total, "data": data, "model": model}


def matmul_rate(repeats: int = 100) -> float:
    """Single-thread fp32 GFLOP/s of a (4096 x 256) @ (256 x 256) product on this CPU."""
    import time

    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(4096, 256), torch.randn(256, 256)
    a @ b
    t0 = time.process_time()
    for _ in range(repeats):
        a @ b
    return 2 * 4096 * 256 * 256 * repeats / (time.process_time() - t0) / 1e9


def model_flops(config: dict[str, Any], batches: int = 5) -> float:
    """Mean GFLOP of one forward + backward of this tree's model, on ``config``'s batches."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from agents.bc.batch import ContextMaker, to_tensors
    from agents.bc.data import SampleStream
    from agents.bc.model import BCTransformer
    from agents.bc.train import TrainConfig, load_pool
    from agents.memory import EpisodicMemory

    torch.set_num_threads(1)
    cfg = TrainConfig.from_dict(config)
    world = cfg.world_config()
    pool = load_pool(cfg)
    memory = None
    if cfg.agent == "retrieval":
        memory = EpisodicMemory.for_world(world)
        memory.extend(pool)
    stream = SampleStream(world, pool, cfg.stream, cfg.seed)
    maker = ContextMaker(cfg, memory)
    model = BCTransformer(cfg.model_config())
    total = 0.0
    for _ in range(batches):
        batch = to_tensors(maker.contexts(stream.batch(cfg.batch_size)))
        with FlopCounterMode(display=False) as counter:
            loss, _ = model.training_loss(batch, cfg.goal_teacher_forcing, cfg.aux_goal_weight)
            loss.backward()
        total += counter.get_total_flops()
    return total / batches / 1e9


def old_tree(where: Path) -> Path:
    """The repository at :data:`OLD_COMMIT`, unpacked into ``where``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", OLD_COMMIT], capture_output=True, check=True
    ).stdout
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def main(argv: list[str] | None = None) -> int:
    """Print the old-vs-new table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--agent", default="retrieval", choices=["baseline", "retrieval"])
    p.add_argument("--pool-episodes", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--world", default="{}", help="JSON merged into the default world")
    p.add_argument(
        "--clock",
        default="cpu",
        choices=["cpu", "wall"],
        help="cpu: the process's CPU seconds (default; per core); wall: elapsed seconds",
    )
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from agents.bc.train import TrainConfig, load_pool
    from latent_gridworld.datasets import save_dataset

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old = old_tree(tmp / "old")
        world = {**TrainConfig().to_dict()["world"], **json.loads(args.world)}
        base = TrainConfig.from_dict(
            {
                "seed": args.seed,
                "pool_episodes": args.pool_episodes,
                "progress": False,
                "world": world,
            }
        )
        pool_path = tmp / "pool.npz"
        save_dataset(load_pool(base), pool_path)  # type: ignore[arg-type]
        rows = []
        flops_by_recipe: dict[str, float] = {}
        for recipe in args.recipes:
            config = {
                "agent": args.agent,
                "seed": args.seed,
                "steps": args.steps,
                "world": world,
                "dataset": str(pool_path),
                "eval_tasks": 0,
                "threads": 1,
                "progress": False,
                "tensorboard": False,
                **RECIPES[recipe],
            }
            flops_by_recipe[recipe] = model_flops({**config, "out": str(tmp / "flops")})
            times = {}
            for name, tree in (("old", old), ("new", ROOT)):
                out = tmp / f"{recipe}-{name}"
                times[name] = run_version(tree, {**config, "out": str(out)}, args.clock)
                print(f"{recipe} {name}: {times[name]}", file=sys.stderr, flush=True)
            rows.append((recipe, times))

    print(
        f"BC training speed ({args.clock} seconds), agent {args.agent}, {args.steps} steps, "
        f"batch 32, 1 thread, world {json.dumps(world, sort_keys=True)}"
    )
    print()
    head = "| recipe | code | steps/s | s/step | data s/step | model s/step | speed-up |"
    print(head)
    print("|" + "---|" * 7)
    for recipe, times in rows:
        for name in ("old", "new"):
            t = times[name]
            ratio = times["old"]["step"] / t["step"]
            print(
                f"| {recipe} | {name} | {1 / t['step']:.1f} | {t['step']:.4f} | "
                f"{t['data']:.4f} | {t['model']:.4f} | {ratio:.1f}x |"
            )
    print()
    for recipe, times in rows:
        o, n = times["old"], times["new"]
        print(
            f"{recipe}: step {o['step'] / n['step']:.1f}x, data {o['data'] / n['data']:.1f}x, "
            f"model {o['model'] / n['model']:.1f}x"
        )
    rate = matmul_rate()
    print()
    print(f"the model's arithmetic at the single-thread fp32 matmul rate ({rate:.0f} GFLOP/s)")
    print()
    print("| recipe | GFLOP/step | at peak rate s | new model s/step | old step / 10 s |")
    print("|---|---|---|---|---|")
    for recipe, times in rows:
        flops = flops_by_recipe[recipe]
        print(
            f"| {recipe} | {flops:.2f} | {flops / rate:.4f} | {times['new']['model']:.4f} | "
            f"{times['old']['step'] / 10:.4f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
