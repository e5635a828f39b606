"""OpenLineage run events for govml's registrations, evaluations and promotions.

The ledger is the source: each ``version.registered``, ``evaluation.recorded`` and
``alias.promoted`` / ``alias.rolled_back`` entry becomes one ``COMPLETE`` run event
(spec 2-0-2), built with the OpenLineage Python client's typed classes (extra
``govml[openlineage]``) and sent to a file (one JSON event per line) or an HTTP endpoint
(Marquez: ``http://marquez:5000/api/v1/lineage``). The run id is a UUID derived from the
ledger entry's leaf hash, so sending an entry twice names the same run.

======================== ===================================== ===============================
ledger action            job name (namespace: ``--namespace``) inputs -> outputs
======================== ===================================== ===============================
version.registered       ``NAME.register``                     datasets by digest -> version
evaluation.recorded      ``NAME.evaluate``                     version, data -> evaluation
alias.promoted           ``NAME.promote``                      version -> ``NAME@ALIAS``
alias.rolled_back        ``NAME.rollback``                     version -> ``NAME@ALIAS``
======================== ===================================== ===============================

Dataset namespaces are ``govml://<namespace>``; version names are ``model/NAME/versions/N``,
datasets ``dataset/sha256:...``. Run facets are the standard ``tags`` facet (what the ledger
recorded: digests, status, approvals) and ``nominalTime``; the job's ``jobType`` facet says
``integration: GOVML``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from govml import __version__
from govml.domain.records import LedgerEntry
from govml.errors import EXIT_UNAVAILABLE, GovmlError, InputError

PRODUCER: Final = f"https://github.com/govml/govml/tree/v{__version__}"
ERR_NO_CLIENT: Final = "OpenLineage events need its client: pip install 'govml[openlineage]'"
ACTIONS: Final = (
    "version.registered",
    "evaluation.recorded",
    "alias.promoted",
    "alias.rolled_back",
)
_JOB = {
    "version.registered": ("register", "REGISTRATION"),
    "evaluation.recorded": ("evaluate", "EVALUATION"),
    "alias.promoted": ("promote", "PROMOTION"),
    "alias.rolled_back": ("rollback", "ROLLBACK"),
}
_RUN_NAMESPACE = uuid.UUID("8b0c6d1e-2f4a-5b3c-9d7e-6f5a4b3c2d1e")


class EndpointError(GovmlError):
    """The OpenLineage endpoint cannot be reached or refused an event."""

    exit_code = EXIT_UNAVAILABLE


def _client() -> Any:
    try:
        from openlineage.client import event_v2
    except ImportError:
        raise InputError(ERR_NO_CLIENT) from None
    return event_v2


def run_id(entry: LedgerEntry) -> str:
    """Return the run id of ``entry``'s event: a UUID (version 5) of its leaf hash."""
    return str(uuid.uuid5(_RUN_NAMESPACE, entry.leaf_hash))


def event(entry: LedgerEntry, *, namespace: str) -> dict[str, Any]:
    """Return the OpenLineage run event (JSON-ready) of one ledger entry.

    Raises
    ------
    InputError
        When the entry's action has no event (see `ACTIONS`) or the client is missing.
    """
    if entry.action not in _JOB:
        raise InputError(f"ledger entry {entry.seq} ({entry.action}) has no OpenLineage event")
    ol = _client()
    from openlineage.client.generated.job_type_job import JobTypeJobFacet
    from openlineage.client.generated.nominal_time_run import NominalTimeRunFacet
    from openlineage.client.generated.tags_run import TagsRunFacet, TagsRunFacetFields
    from openlineage.client.serde import Serde

    model = _model(entry)
    verb, kind = _JOB[entry.action]
    inputs, outputs, tags = _datasets_and_tags(entry, model)
    tags = {"ledger_seq": str(entry.seq), "actor": entry.actor, **tags}
    data_ns = f"govml://{namespace}"
    built = ol.RunEvent(
        eventType=ol.RunState.COMPLETE,
        eventTime=_iso(entry.time),
        producer=PRODUCER,
        run=ol.Run(
            runId=run_id(entry),
            facets={
                "nominalTime": NominalTimeRunFacet(
                    nominalStartTime=_iso(entry.time), producer=PRODUCER
                ),
                "tags": TagsRunFacet(
                    tags=[
                        TagsRunFacetFields(key=k, value=v, source="GOVML")
                        for k, v in sorted(tags.items())
                    ],
                    producer=PRODUCER,
                ),
            },
        ),
        job=ol.Job(
            namespace=namespace,
            name=f"{model}.{verb}",
            facets={
                "jobType": JobTypeJobFacet(
                    processingType="BATCH", integration="GOVML", jobType=kind, producer=PRODUCER
                )
            },
        ),
        inputs=[ol.InputDataset(namespace=data_ns, name=name) for name in inputs],
        outputs=[ol.OutputDataset(namespace=data_ns, name=name) for name in outputs],
    )
    result: dict[str, Any] = json.loads(Serde.to_json(built))
    return result


