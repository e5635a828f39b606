"""Figures of human oversight for one monitoring window: referral, override, agreement.

* **referral rate**: the share of the champion's logged records answered ``referred``;
* **override rate**: of the cases reviewers decided (referrals and overrides recorded in the
  window), the share whose decision differs from the model's;
* **reviewer agreement**: one minus that, per group as well.

Groups are the values of the policy's ``fairness.sensitive`` features in the logged inputs
(a referral is joined to its logged record by request id and position), so an oversight that
refers or overrides one group more than another shows.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from govml.services.context import ServiceContext
from govml.store import oversight_records, records


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _log_rows(root: Path, model: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in sorted(root.glob(f"model={model}/version=*/date=*/*.parquet")):
        if path.name.startswith("."):
            continue
        day = path.parent.name.removeprefix("date=")
        if not start.date().isoformat() <= day <= end.date().isoformat():
            continue
        names = pq.read_schema(path).names
        wanted = [
            c
            for c in ("request_id", "record", "time", "variant", "decision", "inputs")
            if c in names
        ]
        for row in pq.read_table(path, columns=wanted).to_pylist():
            if start <= row["time"] < end and row.get("variant") != "shadow":
                rows.append(row)
    return rows


NOT_LOGGED = "not in the log"  # a decided case whose record is outside the window's log


def _group(row: dict[str, Any] | None, sensitive: list[str]) -> str:
    if not sensitive:
        return "all"
    if row is None:
        return NOT_LOGGED
    inputs = row.get("inputs") or {}
    return ", ".join(f"{name}={inputs.get(name)}" for name in sensitive)


def oversight_figures(
    ctx: ServiceContext, model: str, log_dir: Path | None, start: datetime, end: datetime
) -> dict[str, Any]:
    """Return the window's referral rate, override rate and reviewer agreement, by group."""
    from govml.services.policy import PolicyService

    with ctx.store.read() as conn:
        found = records.load_model(conn, model)
        mid = records.model_id(conn, model)
        cases = [
            case
            for case in oversight_records.list_referrals(conn, mid, status=None, limit=1_000_000)
            if start <= case.referred_at < end
        ]
    tier = getattr(found.risk_tier, "value", found.risk_tier)
    stored = PolicyService(ctx).for_tier(str(tier))
    fairness = None if stored is None else stored.policy.fairness
    sensitive = [] if fairness is None else list(fairness.sensitive)
    rows = (
        []
        if log_dir is None or not Path(log_dir).is_dir()
        else _log_rows(Path(log_dir), model, start, end)
    )
    by_key = {(row["request_id"], row["record"]): row for row in rows}
    scored: Counter[str] = Counter()
    referred: Counter[str] = Counter()
    for row in rows:
        group = _group(row, sensitive)
        scored[group] += 1
        referred[group] += row.get("decision") == "referred"
    decided: Counter[str] = Counter()
    overridden: Counter[str] = Counter()
    for case in cases:
        if case.status != "decided":
            continue
        group = _group(by_key.get((case.request_id, case.record)), sensitive)
        decided[group] += 1
        overridden[group] += bool(case.override)
    groups = sorted(set(scored) | set(decided))
    total_decided = sum(decided.values())
    total_overridden = sum(overridden.values())
    return {
        "records": sum(scored.values()),
        "referred": sum(referred.values()),
        "referral_rate": _rate(sum(referred.values()), sum(scored.values())),
        "pending": sum(1 for case in cases if case.status == "pending"),
        "decided": total_decided,
        "overridden": total_overridden,
        "override_rate": _rate(total_overridden, total_decided),
        "agreement": _rate(total_decided - total_overridden, total_decided),
        "sensitive": sensitive,
        "by_group": [
            {
                "group": group,
                "records": scored[group],
                "referral_rate": _rate(referred[group], scored[group]),
                "decided": decided[group],
                "override_rate": _rate(overridden[group], decided[group]),
                "agreement": _rate(decided[group] - overridden[group], decided[group]),
            }
            for group in groups
        ],
    }
