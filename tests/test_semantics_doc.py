"""docs/semantics.md: its generated tables match the backends' declarations (so it cannot drift)."""

from __future__ import annotations

from pathlib import Path

from mailbridge import Feature
from mailbridge._semantics import main, render, update

DOC = Path(__file__).resolve().parents[1] / "docs" / "semantics.md"


def test_generated_tables_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert update(text) == text, "docs/semantics.md is stale: run python -m mailbridge._semantics docs/semantics.md"
    for name in render():
        assert f"<!-- generated:{name} -->" in text and f"<!-- /generated:{name} -->" in text


def test_tables_come_from_the_declarations() -> None:
    """Every feature is a row, every backend a column; a changed declaration changes the page."""
    blocks = render()
    features = blocks["features"]
    assert all(f"`{f.value}`" in features for f in Feature)
    assert features.splitlines()[0] == "| feature | aliyun | local | smtp | tencent |"
    row = next(line for line in features.splitlines() if line.startswith("| `scheduled_send` |"))
    assert row == "| `scheduled_send` | **no** | **no** | **no** | yes |"
    assert "| aliyun | `Status=2` | invalid_address |" in blocks["delivery_codes"]
    assert "| `550 5.1.1 mailbox does not exist` | invalid_address, hard |" in blocks["smtp_refinement"]


def test_check_mode_reports_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "semantics.md"
    stale.write_text("<!-- generated:features -->\nold\n<!-- /generated:features -->\n", encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0 and main(["--check", str(stale)]) == 0
    assert "old" not in stale.read_text(encoding="utf-8")
