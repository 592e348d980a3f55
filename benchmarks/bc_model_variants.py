"""The BC model step three ways, one thread: eager fp32 (what training runs), compiled, bf16.

Tried to close the gap between the model's arithmetic and its measured step
(``benchmarks/bc_training.py`` prints both). Each variant trains the same fresh model on the
same real batches of the presets' world-v1 recipe (retrieval agent) and reports CPU seconds
per gradient step after a warm-up (the compiled variant's warm-up is its compile time, also
printed), and the mean loss over the timed steps as a check that it computes the same thing.

    python benchmarks/bc_model_variants.py                 # ~3 minutes, most of it compiling
    python benchmarks/bc_model_variants.py --variants eager bf16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("eager", "compile", "bf16")


def time_variant(
    variant: str, config: Any, batches: list[dict[str, Any]], warmup: int
) -> tuple[float, float, float]:
    """CPU s/step after ``warmup`` steps, the warm-up's wall s, the timed steps' mean loss."""
    import numpy as np
    import torch

    from agents.bc.model import BCTransformer

    torch.manual_seed(0)
    model = BCTransformer(config.model_config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, fused=True)
    loss_of = model.training_loss
    if variant == "compile":
        loss_of = torch.compile(model.training_loss, dynamic=True)  # type: ignore[assignment]

    def step(batch: dict[str, Any]) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant == "bf16"):
            loss, _ = loss_of(batch, config.goal_teacher_forcing, config.aux_goal_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)
        optimizer.step()
        return float(loss.item())

    t0 = time.perf_counter()
    for batch in batches[:warmup]:
        step(batch)
    warm = time.perf_counter() - t0
    t0 = time.process_time()
    losses = [step(batch) for batch in batches[warmup:]]
    return (time.process_time() - t0) / len(losses), warm, float(np.mean(losses))


def main(argv: list[str] | None = None) -> int:
    """Print one row per variant."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--warmup", type=int, default=20, help="untimed steps per variant")
    p.add_argument("--steps", type=int, default=40, help="timed steps per variant")
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import torch

    from agents.bc.batch import ContextMaker, to_tensors
    from agents.bc.data import SampleStream
    from agents.bc.train import TrainConfig, load_pool
    from agents.experiments.presets import V1_RECIPE, WORLD_V1_BC
    from agents.memory import EpisodicMemory

    torch.set_num_threads(1)
    config = TrainConfig.from_dict(
        {
            "agent": "retrieval",
            "world": WORLD_V1_BC,
            "pool_episodes": 1000,
            "progress": False,
            **V1_RECIPE,
        }
    )
    world = config.world_config()
    pool = load_pool(config)
    memory = EpisodicMemory.for_world(world)
    memory.extend(pool)
    stream = SampleStream(world, pool, config.stream, config.seed)
    maker = ContextMaker(config, memory)
    batches = [
        to_tensors(maker.contexts(stream.batch(config.batch_size)))
        for _ in range(args.warmup + args.steps)
    ]
    print(f"world v1 recipe, retrieval agent, batch {config.batch_size}, 1 thread")
    print()
    print("| variant | s/step | warm-up s | mean loss |")
    print("|---|---|---|---|")
    for variant in args.variants:
        per_step, warm, loss = time_variant(variant, config, batches, args.warmup)
        print(f"| {variant} | {per_step:.4f} | {warm:.1f} | {loss:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
