"""Interpretation: detectors, notes and the monthly review.

Owns: findings over the metrics, interpretation notes and the review document (HTML, Markdown).
May import: `metrics`, `query`, `definitions`, `store`; not another service or a surface.
"""
