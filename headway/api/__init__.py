"""Headway's HTTP surface: one FastAPI app, one router per resource.

Owns: routes, authentication of requests (tokens, webhook signatures, SDK keys) and what a
scoped role reaches (`scopes.py`), limits on what a request may cost, and the JSON each route
answers.
May import: every layer below it (services, domain, store, config); never `headway.cli`.
"""
