//! The event outbox: mutations record their events here inside their own transaction; the relay
//! numbers committed events (`seq`, the public event id, in commit order) and marks them
//! published; subscribers read them back by number.

use chrono::{DateTime, Utc};
use diesel::{
    QueryableByName,
    sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    authz::{self, Viewer, Visibility},
    sql::Sql,
};
use crate::domain::{
    events::{AccessChanged, EventKind, NewEvent},
    ids::{EngagementId, FindingId, ProductId, TestId, UserId},
};

/// The channel a committed event is announced on (`NOTIFY`, delivered at commit).
pub const CHANNEL: &str = "dojoql_outbox";

/// The transaction-local setting naming the user whose mutation records events.
pub const ACTOR_SETTING: &str = "dojoql.actor";

/// A numbered (committed and sequenced) event.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct Event {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub kind: EventKind,
    #[diesel(sql_type = Nullable<Integer>)]
    pub product_id: Option<ProductId>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub engagement_id: Option<EngagementId>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub test_id: Option<TestId>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub finding_id: Option<FindingId>,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Nullable<Integer>)]
    pub actor_id: Option<UserId>,
    #[diesel(sql_type = Timestamptz)]
    pub created: DateTime<Utc>,
}

const COLUMNS: &str =
    "seq, kind, product_id, engagement_id, test_id, finding_id, payload, actor_id, created";

/// Names the acting user for the events this transaction records.
#[tracing::instrument(skip_all, fields(user = user.get()))]
pub async fn set_actor(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<()> {
    diesel::sql_query(format!("SELECT set_config('{ACTOR_SETTING}', $1, true)"))
        .bind::<Text, _>(user.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records `event` in the current transaction and announces it on commit.
#[tracing::instrument(skip_all, fields(kind = event.kind.as_str()))]
pub async fn record(conn: &mut AsyncPgConnection, event: &NewEvent) -> QueryResult<()> {
    diesel::sql_query(format!(
        "WITH e AS (INSERT INTO event_outbox \
           (kind, product_id, engagement_id, test_id, finding_id, payload, actor_id) \
           VALUES ($1, $2, $3, $4, $5, $6, NULLIF(current_setting('{ACTOR_SETTING}', true), '')::int) \
           RETURNING id) \
         SELECT pg_notify('{CHANNEL}', '') FROM e"
    ))
    .bind::<Text, _>(event.kind)
    .bind::<Nullable<Integer>, _>(event.product_id)
    .bind::<Nullable<Integer>, _>(event.engagement_id)
    .bind::<Nullable<Integer>, _>(event.test_id)
    .bind::<Nullable<Integer>, _>(event.finding_id)
    .bind::<Jsonb, _>(&event.payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records `ACCESS_CHANGED` for `change`, unless it concerns nobody. Writes go through
/// `service::access::record_access_changed`, which decides whom a change names.
#[tracing::instrument(skip_all)]
pub async fn record_access(
    conn: &mut AsyncPgConnection,
    change: &AccessChanged,
) -> QueryResult<()> {
    if change.is_empty() {
        return Ok(());
    }
    record(conn, &NewEvent::access_changed(change)).await
}

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

/// Numbers up to `limit` committed, unnumbered events in the order they were recorded; returns
/// the highest number handed out so far. Only the relay leader calls this, so numbers are
/// handed out by one writer, strictly increasing.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn assign_seqs(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<i64> {
    let r: Max = diesel::sql_query(
        "WITH pending AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM event_outbox \
           WHERE seq IS NULL ORDER BY id LIMIT $1), \
         bump AS (UPDATE event_relay SET last_seq = last_seq + (SELECT count(*) FROM pending) \
           RETURNING last_seq, last_seq - (SELECT count(*) FROM pending) AS base), \
         numbered AS (UPDATE event_outbox e SET seq = bump.base + pending.rn \
           FROM pending, bump WHERE e.id = pending.id RETURNING e.seq) \
         SELECT (SELECT last_seq FROM bump) AS n",
    )
    .bind::<BigInt, _>(limit)
    .get_result(conn)
    .await?;
    Ok(r.n.unwrap_or(0))
}

/// The highest number handed out (0 when none).
#[tracing::instrument(skip_all)]
pub async fn last_seq(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    let r: Max = diesel::sql_query("SELECT last_seq AS n FROM event_relay")
        .get_result(conn)
        .await?;
    Ok(r.n.unwrap_or(0))
}

/// Numbered events not yet published, oldest first.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn unpublished(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Event>> {
    Ok(diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM event_outbox WHERE NOT published AND seq IS NOT NULL \
         ORDER BY seq LIMIT $1"
    ))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// Marks every numbered event up to `seq` published.
#[tracing::instrument(skip_all, fields(seq = seq))]
pub async fn mark_published(conn: &mut AsyncPgConnection, seq: i64) -> QueryResult<usize> {
    Ok(diesel::sql_query(
        "UPDATE event_outbox SET published = TRUE WHERE NOT published AND seq <= $1",
    )
    .bind::<BigInt, _>(seq)
    .execute(conn)
    .await?)
}

/// Numbered events after `seq`, oldest first (what a replica fans out).
#[tracing::instrument(skip_all, fields(seq = seq, limit = limit))]
pub async fn after(conn: &mut AsyncPgConnection, seq: i64, limit: i64) -> QueryResult<Vec<Event>> {
    Ok(diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM event_outbox WHERE seq > $1 ORDER BY seq LIMIT $2"
    ))
    .bind::<BigInt, _>(seq)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?)
}

/// What a replay selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFilter {
    /// Only these kinds (all when empty).
    pub kinds: Vec<EventKind>,
    /// Only these products (all when empty).
    pub products: Vec<ProductId>,
}

/// Numbered events after `seq` up to `until` that match `filter` and belong to a product
/// `viewer` may read, oldest first: the replay of `events(after:)`.
#[tracing::instrument(skip_all, fields(seq = seq, until = until, limit = limit))]
pub async fn replay(
    conn: &mut AsyncPgConnection,
    seq: i64,
    until: i64,
    filter: &ReplayFilter,
    viewer: Viewer,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM event_outbox t WHERE t.seq > "
    ));
    sql.bind::<BigInt, _>(seq)
        .push(" AND t.seq <= ")
        .bind::<BigInt, _>(until)
        .push(" AND t.product_id IS NOT NULL");
    if !filter.kinds.is_empty() {
        let kinds: Vec<String> = filter.kinds.iter().map(|k| k.as_str().into()).collect();
        sql.push(" AND t.kind = ANY(")
            .bind::<Array<Text>, _>(kinds)
            .push(")");
    }
    if !filter.products.is_empty() {
        sql.push(" AND t.product_id = ANY(")
            .bind::<Array<Integer>, _>(filter.products.clone())
            .push(")");
    }
    if let Visibility::Member(_) = viewer.products {
        authz::push_visible(&mut sql, authz::Scope::Product("t.product_id"), viewer);
    }
    sql.push(" ORDER BY t.seq LIMIT ").bind::<BigInt, _>(limit);
    Ok(sql.build().load(conn).await?)
}

/// Deletes published events recorded before `before`; returns how many.
#[tracing::instrument(skip_all, fields(%before))]
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    Ok(
        diesel::sql_query("DELETE FROM event_outbox WHERE published AND created < $1")
            .bind::<Timestamptz, _>(before)
            .execute(conn)
            .await?,
    )
}
