ALTER TABLE findings
    DROP CONSTRAINT findings_test_fk,
    ADD CONSTRAINT findings_test_fk FOREIGN KEY (test_id, engagement_id, product_id)
        REFERENCES tests (id, engagement_id, product_id) ON DELETE CASCADE;
ALTER TABLE tests
    DROP CONSTRAINT tests_engagement_fk,
    ADD CONSTRAINT tests_engagement_fk FOREIGN KEY (engagement_id, product_id)
        REFERENCES engagements (id, product_id) ON DELETE CASCADE;
DROP VIEW product_grants;
DROP VIEW user_memberships;
DROP TABLE memberships;
DROP TABLE group_members;
DROP TABLE groups;
ALTER TABLE users DROP COLUMN global_role;
