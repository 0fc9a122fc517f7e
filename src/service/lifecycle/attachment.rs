//! Notes and files on engagements, tests and findings. Adding a note needs NOTE_ADD on its
//! parent; attaching or removing a file needs the parent's edit permission, checked once before
//! the upload is read (so a caller who may not attach anything is refused without a byte being
//! read) and again in the write's transaction.

use diesel_async::AsyncPgConnection;
use sha2::{Digest, Sha256};

use crate::{
    auth::{Principal, access},
    db::{
        Db, QueryResult,
        attachment::Attachment,
        authz::Target,
        file::{self, FileMeta, NewFile},
        note::{self, NewNote, Note, NoteChanges},
    },
    domain::{
        ids::{FileId, NoteId},
        rbac::Permission,
    },
    service::{self, Check, ServiceError, ServiceResult, write},
};

/// The engagement, test or finding a note or file is attached to, as a permission target.
fn target(on: Attachment) -> Target {
    match on {
        Attachment::Engagement(id) => Target::Engagement(id),
        Attachment::Test(id) => Target::Test(id),
        Attachment::Finding(id) => Target::Finding(id),
    }
}

/// What a `NOT_FOUND` calls the parent.
fn parent_name(on: Attachment) -> &'static str {
    match on {
        Attachment::Engagement(_) => "Engagement",
        Attachment::Test(_) => "Test",
        Attachment::Finding(_) => "Finding",
    }
}

/// Attaching and removing files needs the edit permission of the parent.
fn edit_permission(on: Attachment) -> Permission {
    match on {
        Attachment::Engagement(_) => Permission::EngagementEdit,
        Attachment::Test(_) => Permission::TestEdit,
        Attachment::Finding(_) => Permission::FindingEdit,
    }
}

/// Adds a note (NOTE_ADD on its parent). The author is the caller unless named; only a
/// superuser may write in someone else's name.
#[tracing::instrument(skip_all, fields(parent = ?new.on))]
pub async fn add_note(db: &Db, principal: &Principal, mut new: NewNote) -> ServiceResult<Note> {
    let author = new.author_id.unwrap_or(principal.user_id);
    if author != principal.user_id && !principal.is_superuser {
        return Err(ServiceError::Forbidden(
            "only a superuser may add a note in another user's name".into(),
        ));
    }
    new.author_id = Some(author);
    let on = new.on;
    write(
        db,
        principal,
        parent_name(on),
        vec![(target(on), Permission::NoteAdd)],
        move |c, _| Box::pin(add_note_in(c, new)),
    )
    .await
}

/// [`add_note`] inside the caller's transaction, unchecked (the parent must exist; it is
/// share-locked).
pub(crate) async fn add_note_in(conn: &mut AsyncPgConnection, new: NewNote) -> QueryResult<Note> {
    new.on.lock(conn).await?;
    note::insert(conn, new).await
}

/// Edits a note (NOTE_EDIT), marking it edited.
#[tracing::instrument(skip_all, fields(note_id = %id))]
pub async fn update_note(
    db: &Db,
    principal: &Principal,
    id: NoteId,
    changes: NoteChanges,
) -> ServiceResult<Note> {
    let checks = vec![(Target::Note(id), Permission::NoteEdit)];
    write(db, principal, "Note", checks, move |c, _| {
        Box::pin(note::update(c, id, changes))
    })
    .await
}

/// Deletes a note (NOTE_DELETE); returns it.
#[tracing::instrument(skip_all, fields(note_id = %id))]
pub async fn delete_note(db: &Db, principal: &Principal, id: NoteId) -> ServiceResult<Note> {
    let checks = vec![(Target::Note(id), Permission::NoteDelete)];
    write(db, principal, "Note", checks, move |c, _| {
        Box::pin(note::delete(c, id))
    })
    .await
}

/// What attaching a file to `on` needs (for checks made before an upload is read, as
/// `graphql::uploads` does): what to call the parent in a `NOT_FOUND`, and the checks.
pub fn upload_checks(on: Attachment) -> (&'static str, Vec<Check>) {
    (parent_name(on), vec![(target(on), edit_permission(on))])
}

/// An uploaded file, read and named.
#[derive(Debug)]
pub struct Upload {
    pub title: String,
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Attaches a file to `on` (the parent's edit permission). `read` reads the upload; it is called
/// only once the caller is known to hold the permission.
#[tracing::instrument(skip_all, fields(parent = ?on))]
pub async fn upload_file(
    db: &Db,
    principal: &Principal,
    on: Attachment,
    read: impl FnOnce() -> ServiceResult<Upload> + Send,
) -> ServiceResult<FileMeta> {
    let (what, checks) = upload_checks(on);
    for check in checks.iter().copied() {
        service::check(db, principal, what, check).await?;
    }
    let upload = read()?;
    let new = NewFile {
        title: upload.title,
        filename: upload.filename,
        content_type: upload.content_type,
        sha256: format!("{:x}", Sha256::digest(&upload.content)),
        content: upload.content,
    };
    write(db, principal, what, checks, move |c, _| {
        Box::pin(async move {
            on.lock(c).await?;
            file::insert(c, on, new).await
        })
    })
    .await
}

/// Deletes a file (the edit permission of what it is attached to); returns its metadata.
#[tracing::instrument(skip_all, fields(file_id = %id))]
pub async fn delete_file(db: &Db, principal: &Principal, id: FileId) -> ServiceResult<FileMeta> {
    write(db, principal, "File", vec![], move |c, p| {
        Box::pin(async move {
            let on = file::parent(c, id).await?;
            access::require(c, &p, Target::File(id), edit_permission(on)).await?;
            file::delete(c, id).await
        })
    })
    .await
}
