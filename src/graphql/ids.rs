//! Global ids as the API shows them: opaque strings encoding a kind and a database id (see
//! `domain::ids`), decoded with `BAD_USER_INPUT` for anything that is not an id of the kind
//! expected.

use async_graphql::ID;

use crate::{
    domain::ids::{self, NodeKind},
    error::{ServiceError, ServiceResult},
};

/// Decodes a global id of `kind` (BAD_USER_INPUT otherwise).
pub fn decode(kind: NodeKind, id: &ID) -> ServiceResult<i32> {
    ids::decode_as(kind, id.as_str()).map_err(|_| {
        ServiceError::bad_input(format!(
            "{:?} is not a valid {} id",
            id.as_str(),
            kind.type_name()
        ))
    })
}

/// Decodes an optional global id of `kind`.
pub fn decode_opt(kind: NodeKind, id: &Option<ID>) -> ServiceResult<Option<i32>> {
    id.as_ref().map(|i| decode(kind, i)).transpose()
}

pub fn encode(kind: NodeKind, id: i32) -> ID {
    ID(ids::encode(kind, id))
}
