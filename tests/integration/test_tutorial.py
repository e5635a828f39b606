"""The README's tutorial, run as a new user would: its commands, in an empty folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- tutorial -->\n```bash\n"

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def tutorial_script() -> str:
    """Every bash block of the README that follows the tutorial marker, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [part.split("\n```", 1)[0] for part in readme.split(MARK)[1:]]
    assert len(blocks) >= 4, "the README's tutorial blocks are missing"
    return "\n".join(blocks) + "\n"


@pytest.mark.timeout(1200)
def test_the_readme_tutorial_runs_as_written(shared_datasets: Path, tmp_path: Path) -> None:
    if not (shared_datasets / "german-credit" / "german.csv").is_file():
        pytest.skip(f"German credit not found under {shared_datasets}")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    venv_bin = Path(sys.executable).parent
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GOVML_") and key not in ("VIRTUAL_ENV",)
    }
    env["GOVML_DATASETS"] = str(shared_datasets)
    # The tutorial's first line puts the checkout's .venv on PATH: here, the running one.
    script = tutorial_script().replace('"$PWD/.venv/bin:$PATH"', f'"{venv_bin}:$PATH"')
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout + done.stderr
    folder = tmp_path / "credit-tutorial"
    assert done.returncode == 0, out
    # The outcomes the README states, in the order it states them.
    assert "expected_cost 0.9167 breaks ≤ 0.6" in out, out
    assert "disparate_impact_ratio over age_group 0.5259 is outside [0.8, 1.25]" in out, out
    assert re.search(r"evaluation 3: credit@3 .*: pass \(12 pass\)", out), out
    assert "carl (contributor) may not approve" in out, out
    assert "credit@production is now version 3" in out, out
    assert "✓ ledger verified" in out and "artifacts match their digests" in out, out
    assert (folder / "credit-3.html").stat().st_size > 10_000
    assert "credit@3" in (folder / "model-card.html").read_text(encoding="utf-8")
