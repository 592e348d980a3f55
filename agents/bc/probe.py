"""Does the retrieval agent read its memory? A teacher-forced probe on training-like samples.

Closed-loop success mixes many effects; this probe isolates one. On held-out samples of the
training stream (stream mazes, where the retrieved relevant episode is the only source of the
goal's location, and pool episodes) it compares the model's expert-action loss and accuracy
when the context holds the relevant episode (the normal retrieval), only distractors (same k),
or nothing. A model that uses the memory has a clearly lower loss with the relevant episode.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from agents.bc.data import SampleStream, StreamConfig
from agents.bc.model import BCTransformer
from agents.bc.train import ContextMaker, TrainConfig, to_tensors

PROBE_SEED = 987_654  # a stream seed no training run uses (runs use small seeds)


@torch.no_grad()
def memory_probe(
    model: BCTransformer,
    config: TrainConfig,
    pool: Any,
    memory: Any,
    n_samples: int = 128,
) -> dict[str, dict[str, float]]:
    """Loss and accuracy on stream and pool samples with relevant, distractor-only, no memory.

    Returns:
        ``{"stream": {"relevant_loss": ..., "relevant_acc": ..., "distractors_loss": ...,
        "none_loss": ...}, "pool": {...}}``.
    """
    stream = SampleStream(config.world_config(), pool, StreamConfig(**config.stream), PROBE_SEED)
    samples: list[Any] = []
    while len(samples) < n_samples:
        samples += stream.batch(config.batch_size)
    distractor_cfg = dataclasses.replace(config, n_relevant=0, n_distractors=config.k)
    variants = {
        "relevant": (config, memory),
        "distractors": (distractor_cfg, memory),
        "none": (config, None),
    }
    out: dict[str, dict[str, float]] = {}
    for kind in ("stream", "pool"):
        subset = [s for s in samples if s.pool == (kind == "pool")]
        if not subset:
            continue
        row: dict[str, float] = {}
        for name, (cfg, mem) in variants.items():
            # goal cells ride along (no effect on the inputs) when the model has a goal head
            aux = 1.0 if model.goal_head is not None else 0.0
            maker = ContextMaker(dataclasses.replace(cfg, aux_goal_weight=aux), mem)
            batch = to_tensors(maker.contexts(subset))
            logits = model(batch["rows"], batch["segment"], batch["time"], batch["pad"])
            targets = batch["targets"]
            mask = targets >= 0
            row[f"{name}_loss"] = float(F.cross_entropy(logits[mask], targets[mask]).item())
            row[f"{name}_acc"] = float((logits[mask].argmax(-1) == targets[mask]).float().mean())
            if model.goal_head is not None:  # where-is-the-goal loss, per coordinate
                rows_l, cols_l = model.goal_logits(model.last_hidden)
                cells = batch["goal_cells"]
                m = cells[..., 0] >= 0
                goal = F.cross_entropy(rows_l[m], cells[..., 0][m]) + F.cross_entropy(
                    cols_l[m], cells[..., 1][m]
                )
                row[f"{name}_goal_loss"] = float(goal.item()) / 2
        row["samples"] = float(len(subset))
        out[kind] = {k: round(v, 4) if np.isfinite(v) else v for k, v in row.items()}
    return out
