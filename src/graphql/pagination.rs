//! Relay connections: argument validation (`first`/`last` 1..100), opaque cursors, and the
//! generic `XConnection`/`XEdge` types built from a `db::page::Page`.

use async_graphql::{OutputType, SimpleObject};
use base64::{Engine, engine::general_purpose::STANDARD};

use super::{
    access::Group,
    engagement::Engagement,
    finding::Finding,
    product::Product,
    product_type::ProductType,
    reference::{DevelopmentEnvironment, SlaConfiguration, TestType, User},
    test::Test,
};
use crate::{
    db::page::{Page, Window},
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

fn encode_cursor(position: i64) -> String {
    STANDARD.encode(format!("cursor:{position}"))
}

fn decode_cursor(raw: &str) -> ServiceResult<i64> {
    let bad = || ServiceError::bad_input(format!("{raw:?} is not a valid cursor"));
    let bytes = STANDARD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let n: i64 = text
        .strip_prefix("cursor:")
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    Ok(n)
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

/// A page of a list (Relay connection).
#[derive(SimpleObject, Clone)]
#[graphql(concrete(name = "ProductTypeConnection", params(ProductType)))]
#[graphql(concrete(name = "ProductConnection", params(Product)))]
#[graphql(concrete(name = "EngagementConnection", params(Engagement)))]
#[graphql(concrete(name = "TestConnection", params(Test)))]
#[graphql(concrete(name = "FindingConnection", params(Finding)))]
#[graphql(concrete(name = "UserConnection", params(User)))]
#[graphql(concrete(name = "SlaConfigurationConnection", params(SlaConfiguration)))]
#[graphql(concrete(name = "TestTypeConnection", params(TestType)))]
#[graphql(concrete(
    name = "DevelopmentEnvironmentConnection",
    params(DevelopmentEnvironment)
))]
#[graphql(concrete(name = "GroupConnection", params(Group)))]
pub struct Connection<T: OutputType + Clone>
where
    Edge<T>: OutputType,
{
    /// Items in the whole filtered list.
    pub total_count: i64,
    pub page_info: PageInfo,
    pub edges: Vec<Edge<T>>,
    pub nodes: Vec<T>,
}

impl<T: OutputType + Clone> Connection<T>
where
    Edge<T>: OutputType,
{
    /// Builds a connection from a page of rows, wrapping each row with `wrap`.
    pub fn from_page<R>(page: Page<R>, wrap: impl Fn(R) -> T) -> Self {
        let start = page.start;
        let nodes: Vec<T> = page.rows.into_iter().map(wrap).collect();
        let edges: Vec<Edge<T>> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Edge {
                cursor: encode_cursor(start + 1 + i as i64),
                node: n.clone(),
            })
            .collect();
        Connection {
            total_count: page.total.unwrap_or(0),
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: page.has_previous,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            nodes,
        }
    }
}

/// Resolves a top-level list: one `OFFSET/LIMIT` query, plus a `count(*)` only when the client
/// selected `totalCount` (or anchored the window at the end).
pub async fn top_level<T, G>(
    ctx: &async_graphql::Context<'_>,
    args: crate::db::page::ListArgs<T::Filter, T::Order>,
    wrap: impl Fn(T) -> G,
) -> async_graphql::Result<Connection<G>>
where
    T: crate::db::page::Listed,
    G: OutputType + Clone,
    Edge<G>: OutputType,
{
    let want_total = ctx.look_ahead().field("totalCount").exists();
    let viewer = super::context::viewer(ctx);
    let page = super::context::db(ctx)
        .read(async move |c| crate::db::page::list::<T>(c, &args, want_total, viewer).await)
        .await
        .map_err(super::context::map_db("list"))?;
    Ok(Connection::from_page(page, wrap))
}

/// Resolves a nested list of `parent`'s children through the dataloader: the pages of all
/// siblings come from one windowed statement.
pub async fn children<T, G>(
    ctx: &async_graphql::Context<'_>,
    parent: T::Parent,
    args: crate::db::page::ListArgs<T::Filter, T::Order>,
    wrap: impl Fn(T) -> G,
) -> async_graphql::Result<Connection<G>>
where
    T: crate::db::page::Listed + Clone + Sync,
    G: OutputType + Clone,
    Edge<G>: OutputType,
{
    let want_total = ctx.look_ahead().field("totalCount").exists();
    let page = super::context::loader(ctx)
        .load_one(super::loaders::Children::<T>::new(parent, args, want_total))
        .await?
        .unwrap_or_else(Page::empty);
    Ok(Connection::from_page(page, wrap))
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
        let w = window(Some(5), Some(encode_cursor(7)), None, None).unwrap();
        assert_eq!((w.first, w.after), (Some(5), Some(7)));
    }
}
