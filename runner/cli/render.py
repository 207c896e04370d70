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
    if counts.get("sweep"):
        parts.append(f"{counts['sweep']} sweep{'' if counts['sweep'] == 1 else 's'} to run")
    for kind, words in (("register", "to register"), ("update", "to update"), ("archive", "to archive")):
        if counts.get(kind):
            parts.append(f"{counts[kind]} {words}")
    parts.append(f"{counts.get('skip', 0)} up to date")
    return f"Plan: {', '.join(parts)}."


def columns(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Rows aligned under their headers, the last column as long as it is: never cut to a
    terminal's width (a pipe or a file gets whole paths)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers) - 1)]
    return [("  ".join(f"{str(cell):<{width}}" for cell, width in zip(row, widths)) + "  " + str(row[-1])).rstrip()
            for row in [headers, *rows]]


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
    detail = f" ({outcome.detail})" if outcome.detail and outcome.detail != outcome.status else ""
    hint = f"; see `runner runs logs {outcome.run_id}`" if outcome.status == "failed" and outcome.run_id else ""
    return f"{mark} {name} {outcome.status}{detail}{hint}"


def apply_summary(outcomes: list[Any], models: Any = ()) -> str:
    """`Apply: 2 completed.`, and the models that failed: `Apply: 1 completed; 1 model failed (m).`
    (each one's reason is on its own `✗ model:m failed (...)` line above)."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    parts = [", ".join(f"{n} {status}" for status, n in counts.items())] if counts else []
    failed = [m.name for m in models if not m.ok]
    if failed:
        parts.append(f"{len(failed)} model{'s' if len(failed) > 1 else ''} failed ({', '.join(failed)})")
    return "Apply: " + "; ".join(parts) + "."


def model_line(outcome: Any) -> str:
    """One line per model action apply carried out (a runner.reconcile.results.ModelOutcome)."""
    mark = {"registered": "✓", "updated": "✓", "archived": "✓", "not archived": "-",
            "up to date": "="}.get(outcome.status, "✗")
    version = f" version {outcome.version}" if outcome.version else ""
    return f"{mark} model:{outcome.name}{version} {outcome.status}{_new_part(outcome.detail, outcome.status, version)}"


def _new_part(detail: str | None, status: str, version: str) -> str:
    """` (detail)`, without what the line says already: `= model:x version 3 up to date`, not
    `... up to date (up to date: version 3)`."""
    rest = (detail or "").removeprefix(status).lstrip(":; ").strip()
    if rest == version.strip():
        rest = ""
    return f" ({rest})" if rest else ""


def text(value: Any) -> str:
    """A value as a person reads it: `-` for nothing, lists and mappings without Python's brackets."""
    if value is None or value == "":
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={text(v)}" for k, v in value.items()) or "-"
    return str(value)


def history_detail(action: str, detail: Any) -> str:
    """A model history event's detail in words (`models history`), never Python's reprs."""
    if not isinstance(detail, dict):
        return text(detail)
    if action == "register":
        reasons = "; ".join(detail.get("reasons") or [])
        return (f"from run {detail.get('run_id') or '-'}, digest {str(detail.get('digest') or '-')[:12]}"
                + (f" ({reasons})" if reasons else ""))
    if action == "update" and isinstance(detail.get("changed"), dict):
        return "; ".join(f"{key}: {value_text(old)} -> {value_text(new)}"
                         for key, (old, new) in detail["changed"].items()) or "-"
    if action == "alias":
        alias, old, new = detail.get("alias"), detail.get("from"), detail.get("to")
        move = (f"{alias} -> version {new}" if old is None else f"{alias} removed (was version {old})" if new is None
                else f"{alias}: version {old} -> {new}")
        by = "by hand" if detail.get("by") == "hand" else f"by {detail.get('by') or '-'}"
        return f"{move} ({by}{'; it had been set by hand' if detail.get('was_hand_set') else ''})"
    if set(detail) == {"reason"}:
        return str(detail["reason"])
    return ", ".join(f"{key} {value_text(value)}" for key, value in detail.items()) or "-"


def value_text(value: Any) -> str:
    """A value of any shape as train.yaml would spell it: `true`, `null`, `[a, b]`, `{k: v}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return param(value)


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
