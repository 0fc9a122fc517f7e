//! Per-event authorization for subscriptions: "may user U read product P?", answered from a
//! per-process cache, with misses batched into one query (thousands of subscribers asking about
//! one event cost one statement). `ACCESS_CHANGED` events — recorded by every change to
//! memberships, groups, global roles, users, tokens and to which product type a product is in —
//! clear the cache, so a revoked role stops delivery at the next event.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use async_graphql::dataloader::{DataLoader, Loader, NoCache};
use diesel::{
    QueryableByName,
    sql_types::{Array, Bool, Integer, Nullable, Text},
};
use diesel_async::RunQueryDsl;

use crate::{
    db::{Db, DbError},
    domain::Role,
};

/// What a user may see regardless of products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAccess {
    pub active: bool,
    pub superuser: bool,
    /// The highest global role of the user and its groups.
    pub global: Option<Role>,
}

impl UserAccess {
    /// Reads every product.
    pub fn reads_all(&self) -> bool {
        self.active && (self.superuser || self.global.is_some())
    }
}

/// The cache (see the module documentation).
pub struct AccessCache {
    db: Db,
    /// Bumped by every clear, so an answer fetched before a clear is not cached after it.
    generation: AtomicU64,
    users: Mutex<HashMap<i32, Option<UserAccess>>>,
    grants: Mutex<HashMap<(i32, i32), bool>>,
    loader: DataLoader<GrantLoader, NoCache>,
}

impl AccessCache {
    pub fn new(db: Db) -> Self {
        Self {
            loader: DataLoader::new(GrantLoader { db: db.clone() }, tokio::spawn)
                .delay(std::time::Duration::from_millis(1)),
            db,
            generation: AtomicU64::new(0),
            users: Mutex::new(HashMap::new()),
            grants: Mutex::new(HashMap::new()),
        }
    }

    fn generation(&self) -> u64 {
        AtomicU64::load(&self.generation, Ordering::SeqCst)
    }

    /// Forgets everything (access may have changed anywhere).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.users.lock().expect("access cache").clear();
        self.grants.lock().expect("access cache").clear();
    }

    /// The user's flags and global role; `None` when the user does not exist.
    pub async fn user(&self, user: i32) -> Result<Option<UserAccess>, DbError> {
        if let Some(found) = self.users.lock().expect("access cache").get(&user) {
            return Ok(*found);
        }
        let generation = self.generation();
        let found = self
            .db
            .read(async move |mut c| {
                #[derive(QueryableByName)]
                struct Row {
                    #[diesel(sql_type = Bool)]
                    is_active: bool,
                    #[diesel(sql_type = Bool)]
                    is_superuser: bool,
                    #[diesel(sql_type = Nullable<Text>)]
                    global_role: Option<Role>,
                }
                let row: Option<Row> = diesel::sql_query(
                    "SELECT is_active, is_superuser, global_role FROM users WHERE id = $1",
                )
                .bind::<Integer, _>(user)
                .get_result(&mut c)
                .await
                .map(Some)
                .or_else(|e| match e {
                    diesel::result::Error::NotFound => Ok(None),
                    e => Err(e),
                })?;
                let Some(row) = row else { return Ok(None) };
                let groups = crate::db::authz::global_roles(&mut c, user).await?;
                Ok(Some(UserAccess {
                    active: row.is_active,
                    superuser: row.is_superuser,
                    global: groups.into_iter().chain(row.global_role).max(),
                }))
            })
            .await?;
        if self.generation() == generation {
            self.users.lock().expect("access cache").insert(user, found);
        }
        Ok(found)
    }

    /// Whether `user` may read `product` now.
    pub async fn may_read(&self, user: i32, product: i32) -> Result<bool, DbError> {
        let Some(u) = self.user(user).await? else {
            return Ok(false);
        };
        if !u.active {
            return Ok(false);
        }
        if u.reads_all() {
            return Ok(true);
        }
        if let Some(known) = self
            .grants
            .lock()
            .expect("access cache")
            .get(&(user, product))
        {
            return Ok(*known);
        }
        let generation = self.generation();
        let granted = self
            .loader
            .load_one((user, product))
            .await
            .map_err(|e| DbError::Unavailable(e.message))?
            .unwrap_or(false);
        if self.generation() == generation {
            self.grants
                .lock()
                .expect("access cache")
                .insert((user, product), granted);
        }
        Ok(granted)
    }
}

/// Batches (user, product) questions into one query over `product_grants`.
pub struct GrantLoader {
    db: Db,
}

impl Loader<(i32, i32)> for GrantLoader {
    type Value = bool;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(i32, i32)]) -> Result<HashMap<(i32, i32), bool>, Self::Error> {
        #[derive(QueryableByName)]
        struct Pair {
            #[diesel(sql_type = Integer)]
            user_id: i32,
            #[diesel(sql_type = Integer)]
            product_id: i32,
        }
        let users: Vec<i32> = keys.iter().map(|k| k.0).collect();
        let products: Vec<i32> = keys.iter().map(|k| k.1).collect();
        let found: Vec<Pair> = self
            .db
            .read(async move |mut c| {
                Ok(diesel::sql_query(
                    "SELECT DISTINCT g.user_id, g.product_id FROM product_grants g \
                     JOIN unnest($1::int[], $2::int[]) AS k(user_id, product_id) \
                       ON k.user_id = g.user_id AND k.product_id = g.product_id \
                     WHERE g.user_id = ANY($1)",
                )
                .bind::<Array<Integer>, _>(users)
                .bind::<Array<Integer>, _>(products)
                .load(&mut c)
                .await?)
            })
            .await
            .map_err(|e| async_graphql::Error::new(e.to_string()))?;
        let mut out: HashMap<(i32, i32), bool> = keys.iter().map(|k| (*k, false)).collect();
        for p in found {
            out.insert((p.user_id, p.product_id), true);
        }
        Ok(out)
    }
}
