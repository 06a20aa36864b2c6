"""Interpretation: detectors, notes and the monthly review."""
