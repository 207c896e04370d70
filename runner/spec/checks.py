"""Checks that need the whole file or the project folder: references, cycles, paths, bindings.

They run on the items that passed the models, and use the raw document only to know
which names exist, so a broken job never also shows up as "unknown job" elsewhere.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from runner.spec import bindings
from runner.spec.paths import path_problems
from runner.spec.source import Located, Mark, Path_

if TYPE_CHECKING:
    from runner.spec.types import Job, Spec

Found = tuple[Mark, Path_, str]


@dataclass(frozen=True)
class Context:
    spec: Spec  # only the items that validated
    doc: Located
    root: Path

    def names(self, section: str) -> list[str]:
        raw = self.doc.data.get(section) if isinstance(self.doc.data, dict) else None
        return list(raw) if isinstance(raw, dict) else []


def run_checks(ctx: Context) -> list[Found]:
    found: list[Found] = []
    for check in (_references, _cycles, _paths, _bindings):
        found.extend(check(ctx))
    return found


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else (
        f" (defined: {', '.join(known)})" if known else f" (no {kind}s are defined)")
    return f"unknown {kind} '{name}'{hint}"


def _references(ctx: Context) -> Iterator[Found]:
    doc, envs, jobs = ctx.doc, ctx.names("environments"), ctx.names("jobs")
    for name, job in ctx.spec.jobs.items():
        base = ("jobs", name)
        if job.environment is not None and job.environment not in envs:
            yield _at_value(doc, (*base, "environment"), _unknown("environment", job.environment, envs))
        computes = ["local", *ctx.names("computes")]
        if job.compute not in computes:
            yield _at_value(doc, (*base, "compute"), _unknown("compute", job.compute, computes))
        for i, need in enumerate(job.needs):
            if need not in jobs:
                yield _at_value(doc, (*base, "needs", i), _unknown("job", need, jobs))
        for key, item in job.inputs.items():
            where = (*base, "inputs", key)
            if item.dataset is not None and item.dataset not in ctx.names("datasets"):
                yield _at_value(doc, (*where, "dataset"), _unknown("dataset", item.dataset, ctx.names("datasets")))
            if item.job is not None and item.job not in jobs:
                yield _at_value(doc, (*where, "job"), _unknown("job", item.job, jobs))
    for name, model in ctx.spec.models.items():
        if model.job not in jobs:
            yield _at_value(doc, ("models", name, "job"), _unknown("job", model.job, jobs))
    if "local" in ctx.names("computes"):
        yield (doc.key_mark(("computes", "local")), ("computes", "local"),
               "'local' is built in and cannot be redefined: choose another name")


def upstream(job: Job) -> list[tuple[str, Path_]]:
    """The jobs a job depends on, each with where in the job it is named."""
    edges = [(need, ("needs", i)) for i, need in enumerate(job.needs)]
    edges += [(item.job, ("inputs", key, "job")) for key, item in job.inputs.items() if item.job]
    return edges


def _cycles(ctx: Context) -> Iterator[Found]:
    jobs = ctx.spec.jobs
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(name: str, trail: list[str]) -> Iterator[Found]:
        state[name] = 1
        for dep, where in upstream(jobs[name]):
            if dep not in jobs:
                continue
            if state.get(dep) == 1:
                cycle = trail[trail.index(dep):] + [name, dep] if dep in trail else [name, dep]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    yield _at_value(ctx.doc, ("jobs", name, *where),
                                    f"dependency cycle: {' -> '.join(cycle)}")
            elif dep not in state:
                yield from visit(dep, [*trail, name])
        state[name] = 2

    for name in jobs:
        if name not in state:
            yield from visit(name, [])


def _paths(ctx: Context) -> Iterator[Found]:
    for where, message in path_problems(ctx.spec, ctx.root):
        yield _at_value(ctx.doc, where, message)


def _bindings(ctx: Context) -> Iterator[Found]:
    for name, job in ctx.spec.jobs.items():
        for where, text in _bindable(job):
            yield from _check_text(ctx, job, ("jobs", name, *where), text)


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


def _check_text(ctx: Context, job: Job, where: Path_, text: str) -> Iterator[Found]:
    found, errors = bindings.parse(text)
    for error in errors:
        yield _in_value(ctx.doc, where, text, error.offset, error.message)
    for binding in found:
        kind, _, name = binding.expr.partition(".")
        known: Any = job.params if kind == "params" else job.inputs if kind == "inputs" else None
        if known is not None and name not in known:
            message = _unknown({"params": "param", "inputs": "input"}[kind], name, list(known))
            yield _in_value(ctx.doc, where, text, binding.start, f"{message} in `${{{{ {binding.expr} }}}}`")


def _at_value(doc: Located, where: Path_, message: str) -> Found:
    return doc.value_mark(where), where, message


def _in_value(doc: Located, where: Path_, text: str, offset: int, message: str) -> Found:
    """Point at the binding itself when the source spells it as parsed, else at the value."""
    span = doc.values.get(where)
    close = text.find("}}", offset)
    snippet = text[offset:close + 2] if close != -1 else text[offset:].split("\n")[0]
    if span is not None:
        hit = span[0].index - 1
        for _ in range(text.count(snippet, 0, offset) + 1):
            hit = doc.text.find(snippet, hit + 1, span[1].index + 1)
            if hit == -1:
                return _at_value(doc, where, message)
        return doc.mark_at(hit), where, message
    return _at_value(doc, where, message)
