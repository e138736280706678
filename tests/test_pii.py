"""Personal data: detection on the sample databases, generation with Faker, no real value in the
output or in the model file, rare categories, overrides."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import relsynth
from relsynth.cli import app
from relsynth.data import write_hospital_sqlite
from relsynth.errors import ConfigError
from relsynth.schema import read_schema, read_tables, schema_from_dataframes
from relsynth.sampling.relational import collect
from relsynth.schema.model import Column, Schema, Table, UniqueConstraint
from relsynth.transform.pii import PiiGenerator, detect_pii, name_tokens
from relsynth.transform.rare import suppress_rare_categories

from conftest import dataset

#: Columns that must be found, per sample database: table → column → kind.
EXPECTED = {
    "chinook": {
        "Customer": {"FirstName": "first_name", "LastName": "last_name", "Address": "street_address",
                     "City": "city", "PostalCode": "postal_code", "Phone": "phone", "Fax": "phone", "Email": "email"},
        "Employee": {"FirstName": "first_name", "LastName": "last_name", "Address": "street_address",
                     "PostalCode": "postal_code", "Phone": "phone", "Email": "email"},
        "Invoice": {"BillingAddress": "street_address", "BillingPostalCode": "postal_code"},
    },
    "sakila": {
        "customer": {"first_name": "first_name", "last_name": "last_name", "email": "email"},
        "staff": {"first_name": "first_name", "last_name": "last_name", "email": "email"},
        "address": {"address": "street_address", "postal_code": "postal_code", "phone": "phone"},
    },
    "northwind": {
        "customers": {"contact_name": "full_name", "address": "street_address", "postal_code": "postal_code",
                      "phone": "phone", "fax": "phone"},
        "employees": {"first_name": "first_name", "last_name": "last_name", "home_phone": "phone",
                      "notes": "text", "photo_path": "url"},
    },
    "adventureworkslt": {
        "Customer": {"FirstName": "first_name", "LastName": "last_name", "EmailAddress": "email", "Phone": "phone"},
        "Address": {"AddressLine1": "street_address", "City": "city", "PostalCode": "postal_code"},
    },
}
#: Columns that are not personal data and must not be flagged.
NOT_PII = {
    "chinook": {"Employee": ["Title", "Country", "State"], "Customer": ["Company", "Country", "State"],
                "Genre": ["Name"], "Artist": ["Name"], "Track": ["Name", "Composer"], "MediaType": ["Name"],
                "Album": ["Title"], "Playlist": ["Name"], "Invoice": ["BillingCountry"]},
    "sakila": {"film": ["title", "rating"], "category": ["name"], "country": ["country"], "city": ["city"],
               "language": ["name"], "address": ["district"]},
    "northwind": {"products": ["product_name", "quantity_per_unit"], "customers": ["company_name", "contact_title",
                                                                                   "country", "region"],
                  "employees": ["title", "title_of_courtesy"], "orders": ["ship_name", "ship_country"],
                  "shippers": ["company_name"]},
    "adventureworkslt": {"Product": ["Name", "ProductNumber", "Color"], "Customer": ["Title", "CompanyName"],
                         "ProductCategory": ["Name"], "CustomerAddress": ["AddressType"],
                         "SalesOrderHeader": ["CreditCardApprovalCode"]},
}
SAMPLES = list(EXPECTED)


def _source(name: str) -> tuple[str, Schema, dict[str, pd.DataFrame]]:
    url = f"sqlite:///{dataset(name)}"
    schema = read_schema(url)
    return url, schema, read_tables(url, schema)


def _detected(schema: Schema, frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, str]]:
    out = {}
    for name, table in schema.tables.items():
        found = detect_pii(table, frames[name], set(table.primary_key) | table.fk_columns)
        out[name] = {c: p.kind for c, p in found.items()}
    return out


def _norm(values: pd.Series) -> set[str]:
    return {v for v in values.dropna().astype(str).str.strip().str.casefold() if v}


def _source_pii_values(schema: Schema, frames: dict[str, pd.DataFrame]) -> set[str]:
    values: set[str] = set()
    for name, cols in _detected(schema, frames).items():
        for col in cols:
            values |= _norm(frames[name][col])
    return values


def _text_cells(frames: dict[str, pd.DataFrame]) -> set[str]:
    """Every text cell of every table, stripped and case-folded."""
    cells: set[str] = set()
    for frame in frames.values():
        for col in frame.columns:
            if frame[col].dtype == object:
                cells |= _norm(frame[col][frame[col].map(lambda v: isinstance(v, str))])
    return cells


def test_name_tokens() -> None:
    assert name_tokens("BillingPostalCode") == ["billing", "postal", "code"]
    assert name_tokens("first_name") == ["first", "name"]
    assert name_tokens("IPAddress") == ["ip", "address"]
    assert name_tokens("address2") == ["address", "2"]
    assert name_tokens("contact-email") == ["contact", "email"]


@pytest.mark.parametrize("name", SAMPLES)
def test_detection_on_sample_databases(name: str) -> None:
    _, schema, frames = _source(name)
    found = _detected(schema, frames)
    for table, cols in EXPECTED[name].items():
        for col, kind in cols.items():
            assert found[table].get(col) == kind, (table, col, found[table])
    for table, cols in NOT_PII[name].items():
        for col in cols:
            assert col not in found[table], (table, col, found[table][col] if col in found[table] else None)


def test_detection_reasons_name_and_values() -> None:
    _, schema, frames = _source("chinook")
    found = detect_pii(schema.tables["Customer"], frames["Customer"], {"CustomerId", "SupportRepId"})
    assert found["Email"].reason == "name matches 'email'; 100% of 59 values match the email pattern"
    # Values alone: an oddly named column of emails, IBANs with valid checksums, card numbers (Luhn).
    table = Table("t", [Column("contact", "string"), Column("acct", "string"), Column("cc_x", "string"),
                        Column("remark_code", "string")])
    frame = pd.DataFrame({
        "contact": [f"user{i}@example.org" for i in range(50)],
        "acct": ["DE89370400440532013000", "GB82WEST12345698765432"] * 25,
        "cc_x": ["4111 1111 1111 1111", "5500-0000-0000-0004"] * 25,
        "remark_code": ["A1", "B2"] * 25,
    })
    found = detect_pii(table, frame)
    assert {c: p.kind for c, p in found.items()} == {"contact": "email", "acct": "iban", "cc_x": "credit_card"}
    assert found["contact"].reason == "100% of 50 values match the email pattern"


@pytest.mark.parametrize("name", SAMPLES)
def test_clone_output_holds_no_source_pii_value(name: str, tmp_path: Path) -> None:
    url, schema, frames = _source(name)
    leaked_from = _source_pii_values(schema, frames)
    assert len(leaked_from) > 50  # the databases do hold personal data
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    result = relsynth.clone(url, target, seed=3)
    assert result.violations == 0
    assert set(result.pii) >= set(EXPECTED[name])
    out_schema = read_schema(target)
    output = read_tables(target, out_schema)
    assert _text_cells(output) & leaked_from == set()


def test_demo_clone_holds_no_source_pii_value(tmp_path: Path) -> None:
    # The demo has no names or contacts: nothing is flagged, and no category rarer than k is copied.
    src = tmp_path / "hospital.db"
    write_hospital_sqlite(src, n_patients=800, seed=0)
    result = relsynth.clone(f"sqlite:///{src}", f"sqlite:///{tmp_path / 'copy.db'}", seed=1)
    assert result.pii == {}
    real = read_tables(f"sqlite:///{src}", read_schema(f"sqlite:///{src}"))
    assert _source_pii_values(read_schema(f"sqlite:///{src}"), real) == set()


@pytest.mark.parametrize("name", SAMPLES)
def test_model_file_holds_no_source_pii_value(name: str, tmp_path: Path) -> None:
    url, schema, frames = _source(name)
    values = _source_pii_values(schema, frames)
    path = relsynth.fit(url).save(tmp_path / "m.rsm")
    with zipfile.ZipFile(path) as zf:
        doc = zf.read("model.json").decode("utf-8")
        arrays = zf.read("arrays.npz")
    strings: set[str] = set()

    def walk(obj: object) -> None:
        if isinstance(obj, str):
            strings.add(obj.strip().casefold())
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(k)
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(json.loads(doc))
    assert strings & values == set()
    # Nor as a JSON string in the file's text in any letter case, nor in the arrays' bytes. (A
    # value may still sit inside a longer one: northwind's shipping names hold the company
    # "Antonio Moreno Taquería", named after its contact; company names are not personal data.)
    text = doc.casefold()
    assert [v for v in values if json.dumps(v, ensure_ascii=False) in text or json.dumps(v) in text] == []
    assert [v for v in values if len(v) >= 8 and v.encode("utf-8") in arrays] == []


def test_phone_layout_and_lengths_follow_the_source() -> None:
    _, schema, frames = _source("chinook")
    model = relsynth.fit(frames, schema=schema)
    out = model.sample(seed=5)

    def layouts(values: pd.Series) -> set[str]:
        return {re.sub(r"\d", "9", v) for v in values.dropna()}

    assert len(layouts(out["Customer"]["Phone"])) >= 5  # +1 (403) 262-3443, +55 (12) 3923-5555, ...
    for table in ("Customer", "Employee"):
        assert layouts(out[table]["Phone"]) <= layouts(frames[table]["Phone"])
        assert not set(out[table]["Phone"].dropna()) & set(frames[table]["Phone"].dropna())
        for col in schema.tables[table].columns:
            if col.kind == "string" and col.length:
                assert out[table][col.name].dropna().astype(str).str.len().max() <= col.length, col.name
    # NULL share kept (Customer.Fax: 47 of 59 NULL)
    assert abs(out["Customer"]["Fax"].isna().mean() - frames["Customer"]["Fax"].isna().mean()) < 0.15


def test_common_first_names_in_the_source_leave_unnumbered_names() -> None:
    """Sakila's customers hold most of the common US first names: generated names come from
    the rest of the locale's names, never a source name and never numbered (a third were
    'DEBRA5991' when they were drawn from every name and numbered after ten redraws)."""
    _, _, frames = _source("sakila")
    source = frames["customer"]["first_name"]
    gen = PiiGenerator.fit("first_name", source)
    out = pd.Series(gen.generate(len(source), np.random.default_rng(0)))
    assert not out.str.contains(r"\d").any()
    assert not set(out.str.casefold()) & set(source.str.casefold())
    assert out.str.isupper().all() and out.nunique() >= 30


def test_emails_follow_the_generated_names_of_their_row() -> None:
    _, schema, frames = _source("sakila")
    model = relsynth.fit(frames, schema=schema)
    out = model.sample(seed=2)["customer"]
    local = out["email"].str.split("@").str[0]
    expected = (out["first_name"] + "." + out["last_name"]).str.lower().str.replace(r"[^a-z0-9.]", "", regex=True)
    # (a few carry a number: their name pair hashed into a bucket of a real value's, see PiiGenerator)
    assert (local.str.lower() == expected).mean() > 0.9
    assert local.str.isupper().mean() > 0.95  # MARY.SMITH@…: the name part in the source's case
    # The one domain all 599 customers share is kept; it is nobody's own.
    assert (out["email"].str.endswith("@sakilacustomer.org")).mean() > 0.95
    assert out["first_name"].str.isupper().all()  # the source's letter case


def test_same_seed_same_values_and_child_repeats_parent_value() -> None:
    _, schema, frames = _source("chinook")
    model = relsynth.fit(frames, schema=schema)
    a, b = model.sample(seed=11), model.sample(seed=11)
    for table, cols in model.pii.items():
        pd.testing.assert_frame_equal(a[table][list(cols)], b[table][list(cols)])
    c = model.sample(seed=12)
    assert not a["Customer"]["Email"].equals(c["Customer"]["Email"])
    # An invoice's billing address is its customer's address, in the source and in the copy.
    assert "the parent row's Address" in model.pii["Invoice"]["BillingAddress"]["generator"]
    inv = a["Invoice"].merge(a["Customer"], on="CustomerId")
    assert (inv["BillingAddress"] == inv["Address"]).mean() > 0.99


def test_unique_emails_nulls_and_speed_of_large_columns() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    first = pd.Series(rng.choice(["Ann", "Bob", "Cy"], n), dtype=object)
    emails = pd.Series([f"x{i}@corp.example" for i in range(n)], dtype=object).mask(rng.random(n) < 0.3)
    gen = PiiGenerator.fit("email", emails, unique=True, max_length=30, sources=["first"])
    out = gen.generate(50_000, np.random.default_rng(1), {"first": pd.Series(rng.choice(["Ann", "Bob"], 50_000))})
    assert pd.Series(out).str.casefold().is_unique
    assert max(map(len, out)) <= 30
    assert all(v.split("@")[0].split(".")[0].rstrip("0123456789") in ("ann", "bob") for v in out)
    assert (pd.Series(out).str.endswith("@corp.example")).mean() > 0.9  # a domain 14,000 rows share
    # In a table, the NULL share of the source is kept.
    frame = pd.DataFrame({"id": np.arange(n), "first_name": first, "email": emails})
    schema = schema_from_dataframes({"people": frame}, primary_keys={"people": ["id"]})
    schema.tables["people"].unique.append(UniqueConstraint(["email"]))
    synth = relsynth.fit({"people": frame}, schema=schema).sample(seed=0)["people"]
    assert abs(synth["email"].isna().mean() - 0.3) < 0.03
    assert synth["email"].dropna().is_unique
    assert not set(synth["email"].dropna()) & set(emails.dropna())


def test_locale_changes_the_generated_values() -> None:
    _, schema, frames = _source("chinook")
    de = relsynth.fit(frames, schema=schema, locale="de_DE").sample(seed=1)["Customer"]["Address"]
    us = relsynth.fit(frames, schema=schema).sample(seed=1)["Customer"]["Address"]
    # German street addresses start with the street, US ones with the house number.
    assert de.str.match(r"^[^\W\d]").mean() > 0.8
    assert us.str.match(r"^\d+ ").mean() > 0.8
    with pytest.raises(ConfigError, match="unknown Faker locale 'xx_YY'"):
        relsynth.fit(frames, schema=schema, locale="xx_YY")


def test_overrides_and_their_errors() -> None:
    _, schema, frames = _source("chinook")
    model = relsynth.fit(frames, schema=schema, pii={"Customer.Company": "text", "Customer.Email": None})
    assert model.pii["Customer"]["Company"]["reason"] == "set by the user"
    assert "Email" not in model.pii["Customer"]
    roles = {c.name: c.role for c in model.tables["Customer"].columns}
    assert roles["Company"] == "pii" and roles["Email"] != "pii"
    with pytest.raises(ConfigError, match=r"no column 'Emial' \(did you mean 'Email'\?\)"):
        relsynth.fit(frames, schema=schema, pii={"Customer.Emial": None})
    with pytest.raises(ConfigError, match=r"unknown kind 'emial' \(did you mean 'email'\?\)"):
        relsynth.fit(frames, schema=schema, pii={"Customer.Email": "emial"})
    with pytest.raises(ConfigError, match="must be 'TABLE.COLUMN'"):
        relsynth.fit(frames, schema=schema, pii={"Email": None})


def test_rare_categories_are_not_reproduced() -> None:
    rng = np.random.default_rng(0)
    n = 400
    country = np.array(["USA"] * 200 + ["Canada"] * 150 + ["France"] * 46 + ["Poland"] * 3 + ["Chile"], dtype=object)
    people = pd.DataFrame({"id": np.arange(n), "email": [f"p{i}@x{i % 7}.com" for i in range(n)],
                           "country": rng.permutation(country)})
    labels = pd.DataFrame({"id": np.arange(6), "name": ["Cardiology", "Neurology", "Oncology", "Pediatrics",
                                                        "Radiology", "Surgery"]})
    frames = {"people": people, "wards": labels}
    schema = schema_from_dataframes(frames, primary_keys={"people": ["id"], "wards": ["id"]})
    model = relsynth.fit(frames, schema=schema)
    assert model.rare_categories == {"people": {"country": 2}}
    out = model.sample(seed=0)
    assert set(out["people"]["country"]) <= {"USA", "Canada", "France"}
    # A lookup table's labels (no personal data there, each its own row's name) are kept.
    assert set(out["wards"]["name"]) == set(labels["name"])
    # k = 0 keeps every category.
    assert relsynth.fit(frames, schema=schema, rare_category_threshold=0).rare_categories == {}
    with pytest.raises(ConfigError, match="rare_category_threshold"):
        relsynth.fit(frames, schema=schema, rare_category_threshold=-1)


def test_all_rare_categories_of_people_become_new_values() -> None:
    _, schema, frames = _source("chinook")
    model = relsynth.fit(frames, schema=schema)
    assert model.rare_categories["Employee"]["Title"] == 5
    titles = set(model.sample(seed=1)["Employee"]["Title"].dropna())
    assert not titles & set(frames["Employee"]["Title"].dropna())


def test_all_rare_countries_and_companies_become_other_real_ones() -> None:
    """Northwind's 29 suppliers in 16 countries and its 6 shippers, every value rare: Faker's
    countries and company names instead of pattern text ('Bzwrtto'), none a source value, each
    source country its own new one; two-letter codes stay codes."""
    from faker.providers.address.en_US import Provider  # Faker's US list of countries

    _, schema, frames = _source("northwind")
    model = relsynth.fit(frames, schema=schema)
    assert model.rare_categories["suppliers"]["country"] == 16
    out = model.sample(seed=1)
    countries = set(Provider.countries)
    made = out["suppliers"]["country"].dropna()
    assert set(made) <= countries and not set(made) & set(frames["suppliers"]["country"])
    assert made.nunique() >= 10  # 16 in the model; the copula draws most of them again
    shippers = out["shippers"]["company_name"]
    assert not set(shippers) & set(frames["shippers"]["company_name"])
    assert shippers.str.contains(r"^[A-Z][a-z]+(?:[ ,\-]|$)").all()  # "Lopez Group", "Terry-Smith", ...

    codes = pd.DataFrame({"id": range(8), "country_code": ["US", "DE", "FR", "US", "NL", "BE", "US", "JP"]})
    table = Table("firms", [Column("id", "integer"), Column("country_code", "string", length=2)], primary_key=["id"])
    remade, changed = suppress_rare_categories(table, codes, 5, {"id"}, False, np.random.default_rng(0))
    assert changed == {"country_code": 6}
    new = remade["country_code"]
    assert new.str.fullmatch(r"[A-Z]{2}").all() and not set(new) & set(codes["country_code"])
    assert (new[codes["country_code"] == "US"].nunique(), new.nunique()) == (1, 6)  # one new code per source code
    sizes = codes.rename(columns={"country_code": "company_size"})
    table = Table("firms", [Column("id", "integer"), Column("company_size", "string")], primary_key=["id"])
    remade, _ = suppress_rare_categories(table, sizes, 5, {"id"}, False, np.random.default_rng(0))
    assert remade["company_size"].str.fullmatch(r"[A-Z]{2}").all()  # patterns: a size is no company


def test_model_save_load_keeps_pii_report(tmp_path: Path) -> None:
    _, schema, frames = _source("chinook")
    model = relsynth.fit(frames, schema=schema, locale="de_DE", rare_category_threshold=3)
    loaded = relsynth.load(model.save(tmp_path / "m.rsm"))
    assert loaded.pii == model.pii and loaded.locale == "de_DE" and loaded.rare_category_threshold == 3
    assert loaded.rare_categories == model.rare_categories
    a, b = model.sample(seed=4), loaded.sample(seed=4)
    pd.testing.assert_frame_equal(a["Customer"], b["Customer"])


def test_inspect_reports_pii(tmp_path: Path) -> None:
    url = f"sqlite:///{dataset('chinook')}"
    info = relsynth.inspect(url)
    assert info.pii["Customer"]["Email"]["kind"] == "email"
    assert "Genre" not in info.pii
    runner = CliRunner()
    res = runner.invoke(app, ["inspect", url, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["pii"]["Employee"]["Phone"]["kind"] == "phone"
    assert relsynth.inspect(url, pii=False).pii is None


def test_cli_clone_lists_pii_and_takes_overrides(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{dataset('chinook')}"
    res = runner.invoke(app, ["clone", url, f"sqlite:///{tmp_path / 'c.db'}", "--seed", "1",
                              "--pii", "Customer.Company=text,Customer.Fax=none", "--locale", "fr_FR"])
    assert res.exit_code == 0, res.output
    assert "personal data (generated, never copied):" in res.output
    assert "Company (text)" in res.output and "Fax (phone)" not in res.output.split("Employee")[0]
    assert "exact copies:" in res.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.connect() as conn:
        companies = conn.exec_driver_sql('SELECT "Company" FROM "Customer" WHERE "Company" IS NOT NULL').scalars().all()
    engine.dispose()
    real = read_tables(url, read_schema(url, include=["Customer", "Employee"]))["Customer"]["Company"]
    assert companies and not set(companies) & set(real.dropna())
    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "relsynth", "fit", url, "-o", str(tmp_path / "m.rsm"),
                          "--pii", "Customer.Company"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --pii 'Customer.Company' must be")
    assert not (tmp_path / "m.rsm").exists()


def _signups(n: int = 300, m: int = 200, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Customers, newsletter sign-ups (70% of them customers: their email and name), and
    suppliers whose emails are nobody's; no foreign key anywhere."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    first = [fake.first_name() for _ in range(n)]
    last = [fake.last_name() for _ in range(n)]
    email = [f"{a.lower()}.{b.lower()}{i}@mail.example" for i, (a, b) in enumerate(zip(first, last))]
    customer = pd.DataFrame({"id": np.arange(1, n + 1), "first_name": first, "last_name": last, "email": email,
                             "age": rng.integers(18, 90, n)})
    pick = rng.choice(n, int(0.7 * m), replace=False)
    others = m - pick.size
    other_first = [fake.first_name() for _ in range(others)]
    other_last = [fake.last_name() for _ in range(others)]
    signup = pd.DataFrame({
        "id": np.arange(1, m + 1),
        "first_name": [first[i] for i in pick] + other_first,
        "last_name": [last[i] for i in pick] + other_last,
        "email": [email[i] for i in pick] + [f"{a.lower()}{b.lower()}@other.example"
                                              for a, b in zip(other_first, other_last)],
        "topic": rng.choice(["news", "offers", "events"], m),
    })
    supplier = pd.DataFrame({"id": np.arange(1, 41), "contact_email": [f"sales{i}@supplier{i}.example" for i in range(40)],
                             "rating": rng.integers(1, 6, 40)})
    return {"customer": customer, "newsletter_signup": signup, "supplier": supplier}


def _linked_share(out: dict[str, pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    """Share of sign-up emails that are a synthetic customer's, and those sign-ups joined to the customer."""
    signup, customer = out["newsletter_signup"], out["customer"]
    inside = signup["email"].isin(customer["email"])
    return float(inside.mean()), signup[inside].merge(customer, on="email", suffixes=("", "_customer"))


