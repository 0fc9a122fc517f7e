//! Per-event authorization for subscriptions: "may user U read product P?", answered from a
//! per-process cache, with misses batched into one query (thousands of subscribers asking about
//! one event cost one statement). `ACCESS_CHANGED` events — recorded by changes to memberships,
//! groups, global roles, users' flags, tokens and to which product type a product is in —
//! make the cache forget what they concern (see [`AccessChanged`]): the entries of the users
//! they name, the grants of the product they name, or everything. So a revoked role stops
//! delivery at the next event, and a change to one user's access costs the others nothing.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use diesel::{
    QueryableByName,
    sql_types::{Array, Bool, Integer, Nullable, Text},
};
use diesel_async::RunQueryDsl;
use tokio::sync::watch;

use crate::{
    db::{Db, DbError},
    domain::{
        Role,
        events::AccessChanged,
        ids::{ProductId, UserId},
    },
};

/// What a user may see regardless of products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UserAccess {
    pub(crate) active: bool,
    pub(crate) superuser: bool,
    /// The highest global role of the user and its groups.
    pub(crate) global: Option<Role>,
}

impl UserAccess {
    /// Reads every product.
    pub(crate) fn reads_all(&self) -> bool {
        self.active && (self.superuser || self.global.is_some())
    }
}

/// The cache (see the module documentation).
pub struct AccessCache {
    db: Db,
    cached: Mutex<Cached>,
    grants: Arc<GrantBatches>,
}

/// The cached answers, and what keeps an answer fetched before a change from being cached
/// after it.
///
/// Every change gets the next `stamp` and marks what it concerns with it: the users it names,
/// the products it names, or everything (`cleared`). A lookup remembers the stamp when it
/// starts and caches its answer only if nothing the answer depends on was marked since (a mark
/// at most that stamp was set before the lookup began, so the lookup read the database after
/// the change committed). Marks and entries change under one lock, so a change cannot slip
/// between that check and the insert. An answer not cached is simply fetched again next time.
/// The mark maps hold at most one entry per user and per product (they are emptied when
/// everything is forgotten).
#[derive(Default)]
struct Cached {
    stamp: u64,
    cleared: u64,
    user_marks: HashMap<UserId, u64>,
    product_marks: HashMap<ProductId, u64>,
    users: HashMap<UserId, Option<UserAccess>>,
    /// Per user, per product: whether the user holds a role on the product.
    grants: HashMap<UserId, HashMap<ProductId, bool>>,
}

impl Cached {
    /// Whether an answer about `user` (and `product`) looked up since `stamp` is still valid.
    fn valid(&self, stamp: u64, user: UserId, product: Option<ProductId>) -> bool {
        fn mark<K: std::hash::Hash + Eq>(marks: &HashMap<K, u64>, key: K) -> u64 {
            marks.get(&key).copied().unwrap_or(0)
        }
        self.cleared <= stamp
            && mark(&self.user_marks, user) <= stamp
            && product.is_none_or(|p| mark(&self.product_marks, p) <= stamp)
    }
}

impl Cached {
    /// See [`AccessCache::forget`]. (A change naming both users and products is never
    /// recorded; it would forget the users' entries whole.)
    fn forget(&mut self, change: &AccessChanged) {
        self.stamp += 1;
        let stamp = self.stamp;
        match (&change.users, &change.products) {
            (Some(users), _) => {
                for user in users {
                    self.user_marks.insert(*user, stamp);
                    self.users.remove(user);
                    self.grants.remove(user);
                }
            }
            (None, Some(products)) => {
                for product in products {
                    self.product_marks.insert(*product, stamp);
                }
                for grants in self.grants.values_mut() {
                    for product in products {
                        grants.remove(product);
                    }
                }
            }
            (None, None) => {
                self.cleared = stamp;
                self.user_marks.clear();
                self.product_marks.clear();
                self.users.clear();
                self.grants.clear();
            }
        }
    }
}

impl AccessCache {
    pub(crate) fn new(db: Db) -> Self {
        Self {
            grants: GrantBatches::new(db.clone()),
            db,
            cached: Mutex::new(Cached::default()),
        }
    }

