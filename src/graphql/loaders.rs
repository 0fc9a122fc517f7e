//! The per-request dataloader. One `PgLoader` implements `Loader<K>` for a key newtype per lookup
//! (Sui's style): rows by id, pages of children for many parents, notes and files per parent, and
//! active-finding counts. Every batch is one SQL statement.

use std::{collections::HashMap, hash::Hash, marker::PhantomData};

use async_graphql::dataloader::Loader;

use crate::domain::{
    Role,
    ids::{ApiTokenId, FileId, GroupId, MembershipId, NoteId, UserId},
};

use super::context::db_error;
use crate::db::{
    Db,
    attachment::Attachment,
    authz::{self, Anchor, Viewer, Visibility},
    counts::{self, CountScope, SeverityCounts},
    file::{self, FileMeta},
    group::{self, GroupMember},
    membership::{self, Membership, On},
    note::{self, Note},
    page::{self, ListArgs, Listed, Page, Wants},
    read_retrying,
};

/// The dataloader attached to each request (caching within that request only; subscriptions
/// do not cache at all).
pub type RequestLoader = async_graphql::dataloader::DataLoader<PgLoader, RequestCache>;

/// A request's cache: a per-request map, or none (for subscriptions, whose events must see
/// objects as they are when delivered).
pub struct RequestCache {
    pub enabled: bool,
}

impl async_graphql::dataloader::CacheFactory for RequestCache {
    fn create<K, V>(&self) -> Box<dyn async_graphql::dataloader::CacheStorage<Key = K, Value = V>>
    where
        K: Send + Sync + Clone + Eq + Hash + 'static,
        V: Send + Sync + Clone + 'static,
    {
        use async_graphql::dataloader::{HashMapCache, NoCache};
        if self.enabled {
            HashMapCache::default().create()
        } else {
            NoCache.create()
        }
    }
}

/// Loads everything the resolvers need, batched, restricted to what the request's caller may
/// read (every statement carries the caller's visibility condition).
pub struct PgLoader {
    db: Db,
    viewer: Viewer,
    /// The caller (whose roles [`RolesOn`] loads).
    user: UserId,
}

impl PgLoader {
    pub fn new(db: Db, viewer: Viewer, user: UserId) -> Self {
        Self { db, viewer, user }
    }
}

type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

fn err(e: crate::db::DbError) -> async_graphql::Error {
    db_error(e, "object").into()
}

/// A row of `T` by its id.
pub struct RowId<T: Listed>(pub T::Id, PhantomData<fn() -> T>);

impl<T: Listed> RowId<T> {
    pub fn new(id: T::Id) -> Self {
        Self(id, PhantomData)
    }
}
impl<T: Listed> Clone for RowId<T> {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}
impl<T: Listed> PartialEq for RowId<T> {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl<T: Listed> Eq for RowId<T> {}
impl<T: Listed> Hash for RowId<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}

impl<T> Loader<RowId<T>> for PgLoader
where
    T: Listed + Clone + Sync,
{
    type Value = T;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[RowId<T>]) -> LoadResult<RowId<T>, T> {
        let ids: Vec<T::Id> = keys.iter().map(|k| k.0).collect();
        let rows = async {
            read_retrying!(self.db, |conn| page::by_ids::<T>(
                &mut conn,
                &ids,
                self.viewer
            ))
        }
        .await
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|r| (RowId::new(r.row_id()), r))
            .collect())
    }
}

/// A page of `T` children of one parent (of `T`'s parent type: `FindingParent::Test(…)`, …),
/// and what the caller reads of it (the list's `totalCount`, which columns).
pub struct Children<T: Listed> {
    pub parent: T::Parent,
    pub args: ListArgs<T::Filter, T::Order>,
    pub wants: Wants,
}

impl<T: Listed> Children<T> {
    pub fn new(parent: T::Parent, args: ListArgs<T::Filter, T::Order>, wants: Wants) -> Self {
        Self {
            parent,
            args,
            wants,
        }
    }
}
impl<T: Listed> Clone for Children<T> {
    fn clone(&self) -> Self {
        Self {
            parent: self.parent,
            args: self.args.clone(),
            wants: self.wants.clone(),
        }
    }
}
impl<T: Listed> PartialEq for Children<T> {
    fn eq(&self, o: &Self) -> bool {
        self.parent == o.parent && self.args == o.args && self.wants == o.wants
    }
}
impl<T: Listed> Eq for Children<T> {}
impl<T: Listed> Hash for Children<T> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.parent.hash(h);
        self.args.hash(h);
        self.wants.hash(h);
    }
}

