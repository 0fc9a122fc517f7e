//! Keyset-paged list queries. A page starts after (or ends before) a [`Position`]: a row's sort
//! key and id, so that a page does not shift when rows are added or removed before it, and a
//! deep page costs what the first one does where an index serves the order. One statement
//! returns the pages of *many* parents at once, each parent's read on its own
//! (`LATERAL … ORDER BY … LIMIT n + 1`), which is what lets a dataloader fetch
//! `products { engagements(first: 10) }` for fifty products in one round trip. The GraphQL layer
//! turns positions into opaque cursors.

use std::{collections::HashMap, fmt::Debug, hash::Hash};

use diesel::{
    QueryableByName, Selectable,
    deserialize::{self, FromSqlRow, QueryableByName as QBN},
    expression::Expression,
    pg::Pg,
    query_builder::QueryFragment,
    row::{NamedRow, Row},
    sql_types::{BigInt, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    authz::{Scope, Viewer, Visible},
    sql::{Direction, Sql, SqlFilter},
};
use crate::domain::ids::TypedId;

/// A row type read by position: its columns in the order of its `Selectable` (diesel's derive),
/// as `t."id", t."title", …`, decoded from a given field on without looking any column up by
/// name (with sixty columns a row, the lookups by name were a seventh of a large page's CPU).
/// Implemented with [`by_position!`](crate::by_position).
pub trait Columns: Sized {
    /// The select list, over the alias `t`.
    fn select_list() -> &'static str;
    /// Decodes the row from field `offset` on.
    fn decode_at<'a>(row: &impl Row<'a, Pg>, offset: usize) -> deserialize::Result<Self>;
}

/// `t."col", …` for the columns of a `Selectable` row type, in the order it decodes them (as
/// diesel renders its selection; every list query aliases its table `t`).
pub fn select_list_of<T>() -> String
where
    T: Selectable<Pg>,
    T::SelectExpression: QueryFragment<Pg>,
{
    let rendered = diesel::debug_query::<Pg, _>(&T::construct_selection()).to_string();
    let columns = rendered.split(" -- binds").next().unwrap_or_default();
    columns
        .split(", ")
        .map(|c| format!("t.{}", c.rsplit('.').next().unwrap_or(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes a `Selectable` row type from field `offset` of `row` on, by position.
pub fn decode_at<'a, T>(row: &impl Row<'a, Pg>, offset: usize) -> deserialize::Result<T>
where
    T: Selectable<Pg> + FromSqlRow<<T::SelectExpression as Expression>::SqlType, Pg>,
{
    let rest = row.partial_row(offset..row.field_count());
    <T as FromSqlRow<<T::SelectExpression as Expression>::SqlType, Pg>>::build_from_row(&rest)
}

/// Implements [`Columns`] for `Selectable` + `Queryable` row types.
#[macro_export]
macro_rules! by_position {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::db::page::Columns for $ty {
            fn select_list() -> &'static str {
                static LIST: std::sync::LazyLock<String> =
                    std::sync::LazyLock::new($crate::db::page::select_list_of::<$ty>);
                &LIST
            }
            fn decode_at<'a>(
                row: &impl diesel::row::Row<'a, diesel::pg::Pg>,
                offset: usize,
            ) -> diesel::deserialize::Result<Self> {
                $crate::db::page::decode_at(row, offset)
            }
        }
    )+};
}

/// An entity that can be listed: its id, the parents its lists hang from, its `FROM` clause
/// (its table aliased `t`), its filter and its sort keys.
pub trait Listed: Columns + Send + 'static {
    /// The type of its id.
    type Id: TypedId;
    fn row_id(&self) -> Self::Id;
    /// What a nested list of these belongs to (e.g. `FindingParent::Test(TestId)`): one enum
    /// per child kind, so that a list can only be asked of a parent it has.
    type Parent: ListParent;
    const FROM: &'static str;
    type Filter: SqlFilter + Clone + Eq + std::hash::Hash + Send + Sync + 'static;
    type Order: Copy + Eq + std::hash::Hash + Default + Debug + Send + Sync + 'static;
    /// Which rows a viewer may read.
    const SCOPE: Scope;
    /// What `order` sorts on.
    fn sort_key(order: Self::Order) -> SortKey;

    /// Columns a list may leave out when the query reads none of what they hold, each with the
    /// SQL of a value of its type that stands in for it (never shown: see [`Projection`]).
    const PLACEHOLDERS: &'static [(&'static str, &'static str)] = &[];

    /// A statement giving the total of the list under `filter` (one `n` column) cheaper than
    /// counting its rows, where there is one.
    fn fast_total(_filter: &Self::Filter, _viewer: Viewer) -> Option<Sql> {
        None
    }
}

