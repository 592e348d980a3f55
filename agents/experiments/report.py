"""What a run prints and draws: the agent x split table, the probe lines, ``results.txt``, the plot.

``results.txt`` is rendered from ``results.json`` alone (:func:`render_results`: aggregated again
from the per-task outcomes), so :func:`check_result_tables` can hold every committed table in
``docs/result_tables`` to what the current code makes of its stored results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.experiments.arguments import build_parser
from agents.experiments.jobs import SPLITS, RowKey, SeedResults
from agents.experiments.results import RowSummary, aggregate, seed_results, table_agents

# the narrowest agent and split columns (the widths of every table before they grew to fit)
AGENT_COLUMN = 24
SPLIT_COLUMN = 10


def format_table(table: Mapping[RowKey, RowSummary], splits: Sequence[str]) -> str:
    """A plain-text agent x split table; the agent column is as wide as the longest name."""
    agents = table_agents(table)
    width = max([AGENT_COLUMN, *(len(a) + 2 for a in agents)])
    split_width = max([SPLIT_COLUMN, *(len(s) + 2 for s in splits)])
    lines = [
        f"{'agent':<{width}}{'split':<{split_width}}{'success':>16}{'efficiency':>16}"
        f"{'non-trivial':>13}{'trivial':>9}{'tight':>8}",
    ]
    for agent in agents:
        for split in splits:
            row = table.get(RowKey(agent, split))
            if row is None:
                continue
            lines.append(
                f"{agent:<{width}}{split:<{split_width}}"
                f"{_pm(row.success, row.success_ci):>16}"
                f"{_pm(row.efficiency, row.efficiency_ci):>16}"
                f"{row.success_nontrivial:>13.3f}{row.success_trivial:>9.3f}"
                f"{row.success_tight:>8.3f}"
            )
    return "\n".join(lines)


def _pm(mean: float, ci: float) -> str:
    return f"{mean:.3f} ± {ci:.3f}" if np.isfinite(ci) else f"{mean:.3f}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def probe_lines(per_seed: Mapping[int, SeedResults]) -> list[str]:
    """The memory and goal-location probe lines of every seed, for the console."""
    lines = []
    for seed, r in per_seed.items():
        if r.memory_probe is not None:
            lines.append(
                f"memory probe (seed {seed}, teacher-forced loss): "
                + "; ".join(
                    f"{kind}: relevant {v['relevant_loss']:.3f}, distractors "
                    f"{v['distractors_loss']:.3f}, none {v['none_loss']:.3f}"
                    for kind, v in r.memory_probe.items()
                )
            )
    for seed, r in per_seed.items():
        if r.goal_probe:
            lines.append(format_goal_probe(seed, r.goal_probe))
    for seed, r in per_seed.items():
        if r.belief:
            lines.append(
                f"closed-loop belief (seed {seed}, latent tasks with the goal out of view: "
                "goal head right at the first step; success if right / if wrong"
                + (
                    " / if told the cell"
                    if any("success_if_told" in b for b in r.belief.values())
                    else ""
                )
                + "): "
                + "; ".join(
                    f"{agent} {_num(b['belief_right'])}; {_num(b['success_if_right'])} / "
                    f"{_num(b['success_if_wrong'])}"
                    + (f" / {_num(b['success_if_told'])}" if "success_if_told" in b else "")
                    for agent, b in r.belief.items()
                )
            )
    return lines


def format_goal_probe(seed: int, probe: Mapping[str, Any]) -> str:
    """One line: how often each agent's goal head points at the goal just before seeing it."""
    parts = []
    for agent, splits in probe.items():
        for variant in ("none", "relevant", "distractors"):
            accs = [
                f"{split} {r[f'{variant}_before_acc']:.2f}"
                for split, r in splits.items()
                if f"{variant}_before_acc" in r
            ]
            if accs and not (agent == "retrieval" and variant == "none"):
                label = agent if variant == "none" else f"{agent} ({variant})"
                parts.append(f"{label}: " + ", ".join(accs))
    return (
        f"goal-location probe (seed {seed}, share of tasks whose goal cell the model names just "
        "before the goal comes into view): " + "; ".join(parts)
    )


