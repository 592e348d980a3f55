"""Summaries of PPO runs: results table, learning-curve plot, rollout-buffer sizes.

Usage::

    python -m agents.rl.report runs/rl --png docs/img/rl_curves.png --markdown

It reads every ``<run>/results.json`` and ``<run>/curves.csv`` under the folder, groups runs by
agent (``oracle``, ``none``, ``lstm_none`` for ``RecurrentPPO``), and reports mean +- standard
error over seeds. Runs still training (a ``curves.csv`` and no ``results.json``) are plotted,
labelled "unfinished", and never tabulated. ``--references`` evaluates the scripted reference
policies (:mod:`agents.reference`) on the same protocol tasks and writes
``<root>/references.json``::

    python -m agents.rl.report runs/rl_v1 --references --tasks 300
"""

from __future__ import annotations

import argparse
import json
import warnings
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


def agent_label(config: dict[str, Any]) -> str:
    """The agent a run belongs to: ``oracle``/``none``, or ``lstm_<retrieval>`` (RecurrentPPO).

    Variants get the knobs that make them: ``+route``/``+uniform`` (trim), ``+pos`` (position
    cue), ``+m<N>`` (pool size), so that runs of different recipes are never averaged together.

    >>> agent_label({"retrieval": "oracle", "trim": "route", "position_cue": True})
    'oracle+route+pos'
    >>> agent_label({"retrieval": "none", "algo": "recurrent_ppo", "trim": "route"})
    'lstm_none'
    """
    prefix = "lstm_" if config.get("algo", "ppo") == "recurrent_ppo" else ""
    label = f"{prefix}{config['retrieval']}"
    if config["retrieval"] != "none" and config.get("trim", "visible") != "visible":
        label += f"+{config['trim']}"
    if config.get("position_cue"):
        label += "+pos"
    if config.get("n_mazes"):
        label += f"+m{config['n_mazes']}"
    return label


