"""Find what a pickle would import, without unpickling it.

Unpickling runs code: a pickle names callables by module and attribute (``GLOBAL``,
``STACK_GLOBAL``, ``INST``) and calls them (``REDUCE``, ``OBJ``, ``NEWOBJ``). Every call
target therefore arrives through an import, so listing the imports is enough to know what
a pickle can do. The stream is walked with :func:`pickletools.genops`, which decodes
opcodes and never executes them; a small stack simulation, driven by ``pickletools``' own
description of each opcode, resolves the module and name strings that ``STACK_GLOBAL``
takes from the stack (pushed directly or fetched from the memo). An import whose strings
cannot be resolved is reported, never assumed harmless.

Each import is classified:

``dangerous``
    On :data:`DENY`: process, shell, network, file, code-loading and reflection
    functions (``os.system``, ``subprocess.*``, ``builtins.eval``, ``builtins.getattr``,
    ``socket``, ``importlib``, ``pickle.loads``, ``numpy.load``, ...).
``safe``
    On :data:`ALLOW` (and not denied): data structures and numerical libraries whose
    objects ordinary fitted models are made of (numpy, scipy, scikit-learn, pandas,
    XGBoost / LightGBM models, ``collections`` containers, builtins' plain types).
``unknown``
    Anything else, including all of the registrant's own classes.

Containers are opened first: zip archives (torch- and skops-style; each ``.pkl``
member, anything starting like a pickle, object ``.npy`` arrays, nested zips) and gzip,
zlib, bz2 and xz/lzma streams (joblib's ``compress=``); lz4 and joblib's old zlib
container are recognised but not opened. Bytes that cannot be parsed or opened give an
``invalid`` finding; nothing raises.

Known limit: joblib writes numpy arrays' raw bytes in the middle of its pickle stream, so
an uncompressed joblib file holding arrays is scanned up to its first array and then
reported ``invalid`` (not fully scanned), which fails closed.
"""

from __future__ import annotations

import bz2
import fnmatch
import io
import lzma
import pickletools
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "ALLOW",
    "DENY",
    "FindingKind",
    "PickleFinding",
    "PickleImport",
    "PickleScan",
    "classify_import",
    "inspect_pickle",
    "is_pickle_container",
    "scan_pickle",
]

FindingKind = Literal["dangerous", "unknown", "invalid"]
ImportClass = Literal["safe", "dangerous", "unknown"]

DENY: tuple[str, ...] = (
    # processes, shells and the interpreter
    "os", "posix", "nt", "subprocess", "pty", "commands", "popen2", "platform", "sys",
    "signal", "multiprocessing", "concurrent", "threading", "_thread", "asyncio",
    "code", "codeop", "pdb", "bdb", "timeit", "trace", "profile", "cProfile",
    "runpy", "importlib", "imp", "zipimport", "pkgutil", "site", "ctypes", "_ctypes",
    "types", "marshal", "gc", "inspect",
    # builtins that evaluate, import, reflect or touch files
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__",
    "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.open",
    "builtins.input", "builtins.breakpoint", "builtins.globals", "builtins.locals",
    "builtins.vars", "builtins.help", "builtins.exit", "builtins.quit",
    "builtins.execfile", "builtins.file", "builtins.reload", "builtins.apply",
    "operator.attrgetter", "operator.methodcaller",
    "_operator.attrgetter", "_operator.methodcaller",
    # (de)serialisation that loads more code
    "pickle", "_pickle", "cPickle", "dill", "cloudpickle", "shelve", "copyreg.add_extension",
    "joblib.load", "joblib.dump", "joblib.numpy_pickle.load", "joblib.Parallel",
    "joblib.parallel", "torch.load", "torch.save", "torch.hub", "torch.jit",
    "torch.package", "torch.serialization", "torch.storage._load_from_bytes", "torch.ops",
    # files, network, browsers
    "io", "_io", "shutil", "tempfile", "glob", "fileinput", "socket", "_socket", "ssl",
    "select", "selectors", "http", "urllib", "urllib2", "urllib3", "requests", "httplib",
    "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc", "webbrowser",
    # the file, code and network corners of otherwise allowed libraries
    "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap",
    "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.savetxt",
    "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.lib.format", "numpy.lib._datasource",
    "numpy.DataSource", "numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.ctypeslib",
    "numpy.core._internal", "numpy._core._internal",
    "scipy.io", "scipy.datasets", "scipy._lib._testutils",
    "pandas.read_*", "pandas.to_pickle", "pandas.io", "pandas.eval", "pandas.core.computation",
    "pandas.util._tester",
    "sklearn.datasets", "sklearn.utils._testing", "sklearn.externals",
    "xgboost.tracker", "xgboost.collective", "xgboost.testing", "xgboost.dask", "xgboost.spark",
    "lightgbm.dask",
)  # fmt: skip
"""Imports reported as dangerous: a module (and everything in it), a qualified name, or a
``fnmatch`` pattern."""

