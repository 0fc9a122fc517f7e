//! Reference data: test types and development environments. Test types are global (shared by
//! every tenant): a name that does not exist yet is created only where the caller may
//! ([`TestTypeByName`]); [`find_or_create_test_type_as_system`] is the entry point for trusted
//! server-side callers.

use super::page::SortKey;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    page::Listed,
    schema::{development_environments, test_types},
    sql::NoFilter,
};
use crate::domain::ids::{DevelopmentEnvironmentId, TestTypeId};

/// Longest test type name (`test_types.name` is `VARCHAR(200)`).
pub const TEST_TYPE_NAME_MAX: usize = 200;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = test_types, check_for_backend(diesel::pg::Pg))]
pub struct TestType {
    pub id: TestTypeId,
    pub name: String,
    pub static_tool: bool,
    pub dynamic_tool: bool,
    pub active: bool,
    pub dynamically_generated: bool,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = development_environments, check_for_backend(diesel::pg::Pg))]
pub struct DevelopmentEnvironment {
    pub id: DevelopmentEnvironmentId,
    pub name: String,
}

/// Sort keys of reference lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameOrder {
    #[default]
    Id,
    Name,
}

impl Listed for TestType {
    type Parent = super::page::NoParent;
    type Id = TestTypeId;
    fn row_id(&self) -> TestTypeId {
        self.id
    }
    const FROM: &'static str = "test_types t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Public;
    type Filter = NoFilter;
    type Order = NameOrder;
    fn sort_key(order: NameOrder) -> SortKey {
        match order {
            NameOrder::Id => SortKey::ID,
            NameOrder::Name => SortKey::text("lower(t.name)"),
        }
    }
}

impl Listed for DevelopmentEnvironment {
    type Parent = super::page::NoParent;
    type Id = DevelopmentEnvironmentId;
    fn row_id(&self) -> DevelopmentEnvironmentId {
        self.id
    }
    const FROM: &'static str = "development_environments t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Public;
    type Filter = NoFilter;
    type Order = NameOrder;
    fn sort_key(order: NameOrder) -> SortKey {
        match order {
            NameOrder::Id => SortKey::ID,
            NameOrder::Name => SortKey::text("lower(t.name)"),
        }
    }
}

/// How a test type named by a write is resolved. Test types are shared by every tenant, so
/// creating one is not a right any product role gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestTypeByName {
    /// Only an existing test type; an unknown name is refused (callers without the right to
    /// create test types).
    Existing,
    /// Created when missing (superusers, and the system itself).
    CreateMissing,
}

/// The test type called `name` (exactly). Unknown with [`TestTypeByName::Existing`]: `Rule`,
/// naming only the name asked for (the list of test types is not spelled out).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn test_type_named(
    conn: &mut AsyncPgConnection,
    name: &str,
    how: TestTypeByName,
) -> QueryResult<TestType> {
    match how {
        TestTypeByName::CreateMissing => find_or_create_test_type_as_system(conn, name).await,
        TestTypeByName::Existing => test_types::table
            .filter(test_types::name.eq(name))
            .select(TestType::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| {
                DbError::Rule(format!(
                    "unknown test type {name:?}: pick an existing one (testTypes), or ask an \
                     administrator to create it"
                ))
            }),
    }
}

/// The test type called `name`, created (as dynamically generated) when it does not exist yet,
/// **as the system**: no permission is checked here. For superusers' requests and for trusted
/// server-side callers such as scan import, which names test types after scan types. Safe
/// under concurrency: a racing insert of the same name resolves to the one row.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_or_create_test_type_as_system(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<TestType> {
    diesel::insert_into(test_types::table)
        .values((
            test_types::name.eq(name),
            test_types::dynamically_generated.eq(true),
        ))
        .on_conflict(test_types::name)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(test_types::table
        .filter(test_types::name.eq(name))
        .select(TestType::as_select())
        .get_result(conn)
        .await?)
}

/// The development environment called `name`, if any.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn environment_by_name(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<DevelopmentEnvironment>> {
    Ok(development_environments::table
        .filter(development_environments::name.eq(name))
        .select(DevelopmentEnvironment::as_select())
        .first(conn)
        .await
        .optional()?)
}
