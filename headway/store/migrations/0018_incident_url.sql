-- Where an incident's source shows it (PagerDuty's `html_url`), so the records behind a figure
-- can link to it. NULL (every incident stored before, and sources that send none): no link.
ALTER TABLE incidents ADD COLUMN url TEXT;
