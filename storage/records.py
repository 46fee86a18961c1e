"""Frozen records that repositories return: safe to hand across threads and to the UI.

This module imports nothing heavy, so screens can use the types at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

CheckStatus = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class ColumnSchema:
    """One column as Workbench understands it."""

    name: str
    logical_type: str  # integer | float | boolean | string | categorical | datetime | other
    physical_type: str  # the Arrow type, e.g. int64, large_string
    nullable: bool
    cardinality: int  # distinct non-null values (approximate on large data)


@dataclass(frozen=True)
class ColumnProfile:
    """Summary statistics of one column; numeric fields are None where they do not apply."""

    name: str
    missing: int
    missing_pct: float
    distinct: int
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)  # "p05", "p25", "p50", ...
    top_values: list[tuple[str, int]] = field(default_factory=list)
    categories: list[str] | None = None  # every distinct value, when there are few
    histogram: list[int] = field(default_factory=list)  # counts per equal-width bin
    histogram_edges: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetProfile:
    rows: int
    columns: list[ColumnProfile]

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class ValidationCheck:
    """One check of a new version against the previous one."""

    check: str  # e.g. "columns removed", "type changed"
    status: CheckStatus
    column: str | None
    reason: str


@dataclass(frozen=True)
class ValidationResult:
    against: str | None  # label of the version compared against, e.g. "D0"; None for the first
    checks: list[ValidationCheck]

    @property
    def status(self) -> CheckStatus:
        states = {c.status for c in self.checks}
        return "fail" if "fail" in states else "warn" if "warn" in states else "pass"


@dataclass(frozen=True)
class DatasetVersionRecord:
    """A content-addressed version of a dataset (D0, D1, ...)."""

    id: int
    dataset_name: str
    index: int
    sha256: str
    source_path: str
    stored_path: str | None  # frozen Parquet copy, relative to the workspace; None for --reference
    file_format: str
    read_options: dict[str, Any]
    size_bytes: int
    row_count: int
    column_count: int
    target: str | None
    created_at: datetime
    schema: list[ColumnSchema]
    profile: DatasetProfile
    validation: ValidationResult

    @property
    def label(self) -> str:
        return f"D{self.index}"

    @property
    def ref(self) -> str:
        return f"{self.dataset_name}@{self.label}"

    @property
    def is_reference(self) -> bool:
        return self.stored_path is None


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset with its newest version, for listings."""

    id: int
    name: str
    created_at: datetime
    version_count: int
    latest: DatasetVersionRecord | None


SweepStatus = Literal[
    "created", "running", "stopping", "finalizing", "stopped", "finished", "failed", "stalled"
]  # 'stalled': active, but no live worker (read from the workers, never stored)
ACTIVE_SWEEP_STATES: tuple[SweepStatus, ...] = ("running", "stopping", "finalizing")  # busy
DONE_SWEEP_STATES: tuple[SweepStatus, ...] = ("finished", "stopped", "failed")
RunStatus = Literal["running", "complete", "pruned", "failed"]


@dataclass(frozen=True)
class SweepRecord:
    """A sweep: one Optuna study over one dataset version, with its resolved definition."""

    id: int
    name: str
    dataset_ref: str  # e.g. "churn@D1"
    dataset_sha: str
    target: str
    task: str  # classification | regression
    model: str  # a registered model family name
    metric: str
    direction: str  # minimize | maximize
    spec: dict[str, Any]  # the resolved sweep definition (everything defaulted filled in)
    study_name: str
    optuna_storage: str  # journal file path or RDB URL
    status: SweepStatus  # as it really is: derived from the live workers (see 'stalled')
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    error: str | None
    trials_requested: int | None
    counts: dict[str, int] = field(default_factory=dict)  # runs by status
    best_value: float | None = None
    best_run_id: int | None = None
    best_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """One trial of a sweep, with everything needed to reproduce it."""

    id: int
    sweep_id: int
    trial_number: int
    status: RunStatus
    params: dict[str, Any]
    value: float | None  # the sweep metric, mean over folds
    value_std: float | None
    fold_scores: list[float]
    metrics: dict[str, float]  # every metric of the task, mean over folds
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    seed: int
    dataset_sha: str
    environment: dict[str, Any]
    error: str | None
    artifact_sha: str | None  # fitted pipeline's bytes in the artifact store, when kept
    worker: str | None = None  # host:pid of the process that ran it
    predictions_sha: str | None = None  # held-out predictions artifact (complete runs, 0004+)
    manifest_sha: str | None = None  # the kept model's bundle manifest (0005+)


