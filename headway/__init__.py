"""Headway: measure how change flows from commit to users, and control that flow."""

__version__ = "0.1.0"
