"""The model registry: the stores and read views of registered models.

- `store`: the tables (models, immutable versions and their files, aliases, history).
- `views`, `download`, `alias`: read access and hand-set aliases for `runner models ...`.

What plan and apply decide about each model lives in `runner.reconcile.models` and
`runner.reconcile.register`. A version is decided by content: the digest of the file at
`path` in the job's latest completed run (or of the folder, as
`runner.reconcile.fingerprint.outputs_digest` computes it). Same content, same version; metadata changes update the current version in place and go to
the history; nothing is ever deleted, a model gone from train.yaml is only archived
(`runner apply --prune`).

May import: runner.runs, runner.spec (name patterns), runner.state, and the foundation modules.
"""
