"""The gateway: a plain ASGI application (no framework on the request path).

Endpoints
---------
``POST /predict`` (key scope ``predict``)
    Score records (shapes in :mod:`govml.serving.payload`). 200 with ``predictions``
    (and ``probabilities`` with their ``classes`` for classifiers), ``warnings`` for values
    outside the training profile, and with ``?explain=k`` an ``explanations`` list: each
    record's top ``k`` feature contributions and reason codes (:mod:`govml.serving.explain`,
    :mod:`govml.serving.reasons`), also written to the prediction log; 400 malformed JSON;
    408 body not received in time; 413 body too large; 422 invalid records
    (``{"errors": [{"record", "field", "message"}]}``), a bad ``explain``, or values
    outside the training profile under a strict serving policy; 503 no version loaded
    (saying why: still loading, or its artifact does not match its digest), or the
    prediction log is full (with ``Retry-After``); 500 the model failed.
``POST /feedback`` (key scope ``feedback``)
    Ground-truth labels by request id (see :func:`~govml.serving.payload.feedback_from_json`
    and :mod:`govml.serving.labels`): 200 with the number accepted and corrected; 422 for a
    label that cannot be true or a request the gateway did not answer; 409 for a record
    labelled already, unless the key has the ``correct_labels`` scope.
``GET /health``
    200 while the process runs. ``GET /ready``: 200 once a version is loaded and the log
    writer runs, else 503 with the reasons.
``GET /metrics``
    Prometheus text format (:mod:`govml.serving.metrics`); needs the ``metrics`` scope
    when the gateway runs with ``metrics_auth``.
``GET /version`` (scope ``predict`` or ``feedback``)
    The versions answering now and the serving set-up.

Every request but ``/health``, ``/ready`` (and ``/metrics`` unless ``metrics_auth``) carries
``Authorization: Bearer KEY``, a gateway key of the served model (:mod:`govml.serving.keys`),
checked in memory before the body is read: 401 without a valid key, 403 for a key of another
model or without the scope.

In client mode (``GOVML_SERVER``) the log's closed files are also sent to the server, where
``govml monitor`` reads them (:mod:`govml.serving.shipping`).

A request of at most `SMALL_BODY` bytes is decoded, checked and scored on the event loop (a
bounded amount of work). A larger one waits for one of ``work_threads`` slots before its body
is read, and is decoded (in pieces, :mod:`govml.serving.chunked`), checked, scored (a batch of
rows per model call) and answered in a worker thread, so that small requests keep being
answered meanwhile; with ``large_process`` (``govml serve``'s default) it is answered by a
second, lower-priority gateway process instead (:mod:`govml.serving.large`), so that it does
not compete with them for the interpreter lock either.

Every response carries ``X-Request-ID`` (the client's, when it sent a valid one) and, when
a model answered, ``X-Model-Name``, ``X-Model-Version`` and ``X-Variant``; an answer of
``/predict`` also ``X-Records``, how many records it scored; JSON bodies repeat
``request_id``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import numpy as np
import orjson

from govml import __version__
from govml.domain.records import ModelVersion
from govml.errors import ConfigurationError
from govml.serving.batching import Batcher
from govml.serving.deployment import Deployment, Scores
from govml.serving.environment import EnvironmentCollector, EnvironmentReports
from govml.serving.explain import DecisionExplainer, ExplainUnavailable, explainer_for
from govml.serving.follower import CHAMPION, AliasFollower, Change, ServingState
from govml.serving.governance import Governance
from govml.serving.http import (
    BodyTimeout,
    BodyTooLarge,
    Disconnected,
    Headers,
    Receive,
    Response,
    Scope,
    Send,
    declared_length,
    error_response,
    header,
    json_response,
    jsonable,
    read_body,
)
from govml.serving.http import request_id as request_id_of
from govml.serving.issued import IssuedRequests
from govml.serving.keys import CORRECT_LABELS, FEEDBACK, METRICS, PREDICT, Caller, KeyRefused
from govml.serving.labels import LABEL_KINDS, check_feedback
from govml.serving.large import LargeProcess, Unanswered
from govml.serving.logschema import EventEntry, FeedbackEntry, PredictionEntry
from govml.serving.metrics import CONTENT_TYPE, GatewayMetrics, merged_exposition
from govml.serving.options import GatewayOptions
from govml.serving.oversight import (
    ANSWERED,
    REFERRED,
    ReferralSender,
    governance_summary,
    referral_items,
    referral_reasons,
    suspended_answer,
    withhold,
)
from govml.serving.payload import (
    SMALL_BODY,
    FieldError,
    PayloadError,
    Records,
    decode_body,
    records_from_json,
)
from govml.serving.predlog import PredictionLog
from govml.serving.privacy import Logged, for_log, pseudonym_key, subject_extras
from govml.serving.reasons import check_count, explain_records, requested_k
from govml.serving.routing import SHADOW, route
from govml.serving.shipping import LogShipper
from govml.serving.source import RegistrySource
from govml.serving.validation import Validated

logger = logging.getLogger("govml.serving")

RETRY_AFTER_SECONDS = 1
SWITCH_INTERVAL = 0.001

ERR_NOT_READY = "no version of {model} holds '{alias}' (or it is still loading)"
ERR_NOT_SERVED = "{problem}; no version of {model} answers for '{alias}'"
ERR_TOO_LARGE = "request body larger than {limit} bytes"
ERR_BODY_TIMEOUT = "the request body did not arrive within {seconds:g} s"
ERR_OVERLOADED = "the prediction log is full; retry after {seconds} s"
ERR_MODEL = "{ref} failed to score the records: {reason}"
ERR_UNANSWERED = "the large-request process ended before it answered; retry after {seconds} s"
RECORDS_HEADER = b"x-records"
ERR_NOT_FOUND = "no endpoint {path}; see /predict, /feedback, /health, /ready, /metrics, /version"
ERR_METHOD = "{path} does not take {method}; use {allowed}"
CHALLENGE = b'Bearer realm="govml-gateway"'
CLOSE = (b"connection", b"close")

_T = TypeVar("_T")


@dataclass
class Call:
    """One request on its way through the gateway."""

    scope: Scope
    receive: Receive
    request_id: str
    caller: Caller | None = None
    after: list[Callable[[], None]] = field(default_factory=list)


@dataclass(frozen=True)
class _Prepared:
    records: Records
    deployment: Deployment
    variant: str
    validated: Validated
    explain: int | None = None  # the top k contributions asked for (``?explain=k``)
    logged: Logged | None = None  # the values as the log keeps them (pseudonymised)


def _model_headers(deployment: Deployment, variant: str) -> Headers:
    return [
        (b"x-model-name", deployment.name.encode()),
        (b"x-model-version", str(deployment.number).encode()),
        (b"x-variant", variant.encode()),
    ]


class Gateway:
    """The serving gateway for one model alias, as an ASGI application.

    Parameters
    ----------
    options : GatewayOptions
        What to serve and how.
    source : RegistrySource
        Registry reads (the gateway closes it at shutdown).
    """

    def __init__(self, options: GatewayOptions, source: RegistrySource) -> None:
        self.options = options
        self.source = source
        self.log = PredictionLog(
            options.log_dir, capacity=options.log_queue_records, flush_seconds=options.flush_seconds
        )
        self.metrics = GatewayMetrics(self.log, self._version_labels)
        self.environment = EnvironmentReports(self._loaded_versions)
        self.metrics.registry.register(EnvironmentCollector(self.environment))
        self.follower = AliasFollower(
            source,
            model=options.model,
            alias=options.alias,
            poll_seconds=options.poll_seconds,
            notify=self._changed,
        )
        self.work = ThreadPoolExecutor(options.work_threads, thread_name_prefix="govml-work")
        self.batcher = Batcher(
            max_records=options.max_batch_records,
            max_background=options.shadow_queue_records,
            on_batch=self.metrics.batch.observe,
            executor=self.work,
        )
        self.issued = IssuedRequests(
            options.log_dir,
            options.model,
            days=options.feedback_days,
            index_entries=options.feedback_index_entries,
        )
        send = getattr(source, "log_sender", lambda: None)()
        self.shipper = None
        if send is not None:
            self.shipper = LogShipper(
                options.log_dir,
                options.model,
                send,
                every=max(options.flush_seconds, 1.0),
                on_sent=self.metrics.files_sent.inc,
                on_error=self.metrics.send_errors.inc,
            )
        record_files = getattr(source, "log_file_sender", lambda: None)()
        self.file_ledger = None
        if record_files is not None:
            self.file_ledger = ReferralSender(
                record_files, options.model, every=max(options.flush_seconds, 0.5)
            )
            ledger = self.file_ledger
            self.log.on_file = lambda path, digest, rows: ledger.put(
                [{"path": path, "sha256": digest, "rows": rows}]
            )
        refer = getattr(source, "referral_sender", lambda: None)()
        self.referrals = None
        if refer is not None:
            self.referrals = ReferralSender(
                refer, options.model, every=max(options.flush_seconds, 0.5)
            )
        self.pseudonym_key = pseudonym_key()
        self.large = LargeProcess(options) if options.large_process else None
        self.started = False
        self._slots: asyncio.Semaphore | None = None
        metrics_scopes = (METRICS,) if options.metrics_auth else None
        Handler = Callable[[Call], Awaitable[Response]]
        self._routes: dict[str, tuple[str, Handler, tuple[str, ...] | None]] = {
            "/predict": ("POST", self._predict, (PREDICT,)),
            "/feedback": ("POST", self._feedback, (FEEDBACK,)),
            "/health": ("GET", self._health, None),
            "/ready": ("GET", self._ready, None),
            "/metrics": ("GET", self._metrics, metrics_scopes),
            "/version": ("GET", self._version, (PREDICT, FEEDBACK)),
        }

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope (HTTP or lifespan)."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("the gateway could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Start the log writer, load the served version and keys, start polling and batching."""
        self._slots = asyncio.Semaphore(self.options.work_threads)
        self.log.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.follower.refresh)
        self.batcher.start()
        self.follower.start()
        if self.shipper is not None:
            self.shipper.start()
        if self.referrals is not None:
            self.referrals.start()
        if self.file_ledger is not None:
            self.file_ledger.start()
        self.started = True

    async def shutdown(self) -> None:
        """Stop polling, score waiting shadow copies, then write the whole log."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.follower.stop)
        if self.large is not None:
            await self.large.stop()
        await self.batcher.stop()
        state = self.follower.state
        self._event(
            Change("stop", CHAMPION, _number(state.champion), None, "gateway stopped"), state
        )
        await loop.run_in_executor(None, self.work.shutdown)
        await loop.run_in_executor(None, self.log.close)
        if self.shipper is not None:
            await loop.run_in_executor(None, self.shipper.stop)
        if self.referrals is not None:
            await loop.run_in_executor(None, self.referrals.stop)
        if self.file_ledger is not None:
            await loop.run_in_executor(None, self.file_ledger.stop)
        await loop.run_in_executor(None, self.source.close)
        self.started = False

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        call = Call(scope, receive, request_id_of(scope))
        path = scope["path"]
        route_ = self._routes.get(path)
        endpoint = path if route_ is not None else "other"
        if route_ is None:
            response = error_response(
                404, call.request_id, [FieldError(ERR_NOT_FOUND.format(path=path))]
            )
            self.metrics.error(endpoint, "not_found")
        elif scope["method"] != route_[0]:
            message = ERR_METHOD.format(path=path, method=scope["method"], allowed=route_[0])
            response = error_response(
                405, call.request_id, [FieldError(message)], [(b"allow", route_[0].encode())]
            )
            self.metrics.error(endpoint, "method_not_allowed")
        else:
            _, handler, scopes = route_
            refused = None if scopes is None else self._authenticate(call, scopes, endpoint)
            if refused is not None:
                response = refused
            else:
                try:
                    response = await handler(call)
                except Disconnected:
                    return
                except Exception as exc:
                    logger.exception("request %s failed", call.request_id)
                    text = f"internal error ({type(exc).__name__}); request id {call.request_id}"
                    response = error_response(500, call.request_id, [FieldError(text)])
                    self.metrics.error(endpoint, "internal")
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"x-request-id", call.request_id.encode()),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        self.metrics.request(endpoint, response.status, time.perf_counter() - started)
        for task in call.after:
            task()

    def _authenticate(self, call: Call, scopes: tuple[str, ...], endpoint: str) -> Response | None:
        """Set the caller from the request's key, or return the 401 / 403 refusal."""
        try:
            call.caller = self.follower.keys.check(
                header(call.scope, b"authorization"), scopes, time.time()
            )
        except KeyRefused as exc:
            refusal = exc.refusal
            headers: Headers = [CLOSE] if call.scope["method"] == "POST" else []
            if refusal.status == 401:
                headers.append((b"www-authenticate", CHALLENGE))
            self.metrics.error(endpoint, "unauthorized" if refusal.status == 401 else "forbidden")
            message = refusal.message
            if refusal.hint is not None:
                message += f" ({refusal.hint})"
            return error_response(refusal.status, call.request_id, [FieldError(message)], headers)
        return None

    async def _in_worker(self, function: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.work, function, *args)

    async def _body(self, call: Call, endpoint: str) -> tuple[bytes, bool]:
        """Read the body; return it and whether it is large (a work slot is then held).

        A body announced larger than `SMALL_BODY`, or sent without a length, waits for one of
        the ``work_threads`` slots before it is read, so that at most that many large bodies
        are in memory at once; the caller releases it (`_release`).
        """
        declared = declared_length(call.scope)
        limit = self.options.max_body_bytes
        # A body announced over the limit is refused before it is read: it needs no slot.
        held = (declared is None or declared > SMALL_BODY) and (declared or 0) <= limit
        if held:
            assert self._slots is not None
            await self._slots.acquire()
        try:
            body = await read_body(
                call.scope, call.receive, limit, self.options.body_timeout_seconds
            )
        except BodyTooLarge:
            self._release(held)
            self.metrics.error(endpoint, "too_large")
            error = FieldError(ERR_TOO_LARGE.format(limit=limit))
            raise PayloadError(413, [error]) from None
        except BodyTimeout:
            self._release(held)
            self.metrics.error(endpoint, "body_timeout")
            error = FieldError(ERR_BODY_TIMEOUT.format(seconds=self.options.body_timeout_seconds))
            raise PayloadError(408, [error]) from None
        except BaseException:
            self._release(held)
            raise
        return body, held

    def _release(self, held: bool) -> None:
        if held:
            assert self._slots is not None
            self._slots.release()

    def _unavailable(self, state: ServingState, request_id: str, endpoint: str) -> Response:
        self.metrics.error(endpoint, "unavailable")
        retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        return error_response(503, request_id, [FieldError(self._not_ready(state))], retry)

    def _not_ready(self, state: ServingState) -> str:
        model, alias = self.options.model, self.options.alias
        if state.problem is not None:
            return ERR_NOT_SERVED.format(problem=state.problem, model=model, alias=alias)
        return ERR_NOT_READY.format(model=model, alias=alias)

    def _overloaded(self, request_id: str, endpoint: str) -> Response:
        self.metrics.error(endpoint, "overloaded")
        message = ERR_OVERLOADED.format(seconds=RETRY_AFTER_SECONDS)
        retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        return error_response(503, request_id, [FieldError(message)], retry)

    def _refused(self, exc: PayloadError, call: Call, endpoint: str) -> Response:
        if exc.status == 422:
            self.metrics.error(endpoint, "invalid_input")
        elif exc.status == 400:
            self.metrics.error(endpoint, "invalid_json")
        elif exc.status == 409:
            self.metrics.error(endpoint, "labelled")
        headers = [CLOSE] if exc.status in (408, 413) else []
        return error_response(exc.status, call.request_id, exc.errors, headers)

    # -- /predict --------------------------------------------------------------------------

    async def _predict(self, call: Call) -> Response:
        started = time.perf_counter()
        arrived = datetime.now(UTC)
        state = self.follower.state
        if state.champion is None:
            return self._unavailable(state, call.request_id, "/predict")
        suspended = suspended_answer(state.governance, self.options.model, call.request_id)
        if suspended is not None:
            self.metrics.error("/predict", "suspended")
            return suspended
        try:
            body, large = await self._body(call, "/predict")
        except PayloadError as exc:
            return self._refused(exc, call, "/predict")
        query = call.scope.get("query_string", b"")
        try:
            if large and self.large is not None and self.large.wanted():
                relayed = await self._relay(call, body, query)
                if relayed is not None:
                    return relayed
            try:
                if large:
                    prepared = await self._in_worker(
                        self._prepare, body, state, call.request_id, query
                    )
                else:
                    prepared = self._prepare(body, state, call.request_id, query)
            except PayloadError as exc:
                return self._refused(exc, call, "/predict")
            del body
            return await self._score(call, state, prepared, arrived, started, large)
        finally:
            self._release(large)

    async def _relay(self, call: Call, body: bytes, query: bytes) -> Response | None:
        """Have the large-request process answer; None when it cannot be reached."""
        assert self.large is not None
        try:
            answer = await self.large.relay(body, query, call.scope["headers"], call.request_id)
        except ConnectionError:
            return None
        except Unanswered as exc:
            logger.warning(
                "request %s: the large-request process did not answer: %s", call.request_id, exc
            )
            self.metrics.error("/predict", "large_process")
            retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
            error = FieldError(ERR_UNANSWERED.format(seconds=RETRY_AFTER_SECONDS))
            return error_response(503, call.request_id, [error], retry)
        if answer.status == 200:
            records = dict(answer.headers).get(RECORDS_HEADER, b"")
            if records.isdigit():
                self.issued.answered(call.request_id, int(records))
        return answer

    def _prepare(
        self, body: bytes, state: ServingState, request_id: str, query: bytes = b""
    ) -> _Prepared:
        """Decode, shape, route and check a request's records (on the loop or a worker)."""
        records = records_from_json(decode_body(body))
        deployment, variant = route(state, records, request_id)
        explain = requested_k(query, len(deployment.inputs))
        if explain is not None:
            check_count(records.count)
        retention = state.governance.retention
        extras = subject_extras(retention, deployment.validator.names)
        if state.key is not None:
            extras += (state.key,)
        validated = deployment.validator.validate(records, extras=extras, strict=state.strict)
        logged = for_log(
            retention, self.pseudonym_key, validated.values, validated.extras, validated.count
        )
        return _Prepared(records, deployment, variant, validated, explain, logged)

    async def _score(
        self,
        call: Call,
        state: ServingState,
        prepared: _Prepared,
        arrived: datetime,
        started: float,
        large: bool,
    ) -> Response:
        deployment, variant, validated = prepared.deployment, prepared.variant, prepared.validated
        count = validated.count
        explainer = None
        if prepared.explain is not None:
            try:
                explainer = await self._in_worker(explainer_for, deployment)
            except ExplainUnavailable as exc:
                error = PayloadError(422, [FieldError(str(exc), field="explain")])
                return self._refused(error, call, "/predict")
        if not await self.log.admit(count, self.options.log_wait_ms):
            return self._overloaded(call.request_id, "/predict")
        try:
            scores = await self.batcher.score(deployment, validated.values, count, in_worker=large)
        except Exception as exc:
            self.log.release(count)
            self.metrics.error("/predict", "model_error")
            ref = deployment.version.ref
            logger.warning("request %s: %s failed: %s", call.request_id, ref, exc)
            message = ERR_MODEL.format(ref=ref, reason=exc)
            return error_response(
                500, call.request_id, [FieldError(message)], _model_headers(deployment, variant)
            )
        explanations = None
        if explainer is not None:
            explanations = await self._in_worker(
                self._explain, explainer, prepared, scores, state, call.request_id
            )
        latency_ms = (time.perf_counter() - started) * 1000
        answer = partial(
            self._answer,
            prepared,
            call.request_id,
            arrived,
            scores,
            latency_ms,
            explanations,
            state.governance,
        )
        response = await self._in_worker(answer) if large else answer()
        if state.mode == SHADOW and state.challenger is not None:
            shadow = state.challenger
            call.after.append(
                lambda: self._shadow(shadow, prepared, call.request_id, arrived, scores, large)
            )
        return response

    def _answer(
        self,
        prepared: _Prepared,
        request_id: str,
        arrived: datetime,
        scores: Scores,
        latency_ms: float,
        explanations: list[dict[str, Any]] | None = None,
        governance: Governance | None = None,
    ) -> Response:
        """Log the scored records, count them, refer what oversight asks, build the answer."""
        deployment, variant, validated = prepared.deployment, prepared.variant, prepared.validated
        entry = _entry(
            deployment, variant, request_id, arrived, validated, scores, latency_ms, prepared.logged
        )
        if explanations is not None:
            texts = [orjson.dumps(item).decode() for item in explanations]
            entry = dataclasses.replace(entry, explanations=texts)
        overseen = governance is not None and (
            governance.oversight is not None or governance.suspended is not None
        )
        referred: dict[int, list[str]] = {}
        if overseen:
            assert governance is not None
            referred = referral_reasons(governance, deployment, validated, scores)
            decisions = [REFERRED if i in referred else ANSWERED for i in range(validated.count)]
            why = [
                orjson.dumps(referred[i]).decode() if i in referred else None
                for i in range(validated.count)
            ]
            entry = dataclasses.replace(entry, decisions=decisions, referrals=why)
            if referred:
                self.metrics.referred.inc(len(referred))
                if self.referrals is not None:
                    self.referrals.put(
                        referral_items(
                            governance,
                            deployment,
                            entry.values,
                            scores,
                            referred,
                            request_id,
                            arrived,
                        )
                    )
        self.log.put(entry)
        self.issued.answered(request_id, validated.count)
        self.metrics.scored(deployment, variant, validated, scores)
        body: dict[str, Any] = {
            "request_id": request_id,
            "model": deployment.name,
            "version": deployment.number,
            "variant": variant,
            "predictions": jsonable(scores.predictions),
        }
        if scores.probabilities is not None:
            body["classes"] = deployment.classes
            body["probabilities"] = jsonable(scores.probabilities)
        if explanations is not None:
            body["explanations"] = explanations
        if overseen:
            withhold(body, referred, validated.count)
        if validated.warnings:
            body["warnings"] = [warning.to_dict() for warning in validated.warnings[:100]]
        headers = _model_headers(deployment, variant)
        headers.append((RECORDS_HEADER, str(validated.count).encode()))
        return json_response(200, body, headers)

    def _explain(
        self,
        explainer: DecisionExplainer,
        prepared: _Prepared,
        scores: Scores,
        state: ServingState,
        request_id: str,
    ) -> list[dict[str, Any]]:
        """Explain the scored records (in a worker); a failure is said in each record's place."""
        assert prepared.explain is not None
        deployment, validated = prepared.deployment, prepared.validated
        try:
            return explain_records(
                explainer,
                deployment.frame(validated.values),
                validated.values if prepared.logged is None else prepared.logged.values,
                scores.predictions,
                prepared.explain,
                state.governance.reason_codes,
                scores.features,
            )
        except Exception as exc:
            logger.warning("request %s: explaining %s failed: %s", request_id, explainer.ref, exc)
            self.metrics.error("/predict", "explain_error")
            failed = {"method": explainer.method, "error": f"explanation failed: {exc}"}
            return [failed] * validated.count

    def _shadow(
        self,
        challenger: Deployment,
        prepared: _Prepared,
        request_id: str,
        arrived: datetime,
        champion: Scores,
        large: bool,
    ) -> None:
        """Queue a copy of an answered request for the challenger (best effort)."""
        if large:
            work = self.work.submit(challenger.validator.validate, prepared.records)
            loop = asyncio.get_running_loop()

            def checked(_: object) -> None:
                try:
                    copy = work.result()
                except PayloadError:
                    self.metrics.child(self.metrics.shadow_dropped, "invalid_input").inc()
                    return
                self._queue_shadow(challenger, copy, request_id, arrived, champion)

            work.add_done_callback(lambda done: loop.call_soon_threadsafe(checked, done))
            return
        try:
            copy = challenger.validator.validate(prepared.records)
        except PayloadError:
            self.metrics.child(self.metrics.shadow_dropped, "invalid_input").inc()
            return
        self._queue_shadow(challenger, copy, request_id, arrived, champion)

    def _queue_shadow(
        self,
        challenger: Deployment,
        copy: Validated,
        request_id: str,
        arrived: datetime,
        champion: Scores,
    ) -> None:
        metrics = self.metrics
        started = time.perf_counter()

        def done(scores: Scores | None, error: BaseException | None) -> None:
            if scores is None:
                metrics.child(metrics.shadow_dropped, "model_error").inc()
                logger.warning(
                    "shadow %s failed on %s: %s", challenger.version.ref, request_id, error
                )
                return
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                logged = for_log(
                    self.follower.state.governance.retention,
                    self.pseudonym_key,
                    copy.values,
                    copy.extras,
                    copy.count,
                )
            except PayloadError:
                metrics.child(metrics.shadow_dropped, "not_loggable").inc()
                return
            entry = _entry(
                challenger, SHADOW, request_id, arrived, copy, scores, latency_ms, logged
            )
            if not self.log.offer(entry, "shadow"):
                metrics.child(metrics.shadow_dropped, "log_full").inc()
                return
            metrics.shadow_records.inc(copy.count)
            differ = int(np.count_nonzero(scores.predictions != champion.predictions))
            if differ:
                metrics.shadow_disagreements.inc(differ)
            metrics.child(metrics.records, str(challenger.number), SHADOW).inc(copy.count)

        if not self.batcher.submit_background(challenger, copy.values, copy.count, done):
            metrics.child(metrics.shadow_dropped, "queue_full").inc()

    # -- /feedback -------------------------------------------------------------------------

    async def _feedback(self, call: Call) -> Response:
        arrived = datetime.now(UTC)
        state = self.follower.state
        if state.champion is None:
            return self._unavailable(state, call.request_id, "/feedback")
        try:
            body, large = await self._body(call, "/feedback")
        except PayloadError as exc:
            return self._refused(exc, call, "/feedback")
        try:
            assert call.caller is not None
            check = partial(
                check_feedback,
                body,
                model=self.options.model,
                champion=state.champion,
                challenger=state.challenger,
                issued=self.issued,
                may_correct=call.caller.may(CORRECT_LABELS),
            )
            try:  # it may read the log's new files: in the default executor, not the loop
                loop = asyncio.get_running_loop()
                feedback, corrections = await loop.run_in_executor(None, check)
            except PayloadError as exc:
                return self._refused(exc, call, "/feedback")
        finally:
            self._release(large)
        keys = list(zip(feedback.request_ids, feedback.records, strict=True))
        count = len(feedback.labels)
        if not await self.log.admit(count, self.options.log_wait_ms):
            self.issued.release(keys)
            return self._overloaded(call.request_id, "/feedback")
        label_type = state.champion.output_type
        self.log.put(
            FeedbackEntry(
                model=self.options.model,
                time=arrived,
                request_ids=feedback.request_ids,
                records=feedback.records,
                labels=feedback.labels,
                label_type=label_type if label_type in LABEL_KINDS else "string",
                corrections=corrections,
                key_id=call.caller.key_id,
            )
        )
        corrected = sum(corrections)
        self.metrics.feedback.inc(count)
        if corrected:
            self.metrics.corrections.inc(corrected)
        return json_response(
            200, {"request_id": call.request_id, "accepted": count, "corrections": corrected}
        )

    # -- operational endpoints -------------------------------------------------------------

    async def _health(self, _call: Call) -> Response:
        return json_response(200, {"status": "ok"})

    async def _ready(self, call: Call) -> Response:
        state = self.follower.state
        problems = []
        if state.champion is None:
            problems.append(self._not_ready(state))
        if not self.log.alive:
            problems.append("the prediction log writer is not running")
        if problems:
            return json_response(
                503, {"status": "not ready", "reasons": problems, "request_id": call.request_id}
            )
        assert state.champion is not None
        body: dict[str, Any] = {
            "status": "ready",
            "model": state.champion.name,
            "version": state.champion.number,
        }
        if state.problem is not None:
            body["problems"] = [state.problem]
        environment = self.environment.ready_section()
        if environment is not None:  # loaded under the policy's environment.mismatch: warn
            body["environment"] = environment
        return json_response(200, body)

    async def _metrics(self, _call: Call) -> Response:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, self.metrics.exposition)
        other = None if self.large is None else await self.large.metrics()
        if other is not None:
            body = await loop.run_in_executor(None, merged_exposition, body, other)
        return Response(200, body, CONTENT_TYPE.encode())

    async def _version(self, call: Call) -> Response:
        state = self.follower.state
        return json_response(
            200,
            {
                "request_id": call.request_id,
                "model": self.options.model,
                "alias": self.options.alias,
                "champion": _describe(state.champion),
                "challenger": _describe(state.challenger),
                "mode": state.mode,
                "share": state.share,
                "key": state.key,
                "strict": state.strict,
                "problem": state.problem,
                "governance": governance_summary(state.governance, state.champion),
                "gateway": {
                    "govml": __version__,
                    "pid": os.getpid(),
                    "large_process": None if self.large is None else self.large.describe(),
                },
            },
        )

    # -- events ----------------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        """Report a change seen by the alias follower (called from its thread)."""
        state = self.follower.state
        if change.event == "load_failed":
            self.metrics.load_failures.inc()
        elif change.event in ("switch", "serving"):
            self.metrics.child(self.metrics.switches, change.variant).inc()
            logger.info(
                "%s: %s (version %s, was %s)",
                self.options.model,
                change.detail,
                change.version,
                change.previous,
            )
        else:
            logger.info("%s: %s", self.options.model, change.detail)
        self._event(change, state)

    def _event(self, change: Change, state: ServingState) -> None:
        self.log.put_event(
            EventEntry(
                model=self.options.model,
                time=datetime.now(UTC),
                event=change.event,
                alias=self.options.alias,
                variant=change.variant,
                version=change.version,
                previous=change.previous,
                detail=change.detail,
                pid=os.getpid(),
            )
        )

    def _loaded_versions(self) -> list[ModelVersion]:
        state = self.follower.state
        return [d.version for d in (state.champion, state.challenger) if d is not None]

    def _version_labels(self) -> list[dict[str, str]]:
        state = self.follower.state
        out = []
        for variant, deployment in ((CHAMPION, state.champion), (state.mode, state.challenger)):
            if deployment is not None:
                out.append(
                    {
                        "model": deployment.name,
                        "alias": self.options.alias if variant == CHAMPION else "staging",
                        "variant": variant,
                        "version": str(deployment.number),
                        "digest": deployment.version.artifact_digest,
                    }
                )
        return out


