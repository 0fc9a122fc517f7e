//! The statements of cascading deletes and their previews. A preview counts exactly what the
//! delete removes (the object, every descendant, their notes and files). The delete itself
//! (`service::lifecycle::delete`) runs in one transaction: lock the root, count, give duplicate
//! clusters that reach outside the deleted subtree a new original (reference §3.5, here
//! [`reassign_duplicates`]), then delete the root and let the foreign keys cascade.

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    authz::{Viewer, Visibility},
    sql::Sql,
};
use crate::domain::ids::{EngagementId, FindingId, ProductId, ProductTypeId, TestId};

/// A deletable hierarchy object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    ProductType(ProductTypeId),
    Product(ProductId),
    Engagement(EngagementId),
    Test(TestId),
    Finding(FindingId),
}

/// Rows removed per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct DeleteCounts {
    #[diesel(sql_type = BigInt)]
    pub product_types: i64,
    #[diesel(sql_type = BigInt)]
    pub products: i64,
    #[diesel(sql_type = BigInt)]
    pub engagements: i64,
    #[diesel(sql_type = BigInt)]
    pub tests: i64,
    #[diesel(sql_type = BigInt)]
    pub findings: i64,
    #[diesel(sql_type = BigInt)]
    pub notes: i64,
    #[diesel(sql_type = BigInt)]
    pub files: i64,
}

impl DeleteCounts {
    pub fn total(&self) -> i64 {
        self.product_types
            + self.products
            + self.engagements
            + self.tests
            + self.findings
            + self.notes
            + self.files
    }
}

impl Root {
    /// The root's database id (its kind is the variant's).
    fn raw_id(self) -> i32 {
        match self {
            Root::ProductType(id) => id.get(),
            Root::Product(id) => id.get(),
            Root::Engagement(id) => id.get(),
            Root::Test(id) => id.get(),
            Root::Finding(id) => id.get(),
        }
    }

    fn table(self) -> &'static str {
        match self {
            Root::ProductType(_) => "product_types",
            Root::Product(_) => "products",
            Root::Engagement(_) => "engagements",
            Root::Test(_) => "tests",
            Root::Finding(_) => "findings",
        }
    }

    /// CTEs selecting the ids of every doomed row per table; `$1` is the root id.
    /// `products` is appended to the selection of a product type's products (a visibility
    /// condition for previews).
    fn scope_ctes(self, products: &str) -> String {
        match self {
            Root::ProductType(_) => format!(
                "pt AS (SELECT id FROM product_types WHERE id = $1), \
                 p AS (SELECT id FROM products WHERE product_type_id = $1{products}), \
                 e AS (SELECT id FROM engagements WHERE product_id IN (SELECT id FROM p)), \
                 t AS (SELECT id FROM tests WHERE product_id IN (SELECT id FROM p)), \
                 f AS (SELECT id FROM findings WHERE product_id IN (SELECT id FROM p))"
            ),
            Root::Product(_) => {
                "pt AS (SELECT NULL::int AS id WHERE FALSE), \
                 p AS (SELECT id FROM products WHERE id = $1), \
                 e AS (SELECT id FROM engagements WHERE product_id = $1), \
                 t AS (SELECT id FROM tests WHERE product_id = $1), \
                 f AS (SELECT id FROM findings WHERE product_id = $1)"
                    .into()
            }
            Root::Engagement(_) => {
                "pt AS (SELECT NULL::int AS id WHERE FALSE), p AS (SELECT NULL::int AS id WHERE FALSE), \
                 e AS (SELECT id FROM engagements WHERE id = $1), \
                 t AS (SELECT id FROM tests WHERE engagement_id = $1), \
                 f AS (SELECT id FROM findings WHERE engagement_id = $1)"
                    .into()
            }
            Root::Test(_) => {
                "pt AS (SELECT NULL::int AS id WHERE FALSE), p AS (SELECT NULL::int AS id WHERE FALSE), \
                 e AS (SELECT NULL::int AS id WHERE FALSE), \
                 t AS (SELECT id FROM tests WHERE id = $1), \
                 f AS (SELECT id FROM findings WHERE test_id = $1)"
                    .into()
            }
            Root::Finding(_) => {
                "pt AS (SELECT NULL::int AS id WHERE FALSE), p AS (SELECT NULL::int AS id WHERE FALSE), \
                 e AS (SELECT NULL::int AS id WHERE FALSE), t AS (SELECT NULL::int AS id WHERE FALSE), \
                 f AS (SELECT id FROM findings WHERE id = $1)"
                    .into()
            }
        }
    }
}

