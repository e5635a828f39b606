"""Reading a window of the prediction and feedback logs with DuckDB, a batch at a time.

The gateway writes Parquet files partitioned by model, version and UTC date
(:mod:`govml.serving.logschema`). Only the files of the window's dates are opened; rows are
filtered on their ``time``, and every query hands its result to Python as Arrow record
batches, so a window is never held in memory at once (DuckDB's own memory is capped by
``memory_limit`` and spills to disk beyond it). Rows of the ``shadow`` variant were never
returned to anyone and are left out of everything but the labelling export.

The log may also be in an S3-compatible bucket (``s3://bucket/prefix``, where gateways
upload it): then the files a run needs are copied into a temporary folder first
(:class:`~govml.store.s3_logs.S3LogMirror`) and read there the same way.

Feedback is joined on ``(request_id, record)``; when a record was labelled more than once,
the latest label counts, and whether it was a correction (``correction``, written by the
gateway for a key with the ``correct_labels`` scope) is carried along so that a run can say
how many corrections it used.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from govml.errors import InputError
from govml.monitoring.window import Window
from govml.store.s3_logs import S3LogMirror, is_remote

ERR_NO_FOLDER = (
    "no prediction log folder at {path}: `govml serve` writes it (default $GOVML_HOME/predictions)"
)
ERR_NOT_FOLDER = "the prediction log path {path} is not a folder"
ERR_UNREADABLE = "cannot read the prediction log of {model} under {path}: {reason}"
ERR_MISSING_COLUMN = "the prediction log files of {what} have no column {column!r} ({files})"

SERVED_VARIANTS = ("champion", "canary")
DEFAULT_BATCH_ROWS = 262_144
DEFAULT_MEMORY_LIMIT = "256MB"
_VERSION_DIR = re.compile(r"^version=([0-9]+)$")
_DATE_DIR = re.compile(r"^date=([0-9]{4}-[0-9]{2}-[0-9]{2})$")


@dataclass(frozen=True, kw_only=True)
class Columns:
    """What the prediction files of one version hold.

    Attributes
    ----------
    inputs : tuple of (str, str)
        Input field names and their DuckDB types, in file order.
    prediction : str
        DuckDB type of the ``prediction`` column.
    classes : tuple of str
        Field names of the ``probabilities`` struct (the classes, as text); empty for
        regressors and models without probabilities.
    """

    inputs: tuple[tuple[str, str], ...]
    prediction: str
    classes: tuple[str, ...]

    @property
    def input_names(self) -> list[str]:
        """Input field names."""
        return [name for name, _ in self.inputs]


def quote(name: str) -> str:
    """Quote an identifier for DuckDB (double quotes, inner ones doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class PredictionLogs:
    """The prediction and feedback logs of one model under a log folder.

    Parameters
    ----------
    root : Path or str
        The log folder (``$GOVML_HOME/predictions`` by default), or ``s3://bucket/prefix``.
    model : str
        The model's name.
    memory_limit : str
        DuckDB's memory cap (``"256MB"``); beyond it DuckDB spills to a temporary folder.
    batch_rows : int
        Rows per Arrow batch handed to Python.

    Raises
    ------
    InputError
        When ``root`` does not exist or is not a folder.
    """

    def __init__(
        self,
        root: Path | str,
        model: str,
        *,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        import duckdb

        self._mirror: S3LogMirror | None = None
        if is_remote(root):
            folder = Path(tempfile.mkdtemp(prefix="govml-log-"))
            self._mirror = S3LogMirror(str(root), model, folder)
            root = folder
        root = Path(root)
        if not root.exists():
            raise InputError(ERR_NO_FOLDER.format(path=root), hint="pass --log-dir DIR")
        if not root.is_dir():
            raise InputError(ERR_NOT_FOLDER.format(path=root))
        self.root = root
        self.model = model
        self.base = root / f"model={model}"
        self.batch_rows = batch_rows
        # Insertion order is not needed (every result is aggregated or sorted), and keeping
        # it makes DuckDB buffer row groups.
        self._db = duckdb.connect(
            config={"memory_limit": memory_limit, "preserve_insertion_order": False}
        )

    def close(self) -> None:
        """Release DuckDB's memory (and remove the copy of a log read from a bucket)."""
        self._db.close()
        if self._mirror is not None:
            shutil.rmtree(self._mirror.folder, ignore_errors=True)

    def __enter__(self) -> PredictionLogs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files -----------------------------------------------------------------------------

    def prediction_files(self, days: Sequence[date] | None) -> dict[int, list[str]]:
        """Return the prediction files of each version, for ``days`` (every day when None)."""
        wanted = None if days is None else {d.isoformat() for d in days}
        if self._mirror is not None:
            self._mirror.sync(
                lambda part, day: (
                    part.startswith("version=") and (wanted is None or day.isoformat() in wanted)
                )
            )
        found: dict[int, list[str]] = {}
        if not self.base.is_dir():
            return found
        for version_dir in sorted(self.base.iterdir()):
            match = _VERSION_DIR.match(version_dir.name)
            if match is None or not version_dir.is_dir():
                continue
            files = [
                str(path)
                for day_dir in sorted(version_dir.iterdir())
                if (day := _DATE_DIR.match(day_dir.name)) is not None
                and (wanted is None or day.group(1) in wanted)
                for path in sorted(day_dir.glob("*.parquet"))
                if not path.name.startswith(".")
            ]
            if files:
                found[int(match.group(1))] = files
        return found

    def first_day(self, version: int) -> date | None:
        """Return the first UTC date version ``version`` has prediction files for."""
        if self._mirror is not None:
            return self._mirror.first_day(version)
        folder = self.base / f"version={version}"
        if not folder.is_dir():
            return None
        days = sorted(
            day.group(1)
            for path in folder.iterdir()
            if (day := _DATE_DIR.match(path.name)) is not None and any(path.glob("*.parquet"))
        )
        return date.fromisoformat(days[0]) if days else None

    def feedback_files(self, since: date) -> list[str]:
        """Return the feedback files dated ``since`` or later (labels arrive after predictions)."""
        if self._mirror is not None:
            self._mirror.sync(lambda part, day: part == "feedback" and day >= since)
        folder = self.base / "feedback"
        if not folder.is_dir():
            return []
        return [
            str(path)
            for day_dir in sorted(folder.iterdir())
            if (day := _DATE_DIR.match(day_dir.name)) is not None
            and date.fromisoformat(day.group(1)) >= since
            for path in sorted(day_dir.glob("*.parquet"))
            if not path.name.startswith(".")
        ]

    # -- queries ---------------------------------------------------------------------------

    def _source(self, files: Sequence[str]) -> str:
        listed = ", ".join(_literal(f) for f in files)
        return f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        import duckdb

        try:
            return self._db.sql(sql, params=params or None)
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise InputError(
                ERR_UNREADABLE.format(model=self.model, path=self.base, reason=reason)
            ) from None

    def _served(self, files: Sequence[str], window: Window | None) -> tuple[str, dict[str, Any]]:
        variants = ", ".join(_literal(v) for v in SERVED_VARIANTS)
        where = f"variant IN ({variants})"
        params: dict[str, Any] = {}
        if window is not None:
            where += " AND time >= $start AND time < $end"
            params = {"start": window.start, "end": window.end}
        return f"SELECT * FROM {self._source(files)} WHERE {where}", params

    def columns(self, files: Sequence[str], what: str) -> Columns:
        """Return the input fields, prediction type and classes of ``files``.

        Raises
        ------
        InputError
            When the files lack a column of the log layout, naming it.
        """
        described = {
            row[0]: row[1]
            for row in self._run(f"DESCRIBE SELECT * FROM {self._source(files)}").fetchall()
        }
        shown = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} more"
        for column in ("request_id", "record", "time", "variant", "inputs", "prediction"):
            if column not in described:
                raise InputError(ERR_MISSING_COLUMN.format(what=what, column=column, files=shown))
        inputs = _struct_fields(described["inputs"])
        classes = tuple(n for n, _ in _struct_fields(described.get("probabilities", "")))
        return Columns(inputs=tuple(inputs), prediction=described["prediction"], classes=classes)

    def count(self, files: Sequence[str], window: Window | None) -> int:
        """Return the number of served rows of ``files`` in ``window``."""
        sql, params = self._served(files, window)
        rows = self._run(f"SELECT count(*) FROM ({sql})", params).fetchall()
        return int(rows[0][0]) if rows else 0

    def latency_quantiles(
        self, files: Sequence[str], window: Window, quantiles: Sequence[float]
    ) -> tuple[int, list[float]]:
        """Return the number of answered requests and the ``quantiles`` of their latency (ms).

        A request's latency is logged on each of its records; each request counts once. Logs
        written before ``latency_ms`` existed give ``(0, [])``.
        """
        described = {
            row[0] for row in self._run(f"DESCRIBE SELECT * FROM {self._source(files)}").fetchall()
        }
        if "latency_ms" not in described or not quantiles:
            return 0, []
        sql, params = self._served(files, window)
        wanted = ", ".join(repr(float(q)) for q in quantiles)
        rows = self._run(
            f"SELECT count(*), quantile_cont(latency_ms, [{wanted}]) FROM "
            f"(SELECT request_id, max(latency_ms) AS latency_ms FROM ({sql}) GROUP BY request_id)",
            params,
        ).fetchall()
        count = int(rows[0][0]) if rows else 0
        if count == 0:
            return 0, []
        return count, [float(v) for v in rows[0][1]]

    def input_batches(
        self, files: Sequence[str], window: Window | None, *, limit: int | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Yield the served inputs of the window as record batches, one column per field."""
        sql, params = self._served(files, window)
        order = f" ORDER BY time LIMIT {int(limit)}" if limit is not None else ""
        query = f"SELECT inputs.* FROM ({sql}){order}"
        yield from self._run(query, params).to_arrow_reader(self.batch_rows)

    def prediction_counts(self, files: Sequence[str], window: Window) -> dict[Any, int]:
        """Return how many served rows of the window got each prediction."""
        sql, params = self._served(files, window)
        rows = self._run(
            f"SELECT prediction, count(*) FROM ({sql}) GROUP BY prediction", params
        ).fetchall()
        return {value: int(n) for value, n in rows}

    def prediction_batches(self, files: Sequence[str], window: Window) -> Iterator[pa.RecordBatch]:
        """Yield the served predictions of the window (one column, ``prediction``)."""
        sql, params = self._served(files, window)
        yield from self._run(f"SELECT prediction FROM ({sql})", params).to_arrow_reader(
            self.batch_rows
        )

    def sample_inputs(
        self, files: Sequence[str], window: Window, *, rows: int, seed: int
    ) -> pa.Table:
        """Return a uniform random sample of ``rows`` served input rows of the window."""
        sql, params = self._served(files, window)
        query = (
            f"SELECT * FROM (SELECT inputs.* FROM ({sql})) "
            f"USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE ({int(seed)})"
        )
        return self._run(query, params).to_arrow_table()

    def labelled(
        self,
        files: Sequence[str],
        window: Window,
        *,
        score_class: str | None,
        sensitive: Sequence[str],
        columns: Columns,
    ) -> tuple[int, Iterator[pa.RecordBatch], list[str]]:
        """Join the window's served predictions with their latest feedback labels.

        Parameters
        ----------
        files
            The version's prediction files for the window.
        window
            Predictions made in it are joined (their labels may come later).
        score_class
            The class whose probability becomes column ``score``; None for no score.
        sensitive
            Sensitive features to carry: from the logged inputs, else from feedback
            columns of the same name. Those found in neither are left out.
        columns
            What the prediction files hold (:meth:`columns`).

        Returns
        -------
        feedback_rows, batches, found
            Number of feedback rows read, the joined batches (``request_id``, ``record``,
            ``prediction``, ``label``, ``corrected``, ``delay_s``, optional ``score`` and
            sensitive columns), and the sensitive features found.
        """
        feedback = self.feedback_files(window.start.date())
        if not feedback:
            return 0, iter(()), []
        fb_columns = {
            row[0]
            for row in self._run(f"DESCRIBE SELECT * FROM {self._source(feedback)}").fetchall()
        }
        for column in ("request_id", "record", "time", "label"):
            if column not in fb_columns:
                raise InputError(
                    ERR_MISSING_COLUMN.format(
                        what=f"{self.model}'s feedback", column=column, files=feedback[0]
                    )
                )
        in_inputs = set(columns.input_names)
        picked: list[str] = []
        carried: list[str] = []
        from_feedback: list[str] = []
        for name in sensitive:
            if name in in_inputs:
                picked.append(f"p.inputs.{quote(name)} AS {quote(name)}")
                carried.append(name)
            elif name in fb_columns:
                from_feedback.append(name)
                picked.append(f"f.{quote(name)} AS {quote(name)}")
                carried.append(name)
        extra = "".join(f", arg_max({quote(n)}, time) AS {quote(n)}" for n in from_feedback)
        # Files written before corrections existed have no column: none of theirs is one.
        corrected = "arg_max(correction, time)" if "correction" in fb_columns else "FALSE"
        score = ""
        if score_class is not None:
            score = f", struct_extract(p.probabilities, {_literal(score_class)}) AS score"
        sql, params = self._served(files, window)
        total = self._run(f"SELECT count(*) FROM {self._source(feedback)}").fetchall()
        query = (
            f"WITH f AS (SELECT request_id, record, arg_max(label, time) AS label, "
            f"coalesce({corrected}, FALSE) AS corrected, "
            f"max(time) AS labelled_at{extra} FROM {self._source(feedback)} "
            f"GROUP BY request_id, record) "
            f"SELECT p.request_id, p.record, p.prediction, f.label, f.corrected, "
            f"epoch(f.labelled_at) - epoch(p.time) AS delay_s{score}"
            f"{''.join(', ' + item for item in picked)} "
            f"FROM ({sql}) AS p JOIN f ON p.request_id = f.request_id AND p.record = f.record "
            f"WHERE f.label IS NOT NULL"
        )
        reader = self._run(query, params).to_arrow_reader(self.batch_rows)
        return int(total[0][0]) if total else 0, iter(reader), carried

    def low_confidence(
        self,
        files: Sequence[str],
        window: Window,
        *,
        classes: Sequence[str],
        limit: int,
        below: float | None,
    ) -> pa.Table:
        """Return the ``limit`` served rows with the lowest top-class probability.

        Columns: ``request_id``, ``record``, ``time``, ``inputs_json``, ``prediction``,
        ``confidence`` and ``probabilities_json``. ``below`` keeps only rows whose
        confidence is under it.
        """
        if not classes:
            raise InputError(
                f"{self.model}'s predictions carry no class probabilities: there is no "
                "confidence to pick low-confidence rows by"
            )
        fields = ", ".join(f"struct_extract(probabilities, {_literal(name)})" for name in classes)
        sql, params = self._served(files, window)
        where = ""
        if below is not None:
            where = f"WHERE confidence < {float(below)!r}"
        query = (
            f"SELECT * FROM (SELECT request_id, record, time, inputs_json, "
            f"CAST(prediction AS VARCHAR) AS prediction, greatest({fields}) AS confidence, "
            f"to_json(probabilities) AS probabilities_json FROM ({sql})) {where} "
            f"ORDER BY confidence, time, request_id, record LIMIT {int(limit)}"
        )
        return self._run(query, params).to_arrow_table()

    def served_keys(
        self, keys: Sequence[tuple[str, int]], days: Sequence[date] | None
    ) -> set[tuple[str, int]]:
        """Return which of ``keys`` (request id, record) appear in the prediction log."""
        files = [f for group in self.prediction_files(days).values() for f in group]
        if not files or not keys:
            return set()
        table = pa.table(
            {
                "request_id": pa.array([k[0] for k in keys], type=pa.string()),
                "record": pa.array([k[1] for k in keys], type=pa.int32()),
            }
        )
        self._db.register("wanted_keys", table)
        try:
            rows = self._run(
                f"SELECT DISTINCT p.request_id, p.record FROM {self._source(files)} AS p "
                "JOIN wanted_keys AS k ON p.request_id = k.request_id AND p.record = k.record"
            ).fetchall()
        finally:
            self._db.unregister("wanted_keys")
        return {(str(r), int(n)) for r, n in rows}

    def labelled_keys(self, keys: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Return which of ``keys`` (request id, record) have a label in the feedback log."""
        files = self.feedback_files(date.min)
        if not files or not keys:
            return set()
        table = pa.table(
            {
                "request_id": pa.array([k[0] for k in keys], type=pa.string()),
                "record": pa.array([k[1] for k in keys], type=pa.int32()),
            }
        )
        self._db.register("wanted_keys", table)
        try:
            rows = self._run(
                f"SELECT DISTINCT f.request_id, f.record FROM {self._source(files)} AS f "
                "JOIN wanted_keys AS k ON f.request_id = k.request_id AND f.record = k.record"
            ).fetchall()
        finally:
            self._db.unregister("wanted_keys")
        return {(str(r), int(n)) for r, n in rows}

    def label_type(self) -> pa.DataType | None:
        """Return the Arrow type of ``prediction`` in the newest prediction file, if any."""
        import pyarrow.parquet as pq

        files = [f for group in self.prediction_files(None).values() for f in group]
        if not files:
            return None
        schema = pq.read_schema(max(files, key=lambda f: Path(f).stat().st_mtime))
        index = schema.get_field_index("prediction")
        return None if index < 0 else schema.field(index).type


def _struct_fields(type_text: str) -> list[tuple[str, str]]:
    """Split DuckDB's ``STRUCT(a DOUBLE, "b c" VARCHAR)`` into names and types."""
    text = type_text.strip()
    if not text.upper().startswith("STRUCT(") or not text.endswith(")"):
        return []
    body = text[len("STRUCT(") : -1]
    out: list[tuple[str, str]] = []
    depth = 0
    current = ""
    in_quotes = False
    for char in body + ",":
        if char == '"':
            in_quotes = not in_quotes
        if not in_quotes and char in "([":
            depth += 1
        elif not in_quotes and char in ")]":
            depth -= 1
        if char == "," and depth == 0 and not in_quotes:
            out.append(_split_field(current.strip()))
            current = ""
        else:
            current += char
    return out


def _split_field(text: str) -> tuple[str, str]:
    if text.startswith('"'):
        end = 1
        while True:
            end = text.index('"', end)
            if end + 1 < len(text) and text[end + 1] == '"':
                end += 2
                continue
            break
        return text[1:end].replace('""', '"'), text[end + 1 :].strip()
    name, _, kind = text.partition(" ")
    return name, kind.strip()