ALLOW: tuple[str, ...] = (
    "builtins.set", "builtins.frozenset", "builtins.dict", "builtins.list", "builtins.tuple",
    "builtins.int", "builtins.float", "builtins.complex", "builtins.bool", "builtins.str",
    "builtins.bytes", "builtins.bytearray", "builtins.slice", "builtins.range",
    "builtins.object", "builtins.NotImplemented", "builtins.Ellipsis",
    "collections.OrderedDict", "collections.defaultdict", "collections.deque",
    "collections.Counter", "copyreg._reconstructor", "copyreg.__newobj__",
    "copyreg.__newobj_ex__", "_codecs.encode", "functools.partial",
    "datetime.date", "datetime.datetime", "datetime.time", "datetime.timedelta",
    "datetime.timezone", "decimal.Decimal", "fractions.Fraction", "uuid.UUID",
    "numpy", "scipy", "sklearn", "pandas", "xgboost", "lightgbm",
    "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle.NDArrayWrapper",
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter", "torch.*Storage", "torch.Size", "torch.device",
)  # fmt: skip
"""Imports considered safe unless also denied."""

# Python 2 names that protocol 0-2 pickles carry, as pickle maps them on load.
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}
_PICKLE_MAGIC = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
# Containers joblib writes that cannot be opened here: reported, never taken for safe.
_UNSUPPORTED_CONTAINERS = ((b"\x04\x22\x4d\x18", "lz4"), (b"ZF", "joblib zlib (pre-0.10)"))
_MAX_BYTES = 1 << 30  # decompressed or extracted bytes scanned per stream
_MAX_DEPTH = 3  # nested archives
_HEAD = 1 << 16

_STRING_OPS = frozenset(
    {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
     "BINUNICODE8"}
)  # fmt: skip
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
_MARK = object()


@dataclass(frozen=True, kw_only=True)
class PickleImport:
    """One callable or class a pickle would import.

    Attributes
    ----------
    module, name : str
        What would be imported: ``getattr(import_module(module), name)``.
    classification : str
        ``safe``, ``dangerous`` or ``unknown``.
    offset : int
        Byte offset of the opcode in its stream.
    member : str or None
        Archive member (nested members joined with ``!``), None for a bare stream.
    """

    module: str
    name: str
    classification: ImportClass
    offset: int
    member: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "module": self.module,
            "name": self.name,
            "classification": self.classification,
            "offset": self.offset,
            "member": self.member,
        }


@dataclass(frozen=True, kw_only=True)
class PickleFinding:
    """Something in a pickle that makes it unsafe or unknown to load.

    Attributes
    ----------
    kind : str
        ``dangerous`` (a denied import), ``unknown`` (an import not on the allow list, or
        one whose name cannot be resolved) or ``invalid`` (bytes that cannot be parsed).
    message : str
        One line for a person.
    module, name : str or None
        The import, when the finding is about one.
    offset : int or None
        Byte offset in the stream.
    member : str or None
        Archive member.
    """

    kind: FindingKind
    message: str
    module: str | None = None
    name: str | None = None
    offset: int | None = None
    member: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "kind": self.kind,
            "message": self.message,
            "module": self.module,
            "name": self.name,
            "offset": self.offset,
            "member": self.member,
        }


@dataclass(frozen=True, kw_only=True)
class PickleScan:
    """Everything found in a byte string: imports, findings and pickle streams scanned."""

    imports: tuple[PickleImport, ...]
    findings: tuple[PickleFinding, ...]
    streams: int


def classify_import(module: str, name: str) -> ImportClass:
    """Classify an import as ``dangerous``, ``safe`` or ``unknown`` (module docstring).

    Parameters
    ----------
    module, name : str
        The module and attribute a pickle names.

    Returns
    -------
    str
        Deny-list matches first, then allow-list matches, else ``unknown``.
    """
    module = _PY2_MODULES.get(module, module)
    full = f"{module}.{name}"
    if _listed(full, module, DENY):
        return "dangerous"
    if _listed(full, module, ALLOW):
        return "safe"
    return "unknown"


def scan_pickle(data: bytes) -> list[PickleFinding]:
    """Return what makes ``data`` unsafe to unpickle, without unpickling it.

    Parameters
    ----------
    data : bytes
        A pickle stream (protocol 0-5, possibly several in a row), a gzip / zlib / bz2 /
        xz stream of one, or a zip archive holding them.

    Returns
    -------
    list of PickleFinding
        Dangerous and unknown imports and unparseable bytes; empty when every import is
        on the allow list.
    """
    return list(inspect_pickle(data).findings)


