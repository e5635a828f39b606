"""Where a model came from: the code (git) and the Python environment it was registered in."""

from __future__ import annotations

import functools
import hashlib
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from govml.errors import ValidationError


def code_lineage(path: Path | None = None) -> dict[str, Any]:
    """Describe the git checkout containing ``path`` (default: the working directory).

    Returns ``{"git_commit", "git_dirty", "repository", "branch"}``, or ``{"git_commit": None,
    "reason": ...}`` when ``path`` is not inside a git repository or git is not installed.
    Untracked files do not make the tree dirty; changed tracked files do.
    """
    cwd = Path(path or Path.cwd())
    git = shutil.which("git")
    if git is None:
        return {"git_commit": None, "reason": "git is not installed"}
    head = _git(git, cwd, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD")
    if head is None:
        return {"git_commit": None, "reason": f"{cwd} is not in a git repository with commits"}
    top, commit, branch = [*head.splitlines(), "", "", ""][:3]
    status = _git(git, cwd, "status", "--porcelain", "--untracked-files=no")
    remote = _git(git, cwd, "config", "--get", "remote.origin.url")
    return {
        "git_commit": commit,
        "git_dirty": bool(status),
        "repository": remote or top,
        "branch": branch,
    }


def environment_lineage() -> dict[str, Any]:
    """Describe the running Python environment.

    ``packages`` maps every installed distribution to its version; ``lock_digest`` is the
    SHA-256 of the sorted ``name==version`` lines, so two environments with the same packages
    have the same digest. The scan is cached while no folder on ``sys.path`` changes (installing
    or removing a package changes its folder's modification time).
    """
    cached = _environment(_path_state())
    return {**cached, "packages": dict(cached["packages"])}


def _path_state() -> tuple[tuple[str, int], ...]:
    state = []
    for entry in sys.path:
        try:
            state.append((entry, Path(entry or ".").stat().st_mtime_ns))
        except OSError:
            continue
    return tuple(state)


@functools.lru_cache(maxsize=4)
def _environment(_state: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[_canonical(name)] = dist.version
    lines = "\n".join(f"{name}=={packages[name]}" for name in sorted(packages))
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages": dict(sorted(packages.items())),
        "lock_digest": "sha256:" + hashlib.sha256(lines.encode()).hexdigest(),
    }


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _git(git: str, cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git sub-commands, no shell
            [git, *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or ""


def check_environment(value: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an environment lineage sent by a remote client; return it with its digest.

    The ``lock_digest`` is recomputed from ``packages``, so it always describes the packages
    recorded. Raises `ValidationError` naming the field that is missing or mistyped.
    """
    packages = value.get("packages")
    if not isinstance(packages, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in packages.items()
    ):
        raise ValidationError("environment.packages: give an object of name -> version strings")
    for field in ("python", "implementation", "platform"):
        if not isinstance(value.get(field), str):
            raise ValidationError(f"environment.{field}: give a string")
    clean = {_canonical(k): v for k, v in packages.items()}
    lines = "\n".join(f"{name}=={clean[name]}" for name in sorted(clean))
    return {
        "python": value["python"],
        "implementation": value["implementation"],
        "platform": value["platform"],
        "packages": dict(sorted(clean.items())),
        "lock_digest": "sha256:" + hashlib.sha256(lines.encode()).hexdigest(),
    }


def check_code(value: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a code lineage sent by a remote client (the shape `code_lineage` returns)."""
    commit = value.get("git_commit")
    if commit is not None and (
        not isinstance(commit, str) or not 7 <= len(commit) <= 64 or not commit.isalnum()
    ):
        raise ValidationError("code.git_commit: give a hexadecimal commit id or null")
    allowed = {"git_commit", "git_dirty", "repository", "branch", "reason"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValidationError(f"code.{unknown[0]}: unknown field; use {', '.join(sorted(allowed))}")
    for field in ("repository", "branch", "reason"):
        if value.get(field) is not None and not isinstance(value[field], str):
            raise ValidationError(f"code.{field}: give a string")
    if value.get("git_dirty") is not None and not isinstance(value["git_dirty"], bool):
        raise ValidationError("code.git_dirty: give true or false")
    return dict(value)
