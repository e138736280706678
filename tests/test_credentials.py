"""Passwords never reach a terminal, a log, a report or a file.

The PostgreSQL test server trusts local logins, so a URL may carry any password and still
connect: every command runs with one, at ``--log-level debug``, and its output, its log
lines and every file it writes are searched for it. Errors that embed a driver's message
(an unreachable server, a refused login) are checked the same way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

import relsynth
from relsynth.data import write_hospital_sqlite
from relsynth.errors import RelsynthError

PASSWORD = "Pw-8xK-credential"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relsynth", "--log-level", "debug", *args],
                          capture_output=True, text=True)


def with_password(url: str) -> str:
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def assert_clean(r: subprocess.CompletedProcess[str], *, ok: bool = True) -> None:
    assert (r.returncode == 0) == ok, r.stderr
    assert PASSWORD not in r.stdout and PASSWORD not in r.stderr


@pytest.mark.postgres
def test_no_command_shows_the_password(pg_url: str, pg_url2: str, tmp_path: Path) -> None:
    src = with_password(pg_url)
    dst = with_password(pg_url2)
    demo = tmp_path / "demo.db"
    write_hospital_sqlite(demo, n_patients=300, seed=0)
    r = cli("clone", f"sqlite:///{demo}", src, "--seed", "1")
    assert_clean(r)
    assert "***" in r.stdout  # the table's title names the target, masked
    assert "DEBUG relsynth" in r.stderr  # the log really was at debug level
    assert_clean(cli("inspect", src))
    assert_clean(cli("clone", src, dst, "--seed", "2", "--format", "json"))
    assert_clean(cli("clone", src, dst, "--seed", "2", "--if-exists", "replace"))
    html, model = tmp_path / "r.html", tmp_path / "m.rsm"
    assert_clean(cli("report", src, dst, "--no-detection", "-o", str(html)))
    assert_clean(cli("fit", src, "-o", str(model)))
    assert_clean(cli("sample", str(model), "--to", dst, "--if-exists", "replace"))
    r = cli("clone", src, dst)  # refused: non-empty target; the message names the target
    assert_clean(r, ok=False)
    assert "***" in r.stderr
    for path in (html, model):
        assert PASSWORD.encode() not in path.read_bytes(), path
    # The library's values: results, inspections, reports.
    result = relsynth.clone(src, dst, seed=3, if_exists="replace")
    info = relsynth.inspect(src)
    report = relsynth.evaluate(src, dst, detection=False)
    for text in (repr(result), repr(info), str(info.to_dict()), report.to_json(), repr(report.summary)):
        assert PASSWORD not in text


def test_errors_with_driver_messages_mask_the_password(tmp_path: Path) -> None:
    down = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/db"
    demo = tmp_path / "demo.db"
    write_hospital_sqlite(demo, n_patients=100, seed=0)
    for source, target in ((down, f"sqlite:///{tmp_path / 'x.db'}"), (f"sqlite:///{demo}", down),
                           (f"mysql://root:{PASSWORD}@127.0.0.1:1/db", f"sqlite:///{tmp_path / 'x.db'}")):
        with pytest.raises(RelsynthError) as info:
            relsynth.clone(source, target)
        assert PASSWORD not in str(info.value) and "***" in str(info.value)
        r = cli("clone", source, target)
        assert_clean(r, ok=False)
    # A URL that cannot be parsed still has what looks like user:password@ masked.
    r = cli("inspect", f"postgresql://u:{PASSWORD}@host:notaport/db")
    assert_clean(r, ok=False)
    assert r.returncode == 2


@pytest.mark.mysql
def test_refused_login_masks_the_password(mysql_url: str, tmp_path: Path) -> None:
    url = with_password(mysql_url)  # root has no password: this one is refused
    r = cli("inspect", url)
    assert_clean(r, ok=False)
    assert "Access denied" in r.stderr and "***" in r.stderr


def test_a_password_given_as_a_query_parameter_is_masked(tmp_path: Path) -> None:
    from relsynth.urls import mask_url

    for url in (f"postgresql://u@h/db?password={PASSWORD}&sslmode=require", f"mysql://u@h/db?passwd={PASSWORD}",
                f"postgresql://u@h:notaport/db?PWD={PASSWORD}"):
        assert PASSWORD not in mask_url(url) and "***" in mask_url(url)
    r = cli("inspect", f"postgresql://postgres@127.0.0.1:1/db?password={PASSWORD}")
    assert_clean(r, ok=False)
    assert "cannot connect" in r.stderr
