//! Global ids as the API shows them: opaque strings encoding a kind and a database id (see
//! `domain::ids`), decoded into the typed id of the kind expected (`decode::<ProductId>`), with
//! `BAD_USER_INPUT` for anything that is not an id of that kind.

use async_graphql::ID;

use crate::{
    domain::ids::{self, TypedId},
    error::{ServiceError, ServiceResult},
};

/// Decodes a global id naming a `T` (BAD_USER_INPUT otherwise).
pub fn decode<T: TypedId>(id: &ID) -> ServiceResult<T> {
    ids::decode_id::<T>(id.as_str()).map_err(|_| {
        ServiceError::bad_input(format!(
            "{:?} is not a valid {} id",
            id.as_str(),
            T::KIND.type_name()
        ))
    })
}

/// Decodes an optional global id naming a `T`.
pub fn decode_opt<T: TypedId>(id: &Option<ID>) -> ServiceResult<Option<T>> {
    id.as_ref().map(decode::<T>).transpose()
}

/// The global id of a typed id.
pub fn encode<T: TypedId>(id: T) -> ID {
    ID(ids::encode_id(id))
}
