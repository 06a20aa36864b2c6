"""Feature flags: configuration model, bucketing, evaluation, storage and service."""
