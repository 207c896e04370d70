"""The Spec: train.yaml as runner uses it, the one type every command gets.

`runner.spec.models` (pydantic) validates a document and converts it into these classes;
the spec cache (`runner.spec.cache`) rebuilds the same classes from plain data without
importing pydantic. So a fresh load and a cached one yield equal objects of one class,
and the methods below exist once.

The fields are declared here and in the pydantic models; `tests/spec/test_types.py`
checks that both declare the same names and defaults. The classes are `Value`s (frozen,
`__slots__`), not dataclasses: `runner snapshot JOB` reads a spec, and importing
`dataclasses` would cost it ~10 ms.
"""

from __future__ import annotations

from runner.values import Value

TYPE_CHECKING = False  # annotations only: the cached spec is read on every command
if TYPE_CHECKING:
    from typing import Any, ClassVar, Union

    Scalar = Union[str, bool, int, float]


# How names are spelt: environments, computes, datasets, jobs, models, aliases, experiments;
# params and inputs; variables and secrets.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SpecValue(Value):
    """A frozen record of train.yaml: every field in `__slots__`, set once by keyword."""

    __slots__: tuple[str, ...] = ()
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            value = fields[name] if name in fields else self.DEFAULTS[name]
            object.__setattr__(self, name, {} if value == {} and name not in fields else value)
        unknown = set(fields) - set(self.__slots__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")

    def __hash__(self) -> int:  # fields hold dicts: hash what they dump to
        return hash(repr(self))

    def as_dict(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """Plain data (nested values too), as in train.yaml after defaults were filled in."""
        return {name: _plain(getattr(self, name), exclude_none) for name in self.__slots__
                if not (exclude_none and getattr(self, name) is None)}


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, SpecValue):
        return value.as_dict(exclude_none=exclude_none)
    if isinstance(value, dict):
        return {k: _plain(v, exclude_none) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, exclude_none) for v in value)
    return value


class DockerSpec(SpecValue):
    __slots__ = ("image", "dockerfile", "context", "apt", "build_args")  # noqa: RUF023 (train.yaml's order)
    DEFAULTS = {"image": None, "dockerfile": None, "context": None, "apt": (), "build_args": {}}
    image: str | None
    dockerfile: str | None
    context: str | None
    apt: tuple[str, ...]
    build_args: dict[str, str]


class Environment(SpecValue):
    __slots__ = ("python", "pip", "requirements", "conda", "docker", "variables", "secrets",  # noqa: RUF023
                 "user_managed", "interpreter")
    DEFAULTS = {"python": None, "pip": (), "requirements": None, "conda": None, "docker": None, "variables": {},
                "secrets": (), "user_managed": False, "interpreter": None}
    python: str | None
    pip: tuple[str, ...]
    requirements: str | None
    conda: str | None
    docker: DockerSpec | None
    variables: dict[str, str]
    secrets: tuple[str, ...]
    user_managed: bool
    interpreter: str | None


class Compute(SpecValue):
    __slots__ = ("type", "cpus", "memory", "shm_size", "gpus", "network", "registry", "address",  # noqa: RUF023
                 "storage")
    DEFAULTS = {"cpus": None, "memory": None, "shm_size": None, "gpus": 0, "network": "bridge", "registry": None,
                "address": None, "storage": None}
    type: str
    cpus: float | None
    memory: str | None
    shm_size: str | None
    gpus: str | int | tuple[int, ...]
    network: str
    registry: str | None
    address: str | None  # ray: the dashboard (Jobs API); RAY_ADDRESS when omitted
    storage: str | None  # ray: where runs leave outputs/ and logs/ (an fsspec URL)


class Dataset(SpecValue):
    __slots__ = ("path", "description")  # noqa: RUF023
    DEFAULTS = {"description": None}
    path: str
    description: str | None


class Input(SpecValue):
    __slots__ = ("dataset", "path", "job")  # noqa: RUF023
    DEFAULTS = {"dataset": None, "path": None, "job": None}
    dataset: str | None
    path: str | None
    job: str | None


class Distribution(SpecValue):
    """One job as many cooperating processes (runner.compute.ranks lays out their ranks)."""

    __slots__ = ("type", "nodes", "processes_per_node", "workers", "parameter_servers", "chief")  # noqa: RUF023
    DEFAULTS = {"nodes": 1, "processes_per_node": 1, "workers": 1, "parameter_servers": 0, "chief": False}
    type: str  # pytorch | mpi | tensorflow
    nodes: int
    processes_per_node: int
    workers: int
    parameter_servers: int
    chief: bool

    @property
    def world_size(self) -> int:
        if self.type == "tensorflow":
            return self.workers + self.parameter_servers + (1 if self.chief else 0)
        return self.nodes * self.processes_per_node


class SearchDistribution(SpecValue):
    """One swept param's search space, with Azure ML's meanings (runner.sweeps.space)."""

    __slots__ = ("type", "values", "upper", "min_value", "max_value", "mu", "sigma", "q")  # noqa: RUF023
    DEFAULTS = {"values": None, "upper": None, "min_value": None, "max_value": None, "mu": None, "sigma": None,
                "q": None}
    type: str
    values: tuple[Scalar, ...] | None
    upper: int | None
    min_value: float | None
    max_value: float | None
    mu: float | None
    sigma: float | None
    q: float | None


class Objective(SpecValue):
    __slots__ = ("primary_metric", "goal")  # noqa: RUF023
    primary_metric: str
    goal: str


