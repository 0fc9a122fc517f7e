//! Files attached to engagements, tests and findings, stored in Postgres (size-capped upstream).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{QueryResult, attachment::Attachment, authz::Viewer, schema::files, sql::Sql};
use crate::domain::ids::{EngagementId, FileId, FindingId, TestId};

/// A file's metadata (everything but the bytes).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct FileMeta {
    pub id: FileId,
    pub engagement_id: Option<EngagementId>,
    pub test_id: Option<TestId>,
    pub finding_id: Option<FindingId>,
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub size: i32,
    pub sha256: String,
    pub created: DateTime<Utc>,
}

/// Longest title (`files.title` is `VARCHAR(100)`).
pub const TITLE_MAX: usize = 100;
/// Longest file name and content type (`VARCHAR(255)`).
pub const FILENAME_MAX: usize = 255;
pub const CONTENT_TYPE_MAX: usize = 255;

/// A file to store.
#[derive(Debug)]
pub struct NewFile {
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
    pub content: Vec<u8>,
}

/// Stores `new` on `on` (whose existence the caller has checked and locked).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    conn: &mut AsyncPgConnection,
    on: Attachment,
    new: NewFile,
) -> QueryResult<FileMeta> {
    let (e, t, f) = on.ids();
    Ok(diesel::insert_into(files::table)
        .values((
            files::engagement_id.eq(e),
            files::test_id.eq(t),
            files::finding_id.eq(f),
            files::title.eq(new.title),
            files::filename.eq(new.filename),
            files::content_type.eq(new.content_type),
            files::size.eq(new.content.len() as i32),
            files::sha256.eq(new.sha256),
            files::content.eq(new.content),
        ))
        .returning(FileMeta::as_returning())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(conn: &mut AsyncPgConnection, id: FileId) -> QueryResult<FileMeta> {
    Ok(diesel::delete(files::table.find(id))
        .returning(FileMeta::as_returning())
        .get_result(conn)
        .await?)
}

/// What file `id` is attached to; `NotFound` when it does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn parent(conn: &mut AsyncPgConnection, id: FileId) -> QueryResult<Attachment> {
    let (e, t, f): (Option<EngagementId>, Option<TestId>, Option<FindingId>) = files::table
        .find(id)
        .select((files::engagement_id, files::test_id, files::finding_id))
        .get_result(conn)
        .await?;
    Attachment::from_ids(e, t, f).ok_or(super::DbError::NotFound)
}

const META: &str = "SELECT x.id, x.engagement_id, x.test_id, x.finding_id, x.title, x.filename, \
     x.content_type, x.size, x.sha256, x.created";

/// Files by id that `viewer` may read (missing and unreadable ids are both absent).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[FileId],
    viewer: Viewer,
) -> QueryResult<Vec<FileMeta>> {
    let mut sql = Sql::new(&format!("{META} FROM files x WHERE x.id = ANY("));
    sql.bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(ids.to_vec())
        .push(")");
    super::authz::push_attachment_visible(&mut sql, viewer);
    Ok(sql.build().load(conn).await?)
}

/// A file's metadata and bytes, if `viewer` may read it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn content(
    conn: &mut AsyncPgConnection,
    id: FileId,
    viewer: Viewer,
) -> QueryResult<(FileMeta, Vec<u8>)> {
    #[derive(QueryableByName)]
    struct WithContent {
        #[diesel(embed)]
        meta: FileMeta,
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        content: Vec<u8>,
    }
    let mut sql = Sql::new(&format!("{META}, x.content FROM files x WHERE x.id = "));
    sql.bind::<diesel::sql_types::Integer, _>(id);
    super::authz::push_attachment_visible(&mut sql, viewer);
    let row: WithContent = sql.build().get_result(conn).await?;
    Ok((row.meta, row.content))
}

/// Files of many parents, oldest first, in one statement.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn for_parents(
    conn: &mut AsyncPgConnection,
    parents: &[Attachment],
) -> QueryResult<HashMap<Attachment, Vec<FileMeta>>> {
    let (e, t, f) = Attachment::split(parents);
    let rows: Vec<FileMeta> = files::table
        .filter(
            files::engagement_id
                .eq_any(e)
                .or(files::test_id.eq_any(t))
                .or(files::finding_id.eq_any(f)),
        )
        .order(files::id)
        .select(FileMeta::as_select())
        .load(conn)
        .await?;
    Ok(super::group_by(rows, |m| {
        Attachment::from_ids(m.engagement_id, m.test_id, m.finding_id)
    }))
}
