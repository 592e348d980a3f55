"""The experiments: ``latent-gridworld benchmark``, one concern per module.

- :mod:`~agents.experiments.presets`: the presets (sizes, recipe, durations).
- :mod:`~agents.experiments.arguments`: the command line.
- :mod:`~agents.experiments.configs`: the preset and the overrides as training configs.
- :mod:`~agents.experiments.jobs`: the typed jobs and their results (rows, outcomes, probes).
- :mod:`~agents.experiments.workers`: the functions that run the jobs, and the executors.
- :mod:`~agents.experiments.cache`: the evaluation cache (``eval_s<seed>.json``).
- :mod:`~agents.experiments.results`: aggregation over seeds and ``results.json``.
- :mod:`~agents.experiments.report`: the printed table, ``results.txt``, the plot.
- :mod:`~agents.experiments.run`: one run, top to bottom.
- :mod:`~agents.experiments.cli`: ``main``, what ``latent-gridworld benchmark`` calls.

Importing the package imports none of them. ``configs`` imports torch, ``workers`` and ``run``
torch and FAISS; the others neither, so ``--help`` and the result-table checks stay light.
"""
