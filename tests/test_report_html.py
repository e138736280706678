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


# --- what a reader of the sample databases' reports ran into -------------------------------------


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    return page[start:page.index("</section>", start)]


def test_pairs_name_their_statistic() -> None:
    report = fake_report()
    pairs = report["tables"]["patients"]["pairs"]
    pairs[0]["statistic"], pairs[0]["real"], pairs[0]["synthetic"] = "eta", 0.4, 0.3
    pairs[1]["statistic"] = "pearson"
    pairs[2]["statistic"], pairs[2]["real"], pairs[2]["synthetic"] = "cramers_v", 1.0, 1.0
    report["relationships"][0]["parent_child_trends"]["pairs"][1].update(statistic="cramers_v", real=0.5,
                                                                            synthetic=0.5)
    page = render_html(report)
    _parse(page)
    table = _section(page, "t-0")
    # contingency pairs carry Cramér's V / η, not a correlation: no "ρ" header over them
    assert "real ρ" not in page and "synthetic ρ" not in page
    assert "<td title=\"score by contingency\">Cramér&#x27;s V</td>" in table
    assert "correlation ratio η" in table and "Pearson r" in table
    assert "1 − the total variation distance" in table  # why V can match while the score is low
    assert "Cramér&#x27;s V" in _section(page, "r-0")


def test_detection_shows_the_measured_auc_below_chance() -> None:
    report = fake_report()
    report["tables"]["patients"]["detection"] = {"auc": 0.5, "raw_auc": 0.4591, "rows": 59, "features": 1}
    page = render_html(report)
    line = _section(page, "t-0").split('<p class="det">')[1]
    assert "Measured 0.46, counted as 0.50" in line
    assert "59 rows per side with 1 feature;" in line  # singular
    # an AUC equal to what was measured says nothing more
    assert "Measured" not in _section(page, "r-0")


def test_colour_agrees_with_the_printed_number() -> None:
    report = fake_report()
    report["summary"]["detection_auc_relational"] = 0.7519  # prints 0.75: amber per the key (≤ 0.75)
    report["summary"]["column_shapes"] = 0.89996  # prints 90.0%: green per the key (≥ 90%)
    page = render_html(report)
    assert _card_value(page, "Detection AUC, relational") == "warn:0.75"
    assert _card_value(page, "Column shapes") == "good:90.0%"


def test_summary_names_the_weak_spots() -> None:
    page = render_html(fake_report())
    summary = _section(page, "summary")
    # the overall card names the families below 90%, worst first
    assert re.search(r"Weakest: parent-child trends <span class=\"chip bad\">70.0%</span>, "
                     r"cardinality <span class=\"chip warn\">81.0%</span>", summary)
    # each card links its worst columns / tables / relationships
    assert '<a href="#t-0" title="patients.blood_type">patients.blood_type</a>' in summary
    assert '<a href="#t-0" title="patients.admitted_at">patients.admitted_at</a>' in summary
    assert '<a href="#r-0" title="lab_results.patient_id → patients">' in summary
    assert summary.index("patients.blood_type") < summary.index("patients.admitted_at")  # 72% before 88%
    assert "patients.age" not in summary  # 97%: not a weak spot
    report = fake_report()
    report["summary"].update(column_shapes=0.95, column_pair_trends=0.95, cardinality=0.95, parent_child_trends=0.95)
    assert "Every family scores 90% or more." in render_html(report)


