"""CheckResult: invariants, JSON round trip, timing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from govml.checks import CheckResult
from govml.checks.result import timed
from govml.errors import InputError


def _result(**changes: object) -> CheckResult:
    fields: dict[str, object] = {
        "check": "between",
        "category": "data",
        "status": "fail",
        "message": "2 of 10 values of 'age' are outside [18, 100]",
        "value": 2,
        "threshold": [18, 100],
        "evidence": {"rows": 10, "first_rows": (3, 7)},
    }
    fields.update(changes)
    return CheckResult(**fields)


def test_round_trip_through_json_is_exact() -> None:
    result = _result(interval=(0.1, 0.3), duration_s=0.5)
    restored = CheckResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert restored == result
    assert restored.evidence["first_rows"] == [3, 7]  # tuples become lists once, at build


def test_numpy_scalars_become_plain_json() -> None:
    result = _result(value=np.int64(2), evidence={"share": np.float64(0.2), "ok": np.bool_(True)})
    assert result.value == 2 and type(result.value) is int
    assert result.evidence == {"share": 0.2, "ok": True}


@pytest.mark.parametrize("bad", [math.nan, np.float64("inf"), object()])
def test_non_json_evidence_is_refused(bad: object) -> None:
    with pytest.raises(InputError, match="not JSON-safe"):
        _result(evidence={"x": bad})


def test_undefined_needs_a_reason_and_only_undefined_has_one() -> None:
    with pytest.raises(InputError, match="reason is required"):
        _result(status="undefined")
    with pytest.raises(InputError, match="reason is required"):
        _result(reason="why")
    assert _result(status="undefined", reason="no rows").reason == "no rows"


def test_invalid_status_category_and_message() -> None:
    with pytest.raises(InputError, match="valid statuses: pass, fail, warn, undefined"):
        _result(status="failed")
    with pytest.raises(InputError, match="valid categories"):
        _result(category="privacy")
    with pytest.raises(InputError, match="one non-empty line"):
        _result(message="two\nlines")


def test_from_dict_reports_a_missing_key() -> None:
    data = _result().to_dict()
    del data["status"]
    with pytest.raises(InputError, match="invalid check result"):
        CheckResult.from_dict(data)


def test_timed_sets_the_duration_of_one_result_or_each_of_a_list() -> None:
    @timed
    def one() -> CheckResult:
        return _result()

    @timed
    def many() -> list[CheckResult]:
        return [_result(), _result(status="pass")]

    assert one().duration_s is not None and one().duration_s >= 0
    assert all(item.duration_s is not None for item in many())
