"""Interpretation: detectors, notes and the monthly review.

Owns: findings over the metrics, interpretation notes, the developer confidence pulse and the
review document (HTML, Markdown).
May import: `metrics`, `answers` (where figures are computed), `engines` (only from
`on_engine`, imported when an engine is set), `query`, `definitions`, `store`; not another
service or a surface.

`findings.detect` runs both kinds of detector for a scope: `detectors` compare a team's
current window with the one before (`windows`), and `comparisons` read across teams and
definition changes; `diagnoses` and `costs` read a team's last six months (`months`). Every
finding is an `evidence.Finding`. The records they read, and the review's figures, come from
the store or an analytics engine (`sources`, `on_engine`), chosen by the settings (`where`). `review` builds the monthly document from the metrics, the
findings and `notes`, with its `questions`, its tables (`review_tables`) and `charts`;
`results` holds the typed models of findings and the review. `pulse` is the developer
confidence pulse (its questions, anonymous answers, results with the anonymity threshold),
`pulse_links` its survey links, `pulse_results` their typed models; `review_confidence` sets
the pulse beside deployment frequency and rollout outcomes in the review.
"""
