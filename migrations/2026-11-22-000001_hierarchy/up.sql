-- The Product Type → Product → Engagement → Test → Finding hierarchy, with its reference data.
-- Enumerations are stored as their GraphQL SCREAMING_CASE names and guarded by CHECK constraints.
-- Tests and findings carry their ancestors' ids (engagement_id, product_id); composite foreign keys
-- keep those copies consistent, and they keep every query product-scoped (DESIGN.md, scale-out).

CREATE TABLE users (
    id          SERIAL PRIMARY KEY,
    username    VARCHAR(150) NOT NULL UNIQUE CHECK (username <> ''),
    email       VARCHAR(254),
    first_name  VARCHAR(150),
    last_name   VARCHAR(150),
    created     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sla_configurations (
    id                          SERIAL PRIMARY KEY,
    name                        VARCHAR(128) NOT NULL UNIQUE CHECK (name <> ''),
    description                 VARCHAR(512),
    critical                    INTEGER NOT NULL DEFAULT 7 CHECK (critical >= 1),
    high                        INTEGER NOT NULL DEFAULT 30 CHECK (high >= 1),
    medium                      INTEGER NOT NULL DEFAULT 90 CHECK (medium >= 1),
    low                         INTEGER NOT NULL DEFAULT 120 CHECK (low >= 1),
    enforce_critical            BOOLEAN NOT NULL DEFAULT TRUE,
    enforce_high                BOOLEAN NOT NULL DEFAULT TRUE,
    enforce_medium              BOOLEAN NOT NULL DEFAULT TRUE,
    enforce_low                 BOOLEAN NOT NULL DEFAULT TRUE,
    restart_sla_on_reactivation BOOLEAN NOT NULL DEFAULT FALSE,
    created                     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated                     TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO sla_configurations (id, name, description) VALUES
    (1, 'Default', 'The SLA configuration every product starts with.');
INSERT INTO sla_configurations (id, name, description, enforce_critical, enforce_high, enforce_medium, enforce_low) VALUES
    (2, 'No SLA Enforced', 'No severity has a deadline.', FALSE, FALSE, FALSE, FALSE);
SELECT setval('sla_configurations_id_seq', 2);

CREATE TABLE development_environments (
    id      SERIAL PRIMARY KEY,
    name    VARCHAR(200) NOT NULL UNIQUE CHECK (name <> '')
);
INSERT INTO development_environments (name) VALUES
    ('Development'), ('Staging'), ('Production'), ('Test'), ('Pre-prod'), ('Lab'), ('Default');

CREATE TABLE test_types (
    id                    SERIAL PRIMARY KEY,
    name                  VARCHAR(200) NOT NULL UNIQUE CHECK (name <> ''),
    static_tool           BOOLEAN NOT NULL DEFAULT FALSE,
    dynamic_tool          BOOLEAN NOT NULL DEFAULT FALSE,
    active                BOOLEAN NOT NULL DEFAULT TRUE,
    dynamically_generated BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO test_types (name, static_tool, dynamic_tool) VALUES
    ('API Test', FALSE, TRUE), ('Static Check', TRUE, FALSE), ('Pen Test', FALSE, TRUE),
    ('Web Application Test', FALSE, TRUE), ('Security Research', FALSE, FALSE),
    ('Threat Modeling', FALSE, FALSE), ('Manual Code Review', TRUE, FALSE), ('Prowler', FALSE, TRUE);

CREATE TABLE product_types (
    id               SERIAL PRIMARY KEY,
    name             VARCHAR(255) NOT NULL CHECK (name <> ''),
    description      VARCHAR(4000),
    critical_product BOOLEAN NOT NULL DEFAULT FALSE,
    key_product      BOOLEAN NOT NULL DEFAULT FALSE,
    created          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX product_types_name_key ON product_types (lower(name));

CREATE TABLE products (
    id                         SERIAL PRIMARY KEY,
    name                       VARCHAR(255) NOT NULL CHECK (name <> ''),
    description                VARCHAR(4000) NOT NULL,
    product_type_id            INTEGER NOT NULL REFERENCES product_types (id) ON DELETE CASCADE,
    sla_configuration_id       INTEGER NOT NULL DEFAULT 1 REFERENCES sla_configurations (id) ON DELETE RESTRICT,
    product_manager_id         INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    technical_contact_id       INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    team_manager_id            INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    business_criticality       VARCHAR(16) CHECK (business_criticality IN ('VERY_HIGH', 'HIGH', 'MEDIUM', 'LOW', 'VERY_LOW', 'NONE')),
    platform                   VARCHAR(16) CHECK (platform IN ('WEB_SERVICE', 'DESKTOP', 'IOT', 'MOBILE', 'WEB')),
    lifecycle                  VARCHAR(16) CHECK (lifecycle IN ('CONSTRUCTION', 'PRODUCTION', 'RETIREMENT')),
    origin                     VARCHAR(24) CHECK (origin IN ('THIRD_PARTY_LIBRARY', 'PURCHASED', 'CONTRACTOR', 'INTERNAL', 'OPEN_SOURCE', 'OUTSOURCED')),
    user_records               BIGINT CHECK (user_records >= 0),
    revenue                    NUMERIC(15, 2) CHECK (revenue >= 0),
    external_audience          BOOLEAN NOT NULL DEFAULT FALSE,
    internet_accessible        BOOLEAN NOT NULL DEFAULT FALSE,
    regulations                TEXT[] NOT NULL DEFAULT '{}',
    technologies               JSONB NOT NULL DEFAULT '[]',
    tags                       TEXT[] NOT NULL DEFAULT '{}',
    enable_simple_risk_acceptance BOOLEAN NOT NULL DEFAULT FALSE,
    enable_full_risk_acceptance   BOOLEAN NOT NULL DEFAULT TRUE,
    disable_sla_breach_notifications BOOLEAN NOT NULL DEFAULT FALSE,
    created                    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated                    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX products_name_key ON products (lower(name));
CREATE INDEX products_product_type_id_idx ON products (product_type_id);
CREATE INDEX products_sla_configuration_id_idx ON products (sla_configuration_id);
CREATE INDEX products_product_manager_id_idx ON products (product_manager_id);
CREATE INDEX products_technical_contact_id_idx ON products (technical_contact_id);
CREATE INDEX products_team_manager_id_idx ON products (team_manager_id);
CREATE INDEX products_tags_idx ON products USING GIN (tags);

CREATE TABLE engagements (
    id                          SERIAL PRIMARY KEY,
    product_id                  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name                        VARCHAR(300) NOT NULL CHECK (name <> ''),
    description                 VARCHAR(2000),
    version                     VARCHAR(100),
    first_contacted             DATE,
    target_start                DATE NOT NULL,
    target_end                  DATE NOT NULL,
    lead_id                     INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    reason                      VARCHAR(2000),
    tracker                     VARCHAR(200),
    test_strategy               VARCHAR(200),
    source_code_management_uri  VARCHAR(600),
    engagement_type             VARCHAR(16) NOT NULL DEFAULT 'INTERACTIVE'
                                CHECK (engagement_type IN ('INTERACTIVE', 'CI_CD')),
    status                      VARCHAR(24) NOT NULL DEFAULT 'NOT_STARTED'
                                CHECK (status IN ('NOT_STARTED', 'BLOCKED', 'CANCELLED', 'COMPLETED', 'IN_PROGRESS',
                                                  'ON_HOLD', 'SCHEDULED', 'WAITING_FOR_RESOURCE')),
    active                      BOOLEAN NOT NULL DEFAULT TRUE,
    done_testing                BOOLEAN NOT NULL DEFAULT FALSE,
    build_id                    VARCHAR(150),
    commit_hash                 VARCHAR(150),
    branch_tag                  VARCHAR(150),
    environment_id              INTEGER REFERENCES development_environments (id) ON DELETE RESTRICT,
    deduplication_on_engagement BOOLEAN NOT NULL DEFAULT FALSE,
    tags                        TEXT[] NOT NULL DEFAULT '{}',
    created                     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated                     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT engagements_target_dates_check CHECK (target_start <= target_end),
    CONSTRAINT engagements_id_product_key UNIQUE (id, product_id)
);
CREATE UNIQUE INDEX engagements_product_name_key ON engagements (product_id, lower(name));
CREATE INDEX engagements_product_active_idx ON engagements (product_id, active);
CREATE INDEX engagements_lead_id_idx ON engagements (lead_id);
CREATE INDEX engagements_environment_id_idx ON engagements (environment_id);
CREATE INDEX engagements_status_idx ON engagements (status);
CREATE INDEX engagements_target_start_idx ON engagements (target_start);
CREATE INDEX engagements_target_end_idx ON engagements (target_end);
CREATE INDEX engagements_tags_idx ON engagements USING GIN (tags);

CREATE TABLE tests (
    id               SERIAL PRIMARY KEY,
    engagement_id    INTEGER NOT NULL,
    product_id       INTEGER NOT NULL,
    test_type_id     INTEGER NOT NULL REFERENCES test_types (id) ON DELETE CASCADE,
    lead_id          INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    scan_type        TEXT,
    title            VARCHAR(255),
    description      TEXT,
    target_start     DATE NOT NULL,
    target_end       DATE NOT NULL,
    percent_complete INTEGER CHECK (percent_complete BETWEEN 0 AND 100),
    environment_id   INTEGER REFERENCES development_environments (id) ON DELETE RESTRICT,
    version          VARCHAR(100),
    build_id         VARCHAR(150),
    commit_hash      VARCHAR(150),
    branch_tag       VARCHAR(150),
    tags             TEXT[] NOT NULL DEFAULT '{}',
    created          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT tests_target_dates_check CHECK (target_start <= target_end),
    CONSTRAINT tests_engagement_fk FOREIGN KEY (engagement_id, product_id)
        REFERENCES engagements (id, product_id) ON DELETE CASCADE,
    CONSTRAINT tests_id_engagement_product_key UNIQUE (id, engagement_id, product_id)
);
CREATE INDEX tests_engagement_test_type_idx ON tests (engagement_id, test_type_id);
CREATE INDEX tests_product_id_idx ON tests (product_id);
CREATE INDEX tests_test_type_id_idx ON tests (test_type_id);
CREATE INDEX tests_lead_id_idx ON tests (lead_id);
CREATE INDEX tests_environment_id_idx ON tests (environment_id);
CREATE INDEX tests_tags_idx ON tests USING GIN (tags);

CREATE TABLE findings (
    id                    SERIAL PRIMARY KEY,
    test_id               INTEGER NOT NULL,
    engagement_id         INTEGER NOT NULL,
    product_id            INTEGER NOT NULL,
    title                 VARCHAR(511) NOT NULL CHECK (title <> ''),
    description           TEXT NOT NULL,
    severity              VARCHAR(8) NOT NULL CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO')),
    numerical_severity    VARCHAR(4) NOT NULL,
    date                  DATE NOT NULL DEFAULT CURRENT_DATE,
    mitigation            TEXT,
    impact                TEXT,
    steps_to_reproduce    TEXT,
    severity_justification TEXT,
    refs                  TEXT,
    url                   TEXT,
    cwe                   INTEGER CHECK (cwe >= 0),
    vulnerability_ids     TEXT[] NOT NULL DEFAULT '{}',
    cvssv3                VARCHAR(117),
    cvssv3_score          DOUBLE PRECISION CHECK (cvssv3_score BETWEEN 0 AND 10),
    file_path             VARCHAR(4000),
    line                  INTEGER,
    component_name        VARCHAR(500),
    component_version     VARCHAR(100),
    static_finding        BOOLEAN NOT NULL DEFAULT FALSE,
    dynamic_finding       BOOLEAN NOT NULL DEFAULT TRUE,
    unique_id_from_tool   VARCHAR(500),
    vuln_id_from_tool     VARCHAR(500),
    hash_code             VARCHAR(64),
    service               VARCHAR(200),
    nb_occurences         INTEGER,
    active                BOOLEAN NOT NULL DEFAULT TRUE,
    verified              BOOLEAN NOT NULL DEFAULT FALSE,
    false_p               BOOLEAN NOT NULL DEFAULT FALSE,
    out_of_scope          BOOLEAN NOT NULL DEFAULT FALSE,
    risk_accepted         BOOLEAN NOT NULL DEFAULT FALSE,
    under_review          BOOLEAN NOT NULL DEFAULT FALSE,
    is_mitigated          BOOLEAN NOT NULL DEFAULT FALSE,
    mitigated             TIMESTAMPTZ,
    mitigated_by_id       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    reporter_id           INTEGER REFERENCES users (id) ON DELETE SET NULL,
    duplicate             BOOLEAN NOT NULL DEFAULT FALSE,
    duplicate_finding_id  INTEGER REFERENCES findings (id) ON DELETE SET NULL,
    sla_start_date        DATE,
    sla_expiration_date   DATE,
    last_status_update    TIMESTAMPTZ NOT NULL DEFAULT now(),
    tags                  TEXT[] NOT NULL DEFAULT '{}',
    created               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated               TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT findings_test_fk FOREIGN KEY (test_id, engagement_id, product_id)
        REFERENCES tests (id, engagement_id, product_id) ON DELETE CASCADE,
    CONSTRAINT findings_duplicate_not_active CHECK (NOT (duplicate AND (active OR verified))),
    CONSTRAINT findings_false_p_not_verified CHECK (NOT (false_p AND verified)),
    CONSTRAINT findings_active_not_risk_accepted CHECK (NOT (active AND risk_accepted)),
    CONSTRAINT findings_not_own_duplicate CHECK (duplicate_finding_id IS NULL OR duplicate_finding_id <> id)
);
CREATE INDEX findings_test_active_verified_idx ON findings (test_id, active, verified);
CREATE INDEX findings_engagement_id_idx ON findings (engagement_id);
CREATE INDEX findings_product_severity_idx ON findings (product_id, severity) WHERE active;
CREATE INDEX findings_product_id_idx ON findings (product_id);
CREATE INDEX findings_test_hash_code_idx ON findings (test_id, hash_code, duplicate);
CREATE INDEX findings_test_unique_id_idx ON findings (test_id, unique_id_from_tool, duplicate);
CREATE INDEX findings_product_hash_code_idx ON findings (product_id, hash_code);
CREATE INDEX findings_unique_id_from_tool_idx ON findings (unique_id_from_tool);
CREATE INDEX findings_duplicate_finding_id_idx ON findings (duplicate_finding_id);
CREATE INDEX findings_mitigated_by_id_idx ON findings (mitigated_by_id);
CREATE INDEX findings_reporter_id_idx ON findings (reporter_id);
CREATE INDEX findings_severity_idx ON findings (severity);
CREATE INDEX findings_cwe_idx ON findings (cwe);
CREATE INDEX findings_date_idx ON findings (date);
CREATE INDEX findings_sla_expiration_date_idx ON findings (sla_expiration_date) WHERE active;
CREATE INDEX findings_component_name_idx ON findings (component_name);
CREATE INDEX findings_vulnerability_ids_idx ON findings USING GIN (vulnerability_ids);
CREATE INDEX findings_tags_idx ON findings USING GIN (tags);

-- Notes and files belong to exactly one of an engagement, a test or a finding.
CREATE TABLE notes (
    id            SERIAL PRIMARY KEY,
    engagement_id INTEGER REFERENCES engagements (id) ON DELETE CASCADE,
    test_id       INTEGER REFERENCES tests (id) ON DELETE CASCADE,
    finding_id    INTEGER REFERENCES findings (id) ON DELETE CASCADE,
    entry         TEXT NOT NULL CHECK (entry <> ''),
    author_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    private       BOOLEAN NOT NULL DEFAULT FALSE,
    edited        BOOLEAN NOT NULL DEFAULT FALSE,
    created       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT notes_one_parent CHECK (num_nonnulls(engagement_id, test_id, finding_id) = 1)
);
CREATE INDEX notes_engagement_id_idx ON notes (engagement_id);
CREATE INDEX notes_test_id_idx ON notes (test_id);
CREATE INDEX notes_finding_id_idx ON notes (finding_id);
CREATE INDEX notes_author_id_idx ON notes (author_id);

CREATE TABLE files (
    id            SERIAL PRIMARY KEY,
    engagement_id INTEGER REFERENCES engagements (id) ON DELETE CASCADE,
    test_id       INTEGER REFERENCES tests (id) ON DELETE CASCADE,
    finding_id    INTEGER REFERENCES findings (id) ON DELETE CASCADE,
    title         VARCHAR(100) NOT NULL CHECK (title <> ''),
    filename      VARCHAR(255) NOT NULL,
    content_type  VARCHAR(255) NOT NULL,
    size          INTEGER NOT NULL CHECK (size >= 0),
    sha256        VARCHAR(64) NOT NULL,
    content       BYTEA NOT NULL,
    created       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT files_one_parent CHECK (num_nonnulls(engagement_id, test_id, finding_id) = 1)
);
CREATE INDEX files_engagement_id_idx ON files (engagement_id);
CREATE INDEX files_test_id_idx ON files (test_id);
CREATE INDEX files_finding_id_idx ON files (finding_id);
