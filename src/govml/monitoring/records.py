"""What a monitoring run records: checks per version, the actions taken, the time series.

Statuses, least to most severe: ``insufficient`` (too little data to judge, never an
alert), ``ok``, ``warn`` (worth a look; no action), ``alert`` (a rule reached its alert
level: the policy's ``on_alert`` actions run) and ``critical`` (a gating rule failed: a
performance or fairness bound broken on labelled production data; ``on_critical`` runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from govml.monitoring.window import Window, parse_time

Status = Literal["insufficient", "ok", "warn", "alert", "critical"]
STATUSES: tuple[Status, ...] = get_args(Status)
RANK: dict[str, int] = {status: index for index, status in enumerate(STATUSES)}
ActionStatus = Literal["done", "failed", "skipped", "refused"]


def worst(statuses: Iterable[str]) -> Status:
    """Return the most severe status; ``insufficient`` when there is none to judge."""
    found: Status = "insufficient"
    for status in statuses:
        if RANK[status] > RANK[found]:
            found = status  # type: ignore[assignment]
    return found


@dataclass(frozen=True, kw_only=True)
class CheckOutcome:
    """One check of one version on one window.

    Attributes
    ----------
    check : str
        ``data_drift:<feature>``, ``prediction_drift``, ``skew:<feature>``,
        ``performance:<metric>``, ``fairness:<metric>:<feature>``, ``attribution`` or
        ``label_coverage``.
    category : str
        ``data_drift``, ``prediction_drift``, ``skew``, ``performance``, ``fairness``,
        ``attribution`` or ``coverage``.
    status : str
        One of :data:`STATUSES`.
    value : float or None
        The measured number (the drift score, metric value, overlap, coverage share).
    threshold : dict
        The levels it was compared with.
    message : str
        One line for a person.
    evidence : dict
        The statistics behind the number (JSON-safe).
    """

    check: str
    category: str
    status: Status
    value: float | None
    threshold: dict[str, Any]
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "check": self.check,
            "category": self.category,
            "status": self.status,
            "value": self.value,
            "threshold": dict(self.threshold),
            "message": self.message,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckOutcome:
        """Rebuild from :meth:`to_dict` output."""
        value = data.get("value")
        return cls(
            check=str(data["check"]),
            category=str(data["category"]),
            status=data["status"],
            value=None if value is None else float(value),
            threshold=dict(data.get("threshold") or {}),
            message=str(data["message"]),
            evidence=dict(data.get("evidence") or {}),
        )


@dataclass(frozen=True, kw_only=True)
class VersionReport:
    """Every check of one served version on the window.

    Attributes
    ----------
    version : int
        The model version that answered the requests.
    rows : int
        Served rows (champion and canary) in the window.
    labelled : int
        Rows of them with a feedback label.
    status : str
        The most severe check status.
    checks : tuple of CheckOutcome
        In the order they ran.
    notes : tuple of str
        What was not checked, and why.
    """

    version: int
    rows: int
    labelled: int
    status: Status
    checks: tuple[CheckOutcome, ...]
    notes: tuple[str, ...] = ()

    def at_least(self, status: str) -> list[CheckOutcome]:
        """Return the checks whose status is ``status`` or more severe."""
        return [c for c in self.checks if RANK[c.status] >= RANK[status]]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "version": self.version,
            "rows": self.rows,
            "labelled": self.labelled,
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VersionReport:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            version=int(data["version"]),
            rows=int(data["rows"]),
            labelled=int(data["labelled"]),
            status=data["status"],
            checks=tuple(CheckOutcome.from_dict(c) for c in data["checks"]),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )


@dataclass(frozen=True, kw_only=True)
class ActionRecord:
    """An alert or an action a run took (or decided not to take, and why).

    Attributes
    ----------
    action : str
        ``alert``, ``notify``, ``retrain`` or ``rollback``.
    version : int
        The version it is about.
    status : str
        ``done``, ``failed`` (a webhook that never answered 2xx), ``skipped`` (already
        done for this window or promotion, or nothing to do) or ``refused`` (not allowed).
    detail : str
        What happened, for a person.
    attempts : tuple of dict
        Webhook delivery attempts: ``attempt``, ``status_code``, ``error``, ``duration_ms``.
    ledger_seq : int or None
        The ledger entry recording it.
    """

    action: str
    version: int
    status: ActionStatus
    detail: str
    attempts: tuple[dict[str, Any], ...] = ()
    ledger_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "action": self.action,
            "version": self.version,
            "status": self.status,
            "detail": self.detail,
            "attempts": [dict(a) for a in self.attempts],
            "ledger_seq": self.ledger_seq,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionRecord:
        """Rebuild from :meth:`to_dict` output."""
        seq = data.get("ledger_seq")
        return cls(
            action=str(data["action"]),
            version=int(data["version"]),
            status=data["status"],
            detail=str(data["detail"]),
            attempts=tuple(dict(a) for a in data.get("attempts", ())),
            ledger_seq=None if seq is None else int(seq),
        )


@dataclass(frozen=True, kw_only=True)
class MonitorRun:
    """One ``govml monitor`` run over one window of one model.

    Attributes
    ----------
    id : int or None
        The stored run's id; None for a dry run (nothing stored, no action taken).
    model : str
        The model.
    window : Window
        The window read.
    status : str
        The most severe status over every version.
    versions : tuple of VersionReport
        One per version that answered requests in the window.
    actions : tuple of ActionRecord
        Alerts and actions, in the order they happened.
    policy : dict or None
        ``name``, ``version`` and ``digest`` of the policy in force, None without one.
    production : int or None
        The version holding ``production`` when the run started.
    started_at : datetime
        When the run started.
    actor : str
        Who ran it.
    duration_s : float
        Wall time.
    ledger_seq : int or None
        The run's ``monitoring.run`` ledger entry.
    """

    id: int | None
    model: str
    window: Window
    status: Status
    versions: tuple[VersionReport, ...]
    actions: tuple[ActionRecord, ...]
    policy: dict[str, Any] | None
    production: int | None
    started_at: datetime
    actor: str
    duration_s: float
    ledger_seq: int | None = None
    notes: tuple[str, ...] = ()

    def report(self, version: int) -> VersionReport:
        """Return the report of ``version`` (KeyError when it did not serve)."""
        for report in self.versions:
            if report.version == version:
                return report
        raise KeyError(version)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it."""
        return {
            "id": self.id,
            "model": self.model,
            "window": self.window.to_dict(),
            "status": self.status,
            "versions": [v.to_dict() for v in self.versions],
            "actions": [a.to_dict() for a in self.actions],
            "policy": None if self.policy is None else dict(self.policy),
            "production": self.production,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "actor": self.actor,
            "duration_s": self.duration_s,
            "ledger_seq": self.ledger_seq,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorRun:
        """Rebuild from :meth:`to_dict` output."""
        seq = data.get("ledger_seq")
        production = data.get("production")
        return cls(
            id=None if data.get("id") is None else int(data["id"]),
            model=str(data["model"]),
            window=Window.from_dict(data["window"]),
            status=data["status"],
            versions=tuple(VersionReport.from_dict(v) for v in data["versions"]),
            actions=tuple(ActionRecord.from_dict(a) for a in data["actions"]),
            policy=None if data.get("policy") is None else dict(data["policy"]),
            production=None if production is None else int(production),
            started_at=parse_time(data["started_at"]),
            actor=str(data["actor"]),
            duration_s=float(data["duration_s"]),
            ledger_seq=None if seq is None else int(seq),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )


@dataclass(frozen=True, kw_only=True)
class MonitorPoint:
    """One point of the time series: a check's status and value on one window.

    Attributes
    ----------
    run_id : int
        The run that measured it.
    model, version, check, category, status : str / int
        What was measured, on which version, with which outcome.
    value : float or None
        The number (None when not measured).
    window_start, window_end, created_at : datetime
        The window and when the run stored it.
    """

    run_id: int
    model: str
    version: int
    check: str
    category: str
    status: Status
    value: float | None
    window_start: datetime
    window_end: datetime
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "run_id": self.run_id,
            "model": self.model,
            "version": self.version,
            "check": self.check,
            "category": self.category,
            "status": self.status,
            "value": self.value,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "created_at": _iso(self.created_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorPoint:
        """Rebuild from :meth:`to_dict` output."""
        value = data.get("value")
        return cls(
            run_id=int(data["run_id"]),
            model=str(data["model"]),
            version=int(data["version"]),
            check=str(data["check"]),
            category=str(data["category"]),
            status=data["status"],
            value=None if value is None else float(value),
            window_start=parse_time(data["window_start"]),
            window_end=parse_time(data["window_end"]),
            created_at=parse_time(data["created_at"]),
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
