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
    """Jobs in an order where every job comes after what it depends on (file order breaks ties).

    A depth-first walk kept on a list, not the call stack: a chain of 10,000 jobs is fine.
    """
    wanted = set(spec.jobs if names is None else names)
    order: list[str] = []
    done: set[str] = set()
    for root in spec.jobs:
        if root not in wanted or root in done:
            continue
        done.add(root)
        stack = [(root, iter(dependencies(spec.jobs[root])))]
        while stack:
            name, deps = stack[-1]
            for dep in deps:
                if dep not in done:
                    done.add(dep)
                    stack.append((dep, iter(dependencies(spec.jobs[dep]))))
                    break
            else:
                stack.pop()
                if name in wanted:
                    order.append(name)
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
