//! Relay connections: argument validation (`first`/`last` 1..100), opaque cursors, and the
//! generic `XConnection`/`XEdge` types built from a `db::page::Page`.

use async_graphql::{OutputType, SimpleObject};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{
    access::Group,
    engagement::Engagement,
    finding::Finding,
    plain::{Nodes, Plain},
    product::Product,
    product_type::ProductType,
    reference::{DevelopmentEnvironment, SlaConfiguration, TestType, User},
    test::Test,
};
use std::collections::HashMap;

use super::loaders::CountsOf;
use crate::{
    db::counts::{CountScope, SeverityCounts},
    db::page::{self, Cursor, Key, ListArgs, Listed, Page, Position, Projection, Wants, Window},
    error::{ServiceError, ServiceResult},
};

/// The largest page a client may ask for; also the page size when neither `first` nor `last`
/// is given.
pub const MAX_PAGE: i32 = 100;

/// The first `first` items of a plain list (notes, files, members, …), oldest first:
/// [`super::limits::LIST_DEFAULT`] when `first` is absent, at most [`super::limits::LIST_MAX`].
/// Every list a query returns is bounded, so that its cost can be counted before it runs.
pub fn take_first<T>(mut items: Vec<T>, first: Option<i32>) -> ServiceResult<Vec<T>> {
    use super::limits::{LIST_DEFAULT, LIST_MAX};
    let n = match first {
        None => LIST_DEFAULT as usize,
        Some(n) if (1..=LIST_MAX as i32).contains(&n) => n as usize,
        Some(n) => {
            return Err(ServiceError::bad_input(format!(
                "first must be between 1 and {LIST_MAX}, not {n}"
            )));
        }
    };
    items.truncate(n);
    Ok(items)
}

/// The opaque text of a cursor: base64url of `list|id|key` where key is `-` (none), `i<n>` or
/// `s<text>`.
fn encode_cursor(list: &str, at: &Position) -> String {
    let key = match &at.key {
        None => "-".to_string(),
        Some(Key::Int(n)) => format!("i{n}"),
        Some(Key::Text(t)) => format!("s{t}"),
    };
    URL_SAFE_NO_PAD.encode(format!("{list}|{}|{key}", at.id))
}

