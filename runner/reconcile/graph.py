"""The job graph: who depends on whom, in what order jobs run, what a target needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from runner.spec.types import Job, Spec



def dependencies(job: Job) -> list[str]:
    """Upstream jobs: `needs:` plus every job an input reads from, without repeats."""
    deps = list(job.needs) + [item.job for item in job.inputs.values() if item.job]
    return list(dict.fromkeys(deps))


def topological(spec: Spec, names: Iterable[str] | None = None) -> list[str]:
    """Jobs in an order where every job comes after what it depends on (file order breaks ties)."""
    wanted = set(spec.jobs if names is None else names)
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for dep in dependencies(spec.jobs[name]):
            visit(dep)
        if name in wanted:
            order.append(name)

    for name in spec.jobs:
        if name in wanted:
            visit(name)
    return order


def with_upstream(spec: Spec, targets: Iterable[str]) -> set[str]:
    """The targets and everything they need, transitively."""
    selected: set[str] = set()
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name not in selected:
            selected.add(name)
            stack.extend(dependencies(spec.jobs[name]))
    return selected
