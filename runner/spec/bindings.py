"""`${{ ... }}` bindings in `command` and `args`: parse, check names, substitute."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

OPEN, CLOSE = "${{", "}}"
EXPR = re.compile(r"^(params|inputs)\.([A-Za-z_][A-Za-z0-9_-]*)$|^(outputs|run\.id|run\.job|git\.commit)$")
FIXED = ("outputs", "run.id", "run.job", "git.commit")


@dataclass(frozen=True)
class Binding:
    start: int  # offset of "${{" in the text
    end: int  # offset just past "}}"
    expr: str  # the stripped inside, e.g. "params.kernel"


@dataclass(frozen=True)
class BindingError:
    offset: int
    message: str


def parse(text: str) -> tuple[list[Binding], list[BindingError]]:
    """Every `${{ expr }}` in `text`, and every malformed or unknown-form one."""
    found: list[Binding] = []
    errors: list[BindingError] = []
    pos = text.find(OPEN)
    while pos != -1:
        close = text.find(CLOSE, pos + len(OPEN))
        nested = text.find(OPEN, pos + len(OPEN))
        if close == -1 or (nested != -1 and nested < close):
            errors.append(BindingError(pos, "malformed binding: `${{` without a closing `}}`"))
            pos = nested
            continue
        expr = text[pos + len(OPEN): close].strip()
        if EXPR.match(expr):
            found.append(Binding(pos, close + len(CLOSE), expr))
        else:
            errors.append(BindingError(pos, f"unknown binding `${{{{ {expr} }}}}`: use params.NAME, "
                                            f"inputs.NAME, {', '.join(FIXED)}"))
        pos = text.find(OPEN, close + len(CLOSE))
    return found, errors


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace each binding with `values[expr]`; the spec was validated, so all names are known."""
    bindings, _ = parse(text)
    out, last = [], 0
    for binding in bindings:
        out.append(text[last:binding.start])
        out.append(values[binding.expr])
        last = binding.end
    out.append(text[last:])
    return "".join(out)
