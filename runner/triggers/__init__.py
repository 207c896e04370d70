"""Triggers: what starts a plan and apply besides `runner apply` typed by hand.

Owns: `runner watch` (`watch`, and `pathfilter`: which saved paths matter), the git
post-commit hook (`hook`: install, uninstall, render) and the applies it queues
(`hookruns`), and the CI workflows `runner ci init` writes (`ci`). Every trigger ends
in the same `runner.reconcile.apply`.

May import: runner.reconcile, runner.spec, runner.snapshot, runner.state, runner.git,
runner.runs, and the foundation modules.
"""
