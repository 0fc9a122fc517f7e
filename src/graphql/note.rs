//! Notes and file attachments on engagements, tests and findings.

use std::io::Read;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use super::{
    context::{db, principal},
    ids,
    input::{IdInput, UploadLimit},
    load,
    reference::User,
};
use crate::{
    db::{
        attachment::Attachment,
        file::{self, FileMeta},
        note::{self as rows, NewNote, NoteChanges},
    },
    domain::{
        self,
        ids::{AnyId, FileId, NoteId, UserId},
    },
    error::{ServiceError, ServiceResult},
    service::{
        Check,
        lifecycle::attachment::{self as lifecycle, Upload as NewUpload},
    },
};

/// A comment on an engagement, test or finding. A private note is shown only to its author, to
/// superusers and to those who may edit notes on its product (WRITER and above); to everyone
/// else it does not exist.
#[derive(Clone)]
pub struct Note(pub rows::Note);

fn parent_id(a: Option<Attachment>) -> Option<ID> {
    a.map(|a| match a {
        Attachment::Engagement(id) => ids::encode(id),
        Attachment::Test(id) => ids::encode(id),
        Attachment::Finding(id) => ids::encode(id),
    })
}

#[Object]
impl Note {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn entry(&self) -> &str {
        &self.0.entry
    }
    async fn private(&self) -> bool {
        self.0.private
    }
    async fn edited(&self) -> bool {
        self.0.edited
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.author_id).await
    }
    /// The global id of the engagement, test or finding the note is on.
    async fn parent_id(&self) -> Option<ID> {
        parent_id(self.0.attachment())
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }
}

/// A file attached to an engagement, test or finding.
#[derive(Clone)]
pub struct File(pub FileMeta);

#[Object]
impl File {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    /// As declared by the uploader (downloads are always served as `application/octet-stream`).
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Size in bytes.
    async fn size(&self) -> i32 {
        self.0.size
    }
    /// SHA-256 of the content, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// Where to download the content (`GET`, served as an attachment).
    async fn download_url(&self) -> String {
        format!("/files/{}", self.0.id)
    }
    /// The global id of the engagement, test or finding the file is on.
    async fn parent_id(&self) -> Option<ID> {
        parent_id(Attachment::from_ids(
            self.0.engagement_id,
            self.0.test_id,
            self.0.finding_id,
        ))
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
}

/// The engagement, test or finding a global id names.
fn attachment(id: &ID) -> ServiceResult<Attachment> {
    let bad = || {
        ServiceError::bad_input(format!(
            "{:?} is not the id of an engagement, test or finding",
            id.as_str()
        ))
    };
    match domain::ids::decode_any(id.as_str()).map_err(|_| bad())? {
        AnyId::Engagement(id) => Ok(Attachment::Engagement(id)),
        AnyId::Test(id) => Ok(Attachment::Test(id)),
        AnyId::Finding(id) => Ok(Attachment::Finding(id)),
        _ => Err(bad()),
    }
}

/// What attaching a file needs, from `uploadFile`'s arguments, before the file is read (see
/// [`super::uploads`]).
pub fn upload_checks(
    arguments: &async_graphql::indexmap::IndexMap<async_graphql::Name, async_graphql::Value>,
) -> ServiceResult<(&'static str, Vec<Check>)> {
    let parent = match arguments.get("input") {
        Some(async_graphql::Value::Object(input)) => match input.get("parentId") {
            Some(async_graphql::Value::String(id)) => ID(id.clone()),
            _ => return Err(ServiceError::bad_input("uploadFile needs input.parentId")),
        },
        _ => return Err(ServiceError::bad_input("uploadFile needs an input")),
    };
    Ok(lifecycle::upload_checks(attachment(&parent)?))
}

/// A note's text: not blank, at most 1 MB.
fn entry(text: &str) -> ServiceResult<String> {
    if text.trim().is_empty() {
        return Err(ServiceError::bad_input("entry must not be empty"));
    }
    if text.len() > 1_000_000 {
        return Err(ServiceError::bad_input("entry must be at most 1 MB"));
    }
    Ok(text.to_string())
}

#[derive(InputObject)]
pub struct AddNoteInput {
    /// An engagement, test or finding.
    parent_id: ID,
    entry: String,
    #[graphql(default)]
    private: bool,
    author_id: Option<ID>,
}

#[derive(InputObject)]
pub struct UpdateNoteInput {
    id: ID,
    entry: Option<String>,
    private: Option<bool>,
}

#[derive(SimpleObject)]
pub struct NotePayload {
    note: Note,
}

impl TryFrom<AddNoteInput> for NewNote {
    type Error = ServiceError;

