//! The statements of an engagement's deep copy (`service::lifecycle::engagement::copy` runs
//! them in order, in one transaction): the engagement row, its tests, their findings, then the
//! notes and files of all three. Each copied row gets a new id reserved from its sequence up
//! front, so children can point at the copies of their parents, and duplicate links between
//! copied findings at the copied originals.
//!
//! Which columns a copy writes is spelled out per table in [`Columns`]: every column is either
//! copied, remapped (new ids and parents, the new name) or deliberately left to its default.
//! A test compares these lists with `information_schema.columns`, so a column added to one of
//! these tables fails it until it is put in one of the three lists.

use diesel::{
    QueryableByName,
    sql_types::{Array, Integer, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{QueryResult, sql::Sql};
use crate::domain::ids::{EngagementId, FindingId, TestId, TypedId};

/// How a copy writes the columns of one table.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    pub table: &'static str,
    /// Written with values of the copy, in the order the statement lists them first.
    pub remapped: &'static [&'static str],
    /// Copied unchanged from the source row.
    pub copied: &'static [&'static str],
    /// Not written: the copy gets the column's default (ids, timestamps, job state).
    pub defaulted: &'static [&'static str],
}

impl Columns {
    /// The column list of the INSERT: the remapped ones, then the copied ones.
    fn insert_list(&self) -> String {
        let mut all: Vec<&str> = self.remapped.to_vec();
        all.extend_from_slice(self.copied);
        all.join(", ")
    }

    /// The copied columns of the source row aliased `alias`.
    fn select_list(&self, alias: &str) -> String {
        self.copied
            .iter()
            .map(|c| format!("{alias}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub const ENGAGEMENTS: Columns = Columns {
    table: "engagements",
    remapped: &["name"],
    copied: &[
        "product_id",
        "description",
        "version",
        "first_contacted",
        "target_start",
        "target_end",
        "lead_id",
        "reason",
        "tracker",
        "test_strategy",
        "source_code_management_uri",
        "engagement_type",
        "status",
        "active",
        "done_testing",
        "build_id",
        "commit_hash",
        "branch_tag",
        "environment_id",
        "deduplication_on_engagement",
        "tags",
    ],
    defaulted: &["id", "created", "updated", "overdue_notified_at"],
};

pub const TESTS: Columns = Columns {
    table: "tests",
    remapped: &["id", "engagement_id"],
    copied: &[
        "product_id",
        "test_type_id",
        "lead_id",
        "scan_type",
        "title",
        "description",
        "target_start",
        "target_end",
        "percent_complete",
        "environment_id",
        "version",
        "build_id",
        "commit_hash",
        "branch_tag",
        "tags",
    ],
    defaulted: &["created", "updated"],
};

pub const FINDINGS: Columns = Columns {
    table: "findings",
    remapped: &["id", "test_id", "engagement_id", "duplicate_finding_id"],
    copied: &[
        "product_id",
        "title",
        "description",
        "severity",
        "numerical_severity",
        "date",
        "mitigation",
        "impact",
        "steps_to_reproduce",
        "severity_justification",
        "refs",
        "url",
        "cwe",
        "vulnerability_ids",
        "cvssv3",
        "cvssv3_score",
        "file_path",
        "line",
        "component_name",
        "component_version",
        "static_finding",
        "dynamic_finding",
        "unique_id_from_tool",
        "vuln_id_from_tool",
        "hash_code",
        "service",
        "nb_occurences",
        "active",
        "verified",
        "false_p",
        "out_of_scope",
        "risk_accepted",
        "under_review",
        "is_mitigated",
        "mitigated",
        "mitigated_by_id",
        "reporter_id",
        "duplicate",
        "sla_start_date",
        "sla_expiration_date",
        "last_status_update",
        "tags",
        "param",
        "payload",
        "cwes",
        "cvssv4",
        "cvssv4_score",
        "scanner_confidence",
        "fix_available",
        "fix_version",
        "epss_score",
        "epss_percentile",
        "known_exploited",
        "publish_date",
    ],
    defaulted: &["created", "updated"],
};

pub const NOTES: Columns = Columns {
    table: "notes",
    remapped: &["engagement_id", "test_id", "finding_id"],
    copied: &[
        "entry",
        "author_id",
        "private",
        "edited",
        "created",
        "updated",
    ],
    defaulted: &["id"],
};

pub const FILES: Columns = Columns {
    table: "files",
    remapped: &["engagement_id", "test_id", "finding_id"],
    copied: &[
        "title",
        "filename",
        "content_type",
        "size",
        "sha256",
        "content",
        "created",
    ],
    defaulted: &["id"],
};

/// Every table a copy writes, in the order it writes them.
pub const TABLES: &[Columns] = &[ENGAGEMENTS, TESTS, FINDINGS, NOTES, FILES];

/// Old ids and the new ids reserved for their copies, pairwise.
#[derive(Debug, Clone, Default)]
pub struct IdMap<I> {
    pub old: Vec<I>,
    pub new: Vec<I>,
}

impl<I: TypedId> IdMap<I> {
    /// Binds the map as `unnest(old, new) AS <name>(old_id, new_id)`.
    fn push_unnest(&self, sql: &mut Sql, name: &str) {
        sql.push("unnest(")
            .bind::<Array<Integer>, _>(self.old.iter().map(|i| i.get()).collect::<Vec<_>>())
            .push(", ")
            .bind::<Array<Integer>, _>(self.new.iter().map(|i| i.get()).collect::<Vec<_>>())
            .push(&format!(") AS {name}(old_id, new_id)"));
    }
}

/// Reserves new ids for the rows of `table` of engagement `engagement`, in id order.
async fn reserve_ids<I: TypedId>(
    conn: &mut AsyncPgConnection,
    table: &Columns,
    engagement: EngagementId,
) -> QueryResult<IdMap<I>> {
    #[derive(QueryableByName)]
    struct IdPair {
        #[diesel(sql_type = Integer)]
        old_id: i32,
        #[diesel(sql_type = Integer)]
        new_id: i32,
    }
    let t = table.table;
    let mut sql = Sql::new(&format!(
        "SELECT id AS old_id, nextval('{t}_id_seq')::int AS new_id FROM {t} WHERE engagement_id = "
    ));
    sql.bind::<Integer, _>(engagement).push(" ORDER BY id");
    let pairs: Vec<IdPair> = sql.build().load(conn).await?;
    let (old, new) = pairs
        .into_iter()
        .map(|p| (I::new(p.old_id), I::new(p.new_id)))
        .unzip();
    Ok(IdMap { old, new })
}

/// Copies engagement `source` under `name`; returns the copy's id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn engagement(
    conn: &mut AsyncPgConnection,
    source: EngagementId,
    name: String,
) -> QueryResult<EngagementId> {
    #[derive(QueryableByName)]
    struct NewId {
        #[diesel(sql_type = Integer)]
        id: EngagementId,
    }
    let c = &ENGAGEMENTS;
    let mut sql = Sql::new(&format!(
        "INSERT INTO engagements ({}) SELECT ",
        c.insert_list()
    ));
    sql.bind::<Text, _>(name)
        .push(&format!(
            ", {} FROM engagements e WHERE e.id = ",
            c.select_list("e")
        ))
        .bind::<Integer, _>(source)
        .push(" RETURNING id");
    Ok(sql.build().get_result::<NewId>(conn).await?.id)
}

/// Copies the tests of engagement `source` into engagement `copy`; returns their id map.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn tests(
    conn: &mut AsyncPgConnection,
    source: EngagementId,
    copy: EngagementId,
) -> QueryResult<IdMap<TestId>> {
    let c = &TESTS;
    let tests = reserve_ids(conn, c, source).await?;
    let mut sql = Sql::new(&format!(
        "INSERT INTO tests ({}) SELECT m.new_id, ",
        c.insert_list()
    ));
    sql.bind::<Integer, _>(copy)
        .push(&format!(", {} FROM ", c.select_list("t")));
    tests.push_unnest(&mut sql, "m");
    sql.push(" JOIN tests t ON t.id = m.old_id");
    sql.build().execute(conn).await?;
    Ok(tests)
}

/// Copies the findings of engagement `source` into engagement `copy`, each into the copy of its
/// test (`tests`); a duplicate of a copied finding points at the copy of its original. Returns
/// their id map.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn findings(
    conn: &mut AsyncPgConnection,
    source: EngagementId,
    copy: EngagementId,
    tests: &IdMap<TestId>,
) -> QueryResult<IdMap<FindingId>> {
    let c = &FINDINGS;
    let findings = reserve_ids(conn, c, source).await?;
    let mut sql = Sql::new(&format!(
        "INSERT INTO findings ({}) SELECT m.new_id, tm.new_id, ",
        c.insert_list()
    ));
    sql.bind::<Integer, _>(copy).push(&format!(
        ", COALESCE(dm.new_id, f.duplicate_finding_id), {} FROM ",
        c.select_list("f")
    ));
    findings.push_unnest(&mut sql, "m");
    sql.push(" JOIN findings f ON f.id = m.old_id JOIN ");
    tests.push_unnest(&mut sql, "tm");
    sql.push(" ON tm.old_id = f.test_id LEFT JOIN ");
    findings.push_unnest(&mut sql, "dm");
    sql.push(" ON dm.old_id = f.duplicate_finding_id ORDER BY m.new_id");
    sql.build().execute(conn).await?;
    Ok(findings)
}

