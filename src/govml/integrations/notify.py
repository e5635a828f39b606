"""Slack and Microsoft Teams payloads for monitoring alerts, approval requests and decisions.

A `Message` is what a person should read; `slack` renders it as Block Kit for a Slack incoming
webhook and `teams` as an Adaptive Card (1.4) message for a Teams Workflows webhook. ``generic``
keeps govml's own JSON event (signed, see `govml.monitoring.webhook`). Text from users (model
names, check messages, comments) is escaped for the target: Slack's ``&``, ``<`` and ``>`` (so
nobody can ping ``<!channel>`` through a model description), Teams' Markdown characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Style = Literal["generic", "slack", "teams"]
Severity = Literal["info", "warn", "alert", "critical", "ok"]
STYLES: Final = ("generic", "slack", "teams")
_SEVERITY_ICON = {"info": "ℹ️", "warn": "⚠️", "alert": "🚨", "critical": "🛑", "ok": "✅"}
_TEAMS_COLOR = {"info": "Accent", "warn": "Warning", "alert": "Attention", "critical": "Attention"}
_TEAMS_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")
_MAX_TEXT = 2900  # Slack's section text limit is 3000 characters


@dataclass(frozen=True, kw_only=True)
class Message:
    """One notification: title, text, facts, how serious, whom it asks to act."""

    title: str
    text: str
    severity: Severity = "info"
    facts: Sequence[tuple[str, str]] = ()
    mentions: Sequence[str] = ()
    link: str | None = None
    event: str = "govml"
    data: Mapping[str, Any] = field(default_factory=dict)


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_escape(text: str) -> str:
    """Escape Markdown in Adaptive Card text, so user text renders as typed."""
    return _TEAMS_MARKDOWN.sub(r"\\\1", text)


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def slack(message: Message) -> dict[str, Any]:
    """Return a Slack incoming-webhook body (Block Kit) for ``message``."""
    icon = _SEVERITY_ICON.get(message.severity, "")
    title = slack_escape(message.title)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{icon} {message.title}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(slack_escape(message.text))}},
    ]
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{slack_escape(k)}*\n{slack_escape(v)}"[:2000]}
                    for k, v in list(message.facts)[:10]
                ],
            }
        )
    if message.mentions:
        names = ", ".join(f"@{slack_escape(name)}" for name in message.mentions)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Asked to act:* {names}"}}
        )
    context = f"govml · {slack_escape(message.event)}"
    if message.link:
        context += f" · <{slack_escape(message.link)}|open in govml>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": f"{icon} {title}", "blocks": blocks}


def teams(message: Message) -> dict[str, Any]:
    """Return a Teams webhook body (an Adaptive Card message) for ``message``."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": _TEAMS_COLOR.get(message.severity, "Default"),
            "text": teams_escape(message.title),
        },
        {"type": "TextBlock", "wrap": True, "text": teams_escape(_cut(message.text))},
    ]
    if message.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": teams_escape(k), "value": teams_escape(v)} for k, v in message.facts
                ],
            }
        )
    if message.mentions:
        names = ", ".join(teams_escape(name) for name in message.mentions)
        body.append({"type": "TextBlock", "wrap": True, "text": f"**Asked to act:** {names}"})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in govml", "url": message.link}
        ]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def render(style: str, message: Message) -> dict[str, Any]:
    """Return the body to send in ``style`` (``generic``: the message's own event data)."""
    if style == "slack":
        return slack(message)
    if style == "teams":
        return teams(message)
    return dict(message.data)


# -- messages ------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def alert_message(event: str, payload: Mapping[str, Any]) -> Message:
    """Return the message of a monitoring event (``monitoring.alert`` or ``.retrain``)."""
    model, version, status = payload.get("model"), payload.get("version"), payload.get("status")
    window = payload.get("window") or {}
    checks = list(payload.get("checks") or [])
    lines = [f"{c.get('check')}: {c.get('status')} — {c.get('message')}" for c in checks[:8]]
    if len(checks) > 8:
        lines.append(f"and {len(checks) - 8} more")
    rollback = payload.get("rollback")
    if isinstance(rollback, Mapping):
        lines.append(f"Rollback: {rollback.get('status')}: {rollback.get('detail')}")
    verb = "needs retraining" if event == "monitoring.retrain" else f"is in {status}"
    policy = payload.get("policy") or {}
    severity: Severity = "alert"
    if status == "warn":
        severity = "warn"
    elif status == "critical":
        severity = "critical"
    return Message(
        title=f"{model}@{version} {verb}",
        text="\n".join(lines) or "No check reached alert.",
        severity=severity,
        facts=[
            ("Window", f"{window.get('start')} to {window.get('end')}"),
            ("Rows (labelled)", f"{_fmt(payload.get('rows'))} ({_fmt(payload.get('labelled'))})"),
            ("Policy", f"{policy.get('name')} v{policy.get('version')}"),
            ("Monitoring run", _fmt(payload.get("run_id"))),
        ],
        event=event,
        data=dict(payload),
    )


def approval_request_message(
    *,
    ref: str,
    approvers: Sequence[str],
    roles: Sequence[str],
    required: int,
    have: int,
    evaluation: Mapping[str, Any],
    link: str | None = None,
) -> Message:
    """Return the message asking ``approvers`` to decide on version ``ref``."""
    data = {
        "event": "approval.requested",
        "version": ref,
        "approvers": list(approvers),
        "roles": list(roles),
        "required": required,
        "approvals": have,
        "evaluation": dict(evaluation),
    }
    return Message(
        title=f"Approval requested: {ref}",
        text=(
            f"{ref} passed its evaluation and needs {required - have} more approval(s) "
            f"({', '.join(roles) or 'any approving role'}) before production."
        ),
        severity="info",
        facts=[
            ("Evaluation", f"{_fmt(evaluation.get('id'))}: {_fmt(evaluation.get('status'))}"),
            ("Policy digest", _fmt(evaluation.get("policy_digest"))[:19]),
            ("Approvals", f"{have} of {required}"),
        ],
        mentions=list(approvers),
        link=link,
        event="approval.requested",
        data=data,
    )


def decision_message(action: str, subject: str, payload: Mapping[str, Any]) -> Message:
    """Return the message of an approval, a rejection, a promotion or a rollback entry."""
    if action in ("version.approved", "version.rejected"):
        ref = f"{payload.get('model')}@{payload.get('version')}"
        approved = action == "version.approved"
        return Message(
            title=f"{ref} {'approved' if approved else 'rejected'} by {payload.get('actor')}",
            text=str(payload.get("comment") or "(no comment)"),
            severity="ok" if approved else "warn",
            facts=[
                ("Role", _fmt(payload.get("role"))),
                ("Evaluation", _fmt(payload.get("evaluation_id"))),
            ],
            event=action,
            data={"event": action, "subject": subject, **payload},
        )
    ref = f"{payload.get('model')}@{payload.get('version')}"
    alias = payload.get("alias")
    rolled = action == "alias.rolled_back"
    title = (
        f"{payload.get('model')} {alias} rolled back to version {payload.get('version')}"
        if rolled
        else f"{ref} promoted to {alias}"
    )
    approvals = ", ".join(str(a) for a in payload.get("approvals") or []) or "-"
    return Message(
        title=title,
        text=str(payload.get("reason") or f"by {payload.get('actor')}"),
        severity="warn" if rolled else "ok",
        facts=[
            ("By", _fmt(payload.get("actor"))),
            ("Previous", _fmt(payload.get("previous"))),
            ("Approvals", approvals),
        ],
        event=action,
        data={"event": action, "subject": subject, **payload},
    )
