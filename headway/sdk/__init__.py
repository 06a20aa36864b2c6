"""Headway's Python SDK: local flag evaluation, streaming updates, exposure telemetry.

Owns: what an application embeds to evaluate flags without a request per evaluation.
May import: `flags` (its model and evaluation, the same code the server runs); never the store.
"""

from headway.sdk.client import Client

__all__ = ["Client"]
