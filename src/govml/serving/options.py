"""Settings of one serving gateway, and their round trip through the environment.

Worker processes started by uvicorn build the application from the environment
(``GOVML_SERVE_*`` variables, see :meth:`GatewayOptions.to_environment`), so every option is
a plain value that survives being written as text.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from govml.errors import ConfigurationError

ENV_PREFIX = "GOVML_SERVE_"
MIB = 1024 * 1024
HEADER_TIMEOUT_SECONDS = 10.0
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class GatewayOptions:
    """How a gateway serves one model.

    Attributes
    ----------
    model : str
        Registered model name.
    alias : str
        The alias whose version answers (``production`` by default).
    log_dir : Path
        Root of the prediction log (``model=NAME/version=V/date=D/part-*.parquet``).
    max_body_bytes : int
        Larger request bodies are refused with 413 before they are read.
    poll_seconds : float
        How often the alias and the serving set-up are re-read.
    log_queue_records : int
        Records the prediction log holds in memory before admission waits (backpressure).
    log_wait_ms : int
        How long a request waits for room in the log before a 503 with ``Retry-After``.
    flush_seconds : float
        Longest time a queued record stays in memory before its file is written.
    max_batch_records : int
        Most records scored in one model call when requests are batched together.
    shadow_queue_records : int
        Shadow copies waiting to be scored; beyond it new copies are dropped and counted.
    metrics_auth : bool
        Whether ``GET /metrics`` needs a key with the ``metrics`` scope (open by default).
    body_timeout_seconds : float
        Longest time from a request's headers to the end of its body (slower: 408).
    header_timeout_seconds : float
        Longest time a connection may take to send a request's headers (slower: 408 and
        closed; see :mod:`govml.serving.protocol`).
    max_header_bytes : int
        Largest request headers (larger: 431 and closed).
    work_threads : int
        Threads that decode, check and score large requests away from the event loop; as
        many large requests are read at once.
    feedback_days : int
        Labels are taken for requests answered at most this many days ago.
    feedback_index_entries : int
        Requests and labels of the log indexed in memory to check labels (12 and 8 bytes
        each); beyond it the oldest days are dropped from the index.
    large_process : bool
        Whether large requests are answered by a second, lower-priority gateway process
        (see :mod:`govml.serving.large`); only for a gateway built from the environment
        (``govml serve``), whose store the second process can open.
    large_nice : int
        The second process's nice value (0 to 19; higher is less CPU when both are busy).
    large_restart_seconds : float
        Least time between two starts of the second process: one that ended is started again
        by the next large request after this long (meanwhile the gateway answers them).
    """

    model: str
    alias: str = "production"
    log_dir: Path = Path(".govml/predictions")
    max_body_bytes: int = 8 * MIB
    poll_seconds: float = 2.0
    log_queue_records: int = 100_000
    log_wait_ms: int = 2_000
    flush_seconds: float = 5.0
    max_batch_records: int = 4_096
    shadow_queue_records: int = 10_000
    metrics_auth: bool = False
    body_timeout_seconds: float = 30.0
    header_timeout_seconds: float = HEADER_TIMEOUT_SECONDS
    max_header_bytes: int = MAX_HEADER_BYTES
    work_threads: int = 2
    feedback_days: int = 30
    feedback_index_entries: int = 10_000_000
    large_process: bool = False
    large_nice: int = 10
    large_restart_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigurationError("a gateway needs a model name")
        if not self.alias:
            raise ConfigurationError("a gateway needs an alias to serve")
        positive = {
            "max_body_bytes": self.max_body_bytes,
            "poll_seconds": self.poll_seconds,
            "log_queue_records": self.log_queue_records,
            "flush_seconds": self.flush_seconds,
            "max_batch_records": self.max_batch_records,
            "shadow_queue_records": self.shadow_queue_records,
            "body_timeout_seconds": self.body_timeout_seconds,
            "header_timeout_seconds": self.header_timeout_seconds,
            "max_header_bytes": self.max_header_bytes,
            "work_threads": self.work_threads,
            "feedback_days": self.feedback_days,
            "feedback_index_entries": self.feedback_index_entries,
            "large_restart_seconds": self.large_restart_seconds,
        }
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:  # NaN and infinity compare as no number
                raise ConfigurationError(f"{name} must be positive, got {value}")
        if not 0 <= self.large_nice <= 19:
            raise ConfigurationError(f"large_nice must be 0 to 19, got {self.large_nice}")
        if self.log_wait_ms < 0:
            raise ConfigurationError(f"log_wait_ms must not be negative, got {self.log_wait_ms}")

    def to_environment(self) -> dict[str, str]:
        """Return the ``GOVML_SERVE_*`` variables that :meth:`from_environment` reads back."""
        return {f"{ENV_PREFIX}{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> GatewayOptions:
        """Read the options written by :meth:`to_environment`.

        Raises
        ------
        ConfigurationError
            Naming the variable that is missing or not a number.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"{ENV_PREFIX}{f.name.upper()}"
            if key not in env:
                if f.name == "model":
                    raise ConfigurationError(f"{key} is not set: which model should be served?")
                continue
            raw = env[key]
            default = getattr(_DEFAULTS, f.name)
            if isinstance(default, Path):
                values[f.name] = Path(raw)
                continue
            if isinstance(default, bool):
                if raw not in ("True", "False"):
                    raise ConfigurationError(f"{key}: {raw!r} is not True or False")
                values[f.name] = raw == "True"
                continue
            kind = type(default)
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise ConfigurationError(f"{key}: {raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)  # type: ignore[arg-type]


_DEFAULTS = GatewayOptions(model="-")
