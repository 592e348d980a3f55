"""``latent-gridworld generate``: write an expert dataset from the command line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from latent_gridworld.core.constants import SPLITS
from latent_gridworld.datasets.files import save_dataset
from latent_gridworld.datasets.generate import coverage, generate_dataset
from latent_gridworld.datasets.minari_export import export_minari
from latent_gridworld.fileio import check_output_path
from latent_gridworld.kwargs import parse_kwargs


def build_parser() -> argparse.ArgumentParser:
    """The ``latent-gridworld generate`` argument parser."""
    p = argparse.ArgumentParser(
        prog="latent-gridworld generate",
        description="Write an expert demonstration dataset (.npz; schema in docs/datasets.md).",
    )
    p.add_argument(
        "--env",
        default="ASCII",
        help="a registered id, e.g. LatentGridworld/ASCII-v1 (its world; --kw overrides), or "
        "ASCII / Pixel, the v0 world (default ASCII); the file records the id",
    )
    p.add_argument("--episodes", type=int, default=1000, help="number of episodes")
    p.add_argument("--split", default="train", choices=SPLITS, help="task split")
    p.add_argument(
        "--icl-share",
        type=float,
        default=0.0,
        help="share of within-episode ICL episodes (train split)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed (same arguments -> same file)")
    p.add_argument("--out", required=True, help="output file (.npz); its folder is created")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--kw",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env keyword argument over --env's, e.g. --kw size=13 (repeatable)",
    )
    p.add_argument(
        "--stream",
        type=int,
        default=0,
        metavar="K",
        help="draw from the unlimited stream of fresh mazes instead, K episodes per maze",
    )
    p.add_argument("--first-maze", type=int, default=0, help="offset into the maze stream")
    p.add_argument(
        "--minari-id",
        default=None,
        help="also export to Minari (Arrow backend) under this dataset id",
    )
    p.add_argument("--minari-root", default=None, help="Minari datasets folder for --minari-id")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``latent-gridworld generate``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:  # before the work: a bad --out must not cost the whole generation
        check_output_path(args.out, overwrite=args.force, hint="add --force")
    except OSError as err:
        print(f"error: --out: {err}", file=sys.stderr)
        return 2
    try:
        env_kwargs = parse_kwargs(args.kw)
        t0 = time.perf_counter()
        dataset = generate_dataset(
            env=args.env,
            episodes=args.episodes,
            split=args.split,
            icl_share=args.icl_share,
            seed=args.seed,
            progress=not args.no_progress,
            stream=args.stream,
            first_maze=args.first_maze,
            **env_kwargs,
        )
        elapsed = time.perf_counter() - t0
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        digest = save_dataset(dataset, args.out, overwrite=args.force)
    except FileExistsError:  # created by someone else while we generated
        print(
            f"error: --out: {args.out} already exists; add --force to replace it", file=sys.stderr
        )
        return 2
    except OSError as err:  # e.g. the disk filled up
        print(f"error: could not write {args.out}: {err}", file=sys.stderr)
        return 1
    if args.minari_id:
        try:
            export_minari(dataset, args.minari_id, root=args.minari_root)
        except (ValueError, ImportError) as err:
            print(f"error: Minari export failed: {err}", file=sys.stderr)
            return 2
        print(f"exported to Minari as {args.minari_id}")
    report = coverage(dataset, dataset.config)
    size = os.path.getsize(args.out)
    print(
        f"wrote {args.out}: {len(dataset)} episodes, {report['steps']} steps, "
        f"{size / 1e6:.2f} MB, {len(dataset) / elapsed:.0f} episodes/s"
    )
    print(f"env {dataset.info.env_id}, content sha256 {digest}")
    print(f"ICL episodes {report['icl_share']:.1%}, success {report['success_rate']:.1%}")
    print(
        f"latent (maze, object) pairs seen: {report['latent_pairs_seen']}/"
        f"{report['latent_pairs']} ({report['latent_coverage']:.1%}); all pool pairs "
        f"{report['pairs_seen']}/{report['pairs']} ({report['coverage']:.1%})"
    )
    return 0
