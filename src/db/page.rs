//! Windowed list queries: one SQL statement returns a page of children for *many* parents at
//! once (`row_number()`/`count(*)` over `PARTITION BY parent`), which is what lets a dataloader
//! fetch `products { engagements(first: 10) }` for fifty products in one round trip. Top-level
//! lists use plain `OFFSET`/`LIMIT`. Positions are 1-based row numbers in the ordered, filtered
//! list; the GraphQL layer turns them into opaque cursors.

use std::{
    collections::{HashMap, HashSet},
    fmt::Debug,
    hash::Hash,
};

use diesel::{
    QueryableByName,
    deserialize::{self, QueryableByName as QBN},
    pg::Pg,
    row::NamedRow,
    sql_types::{BigInt, Integer},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    authz::{Scope, Viewer, Visible},
    sql::{Direction, Sql, SqlFilter},
};
use crate::domain::ids::TypedId;

/// An entity that can be listed: its id, the parents its lists hang from, its `FROM` clause
/// (its table aliased `t`), its filter and its sort keys.
pub trait Listed: QBN<Pg> + Send + 'static {
    /// The type of its id.
    type Id: TypedId;
    fn row_id(&self) -> Self::Id;
    /// What a nested list of these belongs to (e.g. `FindingParent::Test(TestId)`): one enum
    /// per child kind, so that a list can only be asked of a parent it has.
    type Parent: ListParent;
    const FROM: &'static str;
    type Filter: SqlFilter + Clone + Eq + std::hash::Hash + Send + Sync + 'static;
    type Order: Copy + Eq + std::hash::Hash + Default + Send + Sync + 'static;
    /// Which rows a viewer may read.
    const SCOPE: Scope;
    /// The SQL expression sorted on for `order`.
    fn order_column(order: Self::Order) -> &'static str;
}

/// The parent of a nested list of one kind of child (see [`Listed::Parent`]). The SQL that names
/// a row's parent is chosen here, in `db`, by the variant.
///
/// A list of findings takes a finding parent with the id of its kind:
///
/// ```
/// use dojoql::db::{finding::{Finding, FindingParent}, page::Listed};
/// use dojoql::domain::ids::TestId;
/// let _: <Finding as Listed>::Parent = FindingParent::Test(TestId::new(1));
/// ```
///
/// and neither another child kind's parent nor another kind of id:
///
/// ```compile_fail
/// use dojoql::db::{finding::Finding, page::Listed, test::TestParent};
/// use dojoql::domain::ids::EngagementId;
/// let _: <Finding as Listed>::Parent = TestParent::Engagement(EngagementId::new(1));
/// ```
///
/// ```compile_fail
/// use dojoql::db::finding::FindingParent;
/// use dojoql::domain::ids::EngagementId;
/// let _ = FindingParent::Test(EngagementId::new(1));
/// ```
pub trait ListParent: Copy + Eq + Hash + Debug + Send + Sync + 'static {
    /// The SQL expression naming a child row's parent of this kind (the list's alias is `t`).
    fn column(self) -> &'static str;
    /// The parent's database id (its kind is the variant's).
    fn raw_id(self) -> i32;
}

/// The parent of entities listed only at the top level (product types, users, reference data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoParent {}

impl ListParent for NoParent {
    fn column(self) -> &'static str {
        match self {}
    }
    fn raw_id(self) -> i32 {
        match self {}
    }
}

/// Defines a [`ListParent`] enum: `Variant(IdType) => "SQL expression of the parent id"`.
macro_rules! list_parent {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident($id:ty) => $column:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant($id)),+
        }

        impl $crate::db::page::ListParent for $name {
            fn column(self) -> &'static str {
                match self {
                    $($name::$variant(_) => $column),+
                }
            }
            fn raw_id(self) -> i32 {
                match self {
                    $($name::$variant(id) => id.get()),+
                }
            }
        }
    };
}
pub(crate) use list_parent;

/// A sort key and direction; ties are always broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sort<O> {
    pub field: O,
    pub direction: Direction,
}

/// Everything that selects one page of a list; used as (part of) a dataloader key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListArgs<F, O> {
    pub filter: F,
    pub sort: Sort<O>,
    pub window: Window,
}

fn spec_for<T: Listed>(sort: Sort<T::Order>) -> ListSpec {
    let dir = sort.direction.sql();
    let nulls = match sort.direction {
        Direction::Asc => "NULLS LAST",
        Direction::Desc => "NULLS FIRST",
    };
    ListSpec {
        from: T::FROM,
        order_by: format!("{} {dir} {nulls}, t.id {dir}", T::order_column(sort.field)),
    }
}

