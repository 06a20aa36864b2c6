-- The service a delivery was sent for when its payload names none (CDEvents' `?service=` on
-- the webhook, `--service` on `headway import cdevents`), so `headway reprocess` derives the
-- event exactly as it was derived when it arrived.
ALTER TABLE raw_events ADD COLUMN default_service TEXT;