/// What a list is sorted on: an SQL expression over the list's alias `t`, the kind of its
/// values (which decides how a cursor carries them) and whether it can be NULL. Ties are broken
/// by `t.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    expr: &'static str,
    kind: KeyKind,
    nullable: bool,
}

/// The kind of a sort key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// The row id itself: a position is the id alone.
    Id,
    Text,
    /// Carried as days since 2000-01-01.
    Date,
    /// Carried as microseconds since the Unix epoch (exact: Postgres keeps microseconds).
    Timestamp,
}

impl SortKey {
    /// Sorted by id alone.
    pub const ID: SortKey = SortKey {
        expr: "t.id",
        kind: KeyKind::Id,
        nullable: false,
    };

    pub const fn text(expr: &'static str) -> Self {
        Self {
            expr,
            kind: KeyKind::Text,
            nullable: false,
        }
    }

    pub const fn date(expr: &'static str) -> Self {
        Self {
            expr,
            kind: KeyKind::Date,
            nullable: false,
        }
    }

    pub const fn timestamp(expr: &'static str) -> Self {
        Self {
            expr,
            kind: KeyKind::Timestamp,
            nullable: false,
        }
    }

    /// The same key over an expression that can be NULL (sorted last ascending, first
    /// descending).
    pub const fn nullable(self) -> Self {
        Self {
            nullable: true,
            ..self
        }
    }

    /// `ORDER BY` text for `direction`.
    fn order_by(self, direction: Direction) -> String {
        let dir = direction.sql();
        match self.kind {
            KeyKind::Id => format!("t.id {dir}"),
            _ => {
                let nulls = match direction {
                    Direction::Asc => "NULLS LAST",
                    Direction::Desc => "NULLS FIRST",
                };
                format!("{} {dir} {nulls}, t.id {dir}", self.expr)
            }
        }
    }

    /// The key of a row as text (`__key`), which [`SortKey::key_from_sql`] reads back.
    fn select_sql(self) -> String {
        let e = self.expr;
        match self.kind {
            KeyKind::Id => "NULL::text".into(),
            KeyKind::Text => format!("({e})::text"),
            KeyKind::Date => format!("(({e}) - DATE '2000-01-01')::text"),
            KeyKind::Timestamp => format!("(extract(epoch FROM {e}) * 1000000)::bigint::text"),
        }
    }

    fn key_from_sql(self, text: Option<String>) -> QueryResult<Option<Key>> {
        let Some(text) = text else { return Ok(None) };
        Ok(Some(match self.kind {
            KeyKind::Id => return Ok(None),
            KeyKind::Text => Key::Text(text),
            KeyKind::Date | KeyKind::Timestamp => Key::Int(text.parse().map_err(|_| {
                diesel::result::Error::DeserializationError(
                    format!("sort key {text:?} is not an integer").into(),
                )
            })?),
        }))
    }

    /// Whether `key` is a value this sort key can hold (a client's cursor carries it).
    fn accepts(self, key: &Option<Key>) -> bool {
        match (self.kind, key) {
            (KeyKind::Id, None) => true,
            (KeyKind::Id, Some(_)) => false,
            (_, None) => self.nullable,
            (KeyKind::Text, Some(Key::Text(_))) => true,
            (KeyKind::Date, Some(Key::Int(days))) => i32::try_from(*days).is_ok(),
            (KeyKind::Timestamp, Some(Key::Int(_))) => true,
            _ => false,
        }
    }

