"""The ``latent-gridworld benchmark`` arguments.

Its own module, imported by nothing heavy, so that ``--help`` answers without torch and the
report can read a stored run's ``argv`` back (its ``--set`` items go into the table's title).
"""

from __future__ import annotations

import argparse
import textwrap

from agents.experiments.jobs import SPLITS
from agents.experiments.presets import DEFAULT_PRESET, PRESETS, describe_presets


def build_parser() -> argparse.ArgumentParser:
    """The ``latent-gridworld benchmark`` arguments."""
    p = argparse.ArgumentParser(
        prog="latent-gridworld benchmark",
        description=textwrap.fill(
            "Train and evaluate the paired BC agents (baseline vs episodic retrieval). Without "
            f"--preset it runs the {DEFAULT_PRESET!r} preset, the full experiment (about 40 min "
            "on 2 cores); "
            "`--preset demo` is the one `make demo` runs (minutes).",
            96,
        ),
        epilog=describe_presets(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        help=f"one of {', '.join(PRESETS)} (default: {DEFAULT_PRESET}; sizes and times below)",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds (default: the preset's)")
    p.add_argument("--steps", type=int, help="gradient steps per agent (default: the preset's)")
    p.add_argument("--eval-tasks", type=int, help="tasks per split (default: the preset's)")
    p.add_argument("--out", help="output folder (default: runs/benchmark-<preset>)")
    p.add_argument("--checkpoints", help="folder with <agent>_s<seed>/model.pt to load")
    p.add_argument("--retrain", action="store_true", help="train even if checkpoints exist")
    p.add_argument("--jobs", type=int, default=2, help="parallel single-thread processes")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the jobs as Ray tasks: on a local Ray instance with --jobs CPUs, or on the "
        "cluster at ADDRESS (HOST:PORT, ray://HOST:PORT, auto); see docs/scaling.md",
    )
    p.add_argument("--splits", nargs="+", default=list(SPLITS), help="splits to evaluate")
    p.add_argument(
        "--bc-agents",
        nargs="+",
        default=["baseline", "retrieval"],
        help="BC agents to train and evaluate (default: both)",
    )
    p.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="FILE.py:FACTORY",
        help="a third-party agent factory (repeatable); see agents/protocol.py",
    )
    g = p.add_argument_group("ablations")
    g.add_argument("--full-view", action="store_true", help="observe the whole maze")
    g.add_argument(
        "--no-icl", action="store_true", help="no within-episode ICL episodes in the training data"
    )
    g.add_argument(
        "--no-stream",
        action="store_true",
        help="no fresh/moved-maze stream in training (pool dataset only)",
    )
    g.add_argument("--retrieval", default="oracle", help="oracle or knn")
    g.add_argument("--n-distractors", type=int, help="distractors per retrieval (default 2)")
    g.add_argument(
        "--aux-goal-weight",
        type=float,
        help="weight of the auxiliary goal-location loss (default: the preset's)",
    )
    g.add_argument(
        "--no-position-cue", action="store_true", help="no (row, col) cue in the observation"
    )
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any other training field, as in `python -m agents.bc.train --set` (repeatable; "
        "JSON objects are merged into dict fields)",
    )
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument(
        "--reevaluate",
        action="store_true",
        help="evaluate every row again (default: rows whose checkpoint, agent source, seed and "
        "task count match a stored evaluation in <out>/eval_s<seed>.json are reused)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite <out>/results.{json,txt,png} even if another run (other agents, splits "
        "or settings) wrote them (default: such a run writes results-<N>.* beside them)",
    )
    p.add_argument(
        "--progress-every",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between progress lines of the running jobs (default 10; 0: none)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p
