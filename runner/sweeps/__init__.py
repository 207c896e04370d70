"""Hyperparameter sweeps: search spaces, sampling, early termination, and the sweep tables.

Owns: what a sweep's trials are, as pure functions and records: `space` (Azure ML's search
space types: drawing and transforming values), `study` (which params trial N gets, from
the seed and the results so far: grid, random, or Optuna's TPE for bayesian), `policies`
(bandit, median stopping and truncation selection on metric curves), `identity` (a sweep's
fingerprint and its trials'), `store` (the `sweeps` and `sweep_trials` tables) and `views`
(what `runner sweeps list/show` print). Running the trials is `runner.reconcile.sweep_run`.

May import: runner.runs, runner.spec, runner.state, and the foundation modules.
"""