    /// Pushes the key value `key` as an SQL value of the sorted expression's type.
    fn push_value(self, sql: &mut Sql, key: &Key) {
        match (self.kind, key) {
            (KeyKind::Text, Key::Text(text)) => {
                sql.bind::<Text, _>(text.clone());
            }
            (KeyKind::Date, Key::Int(days)) => {
                sql.push("(DATE '2000-01-01' + ")
                    .bind::<Integer, _>(i32::try_from(*days).unwrap_or_default())
                    .push(")");
            }
            (KeyKind::Timestamp, Key::Int(micros)) => {
                sql.push("(TIMESTAMPTZ 'epoch' + ")
                    .bind::<BigInt, _>(*micros)
                    .push("::float8 * INTERVAL '1 microsecond')");
            }
            // Refused by `accepts` before a query is built.
            _ => {
                sql.push("NULL");
            }
        }
    }

    /// ` AND` the rows after `at` in `direction`'s order (`ORDER BY` of [`SortKey::order_by`]).
    /// The rows before `at` are the rows after it in the reversed order.
    fn push_after(self, sql: &mut Sql, direction: Direction, at: &Position) {
        let (e, cmp) = (
            self.expr,
            match direction {
                Direction::Asc => ">",
                Direction::Desc => "<",
            },
        );
        match (self.kind, &at.key, direction) {
            (KeyKind::Id, _, _) => {
                sql.push(&format!(" AND t.id {cmp} "))
                    .bind::<Integer, _>(at.id);
            }
            (_, Some(key), _) => {
                // A NULL key compares as NULL (no row): NULLs sort after every value ascending
                // and before every value descending.
                sql.push(&format!(" AND (({e}, t.id) {cmp} ("));
                self.push_value(sql, key);
                sql.push(", ").bind::<Integer, _>(at.id).push(")");
                if self.nullable && direction == Direction::Asc {
                    sql.push(&format!(" OR {e} IS NULL"));
                }
                sql.push(")");
            }
            (_, None, Direction::Asc) => {
                sql.push(&format!(" AND ({e} IS NULL AND t.id > "))
                    .bind::<Integer, _>(at.id)
                    .push(")");
            }
            (_, None, Direction::Desc) => {
                sql.push(&format!(" AND (({e} IS NULL AND t.id < "))
                    .bind::<Integer, _>(at.id)
                    .push(&format!(") OR {e} IS NOT NULL)"));
            }
        }
    }
}

/// A sort key value, as a cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Int(i64),
    Text(String),
}

/// Where a row stands in its ordered list: its sort key (none when sorted by id, or when the
/// key is NULL) and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub key: Option<Key>,
    pub id: i32,
}

/// A position in one list: `list` names the kind of row and the order it was taken under (see
/// [`list_name`]), so that it is not used with another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub list: String,
    pub at: Position,
}

/// The name of the list of `T` in `sort`'s order, as cursors carry it: `findings.Severity.Desc`.
pub fn list_name<T: Listed>(sort: Sort<T::Order>) -> String {
    let table = T::FROM.split_whitespace().next().unwrap_or(T::FROM);
    format!("{table}.{:?}.{:?}", sort.field, sort.direction)
}

