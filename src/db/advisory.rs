//! Postgres advisory locks, for work that exactly one replica does at a time.

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::QueryResult;

/// Takes the transaction-scoped advisory lock `key` if no other transaction holds it; false when
/// one does (the lock is released at commit or rollback).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn try_xact_lock(conn: &mut AsyncPgConnection, key: i64) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Got {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let got: Got = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
        .bind::<BigInt, _>(key)
        .get_result(conn)
        .await?;
    Ok(got.locked)
}