impl<T> Loader<Children<T>> for PgLoader
where
    T: Listed + Clone + Sync,
{
    type Value = Page<T>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Children<T>]) -> LoadResult<Children<T>, Page<T>> {
        // Siblings usually share their arguments: one statement per distinct (kind of parent,
        // args).
        type Args<T> = ListArgs<<T as Listed>::Filter, <T as Listed>::Order>;
        let mut groups: HashMap<(&Args<T>, &Wants), Vec<T::Parent>> = HashMap::new();
        for k in keys {
            groups
                .entry((&k.args, &k.wants))
                .or_default()
                .push(k.parent);
        }
        async {
            read_retrying!(self.db, |conn| async {
                let mut out = HashMap::new();
                for ((args, wants), parents) in &groups {
                    let pages =
                        page::list_for_parents::<T>(&mut conn, parents, args, wants, self.viewer)
                            .await?;
                    for (parent, page) in pages {
                        out.insert(
                            Children::new(parent, (*args).clone(), (*wants).clone()),
                            page,
                        );
                    }
                }
                Ok(out)
            })
        }
        .await
        .map_err(err)
    }
}

/// Active-finding counts of one parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountsOf(pub CountScope);

impl Loader<CountsOf> for PgLoader {
    type Value = SeverityCounts;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[CountsOf]) -> LoadResult<CountsOf, SeverityCounts> {
        // One statement per kind of parent.
        let scopes: Vec<CountScope> = keys.iter().map(|k| k.0).collect();
        let counts = async {
            read_retrying!(self.db, |conn| counts::active_by_severity(
                &mut conn,
                &scopes,
                self.viewer
            ))
        }
        .await
        .map_err(err)?;
        Ok(counts
            .into_iter()
            .map(|(scope, c)| (CountsOf(scope), c))
            .collect())
    }
}

/// The roles the caller holds on a product (own, group and product-type grants), product type
/// or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RolesOn(pub Anchor);

impl Loader<RolesOn> for PgLoader {
    type Value = Vec<Role>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[RolesOn]) -> LoadResult<RolesOn, Vec<Role>> {
        let (mut products, mut product_types, mut groups) = (Vec::new(), Vec::new(), Vec::new());
        for k in keys {
            match k.0 {
                Anchor::Product(id) => products.push(id),
                Anchor::ProductType(id) => product_types.push(id),
                Anchor::Group(id) => groups.push(id),
            }
        }
        async {
            read_retrying!(self.db, |conn| async {
                let mut out = HashMap::new();
                if !products.is_empty() {
                    for (id, roles) in authz::product_roles(&mut conn, self.user, &products).await?
                    {
                        out.insert(RolesOn(Anchor::Product(id)), roles);
                    }
                }
                if !product_types.is_empty() {
                    for (id, roles) in
                        authz::product_type_roles(&mut conn, self.user, &product_types).await?
                    {
                        out.insert(RolesOn(Anchor::ProductType(id)), roles);
                    }
                }
                if !groups.is_empty() {
                    for (id, role) in authz::group_roles(&mut conn, self.user, &groups).await? {
                        out.insert(RolesOn(Anchor::Group(id)), vec![role]);
                    }
                }
                Ok(out)
            })
        }
        .await
        .map_err(err)
    }
}

