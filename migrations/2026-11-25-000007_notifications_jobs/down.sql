ALTER TABLE engagements DROP COLUMN overdue_notified_at;
DROP TABLE system_settings;
DROP TABLE notification_settings;
