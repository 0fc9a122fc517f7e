//! Product types: rows, inserts, changes and their queries.

use super::page::SortKey;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    page::Listed,
    schema::product_types,
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::ids::ProductTypeId;

/// Column widths (characters) of `product_types`.
pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 4000;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = product_types, check_for_backend(diesel::pg::Pg))]
pub struct ProductType {
    pub id: ProductTypeId,
    pub name: String,
    pub description: Option<String>,
    pub critical_product: bool,
    pub key_product: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = product_types)]
pub struct NewProductType {
    pub name: String,
    pub description: Option<String>,
    pub critical_product: bool,
    pub key_product: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = product_types)]
pub struct ProductTypeChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub critical_product: Option<bool>,
    pub key_product: Option<bool>,
    pub updated: Option<DateTime<Utc>>,
}

/// Filter for product type lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProductTypeFilter {
    pub name_contains: Option<String>,
    pub critical_product: Option<bool>,
    pub key_product: Option<bool>,
}

impl SqlFilter for ProductTypeFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        use diesel::sql_types::{Bool, Text};
        if let Some(n) = &self.name_contains {
            sql.and::<Text, _>("t.name ILIKE ", like_pattern(n));
        }
        if let Some(v) = self.critical_product {
            sql.and::<Bool, _>("t.critical_product = ", v);
        }
        if let Some(v) = self.key_product {
            sql.and::<Bool, _>("t.key_product = ", v);
        }
    }
}

/// Sort keys of product type lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProductTypeOrder {
    #[default]
    Id,
    Name,
    Created,
    Updated,
}

impl Listed for ProductType {
    type Parent = super::page::NoParent;
    type Id = ProductTypeId;
    fn row_id(&self) -> ProductTypeId {
        self.id
    }
    const FROM: &'static str = "product_types t";
    const SCOPE: super::authz::Scope = super::authz::Scope::ProductType;
    type Filter = ProductTypeFilter;
    type Order = ProductTypeOrder;
    fn sort_key(order: ProductTypeOrder) -> SortKey {
        match order {
            ProductTypeOrder::Id => SortKey::ID,
            ProductTypeOrder::Name => SortKey::text("lower(t.name)"),
            ProductTypeOrder::Created => SortKey::timestamp("t.created"),
            ProductTypeOrder::Updated => SortKey::timestamp("t.updated"),
        }
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(conn: &mut AsyncPgConnection, new: NewProductType) -> QueryResult<ProductType> {
    Ok(diesel::insert_into(product_types::table)
        .values(&new)
        .returning(ProductType::as_returning())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: ProductTypeId,
    mut changes: ProductTypeChanges,
) -> QueryResult<ProductType> {
    changes.updated = Some(Utc::now());
    Ok(diesel::update(product_types::table.find(id))
        .set(&changes)
        .returning(ProductType::as_returning())
        .get_result(conn)
        .await?)
}