def inspect_pickle(data: bytes) -> PickleScan:
    """Return every import and finding in ``data`` (see :func:`scan_pickle`)."""
    scanner = _Scanner()
    scanner.scan(bytes(data), member=None, depth=0)
    return PickleScan(
        imports=tuple(scanner.imports), findings=tuple(scanner.findings), streams=scanner.streams
    )


def is_pickle_container(data: bytes) -> bool:
    """Whether ``data`` starts like a pickle (protocol 2-5) or a compressed stream."""
    return data.startswith(_PICKLE_MAGIC) or _decompressor(data) is not None


class _Scanner:
    def __init__(self) -> None:
        self.imports: list[PickleImport] = []
        self.findings: list[PickleFinding] = []
        self.streams = 0

    def scan(self, data: bytes, *, member: str | None, depth: int) -> None:
        if data.startswith(_ZIP_MAGIC):
            self._scan_zip(data, member, depth)
            return
        decompress = _decompressor(data)
        if decompress is not None:
            kind, unpack = decompress
            try:
                plain = unpack(data)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                self._invalid(f"cannot decompress the {kind} stream: {exc}", member=member)
                return
            if plain is None:
                self._invalid(
                    f"the {kind} stream decompresses to more than {_MAX_BYTES:,} bytes",
                    member=member,
                )
                return
            self.scan(plain, member=member, depth=depth)
            return
        self._scan_stream(data, member)

    def _scan_stream(self, data: bytes, member: str | None) -> None:
        stream = io.BytesIO(data)
        while True:
            start = stream.tell()
            self.streams += 1
            if not self._scan_one(stream, member):
                return
            rest = data[stream.tell() :]
            # Another pickle may follow (torch's legacy format, several dumps to one file);
            # other trailing bytes are never read by the unpickler.
            if not rest.startswith(_PICKLE_MAGIC) or stream.tell() == start:
                return

    def _scan_one(self, stream: io.BytesIO, member: str | None) -> bool:
        """Scan one pickle up to STOP; return whether it ended cleanly."""
        stack: list[Any] = []
        memo: dict[int, Any] = {}
        try:
            for opcode, arg, offset in pickletools.genops(stream):
                position = offset if offset is not None else stream.tell()
                self._step(opcode, arg, position, stack, memo, member)
                if opcode.name == "STOP":
                    return True
        except _StackError as exc:
            self._invalid(f"malformed pickle: {exc}", member=member, offset=exc.offset)
            return False
        except Exception as exc:  # genops raises ValueError, struct.error, UnicodeDecodeError, ...
            self._invalid(f"cannot parse the pickle stream: {exc}", member=member)
            return False
        self._invalid("the pickle stream ends without a STOP opcode (truncated)", member=member)
        return False

    def _step(
        self,
        opcode: Any,
        arg: Any,
        offset: int,
        stack: list[Any],
        memo: dict[int, Any],
        member: str | None,
    ) -> None:
        name = opcode.name
        if name in _MEMO_PUT:
            memo[len(memo) if name == "MEMOIZE" else int(arg)] = stack[-1] if stack else None
            return
        if name in _MEMO_GET:
            stack.append(memo.get(int(arg)))
            return
        if name in _STRING_OPS:
            stack.append(arg if isinstance(arg, str) else None)
            return
        if name == "DUP":
            stack.append(stack[-1] if stack else None)
            return
        popped = _pop(stack, opcode.stack_before, offset)
        if name == "STACK_GLOBAL":
            module, attribute = popped[-2], popped[-1]
            self._import(module, attribute, offset, member)
        elif name in ("GLOBAL", "INST"):
            module, _, attribute = str(arg).partition(" ")
            self._import(module, attribute, offset, member)
        elif name in ("EXT1", "EXT2", "EXT4"):
            self._finding(
                "unknown",
                f"imports extension code {arg} from the copyreg registry",
                offset=offset,
                member=member,
            )
        for item in opcode.stack_after:
            stack.append(_MARK if item is pickletools.markobject else None)

    def _import(self, module: Any, attribute: Any, offset: int, member: str | None) -> None:
        if not isinstance(module, str) or not isinstance(attribute, str):
            self._finding(
                "unknown",
                "imports a callable whose name is computed at load time",
                offset=offset,
                member=member,
            )
            return
        module, attribute = module[:200], attribute[:200]
        kind = classify_import(module, attribute)
        self.imports.append(
            PickleImport(
                module=module, name=attribute, classification=kind, offset=offset, member=member
            )
        )
        if kind != "safe":
            what = (
                "a dangerous callable"
                if kind == "dangerous"
                else "a callable not on the allow list"
            )
            self._finding(
                kind,
                f"imports {what}: {module}.{attribute}",
                module=module,
                name=attribute,
                offset=offset,
                member=member,
            )

    def _scan_zip(self, data: bytes, member: str | None, depth: int) -> None:
        if depth >= _MAX_DEPTH:
            self._invalid("archives nested too deeply to scan", member=member)
            return
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            self._invalid(f"cannot read the zip archive: {exc}", member=member)
            return
        for info in infos:
            if info.is_dir():
                continue
            where = info.filename if member is None else f"{member}!{info.filename}"
            try:
                self._scan_member(archive, info, where, depth)
            except (
                zipfile.BadZipFile,
                OSError,
                EOFError,
                ValueError,
                zlib.error,
                NotImplementedError,
            ) as exc:
                self._invalid(f"cannot read the archive member: {exc}", member=where)

    def _scan_member(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, depth: int
    ) -> None:
        with archive.open(info) as handle:
            head = handle.read(_HEAD)
        if head.startswith(_NPY_MAGIC):
            self._scan_npy(archive, info, head, where)
            return
        named = info.filename.lower().endswith(_PICKLE_SUFFIXES)
        nested = head.startswith(_ZIP_MAGIC)
        if not (named or nested or is_pickle_container(head)):
            return
        if info.file_size > _MAX_BYTES:
            self._invalid(f"member of {info.file_size:,} bytes is too large to scan", member=where)
            return
        content = archive.read(info)
        if nested:
            self._scan_zip(content, where, depth + 1)
        else:
            self.scan(content, member=where, depth=depth + 1)

    def _scan_npy(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, head: bytes, where: str
    ) -> None:
        # numpy stores object arrays as a pickle after the header (np.load(allow_pickle=True)).
        header = io.BytesIO(head)
        try:
            version = np.lib.format.read_magic(header)
            reader = (
                np.lib.format.read_array_header_2_0
                if version == (2, 0)
                else np.lib.format.read_array_header_1_0
            )
            _, _, dtype = reader(header)
        except (ValueError, SyntaxError, TypeError) as exc:
            self._invalid(f"cannot read the .npy header: {exc}", member=where)
            return
        if dtype.hasobject:
            payload = archive.read(info)[header.tell() :]
            self._scan_stream(payload, where)

    def _finding(self, kind: FindingKind, message: str, **where: Any) -> None:
        self.findings.append(PickleFinding(kind=kind, message=message, **where))

    def _invalid(self, message: str, *, member: str | None, offset: int | None = None) -> None:
        self._finding("invalid", message, member=member, offset=offset)