def test_same_persons_values_agree_across_tables_without_a_foreign_key(tmp_path: Path) -> None:
    frames = _signups()
    schema = schema_from_dataframes(frames, primary_keys={t: ["id"] for t in frames})
    schema.tables["newsletter_signup"].unique.append(UniqueConstraint(["email"]))
    model = relsynth.fit(frames, schema=schema)
    [link] = model.pii_links  # suppliers share no value with anyone
    assert (link.table, link.source_table, link.columns[0], link.source_columns[0]) == \
        ("newsletter_signup", "customer", "email", "email")
    assert set(link.columns) == {"email", "first_name", "last_name"} and link.share == 0.7
    assert "in 70% of rows a generated customer row's email" in model.pii["newsletter_signup"]["email"]["generator"]
    out = model.sample(seed=4)
    share, joined = _linked_share(out)
    assert 0.55 <= share <= 0.85
    # The person's fields come from the same customer row.
    assert (joined["first_name"] == joined["first_name_customer"]).all()
    assert (joined["last_name"] == joined["last_name_customer"]).all()
    assert out["newsletter_signup"]["email"].is_unique
    assert not (out["supplier"]["contact_email"].isin(out["customer"]["email"])).any()
    # Nothing real in the output, and only names and the share in the model file.
    real = _source_pii_values(schema, frames)
    assert not real & _text_cells(out)
    path = model.save(tmp_path / "m.rsm")
    with zipfile.ZipFile(path) as zf:
        doc = zf.read("model.json").decode()
    assert not any(v in doc.casefold() for v in real if "@" in v)
    loaded = relsynth.load(path)
    assert loaded.pii_links == model.pii_links
    # Drawn in partitions, the customers are drawn whole first and the sign-ups draw from all of them.
    streamed = collect(loaded.stream(seed=4, partition_rows=50), list(schema.tables))
    assert 0.55 <= _linked_share(streamed)[0] <= 0.85
    # A column the user's options set keeps that setting; the rest of the link holds.
    named = model.sample(seed=4, tables={"newsletter_signup": {"columns": {"first_name": {"value": "Zed"}}}})
    assert (named["newsletter_signup"]["first_name"] == "Zed").all()
    share, joined = _linked_share(named)
    assert 0.55 <= share <= 0.85 and (joined["last_name"] == joined["last_name_customer"]).all()