/// What deleting `root` would remove; `NotFound` when it does not exist. A product type's
/// products are counted only where `viewer` may read them (the caller checks the root itself),
/// and private notes only as `private` allows (see [`super::authz::push_private_notes_visible`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn preview(
    conn: &mut AsyncPgConnection,
    root: Root,
    viewer: Viewer,
    private: Visibility,
) -> QueryResult<DeleteCounts> {
    let products = match viewer.products {
        Visibility::Member(_) => {
            " AND id IN (SELECT pg.product_id FROM product_grants pg WHERE pg.user_id = $2)"
        }
        Visibility::All => "",
    };
    let mut sql = Sql::new(&format!(
        "WITH {} SELECT \
         (SELECT count(*) FROM pt) AS product_types, (SELECT count(*) FROM p) AS products, \
         (SELECT count(*) FROM e) AS engagements, (SELECT count(*) FROM t) AS tests, \
         (SELECT count(*) FROM f) AS findings, \
         (SELECT count(*) FROM files WHERE engagement_id IN (SELECT id FROM e) \
            OR test_id IN (SELECT id FROM t) OR finding_id IN (SELECT id FROM f)) AS files, \
         (SELECT count(*) FROM notes x WHERE (x.engagement_id IN (SELECT id FROM e) \
            OR x.test_id IN (SELECT id FROM t) OR x.finding_id IN (SELECT id FROM f))",
        root.scope_ctes(products)
    ));
    sql.bind_unwritten::<diesel::sql_types::Integer, _>(root.raw_id());
    if let Visibility::Member(user) = viewer.products {
        sql.bind_unwritten::<diesel::sql_types::Integer, _>(user);
    }
    super::authz::push_private_notes_visible(&mut sql, private);
    sql.push(") AS notes");
    let counts: DeleteCounts = sql.build().get_result(conn).await?;
    let own = match root {
        Root::ProductType(_) => counts.product_types,
        Root::Product(_) => counts.products,
        Root::Engagement(_) => counts.engagements,
        Root::Test(_) => counts.tests,
        Root::Finding(_) => counts.findings,
    };
    if own == 0 {
        return Err(DbError::NotFound);
    }
    Ok(counts)
}

/// Locks `root` for the delete (`NotFound` when it does not exist).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(conn: &mut AsyncPgConnection, root: Root) -> QueryResult<()> {
    let mut lock = Sql::new(&format!("SELECT 1 AS n FROM {} WHERE id = ", root.table()));
    lock.bind::<diesel::sql_types::Integer, _>(root.raw_id())
        .push(" FOR UPDATE");
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        #[allow(dead_code)]
        n: i32,
    }
    lock.build().get_result::<One>(conn).await?;
    Ok(())
}

/// The product and name of engagement `id`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn engagement_name(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
) -> QueryResult<(ProductId, String)> {
    #[derive(QueryableByName)]
    struct Gone {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        product_id: ProductId,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let gone: Gone = diesel::sql_query("SELECT product_id, name FROM engagements WHERE id = $1")
        .bind::<diesel::sql_types::Integer, _>(id)
        .get_result(conn)
        .await?;
    Ok((gone.product_id, gone.name))
}

/// Gives every duplicate cluster whose original is below `root` but which has members outside
/// it a new original: the oldest member outside, which takes over the original's status.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reassign_duplicates(conn: &mut AsyncPgConnection, root: Root) -> QueryResult<()> {
    let mut heirs = Sql::new(&format!(
        "WITH {}, doomed AS (SELECT x.id, x.active, x.verified, x.is_mitigated, x.mitigated \
           FROM findings x WHERE x.id IN (SELECT id FROM f)), \
         heirs AS (SELECT DISTINCT ON (x.duplicate_finding_id) x.duplicate_finding_id AS old_id, x.id AS heir_id \
           FROM findings x WHERE x.duplicate_finding_id IN (SELECT id FROM doomed) \
           AND x.id NOT IN (SELECT id FROM doomed) ORDER BY x.duplicate_finding_id, x.id) \
         UPDATE findings y SET \
           duplicate = (y.id <> h.heir_id), \
           duplicate_finding_id = CASE WHEN y.id = h.heir_id THEN NULL ELSE h.heir_id END, \
           active = CASE WHEN y.id = h.heir_id THEN d.active AND NOT y.risk_accepted ELSE y.active END, \
           verified = CASE WHEN y.id = h.heir_id THEN d.verified AND NOT y.false_p ELSE y.verified END, \
           is_mitigated = CASE WHEN y.id = h.heir_id THEN d.is_mitigated ELSE y.is_mitigated END, \
           mitigated = CASE WHEN y.id = h.heir_id THEN d.mitigated ELSE y.mitigated END \
         FROM heirs h JOIN doomed d ON d.id = h.old_id \
         WHERE y.duplicate_finding_id = h.old_id AND y.id NOT IN (SELECT id FROM doomed)",
        root.scope_ctes("")
    ));
    heirs.bind_unwritten::<diesel::sql_types::Integer, _>(root.raw_id());
    heirs.build().execute(conn).await?;
    Ok(())
}

/// Deletes the row of `root`; the foreign keys cascade to everything below it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_root(conn: &mut AsyncPgConnection, root: Root) -> QueryResult<()> {
    let mut del = Sql::new(&format!("DELETE FROM {} WHERE id = ", root.table()));
    del.bind::<diesel::sql_types::Integer, _>(root.raw_id());
    super::one(del.build().execute(conn).await?)
}