    fn cached(&self) -> MutexGuard<'_, Cached> {
        self.cached.lock().expect("access cache")
    }

    /// Forgets what `change` concerns: the named users' flags, global roles and grants; the
    /// named products' grants of every user; or, naming neither, everything.
    pub(crate) fn forget(&self, change: &AccessChanged) {
        self.cached().forget(change);
    }

    /// Whether an answer about `user` is cached (tests check what a change forgets).
    #[doc(hidden)]
    pub fn knows_user(&self, user: UserId) -> bool {
        self.cached().users.contains_key(&user)
    }

    /// The cached answer for (`user`, `product`), if any (tests check what a change forgets).
    #[doc(hidden)]
    pub fn known_grant(&self, user: UserId, product: ProductId) -> Option<bool> {
        self.cached()
            .grants
            .get(&user)
            .and_then(|g| g.get(&product))
            .copied()
    }

    /// The user's flags and global role; `None` when the user does not exist.
    pub(crate) async fn user(&self, user: UserId) -> Result<Option<UserAccess>, DbError> {
        let stamp = {
            let c = self.cached();
            if let Some(found) = c.users.get(&user) {
                return Ok(*found);
            }
            c.stamp
        };
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
                let groups = crate::db::authz::global_roles(c, user).await?;
                Ok(Some(UserAccess {
                    active: row.is_active,
                    superuser: row.is_superuser,
                    global: groups.into_iter().chain(row.global_role).max(),
                }))
            })
            .await?;
        let mut c = self.cached();
        if c.valid(stamp, user, None) {
            c.users.insert(user, found);
        }
        Ok(found)
    }

    /// Whether `user` may read `product` now.
    pub async fn may_read(&self, user: UserId, product: ProductId) -> Result<bool, DbError> {
        let Some(u) = self.user(user).await? else {
            return Ok(false);
        };
        if !u.active {
            return Ok(false);
        }
        if u.reads_all() {
            return Ok(true);
        }
        let stamp = {
            let c = self.cached();
            if let Some(known) = c.grants.get(&user).and_then(|g| g.get(&product)) {
                return Ok(*known);
            }
            c.stamp
        };
        let granted = self.grants.granted(user, product).await?;
        let mut c = self.cached();
        if c.valid(stamp, user, Some(product)) {
            c.grants.entry(user).or_default().insert(product, granted);
        }
        Ok(granted)
    }
}

/// Batches (user, product) questions into one query over `product_grants`: the first question
/// not already waiting opens a batch, and [`BATCH_DELAY`] later one statement answers every
/// question asked meanwhile (the same pair asked twice is asked once). The statement runs on a
/// task of its own, so a subscriber that goes away does not take the answer from the others.
struct GrantBatches {
    db: Db,
    open: Mutex<Option<Batch>>,
}

/// The questions of the batch still collecting them, and where its answer goes.
struct Batch {
    keys: HashSet<(UserId, ProductId)>,
    answer: watch::Sender<Option<Answer>>,
}

/// The pairs of a batch that are granted, or why the statement failed.
type Answer = Result<Arc<HashSet<(UserId, ProductId)>>, String>;

/// How long a batch collects questions.
const BATCH_DELAY: Duration = Duration::from_millis(1);

impl GrantBatches {
    fn new(db: Db) -> Arc<Self> {
        Arc::new(Self {
            db,
            open: Mutex::new(None),
        })
    }

    /// Whether `user` holds a role on `product`, answered with the batch of questions asked
    /// around the same time.
    async fn granted(self: &Arc<Self>, user: UserId, product: ProductId) -> Result<bool, DbError> {
        let mut answer = {
            let mut open = self.open.lock().expect("grant batches");
            match &mut *open {
                Some(batch) => {
                    batch.keys.insert((user, product));
                    batch.answer.subscribe()
                }
                None => {
                    let (tx, rx) = watch::channel(None);
                    *open = Some(Batch {
                        keys: HashSet::from([(user, product)]),
                        answer: tx,
                    });
                    tokio::spawn(self.clone().run());
                    rx
                }
            }
        };
        let answer = answer
            .wait_for(Option::is_some)
            .await
            .map_err(|_| DbError::Unavailable("grant lookup abandoned".into()))?;
        match answer.as_ref().expect("answered") {
            Ok(granted) => Ok(granted.contains(&(user, product))),
            Err(message) => Err(DbError::Unavailable(message.clone())),
        }
    }

