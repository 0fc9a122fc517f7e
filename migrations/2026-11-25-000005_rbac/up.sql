-- Role-based access control, DefectDojo 2.x's classic model (reference §7.1): groups of users,
-- memberships that grant a role on a product type (inherited by all its products) or on a product
-- to a user or a group, and global roles for users and groups. Roles, lowest first:
-- READER < API_IMPORTER < WRITER < MAINTAINER < OWNER. Roles only add.
ALTER TABLE users
    ADD COLUMN global_role VARCHAR(16)
        CHECK (global_role IN ('READER', 'API_IMPORTER', 'WRITER', 'MAINTAINER', 'OWNER'));

CREATE TABLE groups (
    id          SERIAL PRIMARY KEY,
    name        VARCHAR(255) NOT NULL CHECK (name <> ''),
    description VARCHAR(4000),
    global_role VARCHAR(16)
                CHECK (global_role IN ('READER', 'API_IMPORTER', 'WRITER', 'MAINTAINER', 'OWNER')),
    created     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

-- A user's role inside a group governs managing the group (not the group's product roles).
CREATE TABLE group_members (
    id       SERIAL PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role     VARCHAR(16) NOT NULL
             CHECK (role IN ('READER', 'API_IMPORTER', 'WRITER', 'MAINTAINER', 'OWNER')),
    created  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT group_members_group_user_key UNIQUE (group_id, user_id)
);
CREATE INDEX group_members_user_id_idx ON group_members (user_id);

-- One row per grant: exactly one target (product type or product), exactly one member (user or
-- group), at most one grant per (target, member).
CREATE TABLE memberships (
    id              SERIAL PRIMARY KEY,
    product_type_id INTEGER REFERENCES product_types (id) ON DELETE CASCADE,
    product_id      INTEGER REFERENCES products (id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users (id) ON DELETE CASCADE,
    group_id        INTEGER REFERENCES groups (id) ON DELETE CASCADE,
    role            VARCHAR(16) NOT NULL
                    CHECK (role IN ('READER', 'API_IMPORTER', 'WRITER', 'MAINTAINER', 'OWNER')),
    created         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT memberships_one_target CHECK (num_nonnulls(product_type_id, product_id) = 1),
    CONSTRAINT memberships_one_member CHECK (num_nonnulls(user_id, group_id) = 1)
);
CREATE UNIQUE INDEX memberships_product_type_user_key ON memberships (product_type_id, user_id)
    WHERE product_type_id IS NOT NULL AND user_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_product_type_group_key ON memberships (product_type_id, group_id)
    WHERE product_type_id IS NOT NULL AND group_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_product_user_key ON memberships (product_id, user_id)
    WHERE product_id IS NOT NULL AND user_id IS NOT NULL;
CREATE UNIQUE INDEX memberships_product_group_key ON memberships (product_id, group_id)
    WHERE product_id IS NOT NULL AND group_id IS NOT NULL;
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
CREATE INDEX memberships_group_id_idx ON memberships (group_id);

-- Every membership as it applies to a user: their own, and their groups'.
CREATE VIEW user_memberships AS
    SELECT m.id, m.product_type_id, m.product_id, m.user_id, m.role
      FROM memberships m WHERE m.user_id IS NOT NULL
    UNION ALL
    SELECT m.id, m.product_type_id, m.product_id, gm.user_id, m.role
      FROM memberships m JOIN group_members gm ON gm.group_id = m.group_id;

-- Every role a user holds on a product: granted on the product, or on its product type.
-- Read access to a product (and everything below it) is "a row here"; queries filter with
-- `product_id IN (SELECT product_id FROM product_grants WHERE user_id = $u)`.
CREATE VIEW product_grants AS
    SELECT um.product_id, um.user_id, um.role
      FROM user_memberships um WHERE um.product_id IS NOT NULL
    UNION ALL
    SELECT p.id AS product_id, um.user_id, um.role
      FROM user_memberships um JOIN products p ON p.product_type_id = um.product_type_id;

-- Re-parenting (an engagement to another product, a test to another engagement) rewrites the
-- ancestor ids that tests and findings carry: let the composite keys cascade the change.
ALTER TABLE tests
    DROP CONSTRAINT tests_engagement_fk,
    ADD CONSTRAINT tests_engagement_fk FOREIGN KEY (engagement_id, product_id)
        REFERENCES engagements (id, product_id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE findings
    DROP CONSTRAINT findings_test_fk,
    ADD CONSTRAINT findings_test_fk FOREIGN KEY (test_id, engagement_id, product_id)
        REFERENCES tests (id, engagement_id, product_id) ON DELETE CASCADE ON UPDATE CASCADE;
