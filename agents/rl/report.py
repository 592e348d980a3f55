"""Summaries of PPO runs: results table, learning-curve plot, rollout-buffer sizes.

Usage::

    python -m agents.rl.report runs/rl --png docs/img/rl_curves.png --markdown

It reads every ``<run>/results.json`` and ``<run>/curves.csv`` under the folder, groups runs by
retrieval mode, and reports mean +- standard error over seeds.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

SPLIT_ORDER: tuple[str, ...] = (
    "train",
    "explicit",
    "latent",
    "new_maze",
    "latent_distractors_only",
)


def buffer_bytes(observation_space: spaces.Dict, n_steps: int, n_envs: int) -> int:
    """Bytes SB3's ``DictRolloutBuffer`` allocates for observations (it keeps each key's dtype)."""
    total = 0
    for space in observation_space.spaces.values():
        shape = space.shape or (1,)
        total += int(np.prod(shape)) * np.dtype(space.dtype).itemsize
    return total * n_steps * n_envs


def load_runs(root: Path) -> dict[str, list[dict[str, Any]]]:
    """``{mode: [results.json dicts, seed order]}`` for every finished run under ``root``."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(root.glob("*/results.json")):
        result = json.loads(path.read_text())
        result["curves"] = _read_csv(path.parent / "curves.csv")
        protocol = path.parent / "protocol.json"  # written by python -m agents.rl.agent
        result["protocol"] = json.loads(protocol.read_text()) if protocol.exists() else {}
        runs[result["config"]["retrieval"]].append(result)
    for results in runs.values():
        results.sort(key=lambda r: r["config"]["seed"])
    return dict(runs)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    lines = path.read_text().strip().splitlines()
    keys = lines[0].split(",")
    rows = [[float(x) if x else np.nan for x in line.split(",")] for line in lines[1:]]
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(keys))
    return {k: table[:, i] for i, k in enumerate(keys)}


def _mean_se(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return f"{100 * v.mean():.1f} ± {100 * se:.1f}"


def markdown_table(runs: dict[str, list[dict[str, Any]]], protocol: bool = False) -> str:
    """Success and efficiency per split and mode (percent, mean ± s.e. over seeds).

    ``protocol=True`` tabulates the BC benchmark protocol's results (``protocol.json``) instead
    of the training script's final evaluation; the timing table is left out then.
    """
    if protocol:
        runs = {
            mode: [{**r["protocol"], "timing": r["timing"]} for r in results if r.get("protocol")]
            for mode, results in runs.items()
        }
        runs = {mode: results for mode, results in runs.items() if results}
    lines = [
        "| agent | seeds | split | success % | efficiency % | non-trivial success % |",
        "|---|---|---|---|---|---|",
    ]
    for mode, results in sorted(runs.items()):
        for split in SPLIT_ORDER:
            rows = [r[split] for r in results if split in r]
            if not rows:
                continue
            lines.append(
                f"| {mode} | {len(rows)} | {split} | {_mean_se([r['success'] for r in rows])} | "
                f"{_mean_se([r['efficiency'] for r in rows])} | "
                f"{_mean_se([r['success_nontrivial'] for r in rows])} |"
            )
    if protocol:
        return "\n".join(lines)
    lines.append("")
    lines.append("| agent | steps/s (training) | env share % | retrieval share % | wall s |")
    lines.append("|---|---|---|---|---|")
    for mode, results in sorted(runs.items()):
        t = [r["timing"] for r in results]
        lines.append(
            f"| {mode} | {np.mean([x['steps_per_s'] for x in t]):.0f} "
            f"(min {min(x['steps_per_s'] for x in t):.0f}, "
            f"max {max(x['steps_per_s'] for x in t):.0f}) | "
            f"{100 * np.mean([x['env_share'] for x in t]):.1f} | "
            f"{100 * np.mean([x['retrieval_share'] for x in t]):.2f} | "
            f"{np.mean([x['wall_s'] for x in t]):.0f} |"
        )
    return "\n".join(lines)


def plot_curves(runs: dict[str, list[dict[str, Any]]], png: Path) -> None:
    """One panel per split: success vs env steps, mean over seeds with a ±1 s.e. band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = ("train", "explicit", "latent", "new_maze")
    fig, axes = plt.subplots(1, len(splits), figsize=(4 * len(splits), 3.2), sharey=True)
    for mode, results in sorted(runs.items()):
        curves = [r["curves"] for r in results if r["curves"]]
        if not curves:
            continue
        n = min(len(c["timesteps"]) for c in curves)
        x = curves[0]["timesteps"][:n]
        for ax, split in zip(axes, splits):
            y = np.stack([c[f"{split}_success"][:n] for c in curves])
            mean = y.mean(axis=0)
            se = y.std(axis=0, ddof=1) / np.sqrt(len(y)) if len(y) > 1 else np.zeros_like(mean)
            ax.plot(x, mean, label=f"{mode} ({len(y)} seeds)")
            ax.fill_between(x, mean - se, mean + se, alpha=0.25)
            ax.set_title(split)
            ax.set_xlabel("env steps")
    axes[0].set_ylabel("success rate")
    axes[0].set_ylim(0, 1)
    axes[-1].legend(loc="lower right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder holding <run>/results.json")
    parser.add_argument("--png", type=Path, default=None, help="write the learning curves here")
    parser.add_argument("--markdown", action="store_true", help="print the results table")
    parser.add_argument(
        "--protocol", action="store_true", help="tabulate protocol.json (agents.rl.agent) instead"
    )
    args = parser.parse_args(argv)
    runs = load_runs(args.root)
    if not runs:
        raise SystemExit(f"no finished runs (results.json) under {args.root}")
    if args.png is not None:
        plot_curves(runs, args.png)
    if args.markdown:
        print(markdown_table(runs, protocol=args.protocol))


if __name__ == "__main__":
    main()
