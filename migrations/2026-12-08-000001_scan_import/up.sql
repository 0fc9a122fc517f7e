-- Scan import and re-import (issue "Scan import and re-import"): the finding fields parsers
-- fill, endpoints per product with a per-finding status, import history, and the switches
-- deduplication needs.

ALTER TABLE findings
    ADD COLUMN param               TEXT,
    ADD COLUMN payload             TEXT,
    ADD COLUMN cwes                INTEGER[] NOT NULL DEFAULT '{}',
    ADD COLUMN cvssv4              VARCHAR(255),
    ADD COLUMN cvssv4_score        DOUBLE PRECISION CHECK (cvssv4_score BETWEEN 0 AND 10),
    ADD COLUMN scanner_confidence  INTEGER,
    ADD COLUMN fix_available       BOOLEAN,
    ADD COLUMN fix_version         VARCHAR(100),
    ADD COLUMN epss_score          DOUBLE PRECISION CHECK (epss_score BETWEEN 0 AND 1),
    ADD COLUMN epss_percentile     DOUBLE PRECISION CHECK (epss_percentile BETWEEN 0 AND 1),
    ADD COLUMN known_exploited     BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN publish_date        DATE;

-- Candidates for deduplication and re-import matching are looked up by hash code and by the
-- tool's unique id, per product (the dedup scope) and per test (re-import).
CREATE INDEX findings_product_hash ON findings (product_id, hash_code) WHERE hash_code IS NOT NULL;
CREATE INDEX findings_product_uid ON findings (product_id, unique_id_from_tool)
    WHERE unique_id_from_tool IS NOT NULL;
CREATE INDEX findings_test_hash ON findings (test_id, hash_code);

-- Where findings were seen: one row per distinct URL per product (DefectDojo's Endpoint).
CREATE TABLE endpoints (
    id          SERIAL PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    protocol    VARCHAR(20),
    userinfo    VARCHAR(500),
    host        VARCHAR(500),
    port        INTEGER CHECK (port BETWEEN 0 AND 65535),
    path        VARCHAR(500),
    query       VARCHAR(1000),
    fragment    VARCHAR(500),
    -- The normalized URL (default port left out): equality of endpoints within a product.
    url         TEXT NOT NULL,
    created     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (product_id, url)
);

-- A finding's status on one endpoint (DefectDojo's Endpoint_Status).
CREATE TABLE endpoint_status (
    finding_id     INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    endpoint_id    INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    mitigated      BOOLEAN NOT NULL DEFAULT FALSE,
    mitigated_time TIMESTAMPTZ,
    mitigated_by_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    false_positive BOOLEAN NOT NULL DEFAULT FALSE,
    out_of_scope   BOOLEAN NOT NULL DEFAULT FALSE,
    risk_accepted  BOOLEAN NOT NULL DEFAULT FALSE,
    date           DATE NOT NULL DEFAULT CURRENT_DATE,
    last_modified  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (finding_id, endpoint_id)
);
CREATE INDEX endpoint_status_endpoint ON endpoint_status (endpoint_id);

-- Every import and re-import into a test, with its statistics (DefectDojo's Test_Import).
CREATE TABLE test_imports (
    id          SERIAL PRIMARY KEY,
    test_id     INTEGER NOT NULL REFERENCES tests (id) ON DELETE CASCADE,
    kind        VARCHAR(8) NOT NULL CHECK (kind IN ('IMPORT', 'REIMPORT')),
    scan_type   VARCHAR(200) NOT NULL,
    file_name   VARCHAR(500),
    user_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    version     VARCHAR(100),
    build_id    VARCHAR(150),
    commit_hash VARCHAR(150),
    branch_tag  VARCHAR(150),
    statistics  JSONB NOT NULL,
    created     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX test_imports_test ON test_imports (test_id, id);

-- What an import did to each finding (DefectDojo's Test_Import_Finding_Action).
CREATE TABLE test_import_findings (
    test_import_id INTEGER NOT NULL REFERENCES test_imports (id) ON DELETE CASCADE,
    finding_id     INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    action         VARCHAR(12) NOT NULL
        CHECK (action IN ('CREATED', 'CLOSED', 'REACTIVATED', 'UNTOUCHED')),
    PRIMARY KEY (test_import_id, finding_id)
);
CREATE INDEX test_import_findings_finding ON test_import_findings (finding_id);

-- Deduplication on by default (DefectDojo's enable_deduplication is off by default; dojoql's
-- DESIGN turns it on).
ALTER TABLE system_settings
    ADD COLUMN enable_deduplication BOOLEAN NOT NULL DEFAULT TRUE;
