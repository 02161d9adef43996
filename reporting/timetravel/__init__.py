"""Time travel: the read models as of any past moment or stream position.

`moments` reads what the auditor asks for (a Jalali or Gregorian date, or positions); `cut`
folds a cut of the log (pure); `snapshots` keeps periodic snapshots of every open demand per
partition, keyed by log offset, and the worker that writes them; `query` answers from the
nearest snapshot plus the log's tail after it; `api` serves `/asof/...`.
"""
