-- Notification settings: which event kinds a user wants delivered by the `notifications`
-- subscription, per product (product_id set) or as the user's default for every product
-- (product_id NULL). Without a row, the server's defaults apply.
CREATE TABLE notification_settings (
    id         SERIAL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id INTEGER REFERENCES products (id) ON DELETE CASCADE,
    kinds      TEXT[] NOT NULL DEFAULT '{}',
    updated    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX notification_settings_user_product_key
    ON notification_settings (user_id, COALESCE(product_id, 0));
CREATE INDEX notification_settings_product_id_idx ON notification_settings (product_id);

-- System-wide settings (one row).
CREATE TABLE system_settings (
    id                         INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    engagement_auto_close      BOOLEAN NOT NULL DEFAULT FALSE,
    engagement_auto_close_days INTEGER NOT NULL DEFAULT 3 CHECK (engagement_auto_close_days >= 0),
    updated                    TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO system_settings DEFAULT VALUES;

-- When ENGAGEMENT_OVERDUE was last emitted for an engagement (cleared when it stops being
-- overdue, so it is emitted again if it becomes overdue again).
ALTER TABLE engagements ADD COLUMN overdue_notified_at TIMESTAMPTZ;
