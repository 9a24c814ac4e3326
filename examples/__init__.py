"""Example workflows (``make demo`` runs :mod:`examples.support`)."""