class EarlyTermination(SpecValue):
    __slots__ = ("type", "slack_factor", "slack_amount", "truncation_percentage",  # noqa: RUF023
                 "evaluation_interval", "delay_evaluation")
    DEFAULTS = {"slack_factor": None, "slack_amount": None, "truncation_percentage": None,
                "evaluation_interval": 1, "delay_evaluation": 0}
    type: str
    slack_factor: float | None
    slack_amount: float | None
    truncation_percentage: int | None
    evaluation_interval: int
    delay_evaluation: int


class SweepLimits(SpecValue):
    __slots__ = ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout")  # noqa: RUF023
    DEFAULTS = {"max_total_trials": None, "max_concurrent_trials": 1, "timeout": None, "trial_timeout": None}
    max_total_trials: int | None
    max_concurrent_trials: int
    timeout: int | None
    trial_timeout: int | None


class Sweep(SpecValue):
    __slots__ = ("sampling_algorithm", "seed", "search_space", "objective", "early_termination",  # noqa: RUF023
                 "limits")
    DEFAULTS = {"sampling_algorithm": "random", "seed": 0, "early_termination": None, "limits": SweepLimits()}
    sampling_algorithm: str
    seed: int
    search_space: dict[str, SearchDistribution]
    objective: Objective
    early_termination: EarlyTermination | None
    limits: SweepLimits


class Job(SpecValue):
    __slots__ = ("code", "command", "script", "args", "params", "inputs", "environment", "compute",  # noqa: RUF023
                 "needs", "timeout", "retries", "experiment", "tags", "description", "distribution", "sweep",
                 "capture")
    DEFAULTS = {"code": ".", "command": None, "script": None, "args": None, "params": {}, "inputs": {},
                "environment": None, "compute": "local", "needs": (), "timeout": None, "retries": 0,
                "experiment": None, "tags": {}, "description": None, "distribution": None, "sweep": None,
                "capture": ()}
    code: str
    command: str | None
    script: str | None
    args: dict[str, Scalar | None] | tuple[Scalar, ...] | None
    params: dict[str, Scalar]
    inputs: dict[str, Input]
    environment: str | None
    compute: str
    needs: tuple[str, ...]
    timeout: int | None
    retries: int
    experiment: str | None
    tags: dict[str, str]
    description: str | None
    distribution: Distribution | None
    sweep: Sweep | None
    capture: tuple[str, ...]  # azureml | mlflow: logging of scripts written for them lands in the run


class Resources(SpecValue):
    __slots__ = ("cpu", "memory_gb", "gpu")  # noqa: RUF023
    DEFAULTS = {"cpu": None, "memory_gb": None, "gpu": None}
    cpu: float | None
    memory_gb: float | None
    gpu: int | None


class Model(SpecValue):
    __slots__ = ("job", "from_", "path", "framework", "framework_version", "resources", "tags",  # noqa: RUF023
                 "properties", "description", "aliases")
    DEFAULTS = {"from_": None, "framework": None, "framework_version": None, "resources": None, "tags": {},
                "properties": {}, "description": None, "aliases": ()}
    job: str
    from_: str | None  # train.yaml's `from:` (`best`: a swept job's best trial)
    path: str
    framework: str | None
    framework_version: str | None
    resources: Resources | None
    tags: dict[str, str]
    properties: dict[str, str]
    description: str | None
    aliases: tuple[str, ...]


class SnapshotLimits(SpecValue):
    __slots__ = ("warn_mb", "warn_files")  # noqa: RUF023
    DEFAULTS = {"warn_mb": 300, "warn_files": 2000}
    warn_mb: float
    warn_files: int


LOCAL = Compute(type="local")  # the compute of a job that names none (and of `compute: local`)
CURRENT_INTERPRETER = Environment(user_managed=True)  # the environment of a job that names none


class Spec(SpecValue):
    __slots__ = ("version", "experiment", "environments", "computes", "datasets", "jobs", "models",  # noqa: RUF023
                 "snapshot", "unmasked")
    DEFAULTS = {"experiment": None, "environments": {}, "computes": {}, "datasets": {}, "jobs": {}, "models": {},
                "snapshot": SnapshotLimits(), "unmasked": ()}
    version: int
    experiment: str | None
    environments: dict[str, Environment]
    computes: dict[str, Compute]
    datasets: dict[str, Dataset]
    jobs: dict[str, Job]
    models: dict[str, Model]
    snapshot: SnapshotLimits
    unmasked: tuple[str, ...]  # names that look secret whose values are not masked (runner.masking)

    def compute_of(self, job: Job) -> Compute:
        return self.computes.get(job.compute) or LOCAL

    def environment_of(self, job: Job) -> Environment:
        """The job's environment; runner's own interpreter (nothing built) when it names none."""
        return self.environments[job.environment] if job.environment else CURRENT_INTERPRETER

    def experiment_of(self, job_name: str) -> str:
        return self.jobs[job_name].experiment or self.experiment or "default"


# Every class above by name: the spec cache stores a value as its class name and fields.
CLASSES: dict[str, type[SpecValue]] = {cls.__name__: cls for cls in (
    DockerSpec, Environment, Compute, Dataset, Input, Distribution, SearchDistribution, Objective, EarlyTermination,
    SweepLimits, Sweep, Job, Resources, Model, SnapshotLimits, Spec)}
