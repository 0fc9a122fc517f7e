//! The statements of a scan import (`service::import` runs them in one transaction): findings
//! written in multi-row chunks, endpoints upserted per product with their per-finding status,
//! deduplication and re-import candidates loaded in bulk (one statement per kind, never one per
//! finding), status changes applied to many findings at once, statistics aggregated in SQL, and
//! the import history.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    deserialize,
    pg::Pg,
    prelude::*,
    row::NamedRow,
    sql_types::{Array, Bool, Date, Double, Integer, Nullable, Text, Timestamptz},
    upsert::excluded,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    schema::{endpoint_status, endpoints, findings, test_imports},
};
use crate::domain::{
    Severity,
    ids::{EngagementId, FindingId, ProductId, ProductTypeId, TestId, TestTypeId, UserId},
    import::{FindingFlags, ImportAction, ImportKind, SeverityStatistics, StoredStatus},
    report::Endpoint,
};

/// Rows per multi-row INSERT (Postgres takes at most 65,535 bound values per statement).
pub const CHUNK: usize = 1000;

/// A finding of a report, ready to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = findings)]
pub struct ImportedFinding {
    /// Reserved with [`reserve_finding_ids`] before insertion.
    pub id: FindingId,
    pub duplicate: bool,
    pub duplicate_finding_id: Option<FindingId>,
    pub test_id: TestId,
    pub engagement_id: EngagementId,
    pub product_id: ProductId,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub numerical_severity: String,
    pub date: NaiveDate,
    pub mitigation: Option<String>,
    pub impact: Option<String>,
    pub steps_to_reproduce: Option<String>,
    pub severity_justification: Option<String>,
    pub refs: Option<String>,
    pub cwe: Option<i32>,
    pub cwes: Vec<i32>,
    pub vulnerability_ids: Vec<String>,
    pub cvssv3: Option<String>,
    pub cvssv3_score: Option<f64>,
    pub cvssv4: Option<String>,
    pub cvssv4_score: Option<f64>,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub component_name: Option<String>,
    pub component_version: Option<String>,
    pub static_finding: bool,
    pub dynamic_finding: bool,
    pub unique_id_from_tool: Option<String>,
    pub vuln_id_from_tool: Option<String>,
    pub hash_code: Option<String>,
    pub service: Option<String>,
    pub nb_occurences: Option<i32>,
    pub scanner_confidence: Option<i32>,
    pub fix_available: Option<bool>,
    pub fix_version: Option<String>,
    pub epss_score: Option<f64>,
    pub epss_percentile: Option<f64>,
    pub known_exploited: bool,
    pub publish_date: Option<NaiveDate>,
    pub param: Option<String>,
    pub payload: Option<String>,
    pub active: bool,
    pub verified: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
    pub is_mitigated: bool,
    pub mitigated: Option<DateTime<Utc>>,
    pub mitigated_by_id: Option<UserId>,
    pub reporter_id: Option<UserId>,
    pub tags: Vec<String>,
    pub sla_expiration_date: Option<NaiveDate>,
}

