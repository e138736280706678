"""Recipe: relsynth in an ETL job — fit once, save the model, sample many times.

Run it as a script (``python examples/etl_recipe.py [OUTPUT_DIR]``) or cell by cell in a notebook (the
``# %%`` markers are cells in VS Code / Jupytext). It builds the demo hospital database in a
temporary directory, learns it once, saves and reloads the model, then samples twice with
different seeds and scales: into a SQLite database and into a directory of CSV files.
Every output is checked for integrity (keys, NOT NULL, UNIQUE, CHECKs).
"""

# %% Setup: a source database (in a real job this is production, read-only)
import sys
import tempfile
from pathlib import Path

import relsynth
from relsynth.data import write_hospital_sqlite
from relsynth.sinks import total_violations, verify_files, verify_integrity

# Outputs go to the directory given as the first argument, or to a new temporary one.
work = Path(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else Path(
    tempfile.mkdtemp(prefix="relsynth-etl-"))
work.mkdir(parents=True, exist_ok=True)
write_hospital_sqlite(work / "prod.db", n_patients=2000, seed=0, overwrite=True)
source = f"sqlite:///{work / 'prod.db'}"

# %% Fit once and save the model (a zip of JSON and numpy arrays: no pickle, no source rows)
model = relsynth.fit(source)
model_path = model.save(work / "hospital.rsm")
print(f"model of {len(model.tables)} tables saved to {model_path.name} ({model_path.stat().st_size:,} bytes)")

# %% A later run (another process, another day): load and sample into a test database
model = relsynth.load(model_path)
nightly = model.sample(scale=1.0, seed=20261122)
target = f"sqlite:///{work / 'test.db'}"
relsynth.write(nightly, target, model.schema, if_exists="replace")
bad = total_violations(verify_integrity(target, model.schema))
print(f"test.db: {', '.join(f'{n} {len(f):,}' for n, f in nightly.items())} rows; {bad} integrity violations")

# %% Another seed and twice the size, as CSV files for a data-lake load (metadata.json alongside)
big = model.sample(scale=2.0, seed=7)
relsynth.write(big, work / "lake", model.schema, if_exists="replace")
bad_files = total_violations(verify_files(work / "lake", model.schema))
files = sorted(p.name for p in (work / "lake").iterdir())
print(f"lake/: {', '.join(files)}; {len(big['patients']):,} patients; {bad_files} integrity violations")

# %% How close is the copy? (detection classifiers skipped to keep the job short)
report = relsynth.evaluate(source, work / "lake", detection=False)
s = report.summary
print(f"fidelity {s['overall']:.1%}: column shapes {s['column_shapes']:.1%}, pair trends {s['column_pair_trends']:.1%}")
print(f"different seeds give different rows: {not nightly['patients'].head(50).equals(big['patients'].head(50))}")

assert bad == 0 and bad_files == 0, "integrity violations in the synthetic output"
print(f"outputs in {work}")
