"""Typed shapes of the reports dxforge returns as plain dicts.

Worker and Traffic Branching reports are dicts and lists in the core's serde
form (the same shape as the command line's ``--json`` output). These
``TypedDict`` classes describe them for type checkers; at runtime they are
ordinary dicts.
"""

from __future__ import annotations

from typing import Literal, TypedDict, Union

Light = Literal["green", "yellow", "red"]
FileAction = Literal["create", "none", "write", "write_new", "delete", "keep"]


class LineRange(TypedDict):
    start: int
    count: int


class ConflictRegion(TypedDict):
    ours: LineRange
    base: LineRange
    theirs: LineRange


class _FileReportFields(TypedDict):
    path: str
    package: str
    light: Light
    reason: str
    action: FileAction
    conflicts: list[ConflictRegion]


class FileReport(_FileReportFields, total=False):
    """The verdict for one file: its light, why, and what is done to it."""

    side_file: str
    """Where upstream goes for a Red file: ``<path>.new``, or ``<path>.new.1``, … when taken."""


class ResolvedPackage(TypedDict):
    name: str
    version: str
    previous: str | None


class InstallReport(TypedDict):
    """Result of install_package / install_all_dependencies / update / diff."""

    dry_run: bool
    packages: list[ResolvedPackage]
    files: list[FileReport]
    manifest_updated: bool


class RemoveReport(TypedDict):
    dry_run: bool
    package: str
    version: str
    files: list[FileReport]
    manifest_updated: bool


Recovery = Literal["clean", "rolled_back", "rolled_forward"]


class Counters(TypedDict):
    """Queue counters: queued/running are current, the others totals."""

    enqueued: int
    queued: int
    running: int
    succeeded: int
    failed: int
    dropped: int


class SkippedEntry(TypedDict):
    path: str
    reason: str
    detail: str | None


class SnapshotSummary(TypedDict):
    id: str
    created: str
    reason: str
    files: int
    symlinks: int
    bytes: int
    hashed: int
    reused: int
    new_objects: int
    skipped: list[str]
    skipped_entries: list[SkippedEntry]


class RestoreReport(TypedDict):
    restored: str
    safety_snapshot: str
    written: int
    deleted: int
    mode_changed: int
    unchanged: int


class GcReport(TypedDict):
    kept: int
    removed: int
    bytes_freed: int
    temp_files_removed: int


class SyncReport(TypedDict):
    objects_sent: int
    bytes_sent: int
    objects_skipped: int
    manifests_sent: int
    manifests_skipped: int
    snapshots: list[str]
    restore: RestoreReport | None


class PrefetchedPackage(TypedDict):
    name: str
    version: str
    already_cached: bool


class PrefetchReport(TypedDict):
    spec: str
    packages: list[PrefetchedPackage]


class LanguageStats(TypedDict):
    language: str
    files: int
    lines: int
    blank_lines: int
    bytes: int


class Reference(TypedDict):
    file: str
    line: int
    pattern: str


class PackageUsage(TypedDict):
    name: str
    installed_version: str | None
    reference_count: int
    references: list[Reference]


class ModifiedFile(TypedDict):
    package: str
    path: str


class PackageAnalysis(TypedDict):
    packages: list[PackageUsage]
    referenced_not_installed: list[str]
    installed_not_referenced: list[str]
    modified_files: list[ModifiedFile]


class AnalysisReport(TypedDict):
    generated: str
    files: int
    lines: int
    other_files: int
    languages: list[LanguageStats]
    packages: PackageAnalysis | None


class AnalysisSummary(TypedDict):
    path: str
    files: int
    lines: int
    languages: int
    packages_referenced: int
    referenced_not_installed: int
    installed_not_referenced: int
    modified_files: int


class SnapshotTaskReport(SnapshotSummary):
    kind: Literal["snapshot"]


class SyncTaskReport(SyncReport):
    kind: Literal["sync"]


class PrefetchTaskReport(PrefetchReport):
    kind: Literal["prefetch"]


class AnalysisTaskReport(AnalysisSummary):
    kind: Literal["analysis"]


TaskReport = Union[SnapshotTaskReport, SyncTaskReport, PrefetchTaskReport, AnalysisTaskReport]


class TaskPending(TypedDict):
    state: Literal["queued", "running", "dropped"]


class TaskSucceeded(TypedDict):
    state: Literal["succeeded"]
    detail: TaskReport


class TaskFailed(TypedDict):
    state: Literal["failed"]
    detail: str


TaskState = Union[TaskPending, TaskSucceeded, TaskFailed]