/// `n` new finding ids from the findings' sequence, ascending: an import knows its findings' ids
/// before it writes them, so a duplicate goes in already pointing at its original.
#[tracing::instrument(level = "debug", skip_all, fields(n))]
pub async fn reserve_finding_ids(
    conn: &mut AsyncPgConnection,
    n: usize,
) -> QueryResult<Vec<FindingId>> {
    #[derive(QueryableByName)]
    struct Reserved {
        #[diesel(sql_type = Integer)]
        id: FindingId,
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut ids: Vec<FindingId> = diesel::sql_query(
        // The sequence is looked up once (an init plan): a `regclass` computed per row costs
        // a catalog lookup per id, ten times the `nextval` itself.
        "SELECT nextval((SELECT pg_get_serial_sequence('findings', 'id')::regclass))::int AS id \
         FROM generate_series(1, $1)",
    )
    .bind::<Integer, _>(i32::try_from(n).unwrap_or(i32::MAX))
    .load::<Reserved>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    ids.sort_by_key(|id| id.get());
    Ok(ids)
}

/// Inserts `rows` (ids reserved) in chunks.
#[tracing::instrument(level = "debug", skip_all, fields(n = rows.len()))]
pub async fn insert_findings(
    conn: &mut AsyncPgConnection,
    rows: &[ImportedFinding],
) -> QueryResult<()> {
    // One array per column, unnested into rows: one short statement (half a millisecond to
    // parse) instead of a multi-row VALUES list of 54 values per finding, which Postgres parsed
    // and bound again for every chunk (75 ms per thousand findings, more than writing them).
    // Array columns travel as array literals, one per row.
    macro_rules! insert {
        ($rows:expr; $($field:ident: $st:ty = $pg:literal, |$r:ident| $value:expr;)*) => {{
            const _: fn(&ImportedFinding) = |row| {
                // Every field is listed (a new one fails to compile until it is added).
                let ImportedFinding { $($field: _),* } = row;
            };
            let columns = [$(stringify!($field)),*];
            let types = [$($pg),*];
            let sql = format!(
                "INSERT INTO findings ({}) SELECT {} FROM unnest({}) AS t({})",
                columns.join(", "),
                columns
                    .iter()
                    .zip(types)
                    .map(|(c, t)| format!("t.{c}::{t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                (1..=columns.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                columns.join(", "),
            );
            let mut query = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
            $(query = query.bind::<Array<$st>, _>(
                $rows.iter().map(|$r| $value).collect::<Vec<_>>(),
            );)*
            query
        }};
    }
    for chunk in rows.chunks(CHUNK) {
        let query = insert! {
            chunk;
            id: Integer = "int", |r| r.id;
            duplicate: Bool = "bool", |r| r.duplicate;
            duplicate_finding_id: Nullable<Integer> = "int", |r| r.duplicate_finding_id;
            test_id: Integer = "int", |r| r.test_id;
            engagement_id: Integer = "int", |r| r.engagement_id;
            product_id: Integer = "int", |r| r.product_id;
            title: Text = "text", |r| r.title.as_str();
            description: Text = "text", |r| r.description.as_str();
            severity: Text = "text", |r| r.severity;
            numerical_severity: Text = "text", |r| r.numerical_severity.as_str();
            date: Date = "date", |r| r.date;
            mitigation: Nullable<Text> = "text", |r| r.mitigation.as_deref();
            impact: Nullable<Text> = "text", |r| r.impact.as_deref();
            steps_to_reproduce: Nullable<Text> = "text", |r| r.steps_to_reproduce.as_deref();
            severity_justification: Nullable<Text> = "text",
                |r| r.severity_justification.as_deref();
            refs: Nullable<Text> = "text", |r| r.refs.as_deref();
            cwe: Nullable<Integer> = "int", |r| r.cwe;
            cwes: Text = "int[]", |r| array_literal(&r.cwes);
            vulnerability_ids: Text = "text[]", |r| array_literal(&r.vulnerability_ids);
            cvssv3: Nullable<Text> = "text", |r| r.cvssv3.as_deref();
            cvssv3_score: Nullable<Double> = "float8", |r| r.cvssv3_score;
            cvssv4: Nullable<Text> = "text", |r| r.cvssv4.as_deref();
            cvssv4_score: Nullable<Double> = "float8", |r| r.cvssv4_score;
            file_path: Nullable<Text> = "text", |r| r.file_path.as_deref();
            line: Nullable<Integer> = "int", |r| r.line;
            component_name: Nullable<Text> = "text", |r| r.component_name.as_deref();
            component_version: Nullable<Text> = "text", |r| r.component_version.as_deref();
            static_finding: Bool = "bool", |r| r.static_finding;
            dynamic_finding: Bool = "bool", |r| r.dynamic_finding;
            unique_id_from_tool: Nullable<Text> = "text", |r| r.unique_id_from_tool.as_deref();
            vuln_id_from_tool: Nullable<Text> = "text", |r| r.vuln_id_from_tool.as_deref();
            hash_code: Nullable<Text> = "text", |r| r.hash_code.as_deref();
            service: Nullable<Text> = "text", |r| r.service.as_deref();
            nb_occurences: Nullable<Integer> = "int", |r| r.nb_occurences;
            scanner_confidence: Nullable<Integer> = "int", |r| r.scanner_confidence;
            fix_available: Nullable<Bool> = "bool", |r| r.fix_available;
            fix_version: Nullable<Text> = "text", |r| r.fix_version.as_deref();
            epss_score: Nullable<Double> = "float8", |r| r.epss_score;
            epss_percentile: Nullable<Double> = "float8", |r| r.epss_percentile;
            known_exploited: Bool = "bool", |r| r.known_exploited;
            publish_date: Nullable<Date> = "date", |r| r.publish_date;
            param: Nullable<Text> = "text", |r| r.param.as_deref();
            payload: Nullable<Text> = "text", |r| r.payload.as_deref();
            active: Bool = "bool", |r| r.active;
            verified: Bool = "bool", |r| r.verified;
            false_p: Bool = "bool", |r| r.false_p;
            out_of_scope: Bool = "bool", |r| r.out_of_scope;
            risk_accepted: Bool = "bool", |r| r.risk_accepted;
            is_mitigated: Bool = "bool", |r| r.is_mitigated;
            mitigated: Nullable<Timestamptz> = "timestamptz", |r| r.mitigated;
            mitigated_by_id: Nullable<Integer> = "int", |r| r.mitigated_by_id;
            reporter_id: Nullable<Integer> = "int", |r| r.reporter_id;
            tags: Text = "text[]", |r| array_literal(&r.tags);
            sla_expiration_date: Nullable<Date> = "date", |r| r.sla_expiration_date;
        };
        query.execute(conn).await?;
    }
    Ok(())
}

/// A Postgres array literal of `items` (`{"a","b \"c\""}`): how an array column travels as
/// one element of a `text[]` parameter (`unnest` cannot take an array of arrays of different
/// lengths).
fn array_literal<T: ToString>(items: &[T]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for ch in item.to_string().chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// An endpoint row to upsert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = endpoints)]
struct NewEndpoint<'a> {
    product_id: ProductId,
    protocol: Option<&'a str>,
    userinfo: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<i32>,
    path: Option<&'a str>,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
    url: String,
}

/// The ids of `list` (endpoints of product `product`), creating the ones the product does not
/// have yet; keyed by normalized URL.
#[tracing::instrument(level = "debug", skip_all, fields(n = list.len()))]
pub async fn upsert_endpoints(
    conn: &mut AsyncPgConnection,
    product: ProductId,
    list: &[&Endpoint],
) -> QueryResult<std::collections::HashMap<String, i32>> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<NewEndpoint<'_>> = list
        .iter()
        .filter(|e| seen.insert(e.url()))
        .map(|e| NewEndpoint {
            product_id: product,
            protocol: e.protocol.as_deref(),
            userinfo: e.userinfo.as_deref(),
            host: e.host.as_deref(),
            port: e.port,
            path: e.path.as_deref(),
            query: e.query.as_deref(),
            fragment: e.fragment.as_deref(),
            url: e.url(),
        })
        .collect();
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let got: Vec<(i32, String)> = diesel::insert_into(endpoints::table)
            .values(chunk)
            .on_conflict((endpoints::product_id, endpoints::url))
            .do_update()
            .set(endpoints::url.eq(excluded(endpoints::url)))
            .returning((endpoints::id, endpoints::url))
            .get_results(conn)
            .await?;
        out.extend(got.into_iter().map(|(id, url)| (url, id)));
    }
    Ok(out)
}

/// Links findings to endpoints (`(finding, endpoint)` pairs; an existing link is reopened).
#[tracing::instrument(level = "debug", skip_all, fields(n = pairs.len()))]
pub async fn link_endpoints(
    conn: &mut AsyncPgConnection,
    pairs: &[(FindingId, i32)],
) -> QueryResult<()> {
    for chunk in pairs.chunks(CHUNK * 10) {
        let (f, e): (Vec<FindingId>, Vec<i32>) = chunk.iter().copied().unzip();
        diesel::sql_query(
            "INSERT INTO endpoint_status (finding_id, endpoint_id) \
             SELECT * FROM unnest($1::int[], $2::int[]) \
             ON CONFLICT (finding_id, endpoint_id) DO UPDATE \
               SET mitigated = FALSE, mitigated_time = NULL, mitigated_by_id = NULL, \
                   last_modified = now()",
        )
        .bind::<Array<Integer>, _>(f)
        .bind::<Array<Integer>, _>(e)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Marks the endpoint statuses `(finding, endpoint)` mitigated (by `user`).
pub async fn mitigate_endpoints(
    conn: &mut AsyncPgConnection,
    pairs: &[(FindingId, i32)],
    user: UserId,
) -> QueryResult<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let (f, e): (Vec<FindingId>, Vec<i32>) = pairs.iter().copied().unzip();
    diesel::sql_query(
        "UPDATE endpoint_status s SET mitigated = TRUE, mitigated_time = now(), \
             mitigated_by_id = $3, last_modified = now() \
         FROM unnest($1::int[], $2::int[]) AS v(finding_id, endpoint_id) \
         WHERE s.finding_id = v.finding_id AND s.endpoint_id = v.endpoint_id AND NOT s.mitigated",
    )
    .bind::<Array<Integer>, _>(f)
    .bind::<Array<Integer>, _>(e)
    .bind::<Integer, _>(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mitigates every endpoint status of `findings` (a closed finding is fixed everywhere).
pub async fn mitigate_all_endpoints(
    conn: &mut AsyncPgConnection,
    finding_ids: &[FindingId],
    user: UserId,
) -> QueryResult<()> {
    if finding_ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE endpoint_status SET mitigated = TRUE, mitigated_time = now(), \
             mitigated_by_id = $2, last_modified = now() \
         WHERE finding_id = ANY($1) AND NOT mitigated",
    )
    .bind::<Array<Integer>, _>(finding_ids)
    .bind::<Integer, _>(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored keys that deduplication and re-import matching compare first.
#[derive(Debug, Clone, QueryableByName)]
pub struct DedupKeys {
    #[diesel(sql_type = Nullable<Text>)]
    pub hash_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub unique_id_from_tool: Option<String>,
}

/// A finding as deduplication and re-import matching see it.
#[derive(Debug, Clone, QueryableByName)]
pub struct MatchRow {
    #[diesel(sql_type = Integer)]
    pub id: FindingId,
    #[diesel(sql_type = Integer)]
    pub engagement_id: EngagementId,
    #[diesel(sql_type = Bool)]
    pub dedup_on_engagement: bool,
    #[diesel(sql_type = Bool)]
    pub same_test_type: bool,
    #[diesel(embed)]
    pub keys: DedupKeys,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub severity: String,
    #[diesel(sql_type = Integer)]
    pub cwe: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub file_path: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub line: Option<i32>,
    #[diesel(sql_type = Bool)]
    pub static_finding: bool,
    #[diesel(embed)]
    pub status: StoredStatus,
    #[diesel(sql_type = Bool)]
    pub verified: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub mitigated: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub service: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub component_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub component_version: Option<String>,
    #[diesel(sql_type = Array<Integer>)]
    pub endpoint_ids: Vec<i32>,
    #[diesel(sql_type = Array<Text>)]
    pub endpoint_urls: Vec<String>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    pub endpoint_hosts: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    pub endpoint_paths: Vec<Option<String>>,
}

/// The columns of [`MatchRow`] for findings `f` (tests `t`, engagements `e`), with
/// `same_test_type` comparing with the test type bound as `$1`.
const MATCH_COLUMNS: &str = "f.id, f.engagement_id, e.deduplication_on_engagement AS dedup_on_engagement, \
     t.test_type_id = $1 AS same_test_type, f.hash_code, f.unique_id_from_tool, f.title, f.severity, \
     COALESCE(f.cwe, 0) AS cwe, f.file_path, f.line, f.static_finding, f.duplicate, f.active, \
     f.verified, f.is_mitigated, f.mitigated, f.false_p, f.out_of_scope, f.risk_accepted, f.service, \
     f.component_name, f.component_version, \
     COALESCE(ep.ids, '{}') AS endpoint_ids, COALESCE(ep.urls, '{}') AS endpoint_urls, \
     COALESCE(ep.hosts, '{}') AS endpoint_hosts, COALESCE(ep.paths, '{}') AS endpoint_paths \
     FROM findings f JOIN tests t ON t.id = f.test_id JOIN engagements e ON e.id = f.engagement_id \
     LEFT JOIN LATERAL (SELECT array_agg(n.id ORDER BY n.url) AS ids, \
          array_agg(n.url ORDER BY n.url) AS urls, array_agg(n.host ORDER BY n.url) AS hosts, \
          array_agg(n.path ORDER BY n.url) AS paths \
        FROM endpoint_status s JOIN endpoints n ON n.id = s.endpoint_id \
        WHERE s.finding_id = f.id) ep ON TRUE";

/// Which stored findings may be originals of an import's new findings: not duplicates, in the
/// dedup scope (the engagement when it deduplicates only inside itself, else every engagement
/// of the product that does not), and sharing a hash code, a unique id, a title or a CWE with
/// one of them — whichever the algorithm compares. In ascending id.
///
/// Each key value is looked up on its own, one index probe per value (`LATERAL … OFFSET 0`
/// keeps the planner from turning the probes into one join over the product), only for the keys
/// the algorithm compares (an empty list probes nothing): the ids first, then their rows. Hashes
/// and unique ids are probed on indexes that lead with them, the product checked on the rows
/// found (`product_id + 0` is no index condition): on a table whose statistics lag behind the
/// import filling it (a new product, a large report) every product-leading index looks alike to
/// the planner, which then probed the product through one that reads all its findings per key
/// (0.6 s for the second thousand findings of a new product, 2.6 s for the fifth; 6 ms this
/// way, and 7 ms at 60,000). One `OR` over the four keys was worse still (0.2–0.6 s per chunk
/// at 200k findings).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn dedup_candidates(
    conn: &mut AsyncPgConnection,
    test_type: TestTypeId,
    product: ProductId,
    engagement: EngagementId,
    engagement_only: bool,
    hashes: &[String],
    uids: &[String],
    titles: &[String],
    cwes: &[i32],
) -> QueryResult<Vec<MatchRow>> {
    Ok(diesel::sql_query(format!(
        "SELECT {MATCH_COLUMNS} \
         WHERE f.id = ANY(ARRAY( \
             SELECT k.id FROM unnest($5::text[]) AS v(key) CROSS JOIN LATERAL ( \
               SELECT k.id FROM findings k WHERE k.hash_code = v.key AND k.product_id + 0 = $2 \
               OFFSET 0) k \
             UNION SELECT k.id FROM unnest($6::text[]) AS v(key) CROSS JOIN LATERAL ( \
               SELECT k.id FROM findings k \
                WHERE k.unique_id_from_tool = v.key AND k.product_id + 0 = $2 OFFSET 0) k \
             UNION SELECT k.id FROM unnest($7::text[]) AS v(key) CROSS JOIN LATERAL ( \
               SELECT k.id FROM findings k WHERE k.product_id = $2 AND k.title = v.key \
               OFFSET 0) k \
             UNION SELECT k.id FROM unnest($8::int[]) AS v(key) CROSS JOIN LATERAL ( \
               SELECT k.id FROM findings k WHERE k.product_id = $2 AND k.cwe = v.key \
               OFFSET 0) k)) \
           AND NOT f.duplicate \
           AND (e.id = $3 OR (NOT $4 AND NOT e.deduplication_on_engagement)) \
         ORDER BY f.id"
    ))
    .bind::<Integer, _>(test_type)
    .bind::<Integer, _>(product)
    .bind::<Integer, _>(engagement)
    .bind::<Bool, _>(engagement_only)
    .bind::<Array<Text>, _>(hashes)
    .bind::<Array<Text>, _>(uids)
    .bind::<Array<Text>, _>(titles)
    .bind::<Array<Integer>, _>(cwes)
    .load(conn)
    .await?)
}

/// A finding of the test being re-imported: what matching and the outcome read of it, and no
/// more (a re-import holds one for every finding of the test).
#[derive(Debug, QueryableByName)]
pub struct TestFinding {
    #[diesel(sql_type = Integer)]
    pub id: FindingId,
    #[diesel(embed)]
    pub keys: DedupKeys,
    /// The title, only when matching by title (LEGACY): empty otherwise.
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub severity: Severity,
    #[diesel(embed)]
    pub status: StoredStatus,
    #[diesel(sql_type = Nullable<Text>)]
    pub service: Option<String>,
    #[diesel(sql_type = Array<Integer>)]
    pub endpoint_ids: Vec<i32>,
}

/// The status flags of a stored finding, read by column name (`duplicate`, `active`,
/// `is_mitigated`, `false_p`, `out_of_scope`, `risk_accepted`).
impl QueryableByName<Pg> for StoredStatus {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        let flag = |name: &str| NamedRow::get::<Bool, bool>(row, name);
        Ok(StoredStatus {
            active: flag("active")?,
            is_mitigated: flag("is_mitigated")?,
            false_p: flag("false_p")?,
            out_of_scope: flag("out_of_scope")?,
            risk_accepted: flag("risk_accepted")?,
            duplicate: flag("duplicate")?,
        })
    }
}

/// Every finding of `test` (duplicates included), in ascending id: the re-import candidates,
/// with what re-import reads of them. Titles come only `with_titles` (LEGACY matching).
pub async fn test_findings(
    conn: &mut AsyncPgConnection,
    test: TestId,
    with_titles: bool,
) -> QueryResult<Vec<TestFinding>> {
    Ok(diesel::sql_query(
        "SELECT f.id, f.hash_code, f.unique_id_from_tool, \
             CASE WHEN $2 THEN f.title ELSE '' END AS title, f.severity, f.duplicate, f.active, \
             f.is_mitigated, f.false_p, f.out_of_scope, f.risk_accepted, f.service, \
             ARRAY(SELECT s.endpoint_id FROM endpoint_status s WHERE s.finding_id = f.id \
                   ORDER BY s.endpoint_id) AS endpoint_ids \
         FROM findings f WHERE f.test_id = $1 ORDER BY f.id",
    )
    .bind::<Integer, _>(test)
    .bind::<Bool, _>(with_titles)
    .load(conn)
    .await?)
}

/// Closes `ids` as an import does: inactive and mitigated at `at` (unless already mitigated) by
/// `user`.
#[tracing::instrument(level = "debug", skip_all, fields(n = ids.len()))]
pub async fn close(
    conn: &mut AsyncPgConnection,
    ids: &[FindingId],
    at: DateTime<Utc>,
    user: UserId,
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE findings SET active = FALSE, is_mitigated = TRUE, \
             mitigated = COALESCE(mitigated, $2), mitigated_by_id = $3, \
             last_status_update = now(), updated = now() \
         WHERE id = ANY($1)",
    )
    .bind::<Array<Integer>, _>(ids)
    .bind::<Timestamptz, _>(at)
    .bind::<Integer, _>(user)
    .execute(conn)
    .await?;
    mitigate_all_endpoints(conn, ids, user).await
}

/// Reopens `ids` as a re-import does: not mitigated, active unless a duplicate (a duplicate stays
/// inactive and unverified), `verified` set when given. `restart_sla` moves the SLA start to
/// today.
#[tracing::instrument(level = "debug", skip_all, fields(n = ids.len()))]
pub async fn reactivate(
    conn: &mut AsyncPgConnection,
    ids: &[FindingId],
    verified: Option<bool>,
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE findings SET is_mitigated = FALSE, mitigated = NULL, mitigated_by_id = NULL, \
             active = NOT duplicate, \
             verified = CASE WHEN duplicate THEN FALSE ELSE COALESCE($2, verified) END, \
             last_status_update = now(), updated = now() \
         WHERE id = ANY($1)",
    )
    .bind::<Array<Integer>, _>(ids)
    .bind::<Nullable<Bool>, _>(verified)
    .execute(conn)
    .await?;
    Ok(())
}

/// Copies the triage flags of a report onto `id` (inactive, as DefectDojo does).
pub async fn set_triage(
    conn: &mut AsyncPgConnection,
    id: FindingId,
    false_p: bool,
    out_of_scope: bool,
    risk_accepted: bool,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE findings SET false_p = $2, out_of_scope = $3, risk_accepted = $4, active = FALSE, \
             verified = verified AND NOT $2, last_status_update = now(), updated = now() \
         WHERE id = $1",
    )
    .bind::<Integer, _>(id)
    .bind::<Bool, _>(false_p)
    .bind::<Bool, _>(out_of_scope)
    .bind::<Bool, _>(risk_accepted)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a re-import refreshes on a matched finding: fix availability and version (from the
/// report), component name and version (only where missing).
#[derive(Debug, Clone)]
pub struct Refresh {
    pub id: FindingId,
    pub fix_available: Option<bool>,
    pub fix_version: Option<String>,
    pub component_name: Option<String>,
    pub component_version: Option<String>,
}

pub async fn refresh(conn: &mut AsyncPgConnection, rows: &[Refresh]) -> QueryResult<()> {
    for chunk in rows.chunks(CHUNK * 10) {
        let ids: Vec<FindingId> = chunk.iter().map(|r| r.id).collect();
        let fix: Vec<Option<bool>> = chunk.iter().map(|r| r.fix_available).collect();
        let fix_version: Vec<Option<String>> =
            chunk.iter().map(|r| r.fix_version.clone()).collect();
        let names: Vec<Option<String>> = chunk.iter().map(|r| r.component_name.clone()).collect();
        let versions: Vec<Option<String>> =
            chunk.iter().map(|r| r.component_version.clone()).collect();
        diesel::sql_query(
            "UPDATE findings f SET fix_available = COALESCE(v.fix, f.fix_available), \
                 fix_version = COALESCE(v.fix_version, f.fix_version), \
                 component_name = COALESCE(f.component_name, v.name), \
                 component_version = COALESCE(f.component_version, v.version) \
             FROM unnest($1::int[], $2::bool[], $3::text[], $4::text[], $5::text[]) \
                  AS v(id, fix, fix_version, name, version) \
             WHERE f.id = v.id AND (f.fix_available IS DISTINCT FROM COALESCE(v.fix, f.fix_available) \
                OR f.fix_version IS DISTINCT FROM COALESCE(v.fix_version, f.fix_version) \
                OR (f.component_name IS NULL AND v.name IS NOT NULL) \
                OR (f.component_version IS NULL AND v.version IS NOT NULL))",
        )
        .bind::<Array<Integer>, _>(ids)
        .bind::<Array<Nullable<Bool>>, _>(fix)
        .bind::<Array<Nullable<Text>>, _>(fix_version)
        .bind::<Array<Nullable<Text>>, _>(names)
        .bind::<Array<Nullable<Text>>, _>(versions)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Adds the same note by `author` to every finding of `ids`.
pub async fn add_notes(
    conn: &mut AsyncPgConnection,
    ids: &[FindingId],
    entry: &str,
    author: UserId,
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "INSERT INTO notes (finding_id, entry, private, author_id) \
         SELECT id, $2, FALSE, $3 FROM unnest($1::int[]) AS id",
    )
    .bind::<Array<Integer>, _>(ids)
    .bind::<Text, _>(entry)
    .bind::<Integer, _>(author)
    .execute(conn)
    .await?;
    Ok(())
}

/// Findings of other tests of the same test type that an import with `close_old_findings`
/// closes: open (or risk accepted), in the engagement (or the whole product), with the same
/// service (or both without), whose hash code / unique id (as `by_uid` says) is not among
/// `keep`.
pub async fn old_findings(
    conn: &mut AsyncPgConnection,
    test: TestId,
    test_type: TestTypeId,
    engagement: EngagementId,
    product: Option<ProductId>,
    service: Option<&str>,
    keep_hashes: &[String],
    keep_uids: &[String],
) -> QueryResult<Vec<FindingId>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Integer)]
        id: FindingId,
    }
    let rows: Vec<Id> = diesel::sql_query(
        "SELECT f.id FROM findings f JOIN tests t ON t.id = f.test_id \
         WHERE f.test_id <> $1 AND t.test_type_id = $2 \
           AND (CASE WHEN $4::int IS NULL THEN f.engagement_id = $3 ELSE f.product_id = $4 END) \
           AND (f.active OR f.risk_accepted) \
           AND f.service IS NOT DISTINCT FROM NULLIF($5, '') \
           AND NOT (f.hash_code = ANY($6) OR f.unique_id_from_tool = ANY($7)) \
         ORDER BY f.id",
    )
    .bind::<Integer, _>(test)
    .bind::<Integer, _>(test_type)
    .bind::<Integer, _>(engagement)
    .bind::<Nullable<Integer>, _>(product)
    .bind::<Nullable<Text>, _>(service)
    .bind::<Array<Text>, _>(keep_hashes)
    .bind::<Array<Text>, _>(keep_uids)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Severity and status flags of findings, for statistics.