def load_runs(root: Path, unfinished: bool = False) -> dict[str, list[dict[str, Any]]]:
    """``{agent: [results.json dicts, seed order]}`` for every finished run under ``root``.

    ``unfinished=True`` adds runs that have curves but no results yet (``"unfinished": True``,
    only ``config`` and ``curves``), for plots.
    """
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for folder in sorted(p.parent for p in root.glob("*/config.json")):
        path = folder / "results.json"
        if path.exists():
            result = json.loads(path.read_text())
        elif unfinished and (folder / "curves.csv").exists():
            result = {
                "config": json.loads((folder / "config.json").read_text()),
                "unfinished": True,
            }
        else:
            continue
        result["curves"] = _read_csv(folder / "curves.csv")
        protocol = folder / "protocol.json"  # written by python -m agents.rl.agent
        result["protocol"] = json.loads(protocol.read_text()) if protocol.exists() else {}
        runs[agent_label(result["config"])].append(result)
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
    lines.append(
        "| agent | steps/s (training loop) | env % | retrieval % | inference % | update % "
        "| wall s |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for mode, results in sorted(runs.items()):
        t = [r["timing"] for r in results]

        def pct(key: str, t: list[dict[str, float]] = t) -> str:
            values = [x[key] for x in t if key in x]
            return f"{100 * np.mean(values):.1f}" if values else "n/a"

        lines.append(
            f"| {mode} | {np.mean([x['steps_per_s'] for x in t]):.0f} "
            f"(min {min(x['steps_per_s'] for x in t):.0f}, "
            f"max {max(x['steps_per_s'] for x in t):.0f}) | "
            f"{pct('env_share')} | {pct('retrieval_share')} | {pct('inference_share')} | "
            f"{pct('update_share')} | {np.mean([x['wall_s'] for x in t]):.0f} |"
        )
    return "\n".join(lines)


def plot_curves(runs: dict[str, list[dict[str, Any]]], png: Path) -> None:
    """One panel per split: success vs env steps, mean over seeds with a ±1 s.e. band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = ("train", "explicit", "latent", "new_maze")
    panels = (*splits, "rollout")
    titles = {"rollout": "training envs (their step limit)"}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), sharey=True)
    top = 0.0
    for mode, results in sorted(runs.items()):
        curves = [r["curves"] for r in results if r["curves"]]
        if not curves:
            continue
        unfinished = any(r.get("unfinished") for r in results)
        n = min(len(c["timesteps"]) for c in curves)
        x = curves[0]["timesteps"][:n]
        label = f"{mode} ({len(curves)} seed{'s' if len(curves) > 1 else ''})"
        label += ", unfinished" if unfinished else ""
        for ax, split in zip(axes, panels):
            key = "rollout_success" if split == "rollout" else f"{split}_success"
            if any(key not in c for c in curves):
                continue
            y = np.stack([c[key][:n] for c in curves])
            if np.isnan(y).all():
                continue
            with warnings.catch_warnings():  # the first evaluation has no rollout yet (NaN)
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(y, axis=0)
            top = max(top, float(np.nanmax(y)))
            se = y.std(axis=0, ddof=1) / np.sqrt(len(y)) if len(y) > 1 else np.zeros_like(mean)
            ax.plot(x, mean, label=label, linestyle="--" if unfinished else "-")
            ax.fill_between(x, mean - se, mean + se, alpha=0.25)
            ax.set_title(titles.get(split, f"{split} (env budget)"))
            ax.set_xlabel("env steps")
    axes[0].set_ylabel("success rate")
    # near-zero curves would be flat lines on a 0-1 axis: zoom in when nothing is above 0.5
    axes[0].set_ylim(0, 1 if top > 0.5 else max(0.1, 1.3 * top))
    axes[0].legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


REFERENCES: tuple[str, ...] = ("search_then_path", "frontier", "placement_informed", "told_cell")


def reference_rows(root: Path, n_tasks: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """Success of each reference policy on every split, on the PPO protocol's tasks.

    The world is the one of the first run under ``root``; tasks are those of
    :func:`agents.rl.agent.evaluate_run` (``agents.evaluation.evaluate_agent`` with seed
    ``1000 + seed``), under the env's own budget.
    """
    from agents.evaluation import evaluate_agent
    from agents.reference import ReferencePolicy
    from agents.rl.config import TrainConfig

    first = next(iter(sorted(root.glob("*/config.json"))), None)
    if first is None:
        raise SystemExit(f"no runs (config.json) under {root}")
    world = TrainConfig.from_json(first.read_text()).env_spec.world_config()
    out: dict[str, dict[str, float]] = {}
    for mode in REFERENCES:
        out[mode] = {}
        for split in ("train", "explicit", "latent", "new_maze"):
            policy = ReferencePolicy(world, mode, seed=seed)
            r = evaluate_agent(policy, world, split, n_tasks, seed=1000 + seed)
            out[mode][split] = float(r.success.mean())
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder holding <run>/results.json")
    parser.add_argument("--png", type=Path, default=None, help="write the learning curves here")
    parser.add_argument("--markdown", action="store_true", help="print the results table")
    parser.add_argument(
        "--protocol", action="store_true", help="tabulate protocol.json (agents.rl.agent) instead"
    )
    parser.add_argument(
        "--references", action="store_true", help="evaluate the reference policies too"
    )
    parser.add_argument("--tasks", type=int, default=300, help="tasks per split (references)")
    args = parser.parse_args(argv)
    if args.references:
        refs = reference_rows(args.root, args.tasks)
        (args.root / "references.json").write_text(json.dumps(refs, indent=2))
        print(json.dumps(refs, indent=2))
    if args.png is not None:
        plot_curves(load_runs(args.root, unfinished=True), args.png)
    runs = load_runs(args.root)
    if not runs:
        raise SystemExit(f"no finished runs (results.json) under {args.root}")
    if args.markdown:
        print(markdown_table(runs, protocol=args.protocol))


if __name__ == "__main__":
    main()