fn decode_cursor(raw: &str) -> ServiceResult<Cursor> {
    let bad = || ServiceError::bad_input(format!("{raw:?} is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let (Some(list), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let id: i32 = id.parse().map_err(|_| bad())?;
    let key = match key.split_at_checked(1) {
        Some(("-", "")) => None,
        Some(("i", n)) => Some(Key::Int(n.parse().map_err(|_| bad())?)),
        Some(("s", t)) => Some(Key::Text(t.to_string())),
        _ => return Err(bad()),
    };
    Ok(Cursor {
        list: list.to_string(),
        at: Position { key, id },
    })
}

/// Gives an `orderBy:` input type (a `field` and a `direction`) its
/// `sort(Option<Self>) -> Sort<db key>` (the default order when absent).
#[macro_export]
macro_rules! order_input {
    ($input:ty => $key:ty) => {
        impl $input {
            pub fn sort(o: Option<Self>) -> $crate::db::page::Sort<$key> {
                o.map(|o| $crate::db::page::Sort {
                    field: o.field.into(),
                    direction: o.direction.into(),
                })
                .unwrap_or_default()
            }
        }
    };
}

/// The four Relay arguments, validated into a [`Window`].
pub fn window(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> ServiceResult<Window> {
    for (name, v) in [("first", first), ("last", last)] {
        if let Some(n) = v
            && !(1..=MAX_PAGE).contains(&n)
        {
            return Err(ServiceError::bad_input(format!(
                "{name} must be between 1 and {MAX_PAGE}, got {n}"
            )));
        }
    }
    let first = match (first, last) {
        (None, None) => Some(MAX_PAGE),
        (f, _) => f,
    };
    Ok(Window {
        after: after.as_deref().map(decode_cursor).transpose()?,
        before: before.as_deref().map(decode_cursor).transpose()?,
        first: first.map(i64::from),
        last: last.map(i64::from),
    })
}

/// Pagination state of a connection.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// One node with its cursor.
#[derive(SimpleObject, Clone)]
#[graphql(concrete(name = "ProductTypeEdge", params(ProductType)))]
#[graphql(concrete(name = "ProductEdge", params(Product)))]
#[graphql(concrete(name = "EngagementEdge", params(Engagement)))]
#[graphql(concrete(name = "TestEdge", params(Test)))]
#[graphql(concrete(name = "FindingEdge", params(Finding)))]
#[graphql(concrete(name = "UserEdge", params(User)))]
#[graphql(concrete(name = "SlaConfigurationEdge", params(SlaConfiguration)))]
#[graphql(concrete(name = "TestTypeEdge", params(TestType)))]
#[graphql(concrete(name = "DevelopmentEnvironmentEdge", params(DevelopmentEnvironment)))]
#[graphql(concrete(name = "GroupEdge", params(Group)))]
pub struct Edge<T: OutputType> {
    pub cursor: String,
    pub node: T,
}

/// A page of a list (Relay connection). Edges (a clone of every node, with its cursor) are
/// built only when a query selects them.
pub struct Connection<T> {
    total_count: i64,
    page_info: PageInfo,
    nodes: Vec<T>,
    /// The list's name (see [`page::list_name`]) and each node's position, for its cursor.
    list: String,
    positions: Vec<Position>,
}

impl<T: OutputType> async_graphql::TypeName for Connection<T> {
    fn type_name() -> std::borrow::Cow<'static, str> {
        format!("{}Connection", T::type_name()).into()
    }
}

/// A page of a list (Relay connection).
#[async_graphql::Object(name_type)]
impl<T: OutputType + Clone + Plain> Connection<T>
where
    Edge<T>: OutputType,
{
    /// Items in the whole filtered list.
    async fn total_count(&self) -> i64 {
        self.total_count
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    async fn edges(&self) -> Vec<Edge<T>> {
        self.nodes
            .iter()
            .zip(&self.positions)
            .map(|(node, at)| Edge {
                cursor: encode_cursor(&self.list, at),
                node: node.clone(),
            })
            .collect()
    }

    async fn nodes(&self) -> Nodes<'_, T> {
        Nodes(&self.nodes)
    }
}

impl<T: OutputType + Clone> Connection<T>
where
    Edge<T>: OutputType,
{
    /// Builds a connection from a page of rows of the list named `list` (see
    /// [`page::list_name`]), wrapping each row with `wrap`.
    pub fn from_page<R>(list: &str, page: Page<R>, wrap: impl Fn(R) -> T) -> Self {
        let cursor = |at: Option<&Position>| at.map(|at| encode_cursor(list, at));
        Connection {
            total_count: page.total.unwrap_or(0),
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: page.has_previous,
                start_cursor: cursor(page.positions.first()),
                end_cursor: cursor(page.positions.last()),
            },
            nodes: page.rows.into_iter().map(wrap).collect(),
            list: list.to_string(),
            positions: page.positions,
        }
    }
}

/// Active-finding counts a request has already loaded for the objects of its lists, so that
/// `findingCounts` under a list of plain fields is built without a resolver (`graphql::plain`).
/// Attached to queries only: a subscription resolves every event afresh.
#[derive(Default)]
pub struct Preloaded(std::sync::Mutex<HashMap<CountScope, SeverityCounts>>);

impl Preloaded {
    pub fn counts(&self, scope: CountScope) -> Option<SeverityCounts> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&scope)
            .copied()
    }
}

/// Loads the counts of a page's rows when its nodes select `findingCounts` (one batch for every
/// sibling page of the wave) and keeps them in the request's [`Preloaded`].
async fn preload_counts<G: Projects>(
    ctx: &async_graphql::Context<'_>,
    positions: &[Position],
) -> async_graphql::Result<()> {
    let Some(preloaded) = ctx.data_opt::<Preloaded>() else {
        return Ok(());
    };
    let selected = ctx
        .field()
        .selection_set()
        .any(|f| f.name() == "nodes" && f.selection_set().any(|n| n.name() == "findingCounts"));
    let scopes: Vec<CountsOf> = positions
        .iter()
        .filter_map(|p| G::count_scope(p.id).map(CountsOf))
        .collect();
    if !selected || scopes.is_empty() {
        return Ok(());
    }
    let loaded = super::context::loader(ctx)
        .load_many(scopes.iter().copied())
        .await?;
    let mut map = preloaded.0.lock().unwrap_or_else(|e| e.into_inner());
    for s in scopes {
        map.insert(s.0, loaded.get(&s).copied().unwrap_or_default());
    }
    Ok(())
}

/// A type listed in connections, and which of its row's columns each of its fields reads.
pub trait Projects: Plain {
    /// The scope of `findingCounts` of the row with this id, for types that have the field.
    fn count_scope(_id: i32) -> Option<CountScope> {
        None
    }

    /// The groups of columns (space-separated names among the row type's
    /// `Listed::PLACEHOLDERS`) that the field named `field` reads; `None` for a field not known
    /// here, which makes the list read whole rows.
    fn columns_of(_field: &str) -> Option<&'static [&'static str]> {
        None
    }
}

