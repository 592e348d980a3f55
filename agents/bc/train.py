"""Train a behavioural-cloning transformer, baseline or retrieval, in one readable script.

CleanRL-like: a config dataclass at the top, then the loop top to bottom. Both agents run this
same function with the same config; ``agent="retrieval"`` adds the retrieved episodes to each
context, ``agent="baseline"`` does not. Nothing else differs.

    python -m agents.bc.train --agent retrieval --steps 20000 --seed 0 --out runs/ret0

Run the two agents as two single-thread processes side by side (``threads=1``, the default):
on a 2-core machine the pair trains faster than one two-thread job running them in turn, which
is how ``latent-gridworld benchmark`` runs them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.bc.batch import (  # noqa: F401  (re-exported: the names' first home)
    BATCH_MAZE_IDS,
    ContextMaker,
    first_step,
    make_retriever,
    relabel,
    retrieve,
    retrieve_ids,
    to_tensors,
)
from agents.bc.checkpoint import (  # noqa: F401  (re-exported: moved to agents.bc.checkpoint)
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    load_checkpoint,
    save_checkpoint,
)
from agents.bc.config import (  # noqa: F401  (re-exported: moved to agents.bc.config)
    AGENTS,
    MEMORY_TRIMS,
    PARTS,
    RETRIEVAL_FIELDS,
    RETRIEVAL_MODES,
    RUNTIME_FIELDS,
    TrainConfig,
    apply_overrides,
    merge_overrides,
)
from agents.bc.data import SampleStream
from agents.bc.flags import add_field_flags
from agents.bc.model import BCTransformer
from latent_gridworld.core.config import WorldConfig

# ------------------------------------------------------------------------------------------
# data


def load_pool(config: TrainConfig, progress: bool = False) -> Sequence[Any]:
    """The pool dataset: loaded from ``config.dataset`` (checked against the world) or generated."""
    from latent_gridworld.datasets import generate_dataset, load_dataset

    world = config.world_config()
    if config.dataset is not None:
        ds = load_dataset(config.dataset)
        check_dataset_matches(ds.config, world, config.dataset)
        return ds
    kwargs = {k: v for k, v in asdict(world).items() if k not in ("split", "icl_share")}
    return generate_dataset(
        "ASCII",
        episodes=config.pool_episodes,
        split="train",
        icl_share=config.pool_icl_share,
        seed=config.seed,
        progress=progress,
        **kwargs,
    )


def check_dataset_matches(data: WorldConfig, world: WorldConfig, name: str) -> None:
    """ValueError if a dataset was made in another world than the one trained/evaluated in."""
    ignore = {"split", "icl_share", "max_steps", "step_penalty"}
    diffs = [
        f"{f.name}: dataset {getattr(data, f.name)!r} vs env {getattr(world, f.name)!r}"
        for f in dataclasses.fields(WorldConfig)
        if f.name not in ignore and getattr(data, f.name) != getattr(world, f.name)
    ]
    if diffs:
        raise ValueError(f"dataset {name} does not match the env config: " + "; ".join(diffs))


# ------------------------------------------------------------------------------------------
# training


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress))))


def train(config: TrainConfig, pool: Sequence[Any] | None = None) -> Path:
    """Train one agent; returns the checkpoint path (``<out>/model.pt``).

    ``pool`` (a dataset) skips loading/generating it, e.g. to share one between runs.
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    t_start = time.perf_counter()

    # -- data and memory: the only place the two agents differ (a dataset that does not
    # match the world fails here, before anything is written)
    world = config.world_config()
    if pool is None:
        pool = load_pool(config, progress=config.progress)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with_memory = config.agent == "retrieval"
    pool_memory = None
    if with_memory:
        from agents.memory import EpisodicMemory

        pool_memory = EpisodicMemory.for_world(world)
        pool_memory.extend(pool)
    stream = SampleStream(world, pool, config.stream, config.seed)
    maker = ContextMaker(config, pool_memory)

    # -- model and optimiser
    model = BCTransformer(config.model_config())
    # fused: one kernel for all parameters, the same update (the per-parameter loop cost ~3 ms
    # a step for this ~150k-parameter model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    writer = None
    if config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        writer.add_text("config", f"```\n{json.dumps(config.to_dict(), indent=1)}\n```")

    from tqdm.auto import tqdm

    history: list[dict[str, float]] = []
    t_train = time.perf_counter()
    data_seconds = 0.0
    model_seconds = 0.0  # forward, backward and the optimiser step
    bar = tqdm(
        range(config.steps),
        desc=f"{config.agent} s{config.seed}",
        disable=not config.progress,
        mininterval=2.0,
    )
    loss_ema = float("nan")  # smoothed total loss (BC + weighted auxiliary goal loss)
    goal_loss_ema = float("nan")
    for step in bar:
        t0 = time.perf_counter()
        batch = to_tensors(maker.contexts(stream.batch(config.batch_size)))
        t1 = time.perf_counter()
        data_seconds += t1 - t0

        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        model.train()
        loss, aux = model.training_loss(batch, config.goal_teacher_forcing, config.aux_goal_weight)
        if aux is not None:
            goal_loss_ema = (
                aux.item() / 2
                if np.isnan(goal_loss_ema)
                else (0.98 * goal_loss_ema + 0.01 * aux.item())
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)
        optimizer.step()
        model_seconds += time.perf_counter() - t1

        loss_ema = loss.item() if np.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * loss.item()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss_ema:.3f}")
            if writer is not None:
                writer.add_scalar("losses/loss", loss.item(), step)
                if config.aux_goal_weight > 0:
                    writer.add_scalar("losses/goal_loss", goal_loss_ema, step)
                writer.add_scalar("charts/learning_rate", lr_at(step, config), step)
                elapsed = time.perf_counter() - t_train
                writer.add_scalar("charts/steps_per_second", (step + 1) / elapsed, step)
        last = step == config.steps - 1
        periodic = config.eval_every and (step + 1) % config.eval_every == 0
        if config.eval_tasks and (periodic or last):
            metrics = periodic_eval(model, config, pool_memory, step)
            metrics.update(step=step + 1, loss=loss_ema, seconds=time.perf_counter() - t_train)
            history.append(metrics)
            if writer is not None:
                for key, value in metrics.items():
                    if key.startswith("success/"):
                        writer.add_scalar(f"eval/{key}", value, step + 1)
            save_checkpoint(
                out / "model.pt",
                model,
                config,
                step + 1,
                {"history": history, "mazes_generated": stream.mazes_generated},
            )

    train_seconds = time.perf_counter() - t_train
    stats = {
        "steps": config.steps,
        "train_seconds": train_seconds,
        "data_seconds": data_seconds,
        "model_seconds": model_seconds,
        "setup_seconds": t_train - t_start,
        "final_loss": loss_ema,
        "final_goal_loss": goal_loss_ema,
        "mazes_generated": stream.mazes_generated,
        "history": history,
    }
    save_checkpoint(out / "model.pt", model, config, config.steps, stats)
    (out / "train_stats.json").write_text(json.dumps(stats, indent=1))
    if writer is not None:
        writer.close()
    return out / "model.pt"


