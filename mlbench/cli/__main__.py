"""``python -m mlbench.cli``."""

from mlbench.cli import main

main()