@dataclass(frozen=True)
class RunSummary:
    """The columns of a run that tables show: cheap to load by the ten thousand."""

    id: int
    sweep_id: int
    trial_number: int
    status: RunStatus
    value: float | None
    value_std: float | None
    duration_s: float | None
    started_at: datetime
    params: dict[str, Any]
    metrics: dict[str, float]


# --- the model registry -------------------------------------------------------------


@dataclass(frozen=True)
class ModelVersionRecord:
    """One registered version of a model, with what it was trained on and how it scored."""

    id: int
    model_id: int
    model_name: str
    version: int
    run_id: int
    dataset_version_id: int
    bundle_sha256: str
    manifest_sha: str
    input_schema: dict[str, Any]
    metrics: dict[str, Any]
    params: dict[str, Any]
    lineage: dict[str, Any]
    description: str | None
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.model_name}:{self.version}"


@dataclass(frozen=True)
class RegisteredModelRecord:
    """A model name with its versions counted and its aliases (alias -> version number)."""

    id: int
    name: str
    description: str | None
    created_at: datetime
    version_count: int
    latest_version: int | None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AliasMove:
    """What moving an alias did: from which version (None: it is new) to which."""

    model_name: str
    alias: str
    previous: int | None
    version: int

    @property
    def changed(self) -> bool:
        return self.previous != self.version


@dataclass(frozen=True)
class ModelVersionUser:
    """A model version that keeps a dataset version or a run alive."""

    ref: str
    run_id: int
    dataset_version_id: int


# --- serving images and deployments ---------------------------------------------------


@dataclass(frozen=True)
class ImageBuildRecord:
    id: int
    model_ref: str  # name:version
    model_version_id: int
    tag: str
    base: str
    status: str  # building | built | failed
    image_id: str | None
    size_bytes: int | None
    context_path: str
    log_path: str
    error: str | None
    pid: int | None
    process_started_at: float | None
    host: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    name: str
    kind: str  # container | local
    model_ref: str
    model_version_id: int
    image_tag: str | None
    challenger_version_id: int | None
    challenger_ref: str | None  # name:version of a canary's challenger
    canary_share: float | None
    container_id: str | None
    pid: int | None
    process_started_at: float | None
    host: str | None
    port: int
    url: str
    token: str | None
    status: str  # starting | running | down | stopped | failed
    error: str | None
    log_path: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ColumnDriftResult:
    column: str
    method: str
    score: float | None  # None: the window was too small for the test
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftSnapshotRecord:
    deployment: str
    window_end: datetime
    rows: int
    drift_share: float
    dataset_drifted: bool
    columns: tuple[ColumnDriftResult, ...]
    prediction_drift: dict[str, Any] | None
    real_metrics: dict[str, float]
    estimated_metrics: dict[str, float]
    error_rate: float | None
    unseen_columns: tuple[str, ...]


@dataclass(frozen=True)
class AlertRuleRecord:
    id: int
    deployment: str
    kind: str  # dataset_drift|column_drift|performance_below|error_rate_above|unseen_columns
    column: str | None
    metric: str | None
    bound: float | None
    source: str | None  # real | estimated (performance_below)
    command: str | None
    enabled: bool
    firing: bool  # true after the last window evaluated: the next alert waits for it to clear


@dataclass(frozen=True)
class AlertRecord:
    id: int
    rule_id: int | None  # None once the rule was removed
    deployment: str
    kind: str
    raised_at: datetime
    window_end: datetime
    message: str
    value: float | None
    command_status: str | None  # None: no command; ok | failed | timeout | error
    command_exit: int | None
    command_output: str | None


@dataclass(frozen=True)
class RetrainPolicyRecord:
    deployment: str
    trigger: str  # drift | performance | manual
    windows: int | None
    metric: str | None
    bound: float | None
    source: str | None
    margin: float
    append_labels: bool
    trials: int | None  # None: retrain with the champion's definition
    canary: bool
    canary_share: float | None


@dataclass(frozen=True)
class RetrainJobRecord:
    id: int
    deployment: str
    reason: str
    status: str  # running | registered | kept | failed
    options: dict[str, Any]
    steps: tuple[dict[str, Any], ...]  # {name, status, detail, started_at, finished_at}
    log_path: str
    champion_ref: str
    challenger_version_id: int | None
    challenger_ref: str | None
    champion_score: float | None
    challenger_score: float | None
    dataset_ref: str | None
    error: str | None
    pid: int | None
    process_started_at: float | None
    host: str | None
    created_at: datetime
    finished_at: datetime | None
