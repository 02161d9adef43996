"""Tamper evidence: a hash chain over each partition of the log (`chain`), sealed by seals
recorded in the stream itself (`sealer`), checked by `verify` against the live log or an
exported archive (`archive`)."""