def test_tables_with_nothing_to_compare_are_one_line() -> None:
    report = fake_report()
    report["tables"]["empty_one"] = {"rows_real": 0, "rows_synthetic": 0, "column_shapes": None,
                                     "pair_trends": None, "columns": {}, "pairs": [], "association": None,
                                     "detection": None}
    report["tables"]["names_only"] = {"rows_real": 275, "rows_synthetic": 275, "column_shapes": None,
                                      "pair_trends": None, "columns": {}, "pairs": [], "association": None,
                                      "detection": None}
    report["tables"]["lost"] = dict(report["tables"]["empty_one"], rows_synthetic=12)
    report["notes"].append("names_only: generated columns (free text) are not compared: Name")
    report["relationships"].append({"label": "empty_one.x → patients", "child": "empty_one", "parent": "patients",
                                    "columns": ["x"], "cardinality": {"score": 1.0, "labels": ["0"], "real": [1.0],
                                                                      "synthetic": [1.0]}})
    page = render_html(report)
    _parse(page)
    empty, names, lost = _section(page, "t-2"), _section(page, "t-3"), _section(page, "t-4")
    assert "Empty in the real data and in the synthetic copy: nothing to compare." in empty
    assert "<h3>" not in empty and "Detection AUC" not in empty
    assert "No comparable columns" in names and "<h3>" not in names
    assert "generated columns (free text) are not compared: Name" in names  # the table's own note
    assert "The real table is empty but the synthetic one is not." in lost
    overview = _section(page, "overview")
    assert 'empty_one</a> <span class="tag">empty</span>' in overview
    assert 'names_only</a> <span class="tag">no comparable columns</span>' in overview
    assert '<span class="tag">child table empty</span>' in overview
    assert "every parent row has 0 children" in _section(page, "r-1")


def test_tiny_tables_get_no_heatmaps() -> None:
    report = fake_report()
    patients = report["tables"]["patients"]
    patients.update(rows_real=2, rows_synthetic=2, pairs=[])
    page = render_html(report)
    section = _section(page, "t-0")
    assert "Too few rows (2) to compare column pairs." in section
    assert "Associations" not in section  # associations over 2 rows say nothing


def test_heatmap_says_when_it_shows_only_some_columns() -> None:
    report = fake_report()
    columns = report["tables"]["patients"]["columns"]
    report["tables"]["patients"]["association"]["columns"] = ["age", "admitted_at", "sex", "blood_type"]
    assert len(columns) == 5
    page = render_html(report)
    assert "The first 4 of the 5 compared columns." in _section(page, "t-0")


def test_cut_labels_stay_distinct() -> None:
    report = fake_report()
    names = [f"adventure-works\\{who}" for who in ("linda3", "jose1", "shu0")]
    report["tables"]["patients"]["columns"]["sex"]["plot"] = {
        "type": "bars", "categories": names, "real": [0.4, 0.3, 0.3], "synthetic": [0.4, 0.3, 0.3]}
    page = render_html(report)
    shown = re.findall(r"<title>adventure-works\\[a-z0-9]+</title>([^<]*)</text>", page)
    assert len(shown) == 3 and len(set(shown)) == 3, shown
    assert all(len(s) <= 16 and s.endswith(n[-4:]) for s, n in zip(shown, names))


def test_one_value_histogram_has_one_tick() -> None:
    report = fake_report()
    plot = report["tables"]["patients"]["columns"]["admitted_at"]["plot"]
    plot["labels"] = ["2006-02-15 04:57"] * 13  # every edge within a microsecond of one value
    page = render_html(report)
    assert page.count(">2006-02-15 04:57</text>") == 1


def test_cardinality_ranges_are_labelled_in_full_without_overlap() -> None:
    report = fake_report()
    labels = ["≤2271"] + [f"{2272 + 2 * k}–{2273 + 2 * k}" for k in range(20)]
    card = report["relationships"][0]["cardinality"]
    card.update(labels=labels, counts=list(range(21)), real=[0.5] + [0.0] * 19 + [0.5],
                synthetic=[0.5] + [0.0] * 19 + [0.5], mean_real=0.0033, mean_synthetic=0.0033)
    page = render_html(report)
    section = _section(page, "r-0")
    ticks = re.findall(r'<text x="([0-9.]+)" y="[0-9.]+" text-anchor="middle">(\d{4}–\d{4}|≤2271)</text>', section)
    assert ticks and all("…" not in t for _, t in ticks) and ticks[-1][1] == "2310–2311"
    xs = [float(x) for x, _ in ticks]
    assert all(b - a >= 9 * 5.8 for a, b in zip(xs, xs[1:]))  # 9-character labels never overlap
    assert "<b>0.0033</b> real" in section
