"""How check messages put a value against its bounds."""

from govml.evaluation.gates import judged_text


def test_a_range_reads_within_or_outside_and_one_bound_meets_or_breaks() -> None:
    assert judged_text(True, 0.8, 1.25) == "is within [0.8, 1.25]"
    assert judged_text(False, 0.8, 1.25) == "is outside [0.8, 1.25]"
    assert judged_text(True, 0.8, None) == "meets ≥ 0.8"
    assert judged_text(False, None, 0.1) == "breaks ≤ 0.1"
