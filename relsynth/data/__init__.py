"""Bundled demo data: a simulated hospital database for trying relsynth without a database."""

from __future__ import annotations

from relsynth.data.hospital import build_hospital, hospital_schema, write_hospital_sqlite

__all__ = ["build_hospital", "hospital_schema", "write_hospital_sqlite"]
