"""git: the one place runner runs the git binary.

Owns: running git with one environment convention (`command`), repository queries
(`repo`: the work tree's top, resolving a commit, ancestry), the metadata recorded with
each run (`meta`), and exporting a commit's tree for `--ref` (`reftree`).

May import: the foundation modules (runner.errors, runner.project, runner.interrupts).
"""
