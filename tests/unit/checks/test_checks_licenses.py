"""License normalisation to SPDX and the allow / deny rule, on installed packages."""

from __future__ import annotations

import pytest

from govml.checks import license_check
from govml.checks.security import package_license
from govml.checks.security.licenses import normalise_license
from govml.errors import InputError

MIT_TEXT = """Copyright (c) 2020 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy ..."""
BSD3_TEXT = """Copyright (c) 2001 Someone
Redistribution and use in source and binary forms, with or without modification, are
permitted ... Neither the name of the copyright holder nor the names of its contributors
may be used to endorse or promote products ..."""


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"expression": "mit OR apache-2.0"}, ("MIT OR Apache-2.0", "License-Expression")),
        ({"text": "Apache 2.0"}, ("Apache-2.0", "License")),
        ({"text": "Apache License, Version 2.0"}, ("Apache-2.0", "License")),
        ({"text": "BSD 3-Clause License\n\nCopyright ..."}, ("BSD-3-Clause", "License")),
        ({"text": "new BSD"}, ("BSD-3-Clause", "License")),
        ({"text": "PSFL"}, ("PSF-2.0", "License")),
        ({"text": "LGPLv3+"}, ("LGPL-3.0-or-later", "License")),
        ({"text": "MPL-2.0 AND MIT"}, ("MPL-2.0 AND MIT", "License")),
        (
            {
                "classifiers": [
                    "License :: OSI Approved :: MIT License",
                    "License :: OSI Approved :: Apache Software License",
                ]
            },
            ("MIT OR Apache-2.0", "classifiers"),
        ),
        (
            {"classifiers": ["License :: OSI Approved :: GNU Affero General Public License v3"]},
            ("AGPL-3.0-only", "classifiers"),
        ),
        ({"text": MIT_TEXT}, ("MIT", "License text")),
        (
            {"text": BSD3_TEXT, "classifiers": ["License :: OSI Approved :: BSD License"]},
            ("BSD-3-Clause", "License text"),
        ),
        ({"text": "BSD", "classifiers": ["License :: OSI Approved :: BSD License"]}, (None, None)),
        ({"text": "Proprietary"}, (None, None)),
    ],
)
def test_normalisation(fields: dict, expected: tuple) -> None:
    assert normalise_license(**fields) == expected


def test_installed_metadata_is_read() -> None:
    numpy = package_license("numpy")
    assert numpy.installed and numpy.license and "BSD-3-Clause" in numpy.license
    assert package_license("PyYAML", "6.0").license == "MIT"
    missing = package_license("no-such-package-anywhere", "1.0")
    assert (missing.installed, missing.license) == (None, None)


def test_or_needs_one_acceptable_alternative_and_needs_all() -> None:
    # packaging is "Apache-2.0 OR BSD-2-Clause".
    assert package_license("packaging").license == "Apache-2.0 OR BSD-2-Clause"
    assert license_check(["packaging"], deny=["Apache-2.0"]).status == "pass"
    denied = license_check(["packaging"], deny=["Apache-2.0", "BSD-2-Clause"])
    assert denied.status == "fail" and denied.evidence["denied"] == ["packaging"]
    # numpy's expression joins several licenses with AND: all of them must be allowed.
    assert license_check(["numpy"], allow=["BSD-3-Clause", "MIT"]).evidence["not_allowed"] == [
        "numpy"
    ]
    allowed = license_check(["numpy"], allow=["BSD-3-Clause", "0BSD", "MIT", "Zlib", "CC0-1.0"])
    assert allowed.status == "pass"


def test_deny_patterns_and_the_unknown_rule() -> None:
    packages = {"pyyaml": "6.0.1", "no-such-package-anywhere": "1.0"}
    result = license_check(packages, deny=["GPL-*", "AGPL-*"])
    assert result.status == "pass" and result.evidence["unknown"] == ["no-such-package-anywhere"]
    warned = license_check(packages, allow=["MIT"])
    assert warned.status == "warn" and "unknown license" in warned.message
    assert license_check({"pyyaml": "6.0.1"}, deny=["mit"]).status == "fail"  # ids ignore case


def test_invalid_entries_are_usage_errors() -> None:
    with pytest.raises(InputError, match="'Apache 2' is not an SPDX license id"):
        license_check(["numpy"], allow=["Apache 2"])
