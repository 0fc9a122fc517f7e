//! `findingCounts`: active findings per severity, aggregated in SQL and batched per level.

use async_graphql::{Context, SimpleObject};

use super::{context::loader, loaders::CountsOf};
use crate::db::counts::{CountScope, SeverityCounts};

/// Active findings per severity.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct FindingCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub info: i64,
    pub total: i64,
}

impl From<SeverityCounts> for FindingCounts {
    fn from(c: SeverityCounts) -> Self {
        FindingCounts {
            critical: c.critical,
            high: c.high,
            medium: c.medium,
            low: c.low,
            info: c.info,
            total: c.total(),
        }
    }
}

impl FindingCounts {
    /// The value of one of its fields, for lists built without resolvers (`graphql::plain`).
    pub fn plain(&self, field: &str) -> Option<async_graphql::Value> {
        Some(async_graphql::Value::from(match field {
            "critical" => self.critical,
            "high" => self.high,
            "medium" => self.medium,
            "low" => self.low,
            "info" => self.info,
            "total" => self.total,
            _ => return None,
        }))
    }

    pub async fn load(ctx: &Context<'_>, scope: CountScope) -> async_graphql::Result<Self> {
        Ok(loader(ctx)
            .load_one(CountsOf(scope))
            .await?
            .unwrap_or_default()
            .into())
    }
}
