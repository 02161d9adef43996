"""Reporting: the projector that folds the log into MongoDB read models (`projector`,
`readmodels`), their rebuild from offset zero (`replay`) and the read API (`api`, `app`)."""