/// Why the window's cursors do not fit the list of `T` in `sort`'s order, if they do not.
pub fn check_cursors<T: Listed>(sort: Sort<T::Order>, window: &Window) -> Result<(), String> {
    let name = list_name::<T>(sort);
    let key = T::sort_key(sort.field);
    for cursor in [&window.after, &window.before].into_iter().flatten() {
        if cursor.list != name {
            return Err(format!(
                "the cursor belongs to another list or order ({}), not {name}",
                cursor.list
            ));
        }
        if !key.accepts(&cursor.at.key) {
            return Err(format!("the cursor's sort key does not fit {name}"));
        }
    }
    Ok(())
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

/// Which columns of a listed row a query reads: all of them, or only the named ones among the
/// type's [`Listed::PLACEHOLDERS`] (the others are always read). A column left out is replaced
/// by its placeholder, so the row still decodes, and a resolver that read it would show the
/// placeholder: the GraphQL layer asks for `Only` solely from fields whose columns it knows, and
/// a test compares every field of a projected list with the same row read whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Projection {
    #[default]
    All,
    /// Sorted, without repeats.
    Only(Vec<&'static str>),
}

impl Projection {
    /// Only `columns` (any order, repeats allowed) among the ones that may be left out.
    pub fn only(mut columns: Vec<&'static str>) -> Self {
        columns.sort_unstable();
        columns.dedup();
        Projection::Only(columns)
    }

    /// The select list of `T` under this projection.
    fn select_list<T: Listed>(&self) -> std::borrow::Cow<'static, str> {
        let Projection::Only(wanted) = self else {
            return T::select_list().into();
        };
        T::select_list()
            .split(", ")
            .map(|col| {
                let name = col.trim_start_matches("t.").trim_matches('"');
                match T::PLACEHOLDERS.iter().find(|(c, _)| *c == name) {
                    Some((_, stand_in)) if wanted.binary_search(&name).is_err() => stand_in,
                    _ => col,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
            .into()
    }
}

/// What a query reads of a list besides its rows: the total, and which columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Wants {
    pub total: bool,
    pub columns: Projection,
}

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

fn visible<T: Listed>(filter: &T::Filter, viewer: Viewer) -> Visible<'_, T::Filter> {
    Visible {
        filter,
        scope: T::SCOPE,
        viewer,
    }
}

/// A top-level page of the `T` that `viewer` may read (the cursors already checked with
/// [`check_cursors`]), with a `count(*)` first when the total is wanted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list<T: Listed>(
    conn: &mut AsyncPgConnection,
    args: &ListArgs<T::Filter, T::Order>,
    wants: &Wants,
    viewer: Viewer,
) -> QueryResult<Page<T>> {
    let filter = visible::<T>(&args.filter, viewer);
    let total = if wants.total {
        let sql = T::fast_total(&args.filter, viewer).unwrap_or_else(|| {
            let mut sql = Sql::new(&format!("SELECT count(*) AS n FROM {} WHERE TRUE", T::FROM));
            filter.push_conditions(&mut sql);
            sql
        });
        Some(sql.prepared().get_result::<Count>(conn).await?.n)
    } else {
        None
    };
    let read = Read::<T>::new(args);
    let mut sql = Sql::new(&format!(
        "SELECT {} AS __key, {} FROM {} WHERE TRUE",
        read.key.select_sql(),
        wants.columns.select_list::<T>(),
        T::FROM
    ));
    filter.push_conditions(&mut sql);
    read.push_range_order_limit(&mut sql);
    let rows: Vec<Keyed<T>> = sql.prepared().load(conn).await?;
    let mut page = read.page(rows)?;
    page.total = total;
    Ok(page)
}

