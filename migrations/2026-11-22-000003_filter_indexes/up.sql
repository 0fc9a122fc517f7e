-- Indexes for the remaining list filters: finding title search (ILIKE '%…%', via trigrams) and
-- engagement type. pg_trgm ships with Postgres (contrib) and is a trusted extension.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX findings_title_trgm_idx ON findings USING GIN (title gin_trgm_ops);
CREATE INDEX engagements_engagement_type_idx ON engagements (engagement_type);
