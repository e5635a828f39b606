"""Columns that look like personal data, recognised by the shape of their values.

A random sample of rows is taken (``sample_rows``, seeded) and every text column's
non-missing values are matched against the patterns below; a column is flagged when the
share of its sampled values matching one kind reaches ``threshold``. Integer columns are
matched for card numbers only (the other kinds need their punctuation or letters).

========== ===============================================================================
kind       recognised when
========== ===============================================================================
email      ``local@domain.tld``
phone      E.164 (``+`` or ``00``, country code, 7-15 digits in all); a national number
           with a trunk ``0`` and 10-11 digits (``020 7946 0958``, ``06 12 34 56 78``);
           a North American number written with separators (``(212) 555-0147``)
us_ssn     ``AAA-GG-SSSS`` (or spaces) without the never-issued 000 / 666 / 9xx areas,
           00 group or 0000 serial
uk_nino    two prefix letters from HMRC's allowed set (not BG, GB, KN, NK, NT, TN, ZZ),
           six digits and a suffix A-D
iban       country code, check digits and 11-30 letters or digits whose ISO 13616
           mod-97 checksum is 1
card       13-19 digits starting 2-6 whose Luhn checksum is valid
========== ===============================================================================

Separators (spaces, ``-``, ``.``, parentheses) are ignored where the kind allows them.
Matching is vectorised with ``pyarrow.compute`` (RE2) and numpy. The evidence holds
counts and shares only, never the values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from govml.checks._columns import as_table, column_array, missing_mask, require_columns
from govml.checks.result import CheckResult, timed
from govml.errors import InputError

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "DEFAULT_THRESHOLD",
    "PERSONAL_DATA_KINDS",
    "PersonalDataKind",
    "match_personal_data",
    "personal_data",
]

PersonalDataKind = Literal["email", "phone", "us_ssn", "uk_nino", "iban", "card"]
PERSONAL_DATA_KINDS: tuple[PersonalDataKind, ...] = get_args(PersonalDataKind)
DEFAULT_SAMPLE_ROWS = 1000
DEFAULT_THRESHOLD = 0.5

_EMAIL = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
_PHONE_CHARS = r"^\+?[0-9(][0-9 ().-]{5,24}$"
_DECIMAL = r"^[0-9]*\.[0-9]+$"
_PHONE_DIGITS = r"^(\+[1-9][0-9]{6,14}|00[1-9][0-9]{6,13}|0[1-9][0-9]{8,9})$"
_NANP = r"^(\+?1[ .-]?)?(\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}$"
_SEPARATORS = r"[ ().-]"
_SSN = r"^[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}$"
_SSN_NEVER_ISSUED = r"^(000|666|9[0-9]{2})|^[0-9]{3}[- ]00[- ]|0000$"
_NINO = r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$"
_NINO_UNUSED = r"^(BG|GB|KN|NK|NT|TN|ZZ)"
_IBAN = r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"
_CARD = r"^[2-6][0-9]{12,18}$"

ERR_THRESHOLD = "personal_data: threshold must be in (0, 1], got {value!r}"
ERR_SAMPLE = "personal_data: sample_rows must be a positive whole number, got {value!r}"
ERR_STATUS = "personal_data: status must be 'warn' or 'fail', got {value!r}"


def _regex(strings: Any, pattern: str) -> NDArray[np.bool_]:
    flags = pc.fill_null(pc.match_substring_regex(strings, pattern), False)
    return np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool)


def _compact(strings: Any, pattern: str = r"[ -]") -> Any:
    return pc.replace_substring_regex(pc.utf8_upper(strings), pattern, "")


def _is_email(strings: Any) -> NDArray[np.bool_]:
    return _regex(strings, _EMAIL)


def _is_phone(strings: Any) -> NDArray[np.bool_]:
    shaped = _regex(strings, _PHONE_CHARS) & ~_regex(strings, _DECIMAL)
    digits = pc.replace_substring_regex(pc.replace_substring(strings, "(0)", ""), _SEPARATORS, "")
    return shaped & (_regex(digits, _PHONE_DIGITS) | _regex(strings, _NANP))


def _is_ssn(strings: Any) -> NDArray[np.bool_]:
    return _regex(strings, _SSN) & ~_regex(strings, _SSN_NEVER_ISSUED)


def _is_nino(strings: Any) -> NDArray[np.bool_]:
    compact = _compact(strings, " ")
    return _regex(compact, _NINO) & ~_regex(compact, _NINO_UNUSED)


def _is_iban(strings: Any) -> NDArray[np.bool_]:
    compact = _compact(strings)
    shaped = _regex(compact, _IBAN)
    out = np.zeros(len(strings), dtype=bool)
    if shaped.any():
        out[shaped] = _iban_checksum(_char_matrix(compact.filter(pa.array(shaped)), 34))
    return out


def _is_card(strings: Any) -> NDArray[np.bool_]:
    compact = _compact(strings)
    shaped = _regex(compact, _CARD)
    out = np.zeros(len(strings), dtype=bool)
    if shaped.any():
        out[shaped] = _luhn(_char_matrix(compact.filter(pa.array(shaped)), 19))
    return out


def _char_matrix(strings: Any, width: int) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Return ASCII codes left-aligned in a zero-padded ``(n, width)`` matrix, and lengths."""
    fixed = np.array(strings.to_pylist(), dtype=f"S{width}")
    codes = fixed.view(np.uint8).reshape(len(fixed), width)
    lengths = np.asarray(pc.utf8_length(strings).to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, lengths


def _iban_checksum(matrix: tuple[NDArray[np.uint8], NDArray[np.int64]]) -> NDArray[np.bool_]:
    # ISO 13616: move the first four characters to the end, read letters as 10..35, and
    # the number must be 1 modulo 97.  Computed digit by digit for all rows at once.
    codes, lengths = matrix
    remainder = np.zeros(len(codes), dtype=np.int64)
    order = [*range(4, codes.shape[1]), *range(4)]
    for position in order:
        char = codes[:, position].astype(np.int64)
        active = position < lengths
        letter = char >= ord("A")
        value = np.where(letter, char - ord("A") + 10, char - ord("0"))
        scale = np.where(letter, 100, 10)
        updated = (remainder * scale + value) % 97
        remainder = np.where(active, updated, remainder)
    return np.asarray(remainder == 1, dtype=bool)


def _luhn(matrix: tuple[NDArray[np.uint8], NDArray[np.int64]]) -> NDArray[np.bool_]:
    codes, lengths = matrix
    digits = codes.astype(np.int64) - ord("0")
    from_right = lengths[:, None] - 1 - np.arange(codes.shape[1])[None, :]
    doubled = np.where(from_right % 2 == 1, digits * 2, digits)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = np.where(from_right >= 0, doubled, 0).sum(axis=1)
    return np.asarray(total % 10 == 0, dtype=bool)


_DETECTORS: dict[PersonalDataKind, Callable[[Any], NDArray[np.bool_]]] = {
    "email": _is_email,
    "phone": _is_phone,
    "us_ssn": _is_ssn,
    "uk_nino": _is_nino,
    "iban": _is_iban,
    "card": _is_card,
}
_INTEGER_KINDS: tuple[PersonalDataKind, ...] = ("card",)


def match_personal_data(
    values: Any, kinds: Sequence[PersonalDataKind] = PERSONAL_DATA_KINDS
) -> dict[PersonalDataKind, NDArray[np.bool_]]:
    """Return, for each kind, which of ``values`` look like that kind of personal data.

    Parameters
    ----------
    values : pyarrow array or sequence of str
        Text values; nulls never match.
    kinds : sequence of str
        Kinds to test, from :data:`PERSONAL_DATA_KINDS`.

    Returns
    -------
    dict
        Kind -> boolean mask of ``len(values)``.
    """
    strings = values if isinstance(values, pa.Array) else pa.array(list(values), type=pa.string())
    strings = pc.utf8_trim_whitespace(strings.cast(pa.string()))
    return {kind: _DETECTORS[kind](strings) for kind in _kinds(kinds)}


@timed
def personal_data(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    kinds: Sequence[PersonalDataKind] = PERSONAL_DATA_KINDS,
    status: Literal["warn", "fail"] = "warn",
    random_state: int = 0,
) -> CheckResult:
    """Flag columns whose values look like personal data.

    Parameters
    ----------
    data : table
        The data.
    columns : sequence of str, optional
        Columns to scan; all by default.
    threshold : float
        Share of a column's sampled non-missing values that must match one kind for the
        column to be flagged.
    sample_rows : int
        Rows sampled at random (all rows when the data is smaller).
    kinds : sequence of str
        Kinds to look for, from :data:`PERSONAL_DATA_KINDS`.
    status : {"warn", "fail"}
        Status when a column is flagged.
    random_state : int
        Seed of the row sample.

    Returns
    -------
    CheckResult
        ``warn`` (or ``fail``) naming each flagged column with its kind and share;
        ``value`` is the number of flagged columns. Evidence has, per scanned column, the
        sampled count and the matches per kind, and the columns skipped for their type.
    """
    _validate(threshold, sample_rows, status)
    wanted = _kinds(kinds)
    table = as_table(data)
    names = list(table.column_names if columns is None else columns)
    require_columns(table, names)
    sample = _sample(table.select(names), sample_rows, random_state)
    scanned: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    flagged: list[dict[str, Any]] = []
    for name in names:
        array = column_array(sample, name)
        column_kinds = _applicable(array, wanted)
        if not column_kinds:
            skipped[name] = str(array.type)
            continue
        present = array.filter(pa.array(~missing_mask(array)))
        counts = {
            kind: int(mask.sum())
            for kind, mask in match_personal_data(present.cast(pa.string()), column_kinds).items()
        }
        scanned[name] = {"sampled": len(present), "matches": {k: c for k, c in counts.items() if c}}
        best = max(counts, key=lambda kind: counts[kind])
        if len(present) and counts[best] / len(present) >= threshold:
            share = counts[best] / len(present)
            flagged.append(
                {
                    "column": name,
                    "kind": best,
                    "share": share,
                    "matched": counts[best],
                    "sampled": len(present),
                }
            )
    evidence = {
        "sample_rows": sample.num_rows,
        "rows": table.num_rows,
        "threshold": threshold,
        "kinds": list(wanted),
        "columns": scanned,
        "skipped": skipped,
        "flagged": flagged,
    }
    if not flagged:
        message = (
            f"no column looks like personal data "
            f"({len(scanned)} scanned on {sample.num_rows:,} sampled rows)"
        )
        return _result("pass", message, 0, threshold, evidence)
    parts = [
        f"'{item['column']}' ({item['kind']}, {item['share']:.0%} "
        f"of {item['sampled']:,} sampled values)"
        for item in flagged
    ]
    message = f"{len(flagged)} column(s) look like personal data: " + ", ".join(parts)
    return _result(status, message, len(flagged), threshold, evidence)


def _validate(threshold: float, sample_rows: int, status: str) -> None:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise InputError(ERR_THRESHOLD.format(value=threshold))
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise InputError(ERR_SAMPLE.format(value=sample_rows))
    if status not in ("warn", "fail"):
        raise InputError(ERR_STATUS.format(value=status))


def _kinds(kinds: Sequence[str]) -> tuple[PersonalDataKind, ...]:
    unknown = [kind for kind in kinds if kind not in PERSONAL_DATA_KINDS]
    if unknown:
        raise InputError(
            f"personal_data: unknown kind(s) {', '.join(map(repr, unknown))}; "
            f"valid kinds: {', '.join(PERSONAL_DATA_KINDS)}"
        )
    return tuple(kind for kind in PERSONAL_DATA_KINDS if kind in kinds)


def _applicable(array: Any, kinds: tuple[PersonalDataKind, ...]) -> tuple[PersonalDataKind, ...]:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return kinds
    if pa.types.is_integer(array.type):
        return tuple(kind for kind in kinds if kind in _INTEGER_KINDS)
    return ()


def _sample(table: Any, rows: int, random_state: int) -> Any:
    if table.num_rows <= rows:
        return table
    rng = np.random.default_rng(random_state)
    chosen = np.sort(rng.choice(table.num_rows, size=rows, replace=False))
    return table.take(pa.array(chosen))


def _result(
    status: Any, message: str, value: int, threshold: float, evidence: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        check="personal_data",
        category="data",
        status=status,
        message=message,
        value=value,
        threshold=threshold,
        evidence=evidence,
    )