#[derive(Debug, Clone, QueryableByName)]
pub struct FlagsRow {
    #[diesel(sql_type = Integer)]
    pub id: FindingId,
    #[diesel(sql_type = Text)]
    pub severity: String,
    #[diesel(sql_type = Bool)]
    pub active: bool,
    #[diesel(sql_type = Bool)]
    pub verified: bool,
    #[diesel(sql_type = Bool)]
    pub duplicate: bool,
    #[diesel(sql_type = Bool)]
    pub false_p: bool,
    #[diesel(sql_type = Bool)]
    pub out_of_scope: bool,
    #[diesel(sql_type = Bool)]
    pub is_mitigated: bool,
    #[diesel(sql_type = Bool)]
    pub risk_accepted: bool,
}

impl FlagsRow {
    pub fn flags(&self) -> FindingFlags {
        FindingFlags {
            active: self.active,
            verified: self.verified,
            duplicate: self.duplicate,
            false_p: self.false_p,
            out_of_scope: self.out_of_scope,
            is_mitigated: self.is_mitigated,
            risk_accepted: self.risk_accepted,
        }
    }

    pub fn severity(&self) -> Severity {
        self.severity.parse().unwrap_or(Severity::Info)
    }
}

const FLAGS: &str = "id, severity, active, verified, duplicate, false_p, out_of_scope, \
     is_mitigated, risk_accepted";

