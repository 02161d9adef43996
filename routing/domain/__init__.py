"""Routing's pure domain: rule table, deadlines, the ladder and the decision function. No I/O."""
