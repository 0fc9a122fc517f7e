//! Notes on engagements, tests and findings. A private note is read only by its author and by
//! those who may edit notes on its product (see `authz::push_private_notes_visible`); every
//! read here takes whose private notes the caller sees.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types::Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{DbError, QueryResult, authz::Visibility, schema::notes, sql::Sql};

/// What a note or file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attachment {
    Engagement(i32),
    Test(i32),
    Finding(i32),
}

impl Attachment {
    pub fn id(self) -> i32 {
        match self {
            Attachment::Engagement(id) | Attachment::Test(id) | Attachment::Finding(id) => id,
        }
    }

    /// The column holding this kind of parent.
    pub fn column(self) -> &'static str {
        match self {
            Attachment::Engagement(_) => "engagement_id",
            Attachment::Test(_) => "test_id",
            Attachment::Finding(_) => "finding_id",
        }
    }

    fn ids(self) -> (Option<i32>, Option<i32>, Option<i32>) {
        match self {
            Attachment::Engagement(id) => (Some(id), None, None),
            Attachment::Test(id) => (None, Some(id), None),
            Attachment::Finding(id) => (None, None, Some(id)),
        }
    }

    /// The ids of `parents` by kind: engagements, tests, findings.
    pub fn split(parents: &[Attachment]) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
        let (mut e, mut t, mut f) = (Vec::new(), Vec::new(), Vec::new());
        for p in parents {
            match p {
                Attachment::Engagement(id) => e.push(*id),
                Attachment::Test(id) => t.push(*id),
                Attachment::Finding(id) => f.push(*id),
            }
        }
        (e, t, f)
    }

    pub fn from_ids(
        engagement: Option<i32>,
        test: Option<i32>,
        finding: Option<i32>,
    ) -> Option<Self> {
        match (engagement, test, finding) {
            (Some(id), _, _) => Some(Attachment::Engagement(id)),
            (_, Some(id), _) => Some(Attachment::Test(id)),
            (_, _, Some(id)) => Some(Attachment::Finding(id)),
            _ => None,
        }
    }

    /// Fails with `ParentNotFound` unless the parent exists (and share-locks it).
    pub async fn lock(self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        let (table, what) = match self {
            Attachment::Engagement(_) => ("engagements", "engagement"),
            Attachment::Test(_) => ("tests", "test"),
            Attachment::Finding(_) => ("findings", "finding"),
        };
        let mut sql = Sql::new(&format!("SELECT id FROM {table} WHERE id = "));
        sql.bind::<Integer, _>(self.id()).push(" FOR SHARE");
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = Integer)]
            #[allow(dead_code)]
            id: i32,
        }
        sql.build()
            .get_result::<Id>(conn)
            .await
            .optional()?
            .ok_or(DbError::ParentNotFound(what))?;
        Ok(())
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = notes, check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: i32,
    pub engagement_id: Option<i32>,
    pub test_id: Option<i32>,
    pub finding_id: Option<i32>,
    pub entry: String,
    pub author_id: Option<i32>,
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

pub async fn create(
    conn: &mut AsyncPgConnection,
    on: Attachment,
    entry: String,
    private: bool,
    author_id: Option<i32>,
) -> QueryResult<Note> {
    on.lock(conn).await?;
    let (engagement_id, test_id, finding_id) = on.ids();
    Ok(diesel::insert_into(notes::table)
        .values((
            notes::engagement_id.eq(engagement_id),
            notes::test_id.eq(test_id),
            notes::finding_id.eq(finding_id),
            notes::entry.eq(entry),
            notes::private.eq(private),
            notes::author_id.eq(author_id),
        ))
        .returning(Note::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i32,
    entry: Option<String>,
    private: Option<bool>,
) -> QueryResult<Note> {
    #[derive(AsChangeset)]
    #[diesel(table_name = notes)]
    struct Changes {
        entry: Option<String>,
        private: Option<bool>,
        edited: bool,
        updated: DateTime<Utc>,
    }
    Ok(diesel::update(notes::table.find(id))
        .set(&Changes {
            entry,
            private,
            edited: true,
            updated: Utc::now(),
        })
        .returning(Note::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<Note> {
    Ok(diesel::delete(notes::table.find(id))
        .returning(Note::as_returning())
        .get_result(conn)
        .await?)
}

/// Notes by id that `viewer` may read, private ones only as `private` allows (see
/// [`super::authz::push_private_notes_visible`]); missing and unreadable ids are both absent.
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[i32],
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