/// Defines a loader key `$key($parent)` whose value is every row of that parent, fetched for
/// all keys in one statement by `$fetch(&mut conn, &parents)` (a map by parent).
macro_rules! rows_by_parent {
    ($(#[$doc:meta])* $key:ident($parent:ty) => $row:ty, $fetch:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub $parent);

        impl Loader<$key> for PgLoader {
            type Value = Vec<$row>;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Vec<$row>> {
                let parents: Vec<$parent> = keys.iter().map(|k| k.0).collect();
                let mut found =
                    async { read_retrying!(self.db, |conn| $fetch(&mut conn, &parents)) }
                        .await
                        .map_err(err)?;
                Ok(parents
                    .into_iter()
                    .map(|p| ($key(p), found.remove(&p).unwrap_or_default()))
                    .collect())
            }
        }
    };
}

/// Defines a loader key `$key(id)` whose value is the row with that id that the caller may
/// read, fetched for all keys in one statement by `$fetch(&mut conn, &ids, viewer)`.
macro_rules! row_by_id {
    ($(#[$doc:meta])* $key:ident($id:ty) => $row:ty, $fetch:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub $id);

        impl Loader<$key> for PgLoader {
            type Value = $row;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, $row> {
                let ids: Vec<$id> = keys.iter().map(|k| k.0).collect();
                let rows =
                    async { read_retrying!(self.db, |conn| $fetch(&mut conn, &ids, self.viewer)) }
                        .await
                        .map_err(err)?;
                Ok(rows.into_iter().map(|r| ($key(r.id), r)).collect())
            }
        }
    };
}

/// Notes of one engagement, test or finding, with the private ones the caller may read (whose
/// private notes it sees: `Principal::private_notes`, see [`super::context::private_notes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotesOf(pub Attachment, pub Visibility);

impl Loader<NotesOf> for PgLoader {
    type Value = Vec<Note>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[NotesOf]) -> LoadResult<NotesOf, Vec<Note>> {
        // One request has one caller, so one statement in practice.
        let mut by_private: HashMap<Visibility, Vec<Attachment>> = HashMap::new();
        for k in keys {
            by_private.entry(k.1).or_default().push(k.0);
        }
        async {
            read_retrying!(self.db, |conn| async {
                let mut out = HashMap::new();
                for (private, parents) in &by_private {
                    let mut found = note::for_parents(&mut conn, parents, *private).await?;
                    for p in parents {
                        out.insert(NotesOf(*p, *private), found.remove(p).unwrap_or_default());
                    }
                }
                Ok(out)
            })
        }
        .await
        .map_err(err)
    }
}

/// A note by id, if the caller may read it (private notes as `.1` allows, as for [`NotesOf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoteById(pub NoteId, pub Visibility);

impl Loader<NoteById> for PgLoader {
    type Value = Note;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[NoteById]) -> LoadResult<NoteById, Note> {
        let mut by_private: HashMap<Visibility, Vec<NoteId>> = HashMap::new();
        for k in keys {
            by_private.entry(k.1).or_default().push(k.0);
        }
        async {
            read_retrying!(self.db, |conn| async {
                let mut out = HashMap::new();
                for (private, ids) in &by_private {
                    for n in note::by_ids(&mut conn, ids, self.viewer, *private).await? {
                        out.insert(NoteById(n.id, *private), n);
                    }
                }
                Ok(out)
            })
        }
        .await
        .map_err(err)
    }
}

rows_by_parent!(
    /// Files of one engagement, test or finding.
    FilesOf(Attachment) => FileMeta, file::for_parents
);
rows_by_parent!(
    /// The endpoints of one finding, with the finding's status on each.
    EndpointsOf(crate::domain::ids::FindingId) => crate::db::import::EndpointOfFinding,
    crate::db::import::endpoints_for
);
rows_by_parent!(
    /// The imports into one test, newest first.
    ImportsOf(crate::domain::ids::TestId) => crate::db::import::TestImport,
    crate::db::import::imports_for
);
rows_by_parent!(
    /// What one import did to each finding.
    ActionsOf(i32) => (crate::domain::ids::FindingId, crate::domain::import::ImportAction),
    crate::db::import::actions_for
);
rows_by_parent!(
    /// The memberships held on one product type or product.
    MembersOf(On) => Membership, membership::of_targets
);
rows_by_parent!(
    /// The members of one group.
    GroupMembersOf(GroupId) => GroupMember, group::members_of
);
row_by_id!(
    /// A file's metadata by id.
    FileById(FileId) => FileMeta, file::by_ids
);
row_by_id!(
    /// A membership by id (visible when its product type or product is).
    MembershipById(MembershipId) => Membership, membership::by_ids
);
row_by_id!(
    /// An API token by id (visible to its user and superusers: filtered by the resolver).
    ApiTokenById(ApiTokenId) => crate::db::api_token::ApiToken, api_token_by_ids
);

/// API tokens by id (the viewer does not narrow them: tokens belong to users, not products).
async fn api_token_by_ids(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[ApiTokenId],
    _viewer: Viewer,
) -> crate::db::QueryResult<Vec<crate::db::api_token::ApiToken>> {
    crate::db::api_token::by_ids(conn, ids).await
}