/// The flags of every finding of `test`.
pub async fn flags_of_test(
    conn: &mut AsyncPgConnection,
    test: TestId,
) -> QueryResult<Vec<FlagsRow>> {
    Ok(
        diesel::sql_query(format!("SELECT {FLAGS} FROM findings WHERE test_id = $1"))
            .bind::<Integer, _>(test)
            .load(conn)
            .await?,
    )
}

/// The flags of findings `ids`.
pub async fn flags_of(
    conn: &mut AsyncPgConnection,
    ids: &[FindingId],
) -> QueryResult<Vec<FlagsRow>> {
    Ok(
        diesel::sql_query(format!("SELECT {FLAGS} FROM findings WHERE id = ANY($1)"))
            .bind::<Array<Integer>, _>(ids)
            .load(conn)
            .await?,
    )
}

/// The statistics of a test now.
pub async fn test_statistics(
    conn: &mut AsyncPgConnection,
    test: TestId,
) -> QueryResult<SeverityStatistics> {
    let rows = flags_of_test(conn, test).await?;
    let flags: Vec<(Severity, FindingFlags)> =
        rows.iter().map(|r| (r.severity(), r.flags())).collect();
    Ok(SeverityStatistics::of(flags.iter().map(|(s, f)| (*s, f))))
}

