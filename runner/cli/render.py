"""The one place plans, apply progress and run results become text."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported at run time: `runner snapshot` prints through here
if TYPE_CHECKING:
    from typing import Any

    from runner.reconcile.plan import Plan

WIDTH = 14


def plan_lines(plan: Plan) -> list[str]:
    lines = []
    for action in plan.actions:
        kind = action.kind.value
        label = action.target if kind == "skip" else f"{kind} {action.target}"
        lines.append(f"{action.symbol} {label:<{WIDTH + 4}} ({'; '.join(action.texts)})")
    return lines


def plan_summary(plan: Plan) -> str:
    counts: dict[str, int] = {}
    for action in plan.actions:
        counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
    parts = [f"{counts.get('run', 0)} to run"]
    for kind, words in (("register", "to register"), ("update", "to update"), ("archive", "to archive")):
        if counts.get(kind):
            parts.append(f"{counts[kind]} {words}")
    parts.append(f"{counts.get('skip', 0)} up to date")
    return f"Plan: {', '.join(parts)}."


def print_json(data: Any) -> None:
    from runner.jsontext import dumps_plain, finite

    text = dumps_plain(data)
    if text is None:
        import json

        # NaN and infinities (metrics) as "NaN", "Infinity", "-Infinity": see the README's JSON output.
        text = json.dumps(finite(data), indent=2, sort_keys=False, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def print_warnings(warnings: Any) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def print_plan(plan: Plan, *, stream: Any = None) -> None:
    print_warnings(plan.warnings)
    out = stream or sys.stdout
    for line in plan_lines(plan):
        out.write(line + "\n")
    out.write(("\n" if plan.actions else "") + plan_summary(plan) + "\n")
    out.flush()


def outcome_line(outcome: Any) -> str:
    mark = {"completed": "✓", "up to date": "=", "skipped": "-", "canceled": "!"}.get(outcome.status, "✗")
    name = outcome.run_id or outcome.job
    detail = f" ({outcome.detail})" if outcome.detail else ""
    hint = f"; see `runner runs logs {outcome.run_id}`" if outcome.status == "failed" and outcome.run_id else ""
    return f"{mark} {name} {outcome.status}{detail}{hint}"


def apply_summary(outcomes: list[Any]) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return "Apply: " + ", ".join(f"{n} {status}" for status, n in counts.items()) + "."


def model_line(outcome: Any) -> str:
    """One line per model action apply carried out (a runner.reconcile.results.ModelOutcome)."""
    mark = {"registered": "✓", "updated": "✓", "archived": "✓", "not archived": "-",
            "up to date": "="}.get(outcome.status, "✗")
    version = f" version {outcome.version}" if outcome.version else ""
    detail = f" ({outcome.detail})" if outcome.detail else ""
    return f"{mark} model:{outcome.name}{version} {outcome.status}{detail}"


def text(value: Any) -> str:
    """A value as a person reads it: `-` for nothing, lists and mappings without Python's brackets."""
    if value is None or value == "":
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items()) or "-"
    return str(value)


def git_line(git: dict[str, Any]) -> str:
    """`git         COMMIT BRANCH (dirty)`, or `-` outside git."""
    if not git.get("commit"):
        return "-"
    return f"{git['commit']} {git.get('branch') or '(detached)'}{' (dirty)' if git.get('dirty') else ''}"


def param(value: Any) -> str:
    """A param as train.yaml and the bindings spell it: `true`, `""`, `0.1`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return '""' if value == "" else str(value)
