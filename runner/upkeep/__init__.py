"""Upkeep of a project's state: what no run or plan does on its own.

Owns: `runner gc` (`gc`: delete objects that nothing references). It sits above both
runner.state and runner.snapshot because what keeps an object alive is known to both
(recorded snapshots and their manifests, runs, model versions).

May import: runner.snapshot, runner.state, and the foundation modules.
"""