/// One import into a test, for the history.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = test_imports)]
pub struct NewTestImport {
    pub test_id: TestId,
    pub kind: ImportKind,
    pub scan_type: String,
    pub file_name: Option<String>,
    pub user_id: Option<UserId>,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub statistics: serde_json::Value,
}

/// A recorded import.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = test_imports, check_for_backend(diesel::pg::Pg))]
pub struct TestImport {
    pub id: i32,
    pub test_id: TestId,
    pub kind: ImportKind,
    pub scan_type: String,
    pub file_name: Option<String>,
    pub user_id: Option<UserId>,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub statistics: serde_json::Value,
    pub created: DateTime<Utc>,
}

/// Records an import and what it did to each finding.
#[tracing::instrument(level = "debug", skip_all, fields(actions = actions.len()))]
pub async fn record_import(
    conn: &mut AsyncPgConnection,
    new: &NewTestImport,
    actions: &[(FindingId, ImportAction)],
) -> QueryResult<TestImport> {
    let import: TestImport = diesel::insert_into(test_imports::table)
        .values(new)
        .returning(TestImport::as_returning())
        .get_result(conn)
        .await?;
    // Per action, the findings' ids ascending; a finding listed twice keeps its first action.
    let mut seen = std::collections::HashSet::new();
    let mut by_action: std::collections::BTreeMap<&str, Vec<FindingId>> = Default::default();
    for (id, action) in actions {
        if seen.insert(*id) {
            by_action.entry(action.as_str()).or_default().push(*id);
        }
    }
    for ids in by_action.values_mut() {
        ids.sort_unstable();
    }
    let (what, ids): (Vec<&str>, Vec<String>) = by_action
        .iter()
        .map(|(action, ids)| (*action, array_literal(ids)))
        .unzip();
    diesel::sql_query(
        "INSERT INTO test_import_actions (test_import_id, action, finding_ids) \
         SELECT $1, a.action, a.ids::int[] FROM unnest($2::text[], $3::text[]) AS a(action, ids)",
    )
    .bind::<Integer, _>(import.id)
    .bind::<Array<Text>, _>(what)
    .bind::<Array<Text>, _>(ids)
    .execute(conn)
    .await?;
    Ok(import)
}

