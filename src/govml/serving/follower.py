"""Following alias changes live: poll the store, load new versions aside, swap atomically.

A background thread reads the served alias, ``staging``, the serving set-up and the gateway
keys every ``poll_seconds`` (the keys are replaced whole at each poll, so a revoked key is
refused from the next one). When a version changes it is loaded and checked in that thread while the
current one keeps answering; then the gateway's `ServingState` is replaced in one
assignment. A request holds the state it started with until it is answered, so none fails
during a switch. A version that cannot be loaded is reported and the current one stays.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from govml.errors import IntegrityError
from govml.serving.deployment import Deployment, load_deployment
from govml.serving.governance import Governance
from govml.serving.keys import KeyRing
from govml.serving.source import STAGING, Challenger, RegistrySource

logger = logging.getLogger("govml.serving")

CHAMPION = "champion"
CHALLENGER = "challenger"
RETRY_FAILED_POLLS = 10
ERR_DIGEST = "the artifact of {ref} does not match its digest {digest}: it is not served"
ERR_LOAD = "{ref} could not be loaded ({error})"


@dataclass(frozen=True)
class ServingState:
    """What answers now: the alias holder, the challenger with its mode, and the policy.

    ``problem`` says why the version holding the alias is not the one answering (it failed
    to load: its artifact no longer matches its digest, say) or, when no version holds it,
    that the model was retired, when, by whom and why; ``strict`` whether the policy
    in force refuses values outside the training profile.
    """

    alias: str
    champion: Deployment | None = None
    challenger: Deployment | None = None
    mode: str = "off"
    share: float | None = None
    key: str | None = None
    problem: str | None = None
    strict: bool = False
    governance: Governance = field(default_factory=Governance)

    @property
    def ready(self) -> bool:
        """Whether a version holds the alias and is loaded."""
        return self.champion is not None


@dataclass(frozen=True)
class Change:
    """One thing that changed at a poll, for the server log, the metrics and the event log."""

    event: str  # start, switch, serving, load_failed, unavailable
    variant: str
    version: int | None
    previous: int | None
    detail: str


class AliasFollower:
    """Keeps a `ServingState` in step with the registry.

    Parameters
    ----------
    source : RegistrySource
        The registry reads.
    model : str
        The served model.
    alias : str
        The served alias.
    poll_seconds : float
        Time between polls.
    notify : callable
        Called with each `Change`, from the polling thread.
    """

    def __init__(
        self,
        source: RegistrySource,
        *,
        model: str,
        alias: str,
        poll_seconds: float,
        notify: Callable[[Change], None],
    ) -> None:
        self.source = source
        self.model = model
        self.alias = alias
        self.poll_seconds = poll_seconds
        self.notify = notify
        self.state = ServingState(alias=alias)
        self.keys = KeyRing(model)
        self._failed: dict[int, int] = {}  # version -> polls left before retrying
        self._problems: dict[int, str] = {}  # version -> why it could not be loaded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0

    # -- one poll --------------------------------------------------------------------------

    def refresh(self) -> ServingState:
        """Poll once; load what changed; swap the state and the keys; return the state."""
        self.polls += 1
        self.keys = KeyRing(self.model, self.source.gateway_keys())
        aliases = self.source.aliases(self.model)
        setup = self.source.challenger(self.model)
        strict = self.source.strict(self.model)
        read_governance = getattr(self.source, "governance", None)
        governance = Governance() if read_governance is None else read_governance(self.model)
        current = self.state
        champion_number = aliases.get(self.alias)
        champion = self._deployment(champion_number, current, CHAMPION)
        challenger_number = _challenger_number(aliases, setup, champion_number, self.alias)
        challenger = self._deployment(challenger_number, current, CHALLENGER)
        problem = None
        if champion_number is None:
            problem = self._retired()
        elif champion is None:
            problem = self._problems.get(champion_number)
            champion = current.champion  # the new version failed to load: keep answering
        mode = setup.mode if challenger is not None else "off"
        state = ServingState(
            alias=self.alias,
            champion=champion,
            challenger=challenger,
            mode=mode,
            share=setup.share if mode == "canary" else None,
            key=setup.key if mode == "canary" else None,
            problem=problem,
            strict=strict,
            governance=governance,
        )
        if _signature(state) != _signature(current):
            self.state = state
            self._report(current, state)
        return self.state

    def _retired(self) -> str | None:
        """Say that the model was retired (when, by whom, why), or None when it was not."""
        read = getattr(self.source, "retirement", None)
        found = None if read is None else read(self.model)
        if found is None:
            return None
        return retired_problem(self.model, found)

    def _deployment(
        self, number: int | None, current: ServingState, variant: str
    ) -> Deployment | None:
        if number is None:
            return None
        for loaded in (current.champion, current.challenger):
            if loaded is not None and loaded.number == number:
                return loaded
        wait = self._failed.get(number)
        if wait is not None and wait > 0:
            self._failed[number] = wait - 1
            return None
        digest = None
        try:
            version = self.source.version(self.model, number)
            digest = version.artifact_digest
            model = self.source.load(self.model, number)
            deployment = load_deployment(version, model, self.source.training_profile(version))
        except Exception as exc:
            self._failed[number] = RETRY_FAILED_POLLS
            if isinstance(exc, IntegrityError) and digest is not None:
                detail = ERR_DIGEST.format(ref=f"{self.model}@{number}", digest=digest)
            else:
                detail = ERR_LOAD.format(ref=f"{self.model}@{number}", error=type(exc).__name__)
                detail += f": {exc}"
            self._problems[number] = detail
            logger.error("cannot load %s@%d: %s", self.model, number, detail, exc_info=exc)
            self.notify(Change("load_failed", variant, number, None, detail))
            return None
        self._failed.pop(number, None)
        self._problems.pop(number, None)
        return deployment

    def _report(self, before: ServingState, after: ServingState) -> None:
        old, new = _number(before.champion), _number(after.champion)
        if old != new:
            if new is None:
                detail = after.problem or f"no version holds {self.alias}"
                self.notify(Change("unavailable", CHAMPION, None, old, detail))
            else:
                event = "start" if self.polls == 1 else "switch"
                detail = f"{self.model}@{new} answers for {self.alias}"
                self.notify(Change(event, CHAMPION, new, old, detail))
        if before.strict != after.strict:
            detail = "strict serving policy: values outside the training profile are refused"
            if not after.strict:
                detail = "values outside the training profile are answered with warnings"
            self.notify(Change("policy", CHAMPION, new, new, detail))
        if before.governance.suspended != after.governance.suspended:
            held = after.governance.suspended
            detail = "resumed" if held is None else f"suspended by {held.by}: {held.reason}"
            self.notify(Change("suspend" if held else "resume", CHAMPION, new, new, detail))
        elif before.governance != after.governance:
            detail = "the policy's reason codes, oversight or retention changed"
            self.notify(Change("policy", CHAMPION, new, new, detail))
        setup_before = (_number(before.challenger), before.mode, before.share, before.key)
        setup_after = (_number(after.challenger), after.mode, after.share, after.key)
        if setup_before != setup_after:
            version = _number(after.challenger)
            if after.mode == "canary":
                detail = f"canary share {after.share} key {after.key or 'request id'}"
            elif after.mode == "shadow":
                detail = f"{self.model}@{version} in shadow"
            else:
                detail = "no challenger"
            self.notify(Change("serving", after.mode, version, _number(before.challenger), detail))

    # -- the polling thread ----------------------------------------------------------------

    def start(self) -> None:
        """Poll in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="govml-alias-poll", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # the store may be briefly unreachable: keep serving, retry
                logger.exception("polling the registry for %s failed", self.model)

    def stop(self) -> None:
        """Stop polling (waits for a poll in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def retired_problem(model: str, retired: Mapping[str, Any]) -> str:
    """Return what the gateway answers for a retired model: when, by whom, why, the ticket."""
    ticket = f" (ticket {retired['ticket']})" if retired.get("ticket") else ""
    return (
        f"model {model} is retired: retired on {str(retired['retired_at'])[:10]} by "
        f"{retired['retired_by']}{ticket}, reason: {retired['reason']}"
    )


def _challenger_number(
    aliases: dict[str, int], setup: Challenger, champion: int | None, alias: str
) -> int | None:
    if setup.mode == "off" or alias == STAGING:
        return None
    staging = aliases.get(STAGING)
    if staging is None or staging == champion:
        return None
    return staging


def _number(deployment: Deployment | None) -> int | None:
    return None if deployment is None else deployment.number


def _signature(state: ServingState) -> tuple[object, ...]:
    return (
        _number(state.champion),
        _number(state.challenger),
        state.mode,
        state.share,
        state.key,
        state.problem,
        state.strict,
        state.governance,
    )
