//! Authentication: API tokens (`Authorization: Token <key>` as DefectDojo clients send it, or
//! `Bearer <key>`) resolved to a [`Principal`]. Tokens are 160 random bits, shown once, and only
//! their SHA-256 is stored, so a database leak does not leak usable tokens.
//!
//! Authorization ([`access`]) builds on the principal: what it may read is a
//! [`Visibility`] every query applies in SQL; what it may do is checked per mutation against the
//! roles it holds where the mutation acts.

pub mod access;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{
    db::{
        self, Db, DbError,
        authz::{Viewer, Visibility},
    },
    domain::{
        Role,
        ids::{ApiTokenId, UserId},
        rbac::Permission,
    },
};

/// Who is making a request. Built per request (per websocket operation), so a revoked token,
/// role or membership takes effect on the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    pub is_superuser: bool,
    /// The highest global role of the user and its groups.
    pub global_role: Option<Role>,
    /// When the token used expires (a websocket is closed then).
    pub expires_at: Option<DateTime<Utc>>,
    /// The token that authenticated this principal; `None` for principals built without one
    /// (the CLI, jobs, tests). Tokens created by this principal record it as their parent.
    pub token_id: Option<ApiTokenId>,
}

impl Principal {
    /// A principal for `user` with the given global roles (its own and its groups').
    pub fn new(user: db::user::User, global_roles: &[Role]) -> Self {
        Principal {
            user_id: user.id,
            username: user.username,
            is_superuser: user.is_superuser,
            global_role: global_roles.iter().copied().max(),
            expires_at: None,
            token_id: None,
        }
    }

