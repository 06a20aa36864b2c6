"""Headway's Python SDK: local flag evaluation, streaming updates, exposure telemetry."""

from headway.sdk.client import Client

__all__ = ["Client"]