/// Pages of `T` for many parents, holding only rows `viewer` may read: one statement per kind
/// of parent (parents of one kind share the SQL naming a row's parent), each parent's page read
/// on its own (`LATERAL … ORDER BY … LIMIT n + 1`), with each parent's total when wanted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_for_parents<T: Listed>(
    conn: &mut AsyncPgConnection,
    parents: &[T::Parent],
    args: &ListArgs<T::Filter, T::Order>,
    wants: &Wants,
    viewer: Viewer,
) -> QueryResult<HashMap<T::Parent, Page<T>>> {
    let want_total = wants.total;
    let mut by_column: HashMap<&'static str, Vec<T::Parent>> = HashMap::new();
    for p in parents {
        let group = by_column.entry(p.column()).or_default();
        if !group.contains(p) {
            group.push(*p);
        }
    }
    let read = Read::<T>::new(args);
    let mut out = HashMap::with_capacity(parents.len());
    for (column, group) in by_column {
        // A product, engagement or test the caller could load is one whose product it may read,
        // and its children are of that product: they need no visibility condition.
        let filter = if matches!(T::SCOPE, Scope::Product(_)) && SAME_PRODUCT.contains(&column) {
            Visible {
                filter: &args.filter,
                scope: Scope::Public,
                viewer,
            }
        } else {
            visible::<T>(&args.filter, viewer)
        };
        let ids: Vec<i32> = group.iter().map(|p| p.raw_id()).collect();
        let mut sql = Sql::new("SELECT p.id AS __parent, ");
        sql.push(if want_total {
            "n.__total, "
        } else {
            "NULL::bigint AS __total, "
        })
        .push("c.* FROM unnest(")
        .bind::<diesel::sql_types::Array<Integer>, _>(ids)
        .push("::int[]) WITH ORDINALITY AS p(id, __ord)");
        if want_total {
            sql.push(&format!(
                " CROSS JOIN LATERAL (SELECT count(*) AS __total FROM {} WHERE {column} = p.id",
                T::FROM
            ));
            filter.push_conditions(&mut sql);
            sql.push(") n");
        }
        sql.push(&format!(
            " LEFT JOIN LATERAL (SELECT row_number() OVER (ORDER BY {}) AS __rn, {} AS __key, {} \
             FROM {} WHERE {column} = p.id",
            read.key.order_by(read.direction),
            read.key.select_sql(),
            wants.columns.select_list::<T>(),
            T::FROM
        ));
        filter.push_conditions(&mut sql);
        read.push_range_order_limit(&mut sql);
        sql.push(") c ON TRUE ORDER BY p.__ord, c.__rn");
        let slots: Vec<Slot<T>> = sql.prepared().load(conn).await?;
        let mut rows: HashMap<i32, (Option<i64>, Vec<Keyed<T>>)> = HashMap::new();
        for slot in slots {
            let entry = rows.entry(slot.parent).or_insert((slot.total, Vec::new()));
            entry.1.extend(slot.row);
        }
        for p in group {
            let (total, rows) = rows.remove(&p.raw_id()).unwrap_or((Some(0), Vec::new()));
            let mut page = read.page(rows)?;
            page.total = total;
            out.insert(p, page);
        }
    }
    Ok(out)
}

/// The parent columns of lists whose rows are in their parent's product.
const SAME_PRODUCT: [&str; 3] = ["t.product_id", "t.engagement_id", "t.test_id"];

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
    let mut sql = Sql::new(&format!(
        "SELECT {} FROM {} WHERE t.id = ANY(",
        T::select_list(),
        T::FROM
    ));
    sql.bind::<diesel::sql_types::Array<Integer>, _>(ids)
        .push(")");
    super::authz::push_visible(&mut sql, T::SCOPE, viewer);
    let rows: Vec<Whole<T>> = sql.prepared().load(conn).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// A row of `SELECT <T's columns>`, decoded by position.
struct Whole<T>(T);

impl<T: Columns> QBN<Pg> for Whole<T> {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        Ok(Self(T::decode_at(row, 0)?))
    }
}

/// Which slice of the ordered list to return (already validated: `first`/`last` positive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Window {
    /// Return rows after this position.
    pub after: Option<Cursor>,
    /// Return rows before this position.
    pub before: Option<Cursor>,
    /// At most this many rows from the start of the range.
    pub first: Option<i64>,
    /// At most this many rows from the end of the range.
    pub last: Option<i64>,
}

/// How one page is read: the sort key, the direction the rows are fetched in (reversed for
/// `last` without `first`) and how many.
struct Read<'a, T: Listed> {
    key: SortKey,
    sort: Direction,
    /// The direction rows are fetched in: the list's, or its reverse when reading from the end.
    direction: Direction,
    window: &'a Window,
    /// Rows to return (one more is fetched, to know whether there are more).
    limit: i64,
    _rows: std::marker::PhantomData<fn() -> T>,
}

impl<'a, T: Listed> Read<'a, T> {
    fn new(args: &'a ListArgs<T::Filter, T::Order>) -> Self {
        let window = &args.window;
        let backward = window.first.is_none() && window.last.is_some();
        let limit = if backward { window.last } else { window.first };
        Self {
            key: T::sort_key(args.sort.field),
            sort: args.sort.direction,
            direction: if backward {
                args.sort.direction.reversed()
            } else {
                args.sort.direction
            },
            window,
            limit: limit.unwrap_or(100).max(0),
            _rows: std::marker::PhantomData,
        }
    }

