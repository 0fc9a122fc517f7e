//! Products: rows, inserts, changes and their queries.

use super::page::SortKey;
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    page::Listed,
    schema::products,
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::{
    BusinessCriticality, Lifecycle, Origin, Platform,
    ids::{ProductId, ProductTypeId, SlaConfigurationId, UserId},
};

/// Column widths (characters) of `products`.
pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 4000;
/// Of a technology's name (stored in the `technologies` JSON).
pub const TECHNOLOGY_NAME_MAX: usize = 200;
/// `revenue` is `NUMERIC(15, 2)`: it holds values below 10^13 (rounded to cents).
pub const REVENUE_LIMIT: i64 = 10_000_000_000_000;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: String,
    pub product_type_id: ProductTypeId,
    pub sla_configuration_id: SlaConfigurationId,
    pub product_manager_id: Option<UserId>,
    pub technical_contact_id: Option<UserId>,
    pub team_manager_id: Option<UserId>,
    pub business_criticality: Option<BusinessCriticality>,
    pub platform: Option<Platform>,
    pub lifecycle: Option<Lifecycle>,
    pub origin: Option<Origin>,
    pub user_records: Option<i64>,
    pub revenue: Option<BigDecimal>,
    pub external_audience: bool,
    pub internet_accessible: bool,
    pub regulations: Vec<Option<String>>,
    pub technologies: serde_json::Value,
    pub tags: Vec<Option<String>>,
    pub enable_simple_risk_acceptance: bool,
    pub enable_full_risk_acceptance: bool,
    pub disable_sla_breach_notifications: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A technology a product uses, with its version (stored as JSON on the product).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Technology {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Product {
    pub fn technology_list(&self) -> Vec<Technology> {
        serde_json::from_value(self.technologies.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = products)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub product_type_id: ProductTypeId,
    pub sla_configuration_id: SlaConfigurationId,
    pub product_manager_id: Option<UserId>,
    pub technical_contact_id: Option<UserId>,
    pub team_manager_id: Option<UserId>,
    pub business_criticality: Option<BusinessCriticality>,
    pub platform: Option<Platform>,
    pub lifecycle: Option<Lifecycle>,
    pub origin: Option<Origin>,
    pub user_records: Option<i64>,
    pub revenue: Option<BigDecimal>,
    pub external_audience: bool,
    pub internet_accessible: bool,
    pub regulations: Vec<String>,
    pub technologies: serde_json::Value,
    pub tags: Vec<String>,
    pub enable_simple_risk_acceptance: bool,
    pub enable_full_risk_acceptance: bool,
    pub disable_sla_breach_notifications: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub product_type_id: Option<ProductTypeId>,
    pub sla_configuration_id: Option<SlaConfigurationId>,
    pub product_manager_id: Option<Option<UserId>>,
    pub technical_contact_id: Option<Option<UserId>>,
    pub team_manager_id: Option<Option<UserId>>,
    pub business_criticality: Option<Option<BusinessCriticality>>,
    pub platform: Option<Option<Platform>>,
    pub lifecycle: Option<Option<Lifecycle>>,
    pub origin: Option<Option<Origin>>,
    pub user_records: Option<Option<i64>>,
    pub revenue: Option<Option<BigDecimal>>,
    pub external_audience: Option<bool>,
    pub internet_accessible: Option<bool>,
    pub regulations: Option<Vec<String>>,
    pub technologies: Option<serde_json::Value>,
    pub tags: Option<Vec<String>>,
    pub enable_simple_risk_acceptance: Option<bool>,
    pub enable_full_risk_acceptance: Option<bool>,
    pub disable_sla_breach_notifications: Option<bool>,
    pub updated: Option<DateTime<Utc>>,
}

/// Filter for product lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProductFilter {
    pub name_contains: Option<String>,
    pub product_type_id: Option<ProductTypeId>,
    pub sla_configuration_id: Option<SlaConfigurationId>,
    pub business_criticality: Vec<BusinessCriticality>,
    pub platform: Vec<Platform>,
    pub lifecycle: Vec<Lifecycle>,
    pub origin: Vec<Origin>,
    pub external_audience: Option<bool>,
    pub internet_accessible: Option<bool>,
    /// Products carrying every one of these tags.
    pub tags: Vec<String>,
}

fn any_of<E: Copy + Into<&'static str>>(sql: &mut Sql, column: &str, values: &[E]) {
    if !values.is_empty() {
        let v: Vec<String> = values.iter().map(|e| (*e).into().to_string()).collect();
        sql.push(" AND ")
            .push(column)
            .push(" = ANY(")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(v)
            .push(")");
    }
}

