"""Names, identity keys and version references: what they accept, and that nothing else gets in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.domain.records import (
    MAX_VERSION,
    VersionRef,
    check_alias,
    check_name,
    name_key,
)
from govml.errors import InputError, ValidationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("credit", VersionRef(name="credit")),
        ("credit@1", VersionRef(name="credit", version=1)),
        ("credit@0007", VersionRef(name="credit", version=7)),
        (f"credit@{MAX_VERSION}", VersionRef(name="credit", version=MAX_VERSION)),
        ("credit@production", VersionRef(name="credit", alias="production")),
        ("a.b-c_d@staging", VersionRef(name="a.b-c_d", alias="staging")),
    ],
)
def test_valid_references(text: str, expected: VersionRef) -> None:
    assert VersionRef.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("credit@²", "invalid version in 'credit@²'"),  # a Unicode digit, not version 2
        ("credit@１", "invalid version in 'credit@１'"),  # full-width one
        ("credit@٣", "invalid version in 'credit@٣'"),  # Arabic-Indic three
        ("credit@99999999999999999999999", "invalid version in 'credit@99999999999999999999999'"),
        (f"credit@{MAX_VERSION + 1}", "versions run from 1 to 2147483647"),
        ("credit@0", "versions run from 1 to"),
        ("credit@1\n", "invalid version in 'credit@1\\n'"),
        ("credit@-1", "invalid reference 'credit@-1': invalid alias"),
        ("credit@", "expected NAME@VERSION or NAME@ALIAS"),
        ("credit@production\n", "invalid reference 'credit@production\\n'"),
        ("credit\n", "invalid reference 'credit\\n': invalid model name"),
        ("credit\n@1", "invalid reference 'credit\\n@1'"),
        ("ｃｒｅｄｉｔ@1", "invalid reference"),
        ("@1", "invalid reference '@1'"),
        ("", "invalid reference ''"),
        ("../etc@1", "invalid reference '../etc@1'"),
        ("credit@1@2", "invalid version in 'credit@1@2'"),
    ],
)
def test_malformed_references_are_validation_errors_naming_them(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        VersionRef.parse(text)
    assert message in info.value.message


@given(st.text(max_size=60))
@settings(max_examples=500, deadline=None)
def test_any_text_parses_to_a_reference_or_an_input_error(text: str) -> None:
    try:
        ref = VersionRef.parse(text)
    except InputError:  # ValidationError is one
        return
    assert isinstance(ref, VersionRef)
    check_name(ref.name)
    if ref.version is not None:
        assert 1 <= ref.version <= MAX_VERSION
    assert VersionRef.parse(str(ref)) == ref


@given(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True),
    st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),
    ),
)
@settings(max_examples=300, deadline=None)
def test_versions_are_ascii_numbers_within_range(name: str, selector: str) -> None:
    text = f"{name}@{selector}"
    try:
        ref = VersionRef.parse(text)
    except ValidationError as error:
        assert repr(text) in error.message
        return
    assert ref.version is not None and str(ref.version) == selector.lstrip("0")
    assert selector.isascii() and 1 <= ref.version <= MAX_VERSION


@pytest.mark.parametrize(
    "value", ["rita\n", "rita ", " rita", "ｒｉｔａ", "ri\u200bta", "", "-rita"]
)
def test_names_are_matched_in_full(value: str) -> None:
    with pytest.raises(ValidationError, match="invalid user name"):
        check_name(value, what="user name")


@pytest.mark.parametrize("value", ["production\n", "Production", "1st", "", "stag ing"])
def test_aliases_are_matched_in_full(value: str) -> None:
    with pytest.raises(ValidationError, match="invalid alias"):
        check_alias(value)


def test_identity_keys_fold_case_and_compatibility_forms() -> None:
    assert name_key("Rita") == name_key("rita") == name_key("ＲＩＴＡ") == name_key("ｒｉｔａ")
    assert name_key("Straße") == name_key("STRASSE")
    assert name_key("credit-1") != name_key("credit_1")
    assert name_key("rita") != name_key("rita\n")


@given(st.text(max_size=40))
def test_identity_keys_are_stable(value: str) -> None:
    key = name_key(value)
    assert name_key(key) == key
    assert name_key(value.upper()) == name_key(value.lower()) or not value.isascii()
