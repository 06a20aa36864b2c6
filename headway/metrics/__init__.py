"""Metrics over the canonical store: the five DORA keys, flow stages, friction signals."""