macro_rules! as_static_str {
    ($($t:ty),+) => {$(
        impl From<$t> for &'static str {
            fn from(v: $t) -> Self { v.as_str() }
        }
    )+};
}
as_static_str!(BusinessCriticality, Platform, Lifecycle, Origin);

impl SqlFilter for ProductFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        use diesel::sql_types::{Array, Bool, Integer, Text};
        if let Some(n) = &self.name_contains {
            sql.and::<Text, _>("t.name ILIKE ", like_pattern(n));
        }
        if let Some(v) = self.product_type_id {
            sql.and::<Integer, _>("t.product_type_id = ", v);
        }
        if let Some(v) = self.sla_configuration_id {
            sql.and::<Integer, _>("t.sla_configuration_id = ", v);
        }
        any_of(sql, "t.business_criticality", &self.business_criticality);
        any_of(sql, "t.platform", &self.platform);
        any_of(sql, "t.lifecycle", &self.lifecycle);
        any_of(sql, "t.origin", &self.origin);
        if let Some(v) = self.external_audience {
            sql.and::<Bool, _>("t.external_audience = ", v);
        }
        if let Some(v) = self.internet_accessible {
            sql.and::<Bool, _>("t.internet_accessible = ", v);
        }
        if !self.tags.is_empty() {
            sql.and::<Array<Text>, _>("t.tags @> ", self.tags.clone());
        }
    }
}

/// Sort keys of product lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProductOrder {
    #[default]
    Id,
    Name,
    Created,
    Updated,
}

super::page::list_parent!(
    /// What a nested list of products belongs to (`ProductType.products`).
    ProductParent {
        ProductType(ProductTypeId) => "t.product_type_id",
    }
);

impl Listed for Product {
    type Parent = ProductParent;
    type Id = ProductId;
    fn row_id(&self) -> ProductId {
        self.id
    }
    const FROM: &'static str = "products t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.id");
    type Filter = ProductFilter;
    type Order = ProductOrder;
    fn sort_key(order: ProductOrder) -> SortKey {
        match order {
            ProductOrder::Id => SortKey::ID,
            ProductOrder::Name => SortKey::text("lower(t.name)"),
            ProductOrder::Created => SortKey::timestamp("t.created"),
            ProductOrder::Updated => SortKey::timestamp("t.updated"),
        }
    }
}

/// Creates a product in an existing product type (share-locked against a concurrent delete).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(conn: &mut AsyncPgConnection, new: NewProduct) -> QueryResult<Product> {
    use super::schema::product_types;
    product_types::table
        .find(new.product_type_id)
        .select(product_types::id)
        .for_share()
        .first::<ProductTypeId>(conn)
        .await
        .optional()?
        .ok_or(super::DbError::ParentNotFound("product type"))?;
    Ok(diesel::insert_into(products::table)
        .values(&new)
        .returning(Product::as_returning())
        .get_result(conn)
        .await?)
}

/// The product type of product `id`, locked until the transaction ends (`None` when there is
/// no such product): what a move to another product type is compared with.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_type_for_update(
    conn: &mut AsyncPgConnection,
    id: ProductId,
) -> QueryResult<Option<ProductTypeId>> {
    Ok(products::table
        .find(id)
        .select(products::product_type_id)
        .for_no_key_update()
        .first(conn)
        .await
        .optional()?)
}

/// Updates a product (the update only, stamping `updated`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: ProductId,
    mut changes: ProductChanges,
) -> QueryResult<Product> {
    changes.updated = Some(Utc::now());
    Ok(diesel::update(products::table.find(id))
        .set(&changes)
        .returning(Product::as_returning())
        .get_result(conn)
        .await?)
}
