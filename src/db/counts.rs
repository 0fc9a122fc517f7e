//! Active-finding counts per severity, aggregated in SQL for many parents at once.

use std::collections::{HashMap, HashSet};

use diesel::{
    QueryableByName,
    sql_types::{Array, BigInt, Integer},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    authz::{self, Viewer},
    sql::Sql,
};
use crate::domain::{
    Severity,
    ids::{EngagementId, ProductId, ProductTypeId, TestId},
};

/// Whose findings are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountScope {
    ProductType(ProductTypeId),
    Product(ProductId),
    Engagement(EngagementId),
    Test(TestId),
}

impl CountScope {
    /// The SQL naming a finding's parent of this kind, and the `FROM` clause it needs.
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            CountScope::ProductType(_) => (
                "p.product_type_id",
                "product_finding_counts f JOIN products p ON p.id = f.product_id",
            ),
            CountScope::Product(_) => ("f.product_id", "product_finding_counts f"),
            CountScope::Engagement(_) => ("f.engagement_id", "finding_counts f"),
            CountScope::Test(_) => ("f.test_id", "finding_counts f"),
        }
    }

    /// The parent's database id (its kind is the variant's).
    fn raw_id(self) -> i32 {
        match self {
            CountScope::ProductType(id) => id.get(),
            CountScope::Product(id) => id.get(),
            CountScope::Engagement(id) => id.get(),
            CountScope::Test(id) => id.get(),
        }
    }
}

/// Active findings per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub info: i64,
}

impl SeverityCounts {
    pub fn total(&self) -> i64 {
        self.critical + self.high + self.medium + self.low + self.info
    }

    fn add(&mut self, severity: Severity, n: i64) {
        match severity {
            Severity::Critical => self.critical += n,
            Severity::High => self.high += n,
            Severity::Medium => self.medium += n,
            Severity::Low => self.low += n,
            Severity::Info => self.info += n,
        }
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    severity: Severity,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Counts for every scope in `scopes` (scopes without active findings get zeros), in one
/// statement per kind of scope.
///
/// A product type's counts include only the products `viewer` may read; products, engagements
/// and tests are read whole or not at all, so their counts need no condition. The counts are
/// sums of counter rows kept by triggers in every write's transaction, not counts of findings:
/// tests and engagements sum `finding_counts` (a row per test and severity), products and
/// product types sum `product_finding_counts` (a few rows per product and severity), so the
/// cost grows with the number of parents, not of findings.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn active_by_severity(
    conn: &mut AsyncPgConnection,
    scopes: &[CountScope],
    viewer: Viewer,
) -> QueryResult<HashMap<CountScope, SeverityCounts>> {
    let mut by_kind: HashMap<(&'static str, &'static str), HashSet<CountScope>> = HashMap::new();
    for s in scopes {
        by_kind.entry(s.sql()).or_default().insert(*s);
    }
    let mut out = HashMap::with_capacity(scopes.len());
    for ((parent, from), group) in by_kind {
        let ids: Vec<i32> = group.iter().map(|s| s.raw_id()).collect();
        let mut sql = Sql::new(&format!(
            "SELECT {parent} AS parent, f.severity, sum(f.active)::bigint AS n FROM {from} WHERE {parent} = ANY("
        ));
        sql.bind::<Array<Integer>, _>(ids).push(")");
        if group
            .iter()
            .any(|s| matches!(s, CountScope::ProductType(_)))
        {
            authz::push_visible(&mut sql, authz::Scope::Product("f.product_id"), viewer);
        }
        sql.push(" GROUP BY 1, 2");
        let rows: Vec<Row> = sql.prepared().load(conn).await?;
        let mut counts: HashMap<i32, SeverityCounts> = HashMap::new();
        for r in rows {
            counts.entry(r.parent).or_default().add(r.severity, r.n);
        }
        for s in group {
            out.insert(s, counts.remove(&s.raw_id()).unwrap_or_default());
        }
    }
    Ok(out)
}

/// Folds `product_finding_counts`' delta rows into one row per product and severity (a job;
/// safe beside concurrent writers, whose new rows it leaves alone). Returns the rows removed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn compact(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Removed {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let r: Removed = diesel::sql_query("SELECT product_finding_counts_compact() AS n")
        .get_result(conn)
        .await?;
    Ok(r.n)
}
