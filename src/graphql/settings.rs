//! Settings: each user's notification settings (which event kinds the `notifications`
//! subscription delivers, per product or by default) and the system settings of the
//! engagement jobs.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::{
    context::{db, map_db, principal},
    events::EventKind,
    guards, ids, load,
    product::Product,
};
use crate::{
    db::{authz::Target, notification, system_settings as system},
    domain::{events::EventKind as Kind, ids::NodeKind, rbac::Permission},
    error::ServiceError,
};

/// The event kinds a user gets from the `notifications` subscription for one product, or by
/// default for every product.
pub struct NotificationSettings {
    product: Option<i32>,
    kinds: Vec<Kind>,
    inherited: bool,
}

#[Object]
impl NotificationSettings {
    /// The product these settings are for; null for the user's default.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        match self.product {
            Some(id) => load::product(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The kinds delivered.
    async fn kinds(&self) -> Vec<EventKind> {
        self.kinds
            .iter()
            .filter_map(|k| EventKind::of(*k))
            .collect()
    }
    /// True when nothing was chosen at this level: the kinds come from the user's default or
    /// the server's.
    async fn inherited(&self) -> bool {
        self.inherited
    }
}

/// The engagement jobs' settings.
#[derive(SimpleObject)]
pub struct SystemSettings {
    /// Close IN_PROGRESS engagements automatically once their target end is
    /// `engagementAutoCloseDays` days past (off by default).
    engagement_auto_close: bool,
    engagement_auto_close_days: i32,
}

impl From<system::SystemSettings> for SystemSettings {
    fn from(s: system::SystemSettings) -> Self {
        Self {
            engagement_auto_close: s.engagement_auto_close,
            engagement_auto_close_days: s.engagement_auto_close_days,
        }
    }
}

#[derive(InputObject)]
pub struct UpdateNotificationSettingsInput {
    /// The product; omitted for the caller's default.
    product_id: Option<ID>,
    /// The kinds to deliver; null removes the choice (the default applies again).
    kinds: Option<Vec<EventKind>>,
}

#[derive(SimpleObject)]
pub struct NotificationSettingsPayload {
    notification_settings: NotificationSettings,
}

#[derive(InputObject)]
pub struct UpdateSystemSettingsInput {
    engagement_auto_close: Option<bool>,
    engagement_auto_close_days: Option<i32>,
}

#[derive(SimpleObject)]
pub struct SystemSettingsPayload {
    system_settings: SystemSettings,
}

/// The caller's effective settings for `product` (or its default).
async fn effective(
    ctx: &Context<'_>,
    product: Option<i32>,
) -> async_graphql::Result<NotificationSettings> {
    let user = principal(ctx)?.user_id;
    let all = db(ctx)
        .read(async move |mut c| notification::of_user(&mut c, user).await)
        .await
        .map_err(map_db("User"))?;
    let (kinds, inherited) = match product {
        Some(p) => (all.kinds_for(p).to_vec(), !all.products.contains_key(&p)),
        None => match &all.default {
            Some(k) => (k.clone(), false),
            None => (crate::domain::events::DEFAULT_NOTIFICATIONS.to_vec(), true),
        },
    };
    Ok(NotificationSettings {
        product,
        kinds,
        inherited,
    })
}

/// The product id of an optional input, checked readable (NOT_FOUND otherwise).
async fn readable_product(
    ctx: &Context<'_>,
    id: Option<&ID>,
) -> async_graphql::Result<Option<i32>> {
    let Some(id) = id else { return Ok(None) };
    let p = ids::decode(NodeKind::Product, id)?;
    guards::check(
        ctx,
        "Product",
        (Target::Product(p), Permission::ProductView),
    )
    .await?;
    Ok(Some(p))
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The caller's notification settings for a product (or its default, without
    /// `productId`).
    async fn notification_settings(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
    ) -> async_graphql::Result<NotificationSettings> {
        let product = readable_product(ctx, product_id.as_ref()).await?;
        effective(ctx, product).await
    }

    /// The system settings.
    async fn system_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<SystemSettings> {
        principal(ctx)?;
        let s = db(ctx)
            .read(async move |mut c| system::get(&mut c).await)
            .await
            .map_err(map_db("SystemSettings"))?;
        Ok(s.into())
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Chooses which event kinds the caller's `notifications` subscription delivers for a
    /// product (any product the caller may read) or by default; applies to running
    /// subscriptions at once.
    async fn update_notification_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateNotificationSettingsInput,
    ) -> async_graphql::Result<NotificationSettingsPayload> {
        let product = match &input.product_id {
            Some(id) => Some(ids::decode(NodeKind::Product, id)?),
            None => None,
        };
        let kinds: Option<Vec<Kind>> = input.kinds.map(|k| {
            let mut v: Vec<Kind> = k.into_iter().map(Kind::from).collect();
            v.sort();
            v.dedup();
            v
        });
        let checks = product
            .map(|p| vec![(Target::Product(p), Permission::ProductView)])
            .unwrap_or_default();
        guards::write(ctx, "Product", checks, move |c, p| {
            Box::pin(notification::set(c, p.user_id, product, kinds))
        })
        .await?;
        Ok(NotificationSettingsPayload {
            notification_settings: effective(ctx, product).await?,
        })
    }

    /// Changes the system settings (superusers only).
    async fn update_system_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateSystemSettingsInput,
    ) -> async_graphql::Result<SystemSettingsPayload> {
        guards::superuser(ctx, "change the system settings")?;
        if input
            .engagement_auto_close_days
            .is_some_and(|d| !(0..=3650).contains(&d))
        {
            return Err(ServiceError::bad_input(
                "engagementAutoCloseDays must be between 0 and 3650",
            )
            .into());
        }
        let changes = system::SystemSettingsChanges {
            engagement_auto_close: input.engagement_auto_close,
            engagement_auto_close_days: input.engagement_auto_close_days,
            updated: None,
        };
        let s = guards::write(ctx, "SystemSettings", vec![], move |c, _| {
            Box::pin(system::update(c, changes))
        })
        .await?;
        Ok(SystemSettingsPayload {
            system_settings: s.into(),
        })
    }
}
