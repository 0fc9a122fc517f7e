//! Authorization data. Which rows a caller may read is an SQL condition that every list, count
//! and lookup adds ([`Visibility`], [`Scope`], [`push_visible`]), so a page, its `totalCount` and
//! its counts never include what the caller may not see. Mutations resolve their target to the
//! product, product type or group their permission is checked on ([`anchor`], which also locks
//! the target row for the rest of the transaction) and read the caller's roles there.
//!
//! Private notes are a second condition on notes ([`push_private_notes_visible`]): product
//! visibility shows a note's product, not the private notes on it.
//!
//! Roles come from the `memberships`, `group_members` and global-role columns (migration 5);
//! the views `user_memberships` and `product_grants` expand groups and product-type inheritance.

use std::collections::HashMap;

use diesel::{
    OptionalExtension, QueryableByName,
    sql_types::{Array, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{DbError, QueryResult, sql::Sql};
use crate::domain::{
    Role,
    ids::{
        EngagementId, FileId, FindingId, GroupId, MembershipId, NoteId, ProductId, ProductTypeId,
        TestId, TypedId, UserId,
    },
    rbac::Permission,
};

/// What a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Everything (superusers; holders of a global role for products).
    All,
    /// What this user holds a role on: directly, through a group, or (for products) through
    /// the product type.
    Member(UserId),
}

impl Visibility {
    /// Sees nothing (a caller without a principal): no user has id 0.
    pub const NOTHING: Visibility = Visibility::Member(UserId::new(0));
}

/// Who reads: what it may see of products (and everything below them) and of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub products: Visibility,
    pub groups: Visibility,
}

impl Viewer {
    /// Sees everything (internal jobs, the demo loader).
    pub const ALL: Viewer = Viewer {
        products: Visibility::All,
        groups: Visibility::All,
    };
}

/// How the rows of a listed entity are restricted to what a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Reference data every authenticated caller may read.
    Public,
    /// Rows of a product: the SQL expression names the row's product id.
    Product(&'static str),
    /// Product types (`t.id`): those the reader holds a role on, or holds a role on one of
    /// whose products.
    ProductType,
    /// Groups (`t.id`): those the reader belongs to.
    Group,
}

/// Appends `AND <visible>` for `scope` (nothing where the viewer sees everything).
pub fn push_visible(sql: &mut Sql, scope: Scope, viewer: Viewer) {
    let vis = match scope {
        Scope::Group => viewer.groups,
        _ => viewer.products,
    };
    let Visibility::Member(user) = vis else {
        return;
    };
    match scope {
        Scope::Public => {}
        Scope::Product(column) => {
            sql.push(" AND ").push(column).push(" IN ");
            readable_products(sql, user);
        }
        Scope::ProductType => {
            sql.push(" AND (t.id IN (SELECT um.product_type_id FROM user_memberships um WHERE um.user_id = ")
                .bind::<Integer, _>(user)
                .push(" AND um.product_type_id IS NOT NULL) OR t.id IN (SELECT rp.product_type_id FROM products rp WHERE rp.id IN ");
            readable_products(sql, user);
            sql.push("))");
        }
        Scope::Group => {
            sql.push(" AND t.id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = ")
                .bind::<Integer, _>(user)
                .push(")");
        }
    }
}

/// `(SELECT product_id FROM product_grants WHERE user_id = $n)`: the products `user` may read.
pub fn readable_products(sql: &mut Sql, user: UserId) {
    sql.push("(SELECT pg.product_id FROM product_grants pg WHERE pg.user_id = ")
        .bind::<Integer, _>(user)
        .push(")");
}

/// The product of the note or file aliased `x`: its parent's.
const ATTACHMENT_PRODUCT: &str = "COALESCE(\
     (SELECT e.product_id FROM engagements e WHERE e.id = x.engagement_id), \
     (SELECT t.product_id FROM tests t WHERE t.id = x.test_id), \
     (SELECT f.product_id FROM findings f WHERE f.id = x.finding_id))";

/// Appends `AND <visible>` for notes or files aliased `x` (their product is their parent's).
pub fn push_attachment_visible(sql: &mut Sql, viewer: Viewer) {
    let Visibility::Member(user) = viewer.products else {
        return;
    };
    sql.push(" AND ").push(ATTACHMENT_PRODUCT).push(" IN ");
    readable_products(sql, user);
}

