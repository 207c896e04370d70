"""The normalised form of a job: what decides its result, in a shape that hashes stably.

Key order, defaults written out or left implicit, and YAML style (folded or literal
command, flow or block mappings) do not change it. Metadata (tags, description) and
scheduling (timeout, retries, experiment, needs) are not part of it.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.spec.types import Job, Scalar, Spec



def normalised_job(spec: Spec, name: str, params: dict[str, Scalar] | None = None) -> dict[str, Any]:
    """`params`: the values this run uses, when not the job's own (a sweep's trial)."""
    job = spec.jobs[name]
    normal = {
        "code": job.code,
        "run": _run(job),
        "params": dict(sorted((job.params if params is None else params).items())),
        "inputs": {key: item.as_dict(exclude_none=True) for key, item in sorted(job.inputs.items())},
        "environment": job.environment,
        "compute": spec.compute_of(job).type,
    }
    if job.distribution is not None:  # absent for a single process: older fingerprints stay valid
        normal["distribution"] = distribution_counts(job)
    if job.capture:  # what the run records depends on it; absent when empty, as above
        normal["capture"] = sorted(job.capture)
    return normal


def distribution_counts(job: Job) -> dict[str, Any]:
    """The type and the counts that apply to it (they change results: the effective batch size)."""
    dist = job.distribution
    assert dist is not None
    if dist.type == "tensorflow":
        return {"type": dist.type, "nodes": dist.nodes, "workers": dist.workers,
                "parameter_servers": dist.parameter_servers, "chief": dist.chief}
    return {"type": dist.type, "nodes": dist.nodes, "processes_per_node": dist.processes_per_node}


def _run(job: Job) -> dict[str, Any]:
    if job.command is not None:
        return {"command": _words(job.command)}
    args: Any = job.args
    if isinstance(args, dict):
        args = {key: ("" if value is None else value) for key, value in sorted(args.items())}
    elif args is not None:
        args = list(args)
    return {"script": job.script, "args": args}


def _words(command: str) -> Any:
    """Shell words, so that folding or re-spacing the command does not change it."""
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: the shell will complain at run time
        return command.strip()
