"""Event families: one module per area of the domain."""