    fn backward(&self) -> bool {
        self.direction != self.sort
    }

    /// ` AND` the cursor conditions, then ` ORDER BY … LIMIT $n` (one row more than the page).
    fn push_range_order_limit(&self, sql: &mut Sql) {
        if let Some(after) = &self.window.after {
            self.key.push_after(sql, self.sort, &after.at);
        }
        if let Some(before) = &self.window.before {
            self.key.push_after(sql, self.sort.reversed(), &before.at);
        }
        sql.push(&format!(
            " ORDER BY {} LIMIT ",
            self.key.order_by(self.direction)
        ))
        .bind::<BigInt, _>(self.limit + 1);
    }

    /// The page from the rows fetched (in fetch order, at most `limit + 1`). No total.
    fn page(&self, mut rows: Vec<Keyed<T>>) -> QueryResult<Page<T>> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward() {
            rows.reverse();
        }
        let (mut has_previous, mut has_next) = if self.backward() {
            (more, self.window.before.is_some())
        } else {
            (self.window.after.is_some(), more)
        };
        // `first` and `last` together: the last `last` of the first `first`.
        if let (Some(_), Some(last)) = (self.window.first, self.window.last)
            && rows.len() as i64 > last
        {
            rows.drain(..rows.len() - last.max(0) as usize);
            has_previous = true;
            has_next |= more;
        }
        let mut page = Page {
            rows: Vec::with_capacity(rows.len()),
            positions: Vec::with_capacity(rows.len()),
            total: None,
            has_previous,
            has_next,
        };
        for r in rows {
            page.positions.push(Position {
                key: self.key.key_from_sql(r.key)?,
                id: r.row.row_id().get(),
            });
            page.rows.push(r.row);
        }
        Ok(page)
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// Where each row stands (cursors are made from these).
    pub positions: Vec<Position>,
    /// Rows in the whole filtered list, when it was computed.
    pub total: Option<i64>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            rows: Vec::new(),
            positions: Vec::new(),
            total: Some(0),
            has_previous: false,
            has_next: false,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(f).collect(),
            positions: self.positions,
            total: self.total,
            has_previous: self.has_previous,
            has_next: self.has_next,
        }
    }
}

/// A row and its sort key as text (`__key`).
struct Keyed<T> {
    row: T,
    key: Option<String>,
}

impl<T: Columns> Keyed<T> {
    /// `__key` at field `offset`, the row's columns after it.
    fn decode_at<'a>(row: &impl Row<'a, Pg>, offset: usize) -> deserialize::Result<Self> {
        Ok(Self {
            key: Row::get_value::<Nullable<Text>, Option<String>, _>(row, offset)?,
            row: T::decode_at(row, offset + 1)?,
        })
    }
}

/// A row of a top-level list: `__key`, then the row's columns.
impl<T: Columns> QBN<Pg> for Keyed<T> {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        Self::decode_at(row, 0)
    }
}

/// One row of a per-parent statement: the parent, its total (when counted) and one of its rows,
/// or none when its page is empty (`LEFT JOIN LATERAL`).
struct Slot<T> {
    parent: i32,
    total: Option<i64>,
    row: Option<Keyed<T>>,
}

/// Fields: `__parent`, `__total`, `__rn` (NULL for an empty page), `__key`, the row's columns.
impl<T: Columns> QBN<Pg> for Slot<T> {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        let present = Row::get_value::<Nullable<BigInt>, Option<i64>, _>(row, 2)?.is_some();
        Ok(Self {
            parent: Row::get_value::<Integer, i32, _>(row, 0)?,
            total: Row::get_value::<Nullable<BigInt>, Option<i64>, _>(row, 1)?,
            row: if present {
                Some(Keyed::decode_at(row, 3)?)
            } else {
                None
            },
        })
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}
