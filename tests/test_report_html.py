"""The HTML fidelity report: well-formed, offline, escaped, and robust to nulls, empties and size."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from relsynth.evaluate.html import render_html

MALICIOUS = "<script>alert(1)</script>"
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def fake_report() -> dict[str, Any]:
    """A report as ``Report.to_dict()`` returns it: 2 tables, 1 relationship, every plot kind."""
    age_edges = [float(e) for e in range(0, 100, 10)] + [100.0]
    day = 86_400_000_000  # microseconds
    start = 1_577_836_800_000_000  # 2020-01-01
    admitted_edges = [float(start + k * 30 * day) for k in range(13)]
    admitted_labels = [f"2020-{1 + k:02d}-01" if k < 12 else "2020-12-26" for k in range(13)]
    return {
        "relsynth_version": "0.1.0",
        "real": "sqlite:///hospital.db",
        "synthetic": "sqlite:///hospital_synthetic.db",
        "summary": {
            "integrity": 0.8, "integrity_violations": 3, "column_shapes": 0.94, "column_pair_trends": 0.97,
            "cardinality": 0.81, "parent_child_trends": 0.70, "overall": 0.855, "detection_auc": 0.62,
            "detection_auc_relational": 0.81, "ml_efficacy": None,
        },
        "integrity": [
            {"table": "patients", "kind": "primary_key", "constraint": "PRIMARY KEY (patient_id)",
             "rows": 5000, "violations": 0},
            {"table": "lab_results", "kind": "foreign_key",
             "constraint": "FOREIGN KEY (patient_id) REFERENCES patients (patient_id)", "rows": 29246, "violations": 3},
            {"table": "patients", "kind": "not_null", "constraint": "NOT NULL (sex)", "rows": 5000, "violations": 0},
            {"table": "patients", "kind": "check", "constraint": "CHECK (age >= 0 AND age < 120)", "rows": 5000,
             "violations": 0},
            {"table": "lab_results", "kind": "unique", "constraint": "UNIQUE (lab_id)", "rows": 29246, "violations": 0},
        ],
        "tables": {
            "patients": {
                "rows_real": 5000, "rows_synthetic": 5000, "column_shapes": 0.93, "pair_trends": 0.97,
                "columns": {
                    "age": {"kind": "integer", "metric": "ks", "score": 0.97,
                            "plot": {"type": "histogram", "edges": age_edges, "labels": None,
                                     "real": [0.04, 0.09, 0.12, 0.14, 0.15, 0.15, 0.13, 0.1, 0.06, 0.02],
                                     "synthetic": [0.05, 0.1, 0.11, 0.13, 0.16, 0.15, 0.12, 0.1, 0.06, 0.02]}},
                    "admitted_at": {"kind": "datetime", "metric": "ks", "score": 0.88,
                                    "plot": {"type": "histogram", "edges": admitted_edges, "labels": admitted_labels,
                                             "real": [0.07, 0.08, 0.09, 0.08, 0.08, 0.09, 0.1, 0.09, 0.08, 0.08,
                                                      0.08, 0.08],
                                             "synthetic": [0.05, 0.06, 0.08, 0.09, 0.1, 0.11, 0.11, 0.1, 0.09,
                                                           0.08, 0.07, 0.06]}},
                    "sex": {"kind": "string", "metric": "tv", "score": 0.99,
                            "plot": {"type": "bars", "categories": ["F", "M", MALICIOUS, "(other)"],
                                     "real": [0.5, 0.48, 0.02, 0.0], "synthetic": [0.5, 0.47, 0.03, 0.0]}},
                    "blood_type": {"kind": "string", "metric": "tv", "score": 0.72,
                                   "plot": {"type": "bars",
                                            "categories": ["O+", "A+", "B+", "AB+", "O-",
                                                           "a really long category value that goes on and on"],
                                            "real": [0.38, 0.34, 0.09, 0.03, 0.07, 0.09],
                                            "synthetic": [0.25, 0.25, 0.2, 0.1, 0.1, 0.1]}},
                    "discharge_weight": {"kind": "float", "metric": "ks", "score": None, "plot": None},
                },
                "pairs": [
                    {"columns": ["age", "blood_type"], "metric": "contingency", "real": None, "synthetic": None,
                     "score": 0.91},
                    {"columns": ["age", "admitted_at"], "metric": "correlation", "real": 0.31, "synthetic": 0.22,
                     "score": 0.955},
                    {"columns": ["age", "sex"], "metric": "contingency", "real": None, "synthetic": None,
                     "score": 0.99},
                    {"columns": ["sex", "blood_type"], "metric": "contingency", "real": None, "synthetic": None,
                     "score": None},
                ],
                "association": {
                    "columns": ["age", "admitted_at", "sex", "blood_type"],
                    "real": [[1, 0.31, 0.12, 0.05], [0.31, 1, 0.02, 0.01], [0.12, 0.02, 1, 0.4],
                             [0.05, 0.01, 0.4, 1]],
                    "synthetic": [[1, 0.22, 0.1, 0.3], [0.22, 1, 0.03, None], [0.1, 0.03, 1, 0.35],
                                  [0.3, None, 0.35, 1]],
                },
                "detection": {"auc": 0.61, "rows": 2000, "features": 7},
            },
            "lab_results": {
                "rows_real": 29246, "rows_synthetic": 28810, "column_shapes": 0.95, "pair_trends": None,
                "columns": {
                    "value": {"kind": "float", "metric": "ks", "score": 0.95,
                              "plot": {"type": "histogram",
                                       "edges": [0.0, 2500.0, 5000.0, 7500.0, 10000.0, 12500.0, 15000.0],
                                       "labels": None, "real": [0.3, 0.25, 0.2, 0.15, 0.07, 0.03],
                                       "synthetic": [0.28, 0.27, 0.2, 0.14, 0.08, 0.03]}},
                },
                "pairs": [],
                "association": None,
                "detection": None,
            },
        },
        "relationships": [
            {"label": "lab_results.patient_id → patients", "child": "lab_results", "parent": "patients",
             "columns": ["patient_id"],
             "cardinality": {"score": 0.81, "counts": list(range(11)),
                             "labels": [str(c) for c in range(10)] + ["10+"],
                             "real": [0.05, 0.08, 0.1, 0.12, 0.14, 0.13, 0.11, 0.09, 0.07, 0.05, 0.06],
                             "synthetic": [0.1, 0.12, 0.12, 0.12, 0.11, 0.1, 0.09, 0.08, 0.06, 0.05, 0.05],
                             "mean_real": 5.85, "mean_synthetic": 5.1},
             "parent_child_trends": {"score": 0.7, "pairs": [
                 {"parent_column": "age", "child_column": "value", "metric": "correlation", "real": 0.2,
                  "synthetic": -0.4, "score": 0.7},
                 {"parent_column": "sex", "child_column": "value", "metric": "contingency", "real": None,
                  "synthetic": None, "score": 0.97}]},
             "aggregate_trends": {"score": 0.93, "pairs": [
                 {"parent_column": "age", "aggregate": "count", "metric": "correlation", "real": 0.4,
                  "synthetic": 0.38, "score": 0.99},
                 {"parent_column": "age", "aggregate": "mean(value)", "metric": "correlation", "real": 0.1,
                  "synthetic": 0.05, "score": 0.975}]},
             "detection": {"auc": 0.81, "rows": 2000, "features": 12}},
        ],
        "ml_efficacy": {"table": "patients", "target": "blood_type", "task": "classification",
                        "metric": "macro F1", "real": 0.8, "synthetic": 0.77, "ratio": None},
        "notes": ["free-text columns (names, codes) are generated, not compared: patients.name"],
    }


class _StrictParser(HTMLParser):
    """Fails on any end tag that does not close the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.svgs += tag == "svg"
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def _parse(page: str) -> _StrictParser:
    parser = _StrictParser()
    parser.feed(page)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert parser.stack == [], parser.stack
    return parser


