"""`runner init`: write a starter project from the jinja2 templates in `templates/init/`.

Layout of `templates/init/`: one folder per template (`minimal`, `sklearn`, `pytorch`)
plus `_common/`, whose files every template gets unless it has its own of the same
name. A template file's output path drops the `.j2` suffix, and a leading `dot-` in a
name becomes `.` (a real `.gitignore` inside runner's own repository would apply to
runner's files, and wheels may drop dotfiles).

Values a template fills into train.yaml go through the `yaml_string` filter, which writes
them as double-quoted YAML strings: a folder named `2024`, `true` or `null` must stay the
string it is, not become a number, a boolean or nothing.

The written train.yaml points its `$schema` comment at `train.schema.json`, a copy of
`runner schema` that init writes beside it: editors then check and complete train.yaml
offline, in every clone, for the runner version that made it (refresh it with
`runner schema > train.schema.json` after upgrading runner).

May import: runner.spec (its JSON Schema), and the foundation modules.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from runner.atomic import atomic_write
from runner.errors import RunnerError
from runner.resources import templates_dir

COMMON = "_common"
SCHEMA_FILE = "train.schema.json"


class ScaffoldError(RunnerError):
    """`runner init` cannot write the project (unknown template, files in the way)."""


def template_names() -> list[str]:
    root = templates_dir() / "init"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))


def init_project(dest: Path, *, template: str, force: bool) -> list[Path]:
    """Render `template` into `dest` (created if needed); the paths written, in order.

    Refuses, writing nothing, when any target file exists and `force` is false.
    """
    files = render(template, project_name(dest))
    targets = [dest / rel for rel in files]
    _check_targets(dest, targets, force=force)
    mode = _file_mode()
    for target, content in zip(targets, files.values(), strict=True):
        try:
            atomic_write(target, content, mode=mode)
        except OSError as exc:
            raise ScaffoldError(f"cannot write {target}: {exc.strerror or exc}") from None
    return targets


def render(template: str, name: str) -> dict[str, str]:
    """Output path (POSIX, relative) -> rendered text, for every file of `template`."""
    import jinja2

    sources = _sources(template)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "init")),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             autoescape=False)
    env.filters["yaml_string"] = yaml_string
    context = {"name": name, "schema": SCHEMA_FILE, "template": template}
    files = {out: env.get_template(src).render(context) for out, src in sources.items()}
    files[SCHEMA_FILE] = _schema_text()
    return files


def yaml_string(value: object) -> str:
    """`value` as a double-quoted YAML scalar that reads back as the same string.

    Only printable ASCII is written as is; everything else is escaped (`\\xXX`, `\\uXXXX`,
    `\\UXXXXXXXX` are YAML escapes), so no character can end the line or the quotes.
    """
    out = []
    for char in str(value):
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def project_name(dest: Path) -> str:
    """A valid experiment name from the folder's name: 'My Project' -> 'my-project'."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", dest.resolve().name.lower())
    slug = re.sub(r"^[^a-z0-9]+", "", slug).rstrip("-")
    return slug or "default"


def _sources(template: str) -> dict[str, str]:
    """Output path -> template name (relative to templates/init, '/'-separated)."""
    choices = template_names()
    if template not in choices:
        raise ScaffoldError(f"unknown template {template!r}: choose one of {', '.join(choices)}")
    root = templates_dir() / "init"
    sources: dict[str, str] = {}
    for folder in (COMMON, template):  # the template's own files win over the common ones
        for path in sorted(p for p in (root / folder).rglob("*") if p.is_file()):
            rel = path.relative_to(root / folder)
            sources[_output_path(rel)] = f"{folder}/{rel.as_posix()}"
    return sources


def _output_path(rel: Path) -> str:
    parts = [("." + p[len("dot-"):]) if p.startswith("dot-") else p for p in rel.parts]
    parts[-1] = parts[-1].removesuffix(".j2")
    return "/".join(parts)


def _check_targets(dest: Path, targets: list[Path], *, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise ScaffoldError(f"{dest} exists and is not a folder: choose another place for the project")
    in_the_way = [t for t in targets if t.exists() or t.is_symlink()]
    blocked = [t for t in in_the_way if t.is_dir() and not t.is_symlink()]
    blocked += _file_parents(dest, targets)
    if blocked:
        raise ScaffoldError(f"files and folders are in the way: {', '.join(map(str, blocked))} "
                            f"(move them, or choose another folder)")
    if in_the_way and not force:
        raise ScaffoldError(f"not overwriting existing files: {', '.join(map(str, in_the_way))} "
                            f"(use --force to overwrite them, or choose another folder)")


def _file_parents(dest: Path, targets: list[Path]) -> list[Path]:
    """Files standing where a target needs a folder (e.g. a file named `src`)."""
    needed = {parent for t in targets for parent in t.relative_to(dest).parents if parent != Path(".")}
    return sorted(dest / p for p in needed if (dest / p).exists() and not (dest / p).is_dir())


def _file_mode() -> int:
    """rw-r--r-- under the usual umask: these are the user's files, not runner's private state."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _schema_text() -> str:
    from runner.spec.schema import schema_text

    return schema_text()
