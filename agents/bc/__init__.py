"""Behavioural-cloning transformer agents (baseline and retrieval) for the ASCII env.

- :mod:`agents.bc.model`: the causal transformer over step rows of tokens.
- :mod:`agents.bc.context`: episodes and retrieved episodes to model inputs.
- :mod:`agents.bc.data`: the training stream (pool dataset + fresh and moved mazes).
- :mod:`agents.bc.config`: the training config (every field a run depends on).
- :mod:`agents.bc.checkpoint`: saving and loading a trained model with its config.
- :mod:`agents.bc.train`: the training script, a leaf nothing in the package imports.
- :mod:`agents.bc.agent`: a trained model as an agent of :mod:`agents.protocol`.

Importing this package does not import torch; the submodules above (except ``context``) do.
The closed-loop evaluator is :mod:`agents.evaluation`, one floor below (every agent's).
"""
