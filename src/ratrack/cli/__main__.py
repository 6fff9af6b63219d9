"""``python -m ratrack.cli``."""

from ratrack.cli import main

main()
