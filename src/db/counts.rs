//! Active-finding counts per severity, aggregated in SQL for many parents at once.

use std::collections::HashMap;

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
use crate::domain::Severity;

/// Whose findings are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountScope {
    ProductType,
    Product,
    Engagement,
    Test,
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

/// Counts for every id in `ids` (ids without active findings get zeros), in one statement.
///
/// A product type's counts include only the products `viewer` may read; products, engagements
/// and tests are read whole or not at all, so their counts need no condition (which keeps them
/// index-only scans).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn active_by_severity(
    conn: &mut AsyncPgConnection,
    scope: CountScope,
    ids: &[i32],
    viewer: Viewer,
) -> QueryResult<HashMap<i32, SeverityCounts>> {
    let (parent, from) = match scope {
        CountScope::ProductType => (
            "p.product_type_id",
            "findings f JOIN products p ON p.id = f.product_id",
        ),
        CountScope::Product => ("f.product_id", "findings f"),
        CountScope::Engagement => ("f.engagement_id", "findings f"),
        CountScope::Test => ("f.test_id", "findings f"),
    };
    let mut sql = Sql::new(&format!(
        "SELECT {parent} AS parent, f.severity, count(*) AS n FROM {from} WHERE f.active AND {parent} = ANY("
    ));
    sql.bind::<Array<Integer>, _>(ids.to_vec()).push(")");
    if scope == CountScope::ProductType {
        authz::push_visible(&mut sql, authz::Scope::Product("f.product_id"), viewer);
    }
    sql.push(" GROUP BY 1, 2");
    let rows: Vec<Row> = sql.build().load(conn).await?;
    let mut out: HashMap<i32, SeverityCounts> = ids
        .iter()
        .map(|id| (*id, SeverityCounts::default()))
        .collect();
    for r in rows {
        out.entry(r.parent).or_default().add(r.severity, r.n);
    }
    Ok(out)
}
