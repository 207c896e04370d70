"""Checks that need the whole file or the project folder: references, cycles, paths, bindings.

They run on the items that passed the models, plus the well-formed fields of those that
did not (runner.spec.salvage), so a typo and a dangling reference come in one run; and
they use the raw document to know which names exist, so a broken job never also shows
up as "unknown job" elsewhere.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from runner.spec import bindings
from runner.spec.models import NAME_PATTERN, SECTIONS, to_runtime
from runner.spec.paths import path_problems
from runner.spec.salvage import well_formed
from runner.spec.source import Located, Mark, Path_, counted, quoted
from runner.spec.sweepchecks import sweep_problems

if TYPE_CHECKING:
    from runner.spec.types import Environment, Job, Model, Spec

Found = tuple[Mark, Path_, str]


@dataclass(frozen=True)
class Context:
    spec: Spec  # only the items that validated
    doc: Located
    root: Path
    hints: list[int] = field(default_factory=lambda: [HINT_BUDGET])  # comparisons left for "did you mean"

    @cached_property
    def jobs(self) -> dict[str, Job]:
        return self._items("jobs", self.spec.jobs)

    @cached_property
    def models(self) -> dict[str, Model]:
        return self._items("models", self.spec.models)

    def _items(self, section: str, valid: dict[str, Any]) -> dict[str, Any]:
        """The section's items that validated and, in file order between them, the well-formed
        fields of those that did not (a name that is itself invalid is left out)."""
        raw = self.doc.data.get(section) if isinstance(self.doc.data, dict) else None
        items: dict[str, Any] = {}
        for name, value in raw.items() if isinstance(raw, dict) else ():
            if name in valid:
                items[name] = valid[name]
            elif isinstance(value, dict) and re.match(NAME_PATTERN, name):
                items[name] = to_runtime(well_formed(SECTIONS[section], value))
        return items

    def names(self, section: str) -> Names:
        raw = self.doc.data.get(section) if isinstance(self.doc.data, dict) else None
        return Names(raw if isinstance(raw, dict) else ())

    def unknown(self, kind: str, name: str, known: Names) -> str:
        """`unknown job 'x' (did you mean 'y'?)`; past HINT_BUDGET comparisons, without the guess."""
        self.hints[0] -= len(known)
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) if self.hints[0] >= 0 else []
        hint = f" (did you mean {quoted(close[0])}?)" if close else (
            f" (defined: {_listed(known)})" if known else f" (no {kind}s are defined)")
        return f"unknown {kind} {quoted(name)}{hint}"


class Names(list[str]):
    """The names of a section in file order, with a set beside them: `in` stays cheap for 10,000 jobs."""

    def __init__(self, names: Iterable[str]) -> None:
        super().__init__(names)
        self.set = frozenset(self)

    def __contains__(self, name: object) -> bool:
        return name in self.set


HINT_BUDGET = 200_000  # difflib compares a name with each known one (~2 us): 3,000 typos x 3,000 jobs took 20 s
SHOWN = 10  # names listed in a message before "and N more"


def _listed(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN:,} more" if len(names) > SHOWN else ""
    return ", ".join(name if len(name) <= 60 else quoted(name) for name in names[:SHOWN]) + more


def run_checks(ctx: Context) -> list[Found]:
    found: list[Found] = []
    for check in (_references, _cycles, _paths, _bindings, _sweeps):
        found.extend(check(ctx))
    return counted(found)


def _references(ctx: Context) -> Iterator[Found]:
    doc, envs, jobs = ctx.doc, ctx.names("environments"), ctx.names("jobs")
    computes, datasets = Names(["local", *ctx.names("computes")]), ctx.names("datasets")
    for name, job in ctx.jobs.items():
        base = ("jobs", name)
        if job.environment is not None and job.environment not in envs:
            yield _at_value(doc, (*base, "environment"), ctx.unknown("environment", job.environment, envs))
        if job.compute not in computes:
            yield _at_value(doc, (*base, "compute"), ctx.unknown("compute", job.compute, computes))
        elif job.compute in ctx.spec.computes:
            compute = ctx.spec.computes[job.compute]
            problem = _distribution_on(job, compute) if job.distribution is not None else None
            if problem:
                yield _at_value(doc, (*base, "distribution"), problem)
            problem = (ray_environment_problem(job.environment, ctx.spec.environments.get(job.environment))
                       if compute.type == "ray" and job.environment else None)
            if problem:
                yield _at_value(doc, (*base, "environment"), f"{problem} (compute {job.compute} is a ray compute)")
        for i, need in enumerate(job.needs):
            if need not in jobs:
                yield _at_value(doc, (*base, "needs", i), ctx.unknown("job", need, jobs))
        for key, item in job.inputs.items():
            where = (*base, "inputs", key)
            if item.dataset is not None and item.dataset not in datasets:
                yield _at_value(doc, (*where, "dataset"), ctx.unknown("dataset", item.dataset, datasets))
            if item.job is not None and item.job not in jobs:
                yield _at_value(doc, (*where, "job"), ctx.unknown("job", item.job, jobs))
    for name, model in ctx.models.items():
        if model.job is not None and model.job not in jobs:
            yield _at_value(doc, ("models", name, "job"), ctx.unknown("job", model.job, jobs))
    if "local" in ctx.names("computes"):
        yield (doc.key_mark(("computes", "local")), ("computes", "local"),
               "'local' is built in and cannot be redefined: choose another name")


def _distribution_on(job: Job, compute: Any) -> str | None:
    """What a docker compute cannot do with this distribution (several nodes are several containers),
    or a ray compute (only pytorch ranks run as Ray tasks)."""
    dist = job.distribution
    if compute.type == "ray" and dist is not None and dist.type != "pytorch":
        return (f"distribution type {dist.type} is not supported on ray compute {quoted(job.compute)} "
                f"(pytorch is: its ranks run as Ray tasks); use a local or docker compute")
    if compute.type != "docker" or dist is None or dist.nodes == 1:
        return None
    if dist.type == "mpi":
        return (f"MPI across containers is not supported (nodes: {dist.nodes} on docker compute "
                f"{quoted(job.compute)}): use nodes: 1 (MPI inside one container works) or a local compute")
    if compute.network != "bridge":
        return (f"nodes: {dist.nodes} on docker compute {quoted(job.compute)} needs `network: bridge` "
                f"(the containers talk over a network of the run), not {compute.network}")
    return None


def ray_environment_problem(name: str, env: Environment | None) -> str | None:
    """Why an environment cannot be reproduced on a Ray cluster, or None (also for an unknown
    name, reported elsewhere): a ray compute builds nothing here, and `docker:`, `conda:` and
    `interpreter:` name things on one machine."""
    label = f"environment {name}"
    if env is None:
        return None
    if env.docker is not None:
        return (f"{label} has `docker:`, which a ray compute cannot use: jobs run in the cluster's "
                f"Python with the environment's pip packages; remove `docker:` or use a docker compute")
    if env.conda:
        return f"{label} has `conda:`, which a ray compute does not support; list the packages under `pip:` or `requirements:`"
    if env.interpreter:
        return f"{label} names an `interpreter:` on this machine; a ray compute runs the cluster's"
    return None


def upstream(job: Job) -> list[tuple[str, Path_]]:
    """The jobs a job depends on, each with where in the job it is named."""
    edges = [(need, ("needs", i)) for i, need in enumerate(job.needs)]
    edges += [(item.job, ("inputs", key, "job")) for key, item in job.inputs.items() if item.job]
    return edges


def _sweeps(ctx: Context) -> Iterator[Found]:
    return sweep_problems(ctx.doc, ctx.jobs, ctx.models)


def _cycles(ctx: Context) -> Iterator[Found]:
    """Each dependency cycle once, found by a depth-first walk kept on a list (10,000 jobs deep is fine)."""
    jobs, done, reported = ctx.jobs, set(), set()
    for root in jobs:
        if root in done:
            continue
        trail, place = [root], {root: 0}  # the current path, and where each name stands on it
        stack = [(root, iter(upstream(jobs[root])))]
        while stack:
            name, edges = stack[-1]
            for dep, where in edges:
                if dep in place and (name, dep) not in reported:  # needs and an input may name it twice
                    reported.add((name, dep))
                    yield _at_value(ctx.doc, ("jobs", name, *where), f"dependency cycle: {_cycle(trail, place[dep])}")
                elif dep in jobs and dep not in done and dep not in place:
                    place[dep] = len(trail)
                    trail.append(dep)
                    stack.append((dep, iter(upstream(jobs[dep]))))
                    break
            else:
                stack.pop()
                del place[trail.pop()]
                done.add(name)


def _cycle(trail: list[str], start: int) -> str:
    """`a -> b -> a` from `trail[start]` to the end of the path; a long one shortened in the middle."""
    length = len(trail) - start
    names = trail[start:] if length <= 2 * SHOWN else [
        *trail[start:start + SHOWN], f"... ({length - 2 * SHOWN:,} more)", *trail[-SHOWN:]]
    return " -> ".join([*names, trail[start]])


def _paths(ctx: Context) -> Iterator[Found]:
    for where, message in path_problems(ctx.spec, ctx.root):
        yield _at_value(ctx.doc, where, message)


def _bindings(ctx: Context) -> Iterator[Found]:
    for name, job in ctx.jobs.items():
        known = {kind: _declared(ctx, name, kind) for kind in ("params", "inputs")}
        for where, text in _bindable(job):
            yield from _check_text(ctx, known, ("jobs", name, *where), text)


def _declared(ctx: Context, job: str, kind: str) -> Names | None:
    """The params or inputs a job names, as written: one that failed validation is still named.

    None when they are not a mapping at all; that is reported, and every binding to them is not.
    """
    raw = ctx.doc.data["jobs"][job]
    section = raw.get(kind, {}) if isinstance(raw, dict) else {}
    return Names(section) if isinstance(section, dict) else None


def _bindable(job: Job) -> Iterator[tuple[Path_, str]]:
    if job.command is not None:
        yield ("command",), job.command
    if isinstance(job.args, dict):
        for key, value in job.args.items():
            if isinstance(value, str):
                yield ("args", key), value
    elif job.args is not None:
        for i, value in enumerate(job.args):
            if isinstance(value, str):
                yield ("args", i), value


def _check_text(ctx: Context, known: dict[str, Names | None], where: Path_, text: str) -> Iterator[Found]:
    found, errors = bindings.parse(text)
    problems = [(error.offset, error.message) for error in errors]
    messages: dict[str, str | None] = {}  # by expression: a name repeated 16,000 times is looked up once
    for binding in found:
        if binding.expr not in messages:
            messages[binding.expr] = _binding_problem(ctx, known, binding.expr)
        if messages[binding.expr] is not None:
            problems.append((binding.start, messages[binding.expr]))
    yield from _in_value(ctx.doc, where, text, problems)


def _binding_problem(ctx: Context, known: dict[str, Names | None], expr: str) -> str | None:
    kind, _, name = expr.partition(".")
    names = known.get(kind)
    if names is None or name in names:
        return None
    return f"{ctx.unknown({'params': 'param', 'inputs': 'input'}[kind], name, names)} in `${{{{ {expr} }}}}`"


def _at_value(doc: Located, where: Path_, message: str) -> Found:
    return doc.value_mark(where), where, message


def _in_value(doc: Located, where: Path_, text: str, problems: list[tuple[int, str]]) -> Iterator[Found]:
    """Problems at offsets of a value's text, each message once (with a count) at its first offset.

    Each points at the binding itself when the source spells it as parsed, else at the value.
    The source is searched once, front to back, as the problems come in the same order there.
    """
    first: dict[str, list[int]] = {}  # message -> [first offset, how many]
    for offset, message in sorted(problems):
        first.setdefault(message, [offset, 0])[1] += 1
    span = doc.values.get(where)
    cursor = span[0].index if span is not None else -1
    for message, (offset, count) in first.items():
        close = text.find("}}", offset)
        snippet = text[offset:close + 2] if close != -1 else text[offset:].partition("\n")[0]
        hit = doc.text.find(snippet, cursor, span[1].index + 1) if span is not None and cursor != -1 else -1
        cursor = hit + 1 if hit != -1 else -1  # lost once: the rest point at the value
        shown = message if count == 1 else f"{message} ({count:,} times)"
        yield (doc.mark_at(hit) if hit != -1 else doc.value_mark(where)), where, shown
