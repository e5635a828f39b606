"""Evaluate a model version (or predictions made elsewhere) against a policy, and store it.

`EvaluationService.evaluate` orchestrates: it reads the data once, checks that every column
the policy and the model need is there (naming all missing ones at once), runs the data
section on the data as read, scans the artifact's pickle stream before anything loads it,
gathers the predictions (:mod:`govml.evaluation.inputs`; none when a data check failed or
the model cannot predict on the data, and the checks that read them say so), runs the
other sections (:mod:`govml.evaluation.runners`), decides, and stores the result even when
the data was bad: one ``evaluations`` row
holding the canonical JSON document, its evidence artifacts (fairness statistics, SHAP
importance, drift of the data against the training profile, SBOM) in the artifact store,
and one ``evaluation.recorded`` ledger entry with the document's digest, all in one
transaction. `verify_evaluation_records` replays those entries for ``govml audit verify``.

The champion is the version holding the ``production`` alias. Without one, comparisons
with it pass with a note saying so (a first version has nothing to be compared with).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

import govml
from govml.checks import CheckResult, Explanation, scan_artifact
from govml.checks._columns import require_columns
from govml.datasets import fingerprint, read_table
from govml.domain.lifecycle import Permission
from govml.domain.records import Model, ModelVersion, VersionRef
from govml.errors import InputError, PolicyError, UnsafeArtifactError, ValidationError
from govml.evaluation.document import SCHEMA, Evaluation, Gate, overall_status, summary
from govml.evaluation.engine_data import DEFAULT_SAMPLE_ROWS, EngineData, open_engine_data
from govml.evaluation.inputs import (
    NO_MODEL,
    NOT_RUN_TARGET,
    REFUSED,
    CannotPredict,
    EvaluationInputs,
    document_inputs,
    feature_frame,
    model_input_check,
    model_inputs,
    needed_columns,
    sensitive_columns,
    signature_inputs,
    stats_lookup,
    target_check,
)
from govml.evaluation.model_checks import NO_PRODUCTION, SELF_PRODUCTION
from govml.evaluation.performance import NO_CHAMPION, SAME_CHAMPION, Champion
from govml.evaluation.runners import (
    DRIFT,
    PREDICTING,
    READING,
    RUNNERS,
    SCANNING,
    STORING,
    EvaluationRun,
    Finding,
    SectionOutput,
)
from govml.flavors.base import LoadedModel
from govml.ledger.canonical import canonical_json
from govml.metrics import data_drift
from govml.policy import LoadedPolicy, Policy, load_policy, parse_policy
from govml.policy.loader import policy_problems
from govml.policy.vocabulary import TIERS
from govml.services.access import authorize, precheck
from govml.services.context import ServiceContext
from govml.services.evaluation_replay import RECORDED
from govml.services.evaluation_replay import document_digest as _digest
from govml.services.registry import RegistryService, version_subject
from govml.store import evaluation_records as rows
from govml.store import records
from govml.store.ledger import NewEntry, append

PRODUCTION = "production"
DEFAULT_N_BOOT = 1000
LABEL_MAX = 200

ERR_NO_SUBJECT = (
    "give a model version (NAME@VERSION) to evaluate, or --prediction-column / "
    "--score-column with --label to audit predictions made elsewhere"
)
ERR_NO_LABEL = "predictions made elsewhere need a --label naming what made them"
ERR_LABEL_WITH_VERSION = "--label names predictions made elsewhere; {ref} is a registered version"
ERR_EMPTY = "the data {source} has no rows"
ERR_TIER = "policy {policy!r} governs the {tiers} tier(s); {model} is in the {tier!r} tier"
ERR_NO_POLICY = "no policy is in force for the {tier!r} tier of {model}"
ERR_NO_POLICY_EXTERNAL = "predictions made elsewhere are evaluated against a policy file (--policy)"

Progress = Callable[[str], None]


class EvaluationService:
    """Run, store, read and verify evaluations."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.registry = RegistryService(ctx)

    # -- run ---------------------------------------------------------------------------------

    def evaluate(
        self,
        ref: str | VersionRef | None = None,
        *,
        data: Any,
        target: str,
        policy: LoadedPolicy | str | PathLike[str] | None = None,
        training_data: Any = None,
        sensitive: Sequence[str] | None = None,
        prediction_column: str | None = None,
        score_column: str | None = None,
        pos_label: Any = None,
        label: str | None = None,
        n_boot: int = DEFAULT_N_BOOT,
        random_state: int = 0,
        progress: Progress | None = None,
        engine: str | None = None,
        sample_rows: int = DEFAULT_SAMPLE_ROWS,
    ) -> Evaluation:
        """Evaluate a version, or predictions made elsewhere, against a policy; store it.

        Parameters
        ----------
        ref
            ``NAME@VERSION`` (or ``NAME@alias``) of a registered version; None to audit the
            predictions in ``prediction_column`` / ``score_column`` under ``label``.
        data
            The evaluation data: a CSV or Parquet path, or a DataFrame / Arrow table.
        target
            The column with the actual outcomes.
        policy
            A policy file (or a validated policy); by default the policy in force for the
            model's risk tier.
        training_data
            The training data (a path, DataFrame or Arrow table), for the policy's
            ``baseline`` and ``training_data`` sections; its fingerprint is recorded.
        sensitive
            Sensitive features; by default the policy's ``fairness.sensitive``.
        prediction_column, score_column
            Columns of predicted labels / positive-class scores made elsewhere; used
            instead of the model's own predictions.
        pos_label
            The positive label (what recall, precision and scores are about); by default a
            classifier's second class, else 1 or the larger of two numbers. The favourable
            outcome of fairness rules is the policy's ``fairness.favourable_label``.
        label
            Names predictions made elsewhere (required without ``ref``).
        n_boot
            Bootstrap replicates for fairness rules with ``confidence`` and no ``n_boot``.
        random_state
            Seed of the bootstrap and the explainer's sampling.
        progress
            Called with the name of each stage as it starts.
        engine
            ``spark``: ``data`` is a Parquet / Delta path or a Spark DataFrame whose
            statistics Spark computes where the data is; the checks that need rows run on
            a sample of ``sample_rows`` rows (:mod:`govml.evaluation.engine_data`). None:
            the data is read into memory.
        sample_rows
            With ``engine``, the rows read into memory for the checks that need rows.

        Returns
        -------
        Evaluation
            The stored evaluation; ``status`` is ``fail`` when a rule failed.

        Raises
        ------
        InputError
            On usage errors: missing columns (all named), empty data, a policy metric that
            does not apply to the model, a wrong label, no policy in force. Bad content
            (missing values, text in a numeric column, data the model cannot predict on)
            is not an error: it fails checks of the stored evaluation.
        IntegrityError
            When the artifact is corrupted (its digest differs).
        """
        step = progress or (lambda _stage: None)
        started_at = self.ctx.clock()
        clock = _Clock()
        if ref is None and prediction_column is None and score_column is None:
            raise InputError(ERR_NO_SUBJECT)
        if ref is None and not label:
            raise InputError(ERR_NO_LABEL)
        if ref is not None and label:
            raise InputError(ERR_LABEL_WITH_VERSION.format(ref=ref))
        if label is not None and (len(label) > LABEL_MAX or not label.strip()):
            raise InputError(f"--label must be 1 to {LABEL_MAX} characters")
        precheck(self.ctx, Permission.REGISTER)

        with clock("setup"):
            model, version = (None, None) if ref is None else self._version(ref)
            loaded_policy, policy_source = self._policy(policy, model)
            rules = loaded_policy.policy
            tier = model.risk_tier.value if model is not None else _strictest(rules.tiers)
            subject = str(label) if version is None else f"{version.model}@{version.version}"
            sensitive_cols = sensitive_columns(sensitive, rules)

        step(READING)
        with clock("data"):
            lake = None
            if engine is not None:
                lake = open_engine_data(engine, data, sample_rows=sample_rows, seed=random_state)
            table = read_table(data if lake is None else lake.sample)
            source = str(data) if isinstance(data, str | PathLike) else None
            if table.num_rows == 0:
                raise ValidationError(ERR_EMPTY.format(source=source or "given"))
            needs_model = version is not None and prediction_column is None
            inputs_needed = signature_inputs(version) if version is not None else []
            needed = needed_columns(
                rules,
                target=target,
                sensitive=sensitive_cols,
                prediction_column=prediction_column,
                score_column=score_column,
                model_inputs=inputs_needed if needs_model or rules.explainability else [],
            )
            require_columns(table, needed, needed_by=needed)
            data_fp = fingerprint(table, label=source)
            training = self._training_fingerprint(version)
            training_table = None if training_data is None else read_table(training_data)

        run = EvaluationRun(
            policy=rules,
            policy_dir=_policy_dir(loaded_policy),
            tier=tier,
            subject=subject,
            table=table,
            training_schema=None if training is None else training.get("schema"),
            training_table=training_table,
            training_profile=None if training is None else training.get("profile"),
            model=model,
            version=version,
            loaded=None,
            refused=False,
            inputs=None,
            n_boot=n_boot,
            random_state=random_state,
            lookups=_StoreLookups(service=self, model=model, version=version, rules=rules),
        )
        active = [runner for runner in RUNNERS if runner.applies(rules)]
        gates: list[Gate] = []
        evidence: dict[str, Any] = {}
        notes: list[str] = []
        facts: dict[str, Any] = {}
        blocked: str | None = None
        if lake is not None:
            active = lake.runners(active)
            notes.extend(lake.notes())

        def record(output: SectionOutput) -> None:
            gates.extend(_gate(finding, rules, tier) for finding in output.findings)
            evidence.update(output.evidence)
            notes.extend(output.notes)
            facts.update(output.facts)

        # 1. The data section, on the data as read: nothing has touched it yet.
        for runner in active:
            if runner.on_raw_data:
                step(runner.stage)
                with clock(runner.clock):
                    output = runner.run(run)
                record(output)
                blocked = blocked or output.blocks

        # Every metric needs an outcome per row, whatever the policy's expectations say.
        if blocked:
            missing_target = None
        elif lake is not None:
            missing_target = lake.target_check(target)
        else:
            missing_target = target_check(table, target)
        if missing_target is not None:
            gates.append(_gate(Finding(result=missing_target), rules, tier))
            blocked = NOT_RUN_TARGET.format(target=target)

        # 2. The artifact is scanned before anything loads it, then the model predicts,
        # unless a data check failed. A model that cannot predict on the data fails the
        # evaluation (model_input) and blocks the checks that read predictions.
        if version is not None:
            step(SCANNING)
            with clock("security"):
                scan, loaded, refused = self._scan_and_load(version, rules)
            gates.append(_gate(Finding(result=scan), rules, tier))
            run = replace(run, loaded=loaded, refused=refused)
        step(PREDICTING)
        with clock("predict"):
            frame = table.to_pandas()
            gather = functools.partial(
                model_inputs,
                frame,
                table,
                feature_frame(frame, version, target, prediction_column, score_column),
                model=run.loaded,
                refused=run.refused,
                target=target,
                prediction_column=prediction_column,
                score_column=score_column,
                pos_label=pos_label,
                sensitive=sensitive_cols,
            )
            try:
                inputs = gather(blocked=blocked)
            except CannotPredict as failure:
                check = model_input_check(failure, table, version, subject)
                gates.append(_gate(Finding(result=check), rules, tier))
                inputs = gather(blocked=failure.message)
            run = replace(run, inputs=inputs)
            if inputs.blocked is None:
                problems = [problem for runner in active for problem in runner.problems(run)]
                if problems:
                    raise policy_problems(loaded_policy, problems)
            if lake is not None:
                run = lake.apply(
                    run, prediction_column=prediction_column, score_column=score_column
                )

        # 3. The other sections; those that read predictions say why when they are blocked.
        for runner in active:
            if not runner.on_raw_data:
                step(runner.stage)
                with clock(runner.clock):
                    record(runner.run(run))

        step(DRIFT)
        with clock("drift"):
            drift = self._drift(
                training, table, target, prediction_column, score_column, notes, lake
            )
            if drift is not None:
                evidence["drift"] = drift
            if lake is not None:
                lake.close()

        step(STORING)
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "subject": {
                "model": None if version is None else version.model,
                "version": None if version is None else version.version,
                "label": label,
                "risk_tier": tier,
            },
            "policy": {
                "name": loaded_policy.name,
                "digest": loaded_policy.digest,
                "source": policy_source,
                "tiers": list(rules.tiers),
            },
            "data": {
                **(
                    {
                        "digest": data_fp.digest,
                        "rows": data_fp.row_count,
                        "columns": len(data_fp.schema),
                        "source": source,
                    }
                    if lake is None
                    else lake.document(len(data_fp.schema))
                ),
                **_training_data(training_data, training_table),
            },
            "inputs": {
                **document_inputs(
                    inputs,
                    prediction_column=prediction_column,
                    score_column=score_column,
                    n_boot=n_boot,
                    random_state=random_state,
                ),
                "favourable_label": facts.get("favourable_label"),
                "favourable_label_source": facts.get("favourable_label_source"),
            },
            "champion": facts.get("champion"),
            "status": overall_status(g.outcome for g in gates),
            "summary": summary(gates),
            "checks": _named(gates),
            "notes": notes,
            "started_at": started_at.isoformat().replace("+00:00", "Z"),
            "actor": self.ctx.actor,
            "govml_version": govml.__version__,
        }
        return self._store(document, evidence, clock, version)

    # -- read --------------------------------------------------------------------------------

    def get(self, evaluation_id: int) -> Evaluation:
        """Return stored evaluation ``evaluation_id``.

        Raises
        ------
        NotFoundError
            When there is no such evaluation.
        """
        with self.ctx.store.read() as conn:
            row = rows.load(conn, evaluation_id)
        return _evaluation(row)

    def query(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Evaluation]:
        """Return stored evaluations, newest first."""
        with self.ctx.store.read() as conn:
            mid = None if model is None else records.model_id(conn, model)
            found = rows.select(conn, model_id=mid, version=version, status=status, limit=limit)
        return [_evaluation(row) for row in found]

    def evidence(self, evaluation: Evaluation, name: str) -> bytes | None:
        """Return evidence artifact ``name`` of an evaluation, or None when it has none."""
        digest = evaluation.evidence_digest(name)
        return None if digest is None else self.ctx.artifacts.get_bytes(digest)

    # -- helpers -----------------------------------------------------------------------------

    def _card(self, name: str) -> dict[str, Any]:
        """Return the model's card fields at their latest revision (empty when none)."""
        from govml.services.documents import DocumentService  # it imports this module

        return DocumentService(self.ctx).card_fields(name).fields

    def _version(self, ref: str | VersionRef) -> tuple[Model, ModelVersion]:
        version = self.registry.get_version(ref)
        return self.registry.get_model(version.model), version

    def _policy(
        self, policy: LoadedPolicy | str | PathLike[str] | None, model: Model | None
    ) -> tuple[LoadedPolicy, str]:
        if policy is not None:
            loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
            if model is not None and model.risk_tier.value not in loaded.policy.tiers:
                raise PolicyError(
                    ERR_TIER.format(
                        policy=loaded.name,
                        tiers=", ".join(loaded.policy.tiers),
                        model=model.name,
                        tier=model.risk_tier.value,
                    ),
                    hint="use the policy that governs the model's tier, or change the tier",
                )
            return loaded, "file"
        if model is None:
            raise InputError(ERR_NO_POLICY_EXTERNAL)
        from govml.services.policy import PolicyService

        stored = PolicyService(self.ctx).for_tier(model.risk_tier.value)
        if stored is None:
            raise PolicyError(
                ERR_NO_POLICY.format(tier=model.risk_tier.value, model=model.name),
                hint="give --policy FILE, or put one in force with `govml policy apply`",
            )
        return parse_policy(stored.source, source=stored.source_name), "stored"

    def _scan_and_load(
        self, version: ModelVersion, rules: Policy
    ) -> tuple[CheckResult, LoadedModel | None, bool]:
        data = self.ctx.artifacts.get_bytes(version.artifact_digest)
        mode = rules.security.serialization if rules.security is not None else "safe_only"
        started = time.perf_counter()
        trusted = self.ctx.trusted_types  # the operator's; never what the version records
        scan = scan_artifact(version.flavor, data, serialization=mode, trusted=trusted)
        scan = scan.with_duration(time.perf_counter() - started)
        if scan.status == "fail":
            return scan, None, True
        try:
            # Custom code loads only under the policy in force, whatever policy evaluates.
            flavor = self.registry.loading_flavor(version.flavor, version.model, trusted=trusted)
        except UnsafeArtifactError as refused:
            return replace(scan, status="fail", message=refused.message), None, True
        loaded = flavor.load(data, version.flavor_options)
        return scan, loaded, False

    def _training_fingerprint(self, version: ModelVersion | None) -> dict[str, Any] | None:
        if version is None:
            return None
        for ref in version.datasets:
            if ref.role == "train":
                return self.registry.dataset_fingerprint(ref.digest)
        return None

    def _champion(
        self,
        model: Model | None,
        version: ModelVersion | None,
        inputs: EvaluationInputs,
        rules: Policy,
    ) -> Champion:
        if model is None or version is None:
            return Champion(subject="", stats_for=None, reason=NO_MODEL)
        holder = model.aliases.get(PRODUCTION)
        if holder is None:
            return Champion(subject="", stats_for=None, reason=NO_CHAMPION.format(model=model.name))
        subject = f"{model.name}@{holder}"
        if holder == version.version:
            reason = SAME_CHAMPION.format(subject=subject)
            return Champion(subject=subject, stats_for=None, reason=reason)
        if not any(rule.vs_champion for rule in rules.performance):
            return Champion(subject=subject, stats_for=None, reason="not needed")
        theirs = self.registry.get_version(f"{model.name}@{holder}")
        _scan, loaded, refused = self._scan_and_load(theirs, rules)
        if refused or loaded is None:
            return Champion(subject=subject, stats_for=None, reason=f"{subject}: {REFUSED}")
        try:
            champion_inputs = model_inputs(
                inputs.frame,
                inputs.table,
                feature_frame(inputs.frame, theirs, inputs.target, None, None),
                model=loaded,
                refused=False,
                target=inputs.target,
                prediction_column=None,
                score_column=None,
                pos_label=inputs.pos_label,
                sensitive=inputs.sensitive,
            )
        except CannotPredict as failure:
            return Champion(subject=subject, stats_for=None, reason=f"{subject}: {failure}")
        return Champion(subject=subject, stats_for=stats_lookup(champion_inputs))

    def _production_importance(
        self,
        model: Model | None,
        version: ModelVersion | None,
        inputs: EvaluationInputs,
        rules: Policy,
    ) -> tuple[dict[str, float] | None, str | None]:
        if model is None or version is None:
            return None, NO_MODEL
        holder = model.aliases.get(PRODUCTION)
        if holder is None:
            return None, NO_PRODUCTION.format(model=model.name)
        subject = f"{model.name}@{holder}"
        if holder == version.version:
            return None, SELF_PRODUCTION.format(subject=subject)
        # The production version's importance from its newest evaluation, when it has one;
        # otherwise explain it now on the same rows.
        for stored in self.query(model=model.name, version=holder, limit=20):
            blob = self.evidence(stored, "explanation")
            if blob is not None:
                return Explanation.from_dict(json.loads(blob)).importance, None
        theirs = self.registry.get_version(subject)
        _scan, loaded, refused = self._scan_and_load(theirs, rules)
        if refused or loaded is None:
            return None, f"{subject}: {REFUSED}"
        from govml.checks import explain

        section = rules.explainability
        assert section is not None
        explained = explain(
            loaded, inputs.features, explainer=section.explainer, sample_rows=section.sample_rows
        )
        return explained.importance, None

    def _drift(
        self,
        training: Mapping[str, Any] | None,
        table: Any,
        target: str,
        prediction_column: str | None,
        score_column: str | None,
        notes: list[str],
        lake: EngineData | None = None,
    ) -> dict[str, Any] | None:
        if training is None:
            notes.append("no training profile is recorded, so no drift against training data")
            return None
        skip = {target, prediction_column, score_column}
        reference = training["profile"]
        names = [c["name"] for c in training["schema"]]
        columns = [n for n in names if n not in skip and n in table.column_names]
        if not columns:
            notes.append("the data shares no feature column with the training data")
            return None
        try:
            current = table if lake is None else lake.current_statistics(reference, columns)
            report = data_drift(reference, current, columns=columns)
        except InputError as exc:
            notes.append(f"drift against the training data was not computed: {exc}")
            return None
        return report.to_dict()

    def _store(
        self,
        document: dict[str, Any],
        evidence: Mapping[str, Any],
        clock: _Clock,
        version: ModelVersion | None,
    ) -> Evaluation:
        with clock("store"):
            stored: list[dict[str, Any]] = []
            for name, content in evidence.items():
                blob = json.dumps(content, sort_keys=True, allow_nan=False).encode("utf-8")
                digest = self.ctx.artifacts.put_bytes(blob)
                stored.append(
                    {
                        "name": name,
                        "digest": digest,
                        "media_type": "application/json",
                        "size": len(blob),
                    }
                )
            document["evidence"] = stored
        timings = clock.timings
        document["timings"] = timings
        document["duration_s"] = timings["total"]
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            number = rows.next_id(conn)
            document["id"] = number
            text = canonical_json(document).decode("utf-8")
            digest = _digest(text)
            model_id = None if version is None else records.model_id(conn, version.model)
            rows.insert(
                conn,
                id=number,
                model_id=model_id,
                version=None if version is None else version.version,
                label=document["subject"]["label"],
                status=document["status"],
                policy_name=document["policy"]["name"],
                policy_digest=document["policy"]["digest"],
                data_digest=document["data"]["digest"],
                document=text,
                document_digest=digest,
                now=now,
                actor=self.ctx.actor,
            )
            subject = (
                f"evaluation/{number}"
                if version is None
                else version_subject(version.model, version.version)
            )
            payload = _payload(number, document, digest)
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[NewEntry(action=RECORDED, subject=subject, payload=payload)],
            )
        return Evaluation(id=number, document=json.loads(text), digest=digest)


