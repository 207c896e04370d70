"""runner: reconcile ML training runs and registered models from train.yaml.

The package is layered; data flows downward and every package's docstring says what it
may import (checked by tests/test_architecture.py, with no import cycle anywhere):

    cli                      parses and prints (runner.cli; runner.scaffold for `runner init`)
    triggers                 watch, the git hook and its applies, CI workflows
    reconcile, upkeep        plan -> apply; gc
    runs, registry, compute  run history, the model registry, where runs execute
    envs, snapshot           environments; code snapshots and staging
    capture                  runner's azureml package and the MLflow store a run logs to
    spec, git                train.yaml as one Spec type; git metadata and exports
    state                    state.db, objects, the lock, every path and cache file
    foundation               errors, values, atomic, collector, quickhash, jsontext,
                             interrupts, project, resources, tracking, progress,
                             masking: importable from anywhere

The README's "How it is built" section follows one run through these layers.
"""

__version__ = "0.1.0"
