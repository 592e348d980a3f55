"""Every file the project writes carries a whole-file checksum that its loader verifies.

One flipped byte anywhere in a dataset, an episodic memory, a play recording or a BC checkpoint
must make loading fail with an error that names the file and says it is corrupted: before
checksums covered whole files, a BC checkpoint loaded with changed weights at every offset
tried, and the others at some offsets (the zip's bookkeeping was not covered).
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from latent_gridworld.datasets import generate_dataset, load_dataset, save_dataset
from latent_gridworld.integrity import MAGIC, TRAILER_LEN, FileFormatError, seal, verify
from latent_gridworld.play import load_recording, save_recording

WORLD = {"size": 7, "view_size": 3, "n_mazes": 4, "n_object_types": 4, "objects_per_maze": 3}
N_OFFSETS = 60


def _episodes() -> Any:
    return generate_dataset(episodes=6, seed=0, **WORLD)


def write_dataset(path: Path) -> Callable[[Path], object]:
    save_dataset(_episodes(), path)
    return load_dataset


def write_memory(path: Path) -> Callable[[Path], object]:
    memory_mod = pytest.importorskip("agents.memory", reason="the 'agents' extra is not installed")
    memory = memory_mod.EpisodicMemory(n_object_types=WORLD["n_object_types"])
    memory.extend(list(_episodes()))
    memory.save(path)
    return memory_mod.EpisodicMemory.load


def write_recording(path: Path) -> Callable[[Path], object]:
    episodes = list(_episodes())[:3]
    save_recording(path, episodes, ["success"] * 3, [False] * 3, {"env_id": "test"})
    return load_recording


def write_bc_checkpoint(path: Path) -> Callable[[Path], object]:
    pytest.importorskip("torch", reason="the 'agents' extra is not installed")
    from agents.bc.model import BCTransformer
    from agents.bc.train import TrainConfig, load_checkpoint, save_checkpoint

    config = TrainConfig.from_dict(
        {
            "agent": "baseline",
            "world": dict(WORLD),
            "model": {"d_token": 4, "d_model": 16, "n_layers": 1, "n_heads": 2},
            "out": str(path.parent),
        }
    )
    save_checkpoint(path, BCTransformer(config.model_config()), config, step=3)
    return load_checkpoint


KINDS = {
    "dataset": (write_dataset, "d.npz"),
    "memory": (write_memory, "m.npz"),
    "recording": (write_recording, "r.npz"),
    "bc_checkpoint": (write_bc_checkpoint, "c.pt"),
}


@pytest.fixture(params=sorted(KINDS))
def written(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Path, Callable[[Path], object]]:
    writer, name = KINDS[request.param]
    path = tmp_path / name
    load = writer(path)
    return path, load


def spread_offsets(size: int) -> list[int]:
    """60 offsets from the first byte to the last, plus the zip headers' first bytes."""
    spread = np.linspace(0, size - 1, N_OFFSETS).round().astype(int).tolist()
    return sorted(set(spread) | set(range(0, 64, 4)) | {size - TRAILER_LEN - 2})


def test_written_files_are_sealed_and_load_without_a_warning(written) -> None:
    path, load = written
    data = path.read_bytes()
    assert data[-TRAILER_LEN:].startswith(MAGIC)
    # the zip comment length says the checksum is the comment: zip readers skip it
    assert struct.unpack("<H", data[-TRAILER_LEN - 2 : -TRAILER_LEN])[0] == TRAILER_LEN
    assert verify(path) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(path)


def test_one_flipped_byte_anywhere_is_refused_as_corrupted(written, tmp_path: Path) -> None:
    path, load = written
    data = path.read_bytes()
    offsets = spread_offsets(len(data))
    assert len(offsets) >= N_OFFSETS
    loaded_silently = []
    for offset in offsets:
        damaged = tmp_path / f"flip{offset}{path.suffix}"
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        damaged.write_bytes(bytes(flipped))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # not even the "no checksum" path may take it
            try:
                load(damaged)
            except FileFormatError as err:
                assert str(damaged) in str(err) and "corrupted" in str(err), (offset, str(err))
                continue
        loaded_silently.append(offset)
    assert loaded_silently == [], f"{path.name}: {len(loaded_silently)} of {len(offsets)} loaded"


def test_truncated_files_are_refused(written, tmp_path: Path) -> None:
    path, load = written
    data = path.read_bytes()
    for keep in (0, 10, len(data) // 2, len(data) - 1):
        cut = tmp_path / f"cut{keep}{path.suffix}"
        cut.write_bytes(data[:keep])
        with pytest.raises(FileFormatError, match=rf"{cut.name} .*truncated or corrupted"):
            load(cut)


def test_a_file_from_before_checksums_loads_with_a_warning(written, tmp_path: Path) -> None:
    path, load = written
    data = path.read_bytes()
    # what the same writer produced before: no comment, comment length 0
    old = data[: -TRAILER_LEN - 2] + b"\0\0"
    legacy = tmp_path / f"legacy{path.suffix}"
    legacy.write_bytes(old)
    assert verify(legacy, allow_unsealed=True) is False
    with pytest.warns(UserWarning, match=rf"{legacy.name} carries no checksum"):
        load(legacy)
    with pytest.raises(FileFormatError, match="carries no latent-gridworld checksum"):
        verify(legacy)


def test_seal_refuses_what_is_not_a_plain_zip(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"not a zip archive at all")
    with pytest.raises(ValueError, match="notes.txt is not a zip archive without a comment"):
        seal(text)
    assert text.read_bytes() == b"not a zip archive at all"
    with pytest.raises(FileNotFoundError, match="no such file"):
        verify(tmp_path / "missing.npz")
