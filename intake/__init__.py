"""Intake: records demands. Validates a submission and appends one DemandSubmitted to the log."""
