"""``latent-gridworld benchmark``: train (or load) the paired BC agents, evaluate, report.

For every seed it trains the baseline and the retrieval agent with one config (they differ only
in the memory), then runs closed-loop episodes in the ASCII env on ``train``, ``explicit``,
``latent`` and ``new_maze``, for:

* ``baseline`` and ``retrieval`` (the pair),
* ``retrieval-distractors``: the retrieval agent given distractors only (same k), the control
  that shows whether it uses what it retrieves,
* ``retrieval-knn@test``: the oracle-trained retrieval agent with ``knn`` retrieval at test
  time (how much it depends on retrieval precision),
* the scripted reference policies (:mod:`agents.reference`),
* any third-party agent given with ``--agent path/to/file.py:factory``
  (:mod:`agents.protocol`).

It prints an agent x split table (success and path efficiency, mean over seeds with a 95%
t-interval, or a binomial interval over tasks for one seed; latent success split into trivial
tasks, where the goal is in view at the start, and the rest), and writes ``results.json`` and
``results.png`` to ``--out``. Checkpoints found in ``--out`` (or ``--checkpoints``) are loaded
instead of retrained when their config matches; a mismatch is an error before any training.

    latent-gridworld benchmark --preset demo
    latent-gridworld benchmark --preset default --seeds 0 1 2 --out runs/default
    latent-gridworld benchmark --preset default --full-view --out runs/full_view
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from agents.experiments.arguments import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (2 on bad input)."""
    t_start = time.perf_counter()
    args = build_parser().parse_args(argv)
    # the run imports torch and FAISS (the training config, the jobs): only once the arguments
    # parse, so that --help and a usage error answer at once
    from agents.experiments.run import run

    return run(args, argv, t_start)


if __name__ == "__main__":
    raise SystemExit(main())