/// The imports of tests `ids`, newest first per test.
pub async fn imports_of(
    conn: &mut AsyncPgConnection,
    tests: &[TestId],
) -> QueryResult<Vec<TestImport>> {
    Ok(test_imports::table
        .filter(test_imports::test_id.eq_any(tests))
        .order((test_imports::test_id, test_imports::id.desc()))
        .select(TestImport::as_select())
        .load(conn)
        .await?)
}

/// What imports `imports` did, per finding, in finding order per import (findings deleted
/// since included).
pub async fn import_actions(
    conn: &mut AsyncPgConnection,
    imports: &[i32],
) -> QueryResult<Vec<(i32, FindingId, String)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        import: i32,
        #[diesel(sql_type = Integer)]
        finding: FindingId,
        #[diesel(sql_type = Text)]
        action: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT a.test_import_id AS import, f.id AS finding, a.action \
         FROM test_import_actions a CROSS JOIN unnest(a.finding_ids) AS f(id) \
         WHERE a.test_import_id = ANY($1) ORDER BY 1, 2",
    )
    .bind::<Array<Integer>, _>(imports)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.import, r.finding, r.action))
        .collect())
}

/// Endpoint statuses of findings `ids`: (finding, endpoint row, mitigated).
#[derive(Debug, Clone, Queryable)]
pub struct EndpointOfFinding {
    pub finding_id: FindingId,
    pub id: i32,
    pub protocol: Option<String>,
    pub userinfo: Option<String>,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub fragment: Option<String>,
    pub mitigated: bool,
}

