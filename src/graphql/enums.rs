//! GraphQL enumerations, mirroring the domain and db enumerations (`remote` generates the
//! conversions both ways).

use async_graphql::Enum;

use crate::{db, domain};

/// Finding severity.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Severity")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// How an engagement is run.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::EngagementType")]
pub enum EngagementType {
    Interactive,
    CiCd,
}

/// Engagement status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::EngagementStatus")]
pub enum EngagementStatus {
    NotStarted,
    Blocked,
    Cancelled,
    Completed,
    InProgress,
    OnHold,
    Scheduled,
    WaitingForResource,
}

/// How critical a product is to the business.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::BusinessCriticality")]
pub enum BusinessCriticality {
    VeryHigh,
    High,
    Medium,
    Low,
    VeryLow,
    None,
}

/// A product's platform.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Platform")]
pub enum Platform {
    WebService,
    Desktop,
    Iot,
    Mobile,
    Web,
}

/// A product's lifecycle stage.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Lifecycle")]
pub enum Lifecycle {
    Construction,
    Production,
    Retirement,
}

/// Where a product comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Origin")]
pub enum Origin {
    ThirdPartyLibrary,
    Purchased,
    Contractor,
    Internal,
    OpenSource,
    Outsourced,
}

/// Sort direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(remote = "db::sql::Direction")]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// Converts a list of GraphQL enum values into their domain counterparts.
pub fn to_domain<G: Copy + Into<D>, D>(values: Option<Vec<G>>) -> Vec<D> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect()
}