def periodic_eval(
    model: BCTransformer, config: TrainConfig, pool_memory: Any | None, step: int
) -> dict[str, float]:
    """Closed-loop success on a few tasks of ``explicit`` and ``latent`` (for the curves)."""
    from agents.bc.agent import BCAgent
    from agents.evaluation import evaluate_agent

    agent = BCAgent(model, config, pool_memory)
    out: dict[str, float] = {}
    for split in ("explicit", "latent"):
        result = evaluate_agent(
            agent, config.world_config(), split, config.eval_tasks, seed=10_000 + step
        )
        out[f"success/{split}"] = result.success_rate
    model.train()
    return out


# ------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    """A flag per :class:`TrainConfig` field and per field of its parts, and ``--set``.

    Generated from the dataclasses (:func:`agents.bc.flags.add_field_flags`): ``--lr 0.001``,
    ``--world.size 21``, ``--stream.noise_share 0.5``, ``--model.d_model 128``,
    ``--progress/--no-progress``; help from the fields' docstrings.
    """
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m agents.bc.train",
        usage="%(prog)s [--FIELD VALUE ...] [--PART.FIELD VALUE ...] [--set KEY=JSON ...]",
        description=__doc__.split("\n")[0],
    )
    add_field_flags(p, d, skip=(*PARTS, "stated"))
    for name in PARTS:
        group = p.add_argument_group(
            f"{name} ({type(getattr(d, name)).__name__} fields, merged into the default {name})"
        )
        # the env's split and ICL share are the training loop's to set (TrainConfig.world_config)
        add_field_flags(group, getattr(d, name), f"{name}.", skip=("split", "icl_share"))
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any field as JSON, applied after the flags (repeatable; an object is merged into "
        "a part), e.g. --set world='{\"size\": 13}'",
    )
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A TrainConfig from parsed flags: the defaults, the flags given, then ``--set`` items."""
    values = TrainConfig().to_dict()
    for key, value in vars(args).items():
        head, dot, sub = key.partition(".")
        if key == "set":
            continue
        # a part's flag adds to the part as a --set object does (so both write the same dict)
        values[head] = {**values[head], sub: value} if dot else value
    return TrainConfig.from_dict(merge_overrides(values, args.set))


def main(argv: Sequence[str] | None = None) -> int:
    """Train one agent from the command line."""
    args = build_parser().parse_args(argv)
    path = train(config_from_args(args))
    print(f"checkpoint: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
