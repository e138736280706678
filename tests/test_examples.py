"""The recipes in examples/ run as users run them: a fresh process, checked output."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_etl_recipe_runs(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(EXAMPLES / "etl_recipe.py"), str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"model of 4 tables saved to hospital\.rsm", out)
    assert re.search(r"test\.db: .*patients 2,000\b.*; 0 integrity violations", out)
    assert re.search(r"lake/: departments\.csv, lab_results\.csv, metadata\.json, patients\.csv, treatments\.csv; "
                     r"4,000 patients; 0 integrity violations", out)
    fidelity = float(re.search(r"fidelity (\d+\.\d)%", out).group(1))
    assert fidelity > 80.0
    assert "different seeds give different rows: True" in out
    assert (tmp_path / "hospital.rsm").is_file() and (tmp_path / "lake" / "metadata.json").is_file()