def _number(deployment: Deployment | None) -> int | None:
    return None if deployment is None else deployment.number


def _describe(deployment: Deployment | None) -> dict[str, Any] | None:
    if deployment is None:
        return None
    version = deployment.version
    return {
        "version": version.version,
        "ref": version.ref,
        "artifact_digest": version.artifact_digest,
        "flavor": version.flavor,
        "registered_at": version.created_at.isoformat(),
        "loaded_at": datetime.fromtimestamp(deployment.loaded_at, UTC).isoformat(),
        "inputs": [spec.to_dict() for spec in deployment.inputs],
        "classes": deployment.classes,
    }


def _entry(
    deployment: Deployment,
    variant: str,
    request_id: str,
    arrived: datetime,
    validated: Validated,
    scores: Scores,
    latency_ms: float,
    logged: Logged | None = None,
) -> PredictionEntry:
    return PredictionEntry(
        model=deployment.name,
        version=deployment.number,
        variant=variant,
        request_id=request_id,
        time=arrived,
        inputs=deployment.inputs,
        values=validated.values if logged is None else logged.values,
        count=validated.count,
        predictions=scores.predictions,
        output_type=deployment.output_type,
        probabilities=scores.probabilities,
        classes=deployment.classes,
        latency_ms=latency_ms,
        subjects=None if logged is None else logged.subjects,
        text_columns=frozenset() if logged is None else logged.text_columns,
    )


def create_app(options: GatewayOptions, source: RegistrySource | None = None) -> Gateway:
    """Build the gateway for ``options`` (reading the store of the environment by default)."""
    if source is not None and options.large_process:
        raise ConfigurationError(
            "large_process needs a gateway built from the environment (govml serve): the "
            "second process opens the store the environment names"
        )
    if source is None:
        from govml.client import connect
        from govml.serving.source import ClientSource

        source = ClientSource(connect())
    return Gateway(options, source)


def app_from_environment() -> Gateway:
    """Build the gateway from ``GOVML_SERVE_*`` and ``GOVML_*`` variables (uvicorn factory).

    The process is the gateway's own (a ``govml serve`` worker), so the interpreter is also
    told to pass its lock between threads every `SWITCH_INTERVAL` seconds instead of 5 ms:
    while a worker thread decodes or scores a large request, the event loop then waits at
    most that long for the lock each time it answers a small one.
    """
    sys.setswitchinterval(SWITCH_INTERVAL)
    return create_app(GatewayOptions.from_environment())