def plot(table: Mapping[RowKey, RowSummary], splits: Sequence[str], path: Path, title: str) -> None:
    """Grouped bars: success per split, one bar per agent, 95% intervals as error bars."""
    # matplotlib only when a plot is drawn: --no-plot runs and the table checks go without it
    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    import matplotlib.pyplot as plt

    agents = table_agents(table)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(splits) * len(agents) / 3), 4.6))
    width = 0.8 / len(agents)
    x = np.arange(len(splits))
    # one colour per agent: the default cycle repeats after ten, and a benchmark has more rows
    tab20 = plt.get_cmap("tab20")
    colours = [tab20(i) for i in range(tab20.N)]
    for j, agent in enumerate(agents):
        rows = [table.get(RowKey(agent, s)) for s in splits]
        means = [r.success if r else np.nan for r in rows]
        cis = [r.success_ci if r and np.isfinite(r.success_ci) else 0 for r in rows]
        ax.bar(
            x + (j - (len(agents) - 1) / 2) * width,
            means,
            width,
            yerr=cis,
            capsize=2,
            label=agent,
            color=colours[j % len(colours)],
        )
    ax.set_xticks(x, splits)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate")
    ax.set_title("\n".join(textwrap.wrap(title, 160)), fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_title(results: Mapping[str, Any]) -> str:
    """The first line of ``results.txt``: preset, sizes, world, retrieval and ``--set`` items."""
    config = results["train_config"]
    try:
        sets = build_parser().parse_args(results.get("argv", [])).set
    except SystemExit:  # an argv of another version: the title goes without its --set items
        sets = []
    return (
        f"{results['preset']}: {len(results['seeds'])} seed(s), {results['steps']} steps, "
        f"{results['eval_tasks']} tasks/split, world {config['world']}, retrieval "
        f"{config['retrieval']}" + "".join(f", --set {item}" for item in sets)
    )


def render_results(results: Mapping[str, Any]) -> str:
    """``results.txt`` from ``results.json``: the title, the table, the probe lines.

    The table is aggregated again from the per-task outcomes (not copied from the stored
    table), so a committed table that :func:`check_result_tables` accepts is what the current
    code makes of the stored outcomes.
    """
    per_seed = seed_results(results)
    table = aggregate({seed: r.rows for seed, r in per_seed.items()})
    present = {key.split for key in table}
    splits = [s for s in SPLITS if s in present]
    lines = [run_title(results), "", format_table(table, splits)]
    probes = probe_lines(per_seed)
    if probes:
        lines += ["", *probes]
    return "\n".join(lines) + "\n"


def check_result_tables(folder: str | Path, write: bool = False) -> dict[str, str]:
    """Compare every ``<name>.txt`` in ``folder`` that has a ``<name>.json`` with its rendering.

    Args:
        folder: A folder of committed tables (``docs/result_tables``), each ``NAME.txt`` beside
            the ``results.json`` it came from, stored as ``NAME.json``.
        write: Rewrite the tables that differ (or are missing) instead of only reporting them.

    Returns:
        ``NAME`` -> ``"ok"``, ``"differs"``, ``"missing"`` (a ``.json`` without its ``.txt``),
        ``"written"`` (with ``write``) or ``"no stored results"`` (a ``.txt`` alone: not
        checkable, its ``results.json`` was never kept).
    """
    folder = Path(folder)
    status: dict[str, str] = {}
    for stored in sorted(folder.glob("*.json")):
        table = stored.with_suffix(".txt")
        text = render_results(json.loads(stored.read_text()))
        current = table.read_text() if table.exists() else None
        if current == text:
            status[stored.stem] = "ok"
        elif write:
            table.write_text(text)
            status[stored.stem] = "written"
        else:
            status[stored.stem] = "missing" if current is None else "differs"
    for table in sorted(folder.glob("*.txt")):
        if table.stem not in status:
            status[table.stem] = "no stored results"
    return status
