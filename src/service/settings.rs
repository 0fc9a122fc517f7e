//! Settings: each user's notification settings (which event kinds the `notifications`
//! subscription delivers, per product or by default; a change is announced to the user's
//! running subscriptions) and the system settings of the engagement jobs.

use super::{Check, ServiceError, ServiceResult, check, map_db, superuser, write};
use crate::{
    auth::Principal,
    db::{
        Db,
        authz::Target,
        notification, outbox,
        system_settings::{self as system, SystemSettings, SystemSettingsChanges},
    },
    domain::{
        events::{DEFAULT_NOTIFICATIONS, EventKind, NewEvent, SettingsChanged},
        ids::ProductId,
        rbac::Permission,
    },
};

/// The longest auto-close delay accepted, in days.
pub const AUTO_CLOSE_DAYS_MAX: i32 = 3650;

/// The event kinds a user gets for one product, or by default for every product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    /// The product; `None` for the user's default.
    pub product: Option<ProductId>,
    pub kinds: Vec<EventKind>,
    /// Nothing was chosen at this level: the kinds come from the user's default or the
    /// server's.
    pub inherited: bool,
}

/// The permission to choose notifications for `product`: reading it (NOT_FOUND otherwise).
fn readable(product: Option<ProductId>) -> Option<Check> {
    product.map(|p| (Target::Product(p), Permission::ProductView))
}

/// The caller's effective settings for `product` (any product it may read), or its default.
#[tracing::instrument(skip_all, fields(product = ?product))]
pub async fn notification_settings(
    db: &Db,
    principal: &Principal,
    product: Option<ProductId>,
) -> ServiceResult<NotificationSettings> {
    if let Some(c) = readable(product) {
        check(db, principal, "Product", c).await?;
    }
    effective(db, principal, product).await
}

/// Chooses the event kinds the caller's `notifications` subscription delivers for `product`
/// (any product it may read) or by default; `None` removes the choice (the default applies
/// again). Announced to the caller's running subscriptions at once.
#[tracing::instrument(skip_all, fields(product = ?product))]
pub async fn update_notification_settings(
    db: &Db,
    principal: &Principal,
    product: Option<ProductId>,
    kinds: Option<Vec<EventKind>>,
) -> ServiceResult<NotificationSettings> {
    let kinds = kinds.map(|mut v| {
        v.sort();
        v.dedup();
        v
    });
    let checks = readable(product).into_iter().collect();
    write(db, principal, "Product", checks, move |c, p| {
        Box::pin(async move {
            notification::set(c, p.user_id, product, kinds.as_deref()).await?;
            let change = SettingsChanged {
                user_id: p.user_id,
                product_id: product,
                kinds,
            };
            outbox::record(c, &NewEvent::settings_changed(&change)).await
        })
    })
    .await?;
    effective(db, principal, product).await
}

/// The caller's settings for `product` (or its default), with what they inherit.
async fn effective(
    db: &Db,
    principal: &Principal,
    product: Option<ProductId>,
) -> ServiceResult<NotificationSettings> {
    let user = principal.user_id;
    let all = db
        .read(async move |c| notification::of_user(c, user).await)
        .await
        .map_err(map_db("User"))?;
    let (kinds, inherited) = match product {
        Some(p) => (all.kinds_for(p).to_vec(), !all.products.contains_key(&p)),
        None => match &all.default {
            Some(k) => (k.clone(), false),
            None => (DEFAULT_NOTIFICATIONS.to_vec(), true),
        },
    };
    Ok(NotificationSettings {
        product,
        kinds,
        inherited,
    })
}

/// The system settings (any authenticated caller).
#[tracing::instrument(skip_all)]
pub async fn system_settings(db: &Db, _principal: &Principal) -> ServiceResult<SystemSettings> {
    db.read(async move |c| system::get(c).await)
        .await
        .map_err(map_db("SystemSettings"))
}

/// Changes the system settings (superusers only); the auto-close delay is 0 to
/// [`AUTO_CLOSE_DAYS_MAX`] days.
#[tracing::instrument(skip_all)]
pub async fn update_system_settings(
    db: &Db,
    principal: &Principal,
    changes: SystemSettingsChanges,
) -> ServiceResult<SystemSettings> {
    superuser(principal, "change the system settings")?;
    if changes
        .engagement_auto_close_days
        .is_some_and(|d| !(0..=AUTO_CLOSE_DAYS_MAX).contains(&d))
    {
        return Err(ServiceError::bad_input(format!(
            "engagementAutoCloseDays must be between 0 and {AUTO_CLOSE_DAYS_MAX}"
        )));
    }
    write(db, principal, "SystemSettings", vec![], move |c, _| {
        Box::pin(system::update(c, changes))
    })
    .await
}
