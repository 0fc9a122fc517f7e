//! Notes on engagements, tests and findings. A private note is read only by its author and by
//! those who may edit notes on its product (see `authz::push_private_notes_visible`); every
//! read here takes whose private notes the caller sees.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types::Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{QueryResult, attachment::Attachment, authz::Visibility, schema::notes, sql::Sql};
use crate::domain::ids::{EngagementId, FindingId, NoteId, TestId, UserId};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = notes, check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: NoteId,
    pub engagement_id: Option<EngagementId>,
    pub test_id: Option<TestId>,
    pub finding_id: Option<FindingId>,
    pub entry: String,
    pub author_id: Option<UserId>,
    pub private: bool,
    pub edited: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl Note {
    pub fn attachment(&self) -> Option<Attachment> {
        Attachment::from_ids(self.engagement_id, self.test_id, self.finding_id)
    }
}

/// A new note; its parent is locked and checked by the caller.
#[derive(Debug, Clone)]
pub struct NewNote {
    pub on: Attachment,
    pub entry: String,
    pub private: bool,
    pub author_id: Option<UserId>,
}

/// Changes to a note (left out: kept).
#[derive(Debug, Clone, Default)]
pub struct NoteChanges {
    pub entry: Option<String>,
    pub private: Option<bool>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, new: NewNote) -> QueryResult<Note> {
    let (engagement_id, test_id, finding_id) = new.on.ids();
    Ok(diesel::insert_into(notes::table)
        .values((
            notes::engagement_id.eq(engagement_id),
            notes::test_id.eq(test_id),
            notes::finding_id.eq(finding_id),
            notes::entry.eq(new.entry),
            notes::private.eq(new.private),
            notes::author_id.eq(new.author_id),
        ))
        .returning(Note::as_returning())
        .get_result(conn)
        .await?)
}

/// Applies `changes` and marks the note edited.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: NoteId,
    changes: NoteChanges,
) -> QueryResult<Note> {
    #[derive(AsChangeset)]
    #[diesel(table_name = notes)]
    struct Columns {
        entry: Option<String>,
        private: Option<bool>,
        edited: bool,
        updated: DateTime<Utc>,
    }
    Ok(diesel::update(notes::table.find(id))
        .set(&Columns {
            entry: changes.entry,
            private: changes.private,
            edited: true,
            updated: Utc::now(),
        })
        .returning(Note::as_returning())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(conn: &mut AsyncPgConnection, id: NoteId) -> QueryResult<Note> {
    Ok(diesel::delete(notes::table.find(id))
        .returning(Note::as_returning())
        .get_result(conn)
        .await?)
}

/// Notes by id that `viewer` may read, private ones only as `private` allows (see
/// [`super::authz::push_private_notes_visible`]); missing and unreadable ids are both absent.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[NoteId],
    viewer: super::authz::Viewer,
    private: Visibility,
) -> QueryResult<Vec<Note>> {
    let mut sql = Sql::new("SELECT x.* FROM notes x WHERE x.id = ANY(");
    sql.bind::<diesel::sql_types::Array<Integer>, _>(ids.to_vec())
        .push(")");
    super::authz::push_attachment_visible(&mut sql, viewer);
    super::authz::push_private_notes_visible(&mut sql, private);
    Ok(sql.build().load(conn).await?)
}

/// Notes of many parents (which the caller may read), oldest first, private ones only as
/// `private` allows, in one statement.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn for_parents(
    conn: &mut AsyncPgConnection,
    parents: &[Attachment],
    private: Visibility,
) -> QueryResult<HashMap<Attachment, Vec<Note>>> {
    use diesel::sql_types::Array;
    let (e, t, f) = Attachment::split(parents);
    let mut sql = Sql::new("SELECT x.* FROM notes x WHERE (x.engagement_id = ANY(");
    sql.bind::<Array<Integer>, _>(e)
        .push(") OR x.test_id = ANY(")
        .bind::<Array<Integer>, _>(t)
        .push(") OR x.finding_id = ANY(")
        .bind::<Array<Integer>, _>(f)
        .push("))");
    super::authz::push_private_notes_visible(&mut sql, private);
    sql.push(" ORDER BY x.id");
    let rows: Vec<Note> = sql.build().load(conn).await?;
    Ok(super::group_by(rows, Note::attachment))
}
