"""BC checkpoints: model weights and the full training config, sealed with a whole-file checksum.

Its own module so that evaluation and the benchmark load checkpoints without importing the
training script.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

import latent_gridworld
from agents.bc.config import PARTS, RETRIEVAL_FIELDS, RUNTIME_FIELDS, TrainConfig
from agents.bc.model import BCTransformer, ModelConfig
from latent_gridworld.integrity import FileFormatError, seal, verify, warn_unsealed

CHECKPOINT_FORMAT = "latent-gridworld-bc-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(
    path: str | os.PathLike[str],
    model: BCTransformer,
    config: TrainConfig,
    step: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write model weights and the full config (atomically)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "package_version": latent_gridworld.__version__,
        "train_config": json.dumps(config.to_dict(), sort_keys=True),
        "model_config": json.dumps(model.config.to_dict(), sort_keys=True),
        "step": step,
        "extra": json.dumps(extra or {}, sort_keys=True),
        "state_dict": model.state_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    seal(tmp)  # whole-file sha256: a flipped byte in the weights must not load silently
    tmp.replace(path)


def load_checkpoint(
    path: str | os.PathLike[str], expect: TrainConfig | None = None
) -> tuple[BCTransformer, TrainConfig, dict[str, Any]]:
    """Read a checkpoint, checking its format, version and (with ``expect``) its config.

    Raises ValueError for a corrupted or truncated file (its whole-file checksum does not
    match), a file of another format or version, or one trained with another world, agent,
    architecture or retrieval setting than ``expect``.

    Returns:
        ``(model in eval mode, its TrainConfig, extra info: step and training stats)``.
    """
    try:
        # a checkpoint from before checksums loads, with a warning, once its format is known
        sealed = verify(path, allow_unsealed=True)
    except FileFormatError as err:
        raise FileFormatError(f"{path} is not a readable checkpoint: {err}") from err
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} file")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} has checkpoint version {payload.get('version')}; this package reads "
            f"version {CHECKPOINT_VERSION}"
        )
    if not sealed:
        warn_unsealed(path)
    config = TrainConfig.from_dict(json.loads(payload["train_config"]))
    if expect is not None:
        # the baseline never builds a memory: how one would be queried does not change it
        ignored = RUNTIME_FIELDS | (RETRIEVAL_FIELDS if expect.agent == "baseline" else set())
        details = [
            detail
            for f in dataclasses.fields(expect)
            if f.compare and f.name not in ignored
            for detail in _differences(f.name, getattr(config, f.name), getattr(expect, f.name))
        ]
        if details:
            raise ValueError(
                f"checkpoint {path} was trained with another config: {'; '.join(details)}"
            )
    model = BCTransformer(ModelConfig(**json.loads(payload["model_config"])))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    extra = {"step": int(payload["step"]), **json.loads(payload["extra"])}
    return model, config, extra


def _differences(name: str, stored: Any, requested: Any) -> list[str]:
    """``name: checkpoint X vs requested Y`` for a field, a part's differing fields one each."""
    if stored == requested:
        return []
    if name not in PARTS:
        return [f"{name}: checkpoint {stored!r} vs requested {requested!r}"]
    return [
        f"{name}.{f.name}: checkpoint {getattr(stored, f.name)!r} vs requested "
        f"{getattr(requested, f.name)!r}"
        for f in dataclasses.fields(stored)
        if getattr(stored, f.name) != getattr(requested, f.name)
    ]
