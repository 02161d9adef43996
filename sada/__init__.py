"""Sada's composition root: the `sada` command line, the embedded runner and the demo.

The one package that may import every service (intake, routing, reporting) and the shared
kernel (`services/`) together; nothing imports it but tests and benchmarks.
"""
