"""The remote client covers the whole SDK, and errors survive the trip over HTTP."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from fastapi import UploadFile

import govml
from govml import errors
from govml.client import Client
from govml.client_protocol import GovmlClient
from govml.policy.diagnostics import Diagnostic, InvalidPolicyError
from govml.remote import RemoteClient, _segment
from govml.server.uploads import save_upload
from govml.settings import load_settings
from govml.wire import error_body, error_from_body, status_for

REMOTE_ONLY = {"send_prediction_log"}
"""What only a client of a server does: a gateway in client mode sends its log files."""


def _public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name in ("__enter__", "__exit__")
    }


def test_both_clients_implement_the_protocol_and_nothing_else() -> None:
    promised = _public_methods(GovmlClient)
    assert promised
    assert _public_methods(Client) == promised
    assert _public_methods(RemoteClient) - REMOTE_ONLY == promised
    assert Client.__mro__[1:] == (object,) and RemoteClient.__mro__[1:] == (object,)


@pytest.mark.parametrize("cls", [Client, RemoteClient], ids=lambda c: c.__name__)
def test_every_method_has_the_signature_of_the_protocol(cls: type) -> None:
    for name in _public_methods(GovmlClient):
        promised = inspect.signature(getattr(GovmlClient, name))
        given = inspect.signature(getattr(cls, name))
        assert given == promised, f"{cls.__name__}.{name}{given} is not {name}{promised}"


def test_remote_client_opens_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVML_SERVER", "http://127.0.0.1:9/")
    monkeypatch.setenv("GOVML_TOKEN", "govml_x_y")
    remote = govml.connect()
    assert isinstance(remote, RemoteClient) and isinstance(remote, GovmlClient)
    assert remote.server == "http://127.0.0.1:9"
    remote.close()
    assert not (tmp_path / ".govml").exists()
    local = govml.connect(tmp_path / "home", create=True)
    assert type(local) is Client and isinstance(local, GovmlClient)
    local.close()


SAMPLES: list[errors.GovmlError] = [
    errors.AuthenticationError("token expired on 2026-01-01", hint="ask an admin"),
    errors.ForbiddenError("vic (viewer) may not promote"),
    errors.NotFoundError("model 'x' does not exist"),
    errors.AlreadyExistsError("model 'x' already exists"),
    errors.GateError("credit@1 cannot take production", missing=["no evaluation", "1 approval"]),
    errors.PolicyError("conflict", problems=["a: b"], hint="use --replace"),
    errors.ValidationError("invalid risk tier 'hihg'", hint="did you mean 'high'?"),
    errors.InputError("give --policy"),
    errors.IntegrityError("evaluation 3 was changed"),
    errors.LedgerVerificationError("entry 7 does not match", seq=7),
    errors.UnsafeArtifactError("refused"),
    errors.FlavorError("not a model"),
    errors.SchemaVersionError("too new"),
    errors.StoreError("database down"),
    errors.ConfigurationError("GOVML_X: bad"),
    InvalidPolicyError(
        "p.yaml",
        [Diagnostic(file="p.yaml", line=3, column=5, path="tiers[0]", message="unknown tier")],
    ),
]


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_errors_round_trip_with_class_message_and_exit_code(error: errors.GovmlError) -> None:
    rebuilt = error_from_body(status_for(error), error_body(error))
    assert type(rebuilt) is type(error)
    assert rebuilt.diagnostics() == error.diagnostics()
    assert rebuilt.exit_code == error.exit_code


def test_status_codes() -> None:
    statuses = {type(e).__name__: status_for(e) for e in SAMPLES}
    assert statuses == {
        "AuthenticationError": 401,
        "ForbiddenError": 403,
        "NotFoundError": 404,
        "AlreadyExistsError": 409,
        "GateError": 409,
        "PolicyError": 422,
        "ValidationError": 422,
        "InputError": 422,
        "IntegrityError": 409,
        "LedgerVerificationError": 409,
        "UnsafeArtifactError": 422,
        "FlavorError": 422,
        "SchemaVersionError": 503,
        "StoreError": 503,
        "ConfigurationError": 500,
        "InvalidPolicyError": 422,
    }


def test_an_unknown_error_type_falls_back_on_the_status() -> None:
    body = {"error": {"type": "SomethingNew", "message": "no", "hint": None}}
    assert type(error_from_body(403, body)) is errors.ForbiddenError
    assert type(error_from_body(418, body)) is errors.GovmlError
    proxy = error_from_body(502, "<html>bad gateway</html>")
    assert isinstance(proxy, errors.StoreError) and "HTTP 502" in proxy.message


def test_uploaded_file_names_cannot_leave_the_upload_folder(tmp_path: Path) -> None:
    import io

    folder = tmp_path / "uploads"
    folder.mkdir()
    for name, expected in [
        ("../../escape.skops", "escape.skops"),
        ("/etc/passwd", "passwd"),
        ("..", "artifact"),
        ("", "artifact"),
        ("a b;rm -rf.onnx", "a_b_rm_-rf.onnx"),
    ]:
        upload = UploadFile(io.BytesIO(b"x"), filename=name)
        path = save_upload(upload, folder, "artifact")
        assert path.parent == folder and path.name == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]


def test_references_stay_one_path_segment() -> None:
    assert _segment("credit@3") == "credit@3"
    assert _segment("../x") == "..%2Fx"
    assert _segment("a b?c#d") == "a%20b%3Fc%23d"


def test_settings_need_a_server_and_a_token() -> None:
    with pytest.raises(errors.ConfigurationError, match="GOVML_TOKEN"):
        RemoteClient(load_settings(server="http://127.0.0.1:9"))
    with pytest.raises(errors.ConfigurationError, match="GOVML_SERVER"):
        RemoteClient(load_settings(token="t"))
