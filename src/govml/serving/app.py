"""The gateway: a plain ASGI application (no framework on the request path).

Endpoints
---------
``POST /predict``
    Score records (shapes in :mod:`govml.serving.payload`). 200 with ``predictions``
    (and ``probabilities`` with their ``classes`` for classifiers), ``warnings`` for values
    outside the training profile; 400 malformed JSON; 413 body too large; 422 invalid
    records (``{"errors": [{"record", "field", "message"}]}``); 503 no version loaded, or
    the prediction log is full (with ``Retry-After``); 500 the model failed.
``POST /feedback``
    Ground-truth labels by request id (see :func:`~govml.serving.payload.feedback_from_json`).
``GET /health``
    200 while the process runs. ``GET /ready``: 200 once a version is loaded and the log
    writer runs, else 503 with the reason.
``GET /metrics``
    Prometheus text format (:mod:`govml.serving.metrics`).
``GET /version``
    The versions answering now and the serving set-up.

Every response carries ``X-Request-ID`` (the client's, when it sent a valid one) and, when
a model answered, ``X-Model-Name``, ``X-Model-Version`` and ``X-Variant``; JSON bodies
repeat ``request_id``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from govml import __version__
from govml.serving.batching import Batcher
from govml.serving.deployment import Deployment, Scores
from govml.serving.follower import CHAMPION, AliasFollower, Change, ServingState
from govml.serving.http import (
    BodyTooLarge,
    Disconnected,
    Receive,
    Response,
    Scope,
    Send,
    error_response,
    json_response,
    jsonable,
    read_body,
)
from govml.serving.http import request_id as request_id_of
from govml.serving.logschema import EventEntry, FeedbackEntry, PredictionEntry
from govml.serving.metrics import CONTENT_TYPE, GatewayMetrics
from govml.serving.options import GatewayOptions
from govml.serving.payload import (
    FieldError,
    PayloadError,
    Records,
    feedback_from_json,
    parse_json,
    records_from_json,
)
from govml.serving.predlog import PredictionLog
from govml.serving.routing import SHADOW, route
from govml.serving.source import RegistrySource
from govml.serving.validation import Validated

logger = logging.getLogger("govml.serving")

RETRY_AFTER_SECONDS = 1

ERR_NOT_READY = "no version of {model} holds '{alias}' (or it is still loading)"
ERR_TOO_LARGE = "request body larger than {limit} bytes"
ERR_OVERLOADED = "the prediction log is full; retry after {seconds} s"
ERR_MODEL = "{ref} failed to score the records: {reason}"
ERR_NOT_FOUND = "no endpoint {path}; see /predict, /feedback, /health, /ready, /metrics, /version"
ERR_METHOD = "{path} does not take {method}; use {allowed}"


def _model_headers(deployment: Deployment, variant: str) -> list[tuple[bytes, bytes]]:
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
        self.follower = AliasFollower(
            source,
            model=options.model,
            alias=options.alias,
            poll_seconds=options.poll_seconds,
            notify=self._changed,
        )
        self.batcher = Batcher(
            max_records=options.max_batch_records,
            max_background=options.shadow_queue_records,
            on_batch=self.metrics.batch.observe,
        )
        self.started = False
        self._routes: dict[str, tuple[str, Callable[..., Awaitable[Response]]]] = {
            "/predict": ("POST", self._predict),
            "/feedback": ("POST", self._feedback),
            "/health": ("GET", self._health),
            "/ready": ("GET", self._ready),
            "/metrics": ("GET", self._metrics),
            "/version": ("GET", self._version),
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
        """Start the log writer, load the served version, start polling and batching."""
        self.log.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.follower.refresh)
        self.batcher.start()
        self.follower.start()
        self.started = True

    async def shutdown(self) -> None:
        """Stop polling, score waiting shadow copies, then write the whole log."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.follower.stop)
        await self.batcher.stop()
        state = self.follower.state
        self._event(
            Change("stop", CHAMPION, _number(state.champion), None, "gateway stopped"), state
        )
        await loop.run_in_executor(None, self.log.close)
        await loop.run_in_executor(None, self.source.close)
        self.started = False

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = request_id_of(scope)
        path = scope["path"]
        route_ = self._routes.get(path)
        endpoint = path if route_ is not None else "other"
        after: list[Callable[[], None]] = []
        if route_ is None:
            response = error_response(
                404, request_id, [FieldError(ERR_NOT_FOUND.format(path=path))]
            )
            self.metrics.error(endpoint, "not_found")
        elif scope["method"] != route_[0]:
            message = ERR_METHOD.format(path=path, method=scope["method"], allowed=route_[0])
            response = error_response(
                405, request_id, [FieldError(message)], [(b"allow", route_[0].encode())]
            )
            self.metrics.error(endpoint, "method_not_allowed")
        else:
            try:
                response = await route_[1](scope, receive, request_id, after)
            except Disconnected:
                return
            except Exception as exc:
                logger.exception("request %s failed", request_id)
                message = f"internal error ({type(exc).__name__}); request id {request_id}"
                response = error_response(500, request_id, [FieldError(message)])
                self.metrics.error(endpoint, "internal")
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"x-request-id", request_id.encode()),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        self.metrics.request(endpoint, response.status, time.perf_counter() - started)
        for task in after:
            task()

    async def _read_json(self, scope: Scope, receive: Receive, endpoint: str) -> Any:
        try:
            body = await read_body(scope, receive, self.options.max_body_bytes)
        except BodyTooLarge:
            self.metrics.error(endpoint, "too_large")
            limit = self.options.max_body_bytes
            raise PayloadError(413, [FieldError(ERR_TOO_LARGE.format(limit=limit))]) from None
        try:
            return parse_json(body)
        except PayloadError:
            self.metrics.error(endpoint, "invalid_json")
            raise

    def _unavailable(self, request_id: str, endpoint: str) -> Response:
        self.metrics.error(endpoint, "unavailable")
        message = ERR_NOT_READY.format(model=self.options.model, alias=self.options.alias)
        retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        return error_response(503, request_id, [FieldError(message)], retry)

    def _overloaded(self, request_id: str, endpoint: str) -> Response:
        self.metrics.error(endpoint, "overloaded")
        message = ERR_OVERLOADED.format(seconds=RETRY_AFTER_SECONDS)
        retry = [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
        return error_response(503, request_id, [FieldError(message)], retry)

    # -- /predict --------------------------------------------------------------------------

    async def _predict(
        self, scope: Scope, receive: Receive, request_id: str, after: list[Callable[[], None]]
    ) -> Response:
        started = time.perf_counter()
        arrived = datetime.now(UTC)
        state = self.follower.state
        if state.champion is None:
            return self._unavailable(request_id, "/predict")
        try:
            records = records_from_json(await self._read_json(scope, receive, "/predict"))
            deployment, variant = route(state, records, request_id)
            extras = () if state.key is None else (state.key,)
            validated = deployment.validator.validate(records, extras=extras)
        except PayloadError as exc:
            if exc.status == 422:
                self.metrics.error("/predict", "invalid_input")
            return error_response(exc.status, request_id, exc.errors)
        count = validated.count
        if not await self.log.admit(count, self.options.log_wait_ms):
            return self._overloaded(request_id, "/predict")
        try:
            scores = await self.batcher.score(deployment, validated.values, count)
        except Exception as exc:
            self.log.release(count)
            self.metrics.error("/predict", "model_error")
            logger.warning("request %s: %s failed: %s", request_id, deployment.version.ref, exc)
            message = ERR_MODEL.format(ref=deployment.version.ref, reason=exc)
            return error_response(
                500, request_id, [FieldError(message)], _model_headers(deployment, variant)
            )
        latency_ms = (time.perf_counter() - started) * 1000
        self.log.put(
            _entry(deployment, variant, request_id, arrived, validated, scores, latency_ms)
        )
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
        if validated.warnings:
            body["warnings"] = [warning.to_dict() for warning in validated.warnings[:100]]
        if state.mode == SHADOW and state.challenger is not None:
            shadow = state.challenger
            after.append(
                lambda: self._shadow(shadow, records, request_id, arrived, validated, scores)
            )
        return json_response(200, body, _model_headers(deployment, variant))

    def _shadow(
        self,
        challenger: Deployment,
        records: Records,
        request_id: str,
        arrived: datetime,
        validated: Validated,
        champion: Scores,
    ) -> None:
        """Queue a copy of an answered request for the challenger (best effort)."""
        metrics = self.metrics
        try:
            copy = challenger.validator.validate(records)
        except PayloadError:
            metrics.child(metrics.shadow_dropped, "invalid_input").inc()
            return
        started = time.perf_counter()

        def done(scores: Scores | None, error: BaseException | None) -> None:
            if scores is None:
                metrics.child(metrics.shadow_dropped, "model_error").inc()
                logger.warning(
                    "shadow %s failed on %s: %s", challenger.version.ref, request_id, error
                )
                return
            latency_ms = (time.perf_counter() - started) * 1000
            entry = _entry(challenger, SHADOW, request_id, arrived, copy, scores, latency_ms)
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

    async def _feedback(
        self, scope: Scope, receive: Receive, request_id: str, after: list[Callable[[], None]]
    ) -> Response:
        arrived = datetime.now(UTC)
        champion = self.follower.state.champion
        label_type = _output_type(champion) if champion is not None else None
        try:
            feedback = feedback_from_json(
                await self._read_json(scope, receive, "/feedback"), label_type
            )
        except PayloadError as exc:
            if exc.status == 422:
                self.metrics.error("/feedback", "invalid_input")
            return error_response(exc.status, request_id, exc.errors)
        count = len(feedback.labels)
        if not await self.log.admit(count, self.options.log_wait_ms):
            return self._overloaded(request_id, "/feedback")
        self.log.put(
            FeedbackEntry(
                model=self.options.model,
                time=arrived,
                request_ids=feedback.request_ids,
                records=feedback.records,
                labels=feedback.labels,
                label_type=label_type if label_type in _LABEL_KINDS else "string",
            )
        )
        self.metrics.feedback.inc(count)
        return json_response(200, {"request_id": request_id, "accepted": count})

    # -- operational endpoints -------------------------------------------------------------

    async def _health(self, *_: Any) -> Response:
        return json_response(200, {"status": "ok"})

    async def _ready(self, _scope: Scope, _receive: Receive, request_id: str, *_: Any) -> Response:
        state = self.follower.state
        problems = []
        if state.champion is None:
            problems.append(
                ERR_NOT_READY.format(model=self.options.model, alias=self.options.alias)
            )
        if not self.log.alive:
            problems.append("the prediction log writer is not running")
        if problems:
            return json_response(
                503, {"status": "not ready", "reasons": problems, "request_id": request_id}
            )
        assert state.champion is not None
        return json_response(
            200, {"status": "ready", "model": state.champion.name, "version": state.champion.number}
        )

    async def _metrics(self, *_: Any) -> Response:
        body = await asyncio.get_running_loop().run_in_executor(None, self.metrics.exposition)
        return Response(200, body, CONTENT_TYPE.encode())

    async def _version(
        self, _scope: Scope, _receive: Receive, request_id: str, *_: Any
    ) -> Response:
        state = self.follower.state
        return json_response(
            200,
            {
                "request_id": request_id,
                "model": self.options.model,
                "alias": self.options.alias,
                "champion": _describe(state.champion),
                "challenger": _describe(state.challenger),
                "mode": state.mode,
                "share": state.share,
                "key": state.key,
                "gateway": {"govml": __version__, "pid": os.getpid()},
            },
        )

    # -- events ----------------------------------------------------------------------------

    def _changed(self, change: Change) -> None:
        """Report a change seen by the alias follower (called from its thread)."""
        state = self.follower.state
        if change.event == "load_failed":
            self.metrics.load_failures.inc()
            logger.error(
                "%s: version %s failed to load: %s",
                self.options.model,
                change.version,
                change.detail,
            )
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


_LABEL_KINDS = frozenset({"int64", "float64", "bool", "string", "category"})


def _output_type(deployment: Deployment) -> str | None:
    outputs = (deployment.version.signature or {}).get("outputs") or []
    return str(outputs[0]["type"]) if outputs else None


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
) -> PredictionEntry:
    return PredictionEntry(
        model=deployment.name,
        version=deployment.number,
        variant=variant,
        request_id=request_id,
        time=arrived,
        inputs=deployment.inputs,
        values=validated.values,
        count=validated.count,
        predictions=scores.predictions,
        output_type=_output_type(deployment),
        probabilities=scores.probabilities,
        classes=deployment.classes,
        latency_ms=latency_ms,
    )


def create_app(options: GatewayOptions, source: RegistrySource | None = None) -> Gateway:
    """Build the gateway for ``options`` (reading the store of the environment by default)."""
    if source is None:
        from govml.client import connect
        from govml.serving.source import ClientSource

        source = ClientSource(connect())
    return Gateway(options, source)


def app_from_environment() -> Gateway:
    """Build the gateway from ``GOVML_SERVE_*`` and ``GOVML_*`` variables (uvicorn factory)."""
    return create_app(GatewayOptions.from_environment())
