"""YAML text to plain data, with the line and column of every key and value.

PyYAML's composer gives nodes with positions; building the data from them here (instead of
``yaml.safe_load``) keeps the positions and catches what ``safe_load`` lets through
silently: a key given twice (it keeps the last), a key YAML reads as a boolean or number
(``on:``, ``1:``), an alias that refers to itself, and aliases that expand into
millions of values. Scalars are built by PyYAML's
``SafeConstructor``, so values mean what they mean in YAML 1.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from govml.policy import messages as msg
from govml.policy._base import describe_value
from govml.policy.diagnostics import Path

MAX_DEPTH = 40
MAX_VALUES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SINGLE_DOCUMENT = "expected a single document in the stream"


@dataclass(frozen=True, order=True)
class Mark:
    """A position in the text, counted from 1."""

    line: int
    column: int

    @classmethod
    def of(cls, node: Node) -> Mark:
        """Return the position where ``node`` starts."""
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass(frozen=True, kw_only=True)
class Problem:
    """Something wrong in the YAML itself, at a position and a field path."""

    mark: Mark
    path: Path
    message: str


class YamlSyntaxError(Exception):
    """The text is not one well-formed YAML document; ``problem`` says where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class YamlTree:
    """The data of a document and where each part of it was written."""

    data: Any = None
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: set[Path] = field(default_factory=set)
    """Paths whose value could not be read; later errors at or below them are redundant."""


def compose(text: str) -> Node | None:
    """Return the document's root node, or None when the text holds no document.

    Raises
    ------
    YamlSyntaxError
        When the text is not well-formed YAML or holds more than one document.
    """
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise YamlSyntaxError(_marked_problem(exc)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problem = msg.ERR_YAML.format(problem=_reader_problem(exc))
        raise YamlSyntaxError(Problem(mark=Mark(line, column), path=(), message=problem)) from None


def _marked_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
    if isinstance(exc, ComposerError) and exc.context == _SINGLE_DOCUMENT:
        return Problem(mark=where, path=(), message=msg.ERR_MULTIPLE_DOCUMENTS)
    text = msg.ERR_YAML.format(problem=exc.problem or exc.context or "malformed YAML")
    context = exc.context_mark
    if exc.problem and exc.context and context is not None:
        text += msg.ERR_YAML_CONTEXT.format(
            context=exc.context, line=context.line + 1, column=context.column + 1
        )
    return Problem(mark=where, path=(), message=text)


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    if isinstance(exc.character, int):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    return str(exc.reason)


class _Builder:
    """Build data from nodes, recording positions and problems in a `YamlTree`."""

    def __init__(self, tree: YamlTree) -> None:
        self.tree = tree
        self.constructor = SafeConstructor()
        self.count = 0
        self.open: set[int] = set()  # collections being built: an alias to one is a loop

    def value(self, node: Node, path: Path, depth: int) -> Any:
        self.tree.values.setdefault(path, Mark.of(node))
        self.count += 1
        if id(node) in self.open:
            return self._broken(node, path, msg.ERR_ALIAS_LOOP)
        if depth > MAX_DEPTH or self.count > MAX_VALUES:
            text = (
                msg.ERR_TOO_DEEP.format(limit=MAX_DEPTH)
                if depth > MAX_DEPTH
                else msg.ERR_TOO_MANY.format(limit=MAX_VALUES)
            )
            raise YamlSyntaxError(Problem(mark=Mark.of(node), path=(), message=text))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path, depth)
            return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def scalar(self, node: Node, path: Path) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            if node.tag.startswith("!"):
                return self._broken(node, path, msg.ERR_UNKNOWN_TAG.format(tag=node.tag))
            return self._broken(node, path, msg.ERR_BAD_SCALAR.format(problem=exc.problem))
        except ValueError as exc:  # a timestamp or number YAML recognised but cannot build
            return self._broken(node, path, msg.ERR_BAD_SCALAR.format(problem=exc))

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        first: dict[str, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge(value_node, path, depth))
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            here = Mark.of(key_node)
            if key in first:
                where = first[key]
                text = msg.ERR_DUPLICATE_KEY.format(key=key, line=where.line, column=where.column)
                self.tree.problems.append(Problem(mark=here, path=child, message=text))
                continue
            first[key] = here
            self.tree.keys[child] = here
            out[key] = self.value(value_node, child, depth + 1)
        return {**merged, **out}

    def _merge(self, node: Node, path: Path, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in sources:
            data = self.value(source, path, depth + 1)
            if isinstance(data, dict):
                merged.update(data)
        return merged

    def _key(self, node: Node, path: Path) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
            return str(node.value)
        if isinstance(node, ScalarNode):
            try:
                kind = describe_value(self.constructor.construct_object(node, deep=True))
            except (ConstructorError, ValueError):
                kind = f"a value tagged {node.tag}"
            shown = node.value
        else:
            kind, shown = ("a mapping" if isinstance(node, MappingNode) else "a list"), "..."
        text = msg.ERR_KEY_NOT_STRING.format(key=shown, kind=kind)
        self.tree.problems.append(Problem(mark=Mark.of(node), path=path, message=text))
        return None

    def _broken(self, node: Node, path: Path, message: str) -> None:
        self.tree.problems.append(Problem(mark=Mark.of(node), path=path, message=message))
        self.tree.broken.add(path)


def build(root: Node) -> YamlTree:
    """Return the data of the document rooted at ``root``, with positions and problems.

    Raises
    ------
    YamlSyntaxError
        When the document nests deeper than `MAX_DEPTH` levels or its aliases expand into
        more than `MAX_VALUES` values.
    """
    tree = YamlTree()
    tree.data = _Builder(tree).value(root, (), 0)
    return tree
