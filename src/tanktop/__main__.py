"""Allow `python -m tanktop`."""

from tanktop.cli import app

app()
