"""Stored policies on SQLite and PostgreSQL: versions, tiers in force, the ledger, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

import govml
from govml.cli.main import invoke
from govml.errors import IntegrityError, NotFoundError, PolicyError, ValidationError
from govml.policy import InvalidPolicyError
from govml.services.policy import verify_policy_records

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"

CREDIT = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: credit}
tiers: [high, limited]
performance:
  - {metric: roc_auc, min: 0.8}
approvals: {required: 1}
"""


def write(folder: Path, text: str, name: str = "policy.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def applied_entries(client: govml.Client) -> list[dict[str, object]]:
    return [e.payload for e in client.audit_log(action="policy.applied")]


def raw(client: govml.Client, sql: str, **params: object) -> None:
    with client.ctx.store.write() as conn:
        conn.execute(sa.text(sql), params)


def verify(client: govml.Client) -> int:
    with client.ctx.store.read() as conn:
        return verify_policy_records(conn)


def drop_policy_triggers(client: govml.Client) -> None:
    if client.ctx.store.dialect == "sqlite":
        raw(client, "DROP TRIGGER policies_no_update")
        raw(client, "DROP TRIGGER policies_no_delete")
    else:
        raw(client, "DROP TRIGGER policies_append_only ON policies")


def test_apply_stores_a_version_and_a_ledger_entry(client: govml.Client, tmp_path: Path) -> None:
    result = client.apply_policy(write(tmp_path, CREDIT))
    assert (result.new_version, result.changed) == (True, True)
    stored = result.policy
    assert (stored.name, stored.version, stored.in_force_for) == ("credit", 1, ("limited", "high"))
    assert stored.source == CREDIT and stored.created_by == "alice"
    (payload,) = applied_entries(client)
    assert payload == {
        "name": "credit",
        "version": 1,
        "digest": stored.digest,
        "source_digest": payload["source_digest"],
        "tiers": ["limited", "high"],
        "replaced": {},
        "released": [],
    }
    assert verify(client) == 1
    client.verify_ledger()


def test_the_same_content_is_not_stored_again(client: govml.Client, tmp_path: Path) -> None:
    first = client.apply_policy(write(tmp_path, CREDIT))
    reformatted = "# same policy, other layout\n" + CREDIT.replace(
        "metadata: {name: credit}", "metadata:\n  name: credit\n  description: ''"
    ).replace("tiers: [high, limited]", "tiers: [limited, high]")
    again = client.apply_policy(write(tmp_path, reformatted, "other.yaml"))
    assert (again.new_version, again.changed) == (False, False)
    assert again.policy.version == 1 and again.policy.digest == first.policy.digest
    assert "unchanged and already in force; nothing was stored" in again.summary()
    assert len(applied_entries(client)) == 1
    assert client.get_policy("credit").source == CREDIT  # the first text is kept


def test_changed_content_is_a_new_version(client: govml.Client, tmp_path: Path) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    second = client.apply_policy(write(tmp_path, CREDIT.replace("0.8}", "0.82}")))
    assert (second.new_version, second.policy.version) == (True, 2)
    assert client.get_policy("credit").version == 2
    old = client.get_policy("credit", version=1)
    assert old.version == 1 and old.latest_version == 2 and old.in_force_for == ()
    assert old.policy.performance[0].min == 0.8
    assert client.policy_for_tier("high") == client.get_policy("credit")
    assert [p["version"] for p in applied_entries(client)] == [1, 2]
    assert verify(client) == 2


def test_a_new_version_releases_the_tiers_it_no_longer_names(
    client: govml.Client, tmp_path: Path
) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    result = client.apply_policy(write(tmp_path, CREDIT.replace("[high, limited]", "[high]")))
    assert result.released == ("limited",)
    assert client.policy_for_tier("limited") is None
    assert applied_entries(client)[-1]["released"] == ["limited"]
    assert verify(client) == 2


def test_another_policy_for_a_governed_tier_is_refused_without_replace(
    client: govml.Client, tmp_path: Path
) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    other = CREDIT.replace("name: credit", "name: strict").replace("[high, limited]", "[high]")
    path = write(tmp_path, other, "strict.yaml")
    with pytest.raises(PolicyError) as info:
        client.apply_policy(path)
    assert info.value.message == ("policy 'credit' (version 1) governs high; nothing was applied")
    assert "--replace" in info.value.diagnostics()
    assert [p.name for p in client.list_policies()] == ["credit"]
    assert len(applied_entries(client)) == 1

    result = client.apply_policy(path, replace=True)
    assert result.replaced == {"high": "credit"}
    assert client.get_policy(tier="high").name == "strict"
    assert client.get_policy("credit").in_force_for == ("limited",)
    assert applied_entries(client)[-1]["replaced"] == {"high": "credit"}
    assert verify(client) == 2

    # Applying the first policy again (same content) takes the tier back, without a version.
    back = client.apply_policy(write(tmp_path, CREDIT), replace=True)
    assert (back.new_version, back.changed, back.replaced) == (False, True, {"high": "strict"})
    assert client.get_policy(tier="high").name == "credit"
    assert client.get_policy("strict").in_force_for == ()
    assert verify(client) == 2


def test_show_and_list(client: govml.Client) -> None:
    client.apply_policy(EXAMPLES / "credit-high-risk.yaml")
    client.apply_policy(EXAMPLES / "low-risk.yaml")
    listed = client.list_policies()
    assert [(p.name, p.in_force_for) for p in listed] == [
        ("credit-high-risk", ("high",)),
        ("low-risk", ("minimal", "limited")),
    ]
    shown = client.get_policy(tier="limited")
    assert shown.name == "low-risk"
    data = shown.to_dict()
    assert data["document"]["apiVersion"] == "govml/v1" and data["source"].startswith("# Policy")
    assert client.policy_for_tier("unacceptable") is None


def test_reading_errors(client: govml.Client, tmp_path: Path) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    with pytest.raises(NotFoundError, match="policy 'credt' does not exist") as info:
        client.get_policy("credt")
    assert info.value.hint == "did you mean 'credit'?"
    with pytest.raises(NotFoundError, match="has no version 4 \\(the newest is version 1\\)"):
        client.get_policy("credit", version=4)
    with pytest.raises(NotFoundError, match="no policy governs tier 'minimal'"):
        client.get_policy(tier="minimal")
    with pytest.raises(ValidationError, match="invalid risk tier 'hihg'") as invalid:
        client.get_policy(tier="hihg")
    assert invalid.value.hint == "did you mean 'high'?"
    with pytest.raises(PolicyError, match="give a policy name or a tier"):
        client.get_policy()


def test_an_invalid_file_stores_nothing(client: govml.Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicyError):
        client.apply_policy(write(tmp_path, CREDIT.replace("roc_auc", "roc_acu")))
    assert client.list_policies() == []
    assert applied_entries(client) == []


def test_stored_policy_versions_are_append_only(client: govml.Client, tmp_path: Path) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    for statement in ("UPDATE policies SET digest = 'x'", "DELETE FROM policies"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            raw(client, statement)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "UPDATE policies SET content = replace(content, '0.8', '0.5')",
            "policy credit version 1 was changed after it was applied: its content hashes to",
        ),
        (
            "UPDATE policies SET source = replace(source, '0.8', '0.5')",
            "its YAML source hashes to",
        ),
        ("UPDATE policies SET digest = 'sha256:00'", "its recorded digest is sha256:00"),
        (
            "UPDATE policy_tiers SET policy_id = (SELECT id FROM policies WHERE name = 'other') "
            "WHERE tier = 'high'",
            "tier 'high' is governed by policy other version 1 in the database but by policy "
            "credit version 1 per the ledger",
        ),
        ("DELETE FROM policy_tiers WHERE tier = 'limited'", "tier 'limited' is governed by no"),
        (
            "INSERT INTO policies (name, version, digest, content, source, source_name, "
            "created_at, created_by) SELECT name, 2, digest, content, source, source_name, "
            "created_at, created_by FROM policies WHERE name = 'credit'",
            "policy credit version 2 has no policy.applied ledger entry",
        ),
    ],
    ids=["content", "source", "digest", "tier moved", "tier released", "version inserted"],
)
def test_policies_changed_behind_govmls_back_are_detected(
    client: govml.Client, tmp_path: Path, sql: str, message: str
) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    other = CREDIT.replace("name: credit", "name: other").replace("[high, limited]", "[minimal]")
    client.apply_policy(write(tmp_path, other, "other.yaml"))
    assert verify(client) == 2
    drop_policy_triggers(client)
    raw(client, sql)
    with pytest.raises(IntegrityError, match=message.replace("(", "\\(").replace(")", "\\)")):
        verify(client)


