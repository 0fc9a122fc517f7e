DROP TABLE event_relay;
DROP TABLE event_outbox;
