"""Paired PPO agents on the pixel env: retrieval wrapper, features extractor, training, evaluation.

Importing this package does not import torch; :mod:`agents.rl.extractor` and
:mod:`agents.rl.train`'s :func:`~agents.rl.train.train` do.
"""

from agents.rl.evaluate import EVAL_SPLITS, EnvSpec, evaluate, expert_memory, make_env
from agents.rl.wrapper import MEMORY_KEYS, RetrievalObservation, check_memory_matches

__all__ = [
    "EVAL_SPLITS",
    "MEMORY_KEYS",
    "EnvSpec",
    "RetrievalObservation",
    "check_memory_matches",
    "evaluate",
    "expert_memory",
    "make_env",
]
