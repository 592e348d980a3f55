"""The files ``latent-gridworld play --record`` writes: save, load, and where else to save.

An ``.npz`` readable without pickle (the format is in ``docs/play.md``): the played episodes'
steps concatenated, per-episode columns beside them, the session's metadata as JSON, sealed
with a whole-file checksum. Apart from the window (:mod:`latent_gridworld.play`, which writes
them and re-exports these names): a reader of recordings needs the format, not the event loop.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latent_gridworld.episode import Episode
from latent_gridworld.fileio import OVERWRITE_HINT, atomic_write_path
from latent_gridworld.integrity import seal, verify, warn_unsealed

RECORDING_FORMAT = "latent-gridworld-play/1"


@dataclass(frozen=True)
class Recording:
    """Episodes read back by :func:`load_recording`.

    Attributes:
        episodes: The played episodes, in order.
        outcomes: Per episode ``"success"``, ``"truncated"`` or ``"abandoned"`` (left with R,
            N or Q before it ended).
        icl: Per episode, whether it was a within-episode ICL episode.
        metadata: ``env_id``, ``env_kwargs``, ``seed``, ``config`` (every WorldConfig field),
            ``package_version``, ``created`` (UTC, ISO 8601) and ``format``.
    """

    episodes: list[Episode]
    outcomes: list[str]
    icl: list[bool]
    metadata: dict[str, Any]


def save_recording(
    path: str | os.PathLike[str],
    episodes: Sequence[Episode],
    outcomes: Sequence[str],
    icl: Sequence[bool],
    metadata: dict[str, Any],
    *,
    overwrite: bool = False,
    hint: str = OVERWRITE_HINT,
) -> None:
    """Write episodes to ``path`` as an ``.npz`` readable without pickle (see docs/play.md).

    Steps of all episodes are concatenated; ``step_offsets``/``action_offsets`` delimit them.
    The file is written next to ``path`` and renamed into place: a crash never leaves half a
    file, and a failed or interrupted write leaves no temporary file.

    Raises:
        ValueError: no episodes.
        FileExistsError: ``path`` exists and ``overwrite`` is false (``hint`` says how to ask).
        OSError: ``path`` cannot be written.
    """
    if not episodes:
        raise ValueError("no episodes to save")
    steps = np.cumsum([0] + [len(e.views) for e in episodes])
    acts = np.cumsum([0] + [len(e.actions) for e in episodes])
    meta = {**metadata, "format": RECORDING_FORMAT, "n_episodes": len(episodes)}
    arrays: dict[str, np.ndarray] = {
        "format": np.array(RECORDING_FORMAT),
        "metadata": np.array(json.dumps(meta, sort_keys=True)),
        "maze": np.array([e.maze for e in episodes], dtype=np.int64),
        "start": np.array([e.start for e in episodes], dtype=np.int64).reshape(-1, 2),
        "split": np.array([e.split for e in episodes]),
        "success": np.array([e.success for e in episodes], dtype=bool),
        "optimal_steps": np.array([e.optimal_steps for e in episodes], dtype=np.int64),
        "placement": np.array([e.placement for e in episodes], dtype=np.int64),
        "outcome": np.array(list(outcomes)),
        "icl": np.array(list(icl), dtype=bool),
        "step_offsets": steps.astype(np.int64),
        "action_offsets": acts.astype(np.int64),
        "views": np.concatenate([e.views for e in episodes]),
        "goals": np.concatenate([e.goals for e in episodes]),
        "positions": np.concatenate([e.positions for e in episodes]),
        "visible": np.concatenate([e.visible for e in episodes]),
        "actions": np.concatenate([e.actions for e in episodes]),
    }
    with atomic_write_path(path, overwrite=overwrite, hint=hint) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to a bare name
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
        seal(tmp)  # whole-file sha256, checked by load_recording


def fallback_recording_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Where a recording goes when its own path cannot be written: a fresh file in the temp dir.

    The name keeps the original stem and adds the time and process id, so it never replaces
    anything.
    """
    stem = Path(path).stem if path is not None else "recording"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"latent-gridworld-play-{stem}-{stamp}-{os.getpid()}.npz"


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a file written by ``latent-gridworld play --record`` (no pickle involved).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is corrupted or truncated (its whole-file checksum does not
            match), or is not a play recording.
    """
    sealed = verify(path, allow_unsealed=True)  # a recording from before checksums: warned
    with np.load(path, allow_pickle=False) as data:
        fmt = str(data["format"]) if "format" in data.files else None
        if fmt != RECORDING_FORMAT:
            raise ValueError(
                f"{path} is not a play recording (format {fmt!r}, want {RECORDING_FORMAT!r})"
            )
        d = {k: data[k] for k in data.files}
    if not sealed:
        warn_unsealed(path)
    so, ao = d["step_offsets"], d["action_offsets"]
    # recordings from before the placement column were all of the mazes' own placements
    placement = d.get("placement", np.zeros(len(d["maze"]), dtype=np.int64))
    episodes = [
        Episode(
            maze=int(d["maze"][i]),
            start=(int(d["start"][i, 0]), int(d["start"][i, 1])),
            split=str(d["split"][i]),
            views=d["views"][so[i] : so[i + 1]],
            goals=d["goals"][so[i] : so[i + 1]],
            positions=d["positions"][so[i] : so[i + 1]],
            visible=d["visible"][so[i] : so[i + 1]],
            actions=d["actions"][ao[i] : ao[i + 1]],
            success=bool(d["success"][i]),
            optimal_steps=int(d["optimal_steps"][i]),
            placement=int(placement[i]),
        )
        for i in range(len(d["maze"]))
    ]
    return Recording(
        episodes=episodes,
        outcomes=[str(x) for x in d["outcome"]],
        icl=[bool(x) for x in d["icl"]],
        metadata=json.loads(str(d["metadata"])),
    )