def test_a_deleted_policy_version_is_detected(client: govml.Client, tmp_path: Path) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    client.apply_policy(write(tmp_path, CREDIT.replace("0.8}", "0.9}")))
    drop_policy_triggers(client)
    raw(client, "DELETE FROM policies WHERE version = 1")
    with pytest.raises(
        IntegrityError, match="policy credit version 1 is in the ledger but missing"
    ):
        verify(client)


# -- the command line ----------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_apply_show_list(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    home: Path,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_USER", "bob")
    store = ["--store", db_url]
    path = str(write(tmp_path, CREDIT))

    code, out, _ = run(capsys, *store, "policy", "apply", path, "--json")
    applied = json.loads(out)
    assert code == 0 and applied["new_version"] is True and applied["version"] == 1
    code, out, _ = run(capsys, *store, "policy", "apply", path)
    assert code == 0 and "unchanged and already in force" in out

    other = write(tmp_path, CREDIT.replace("name: credit", "name: other"), "other.yaml")
    code, _, err = run(capsys, *store, "policy", "apply", str(other))
    assert code == 2
    assert "error: policy 'credit' (version 1) governs limited, high; nothing was applied" in err
    code, out, _ = run(capsys, *store, "policy", "apply", str(other), "--replace")
    assert code == 0 and "replaces credit (limited, high)" in out

    code, out, _ = run(capsys, *store, "policy", "list", "--json")
    listed = json.loads(out)
    assert [(p["name"], p["in_force_for"]) for p in listed] == [
        ("credit", []),
        ("other", ["limited", "high"]),
    ]
    assert "document" not in listed[0]
    code, out, _ = run(capsys, *store, "policy", "list")
    assert code == 0 and "other" in out

    code, out, _ = run(capsys, *store, "policy", "show", "--tier", "high", "--json")
    shown = json.loads(out)
    assert (shown["name"], shown["created_by"]) == ("other", "bob")
    code, out, _ = run(capsys, *store, "policy", "show", "credit", "--version", "1")
    assert code == 0 and "metadata: {name: credit}" in out
    code, _, err = run(capsys, *store, "policy", "show", "credit", "--version", "2")
    assert code == 2 and "has no version 2" in err
    code, _, err = run(capsys, *store, "policy", "show")
    assert code == 2 and "give a policy NAME or --tier TIER" in err

    bad = write(tmp_path, CREDIT.replace("[high, limited]", "[hihg]"), "bad.yaml")
    code, out, err = run(capsys, *store, "policy", "apply", str(bad))
    assert code == 2 and f"{bad}:4:9: tiers[0]" in err

    code, out, _ = run(capsys, *store, "audit", "verify")
    assert code == 0


def test_audit_verify_checks_policies(client: govml.Client, tmp_path: Path) -> None:
    client.apply_policy(write(tmp_path, CREDIT))
    assert client.verify_ledger().policies == 1
    drop_policy_triggers(client)
    raw(client, "UPDATE policies SET source = 'tiers: [minimal]'")
    with pytest.raises(IntegrityError, match="policy credit version 1"):
        client.verify_ledger()
