"""Read a policy file: bytes to text, text to YAML nodes with positions, nodes to a `Policy`.

Every problem found is reported at once, each with ``file:line:column``, the field path and
the closest valid name where one exists; the whole list is raised as one
`InvalidPolicyError`. Problems that stop the reading early (the file is not UTF-8, not
YAML, empty, not a mapping, or not a ``govml/v1`` ``Policy``) are reported alone, since
what follows them cannot be read as a policy.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path as FilePath
from typing import Any, Literal

import pydantic
from yaml.nodes import MappingNode, ScalarNode

from govml.errors import PolicyError
from govml.policy import messages as msg
from govml.policy._base import describe_value
from govml.policy._locate import Located, locate
from govml.policy._yaml import Mark, Problem, YamlSyntaxError, YamlTree, build, compose
from govml.policy.diagnostics import Diagnostic, InvalidPolicyError, Path, format_path
from govml.policy.notes import policy_notes
from govml.policy.schema import API_VERSION, KIND, Policy

_START = Mark(1, 1)
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True, kw_only=True)
class LoadedPolicy:
    """A validated policy with the text it was read from, its digest and any notes."""

    source: str
    text: str
    policy: Policy
    digest: str
    notes: tuple[Diagnostic, ...] = ()

    @property
    def name(self) -> str:
        """The policy's name."""
        return self.policy.name

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary (the shape of ``govml policy validate --json``)."""
        return {
            "valid": True,
            "file": self.source,
            "name": self.name,
            "digest": self.digest,
            "tiers": list(self.policy.tiers),
            "problems": [],
            "notes": [note.to_dict() for note in self.notes],
        }


def load_policy(path: str | PathLike[str]) -> LoadedPolicy:
    """Read and validate the policy file at ``path``.

    Raises
    ------
    InvalidPolicyError
        Listing every problem of the file, each with its position.
    PolicyError
        When the file does not exist or cannot be read.
    """
    source = str(path)
    file = FilePath(path)
    if not file.is_file():
        raise PolicyError(msg.ERR_FILE_MISSING.format(path=source))
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise PolicyError(
            msg.ERR_FILE_UNREADABLE.format(path=source, reason=exc.strerror)
        ) from None
    return parse_policy(data, source=source)


def parse_policy(content: str | bytes, *, source: str = "<string>") -> LoadedPolicy:
    """Validate a policy given as text (or UTF-8 bytes); ``source`` names it in diagnostics.

    Raises
    ------
    InvalidPolicyError
        Listing every problem, each with its position.
    """
    text = _decode(content, source) if isinstance(content, bytes) else content
    text = text.removeprefix("\ufeff")
    tree = _tree(text, source)
    problems = _header_problems(tree)
    if not problems:
        problems = list(tree.problems)
        policy = _validate(tree, problems)
        if policy is not None and not problems:
            notes = _diagnostics(
                source, tree, [Located(path=p, message=m) for p, m in policy_notes(policy)], "note"
            )
            return LoadedPolicy(
                source=source, text=text, policy=policy, digest=policy.digest(), notes=notes
            )
    errors = sorted(
        (_diagnostic(source, problem) for problem in problems),
        key=lambda d: (d.line, d.column),
    )
    raise InvalidPolicyError(source, errors)


def policy_problems(
    loaded: LoadedPolicy, problems: Iterable[tuple[Path, str]]
) -> InvalidPolicyError:
    """Return an error naming ``problems`` of a valid policy at their positions in its text.

    For what only shows when a policy is used: a performance metric that does not apply
    to the evaluated model, say. Each problem is ``(field path, message)``.
    """
    tree = _tree(loaded.text, loaded.source)
    found = [Located(path=path, message=message) for path, message in problems]
    errors = sorted(
        _diagnostics(loaded.source, tree, found, "error"), key=lambda d: (d.line, d.column)
    )
    return InvalidPolicyError(loaded.source, errors)


def _decode(data: bytes, source: str) -> str:
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        problem = Problem(
            mark=Mark(before.count(b"\n") + 1, column),
            path=(),
            message=msg.ERR_NOT_UTF8.format(byte=data[exc.start]),
        )
        raise InvalidPolicyError(source, [_diagnostic(source, problem)]) from None


def _tree(text: str, source: str) -> YamlTree:
    try:
        root = compose(text)
        if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
            raise YamlSyntaxError(Problem(mark=_START, path=(), message=msg.ERR_EMPTY))
        tree = build(root)
    except YamlSyntaxError as exc:
        raise InvalidPolicyError(source, [_diagnostic(source, exc.problem)]) from None
    if not isinstance(root, MappingNode):
        text_kind = describe_value(tree.data)
        wrong = Problem(
            mark=Mark.of(root), path=(), message=msg.ERR_NOT_MAPPING.format(kind=text_kind)
        )
        raise InvalidPolicyError(source, [_diagnostic(source, wrong)])
    return tree


def _header_problems(tree: YamlTree) -> list[Problem]:
    problems: list[Problem] = []
    for field, expected, template in (
        ("apiVersion", API_VERSION, msg.ERR_API_VERSION),
        ("kind", KIND, msg.ERR_KIND),
    ):
        if field not in tree.data:
            text = msg.ERR_HEADER_MISSING.format(name=field, expected=expected)
            problems.append(Problem(mark=tree.values.get((), _START), path=(), message=text))
        elif tree.data[field] != expected:
            text = template.format(value=tree.data[field])
            problems.append(Problem(mark=tree.values[(field,)], path=(field,), message=text))
    return problems


def _validate(tree: YamlTree, problems: list[Problem]) -> Policy | None:
    try:
        return Policy.model_validate(tree.data)
    except pydantic.ValidationError as exc:
        for error in exc.errors(include_url=False):
            for found in locate(Policy, error):
                if not _below_broken(found.path, tree.broken):
                    problems.append(_problem(tree, found))
        return None


def _below_broken(path: Path, broken: set[Path]) -> bool:
    return any(path[: len(b)] == b for b in broken)


def _problem(tree: YamlTree, found: Located) -> Problem:
    return Problem(
        mark=_mark(tree, found.path, at_key=found.at_key), path=found.path, message=found.message
    )


def _mark(tree: YamlTree, path: Path, *, at_key: bool) -> Mark:
    if at_key and path in tree.keys:
        return tree.keys[path]
    for end in range(len(path), 0, -1):
        if path[:end] in tree.values:
            return tree.values[path[:end]]
    return tree.values.get((), _START)


def _diagnostic(
    source: str, problem: Problem, severity: Literal["error", "note"] = "error"
) -> Diagnostic:
    return Diagnostic(
        file=source,
        line=problem.mark.line,
        column=problem.mark.column,
        path=format_path(problem.path),
        message=problem.message,
        severity=severity,
    )


def _diagnostics(
    source: str, tree: YamlTree, found: Iterable[Located], severity: Literal["error", "note"]
) -> tuple[Diagnostic, ...]:
    return tuple(_diagnostic(source, _problem(tree, f), severity) for f in found)