fn visible<T: Listed>(filter: &T::Filter, viewer: Viewer) -> Visible<'_, T::Filter> {
    Visible {
        filter,
        scope: T::SCOPE,
        viewer,
    }
}

/// A top-level page of the `T` that `viewer` may read.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list<T: Listed>(
    conn: &mut AsyncPgConnection,
    args: &ListArgs<T::Filter, T::Order>,
    want_total: bool,
    viewer: Viewer,
) -> QueryResult<Page<T>> {
    load_page(
        conn,
        &spec_for::<T>(args.sort),
        &visible::<T>(&args.filter, viewer),
        args.window,
        want_total,
    )
    .await
}

/// Pages of `T` for many parents, holding only rows `viewer` may read: one statement per kind
/// of parent (parents of one kind share the SQL naming a row's parent).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_for_parents<T: Listed>(
    conn: &mut AsyncPgConnection,
    parents: &[T::Parent],
    args: &ListArgs<T::Filter, T::Order>,
    want_total: bool,
    viewer: Viewer,
) -> QueryResult<HashMap<T::Parent, Page<T>>> {
    let mut by_column: HashMap<&'static str, HashSet<T::Parent>> = HashMap::new();
    for p in parents {
        by_column.entry(p.column()).or_default().insert(*p);
    }
    let spec = spec_for::<T>(args.sort);
    let filter = visible::<T>(&args.filter, viewer);
    let mut out = HashMap::with_capacity(parents.len());
    for (column, group) in by_column {
        let ids: Vec<i32> = group.iter().map(|p| p.raw_id()).collect();
        let mut pages =
            if want_total || args.window.after.unwrap_or(0) > 0 || args.window.needs_total() {
                load_pages(conn, &spec, column, &ids, &filter, args.window).await?
            } else {
                load_first_pages(conn, &spec, column, &ids, &filter, args.window.first).await?
            };
        for p in group {
            let page = pages.remove(&p.raw_id()).unwrap_or_else(Page::empty);
            out.insert(p, page);
        }
    }
    Ok(out)
}

/// Rows of `T` by id that `viewer` may read, in one statement (missing and unreadable ids are
/// both simply absent).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_ids<T: Listed>(
    conn: &mut AsyncPgConnection,
    ids: &[T::Id],
    viewer: Viewer,
) -> QueryResult<Vec<T>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = ids.iter().map(|id| id.get()).collect();
    let mut sql = Sql::new(&format!("SELECT t.* FROM {} WHERE t.id = ANY(", T::FROM));
    sql.bind::<diesel::sql_types::Array<Integer>, _>(ids)
        .push(")");
    super::authz::push_visible(&mut sql, T::SCOPE, viewer);
    Ok(sql.build().load(conn).await?)
}

/// Which slice of the ordered list to return, in positions (already validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Window {
    /// Return rows after this position.
    pub after: Option<i64>,
    /// Return rows before this position.
    pub before: Option<i64>,
    /// At most this many rows from the start of the range.
    pub first: Option<i64>,
    /// At most this many rows from the end of the range.
    pub last: Option<i64>,
}

impl Window {
    fn needs_total(&self) -> bool {
        self.last.is_some() || self.before.is_some()
    }

    /// Start and end (exclusive start, inclusive end) once the total is known.
    fn bounds(&self, total: i64) -> (i64, i64) {
        let mut start = self.after.unwrap_or(0).clamp(0, total);
        let mut end = self
            .before
            .map(|b| (b - 1).min(total))
            .unwrap_or(total)
            .max(start);
        if let Some(f) = self.first {
            end = end.min(start + f);
        }
        if let Some(l) = self.last {
            start = start.max(end - l);
        }
        (start, end)
    }

    /// The same bounds as SQL expressions over a `__total` column.
    fn sql_bounds(&self) -> (String, String) {
        let mut start = format!("LEAST({}, __total)", self.after.unwrap_or(0).max(0));
        let mut end = match self.before {
            Some(b) => format!("GREATEST(LEAST({}, __total), {start})", b - 1),
            None => "__total".to_string(),
        };
        if let Some(f) = self.first {
            end = format!("LEAST({end}, {start} + {f})");
        }
        if let Some(l) = self.last {
            start = format!("GREATEST({start}, {end} - {l})");
        }
        (start, end)
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// Position of the row before the first one returned (so row `i` is at `start + 1 + i`).
    pub start: i64,
    /// Rows in the whole filtered list, when it was computed.
    pub total: Option<i64>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            start: 0,
            total: Some(0),
            has_previous: false,
            has_next: false,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            start: self.start,
            total: self.total,
            has_previous: self.has_previous,
            has_next: self.has_next,
        }
    }
}

