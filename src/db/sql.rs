//! A small builder for dynamic SQL with numbered bind parameters, for the list queries whose
//! filters and windows diesel's DSL cannot express (window functions over a filtered subquery).
//! Values are always bound, never spliced; only integers the code itself computed are inlined.

use diesel::{
    QueryResult,
    pg::Pg,
    query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery},
    serialize::ToSql,
    sql_types::{HasSqlType, SingleValue, Untyped},
};

use std::{
    collections::HashSet,
    hash::{DefaultHasher, Hash, Hasher},
    sync::{LazyLock, Mutex},
};

type Boxed = BoxedSqlQuery<'static, Pg, SqlQuery>;
type BindFn = Box<dyn FnOnce(Boxed) -> Boxed + Send>;

/// SQL text plus its binds, in order.
#[derive(Default)]
pub struct Sql {
    text: String,
    binds: Vec<BindFn>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            binds: Vec::new(),
        }
    }

    /// Appends literal SQL written by us (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a `$n` placeholder bound to `value`.
    pub fn bind<ST, T>(&mut self, value: T) -> &mut Self
    where
        ST: SingleValue + Send + 'static,
        T: ToSql<ST, Pg> + Send + 'static,
        Pg: HasSqlType<ST>,
    {
        self.binds
            .push(Box::new(move |q: Boxed| q.bind::<ST, T>(value)));
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    /// Registers the next bind without writing its placeholder, for text that refers to the
    /// same `$n` more than once.
    pub fn bind_unwritten<ST, T>(&mut self, value: T) -> &mut Self
    where
        ST: SingleValue + Send + 'static,
        T: ToSql<ST, Pg> + Send + 'static,
        Pg: HasSqlType<ST>,
    {
        self.binds
            .push(Box::new(move |q: Boxed| q.bind::<ST, T>(value)));
        self
    }

    /// Appends ` AND <lhs><op>$n` binding `value`; the common shape of a filter.
    pub fn and<ST, T>(&mut self, lhs: &str, value: T) -> &mut Self
    where
        ST: SingleValue + Send + 'static,
        T: ToSql<ST, Pg> + Send + 'static,
        Pg: HasSqlType<ST>,
    {
        self.push(" AND ").push(lhs).bind::<ST, T>(value)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The finished query, ready for `load`/`execute`.
    pub fn build(self) -> Boxed {
        let mut q = diesel::sql_query(self.text).into_boxed();
        for b in self.binds {
            q = b(q);
        }
        q
    }

    /// The finished query as a statement the connection prepares once and reuses for every
    /// query with the same text (see [`Prepared`]). Only for text whose values are all bound:
    /// each distinct text stays in the connection's statement cache — up to
    /// [`PREPARED_TEXTS`] texts in the process; later ones run unprepared.
    pub fn prepared(self) -> Prepared {
        let cache = PREPARED.admit(&self.text);
        Prepared(self.build(), cache)
    }
}

/// How many distinct statement texts [`Sql::prepared`] lets connections keep prepared. diesel's
/// statement cache has no bound, and a list's text varies with the filters a client sends (about
/// 2²⁰ combinations for findings): without a bound a client could grow every pooled connection's
/// cache, and each Postgres backend's plans, without end. The first texts seen are the common
/// shapes; a text past the bound is parsed and planned on every run, as diesel does for any
/// `sql_query`.
pub const PREPARED_TEXTS: usize = 1000;

static PREPARED: LazyLock<Admission> = LazyLock::new(|| Admission::new(PREPARED_TEXTS));

/// A bounded set of admitted statement texts (by hash: a collision admits one text too many).
struct Admission {
    texts: Mutex<HashSet<u64>>,
    bound: usize,
}

impl Admission {
    fn new(bound: usize) -> Self {
        Self {
            texts: Mutex::new(HashSet::new()),
            bound,
        }
    }

    /// Whether `text` may be kept prepared: admitted before, or admitted now while there is room.
    fn admit(&self, text: &str) -> bool {
        let mut h = DefaultHasher::new();
        text.hash(&mut h);
        let h = h.finish();
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        texts.contains(&h) || (texts.len() < self.bound && texts.insert(h))
    }
}

/// A query built by [`Sql`] whose prepared statement the connection keeps (when its text was
/// admitted, see [`PREPARED_TEXTS`]), keyed by its text and bind types. diesel never caches a
/// `sql_query` (its text could hold anything); list and count queries have one text per shape
/// of request, so parsing and planning them again on every request is waste.
pub struct Prepared(Boxed, bool);

impl QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for Prepared {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _: &Pg) -> QueryResult<bool> {
        Ok(self.1)
    }
}

/// Escapes `%`, `_` and `\` so a user's search text matches literally inside `ILIKE '%…%'`.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

impl Direction {
    pub fn sql(self) -> &'static str {
        match self {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        }
    }

    /// The other direction.
    pub fn reversed(self) -> Self {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }
}

/// Filters that add ` AND …` conditions to a list query.
pub trait SqlFilter {
    fn push_conditions(&self, sql: &mut Sql);
}

/// A list with no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NoFilter;

impl SqlFilter for NoFilter {
    fn push_conditions(&self, _: &mut Sql) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order() {
        let mut s = Sql::new("SELECT 1 WHERE TRUE");
        s.and::<diesel::sql_types::Integer, _>("a = ", 1)
            .and::<diesel::sql_types::Text, _>("b ILIKE ", like_pattern("50%_off"));
        assert_eq!(s.text(), "SELECT 1 WHERE TRUE AND a = $1 AND b ILIKE $2");
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
    }

    #[test]
    fn admits_statement_texts_up_to_its_bound() {
        let a = Admission::new(2);
        assert!(a.admit("SELECT 1"));
        assert!(a.admit("SELECT 2"));
        assert!(!a.admit("SELECT 3"), "past the bound");
        assert!(a.admit("SELECT 1"), "admitted texts stay admitted");
        assert!(!a.admit("SELECT 3"));
    }
}