/// Appends `AND <readable>` for notes aliased `x`, given whose private notes the reader sees
/// (`private`, from `Principal::private_notes`): every note that is not private; with
/// `Member(user)`, private notes only where `user` wrote them or holds a role on their product
/// that allows [`Permission::READ_PRIVATE_NOTES`] (own, group or product-type grant). The
/// product visibility itself is a separate condition.
pub fn push_private_notes_visible(sql: &mut Sql, private: Visibility) {
    let Visibility::Member(user) = private else {
        return;
    };
    let roles: Vec<&'static str> = Role::ALL
        .iter()
        .filter(|r| r.allows(Permission::READ_PRIVATE_NOTES))
        .map(|r| r.as_str())
        .collect();
    sql.push(" AND (NOT x.private OR x.author_id = ")
        .bind::<Integer, _>(user)
        .push(" OR ")
        .push(ATTACHMENT_PRODUCT)
        .push(" IN (SELECT pg.product_id FROM product_grants pg WHERE pg.user_id = ")
        .bind::<Integer, _>(user)
        .push(" AND pg.role = ANY(")
        .bind::<Array<Text>, _>(roles)
        .push(")))");
}

/// The author of note `id` when the note is private (`Some(author)`, the author possibly
/// deleted); `None` when it is not private or does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn private_note_author(
    conn: &mut AsyncPgConnection,
    id: NoteId,
) -> QueryResult<Option<Option<UserId>>> {
    #[derive(QueryableByName)]
    struct Author {
        #[diesel(sql_type = Nullable<Integer>)]
        author_id: Option<UserId>,
    }
    let found: Option<Author> =
        diesel::sql_query("SELECT author_id FROM notes WHERE id = $1 AND private")
            .bind::<Integer, _>(id)
            .get_result(conn)
            .await
            .optional()?;
    Ok(found.map(|a| a.author_id))
}

/// A [`super::sql::SqlFilter`] plus the visibility condition of its entity.
pub struct Visible<'a, F: ?Sized> {
    pub filter: &'a F,
    pub scope: Scope,
    pub viewer: Viewer,
}

impl<F: super::sql::SqlFilter + ?Sized> super::sql::SqlFilter for Visible<'_, F> {
    fn push_conditions(&self, sql: &mut Sql) {
        self.filter.push_conditions(sql);
        push_visible(sql, self.scope, self.viewer);
    }
}

#[derive(QueryableByName)]
struct IdRole {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    role: Role,
}

fn group_by_id<I: TypedId>(rows: Vec<IdRole>) -> HashMap<I, Vec<Role>> {
    let mut out: HashMap<I, Vec<Role>> = HashMap::new();
    for r in rows {
        out.entry(I::new(r.id)).or_default().push(r.role);
    }
    out
}

/// Runs `query` (selecting `id, role` for the user `$1` among the ids `$2`) grouped by id.
async fn roles_by_id<I: TypedId>(
    conn: &mut AsyncPgConnection,
    query: &'static str,
    user: UserId,
    ids: &[I],
) -> QueryResult<HashMap<I, Vec<Role>>> {
    let ids: Vec<i32> = ids.iter().map(|id| id.get()).collect();
    let rows: Vec<IdRole> = diesel::sql_query(query)
        .bind::<Integer, _>(user)
        .bind::<Array<Integer>, _>(ids)
        .load(conn)
        .await?;
    Ok(group_by_id(rows))
}

/// The roles `user` holds on each of `products` (own, group and product-type grants), in one
/// statement. Products without any are absent.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_roles(
    conn: &mut AsyncPgConnection,
    user: UserId,
    products: &[ProductId],
) -> QueryResult<HashMap<ProductId, Vec<Role>>> {
    roles_by_id(
        conn,
        "SELECT product_id AS id, role FROM product_grants WHERE user_id = $1 AND product_id = ANY($2)",
        user,
        products,
    )
    .await
}

/// The roles `user` holds on each of `product_types` itself (own and group grants).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_type_roles(
    conn: &mut AsyncPgConnection,
    user: UserId,
    product_types: &[ProductTypeId],
) -> QueryResult<HashMap<ProductTypeId, Vec<Role>>> {
    roles_by_id(
        conn,
        "SELECT product_type_id AS id, role FROM user_memberships \
         WHERE user_id = $1 AND product_type_id = ANY($2)",
        user,
        product_types,
    )
    .await
}

/// The product types among `product_types` where `user` may read at least one product.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_types_seen_through_products(
    conn: &mut AsyncPgConnection,
    user: UserId,
    product_types: &[ProductTypeId],
) -> QueryResult<Vec<ProductTypeId>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Integer)]
        id: ProductTypeId,
    }
    let rows: Vec<Id> = diesel::sql_query(
        "SELECT DISTINCT p.product_type_id AS id FROM products p \
         JOIN product_grants pg ON pg.product_id = p.id \
         WHERE pg.user_id = $1 AND p.product_type_id = ANY($2)",
    )
    .bind::<Integer, _>(user)
    .bind::<Array<Integer>, _>(product_types.to_vec())
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The role `user` holds inside each of `groups` (absent where not a member).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn group_roles(
    conn: &mut AsyncPgConnection,
    user: UserId,
    groups: &[GroupId],
) -> QueryResult<HashMap<GroupId, Role>> {
    let found = roles_by_id(
        conn,
        "SELECT group_id AS id, role FROM group_members WHERE user_id = $1 AND group_id = ANY($2)",
        user,
        groups,
    )
    .await?;
    Ok(found
        .into_iter()
        .filter_map(|(id, roles)| roles.into_iter().max().map(|r| (id, r)))
        .collect())
}

