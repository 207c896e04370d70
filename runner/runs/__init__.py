"""Run history: the `runs` tables, their lifecycle writes, and the read views the CLI prints.

Owns: the runs tables' writes (`store`) and the read views (`views`).

May import: runner.state, runner.tracking (to read a run's metrics file), and the foundation
modules.
"""
