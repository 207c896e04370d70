"""Run history: the `runs` tables, their lifecycle writes, and the read views the CLI prints.

Owns: the runs tables' writes (`store`) and the read views (`views`).

May import: runner.capture (a run's logged records), runner.snapshot (manifests, for `runs
diff`), runner.state, and the foundation modules (runner.tracking reads a run's metrics file).
"""
