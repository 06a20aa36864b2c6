"""Feature flags: configuration model, bucketing, evaluation, storage and service.

Owns: the flag, segment and token models, the users who sign in and their roles
(`users.py`), rule evaluation, the flag tables read as those models (their statements live
in `store.flags`), the snapshot SDKs download, and changes scheduled for a given time
(`schedules.py`, read from `schedule_time.py`; statements in `store.schedules`).
May import: `store`, `config`, `model`, `metrics.results` (the base of its typed results)
and the standard library; never the services or surfaces above it.
"""
