"""The train.yaml format as pydantic models (see TRAIN_YAML.md): its validator and its schema.

The models check what can be checked from the document alone: types, names, value
ranges and which fields go together. Cross-references, cycles, paths on disk and
`${{ }}` bindings are checked in `runner.spec.checks`, which can see the whole file.
A validated document becomes the Spec every command uses (`runner.spec.types`) through
`to_runtime`: each model here has a class of the same name and fields there.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from runner.spec.types import KEY_PATTERN, NAME_PATTERN, VAR_PATTERN

DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
SIZE_PATTERN = r"^\d+(\.\d+)?[bkmgBKMG]?$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
# What runner sets in every run; an environment may not redefine them.
RUN_VARIABLES = ("RUNNER_RUN_ID", "RUNNER_JOB", "RUNNER_EXPERIMENT", "RUNNER_OUTPUTS", "RUNNER_LOGS", "RUNNER_PARAMS")


def _not_reserved(name: str) -> str:
    if name in RUN_VARIABLES:
        raise ValueError(f"{name} is set by runner in every run; choose another name")
    return name


VarName = Annotated[str, StringConstraints(pattern=VAR_PATTERN), AfterValidator(_not_reserved)]
Scalar = Union[str, bool, int, FiniteFloat]  # YAML reads 1e400 as infinity; no param means that

# Sane upper bounds: past them a value is a typo (or an attack), not a plan.
MAX_CPUS = 4096
MAX_GPUS = 1024  # a count, or the highest device id
MAX_RETRIES = 100
MAX_TIMEOUT = 365 * 24 * 3600  # a year, in seconds
MAX_SIZE = 1024**5  # a PiB, in bytes
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _sane_size(value: str) -> str:
    """At most MAX_SIZE bytes (5,000 digits match the pattern and overflow Docker's limits)."""
    digits, unit = (value[:-1], value[-1].lower()) if value[-1:].isalpha() else (value, "")
    if len(digits) > 20 or float(digits) * SIZE_UNITS[unit] > MAX_SIZE:
        raise ValueError(f"size {_shown(value)} is more than 1 PiB (1048576g)")
    return value


def _shown(value: Any) -> str:
    """A value for a message: its repr, shortened in the middle when long."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-15:]} ({len(text):,} characters)"


Size = Annotated[str, StringConstraints(pattern=SIZE_PATTERN), AfterValidator(_sane_size)]


def _scalar_to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_to_text)]


def _not_a_boolean(kind: str) -> BeforeValidator:
    """pydantic reads true/false as 1/0 for numbers; in train.yaml that is always a mistake."""
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(kind, "expected a number, not true or false")
        return value

    return BeforeValidator(check)


# Each with its upper bound before the boolean check, so the bound reaches the JSON Schema.
_INT, _FLOAT = _not_a_boolean("int_type"), _not_a_boolean("float_type")
Gpus = Annotated[NonNegativeInt, Field(le=MAX_GPUS), _INT]
Retries = Annotated[NonNegativeInt, Field(le=MAX_RETRIES), _INT]
Files = Annotated[PositiveInt, Field(le=10**9), _INT]
Cpus = Annotated[PositiveFloat, AllowInfNan(False), Field(le=MAX_CPUS), _FLOAT]
GiB = Annotated[PositiveFloat, AllowInfNan(False), Field(le=MAX_SIZE // 1024**3), _FLOAT]
MiB = Annotated[PositiveFloat, AllowInfNan(False), Field(le=MAX_SIZE // 1024**2), _FLOAT]


def parse_duration(value: Any) -> Any:
    """`30m`, `1h30m`, `45s` or a whole number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"bad duration {str(value).lower()}: use a number with s, m or h, "  # noqa: TRY004
                         f"e.g. 30m or 1h30m")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = DURATION_RE.match(value.strip())
        if value.strip() and match and len(value) <= 40:  # longer: a year in seconds has 8 digits
            hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
            return hours * 3600 + minutes * 60 + seconds
        raise ValueError(f"bad duration {_shown(value)}: use a number with s, m or h, e.g. 30m or 1h30m")
    return value


Duration = Annotated[
    PositiveInt,  # a zero timeout would fail every attempt at once
    Field(le=MAX_TIMEOUT),
    BeforeValidator(parse_duration),
    WithJsonSchema({"type": ["string", "integer"], "pattern": r"^(\d+h)?(\d+m)?(\d+s)?$", "minimum": 1,
                    "maximum": MAX_TIMEOUT, "description": "a duration greater than 0 and at most a year: "
                                                           "30m, 1h30m, 45s, or seconds"}),
]


