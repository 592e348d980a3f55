"""Finished PPO runs read back: the policy, its env spec and its memory.

Above both the config (:mod:`agents.rl.config`) and the evaluation helpers
(:mod:`agents.rl.evaluate`), so neither needs the other's module or the training script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.memory import EpisodicMemory
from agents.rl.config import TrainConfig, algorithm_class, build_memory
from agents.rl.evaluate import EnvSpec
from latent_gridworld.integrity import verify, warn_unsealed


def load_run(path: str | Path, device: str = "cpu") -> tuple[Any, EnvSpec, EpisodicMemory | None]:
    """``(model, env spec, memory)`` of a run folder written by :mod:`agents.rl.train`.

    The memory is the one saved at the end of training (``None`` for a ``none`` run).

    Raises:
        FileNotFoundError: ``path`` holds no ``model.zip`` or ``config.json``.
        FileFormatError: ``model.zip`` is corrupted (its whole-file checksum does not match).
    """
    run = Path(path)
    missing = [name for name in ("model.zip", "config.json") if not (run / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{run} is not a finished PPO run (missing {', '.join(missing)}); train one with "
            "python -m agents.rl.train"
        )
    config = TrainConfig.from_json((run / "config.json").read_text())
    if not verify(run / "model.zip", allow_unsealed=True):
        warn_unsealed(run / "model.zip")  # a run saved before checksums
    model = algorithm_class(config.algo).load(run / "model.zip", device=device)
    memory = None
    if config.retrieval != "none" and (run / "memory.npz").exists():
        memory = EpisodicMemory.load(run / "memory.npz")
    elif config.retrieval != "none":
        memory = build_memory(config)  # runs saved before memory.npz existed
    return model, config.env_spec, memory
