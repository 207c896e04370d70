"""runner's stand-in for `azureml.core`: `Run` records into the runner run, nothing else exists.

runner puts this package first on a run's import path when the job says
`capture: [azureml]`, so it wins over an installed azureml-core. Only `Run` (and
`Run.get_context()`) is here: a workspace, datasets, environments or model registration
belong to train.yaml under runner.
"""

from __future__ import annotations

from .run import Run, UnsupportedByRunner, unsupported

__all__ = ["Run", "UnsupportedByRunner"]

_WHY = {
    "Model": "runner registers models from train.yaml's models:",
    "Workspace": "runner runs on this machine's computes; there is no workspace",
    "Dataset": "declare data under train.yaml's datasets: and read it by path",
    "Datastore": "declare data under train.yaml's datasets: and read it by path",
    "Environment": "declare it under train.yaml's environments:",
    "Experiment": "the experiment is train.yaml's experiment:, and runs are started by runner apply",
    "ScriptRunConfig": "jobs are declared in train.yaml and started by runner apply",
    "ComputeTarget": "computes are declared under train.yaml's computes:",
}


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"azureml.core.{name}", _WHY.get(name, "only Run is available"), ImportError)