    fn try_from(input: AddNoteInput) -> ServiceResult<Self> {
        Ok(NewNote {
            on: attachment(&input.parent_id)?,
            entry: entry(&input.entry)?,
            private: input.private,
            author_id: ids::decode_opt::<UserId>(&input.author_id)?,
        })
    }
}

impl TryFrom<UpdateNoteInput> for NoteChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateNoteInput) -> ServiceResult<Self> {
        Ok(NoteChanges {
            entry: input.entry.as_deref().map(entry).transpose()?,
            private: input.private,
        })
    }
}

#[derive(InputObject)]
pub struct UploadFileInput {
    /// An engagement, test or finding.
    parent_id: ID,
    /// Defaults to the file name.
    title: Option<String>,
    /// The file, as a GraphQL multipart request part.
    file: Upload,
}

#[derive(SimpleObject)]
pub struct FilePayload {
    file: File,
}

#[derive(SimpleObject)]
pub struct DeleteAttachmentPayload {
    deleted_id: ID,
}

/// Reads an upload of at most `limit` bytes and names it.
fn read_upload(
    ctx: &Context<'_>,
    file: Upload,
    title: Option<String>,
    limit: usize,
) -> ServiceResult<NewUpload> {
    let unreadable =
        |e: std::io::Error| ServiceError::bad_input(format!("cannot read the upload: {e}"));
    let upload = file.value(ctx).map_err(unreadable)?;
    let content_type = upload
        .content_type
        .clone()
        .filter(|t| t.len() <= file::CONTENT_TYPE_MAX)
        .unwrap_or_else(|| "application/octet-stream".into());
    let filename = domain::clean_name("filename", &upload.filename, file::FILENAME_MAX)?;
    let mut content = Vec::new();
    upload
        .into_read()
        .take(limit as u64 + 1)
        .read_to_end(&mut content)
        .map_err(unreadable)?;
    if content.len() > limit {
        return Err(ServiceError::PayloadTooLarge(format!(
            "files must be at most {limit} bytes"
        )));
    }
    let title = match title {
        Some(t) => domain::clean_name("title", &t, file::TITLE_MAX)?,
        None => filename.chars().take(file::TITLE_MAX).collect(),
    };
    Ok(NewUpload {
        title,
        filename,
        content_type,
        content,
    })
}

#[derive(Default)]
pub struct NoteMutation;

#[Object]
impl NoteMutation {
    async fn add_note(
        &self,
        ctx: &Context<'_>,
        input: AddNoteInput,
    ) -> async_graphql::Result<NotePayload> {
        let new = input.try_into()?;
        let row = lifecycle::add_note(db(ctx), principal(ctx)?, new).await?;
        Ok(NotePayload { note: Note(row) })
    }

    async fn update_note(
        &self,
        ctx: &Context<'_>,
        input: UpdateNoteInput,
    ) -> async_graphql::Result<NotePayload> {
        let id = ids::decode::<NoteId>(&input.id)?;
        let changes = input.try_into()?;
        let row = lifecycle::update_note(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(NotePayload { note: Note(row) })
    }

    async fn delete_note(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeleteAttachmentPayload> {
        let id = ids::decode::<NoteId>(&input.id)?;
        lifecycle::delete_note(db(ctx), principal(ctx)?, id).await?;
        Ok(DeleteAttachmentPayload {
            deleted_id: input.id,
        })
    }

    /// Attaches a file (GraphQL multipart request); larger than the upload limit →
    /// PAYLOAD_TOO_LARGE.
    async fn upload_file(
        &self,
        ctx: &Context<'_>,
        input: UploadFileInput,
    ) -> async_graphql::Result<FilePayload> {
        let on = attachment(&input.parent_id)?;
        let limit = ctx
            .data_opt::<UploadLimit>()
            .map(|l| l.0)
            .unwrap_or(10 * 1024 * 1024);
        // Read only once the caller may attach files here.
        let read = || read_upload(ctx, input.file, input.title, limit);
        let row = lifecycle::upload_file(db(ctx), principal(ctx)?, on, read).await?;
        Ok(FilePayload { file: File(row) })
    }

    async fn delete_file(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeleteAttachmentPayload> {
        let id = ids::decode::<FileId>(&input.id)?;
        lifecycle::delete_file(db(ctx), principal(ctx)?, id).await?;
        Ok(DeleteAttachmentPayload {
            deleted_id: input.id,
        })
    }
}
