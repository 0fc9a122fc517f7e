//! Snapshots, of the database and of responses.
//!
//! **The database** ([`TestApp::snapshot`]): every row of every table in one string, so that a
//! refused request can be shown to have written nothing (`assert_eq!(app.snapshot().await,
//! before)`).
//!
//! The tables come from `information_schema` (every base table of the `public` schema but
//! diesel's migration list), so a table added by a migration is covered without editing this
//! file. Rows are ordered by primary key (by the whole row where a table has none), so the same
//! database always gives the same string. No column changes by itself while no request runs,
//! with one exception: in an app with its event relay running ([`TestApp::with_events`]),
//! `event_outbox.seq`/`published` and `event_relay.last_seq` are filled in shortly after each
//! commit; call [`TestApp::settle_events`] before taking a snapshot there.
//!
//! **Responses** ([`assert_json_snapshot!`]): insta JSON snapshots, stored in
//! `tests/it/snapshots/`, of values whose whole shape matters, with what differs from run to
//! run redacted:
//!
//! - a global id becomes the name the test gives it (`"pt" => pt` turns it into `"[pt]"`), or
//!   `"[Kind]"` (its type, e.g. `"[Product]"`) when the test does not name it;
//! - `databaseId` becomes `"[databaseId]"` when it is the number inside its object's `id`;
//! - the timestamps the server stamps ([`TIMESTAMPS`]) become `"[timestamp]"` when they are
//!   RFC 3339 date-times;
//! - `eventId` becomes `"[eventId]"` when it is a positive integer.
//!
//! A value that fails its check is left as it is, so the snapshot shows the difference.
//! Snapshots are reviewed and committed: CI (`CI=true`) never writes one, and a missing or
//! different snapshot fails the test. Write new ones with `INSTA_UPDATE=always cargo test` (or
//! `cargo insta review`, where cargo-insta is installed) and read them before committing.

use base64::{Engine, engine::general_purpose::STANDARD};
use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;
use insta::internals::{Content, ContentPath};
use serde_json::Value;

use super::TestApp;

/// Every base table of the public schema except diesel's, with its primary key columns in key
/// order (`x.a, x.b`; `NULL` when it has none).
const SNAPSHOT_TABLES: &str = "\
    SELECT t.table_name AS name, \
           (SELECT string_agg('x.' || quote_ident(k.column_name), ', ' ORDER BY k.ordinal_position) \
              FROM information_schema.table_constraints c \
              JOIN information_schema.key_column_usage k \
                ON k.constraint_schema = c.constraint_schema \
               AND k.constraint_name = c.constraint_name \
             WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name \
               AND c.constraint_type = 'PRIMARY KEY') AS key \
      FROM information_schema.tables t \
     WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
       AND t.table_name <> '__diesel_schema_migrations' \
     ORDER BY t.table_name COLLATE \"C\"";

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    key: Option<String>,
}

impl TestApp {
    /// Every row of every table, as JSON text (one `table: [rows]` line per table, tables by
    /// name), read in one statement: equal snapshots mean an unchanged database.
    pub async fn snapshot(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = Text)]
            dump: String,
        }
        let mut c = self.sql().await;
        let statement = self
            .snapshot_statement
            .get_or_init(|| async {
                let tables: Vec<Table> = diesel::sql_query(SNAPSHOT_TABLES)
                    .load(&mut c)
                    .await
                    .unwrap();
                assert!(!tables.is_empty(), "no table to snapshot");
                let parts: Vec<String> = tables
                    .iter()
                    .map(|Table { name, key }| {
                        let order = key.as_deref().unwrap_or("x::text COLLATE \"C\"");
                        format!(
                            "'{name}: ' || COALESCE((SELECT json_agg(x ORDER BY {order}) \
                             FROM \"{name}\" x)::text, '[]')"
                        )
                    })
                    .collect();
                format!("SELECT concat_ws(E'\\n', {}) AS dump", parts.join(", "))
            })
            .await;
        diesel::sql_query(statement)
            .get_result::<Dump>(&mut c)
            .await
            .unwrap()
            .dump
    }
}

/// The timestamps the server stamps with its clock (`mitigatedAt` is also accepted from a
/// client; a snapshot of a test that sets it checks it with its own assertion).
pub const TIMESTAMPS: &[&str] = &[
    "created",
    "updated",
    "occurredAt",
    "lastStatusUpdate",
    "mitigatedAt",
];

/// `insta::assert_json_snapshot!(name, value)` (any serializable value) with the redactions of
/// this module; after the value, `"label" => id` pairs name the global ids the test knows:
///
/// ```ignore
/// assert_json_snapshot!("defaults", product, "product" => id, "pt" => pt);
/// ```
macro_rules! assert_json_snapshot {
    ($name:expr, $value:expr $(, $label:literal => $id:expr)* $(,)?) => {{
        let redacted = $crate::helpers::snapshot::name_ids(
            &::serde_json::to_value(&$value).expect("a JSON value"),
            &[$(($label, ::std::convert::AsRef::<str>::as_ref(&$id))),*],
        );
        let mut settings = $crate::helpers::snapshot::settings();
        settings.set_description(stringify!($value));
        settings.set_omit_expression(true);
        settings.bind(|| ::insta::assert_json_snapshot!($name, redacted));
    }};
}
pub(crate) use assert_json_snapshot;

/// The insta settings of response snapshots: timestamps and event ids redacted.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for key in TIMESTAMPS {
        settings.add_dynamic_redaction(&format!(".**.{key}"), redact_timestamp);
    }
    settings.add_dynamic_redaction(".**.eventId", redact_event_id);
    settings
}

fn redact_timestamp(value: Content, _: ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => "[timestamp]".into(),
        _ => value,
    }
}

fn redact_event_id(value: Content, _: ContentPath<'_>) -> Content {
    match value.as_str().map(str::parse::<i64>) {
        Some(Ok(n)) if n > 0 => "[eventId]".into(),
        _ => value,
    }
}

/// `value` with its global ids replaced by the labels of `named` (`"[label]"`), or by
/// `"[Kind]"`, and each `databaseId` that matches its object's `id` by `"[databaseId]"`.
pub fn name_ids(value: &Value, named: &[(&str, &str)]) -> Value {
    match value {
        Value::String(s) => match named.iter().find(|(_, id)| id == s) {
            Some((label, _)) => Value::String(format!("[{label}]")),
            None => match decode(s) {
                Some((kind, _)) => Value::String(format!("[{kind}]")),
                None => value.clone(),
            },
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| name_ids(v, named)).collect()),
        Value::Object(fields) => {
            let own = fields.get("id").and_then(Value::as_str).and_then(decode);
            Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), &own, v.as_i64()) {
                            ("databaseId", Some((_, id)), Some(n)) if *id == n => {
                                Value::String("[databaseId]".into())
                            }
                            _ => name_ids(v, named),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            )
        }
        _ => value.clone(),
    }
}

/// The kind and database id inside a global id (`base64("Kind:databaseId")`).
fn decode(global: &str) -> Option<(String, i64)> {
    let text = String::from_utf8(STANDARD.decode(global).ok()?).ok()?;
    let (kind, id) = text.split_once(':')?;
    let is_kind = kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric());
    let id = id.parse().ok()?;
    is_kind.then(|| (kind.to_string(), id))
}