pub async fn endpoints_of(
    conn: &mut AsyncPgConnection,
    findings: &[FindingId],
) -> QueryResult<Vec<EndpointOfFinding>> {
    Ok(endpoint_status::table
        .inner_join(endpoints::table)
        .filter(endpoint_status::finding_id.eq_any(findings))
        .order((endpoint_status::finding_id, endpoints::url))
        .select((
            endpoint_status::finding_id,
            endpoints::id,
            endpoints::protocol,
            endpoints::userinfo,
            endpoints::host,
            endpoints::port,
            endpoints::path,
            endpoints::query,
            endpoints::fragment,
            endpoint_status::mitigated,
        ))
        .load(conn)
        .await?)
}

/// Serializes auto-creation of one named object across concurrent imports (released at commit):
/// the second import waits, then finds what the first created.
pub async fn lock_name(conn: &mut AsyncPgConnection, kind: &str, name: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1 || ':' || lower($2)))")
        .bind::<Text, _>(kind)
        .bind::<Text, _>(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// The product type called `name` (names are unique regardless of case).
pub async fn product_type_named(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<ProductTypeId>> {
    use super::schema::product_types;
    Ok(product_types::table
        .filter(
            diesel::dsl::sql::<Bool>("lower(name) = lower(")
                .bind::<Text, _>(name)
                .sql(")"),
        )
        .select(product_types::id)
        .first(conn)
        .await
        .optional()?)
}

/// The product called `name`, with its product type.
pub async fn product_named(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<(ProductId, ProductTypeId)>> {
    use super::schema::products;
    Ok(products::table
        .filter(
            diesel::dsl::sql::<Bool>("lower(name) = lower(")
                .bind::<Text, _>(name)
                .sql(")"),
        )
        .select((products::id, products::product_type_id))
        .first(conn)
        .await
        .optional()?)
}

/// The engagement of `product` called `name`.
pub async fn engagement_named(
    conn: &mut AsyncPgConnection,
    product: ProductId,
    name: &str,
) -> QueryResult<Option<EngagementId>> {
    use super::schema::engagements;
    Ok(engagements::table
        .filter(engagements::product_id.eq(product))
        .filter(engagements::name.eq(name))
        .order(engagements::id.desc())
        .select(engagements::id)
        .first(conn)
        .await
        .optional()?)
}

/// The latest test of `engagement` of scan type `scan_type` (and title `title` when given).
pub async fn latest_test(
    conn: &mut AsyncPgConnection,
    engagement: EngagementId,
    scan_type: &str,
    title: Option<&str>,
) -> QueryResult<Option<TestId>> {
    use super::schema::tests;
    let mut q = tests::table
        .filter(tests::engagement_id.eq(engagement))
        .filter(tests::scan_type.eq(scan_type))
        .into_boxed();
    if let Some(t) = title {
        q = q.filter(tests::title.eq(t));
    }
    Ok(q.order(tests::id.desc())
        .select(tests::id)
        .first(conn)
        .await
        .optional()?)
}

/// Extends a CI/CD engagement's target end to `date` when that is later (an import into it
/// happened then).
pub async fn extend_engagement(
    conn: &mut AsyncPgConnection,
    engagement: EngagementId,
    date: NaiveDate,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE engagements SET target_end = $2, updated = now() \
         WHERE id = $1 AND engagement_type = 'CI_CD' AND target_end < $2",
    )
    .bind::<Integer, _>(engagement)
    .bind::<diesel::sql_types::Date, _>(date)
    .execute(conn)
    .await?;
    Ok(())
}

/// What a re-import changes on its test: the metadata it names (omitted values are kept), tags
/// when given, target end extended to `date`, complete.
pub async fn touch_test(
    conn: &mut AsyncPgConnection,
    test: TestId,
    date: NaiveDate,
    version: Option<&str>,
    build_id: Option<&str>,
    commit_hash: Option<&str>,
    branch_tag: Option<&str>,
    tags: Option<&[String]>,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE tests SET version = COALESCE($3, version), build_id = COALESCE($4, build_id), \
             commit_hash = COALESCE($5, commit_hash), branch_tag = COALESCE($6, branch_tag), \
             tags = COALESCE($7, tags), target_end = GREATEST(target_end, $2), \
             percent_complete = 100, updated = now() \
         WHERE id = $1",
    )
    .bind::<Integer, _>(test)
    .bind::<diesel::sql_types::Date, _>(date)
    .bind::<Nullable<Text>, _>(version)
    .bind::<Nullable<Text>, _>(build_id)
    .bind::<Nullable<Text>, _>(commit_hash)
    .bind::<Nullable<Text>, _>(branch_tag)
    .bind::<Nullable<Array<Text>>, _>(tags)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks test `id` for the rest of the transaction (concurrent re-imports into one test run one
/// after the other); its engagement, product and test type.
pub async fn lock_test(
    conn: &mut AsyncPgConnection,
    id: TestId,
) -> QueryResult<(EngagementId, ProductId, TestTypeId, Option<String>)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        engagement_id: EngagementId,
        #[diesel(sql_type = Integer)]
        product_id: ProductId,
        #[diesel(sql_type = Integer)]
        test_type_id: TestTypeId,
        #[diesel(sql_type = Nullable<Text>)]
        title: Option<String>,
    }
    let r: Row = diesel::sql_query(
        "SELECT engagement_id, product_id, test_type_id, title FROM tests WHERE id = $1 FOR UPDATE",
    )
    .bind::<Integer, _>(id)
    .get_result(conn)
    .await?;
    Ok((r.engagement_id, r.product_id, r.test_type_id, r.title))
}

/// Whether deduplication is on (a system setting, on by default).
pub async fn dedup_enabled(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        enable_deduplication: bool,
    }
    let r: Row = diesel::sql_query("SELECT enable_deduplication FROM system_settings WHERE id = 1")
        .get_result(conn)
        .await?;
    Ok(r.enable_deduplication)
}