def test_inspect_reports_links_and_the_sample_databases_have_none(tmp_path: Path) -> None:
    frames = _signups()
    url = f"sqlite:///{tmp_path / 'signups.db'}"
    engine = sa.create_engine(url)
    for name, frame in frames.items():
        frame.to_sql(name, engine, index=False)
    engine.dispose()
    info = relsynth.inspect(url)
    assert [(link["table"], link["source_table"], link["share"]) for link in info.pii_links] == \
        [("newsletter_signup", "customer", 0.7)]
    res = CliRunner().invoke(app, ["inspect", url])
    assert res.exit_code == 0, res.output
    assert "personal data shared between tables: newsletter_signup.email, first_name, last_name ← customer.email, " \
           "first_name, last_name (70% of rows)" in " ".join(res.output.split())
    write_hospital_sqlite(tmp_path / "hospital.db", n_patients=500)
    demo = f"sqlite:///{tmp_path / 'hospital.db'}"
    for source in [demo] + [f"sqlite:///{dataset(name)}" for name in SAMPLES]:
        assert relsynth.inspect(source, integrity=False).pii_links == [], source
    res = CliRunner().invoke(app, ["inspect", f"sqlite:///{dataset('chinook')}", "--no-integrity"])
    assert "personal data shared between tables without a foreign key: none" in res.output


def test_a_kept_pool_is_made_once_and_made_the_same_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from relsynth.transform.pii import PoolCache

    gen = PiiGenerator.fit("street_address", pd.Series([f"{i} Main St" for i in range(20)]))
    made: list[str] = []
    real = PiiGenerator._new_pool
    monkeypatch.setattr(PiiGenerator, "_new_pool", lambda self, what, *rest: made.append(what) or real(self, what, *rest))
    cache = PoolCache([7, 1, 2])
    first = gen.generate(50, np.random.default_rng(0), pools=cache)
    gen.generate(50, np.random.default_rng(1), pools=cache)  # a later partition
    assert made == ["street_address"]
    elsewhere = pickle.loads(pickle.dumps(cache))  # a worker's copy arrives empty and makes the same pool
    assert len(elsewhere) == 0
    assert list(gen.generate(50, np.random.default_rng(0), pools=elsewhere)) == list(first)