class _StackError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _pop(stack: list[Any], before: list[Any], offset: int) -> list[Any]:
    if pickletools.markobject in before:
        marks = [i for i, item in enumerate(stack) if item is _MARK]
        if not marks:
            raise _StackError("an opcode pops to a MARK that is not on the stack", offset)
        popped = stack[marks[-1] :]
        del stack[marks[-1] :]
        count = before.index(pickletools.markobject)
    else:
        popped, count = [], len(before)
    if count > len(stack):
        raise _StackError("an opcode pops more items than the stack holds", offset)
    if count:
        popped = stack[-count:] + popped
        del stack[-count:]
    return popped


def _listed(full: str, module: str, entries: tuple[str, ...]) -> bool:
    for entry in entries:
        if "*" in entry:
            if fnmatch.fnmatchcase(full, entry):
                return True
        elif full == entry or full.startswith(entry + ".") or module == entry:
            return True
    return False


def _decompressor(data: bytes) -> tuple[str, Any] | None:
    if data.startswith(b"\x1f\x8b"):
        return "gzip", lambda raw: _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), raw)
    if len(data) > 1 and data[0] == 0x78 and (data[0] * 256 + data[1]) % 31 == 0:
        return "zlib", lambda raw: _inflate(zlib.decompressobj(), raw)
    if data.startswith(b"BZh"):
        return "bz2", lambda raw: _inflate(bz2.BZ2Decompressor(), raw)
    if data.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
        return "xz", lambda raw: _inflate(lzma.LZMADecompressor(), raw)
    for prefix, kind in _UNSUPPORTED_CONTAINERS:
        if data.startswith(prefix):
            return kind, _unsupported(kind)
    return None


def _unsupported(kind: str) -> Any:
    def refuse(raw: bytes) -> bytes:
        raise ValueError(f"govml has no {kind} decompressor")

    return refuse


def _inflate(decompressor: Any, raw: bytes) -> bytes | None:
    """Decompress at most :data:`_MAX_BYTES`; None when the output would be larger."""
    out = decompressor.decompress(raw, _MAX_BYTES + 1)
    if len(out) > _MAX_BYTES:
        return None
    return bytes(out)
