"""Whether the running environment matches the one a version was registered with.

The packages that decide what a model computes depend on its flavor (`FLAVOR_PACKAGES`).
`mismatches` compares their running versions with the version's recorded environment at the
precision the policy asks (``exact``, ``minor``: same major.minor, ``major``). A package the
version did not record is not compared (nothing to compare with); one recorded but not
installed is a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from packaging.version import InvalidVersion, Version

Match = Literal["exact", "minor", "major"]

FLAVOR_PACKAGES: Final[dict[str, tuple[str, ...]]] = {
    "sklearn": ("scikit-learn", "numpy", "scipy"),
    "xgboost": ("xgboost", "numpy"),
    "lightgbm": ("lightgbm", "numpy"),
    "onnx": ("onnxruntime", "numpy"),
}
# Distributions that install the same module under another name.
ALIASES: Final[dict[str, tuple[str, ...]]] = {"xgboost": ("xgboost", "xgboost-cpu")}


@dataclass(frozen=True, kw_only=True)
class Mismatch:
    """One package whose running version differs from the recorded one."""

    package: str
    recorded: str
    running: str | None

    def to_dict(self) -> dict[str, str | None]:
        """Return a JSON-safe dictionary."""
        return {"package": self.package, "recorded": self.recorded, "running": self.running}

    def __str__(self) -> str:
        running = self.running or "not installed"
        return f"{self.package} {running} (registered with {self.recorded})"


def packages_for(flavor: str, chosen: Sequence[str] = ()) -> tuple[str, ...]:
    """Return the packages compared for ``flavor`` (``chosen`` when the policy names them)."""
    return tuple(chosen) or FLAVOR_PACKAGES.get(flavor, ("numpy",))


def _recorded(recorded: Mapping[str, str], package: str) -> tuple[str, str] | None:
    for name in ALIASES.get(package, (package,)):
        if name in recorded:
            return name, recorded[name]
    return None


def _same(recorded: str, running: str, match: Match) -> bool:
    if match == "exact":
        return recorded == running
    try:
        a, b = Version(recorded), Version(running)
    except InvalidVersion:
        return recorded == running
    if match == "major":
        return a.major == b.major
    return (a.major, a.minor) == (b.major, b.minor)


def mismatches(
    *,
    recorded: Mapping[str, str],
    running: Mapping[str, str | None],
    packages: Sequence[str],
    match: Match = "minor",
) -> list[Mismatch]:
    """Return the packages of ``packages`` whose running version differs from the recorded one.

    ``running`` maps each package (and alias) to its installed version, None when absent.
    """
    out: list[Mismatch] = []
    for package in packages:
        found = _recorded(recorded, package)
        if found is None:
            continue
        name, version = found
        now = running.get(name) or next(
            (running[a] for a in ALIASES.get(package, ()) if running.get(a)), None
        )
        if now is None or not _same(version, now, match):
            out.append(Mismatch(package=name, recorded=version, running=now))
    return out