/// What a permission is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    ProductType(ProductTypeId),
    Product(ProductId),
    Engagement(EngagementId),
    Test(TestId),
    Finding(FindingId),
    Note(NoteId),
    File(FileId),
    Group(GroupId),
    /// A product-type or product membership: checked on its product type or product.
    Membership(MembershipId),
}

/// The object whose roles decide a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    ProductType(ProductTypeId),
    Product(ProductId),
    Group(GroupId),
}

/// How [`anchor`] locks the target row until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    None,
    /// `FOR SHARE`: the target is a parent that must not move or vanish meanwhile.
    Share,
    /// `FOR UPDATE`: the target itself is changed or deleted.
    Update,
}

impl Lock {
    fn sql(self) -> &'static str {
        match self {
            Lock::None => "",
            Lock::Share => " FOR SHARE OF x",
            Lock::Update => " FOR UPDATE OF x",
        }
    }
}

#[derive(QueryableByName)]
struct AnchorRow {
    #[diesel(sql_type = Nullable<Integer>)]
    product_type_id: Option<ProductTypeId>,
    #[diesel(sql_type = Nullable<Integer>)]
    product_id: Option<ProductId>,
    #[diesel(sql_type = Nullable<Integer>)]
    group_id: Option<GroupId>,
}

/// Resolves `target` to its anchor, locking the target row; `NotFound` when it does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn anchor(
    conn: &mut AsyncPgConnection,
    target: Target,
    lock: Lock,
) -> QueryResult<Anchor> {
    const NONE: &str = "NULL::int";
    // Notes and files belong to the product of what they are attached to.
    const ATTACHED_PRODUCT: &str = "COALESCE(e.product_id, t.product_id, f.product_id)";
    let attached = |table: &str| {
        format!(
            "{table} x LEFT JOIN engagements e ON e.id = x.engagement_id \
             LEFT JOIN tests t ON t.id = x.test_id LEFT JOIN findings f ON f.id = x.finding_id"
        )
    };
    let (select, from, id) = match target {
        Target::ProductType(id) => (("x.id", NONE, NONE), "product_types x".into(), id.get()),
        Target::Product(id) => ((NONE, "x.id", NONE), "products x".into(), id.get()),
        Target::Engagement(id) => (
            (NONE, "x.product_id", NONE),
            "engagements x".into(),
            id.get(),
        ),
        Target::Test(id) => ((NONE, "x.product_id", NONE), "tests x".into(), id.get()),
        Target::Finding(id) => ((NONE, "x.product_id", NONE), "findings x".into(), id.get()),
        Target::Note(id) => ((NONE, ATTACHED_PRODUCT, NONE), attached("notes"), id.get()),
        Target::File(id) => ((NONE, ATTACHED_PRODUCT, NONE), attached("files"), id.get()),
        Target::Group(id) => ((NONE, NONE, "x.id"), "groups x".into(), id.get()),
        Target::Membership(id) => (
            ("x.product_type_id", "x.product_id", NONE),
            "memberships x".into(),
            id.get(),
        ),
    };
    let mut sql = Sql::new(&format!(
        "SELECT {} AS product_type_id, {} AS product_id, {} AS group_id FROM {from} WHERE x.id = ",
        select.0, select.1, select.2
    ));
    sql.bind::<Integer, _>(id).push(lock.sql());
    let row: AnchorRow = sql.prepared().get_result(conn).await?;
    match (row.product_type_id, row.product_id, row.group_id) {
        (Some(id), _, _) => Ok(Anchor::ProductType(id)),
        (_, Some(id), _) => Ok(Anchor::Product(id)),
        (_, _, Some(id)) => Ok(Anchor::Group(id)),
        _ => Err(DbError::NotFound),
    }
}

/// The global roles `user` holds: its own and its groups'.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn global_roles(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<Vec<Role>> {
    #[derive(QueryableByName)]
    struct R {
        #[diesel(sql_type = Text)]
        role: Role,
    }
    let rows: Vec<R> = diesel::sql_query(
        "SELECT global_role AS role FROM users WHERE id = $1 AND global_role IS NOT NULL \
         UNION ALL SELECT g.global_role FROM groups g JOIN group_members gm ON gm.group_id = g.id \
         WHERE gm.user_id = $1 AND g.global_role IS NOT NULL",
    )
    .bind::<Integer, _>(user)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.role).collect())
}
