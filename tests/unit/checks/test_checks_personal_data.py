"""Personal-data detection: each kind's positives and negatives, shares, sampling."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from govml.checks import match_personal_data, personal_data
from govml.demo.adult import datasets_dir, load_adult
from govml.errors import InputError

POSITIVE = {
    "email": ["jane.doe@example.com", "a+tag@mail.co.uk", "O'Brien@example.ie"],
    "phone": [
        "+44 20 7946 0958",  # E.164 with spaces
        "+14155552671",
        "0049 30 1234567",  # international prefix 00
        "020 7946 0958",  # UK national
        "06 12 34 56 78",  # French mobile
        "(212) 555-0147",  # North American
        "212.555.0147",
        "+44 (0)20 7946 0958",
    ],
    "us_ssn": ["123-45-6789", "078 05 1120"],
    "uk_nino": ["AB 12 34 56 C", "ce123456d"],
    "iban": [
        "GB82 WEST 1234 5698 7654 32",  # the examples of ISO 13616 / the ECBS
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
    ],
    "card": ["4111 1111 1111 1111", "5500-0055-5555-5559", "378282246310005"],
}
NEGATIVE = {
    "email": ["jane.doe@", "@example.com", "jane doe@example.com", "a@b"],
    "phone": ["2125550147", "0.1234567890", "2021-03-04", "12345", "+0 123 456 789"],
    "us_ssn": [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-6789",
        "123-45-0000",
        "123456789",
    ],
    "uk_nino": ["GB123456A", "DA123456A", "AB123456E", "AB12345C"],
    "iban": ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001", "GB82"],
    "card": ["4111 1111 1111 1112", "1111 1111 1111 1117", "411111111111"],
}


@pytest.mark.parametrize("kind", list(POSITIVE))
def test_each_kind_recognises_its_examples_and_nothing_else(kind: str) -> None:
    matches = match_personal_data(POSITIVE[kind])
    assert matches[kind].all(), [
        v for v, m in zip(POSITIVE[kind], matches[kind], strict=True) if not m
    ]
    assert not match_personal_data(NEGATIVE[kind])[kind].any()
    others = [k for k in POSITIVE if k != kind and not {kind, k} <= {"phone", "card"}]
    for other in others:
        assert not matches[other].any(), (kind, other)


def test_nulls_never_match() -> None:
    assert not any(mask.any() for mask in match_personal_data([None, "", "  "]).values())


def test_columns_are_flagged_from_the_share_of_matching_values() -> None:
    rows = 200
    emails = [f"user{i}@example.org" if i % 5 < 2 else f"note {i}" for i in range(rows)]  # 40 %
    data = pd.DataFrame(
        {
            "contact": emails,
            "card": [4111111111111111] * rows,  # an integer column of card numbers
            "amount": np.arange(rows, dtype=float),
            "city": ["Paris"] * rows,
        }
    )
    result = personal_data(data)
    assert result.status == "warn" and result.value == 1
    assert result.evidence["flagged"] == [
        {"column": "card", "kind": "card", "share": 1.0, "matched": rows, "sampled": rows}
    ]
    assert result.evidence["columns"]["contact"]["matches"] == {"email": 80}
    assert result.evidence["skipped"] == {"amount": "double"}
    lower = personal_data(data, threshold=0.4, status="fail")
    assert lower.status == "fail" and [f["column"] for f in lower.evidence["flagged"]] == [
        "contact",
        "card",
    ]
    assert "user1@example.org" not in json.dumps(lower.to_dict())


def test_the_sample_is_seeded_and_bounded() -> None:
    data = pd.DataFrame({"mail": [f"u{i}@x.org" if i % 2 else "-" for i in range(5000)]})
    first = personal_data(data, sample_rows=300, random_state=1)
    assert first.evidence["sample_rows"] == 300
    assert first.evidence == personal_data(data, sample_rows=300, random_state=1).evidence
    share = first.evidence["columns"]["mail"]["matches"]["email"] / 300
    assert share == pytest.approx(0.5, abs=0.1)


def test_only_the_named_columns_and_kinds_are_scanned() -> None:
    data = pd.DataFrame({"a": ["x@y.org"] * 3, "b": ["123-45-6789"] * 3})
    result = personal_data(data, columns=["b"], kinds=["email"])
    assert result.status == "pass" and list(result.evidence["columns"]) == ["b"]
    with pytest.raises(InputError, match="unknown kind"):
        personal_data(data, kinds=["passport"])
    with pytest.raises(InputError, match="threshold"):
        personal_data(data, threshold=0)
    with pytest.raises(InputError, match="not in the data"):
        personal_data(data, columns=["c"])


@pytest.mark.datasets
def test_the_adult_census_extract_holds_no_direct_identifiers() -> None:
    if not (datasets_dir() / "adult").is_dir():
        pytest.skip(f"the shared datasets are not at {datasets_dir()}")
    result = personal_data(load_adult("test"))
    assert result.status == "pass", result.message
