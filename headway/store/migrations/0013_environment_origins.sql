-- Browser origins allowed to call an environment's client-side endpoints (OFREP, exposures)
-- from another origin: a JSON array of origins such as ["https://app.example.com"]. NULL (every
-- environment that existed before) allows none, the same as an empty list.

ALTER TABLE environments ADD COLUMN cors_origins TEXT;