@dataclass(frozen=True, kw_only=True)
class _StoreLookups:
    """The runners' `Lookups`: facts from the store, looked up when a rule needs them."""

    service: EvaluationService
    model: Model | None
    version: ModelVersion | None
    rules: Policy

    def champion(self, inputs: EvaluationInputs) -> Champion:
        return self.service._champion(self.model, self.version, inputs, self.rules)

    def production_importance(
        self, inputs: EvaluationInputs
    ) -> tuple[Mapping[str, float] | None, str | None]:
        return self.service._production_importance(self.model, self.version, inputs, self.rules)

    def card(self) -> Mapping[str, Any] | None:
        return None if self.model is None else self.service._card(self.model.name)


# -- module helpers ---------------------------------------------------------------------------


class _Clock:
    """Wall time per stage, summed, with the total since creation."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._times: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self._times[stage] = self._times.get(stage, 0.0) + elapsed

    @property
    def timings(self) -> dict[str, float]:
        out = {name: round(seconds, 6) for name, seconds in self._times.items()}
        out["total"] = round(time.perf_counter() - self._start, 6)
        return out


def _gate(finding: Finding, rules: Policy, tier: str) -> Gate:
    """Return a check with the outcome it counts as (an undefined one: what the policy says)."""
    result = finding.result
    if result.status == "undefined":
        return Gate(result=result, outcome=rules.undefined_outcome(tier, finding.undefined))
    return Gate(result=result, outcome=result.status)


def _payload(number: int, document: Mapping[str, Any], digest: str) -> dict[str, Any]:
    return {
        "id": number,
        "status": document["status"],
        "policy_digest": document["policy"]["digest"],
        "data_digest": document["data"]["digest"],
        "document_digest": digest,
    }


def _evaluation(row: rows.EvaluationRow) -> Evaluation:
    return Evaluation(id=row.id, document=json.loads(row.document), digest=row.document_digest)


def _named(gates: Sequence[Gate]) -> list[dict[str, Any]]:
    """Return the checks' JSON with unique names: a repeated name gets its column or a number."""
    out = [gate.to_dict() for gate in gates]
    counts: dict[str, int] = {}
    for item in out:
        counts[item["check"]] = counts.get(item["check"], 0) + 1
    seen: dict[str, int] = {}
    for item in out:
        name = item["check"]
        if counts[name] < 2:
            continue
        evidence = item.get("evidence") or {}
        detail = evidence.get("feature") or evidence.get("column")
        if isinstance(detail, str):
            item["check"] = f"{name}:{detail}"
        else:
            seen[name] = seen.get(name, 0) + 1
            item["check"] = f"{name}#{seen[name]}"
    return out


def _strictest(tiers: Sequence[str]) -> str:
    return max(tiers, key=TIERS.index)


def _training_data(given: Any, table: Any) -> dict[str, Any]:
    """Return the training data's fingerprint for the document (nothing when not given)."""
    if table is None:
        return {}
    source = str(given) if isinstance(given, str | PathLike) else None
    found = fingerprint(table, label=source)
    return {"training": {"digest": found.digest, "rows": found.row_count, "source": source}}


def _policy_dir(loaded: LoadedPolicy) -> Path:
    path = Path(loaded.source)
    return path.parent if path.parent.is_dir() else Path.cwd()
