//! The GraphQL schema: merged per-entity query and mutation roots, the per-request dataloader,
//! and the extension that gives every error an `extensions.code`.
//!
//! Resolvers only translate arguments, call one function of a lower layer and map its result;
//! nested fields go through [`loaders::PgLoader`], so a query costs a constant number of SQL
//! statements however many rows it touches.

pub mod access;
pub mod auth;
pub mod context;
pub mod deletes;
pub mod engagement;
pub mod enums;
pub mod events;
pub mod finding;
pub mod finding_counts;
pub mod ids;
pub mod import;
pub mod input;
pub mod limits;
pub mod load;
pub mod loaders;
pub mod node;
pub mod note;
pub mod pagination;
pub mod permissions;
pub mod plain;
pub mod product;
pub mod product_type;
pub mod reference;
pub mod scalars;
pub mod settings;
pub mod subscription;
pub mod test;
pub mod uploads;
pub mod waves;

use std::sync::Arc;

use async_graphql::{MergedObject, Response, Schema, ServerError, Value, dataloader::DataLoader};

use crate::{db::Db, error};

/// Every query field.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    product_type::ProductTypeQuery,
    product::ProductQuery,
    engagement::EngagementQuery,
    test::TestQuery,
    finding::FindingQuery,
    reference::ReferenceQuery,
    auth::AuthQuery,
    access::AccessQuery,
    settings::SettingsQuery,
    import::ImportQuery,
);

/// Every mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    product_type::ProductTypeMutation,
    product::ProductMutation,
    engagement::EngagementMutation,
    test::TestMutation,
    finding::FindingMutation,
    note::NoteMutation,
    reference::ReferenceMutation,
    auth::AuthMutation,
    access::AccessMutation,
    settings::SettingsMutation,
    import::ImportMutation,
);

pub type AppSchema = Schema<Query, Mutation, subscription::SubscriptionRoot>;

/// Schema-wide settings.
#[derive(Debug, Clone)]
pub struct SchemaOptions {
    pub introspection: bool,
    pub suggestions: bool,
    pub max_depth: usize,
    pub max_upload_bytes: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self::from_config(&crate::config::Config::default())
    }
}

impl SchemaOptions {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            introspection: c.introspection,
            suggestions: c.suggestions,
            max_depth: c.query_limits.max_depth,
            max_upload_bytes: c.max_upload_bytes,
        }
    }
}

/// Builds the schema. The database handle and the event bus are schema data; the dataloader
/// and the caller are added per request by [`prepare`].
pub fn build(
    db: Option<Db>,
    bus: Option<Arc<crate::events::Bus>>,
    options: &SchemaOptions,
) -> AppSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::SubscriptionRoot,
    )
    .limit_depth(options.max_depth)
    .limit_recursive_depth(32)
    .limit_directives(16)
    .data(input::UploadLimit(options.max_upload_bytes));
    if !options.introspection {
        builder = builder.disable_introspection();
    }
    if !options.suggestions {
        builder = builder.disable_suggestions();
    }
    if let Some(db) = db {
        builder = builder.data(db);
    }
    if let Some(bus) = bus {
        builder = builder.data(bus);
    }
    builder.finish()
}

/// The schema's SDL as `export-schema` writes it.
pub fn sdl() -> String {
    build(None, None, &SchemaOptions::default()).sdl()
}

/// Prepares a request for execution as `principal`: attaches the principal and a fresh
/// per-request dataloader that caches only within this request and reads only what the
/// principal may see.
///
/// `delay` is how long a batch waits for sibling keys (see `Config::loader_delay`).
pub fn prepare(
    request: async_graphql::Request,
    db: &Db,
    delay: std::time::Duration,
    principal: crate::auth::Principal,
) -> async_graphql::Request {
    attach(request, db, delay, principal, true)
}

/// [`prepare`] for a subscription: its dataloader batches but never caches, so every event
/// resolves its objects as they are when it is delivered.
pub fn prepare_subscription(
    request: async_graphql::Request,
    db: &Db,
    delay: std::time::Duration,
    principal: crate::auth::Principal,
) -> async_graphql::Request {
    attach(request, db, delay, principal, false)
}

/// The most keys one dataloader statement takes (async-graphql's default, 1,000, split a
/// dashboard's 2,500 tests over three statements): a level is one statement up to this many
/// parents; a larger one, which the node limit allows, is split into statements of this many.
const MAX_BATCH_KEYS: usize = 50_000;

/// `db` is the session's handle ([`Db::session`]): one per HTTP request, one per websocket
/// connection, so that what it wrote is what it reads.
fn attach(
    request: async_graphql::Request,
    db: &Db,
    delay: std::time::Duration,
    principal: crate::auth::Principal,
    cache: bool,
) -> async_graphql::Request {
    let loader: loaders::RequestLoader = DataLoader::with_cache(
        loaders::PgLoader::new(db.clone(), principal.viewer(), principal.user_id),
        waves::spawn_batch,
        loaders::RequestCache { enabled: cache },
    )
    .delay(delay)
    .max_batch_size(MAX_BATCH_KEYS);
    let request = request.data(loader).data(principal).data(db.clone());
    if cache {
        request.data(pagination::Preloaded::default())
    } else {
        request
    }
}