    /// Closes the open batch after [`BATCH_DELAY`] and answers it with one statement.
    async fn run(self: Arc<Self>) {
        tokio::time::sleep(BATCH_DELAY).await;
        let Some(batch) = self.open.lock().expect("grant batches").take() else {
            return;
        };
        let keys: Vec<(UserId, ProductId)> = batch.keys.into_iter().collect();
        let answer = grants(&self.db, keys)
            .await
            .map(Arc::new)
            .map_err(|e| e.to_string());
        batch.answer.send_replace(Some(answer));
    }
}

/// Which of the (user, product) `keys` are granted: one statement.
async fn grants(
    db: &Db,
    keys: Vec<(UserId, ProductId)>,
) -> Result<HashSet<(UserId, ProductId)>, DbError> {
    #[derive(QueryableByName)]
    struct Pair {
        #[diesel(sql_type = Integer)]
        user_id: UserId,
        #[diesel(sql_type = Integer)]
        product_id: ProductId,
    }
    let (users, products): (Vec<UserId>, Vec<ProductId>) = keys.into_iter().unzip();
    // Not `Db::read` with an async closure: this runs on a spawned task, and the compiler cannot
    // prove a future that borrows from such a closure `Send`.
    let found: Vec<Pair> = crate::db::read_retrying!(db, |c| async {
        Ok(diesel::sql_query(
            "SELECT DISTINCT g.user_id, g.product_id FROM product_grants g \
             JOIN unnest($1::int[], $2::int[]) AS k(user_id, product_id) \
               ON k.user_id = g.user_id AND k.product_id = g.product_id \
             WHERE g.user_id = ANY($1)",
        )
        .bind::<Array<Integer>, _>(&users)
        .bind::<Array<Integer>, _>(&products)
        .load(&mut c)
        .await?)
    })?;
    Ok(found
        .into_iter()
        .map(|p| (p.user_id, p.product_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOMEONE: Option<UserAccess> = Some(UserAccess {
        active: true,
        superuser: false,
        global: None,
    });

    fn u(id: i32) -> UserId {
        UserId::new(id)
    }

    fn p(id: i32) -> ProductId {
        ProductId::new(id)
    }

    /// A cache knowing users 1 and 2, each granted products 10 and 11.
    fn filled() -> Cached {
        let mut c = Cached::default();
        for user in [u(1), u(2)] {
            c.users.insert(user, SOMEONE);
            c.grants
                .insert(user, HashMap::from([(p(10), true), (p(11), true)]));
        }
        c
    }

    #[test]
    fn a_change_forgets_only_what_it_names() {
        let mut c = filled();
        c.forget(&AccessChanged::roles_of(vec![u(1)]));
        assert!(!c.users.contains_key(&u(1)) && !c.grants.contains_key(&u(1)));
        assert!(c.users.contains_key(&u(2)) && c.grants[&u(2)].len() == 2);

        let mut c = filled();
        c.forget(&AccessChanged::product_moved(p(10)));
        assert!(c.users.contains_key(&u(1)) && c.users.contains_key(&u(2)));
        assert_eq!(c.grants[&u(1)].keys().collect::<Vec<_>>(), [&p(11)]);
        assert_eq!(c.grants[&u(2)].keys().collect::<Vec<_>>(), [&p(11)]);

        let mut c = filled();
        c.forget(&AccessChanged::everything());
        assert!(c.users.is_empty() && c.grants.is_empty());
    }

    #[test]
    fn answers_looked_up_before_a_change_are_not_cached_after_it() {
        let mut c = Cached::default();
        let before = c.stamp;
        c.forget(&AccessChanged::roles_of(vec![u(1)]));
        // Looked up before the change: stale for user 1, still good for user 2.
        assert!(!c.valid(before, u(1), Some(p(10))));
        assert!(c.valid(before, u(2), Some(p(10))));
        // Looked up after it: good.
        assert!(c.valid(c.stamp, u(1), Some(p(10))));

        let before = c.stamp;
        c.forget(&AccessChanged::product_moved(p(10)));
        assert!(!c.valid(before, u(2), Some(p(10))));
        assert!(c.valid(before, u(2), Some(p(11))));
        assert!(c.valid(before, u(2), None));

        let before = c.stamp;
        c.forget(&AccessChanged::everything());
        assert!(!c.valid(before, u(3), None));
        assert!(c.valid(c.stamp, u(3), Some(p(12))));
        assert!(c.user_marks.is_empty() && c.product_marks.is_empty());
    }
}