impl Projects for Product {}
impl Projects for ProductType {}
impl Projects for Engagement {}
impl Projects for Test {
    fn count_scope(id: i32) -> Option<CountScope> {
        Some(CountScope::Test(crate::domain::ids::TestId::new(id)))
    }
}
impl Projects for User {}
impl Projects for Group {}
impl Projects for SlaConfiguration {}
impl Projects for TestType {}
impl Projects for DevelopmentEnvironment {}
impl Plain for Product {}
impl Plain for ProductType {}
impl Plain for Engagement {}
impl Plain for User {}
impl Plain for Group {}
impl Plain for SlaConfiguration {}
impl Plain for TestType {}
impl Plain for DevelopmentEnvironment {}

/// What the current connection field's selection reads: `totalCount`, and the columns of the
/// fields under `nodes` and `edges { node }` (fragments included).
fn wants<G: Projects>(ctx: &async_graphql::Context<'_>) -> Wants {
    let mut total = false;
    let mut columns = Some(Vec::new());
    let mut add = |node: async_graphql::SelectionField<'_>| {
        columns = match (columns.take(), G::columns_of(node.name())) {
            (Some(mut all), Some(groups)) => {
                all.extend(groups.iter().flat_map(|g| g.split_whitespace()));
                Some(all)
            }
            _ => None,
        };
    };
    for field in ctx.field().selection_set() {
        match field.name() {
            "totalCount" => total = true,
            "nodes" => field.selection_set().for_each(&mut add),
            "edges" => {
                for node in field.selection_set().filter(|f| f.name() == "node") {
                    node.selection_set().for_each(&mut add);
                }
            }
            _ => {}
        }
    }
    Wants {
        total,
        columns: columns.map_or(Projection::All, Projection::only),
    }
}

/// The name of the list `args` reads, once its cursors are known to belong to it: a cursor
/// taken under another list or order is `BAD_USER_INPUT`.
fn checked_list<T: Listed>(args: &ListArgs<T::Filter, T::Order>) -> ServiceResult<String> {
    page::check_cursors::<T>(args.sort, &args.window).map_err(ServiceError::bad_input)?;
    Ok(page::list_name::<T>(args.sort))
}

/// Resolves a top-level list: one keyset query, plus a `count(*)` only when the client selected
/// `totalCount`.
pub async fn top_level<T, G>(
    ctx: &async_graphql::Context<'_>,
    args: ListArgs<T::Filter, T::Order>,
    wrap: impl Fn(T) -> G,
) -> async_graphql::Result<Connection<G>>
where
    T: Listed,
    G: OutputType + Clone + Projects,
    Edge<G>: OutputType,
{
    let list = checked_list::<T>(&args)?;
    let wants = wants::<G>(ctx);
    let viewer = super::context::viewer(ctx);
    let page = super::context::db(ctx)
        .read(async move |c| crate::db::page::list::<T>(c, &args, &wants, viewer).await)
        .await
        .map_err(super::context::map_db("list"))?;
    Ok(Connection::from_page(&list, page, wrap))
}

/// Resolves a nested list of `parent`'s children through the dataloader: the pages of all
/// siblings come from one statement. A cursor is a position in the sorted order, so one taken
/// from a parent's list continues that list, and applied to a sibling's it starts the sibling's
/// list at the same sort key.
pub async fn children<T, G>(
    ctx: &async_graphql::Context<'_>,
    parent: T::Parent,
    args: ListArgs<T::Filter, T::Order>,
    wrap: impl Fn(T) -> G,
) -> async_graphql::Result<Connection<G>>
where
    T: Listed + Clone + Sync,
    G: OutputType + Clone + Projects,
    Edge<G>: OutputType,
{
    let list = checked_list::<T>(&args)?;
    let page = super::context::loader(ctx)
        .load_one(super::loaders::Children::<T>::new(
            parent,
            args,
            wants::<G>(ctx),
        ))
        .await?
        .unwrap_or_else(Page::empty);
    preload_counts::<G>(ctx, &page.positions).await?;
    Ok(Connection::from_page(&list, page, wrap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_arguments() {
        assert!(window(Some(0), None, None, None).is_err());
        assert!(window(Some(101), None, None, None).is_err());
        assert!(window(None, None, Some(0), None).is_err());
        assert!(window(None, Some("nope".into()), None, None).is_err());
        let w = window(None, None, None, None).unwrap();
        assert_eq!(w.first, Some(100));
        let at = Position {
            key: Some(Key::Text("a|b".into())),
            id: 7,
        };
        let w = window(
            Some(5),
            Some(encode_cursor("products.Name.Asc", &at)),
            None,
            None,
        )
        .unwrap();
        let after = w.after.unwrap();
        assert_eq!(
            (w.first, after.list.as_str()),
            (Some(5), "products.Name.Asc")
        );
        assert_eq!(after.at, at);
        for key in [None, Some(Key::Int(-3)), Some(Key::Text(String::new()))] {
            let at = Position { key, id: 1 };
            assert_eq!(decode_cursor(&encode_cursor("x", &at)).unwrap().at, at);
        }
    }
}