/// Executes one request and gives every error without one an `extensions.code`: errors raised
/// by parsing, validation and input coercion (unknown enum values, malformed ids or dates, wrong
/// types) are the client's, so they get `BAD_USER_INPUT`; resolver errors already carry theirs.
///
/// This is done after execution rather than in an `Extension`: with no extensions registered,
/// async-graphql resolves fields without wrapping each one in an extension chain.
///
/// Before executing it parses the query once and checks it against `limits` (see [`limits`]);
/// the parsed document is handed on, so async-graphql does not parse it again. Analysis and
/// execution together are bounded by `timeout`. A mutation cut off by the timeout still
/// commits or rolls back as a whole: its transaction runs on a task of its own (`Db::write`).
pub async fn execute(
    schema: &AppSchema,
    request: async_graphql::Request,
    limits: &limits::QueryLimits,
    timeout: std::time::Duration,
) -> Response {
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        error_response(
            format!("the request took longer than {} ms", timeout.as_millis()),
            error::SERVICE_UNAVAILABLE,
        )
    };
    let request = match tokio::time::timeout_at(deadline, checked(request, *limits)).await {
        Ok(Ok(request)) => request,
        Ok(Err(refusal)) => return refusal,
        Err(_) => return timed_out(),
    };
    let run = waves::Waves::new(schema.execute(request));
    let mut response = match tokio::time::timeout_at(deadline, run).await {
        Ok(r) => r,
        Err(_) => return timed_out(),
    };
    for e in &mut response.errors {
        fill_code(e);
    }
    response
}

/// Queries at least this long are parsed and analysed on a blocking thread, so that a large
/// document never holds up a runtime worker (smaller ones take microseconds).
const INLINE_ANALYSIS_BYTES: usize = 64 * 1024;

/// Parses `request`'s query and checks it against `limits` (see [`limits::check`]): the request
/// with its parsed document attached, or the response refusing it. A query that does not parse
/// goes on unparsed: execution reports the syntax error in its own words.
async fn checked(
    mut request: async_graphql::Request,
    limits: limits::QueryLimits,
) -> Result<async_graphql::Request, Response> {
    if let Err(message) = limits::check_length(&request.query, &limits) {
        return Err(error_response(message, error::BAD_USER_INPUT));
    }
    let large = request.query.len() >= INLINE_ANALYSIS_BYTES;
    let work = move || {
        let outcome = match async_graphql::parser::parse_query(&request.query) {
            Ok(doc) => match limits::check(&doc, &request.variables, &limits) {
                Ok(_) => {
                    request.set_parsed_query(doc);
                    Ok(())
                }
                Err(message) => Err(message),
            },
            Err(_) => Ok(()),
        };
        (request, outcome)
    };
    let (request, outcome) = if large {
        tokio::task::spawn_blocking(work).await.map_err(|_| {
            error_response("the query could not be analysed".into(), error::INTERNAL)
        })?
    } else {
        work()
    };
    match outcome {
        Ok(()) => Ok(request),
        Err(message) => Err(error_response(message, error::BAD_USER_INPUT)),
    }
}

/// Executes a subscription as a stream of responses, with the same checks and error codes as
/// [`execute`] but no timeout (a subscription lasts as long as its client wants).
pub fn execute_stream(
    schema: &AppSchema,
    request: async_graphql::Request,
    limits: &limits::QueryLimits,
) -> futures_util::stream::BoxStream<'static, Response> {
    use futures_util::StreamExt;
    let schema = schema.clone();
    let limits = *limits;
    futures_util::stream::once(checked(request, limits))
        .flat_map(move |checked| match checked {
            Ok(request) => waves::Waves::new(schema.execute_stream(request))
                .map(|mut response| {
                    for e in &mut response.errors {
                        fill_code(e);
                    }
                    response
                })
                .boxed(),
            Err(refusal) => futures_util::stream::once(async move { refusal }).boxed(),
        })
        .boxed()
}

/// A response serialized as JSON, or `None` when it would be longer than `max` bytes (the last
/// line of defence behind the query limits: a response is never sent, nor held serialized,
/// beyond this size).
pub fn encode(response: &Response, max: usize) -> Option<Vec<u8>> {
    struct Capped {
        out: Vec<u8>,
        max: usize,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.out.len() + buf.len() > self.max {
                return Err(std::io::Error::other("response too large"));
            }
            self.out.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = Capped {
        out: Vec::new(),
        max,
    };
    serde_json::to_writer(&mut w, response).ok()?;
    Some(w.out)
}

/// The response sent instead of one longer than `max` bytes.
pub fn too_large(max: usize) -> Response {
    error_response(
        format!(
            "the response would be larger than {max} bytes: ask for fewer fields, smaller pages or fewer ids"
        ),
        error::RESPONSE_TOO_LARGE,
    )
}

fn error_response(message: String, code: &str) -> Response {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
    Response::from_errors(vec![e])
}

fn fill_code(e: &mut ServerError) {
    let has_code = e
        .extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some());
    if !has_code {
        e.extensions
            .get_or_insert_with(Default::default)
            .set("code", Value::from(error::BAD_USER_INPUT));
    }
}