/// The product type of product `id`.
pub async fn product_type_of(
    conn: &mut AsyncPgConnection,
    id: ProductId,
) -> QueryResult<ProductTypeId> {
    use super::schema::products;
    Ok(products::table
        .find(id)
        .select(products::product_type_id)
        .get_result(conn)
        .await?)
}

/// The endpoints of findings `ids`, per finding.
pub async fn endpoints_for(
    conn: &mut AsyncPgConnection,
    ids: &[FindingId],
) -> QueryResult<std::collections::HashMap<FindingId, Vec<EndpointOfFinding>>> {
    let mut out: std::collections::HashMap<FindingId, Vec<EndpointOfFinding>> =
        std::collections::HashMap::new();
    for e in endpoints_of(conn, ids).await? {
        out.entry(e.finding_id).or_default().push(e);
    }
    Ok(out)
}

/// The imports of tests `ids`, newest first, per test.
pub async fn imports_for(
    conn: &mut AsyncPgConnection,
    ids: &[TestId],
) -> QueryResult<std::collections::HashMap<TestId, Vec<TestImport>>> {
    let mut out: std::collections::HashMap<TestId, Vec<TestImport>> =
        std::collections::HashMap::new();
    for i in imports_of(conn, ids).await? {
        out.entry(i.test_id).or_default().push(i);
    }
    Ok(out)
}

/// What imports `ids` did, per import: (finding, action), in finding order.
pub async fn actions_for(
    conn: &mut AsyncPgConnection,
    ids: &[i32],
) -> QueryResult<std::collections::HashMap<i32, Vec<(FindingId, ImportAction)>>> {
    let mut out: std::collections::HashMap<i32, Vec<(FindingId, ImportAction)>> =
        std::collections::HashMap::new();
    for (import, finding, action) in import_actions(conn, ids).await? {
        if let Ok(a) = action.parse() {
            out.entry(import).or_default().push((finding, a));
        }
    }
    Ok(out)
}
