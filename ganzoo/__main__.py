"""``python -m ganzoo`` (also what ``torchrun -m ganzoo train ...`` runs)."""

from .cli import main

main()
