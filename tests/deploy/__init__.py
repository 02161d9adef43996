"""Offline checks of everything that deploys Sada."""