def _model(entry: LedgerEntry) -> str:
    model = entry.payload.get("model")
    if isinstance(model, str):
        return model
    return entry.subject.split("/")[1]


def _iso(time: str) -> str:
    return time if "T" in time else time.replace(" ", "T")


def _version(model: str, number: Any) -> str:
    return f"model/{model}/versions/{number}"


def _datasets_and_tags(
    entry: LedgerEntry, model: str
) -> tuple[list[str], list[str], dict[str, str]]:
    action, payload = entry.action, entry.payload
    if action == "version.registered":
        datasets = dict(payload.get("datasets") or {})
        tags = {
            "artifact_digest": str(payload.get("artifact_digest")),
            "flavor": str(payload.get("flavor")),
            "git_commit": str(payload.get("git_commit")),
            "lock_digest": str(payload.get("lock_digest")),
            **{f"dataset_{role}": str(digest) for role, digest in sorted(datasets.items())},
        }
        inputs = [f"dataset/{digest}" for _, digest in sorted(datasets.items())]
        return inputs, [_version(model, payload.get("version"))], tags
    if action == "evaluation.recorded":
        number = entry.subject.rpartition("/")[2]  # model/NAME/versions/N
        tags = {
            "status": str(payload.get("status")),
            "policy_digest": str(payload.get("policy_digest")),
            "document_digest": str(payload.get("document_digest")),
            "data_digest": str(payload.get("data_digest")),
        }
        inputs = [_version(model, number), f"dataset/{payload.get('data_digest')}"]
        return inputs, [f"evaluation/{payload.get('id')}"], tags
    approvals = payload.get("approvals") or []
    tags = {
        "alias": str(payload.get("alias")),
        "previous": str(payload.get("previous")),
        "policy_digest": str(payload.get("policy_digest")),
        "evaluation_id": str(payload.get("evaluation_id")),
        "approvals": ",".join(str(a) for a in approvals),
        "reason": str(payload.get("reason") or ""),
    }
    target = f"model/{model}@{payload.get('alias')}"
    return [_version(model, payload.get("version"))], [target], tags


def events(entries: Iterable[LedgerEntry], *, namespace: str) -> list[dict[str, Any]]:
    """Return the events of the entries that have one, in ledger order."""
    return [event(e, namespace=namespace) for e in entries if e.action in _JOB]


def send(
    found: Sequence[dict[str, Any]],
    target: str,
    *,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> int:
    """Send ``found`` to ``target`` (an ``http(s)://`` URL, else a file appended to).

    Returns the number sent; an HTTP endpoint that refuses one raises `EndpointError`
    naming it (the events before it were sent).
    """
    if target.startswith(("http://", "https://")):
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        with httpx.Client(timeout=timeout, headers=headers) as http:
            for index, item in enumerate(found):
                try:
                    response = http.post(target, content=json.dumps(item))
                except httpx.TransportError as exc:
                    raise EndpointError(
                        f"{target}: cannot send OpenLineage events: {exc}"
                    ) from None
                if response.status_code >= 300:
                    raise EndpointError(
                        f"{target} refused event {index + 1} of {len(found)} with HTTP "
                        f"{response.status_code}: {response.text[:200]}"
                    )
        return len(found)
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as sink:
            for item in found:
                sink.write(json.dumps(item, sort_keys=True) + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write OpenLineage events: {exc.strerror}") from None
    return len(found)