/// How an entity's list is selected: the `FROM` clause (its own table aliased `t`, plus joins a
/// filter or parent needs) and the `ORDER BY` (ties broken by `t.id`).
struct ListSpec {
    from: &'static str,
    order_by: String,
}

/// A row plus its parent and the window columns of a partitioned query.
struct Ranked<T> {
    child: Child<T>,
    rn: i64,
    total: i64,
}

impl<T: QBN<Pg>> QBN<Pg> for Ranked<T> {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        Ok(Self {
            child: Child::build(row)?,
            rn: NamedRow::get::<BigInt, i64>(row, "__rn")?,
            total: NamedRow::get::<BigInt, i64>(row, "__total")?,
        })
    }
}

/// A row plus the parent it was fetched for.
struct Child<T> {
    row: T,
    parent: i32,
}

impl<T: QBN<Pg>> QBN<Pg> for Child<T> {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        Ok(Self {
            row: T::build(row)?,
            parent: NamedRow::get::<Integer, i32>(row, "__parent")?,
        })
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ParentCount {
    #[diesel(sql_type = Integer)]
    parent: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A top-level list: `SELECT t.* … ORDER BY … OFFSET … LIMIT …`, with a `count(*)` first when
/// the total is wanted or the window is anchored at the end.
#[tracing::instrument(level = "debug", skip_all)]
async fn load_page<T, F>(
    conn: &mut AsyncPgConnection,
    spec: &ListSpec,
    filter: &F,
    window: Window,
    want_total: bool,
) -> QueryResult<Page<T>>
where
    T: QBN<Pg> + Send + 'static,
    F: SqlFilter + ?Sized,
{
    let total = if want_total || window.needs_total() {
        let mut sql = Sql::new(&format!(
            "SELECT count(*) AS n FROM {} WHERE TRUE",
            spec.from
        ));
        filter.push_conditions(&mut sql);
        Some(sql.build().get_result::<Count>(conn).await?.n)
    } else {
        None
    };
    let (start, end) = match total {
        Some(total) => window.bounds(total),
        None => {
            let start = window.after.unwrap_or(0).max(0);
            (start, start + window.first.unwrap_or(100))
        }
    };
    let limit = if total.is_some() {
        end - start
    } else {
        end - start + 1
    };
    let mut sql = Sql::new(&format!("SELECT t.* FROM {} WHERE TRUE", spec.from));
    filter.push_conditions(&mut sql);
    sql.push(&format!(
        " ORDER BY {} OFFSET {start} LIMIT {}",
        spec.order_by,
        limit.max(0)
    ));
    let mut rows: Vec<T> = sql.build().load(conn).await?;
    let has_next = match total {
        Some(total) => end < total,
        None => {
            let more = rows.len() as i64 > end - start;
            rows.truncate((end - start).max(0) as usize);
            more
        }
    };
    Ok(Page {
        rows,
        start,
        total,
        has_previous: start > 0,
        has_next,
    })
}

/// The first `first` children (all without it) of many parents in one statement, each parent's
/// read on its own (`LATERAL … ORDER BY … LIMIT first + 1`): Postgres reads only the rows
/// returned (and one more, for `hasNextPage`) where an index serves the order, a short sort of
/// one parent's rows where none does, instead of ranking every child of every parent. No total:
/// the caller did not select `totalCount`.
#[tracing::instrument(level = "debug", skip_all)]
async fn load_first_pages<T, F>(
    conn: &mut AsyncPgConnection,
    spec: &ListSpec,
    parent: &str,
    parents: &[i32],
    filter: &F,
    first: Option<i64>,
) -> QueryResult<HashMap<i32, Page<T>>>
where
    T: QBN<Pg> + Send + 'static,
    F: SqlFilter + ?Sized,
{
    let mut out: HashMap<i32, Page<T>> = HashMap::new();
    if parents.is_empty() {
        return Ok(out);
    }
    let limit = first.map_or("ALL".to_string(), |f| (f.max(0) + 1).to_string());
    let mut sql = Sql::new("SELECT c.* FROM unnest(");
    sql.bind::<diesel::sql_types::Array<Integer>, _>(parents.to_vec())
        .push(&format!(
            "::int[]) WITH ORDINALITY AS p(id, __ord) CROSS JOIN LATERAL (\
             SELECT t.*, p.id AS __parent, row_number() OVER (ORDER BY {order}) AS __rn \
             FROM {from} WHERE {parent} = p.id",
            order = spec.order_by,
            from = spec.from,
        ));
    filter.push_conditions(&mut sql);
    sql.push(&format!(
        " ORDER BY {order} LIMIT {limit}) c ORDER BY p.__ord, c.__rn",
        order = spec.order_by
    ));
    let children: Vec<Child<T>> = sql.build().load(conn).await?;
    for c in children {
        out.entry(c.parent)
            .or_insert_with(|| Page {
                rows: Vec::new(),
                start: 0,
                total: None,
                has_previous: false,
                has_next: false,
            })
            .rows
            .push(c.row);
    }
    for p in parents {
        let page = out.entry(*p).or_insert_with(Page::empty);
        if let Some(f) = first
            && page.rows.len() as i64 > f
        {
            page.rows.truncate(f.max(0) as usize);
            page.has_next = true;
        }
    }
    Ok(out)
}

/// Pages of children for many parents in one statement. `parent` is the SQL expression naming a
/// row's parent id (e.g. `t.product_id`). Parents without rows get an empty page.
#[tracing::instrument(level = "debug", skip_all)]
async fn load_pages<T, F>(
    conn: &mut AsyncPgConnection,
    spec: &ListSpec,
    parent: &str,
    parents: &[i32],
    filter: &F,
    window: Window,
) -> QueryResult<HashMap<i32, Page<T>>>
where
    T: QBN<Pg> + Send + 'static,
    F: SqlFilter + ?Sized,
{
    let mut out: HashMap<i32, Page<T>> = HashMap::new();
    if parents.is_empty() {
        return Ok(out);
    }
    let (start_expr, end_expr) = window.sql_bounds();
    let mut sql = Sql::new(&format!(
        "SELECT * FROM (SELECT t.*, {parent} AS __parent, \
         row_number() OVER (PARTITION BY {parent} ORDER BY {order}) AS __rn, \
         count(*) OVER (PARTITION BY {parent}) AS __total FROM {from} WHERE {parent} = ANY(",
        order = spec.order_by,
        from = spec.from,
    ));
    sql.bind::<diesel::sql_types::Array<Integer>, _>(parents.to_vec())
        .push(")");
    filter.push_conditions(&mut sql);
    sql.push(&format!(
        ") __w WHERE __rn > {start_expr} AND __rn <= {end_expr} ORDER BY __parent, __rn"
    ));
    let ranked: Vec<Ranked<T>> = sql.build().load(conn).await?;
    for r in ranked {
        let page = out.entry(r.child.parent).or_insert_with(|| Page {
            rows: Vec::new(),
            start: r.rn - 1,
            total: Some(r.total),
            has_previous: r.rn > 1,
            has_next: false,
        });
        page.has_next = r.rn < r.total;
        page.rows.push(r.child.row);
    }
    // Parents whose window came back empty: their total needs a count of its own (only when the
    // window does not start at the beginning, since otherwise an empty window means no rows).
    let missing: Vec<i32> = parents
        .iter()
        .copied()
        .filter(|p| !out.contains_key(p))
        .collect();
    let anchored_at_start =
        window.after.unwrap_or(0) <= 0 && window.last.is_none() && window.before.is_none();
    if !missing.is_empty() && !anchored_at_start {
        let mut sql = Sql::new(&format!(
            "SELECT {parent} AS parent, count(*) AS n FROM {} WHERE {parent} = ANY(",
            spec.from
        ));
        sql.bind::<diesel::sql_types::Array<Integer>, _>(missing.clone())
            .push(")");
        filter.push_conditions(&mut sql);
        sql.push(" GROUP BY 1");
        let counts: Vec<ParentCount> = sql.build().load(conn).await?;
        for c in counts {
            let (start, end) = window.bounds(c.n);
            out.insert(
                c.parent,
                Page {
                    rows: Vec::new(),
                    start,
                    total: Some(c.n),
                    has_previous: start > 0,
                    has_next: end < c.n,
                },
            );
        }
    }
    for p in missing {
        out.entry(p).or_insert_with(Page::empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn bounds_follow_relay_rules() {
        let w = |after, before, first, last| Window {
            after,
            before,
            first,
            last,
        };
        assert_eq!(w(None, None, Some(10), None).bounds(25), (0, 10));
        assert_eq!(w(Some(20), None, Some(10), None).bounds(25), (20, 25));
        assert_eq!(w(None, None, None, Some(10)).bounds(25), (15, 25));
        assert_eq!(w(None, Some(11), None, Some(5)).bounds(25), (5, 10));
        assert_eq!(w(Some(30), None, Some(5), None).bounds(25), (25, 25));
        assert_eq!(w(Some(2), Some(6), None, None).bounds(25), (2, 5));
    }
}