    /// The expiry of a token this principal creates, given the `requested` one. A token created
    /// through a token never outlives it: without a request it inherits the parent's expiry
    /// (none when the parent has none), and a request later than the parent's expiry is refused
    /// (the message, safe to show, names that expiry) rather than silently shortened.
    pub fn child_token_expiry(
        &self,
        requested: Option<DateTime<Utc>>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        match (requested, self.expires_at) {
            (None, parent) => Ok(parent),
            (Some(r), Some(parent)) if r > parent => Err(format!(
                "expiresAt must not be later than {}, when the token this request uses expires: \
                 a token created through another token cannot outlive it",
                parent.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            (Some(r), _) => Ok(Some(r)),
        }
    }

    /// The products (and everything below them) this principal may read.
    pub fn visibility(&self) -> Visibility {
        if self.is_superuser || self.global_role.is_some() {
            Visibility::All
        } else {
            Visibility::Member(self.user_id)
        }
    }

    /// The groups this principal may read: group permissions come only from membership in the
    /// group (reference §7.1, 6), so global roles do not widen this.
    pub fn group_visibility(&self) -> Visibility {
        if self.is_superuser {
            Visibility::All
        } else {
            Visibility::Member(self.user_id)
        }
    }

    /// Whose private notes this principal reads besides what [`Self::viewer`] shows: every
    /// one for a superuser or a global role that allows
    /// [`Permission::READ_PRIVATE_NOTES`]; otherwise its own and those on products where its
    /// roles allow that permission (see `authz::push_private_notes_visible`).
    pub fn private_notes(&self) -> Visibility {
        if self.is_superuser
            || self
                .global_role
                .is_some_and(|g| g.allows(Permission::READ_PRIVATE_NOTES))
        {
            Visibility::All
        } else {
            Visibility::Member(self.user_id)
        }
    }

    /// What this principal may read.
    pub fn viewer(&self) -> Viewer {
        Viewer {
            products: self.visibility(),
            groups: self.group_visibility(),
        }
    }

    /// Creating product types needs a global MAINTAINER or OWNER role, or a superuser.
    pub fn may_add_product_types(&self) -> bool {
        self.is_superuser || self.global_role.is_some_and(Role::may_add_product_types)
    }

    /// Test types are shared by every tenant: only superusers create them (by naming a new one
    /// in `createTest`); everyone else picks an existing one.
    pub fn may_add_test_types(&self) -> bool {
        self.is_superuser
    }
}

/// The prefix of every token (makes leaked tokens easy to recognize in logs and scanners).
pub const TOKEN_PREFIX: &str = "dojoql_";

/// A new random token: `dojoql_` + 40 hex digits.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{TOKEN_PREFIX}{hex}"))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// The key in an `Authorization` header value: `Token <key>` or `Bearer <key>` (scheme
/// case-insensitive). `None` for any other shape.
pub fn parse_authorization(value: &str) -> Option<&str> {
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    let scheme_ok = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    (scheme_ok && !key.is_empty() && !key.contains(char::is_whitespace)).then_some(key)
}

/// Why a presented credential was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("malformed Authorization header (use `Token <key>` or `Bearer <key>`)")]
    Malformed,
    #[error("invalid, expired or revoked token")]
    Invalid,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Resolves an `Authorization` header value to its principal.
pub async fn authenticate(db: &Db, header: &str) -> Result<Principal, AuthError> {
    let key = parse_authorization(header).ok_or(AuthError::Malformed)?;
    let hash = hash_token(key);
    let token = db
        .read(async move |c| db::api_token::authenticate(c, &hash).await)
        .await?
        .ok_or(AuthError::Invalid)?;
    let mut principal = Principal::new(token.user, &token.global_roles);
    principal.expires_at = token.expires_at;
    principal.token_id = Some(token.token_id);
    Ok(principal)
}

/// Creates a user with a first token named `name` in one transaction; returns the user and the
/// token (the only time it is visible). Used by `dojoql create-user` to bootstrap access.
pub async fn create_user_with_token(
    db: &Db,
    new: db::user::NewUser,
    token_name: &str,
) -> anyhow::Result<(db::user::User, String)> {
    let token = generate_token().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let hash = hash_token(&token);
    let token_name = token_name.to_string();
    let user = db
        .write(move |c| {
            Box::pin(async move {
                let user = db::user::create(c, new).await?;
                db::api_token::create(
                    c,
                    db::api_token::NewApiToken {
                        user_id: user.id,
                        name: token_name,
                        token_hash: hash,
                        expires_at: None,
                        created_by_token_id: None,
                    },
                )
                .await?;
                Ok(user)
            })
        })
        .await
        .map_err(|e| match e {
            DbError::Unique { .. } => anyhow::anyhow!("a user with this username already exists"),
            other => anyhow::anyhow!("cannot create the user: {other}"),
        })?;
    Ok((user, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 40);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn tokens_created_through_a_token_do_not_outlive_it() {
        let user = db::user::User {
            id: UserId::new(1),
            username: "u".into(),
            email: None,
            first_name: None,
            last_name: None,
            created: Utc::now(),
            is_active: true,
            is_superuser: false,
            global_role: None,
        };
        let mut p = Principal::new(user, &[]);
        let parent = Utc::now() + chrono::Duration::hours(1);
        let earlier = parent - chrono::Duration::minutes(1);
        let later = parent + chrono::Duration::minutes(1);
        // Without an expiring parent, the request stands.
        assert_eq!(p.child_token_expiry(None), Ok(None));
        assert_eq!(p.child_token_expiry(Some(later)), Ok(Some(later)));
        p.token_id = Some(ApiTokenId::new(7));
        p.expires_at = Some(parent);
        assert_eq!(p.child_token_expiry(None), Ok(Some(parent)));
        assert_eq!(p.child_token_expiry(Some(earlier)), Ok(Some(earlier)));
        assert_eq!(p.child_token_expiry(Some(parent)), Ok(Some(parent)));
        let refused = p.child_token_expiry(Some(later)).unwrap_err();
        assert!(
            refused.contains(&parent.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            "{refused}"
        );
    }

    #[test]
    fn parses_token_and_bearer_schemes() {
        assert_eq!(parse_authorization("Token abc"), Some("abc"));
        assert_eq!(parse_authorization("bearer  abc "), Some("abc"));
        assert_eq!(parse_authorization("Basic abc"), None);
        assert_eq!(parse_authorization("Token"), None);
        assert_eq!(parse_authorization("Token a b"), None);
    }
}
