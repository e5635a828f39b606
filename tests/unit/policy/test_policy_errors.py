"""Every class of policy error: its position, field path, message and suggestion."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from govml.errors import InputError, PolicyError
from govml.policy import InvalidPolicyError, load_policy, parse_policy
from govml.policy import messages as msg

HEAD = "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: p}\ntiers: [high]\n"
"""Four valid header lines: a body given to `problems` starts on line 5."""


def problems(text: str | bytes, *, head: bool = True) -> list[str]:
    """Return every diagnostic of an invalid policy, as printed."""
    if isinstance(text, str):
        text = (HEAD if head else "") + dedent(text)
    with pytest.raises(InvalidPolicyError) as info:
        parse_policy(text, source="policy.yaml")
    return [str(d) for d in info.value.errors]


def test_the_example_from_the_design_is_reported_exactly() -> None:
    found = problems(
        """\
        fairness:
          sensitive: [sex]
          rules:
            - {metric: demographic_parity_ratio, min: 0.8}
            - {metric: equalised_odds_difference, max: 0.1}
        """
    )
    assert found == [
        "policy.yaml:9:16: fairness.rules[1].metric: unknown metric "
        "'equalised_odds_difference' — did you mean 'equalized_odds_difference'?"
    ]


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    found = problems(
        """\
        undefined: maybe
        performance:
          - {metric: acuracy, min: 0.8}
        documentation: {required: [limitation]}
        approvals: {required: -1}
        """
    )
    assert found == [
        "policy.yaml:5:12: undefined: 'maybe' is not one of fail, warn, pass",
        "policy.yaml:7:14: performance[0].metric: unknown metric 'acuracy' — "
        "did you mean 'accuracy'?",
        "policy.yaml:8:28: documentation.required[0]: 'limitation' is not one of intended_use, "
        "out_of_scope_use, owner, description, limitations, ethical_considerations, "
        "training_data, validation_data, code, environment, signature, params, metrics — did "
        "you mean 'limitations'?",
        "policy.yaml:9:23: approvals.required: must be at least 0, got -1",
    ]


def test_diagnostics_print_one_line_each_and_exit_2() -> None:
    with pytest.raises(InvalidPolicyError) as info:
        parse_policy(HEAD + "undefined: maybe\nfoo: 1\n", source="p.yaml")
    error = info.value
    assert isinstance(error, PolicyError) and isinstance(error, InputError)
    assert error.exit_code == 2
    assert error.message == "p.yaml is not a valid policy (2 problems)"
    assert error.diagnostics().splitlines() == [str(d) for d in error.errors]
    assert error.errors[0].to_dict() == {
        "file": "p.yaml",
        "line": 5,
        "column": 12,
        "path": "undefined",
        "message": "'maybe' is not one of fail, warn, pass",
        "severity": "error",
    }


# -- the file itself ---------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_names_the_byte_and_its_position() -> None:
    found = problems(b"apiVersion: govml/v1\nkind: Pol\xe9cy\n")
    assert found == ["policy.yaml:2:10: " + msg.ERR_NOT_UTF8.format(byte=0xE9)]


def test_a_utf16_file_is_not_utf8() -> None:
    found = problems(HEAD.encode("utf-16"))
    assert found == ["policy.yaml:1:1: " + msg.ERR_NOT_UTF8.format(byte=0xFF)]


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    text = (HEAD + "approvals: {required: 1}\n").encode("utf-8-sig")
    assert parse_policy(text).name == "p"


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n", "~\n"])
def test_an_empty_file(text: str) -> None:
    assert problems(text, head=False) == ["policy.yaml:1:1: " + msg.ERR_EMPTY]


def test_yaml_syntax_errors_have_a_position() -> None:
    found = problems("data: [1, 2\nperformance: []\n")
    assert found == [
        "policy.yaml:6:12: YAML syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 5, column 7)"
    ]


def test_a_bad_indentation_is_a_syntax_error() -> None:
    (found,) = problems("fairness:\n  sensitive: [sex]\n rules: []\n")
    assert found.startswith("policy.yaml:7:2: YAML syntax error: ")


def test_control_characters_are_a_syntax_error_with_a_position() -> None:
    (found,) = problems("metadata2: a\x07b\n")
    assert found.startswith("policy.yaml:5:13: YAML syntax error: unacceptable character #x0007")


def test_a_second_document_is_refused() -> None:
    found = problems("approvals: {required: 1}\n---\nkind: Policy\n")
    assert found == ["policy.yaml:6:1: " + msg.ERR_MULTIPLE_DOCUMENTS]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- apiVersion: govml/v1\n", "a list"), ("just words\n", "the string 'just words'")],
)
def test_a_document_that_is_not_a_mapping(text: str, kind: str) -> None:
    assert problems(text, head=False) == [
        "policy.yaml:1:1: " + msg.ERR_NOT_MAPPING.format(kind=kind)
    ]


def test_duplicate_keys_are_found_wherever_they_are() -> None:
    found = problems(
        """\
        approvals: {required: 1, required: 2}
        tiers: [limited]
        """
    )
    assert found == [
        "policy.yaml:5:26: approvals.required: duplicate key 'required' (first at line 5, "
        "column 13); YAML would silently keep only the last one",
        "policy.yaml:6:1: tiers: duplicate key 'tiers' (first at line 4, column 1); YAML would "
        "silently keep only the last one",
    ]


def test_keys_yaml_reads_as_other_types_are_named() -> None:
    found = problems("approvals: {required: 1}\non: push\n1: one\n")
    assert found == [
        "policy.yaml:6:1: key 'on' is read as the boolean true; quote it to use it as a name",
        "policy.yaml:7:1: key '1' is read as the number 1; quote it to use it as a name",
    ]


def test_unknown_tags_and_unreadable_values() -> None:
    found = problems(
        """\
        data: [{expect: no_nulls, columns: [!secret x]}]
        approvals: {required: 1}
        monitoring: {window: 2024-13-45}
        """
    )
    assert found == [
        "policy.yaml:5:37: data[0].columns[0]: unknown YAML tag '!secret'; policies use "
        "plain YAML values",
        "policy.yaml:7:22: monitoring.window: cannot read this value: month must be in 1..12",
    ]


def test_an_alias_that_contains_itself_is_refused() -> None:
    found = problems("approvals: {required: 1}\ndata: &loop [*loop]\n")
    assert found == ["policy.yaml:6:7: data[0]: " + msg.ERR_ALIAS_LOOP]


def test_aliases_that_expand_too_far_are_refused() -> None:
    levels = "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 7))
    (found,) = problems("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + levels)
    assert found.endswith(": " + msg.ERR_TOO_MANY.format(limit=100_000))


def test_deep_nesting_is_refused() -> None:
    found = problems("approvals: {required: 1}\ndata: " + "[" * 45 + "]" * 45 + "\n")
    assert found == ["policy.yaml:6:47: " + msg.ERR_TOO_DEEP.format(limit=40)]


def test_an_empty_drift_threshold() -> None:
    found = problems("approvals: {required: 1}\nmonitoring: {drift: {jensenshannon: {}}}\n")
    assert found == ["policy.yaml:6:37: monitoring.drift.jensenshannon: give warn, alert or both"]


def test_aliases_and_merge_keys_are_read_as_yaml_defines_them() -> None:
    text = HEAD + dedent(
        """\
        performance:
          - &auc {metric: roc_auc, min: 0.8}
          - {<<: *auc, metric: accuracy}
        """
    )
    rules = parse_policy(text).policy.performance
    assert [(r.metric, r.min) for r in rules] == [("roc_auc", 0.8), ("accuracy", 0.8)]


def test_a_missing_file_and_a_folder() -> None:
    with pytest.raises(PolicyError, match="policy file nowhere.yaml does not exist"):
        load_policy("nowhere.yaml")
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(Path(__file__).parent)


# -- header ------------------------------------------------------------------------------------


def test_wrong_api_version_and_kind_are_reported_alone() -> None:
    found = problems("apiVersion: govml/v2\nkind: Model\nfoo: 1\n", head=False)
    assert found == [
        "policy.yaml:1:13: apiVersion: unsupported apiVersion 'govml/v2': this govml reads "
        "'govml/v1'",
        "policy.yaml:2:7: kind: kind is 'Model': a policy file has 'kind: Policy'",
    ]


def test_missing_header_fields_say_what_to_write() -> None:
    found = problems("metadata: {name: p}\n", head=False)
    assert found == [
        "policy.yaml:1:1: missing required field 'apiVersion' (write 'apiVersion: govml/v1')",
        "policy.yaml:1:1: missing required field 'kind' (write 'kind: Policy')",
    ]


# -- fields, types and choices -----------------------------------------------------------------


def test_unknown_fields_suggest_the_closest_or_list_the_valid_ones() -> None:
    found = problems(
        """\
        fairnes: {}
        approvals: {required: 1, quorum: 2}
        """
    )
    assert found == [
        "policy.yaml:5:1: fairnes: unknown field 'fairnes' — did you mean 'fairness'?",
        "policy.yaml:6:26: approvals.quorum: unknown field 'quorum'; valid fields: required, "
        "roles, separation_of_duties, require_staging, notify",
    ]


def test_unknown_fields_inside_a_data_expectation_use_that_expectations_fields() -> None:
    found = problems("data:\n  - {expect: between, colum: age, min: 0}\n")
    assert found == [
        "policy.yaml:6:5: data[0]: missing required field 'column'",
        "policy.yaml:6:23: data[0].colum: unknown field 'colum' — did you mean 'column'?",
    ]


def test_missing_required_fields_point_at_their_mapping() -> None:
    text = "apiVersion: govml/v1\nkind: Policy\nmetadata:\n  description: x\ntiers: [high]\n"
    found = problems(text + "approvals: {required: 1}\n", head=False)
    assert found == ["policy.yaml:4:3: metadata: missing required field 'name'"]
    found = problems("approvals: {roles: [approver]}\n")
    assert found == ["policy.yaml:5:12: approvals: missing required field 'required'"]


def test_wrong_types_say_what_was_expected_and_what_was_given() -> None:
    found = problems(
        """\
        performance:
          - {metric: accuracy, min: "0.8"}
        fairness:
          sensitive: sex
          intersectional: "yes"
          min_group_size: 2.5
          rules: [{metric: demographic_parity_ratio, min: .inf}]
        explainability: [top_k]
        """
    )
    assert found == [
        "policy.yaml:6:29: performance[0].min: expected a number, got the string '0.8'",
        "policy.yaml:8:14: fairness.sensitive: expected a list, got the string 'sex'",
        "policy.yaml:9:19: fairness.intersectional: expected true or false, got the string 'yes'",
        "policy.yaml:10:19: fairness.min_group_size: expected a whole number, got the number 2.5",
        "policy.yaml:11:51: fairness.rules[0].min: expected a finite number, got the number "
        "infinity",
        "policy.yaml:12:17: explainability: expected a mapping, got a list",
    ]


def test_choices_list_the_valid_values_and_suggest_the_closest() -> None:
    found = problems(
        """\
        explainability: {explainer: shapley}
        security: {vulnerabilities: {database: osv.json, max_severity: severe}}
        """
    )
    assert found == [
        "policy.yaml:5:29: explainability.explainer: 'shapley' is not one of auto, tree, "
        "linear, kernel, permutation",
        "policy.yaml:6:64: security.vulnerabilities.max_severity: 'severe' is not one of low, "
        "medium, high, critical",
    ]


def test_tiers_are_checked() -> None:
    found = problems(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: p}\ntiers: [hihg, high, high]\n"
        "approvals: {required: 1}\n",
        head=False,
    )
    assert found == [
        "policy.yaml:4:9: tiers[0]: 'hihg' is not one of minimal, limited, high, unacceptable "
        "— did you mean 'high'?",
    ]
    found = problems(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: p}\ntiers: [high, limited, high]\n"
        "approvals: {required: 1}\n",
        head=False,
    )
    assert found == ["policy.yaml:4:24: tiers[2]: 'high' is listed twice"]
    found = problems(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: p}\ntiers: []\n"
        "approvals: {required: 1}\n",
        head=False,
    )
    assert found == ["policy.yaml:4:8: tiers: needs at least 1 item"]


def test_policy_names_follow_model_names() -> None:
    found = problems(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: credit scoring}\ntiers: [high]\n"
        "approvals: {required: 1}\n",
        head=False,
    )
    assert found == [
        "policy.yaml:3:18: metadata.name: " + msg.ERR_BAD_NAME.format(value="credit scoring")
    ]


def test_expectations() -> None:
    found = problems(
        """\
        data:
          - {expect: no_null, columns: [a]}
          - {columns: [a]}
          - no_nulls
          - {expect: regex, column: a, pattern: "([a-z"}
          - {expect: between, column: age, min: 100, max: 18}
          - {expect: row_count}
          - {expect: in_set, column: sex, values: [M, F, M]}
          - {expect: in_set, column: sex, values: [[M]]}
          - {expect: no_nulls, columns: [a, ""]}
          - {expect: no_personal_data, kinds: [email, passport]}
          - {expect: between, column: day, min: 2024-01-01, max: 3}
          - {expect: between, column: day, min: "2024-02-01", max: 2024-01-01}
          - {expect: between, column: day, min: "yesterday"}
        """
    )
    assert found == [
        "policy.yaml:6:14: data[0].expect: unknown expectation 'no_null' — did you mean "
        "'no_nulls'?",
        "policy.yaml:7:5: data[1]: missing required field 'expect' (one of no_nulls, between, "
        "in_set, unique, regex, row_count, schema_matches_training, no_personal_data)",
        "policy.yaml:8:5: data[2]: expected a mapping, got the string 'no_nulls'",
        "policy.yaml:9:41: data[3].pattern: invalid regular expression: unterminated character "
        "set at position 1",
        "policy.yaml:10:51: data[4].max: min 100 is above max 18",
        "policy.yaml:11:5: data[5]: give min, max or both",
        "policy.yaml:12:50: data[6].values[2]: 'M' is listed twice",
        "policy.yaml:13:44: data[7].values[0]: expected a single value (string, number or "
        "boolean), got a list",
        "policy.yaml:14:37: data[8].columns[1]: must not be empty",
        "policy.yaml:15:47: data[9].kinds[1]: 'passport' is not one of email, phone, us_ssn, "
        "uk_nino, iban, card",
        "policy.yaml:16:58: data[10].max: min and max must both be numbers or both be dates or "
        "times",
        "policy.yaml:17:60: data[11].max: min 2024-02-01 is above max 2024-01-01",
        "policy.yaml:18:41: data[12].min: expected a number or an ISO date or time, got the "
        "string 'yesterday'",
    ]


# -- metrics and bounds --------------------------------------------------------------------------


def test_metrics_belong_to_their_section() -> None:
    found = problems(
        """\
        performance:
          - {metric: demographic_parity_ratio, min: 0.8}
          - {metric: roc_auc_scor, min: 0.8}
          - {metric: zzz, min: 0.8}
        fairness:
          sensitive: [sex]
          rules:
            - {metric: accuracy, min: 0.8}
        """
    )
    assert found[0] == "policy.yaml:6:14: performance[0].metric: " + (
        msg.ERR_FAIRNESS_IN_PERFORMANCE.format(name="demographic_parity_ratio")
    )
    assert found[1] == (
        "policy.yaml:7:14: performance[1].metric: unknown metric 'roc_auc_scor' — did you mean "
        "'roc_auc_score'?"
    )
    assert found[2].startswith(
        "policy.yaml:8:14: performance[2].metric: unknown metric 'zzz' (performance metrics: "
        "accuracy, accuracy_score,"
    )
    assert found[3] == "policy.yaml:12:16: fairness.rules[0].metric: " + (
        msg.ERR_PERFORMANCE_IN_FAIRNESS.format(name="accuracy")
    )


def test_bounds() -> None:
    found = problems(
        """\
        performance:
          - {metric: roc_auc, min: 80}
          - {metric: accuracy, min: 0.9, max: 0.8}
          - {metric: accuracy, between: [0.8]}
          - {metric: accuracy, between: [0.9, 0.8]}
          - {metric: accuracy, between: [0.8, 0.9], min: 0.5}
          - {metric: accuracy}
          - {metric: log_loss, max: -1}
        """
    )
    assert found == [
        "policy.yaml:6:28: performance[0].min: roc_auc lies in [0, 1], so min 80 can never be met",
        "policy.yaml:7:39: performance[1].max: min 0.9 is above max 0.8",
        "policy.yaml:8:33: performance[2].between: between takes two numbers [low, high], got 1",
        "policy.yaml:9:39: performance[3].between[1]: between [0.9, 0.8]: the low bound is above "
        "the high bound",
        "policy.yaml:10:33: performance[4].between: give either between or min / max, not both",
        "policy.yaml:11:5: performance[5]: give min, max, between or vs_champion",
        "policy.yaml:12:29: performance[6].max: log_loss lies in [0, infinity], so max -1 can "
        "never be met",
    ]


def test_champion_comparisons_follow_the_metrics_direction() -> None:
    found = problems(
        """\
        performance:
          - {metric: log_loss, vs_champion: {max_drop: 0.01}}
          - {metric: accuracy, vs_champion: {max_increase: 0.01}}
          - {metric: count, vs_champion: {max_drop: 1}}
          - {metric: accuracy, vs_champion: {max_drop: 0.01, max_increase: 0.01}}
          - {metric: accuracy, vs_champion: {max_drop: -0.01}}
        """
    )
    assert found == [
        "policy.yaml:6:48: performance[0].vs_champion.max_drop: log_loss is better when lower; "
        "compare it with the champion using max_increase",
        "policy.yaml:7:52: performance[1].vs_champion.max_increase: accuracy is better when "
        "higher; compare it with the champion using max_drop",
        "policy.yaml:8:45: performance[2].vs_champion.max_drop: count has no better side, so it "
        "cannot be compared with the champion; use min / max",
        "policy.yaml:9:37: performance[3].vs_champion: give one of max_drop or max_increase",
        "policy.yaml:10:48: performance[4].vs_champion.max_drop: must be at least 0, got -0.01",
    ]


def test_fairness_rules() -> None:
    found = problems(
        """\
        fairness:
          sensitive: [sex, sex]
          reference_groups: {race: White}
          rules:
            - {metric: disparate_impact_ratio, min: 0.8, compare: between_groups}
            - {metric: theil_index, max: 0.2, compare: to_overall}
            - {metric: equalized_odds_difference, max: 0.1, n_boot: 500}
            - {metric: equalized_odds_difference, max: 0.1, confidence: 0.5}
        """
    )
    assert found == [
        "policy.yaml:6:20: fairness.sensitive[1]: 'sex' is listed twice",
        "policy.yaml:9:59: fairness.rules[0].compare: disparate_impact_ratio cannot be compared "
        "between_groups; it is compared reference_group",
        "policy.yaml:10:48: fairness.rules[1].compare: theil_index is an inequality index over "
        "all rows; it takes no compare",
        "policy.yaml:11:61: fairness.rules[2].n_boot: n_boot sets the bootstrap of a confidence "
        "bound; give confidence too",
        "policy.yaml:12:65: fairness.rules[3].confidence: must be at least 0.9, got 0.5",
    ]


def test_reference_groups() -> None:
    found = problems(
        """\
        fairness:
          sensitive: [sex]
          reference_groups: {race: White}
          rules:
            - {metric: demographic_parity_ratio, min: 0.8}
        """
    )
    assert found == [
        "policy.yaml:7:22: fairness.reference_groups.race: reference group for 'race', which is "
        "not a sensitive feature (sex)"
    ]
    found = problems(
        """\
        fairness:
          sensitive: [sex]
          rules:
            - {metric: disparate_impact_ratio, min: 0.8}
        """
    )
    assert found == [
        "policy.yaml:8:16: fairness.rules[0].metric: disparate_impact_ratio compares each group "
        "with a reference group; set fairness.reference_groups"
    ]


# -- the other sections ------------------------------------------------------------------------


def test_security() -> None:
    found = problems(
        """\
        security:
          serialization: safe
          licenses: {allow: [MIT], deny: [GPL-3.0-only]}
        documentation: {required: [owner]}
        """
    )
    assert found == [
        "policy.yaml:6:18: security.serialization: 'safe' is not one of safe_only, "
        "trusted_types, scanned_pickle, custom_code — did you mean 'safe_only'?",
        "policy.yaml:7:13: security.licenses: give exactly one of allow or deny",
    ]
    found = problems("security:\n  licenses: {deny: [MIT, 'GPL 3', MIT]}\n")
    assert found == [
        "policy.yaml:6:26: security.licenses.deny[1]: 'GPL 3' is not an SPDX license identifier "
        "or pattern (such as MIT, Apache-2.0 or GPL-*)"
    ]


def test_monitoring() -> None:
    found = problems(
        """\
        approvals: {required: 1}
        monitoring:
          window: 1 day
          drift: {pss: {warn: 0.1}}
          on_alert: [page]
        """
    )
    assert found == [
        "policy.yaml:7:11: monitoring.window: '1 day' is not a window: write a number and a "
        "unit, such as 30m, 1h, 1d, 2w",
        "policy.yaml:8:11: monitoring.drift.pss: 'pss' is not one of chisquare, hellinger, "
        "jensenshannon, kl_div, ks, psi, wasserstein, z — did you mean 'psi'?",
        "policy.yaml:9:14: monitoring.on_alert[0]: 'page' is not one of notify, rollback, retrain",
    ]


def test_monitoring_cross_checks() -> None:
    found = problems(
        """\
        approvals: {required: 1}
        monitoring:
          drift:
            ks: {warn: 0.01, alert: 0.05}
            psi: {warn: 0.3, alert: 0.2}
            z: {warn: 5}
          on_critical: [rollback, notify]
        """
    )
    assert found == [
        "policy.yaml:8:29: monitoring.drift.ks.alert: ks drifts when its p-value is small, so "
        "alert 0.05 must not be above warn 0.01",
        "policy.yaml:9:17: monitoring.drift.psi.warn: psi drifts when its distance is large, so "
        "warn 0.3 must not be above alert 0.2",
        "policy.yaml:10:15: monitoring.drift.z.warn: z gives a p-value; a threshold must lie in "
        "(0, 1], got 5",
        "policy.yaml:11:27: monitoring.on_critical[1]: action 'notify' needs a monitoring.notify "
        "section (webhook)",
    ]


def test_monitoring_fairness_needs_the_fairness_section() -> None:
    found = problems(
        """\
        approvals: {required: 1}
        monitoring:
          fairness: [{metric: demographic_parity_ratio, min: 0.8}]
          notify: {webhook: "ftp://x", secret_env: my-secret}
        """
    )
    assert found == [
        "policy.yaml:8:21: monitoring.notify.webhook: 'ftp://x' is not an http(s) URL",
        "policy.yaml:8:44: monitoring.notify.secret_env: 'my-secret' is not an environment "
        "variable name (A-Z, 0-9 and _)",
    ]
    found = problems(
        """\
        approvals: {required: 1}
        monitoring:
          fairness: [{metric: demographic_parity_ratio, min: 0.8}]
        """
    )
    assert found == [
        "policy.yaml:7:13: monitoring.fairness: monitoring fairness rules need the sensitive "
        "features of a fairness section"
    ]


def test_a_policy_without_rules_is_refused() -> None:
    assert problems("undefined: fail\n") == ["policy.yaml:1:1: " + msg.ERR_NO_RULES]


def test_a_policy_for_the_unacceptable_tier_alone_needs_no_rules() -> None:
    text = "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: banned}\ntiers: [unacceptable]\n"
    loaded = parse_policy(text)
    assert [str(n) for n in loaded.notes] == ["<string>:4:8: note: tiers: " + msg.NOTE_UNACCEPTABLE]


# -- business metrics, fairness honesty ---------------------------------------------------------


def test_expected_cost_needs_costs_and_only_it_takes_them() -> None:
    found = problems(
        """\
        performance:
          - {metric: expected_cost, max: 0.6}
          - {metric: accuracy, min: 0.7, costs: {false_negative: 5}}
          - {metric: expected_cost, max: 0.6, costs: {false_negatve: 5}}
          - {metric: expected_cost, max: 0.6, costs: {false_positive: 0}}
          - {metric: expected_cost, max: 1, costs: {false_negative: 5}, vs_champion: {max_drop: 0}}
        """
    )
    assert found == [
        "policy.yaml:6:14: performance[0].metric: " + msg.ERR_COSTS_MISSING,
        "policy.yaml:7:41: performance[1].costs: costs apply to expected_cost only, not to "
        "accuracy",
        "policy.yaml:8:47: performance[2].costs.false_negatve: unknown field 'false_negatve' — "
        "did you mean 'false_negative'?",
        "policy.yaml:9:46: performance[3].costs: " + msg.ERR_COSTS_ZERO,
        "policy.yaml:10:89: performance[4].vs_champion.max_drop: expected_cost is better when "
        "lower; compare it with the champion using max_increase",
    ]
    assert msg.ERR_COSTS_MISSING.endswith("{false_positive: 1, false_negative: 5}")
    # The range comes from the costs: a bound outside it is noted (or refused).
    rule = "performance:\n  - {metric: expected_cost, max: 9, costs: {false_negative: 5}}\n"
    loaded = parse_policy(HEAD + rule, source="policy.yaml")
    assert (
        "policy.yaml:6:34: note: performance[0].max: expected_cost lies in [0, 5], so max 9 "
        "never binds"
    ) in [str(n) for n in loaded.notes]
    assert problems(rule.replace("max: 9", "min: 6")) == [
        "policy.yaml:6:34: performance[0].min: expected_cost lies in [0, 5], so min 6 can "
        "never be met"
    ]


def test_monitoring_takes_built_in_metrics_only() -> None:
    found = problems(
        """\
        approvals: {required: 1}
        monitoring:
          window: 1d
          performance:
            - {metric: expected_cost, max: 0.6}
        """
    )
    assert found == [
        "policy.yaml:9:16: monitoring.performance[0].metric: 'expected_cost' is checked by "
        "evaluations only; monitoring rules take the built-in metrics"
    ]


def test_fairness_unjudged_min_judged_groups_and_favourable_label() -> None:
    found = problems(
        """\
        fairness:
          sensitive: [sex]
          unjudged: warning
          min_judged_groups: 1
          favourable_label: [good]
          rules:
            - {metric: demographic_parity_ratio, min: 0.8}
        """
    )
    assert found == [
        "policy.yaml:7:13: fairness.unjudged: 'warning' is not one of fail, warn, ignore — did "
        "you mean 'warn'?",
        "policy.yaml:8:22: fairness.min_judged_groups: must be at least 2, got 1",
        "policy.yaml:9:21: fairness.favourable_label: expected a single value (string, number "
        "or boolean), got a list",
    ]


def test_a_reference_group_is_needed_for_every_sensitive_feature() -> None:
    missing = (
        "compares each group with a reference group, and fairness.reference_groups has none "
        "for 'age_group'; add one (age_group: VALUE)"
    )
    found = problems(
        """\
        fairness:
          sensitive: [sex, age_group]
          reference_groups: {sex: male}
          rules:
            - {metric: demographic_parity_ratio, min: 0.8}
            - {metric: disparate_impact_ratio, min: 0.8}
            - {metric: false_positive_rate_ratio, min: 0.8, compare: reference_group}
        """
    )
    assert found == [
        f"policy.yaml:10:16: fairness.rules[1].metric: disparate_impact_ratio {missing}",
        f"policy.yaml:11:16: fairness.rules[2].metric: false_positive_rate_ratio {missing}",
    ]
    found = problems(
        """\
        fairness:
          sensitive: [sex, age_group]
          reference_groups: {sex: male}
          rules:
            - {metric: demographic_parity_ratio, min: 0.8}
        approvals: {required: 1}
        monitoring:
          window: 1d
          fairness:
            - {metric: statistical_parity_difference, min: -0.1}
        """
    )
    assert found == [
        f"policy.yaml:14:16: monitoring.fairness[0].metric: statistical_parity_difference {missing}"
    ]


def test_new_fields_at_their_defaults_keep_the_digest() -> None:
    body = (
        "fairness:\n  sensitive: [sex]\n  rules:\n"
        "    - {metric: demographic_parity_ratio, min: 0.8}\n"
    )
    plain = parse_policy(HEAD + body)
    spelled = parse_policy(HEAD + body + "  unjudged: warn\n")
    assert spelled.digest == plain.digest
    # What the digest was before these fields existed.
    assert plain.digest == parse_policy(HEAD + body).digest
    assert "unjudged" not in plain.policy.document()["fairness"]
    changed = parse_policy(HEAD + body + "  unjudged: fail\n  favourable_label: good\n")
    assert changed.digest != plain.digest
    assert changed.policy.document()["fairness"]["favourable_label"] == "good"
