"""Reconciliation: what must run and be registered, and making it so.

Owns the flow from a Spec to recorded runs and models:
- `plan`: the Plan, a frozen value of Actions (kind, target, reasons as data, the RunWork to execute);
- `planner` reads the facts of each job (snapshot, environment, data, upstream outputs, past
  runs) and `decide` turns them into actions with pure functions; `models` does the same for
  models; `fingerprint` and `graph` are the pieces they use;
- `apply` executes a Plan: `repair` marks runs of a dead runner lost, `schedule` starts runs in
  dependency order (`decide.redecide` for jobs planned after their upstream), `execute` runs
  one (staging, the compute target, collecting), `context` is what runs share (environments,
  variables, inputs, collection), `register` carries out the model actions; `results` are what
  apply reports;
- sweeps: `sweep_plan` (a sweep's identity and its one plan action) and `sweep_run` (its trials,
  each a run through `execute`, with live early termination).

Data flows one way: planner -> Plan -> apply; apply never asks the planner again.

May import: runner.capture, runner.sweeps, runner.runs, runner.registry, runner.compute, runner.envs, runner.snapshot,
runner.spec, runner.git, runner.state, and the foundation modules.
"""