/// Copies the notes or files (`table`: [`NOTES`] or [`FILES`]) of engagement `source`, of its
/// tests and of their findings onto the copies.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn attachments(
    conn: &mut AsyncPgConnection,
    table: &Columns,
    source: EngagementId,
    copy: EngagementId,
    tests: &IdMap<TestId>,
    findings: &IdMap<FindingId>,
) -> QueryResult<()> {
    let t = table.table;
    let mut sql = Sql::new(&format!(
        "INSERT INTO {t} ({}) SELECT CASE WHEN x.engagement_id IS NOT NULL THEN ",
        table.insert_list()
    ));
    sql.bind::<Integer, _>(copy).push(&format!(
        " END, tm.new_id, fm.new_id, {} FROM {t} x LEFT JOIN ",
        table.select_list("x")
    ));
    tests.push_unnest(&mut sql, "tm");
    sql.push(" ON tm.old_id = x.test_id LEFT JOIN ");
    findings.push_unnest(&mut sql, "fm");
    sql.push(" ON fm.old_id = x.finding_id WHERE x.engagement_id = ")
        .bind::<Integer, _>(source)
        .push(" OR x.test_id = ANY(")
        .bind::<Array<Integer>, _>(tests.old.iter().map(|i| i.get()).collect::<Vec<_>>())
        .push(") OR x.finding_id = ANY(")
        .bind::<Array<Integer>, _>(findings.old.iter().map(|i| i.get()).collect::<Vec<_>>())
        .push(") ORDER BY x.id");
    sql.build().execute(conn).await?;
    Ok(())
}
