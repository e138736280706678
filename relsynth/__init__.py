"""relsynth: synthetic copies of relational databases.

Quickstart::

    import relsynth

    relsynth.clone("sqlite:///prod.db", "postgresql://localhost/test_copy", scale=1.0, seed=7)

    model = relsynth.fit("sqlite:///prod.db")     # learn once
    model.save("prod.rsm")                        # JSON + numpy arrays, no pickle
    model = relsynth.load("prod.rsm")
    tables = model.sample(scale=2.0, seed=1)      # dict[str, pandas.DataFrame]
    relsynth.write(tables, "sqlite:///copy.db", model.schema)
    relsynth.write(tables, "./copy/", model.schema)   # one CSV per table + metadata.json
    report = relsynth.evaluate("sqlite:///prod.db", "sqlite:///copy.db")
    report.save("report.html")                    # plots, offline; .json for every figure

    relsynth.load_config("relsynth.yaml").clone() # the same from a YAML file (`relsynth init` writes one)

The schema (tables, keys, constraints) is read with SQLAlchemy; tables are learned parent-first
with a Gaussian copula each; children are sampled conditioned on their synthetic parents so
every foreign key points at a real synthetic row; the target database enforces every key.
"""

from __future__ import annotations

from relsynth import _startup

with _startup.imports_without_gc():
    from relsynth.api import CloneResult, Inspection, clone, fit, inspect, load, verify, write
    from relsynth.config import Config, load_config
    from relsynth.errors import (
        ConfigError,
        ModelError,
        RelsynthError,
        SchemaError,
        SinkError,
        SourceError,
        TargetNotEmptyError,
    )
    from relsynth.evaluate.report import Report, evaluate
    from relsynth.models.relational import Model
    from relsynth.plan import Plan, make_plan
    from relsynth.schema.dataframes import RelationalData
    from relsynth.schema.model import CheckConstraint, Column, ForeignKey, Schema, Table, UniqueConstraint

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "clone",
    "fit",
    "inspect",
    "load",
    "write",
    "verify",
    "load_config",
    "Config",
    "evaluate",
    "Report",
    "make_plan",
    "Model",
    "Plan",
    "Inspection",
    "CloneResult",
    "RelationalData",
    "Schema",
    "Table",
    "Column",
    "ForeignKey",
    "UniqueConstraint",
    "CheckConstraint",
    "RelsynthError",
    "ConfigError",
    "SchemaError",
    "SourceError",
    "ModelError",
    "SinkError",
    "TargetNotEmptyError",
]
