"""Schema description, the frame convention, and readers for databases and DataFrames."""

from __future__ import annotations

from relsynth.schema.dataframes import RelationalData, schema_from_dataframes, schema_from_metadata
from relsynth.schema.frames import DATETIME_DTYPE, DTYPES, coerce_frame, coerce_series, dtype_for, empty_frame
from relsynth.schema.model import (
    KINDS,
    CheckConstraint,
    Column,
    ForeignKey,
    Kind,
    Schema,
    Table,
    UniqueConstraint,
)
from relsynth.schema.sdv import from_sdv_metadata, to_sdv_metadata
from relsynth.schema.reader import connect, read_schema, read_tables, sqlite_check_constraints
from relsynth.urls import mask_url

__all__ = [
    # model
    "Kind",
    "KINDS",
    "Column",
    "ForeignKey",
    "UniqueConstraint",
    "CheckConstraint",
    "Table",
    "Schema",
    # frames
    "DTYPES",
    "DATETIME_DTYPE",
    "dtype_for",
    "empty_frame",
    "coerce_series",
    "coerce_frame",
    # reader
    "connect",
    "mask_url",
    "read_schema",
    "read_tables",
    "sqlite_check_constraints",
    # dataframes
    "RelationalData",
    "schema_from_dataframes",
    "schema_from_metadata",
    # SDV metadata
    "from_sdv_metadata",
    "to_sdv_metadata",
]
