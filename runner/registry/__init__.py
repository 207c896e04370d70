"""The model registry, reconciled from the `models:` section of train.yaml.

- `store`: the tables (models, immutable versions and their files, aliases, history).
- `reconcile`: what plan says about each model (register / update / archive / skip).
- `sync`: what apply does about them once the runs have ended.
- `views`, `download`: read-only access for `runner models ...`.

A version is decided by content: the digest of the file at `path` in the job's latest
completed run (or of the folder, as `runner.plan.outputs_digest` computes it). Same
content, same version; metadata changes update the current version in place and go to
the history; nothing is ever deleted, a model gone from train.yaml is only archived
(`runner apply --prune`).
"""