def _project_path(value: str) -> str:
    """A relative, normalised POSIX path that stays inside the project by its spelling."""
    if not value.strip():
        raise ValueError("path is empty")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"path {_shown(value)} is absolute: use a path relative to the project")
    if ".." in value.replace("\\", "/").split("/"):
        raise ValueError(f"path {_shown(value)} leaves the project ('..')")
    return posixpath.normpath(value.replace("\\", "/"))


RelPath = Annotated[str, AfterValidator(_project_path)]


def _outputs_path(value: str) -> str:
    value = _project_path(value)
    if value != "outputs" and not value.startswith("outputs/"):
        raise ValueError(f"path {_shown(value)} must be inside the run's outputs (outputs/...)")
    return value


OutputsPath = Annotated[str, AfterValidator(_outputs_path)]


def _python_version(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(f'write the Python version as a quoted string, e.g. "3.11" '
                         f"(unquoted, {value!r} is read as a number: 3.10 becomes 3.1)")
    return value


PythonVersion = Annotated[str, BeforeValidator(_python_version),
                          StringConstraints(pattern=r"^\d+(\.\d+){0,2}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class DockerSpec(_Model):
    image: Optional[str] = Field(None, description="base image (custom_docker_image)")
    dockerfile: Optional[RelPath] = Field(None, description="a Dockerfile instead of image:")
    context: Optional[RelPath] = Field(None, description="build context of dockerfile:")
    apt: tuple[str, ...] = Field((), description="system packages layered on the base")
    build_args: dict[str, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_base(self) -> DockerSpec:
        if self.image and self.dockerfile:
            raise ValueError("give either `image:` or `dockerfile:`, not both")
        if self.context and not self.dockerfile:
            raise ValueError("`context:` goes with `dockerfile:`")
        return self


class Environment(_Model):
    python: Optional[PythonVersion] = Field(None, description="Python version; default: runner's own")
    pip: tuple[str, ...] = Field((), description="pip requirement specifiers (pip_packages)")
    requirements: Optional[RelPath] = Field(None, description="a pip requirements file")
    conda: Optional[RelPath] = Field(None, description="a conda environment file")
    docker: Optional[DockerSpec] = None
    variables: dict[VarName, Text] = Field(default_factory=dict)
    secrets: tuple[VarName, ...] = Field((), description="host variables passed through, never stored")
    user_managed: bool = Field(False, description="run with an existing interpreter, build nothing")
    interpreter: Optional[str] = Field(None, description="with user_managed: the interpreter to use")

    @model_validator(mode="after")
    def _managed_or_built(self) -> Environment:
        if self.interpreter and not self.user_managed:
            raise ValueError("`interpreter:` goes with `user_managed: true`")
        if self.user_managed:
            built = [k for k in ("python", "pip", "requirements", "conda") if getattr(self, k)]
            if built:
                raise ValueError(f"a user_managed environment builds nothing: remove {', '.join(built)}")
        return self


def _ray_address(value: str) -> str:
    if not re.fullmatch(r"(https?://)?[A-Za-z0-9.\-\[\]:]+(:\d+)?(/\S*)?", value):
        raise ValueError(f"address {_shown(value)} is not a Ray dashboard URL, e.g. http://127.0.0.1:8265")
    return value


def _storage_url(value: str) -> str:
    match = re.fullmatch(r"([a-z][a-z0-9+.-]*)://(\S+)", value)
    if match is None:
        raise ValueError(f"storage {_shown(value)} is not a URL: write file:///shared/path, s3://bucket/prefix, "
                         f"gs://... or az://...")
    if match.group(1) == "file" and not match.group(2).startswith("/"):
        raise ValueError(f"storage {_shown(value)}: a file:// URL needs an absolute path (file:///shared/runner)")
    return value.rstrip("/")


RayAddress = Annotated[str, AfterValidator(_ray_address)]
StorageUrl = Annotated[str, AfterValidator(_storage_url)]


class Compute(_Model):
    type: Literal["local", "docker", "ray"]
    cpus: Optional[Cpus] = None
    memory: Optional[Size] = None
    shm_size: Optional[Size] = None
    gpus: Union[Literal["all"], Gpus, tuple[Gpus, ...]] = 0
    network: Literal["bridge", "none", "host"] = "bridge"
    registry: Optional[str] = Field(None, description="share built environment images")
    address: Optional[RayAddress] = Field(None, description="ray: the dashboard URL (Jobs API); default $RAY_ADDRESS")
    storage: Optional[StorageUrl] = Field(None, description="ray: where runs leave outputs/ and logs/ "
                                                             "(file://, s3://, gs://, az://)")

    @model_validator(mode="after")
    def _fields_of_type(self) -> Compute:
        docker = [k for k in ("shm_size", "registry") if getattr(self, k)]
        docker += ["network"] if self.network != "bridge" else []
        ray = [k for k in ("address", "storage") if getattr(self, k)]
        limits = [k for k in ("cpus", "memory") if getattr(self, k)] + (["gpus"] if self.gpus not in (0, ()) else [])
        if self.type == "local" and docker + limits + ray:
            raise ValueError(f"{', '.join(limits + docker + ray)} do not apply to `type: local`")
        if self.type == "docker" and ray:
            raise ValueError(f"{', '.join(ray)} only apply to `type: ray`")
        if self.type == "ray":
            if docker:
                raise ValueError(f"{', '.join(docker)} only apply to `type: docker`")
            if not isinstance(self.gpus, int):
                raise ValueError("a ray compute asks for a number of GPUs per run (`gpus: 1`), not `all` or device ids")
            if self.storage is None:
                raise ValueError("a ray compute needs `storage:`, where runs leave outputs/ and logs/ "
                                 "(e.g. file:///mnt/shared/runner, s3://bucket/runner)")
        return self


class Dataset(_Model):
    path: RelPath
    description: Optional[str] = None


class Input(_Model):
    dataset: Optional[Name] = None
    path: Optional[RelPath] = None
    job: Optional[Name] = None

    @model_validator(mode="after")
    def _one_source(self) -> Input:
        if self.job is not None:
            if self.dataset is not None or self.path is None:
                raise ValueError("a job input is `{job: NAME, path: outputs/...}`")
            _outputs_path(self.path)
        elif (self.dataset is None) == (self.path is None):
            raise ValueError("an input is one of `{dataset: NAME}`, `{path: PATH}` "
                             "or `{job: NAME, path: outputs/...}`")
        return self


ArgValue = Optional[Scalar]

MAX_NODES = 256
MAX_PROCESSES = 1024  # per node, and tensorflow tasks of one kind
Nodes = Annotated[PositiveInt, Field(le=MAX_NODES), _INT]
Processes = Annotated[PositiveInt, Field(le=MAX_PROCESSES), _INT]
Servers = Annotated[NonNegativeInt, Field(le=MAX_PROCESSES), _INT]


class Distribution(_Model):
    """Azure ML's distributed configurations: PyTorchConfiguration, MpiConfiguration, TensorflowConfiguration."""

    type: Literal["pytorch", "mpi", "tensorflow"]
    nodes: Nodes = Field(1, description="node_count: machines (local: simulated, docker: containers)")
    processes_per_node: Processes = Field(1, description="process_count_per_node (pytorch, mpi)")
    workers: Processes = Field(1, description="TensorflowConfiguration worker_count")
    parameter_servers: Servers = Field(0, description="TensorflowConfiguration parameter_server_count")
    chief: bool = Field(False, description="tensorflow: one more task, the chief")

    @model_validator(mode="after")
    def _fields_of_type(self) -> Distribution:
        given = self.model_fields_set
        if self.type == "tensorflow":
            wrong = [k for k in ("processes_per_node",) if k in given]
            hint = "tensorflow counts tasks: use `workers:` and `parameter_servers:` (one process each)"
        else:
            wrong = [k for k in ("workers", "parameter_servers", "chief") if k in given]
            hint = f"{self.type} counts `nodes:` and `processes_per_node:`"
        if wrong:
            raise ValueError(f"{', '.join(wrong)} does not apply to type {self.type}: {hint}")
        total = self.workers + self.parameter_servers + 1 if self.type == "tensorflow" else \
            self.nodes * self.processes_per_node
        if total > MAX_PROCESSES * 4:
            raise ValueError(f"{total} processes in all is more than {MAX_PROCESSES * 4}")
        return self


Number = Annotated[float, AllowInfNan(False), _FLOAT]
MAX_TRIALS = 100_000
# The fields each search-space type takes (Azure ML's sweep distributions).
DISTRIBUTION_FIELDS: dict[str, tuple[str, ...]] = {
    "choice": ("values",), "randint": ("upper",),
    "uniform": ("min_value", "max_value"), "loguniform": ("min_value", "max_value"),
    "normal": ("mu", "sigma"), "lognormal": ("mu", "sigma"),
    "quniform": ("min_value", "max_value", "q"), "qloguniform": ("min_value", "max_value", "q"),
    "qnormal": ("mu", "sigma", "q"), "qlognormal": ("mu", "sigma", "q"),
}


class SearchDistribution(_Model):
    type: Literal["choice", "randint", "uniform", "loguniform", "normal", "lognormal", "quniform",
                  "qloguniform", "qnormal", "qlognormal"]
    values: Optional[tuple[Scalar, ...]] = Field(None, description="choice: the values to pick from")
    upper: Optional[Annotated[PositiveInt, Field(le=10**9), _INT]] = Field(None, description="randint: 0..upper-1")
    min_value: Optional[Number] = Field(None, description="uniform; for loguniform a natural-log exponent")
    max_value: Optional[Number] = Field(None, description="uniform; for loguniform a natural-log exponent")
    mu: Optional[Number] = None
    sigma: Optional[Annotated[PositiveFloat, AllowInfNan(False), _FLOAT]] = None
    q: Optional[Annotated[PositiveFloat, AllowInfNan(False), _FLOAT]] = Field(None, description="round to multiples of q")

    @model_validator(mode="after")
    def _fields_of_type(self) -> SearchDistribution:
        wanted = DISTRIBUTION_FIELDS[self.type]
        missing = [k for k in wanted if getattr(self, k) is None]
        if missing:
            raise ValueError(f"`type: {self.type}` needs {', '.join(missing)} ({', '.join(wanted)})")
        extra = [k for k in ("values", "upper", "min_value", "max_value", "mu", "sigma", "q")
                 if k not in wanted and getattr(self, k) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} do{'es' if len(extra) == 1 else ''} not go with "
                             f"`type: {self.type}` (it takes {', '.join(wanted)})")
        if self.values is not None and not self.values:
            raise ValueError("`values:` is empty: give at least one value")
        if self.values is not None and len({repr(v) for v in self.values}) < len(self.values):
            raise ValueError("`values:` repeats a value")
        if self.min_value is not None and self.max_value is not None and self.min_value >= self.max_value:
            raise ValueError(f"min_value ({self.min_value}) must be less than max_value ({self.max_value})")
        return self


class Objective(_Model):
    primary_metric: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="the metric the trials log (runner.tracking.log)")
    goal: Literal["maximize", "minimize"]


POLICY_FIELDS = {"bandit": ("slack_factor", "slack_amount"), "median_stopping": (),
                 "truncation_selection": ("truncation_percentage",)}


class EarlyTermination(_Model):
    type: Literal["bandit", "median_stopping", "truncation_selection"]
    slack_factor: Optional[Annotated[PositiveFloat, AllowInfNan(False), Field(le=10**6), _FLOAT]] = None
    slack_amount: Optional[Annotated[PositiveFloat, AllowInfNan(False), Field(le=10**12), _FLOAT]] = None
    truncation_percentage: Optional[Annotated[PositiveInt, Field(le=99), _INT]] = None
    evaluation_interval: Annotated[PositiveInt, Field(le=10**9), _INT] = 1
    delay_evaluation: Annotated[NonNegativeInt, Field(le=10**9), _INT] = 0

    @model_validator(mode="after")
    def _fields_of_type(self) -> EarlyTermination:
        extra = [k for fields in POLICY_FIELDS.values() for k in fields
                 if k not in POLICY_FIELDS[self.type] and getattr(self, k) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} do{'es' if len(extra) == 1 else ''} not go with `type: {self.type}`")
        if self.type == "bandit" and (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError("`type: bandit` needs exactly one of slack_factor or slack_amount")
        if self.type == "truncation_selection" and self.truncation_percentage is None:
            raise ValueError("`type: truncation_selection` needs truncation_percentage (1-99)")
        return self


class SweepLimits(_Model):
    max_total_trials: Optional[Annotated[PositiveInt, Field(le=MAX_TRIALS), _INT]] = Field(
        None, description="default for grid: every combination; required for random and bayesian")
    max_concurrent_trials: Annotated[PositiveInt, Field(le=1000), _INT] = 1
    timeout: Optional[Duration] = Field(None, description="stop starting trials (and cancel running ones) after this")
    trial_timeout: Optional[Duration] = Field(None, description="each trial's timeout (instead of the job's)")


class Sweep(_Model):
    sampling_algorithm: Literal["grid", "random", "bayesian"] = "random"
    seed: Annotated[NonNegativeInt, Field(le=2**32 - 1), _INT] = 0
    search_space: Annotated[dict[Key, SearchDistribution], Field(min_length=1)]
    objective: Objective
    early_termination: Optional[EarlyTermination] = None
    limits: SweepLimits = SweepLimits()


class Job(_Model):
    code: RelPath = Field(".", description="source_directory: the snapshot root")
    command: Optional[str] = Field(None, description="shell command; or script: + args:")
    script: Optional[RelPath] = Field(None, description="entry script inside code:")
    args: Union[dict[str, ArgValue], tuple[Scalar, ...], None] = Field(
        None, description='script arguments; "" or null is a bare flag')
    params: dict[Key, Scalar] = Field(default_factory=dict)
    inputs: dict[Key, Input] = Field(default_factory=dict)
    environment: Optional[Name] = Field(None, description="default: the current interpreter")
    compute: Name = "local"
    needs: tuple[Name, ...] = ()
    timeout: Optional[Duration] = None
    retries: Retries = 0
    experiment: Optional[Name] = None
    tags: dict[str, Text] = Field(default_factory=dict)
    description: Optional[str] = None
    distribution: Optional[Distribution] = Field(None, description="run as many cooperating processes")
    sweep: Optional[Sweep] = Field(None, description="search over params; each trial is a run (Azure ML v2 sweep)")
    capture: tuple[Literal["azureml", "mlflow"], ...] = Field(
        (), description="record what a script logs through azureml.core.Run or MLflow into the run")

    @field_validator("capture")
    @classmethod
    def _capture_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) < len(value):
            raise ValueError("capture: names a library twice")
        return value

    @model_validator(mode="after")
    def _command_or_script(self) -> Job:
        if (self.command is None) == (self.script is None):
            raise ValueError("a job needs exactly one of `command:` or `script:`")
        if self.args is not None and self.script is None:
            raise ValueError("`args:` goes with `script:`; put arguments in `command:`")
        if self.command is not None and not self.command.strip():
            raise ValueError("`command:` is empty")
        return self


class Resources(_Model):
    cpu: Optional[Cpus] = None
    memory_gb: Optional[GiB] = None
    gpu: Optional[Gpus] = None


class Model(_Model):
    job: Name
    from_: Optional[Literal["best"]] = Field(None, alias="from",
                                             description="best: the best trial of the job's sweep")
    path: OutputsPath
    framework: Optional[str] = None
    framework_version: Optional[Text] = None
    resources: Optional[Resources] = None
    tags: dict[str, Text] = Field(default_factory=dict)
    properties: dict[str, Text] = Field(default_factory=dict)
    description: Optional[str] = None
    aliases: tuple[Name, ...] = ()


class SnapshotLimits(_Model):
    warn_mb: MiB = 300
    warn_files: Files = 2000


class Spec(_Model):
    version: Literal[1]
    experiment: Optional[Name] = None
    environments: dict[Name, Environment] = Field(default_factory=dict)
    computes: dict[Name, Compute] = Field(default_factory=dict)
    datasets: dict[Name, Dataset] = Field(default_factory=dict)
    jobs: dict[Name, Job] = Field(default_factory=dict)
    models: dict[Name, Model] = Field(default_factory=dict)
    snapshot: SnapshotLimits = SnapshotLimits()
    unmasked: tuple[VarName, ...] = Field((), description="variables whose names look secret (TOKEN, SECRET, "
                                          "PASSWORD, KEY) but whose values runs may print unmasked")


SECTIONS: dict[str, type[_Model]] = {
    "environments": Environment,
    "computes": Compute,
    "datasets": Dataset,
    "jobs": Job,
    "models": Model,
}


def to_runtime(value: Any) -> Any:
    """A validated model (and everything in it) as the `runner.spec.types` class of the same name."""
    from runner.spec.types import CLASSES

    if isinstance(value, BaseModel):
        fields = {name: to_runtime(getattr(value, name)) for name in type(value).model_fields}
        return CLASSES[type(value).__name__](**fields)
    if isinstance(value, dict):
        return {key: to_runtime(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_runtime(item) for item in value)
    return value