def _card_value(page: str, title: str) -> str:
    pattern = rf'<div class="card ([a-z]+)[^"]*"><div class="k">{re.escape(title)}</div><div class="v">(.*?)</div>'
    m = re.search(pattern, page)
    assert m, title
    return f"{m.group(1)}:{m.group(2)}"


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(fake_report())


def test_page_is_well_formed(page: str) -> None:
    parser = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert parser.svgs == page.count("</svg>") >= 8  # 5 column charts (one without), 3 heatmaps, cardinality


def test_every_table_and_column_is_named(page: str) -> None:
    report = fake_report()
    for name, table in report["tables"].items():
        assert f">{name}<" in page
        for column in table["columns"]:
            assert f">{column}<" in page
    assert "lab_results.patient_id → patients" in page
    assert "sqlite:///hospital_synthetic.db" in page and "relsynth 0.1.0" in page


def test_user_data_is_escaped(page: str) -> None:
    assert MALICIOUS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()


def test_every_field_from_the_data_is_escaped() -> None:
    report = fake_report()
    evil = '<img src=x onerror="alert(1)">'
    report["real"] = evil
    report["notes"].append(evil)
    report["integrity"][0]["constraint"] = evil
    report["tables"][evil] = report["tables"].pop("lab_results")
    report["tables"][evil]["columns"][evil] = report["tables"][evil]["columns"].pop("value")
    report["tables"]["patients"]["association"]["columns"][0] = evil
    report["tables"]["patients"]["pairs"][0]["columns"][0] = evil
    report["relationships"][0]["label"] = evil
    report["relationships"][0]["cardinality"]["labels"][0] = evil
    report["relationships"][0]["aggregate_trends"]["pairs"][0]["aggregate"] = evil
    report["ml_efficacy"]["target"] = evil
    page = render_html(report)
    _parse(page)
    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_page_is_offline(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "@import" not in page and "url(" not in page


def test_null_scores_show_a_dash(page: str) -> None:
    assert _card_value(page, "ML efficacy") == "na:—"
    # the column without a score or plot: a grey dash chip and a placeholder instead of a chart
    m = re.search(r'title="discharge_weight">discharge_weight</span><span class="chip ([a-z]+)">(.*?)</span>', page)
    assert m and m.groups() == ("na", "—")
    assert "no values to plot" in page
    # lab_results has null pair trends and no detection
    section = page[page.index('id="t-1"'):page.index('id="r-0"')]
    assert '<span class="chip na">—</span>' in section and "One column compared: no pairs." in section
    assert "not computed" in section


def test_violations_are_flagged(page: str) -> None:
    assert _card_value(page, "Integrity").startswith("bad:")
    assert "3 violating rows" in page
    rows = re.findall(r'<tr class="bad"><td>(.*?)</td>', page)
    assert rows == ["lab_results"]  # the one check with violations, listed first
    assert "1 of 5 checks have violating rows" in page


def test_colors_follow_the_thresholds(page: str) -> None:
    assert _card_value(page, "Column shapes") == "good:94.0%"
    assert _card_value(page, "Cardinality") == "warn:81.0%"
    assert _card_value(page, "Parent-child trends") == "bad:70.0%"
    assert _card_value(page, "Detection AUC") == "warn:0.62"  # AUC: lower is better
    assert _card_value(page, "Detection AUC, relational") == "bad:0.81"
    assert '<span class="chip good">0.40–0.60</span>' in page


def test_histogram_ticks(page: str) -> None:
    # labelled histogram: first, middle and last label; numeric one: compact edges
    assert ">2020-01-01<" in page and ">2020-07-01<" in page and ">2020-12-26<" in page
    assert ">0<" in page and ">7500<" in page and ">15k<" in page


def test_long_category_is_cut_with_a_tooltip(page: str) -> None:
    assert "a really long c…" in page
    assert "<title>a really long category value that goes on and on</title>" in page


def test_worst_first_and_folding() -> None:
    report = fake_report()
    report["tables"]["patients"]["pairs"] = [
        {"columns": [f"a{k}", f"b{k}"], "metric": "correlation", "real": 0.5, "synthetic": 0.5 - k / 100,
         "score": 1 - k / 200} for k in range(15)
    ]
    page = render_html(report)
    _parse(page)
    section = page[page.index('id="t-0"'):page.index('id="t-1"')]
    shown, folded = section.split("<details><summary>5 more pairs</summary>")[-2:]
    assert shown.index(">a14 × b14<") < shown.index(">a5 × b5<")
    assert ">a4 × b4<" in folded and ">a4 × b4<" not in shown


def test_empty_and_minimal_reports_render() -> None:
    for report in ({}, {"tables": {}, "relationships": [], "integrity": [], "notes": []},
                   {"tables": {"t": {"columns": {}, "pairs": [], "association": None}},
                    "relationships": [{"child": "c", "parent": "t", "cardinality": None}]},
                   {"summary": {k: float("nan") for k in ("overall", "integrity", "detection_auc")}}):
        page = render_html(report)
        _parse(page)
        assert "Synthetic data fidelity report" in page


def test_malformed_plots_do_not_break_the_page() -> None:
    report = fake_report()
    cols = report["tables"]["patients"]["columns"]
    cols["age"]["plot"]["edges"] = [0, 1]  # does not match the bins: no x ticks, still a chart
    cols["sex"]["plot"]["synthetic"] = [0.5, None]
    cols["blood_type"]["plot"] = {"type": "bars", "categories": [], "real": [], "synthetic": []}
    report["tables"]["patients"]["association"]["real"] = [[1]]  # too small for its columns
    report["relationships"][0]["cardinality"]["labels"] = None
    _parse(render_html(report))


def test_numpy_values_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    report = fake_report()
    plot = report["tables"]["patients"]["columns"]["age"]["plot"]
    plot["real"] = np.asarray(plot["real"])
    plot["synthetic"] = [np.float32(v) for v in plot["synthetic"]]
    report["tables"]["patients"]["rows_real"] = np.int64(5000)
    report["tables"]["patients"]["association"]["real"] = np.eye(4)
    page = render_html(report)
    _parse(page)
    assert render_html(fake_report()).count("<path") == page.count("<path")
    assert "<b>5,000</b> real rows" in page


def test_big_schema_stays_small() -> None:
    base = fake_report()["tables"]["patients"]["columns"]
    columns = {}
    for k in range(30):
        template = base[("age", "admitted_at", "blood_type")[k % 3]]
        columns[f"column_with_a_long_name_{k}"] = copy.deepcopy(template)
    names = list(columns)
    big = {
        "rows_real": 10_000, "rows_synthetic": 10_000, "column_shapes": 0.9, "pair_trends": 0.9,
        "columns": columns,
        "pairs": [{"columns": [a, b], "metric": "correlation", "real": 0.1, "synthetic": 0.2, "score": 0.95}
                  for i, a in enumerate(names) for b in names[i + 1:]],
        "association": {"columns": names, "real": [[((i * j) % 21 - 10) / 10 for j in range(30)] for i in range(30)],
                        "synthetic": [[((i + j) % 21 - 10) / 10 for j in range(30)] for i in range(30)]},
        "detection": {"auc": 0.7, "rows": 2000, "features": 30},
    }
    report = fake_report()
    report["tables"] = {f"table_{t}": copy.deepcopy(big) for t in range(50)}
    page = render_html(report)
    assert len(page.encode()) < 5_000_000
    assert page.count("<svg") == page.count("</svg>") == 50 * (30 + 3) + 1
    assert "385 more pairs, all scoring 95.0%, are not listed here" in page
