"""The run's training configs: the preset with the command line's overrides, one per agent and seed.

Everything is validated here, before anything is trained or written; a checkpoint already in
``--out`` (or ``--checkpoints``) is reused only when its config matches (:func:`find_checkpoint`).
This module imports the BC training config, and with it torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.bc.checkpoint import load_checkpoint
from agents.bc.config import AGENTS, RETRIEVAL_MODES, TrainConfig, merge_overrides
from agents.experiments.jobs import SPLITS
from agents.experiments.presets import PRESETS, Preset


def make_configs(args: argparse.Namespace) -> tuple[Preset, dict[tuple[str, int], TrainConfig]]:
    """The preset (with overrides) and a TrainConfig per (agent, seed); validates everything."""
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
            # the preset's dicts as they are, then the flags, then --set: one config, validated
            values = {
                **TrainConfig().to_dict(),
                "agent": agent,
                "seed": seed,
                "steps": preset.steps,
                "pool_episodes": preset.pool_episodes,
                "eval_every": preset.eval_every,
                "retrieval": args.retrieval,
                "out": str(out / f"{agent}_s{seed}"),
                "progress": False,
                **preset.train,
            }
            if args.full_view:
                values["world"] = {**values["world"], "full_view": True}
            if args.no_position_cue:
                values["world"] = {**values["world"], "position_cue": False}
            if args.no_icl:
                values["pool_icl_share"] = 0.0
            if args.no_stream:
                values["stream"] = {**values["stream"], "stream_share": 0.0}
            if args.n_distractors is not None:
                values["n_distractors"] = args.n_distractors
            if args.aux_goal_weight is not None:
                values["aux_goal_weight"] = args.aux_goal_weight
            configs[(agent, seed)] = TrainConfig.from_dict(merge_overrides(values, args.set))
    return preset, configs


def find_checkpoint(config: TrainConfig, folder: str | None) -> Path | None:
    """An existing checkpoint for ``config`` (in ``folder`` or its own out dir), validated."""
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
