"""``python -m relsynth`` runs the command line."""

from relsynth.cli import run

run()
