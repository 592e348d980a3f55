r"""Expert demonstration datasets: generate, save, load, export and report coverage (no torch).

A dataset is a columnar, ragged batch of :class:`~latent_gridworld.episode.Episode` records
(:class:`~latent_gridworld.arrays.EpisodeArrays`, with its file format, in
:mod:`latent_gridworld.arrays`): one uncompressed ``.npz`` file with a JSON header, so numpy
alone reads it (``np.load(path, allow_pickle=False)``); ``docs/datasets.md`` has the schema.
Files are written byte-for-byte deterministically: the same arguments give the same file.
Episodes are stored in cell codes, so pixel and ASCII agents render the same data with their
own encoder.

Command line (``latent-gridworld generate``)::

    latent-gridworld generate --env ASCII --episodes 10000 --split train --icl-share 0.3 \\
        --seed 0 --out data/train.npz --kw size=13
    latent-gridworld generate --env LatentGridworld/ASCII-v1 --episodes 2000 --out data/v1.npz

``--env`` takes any registered id, whose registered kwargs are the world (``ASCII`` / ``Pixel``
alone are the v0 world); the file records the id, and ``load_dataset(path, env=...)`` refuses
a dataset of another id.

The package is one room (one floor in ``tools/check_imports.py``), in four modules:

- :mod:`~latent_gridworld.datasets.files`: :class:`DatasetInfo`, :class:`Dataset`,
  :func:`save_dataset`, :func:`load_dataset` (what produced a dataset, and its file);
- :mod:`~latent_gridworld.datasets.generate`: :func:`generate_dataset` and :func:`coverage`;
- :mod:`~latent_gridworld.datasets.minari_export`: :func:`export_minari`;
- :mod:`~latent_gridworld.datasets.cli`: the ``generate`` command (:func:`main`).

Everything is imported from here (``from latent_gridworld.datasets import generate_dataset``);
the expert's walks (:func:`expert_episode`, :func:`expert_cell_episode`, :func:`expert_labels`,
:func:`expert_table`) live in :mod:`latent_gridworld.expert` and the columnar storage in
:mod:`latent_gridworld.arrays`; both are re-exported here, where they were first.
"""

from __future__ import annotations

from latent_gridworld.arrays import (
    EpisodeArrays,
    content_hash,
    full_header,
    read_arrays,
    write_arrays,
)
from latent_gridworld.datasets.cli import build_parser, main
from latent_gridworld.datasets.files import (
    DATASET_FORMAT,
    DATASET_VERSION,
    ENV_NAMES,
    Dataset,
    DatasetInfo,
    check_env,
    load_dataset,
    normalize_env,
    resolve_env,
    save_dataset,
)
from latent_gridworld.datasets.generate import coverage, generate_dataset
from latent_gridworld.datasets.minari_export import export_minari
from latent_gridworld.expert import (
    expert_cell_episode,
    expert_episode,
    expert_labels,
    expert_moves,
    expert_table,
)
from latent_gridworld.integrity import FileFormatError

__all__ = [
    "DATASET_FORMAT",
    "DATASET_VERSION",
    "ENV_NAMES",
    "Dataset",
    "DatasetInfo",
    "EpisodeArrays",
    "FileFormatError",
    "build_parser",
    "check_env",
    "content_hash",
    "coverage",
    "expert_cell_episode",
    "expert_episode",
    "expert_labels",
    "expert_moves",
    "expert_table",
    "export_minari",
    "full_header",
    "generate_dataset",
    "load_dataset",
    "main",
    "normalize_env",
    "read_arrays",
    "resolve_env",
    "save_dataset",
    "write_arrays",
]
