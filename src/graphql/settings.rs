//! Settings: each user's notification settings (which event kinds the `notifications`
//! subscription delivers, per product or by default) and the system settings of the
//! engagement jobs.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::{
    context::{db, principal},
    events::EventKind,
    ids, load,
    product::Product,
};
use crate::{
    db::system_settings as system,
    domain::{events::EventKind as Kind, ids::ProductId},
    service::settings as service,
};

/// The event kinds a user gets from the `notifications` subscription for one product, or by
/// default for every product.
pub struct NotificationSettings(service::NotificationSettings);

#[Object]
impl NotificationSettings {
    /// The product these settings are for; null for the user's default.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        match self.0.product {
            Some(id) => load::product(ctx, id).await,
            None => Ok(None),
        }
    }
    /// The kinds delivered.
    async fn kinds(&self) -> Vec<EventKind> {
        self.0
            .kinds
            .iter()
            .filter_map(|k| EventKind::of(*k))
            .collect()
    }
    /// True when nothing was chosen at this level: the kinds come from the user's default or
    /// the server's.
    async fn inherited(&self) -> bool {
        self.0.inherited
    }
}

/// System-wide settings: the engagement jobs and deduplication.
#[derive(SimpleObject)]
pub struct SystemSettings {
    /// Close IN_PROGRESS engagements automatically once their target end is
    /// `engagementAutoCloseDays` days past (off by default).
    engagement_auto_close: bool,
    engagement_auto_close_days: i32,
    /// Deduplicate imported findings against their product (on by default).
    enable_deduplication: bool,
}

impl From<system::SystemSettings> for SystemSettings {
    fn from(s: system::SystemSettings) -> Self {
        Self {
            engagement_auto_close: s.engagement_auto_close,
            engagement_auto_close_days: s.engagement_auto_close_days,
            enable_deduplication: s.enable_deduplication,
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
    enable_deduplication: Option<bool>,
}

#[derive(SimpleObject)]
pub struct SystemSettingsPayload {
    system_settings: SystemSettings,
}

impl From<UpdateSystemSettingsInput> for system::SystemSettingsChanges {
    fn from(input: UpdateSystemSettingsInput) -> Self {
        Self {
            engagement_auto_close: input.engagement_auto_close,
            engagement_auto_close_days: input.engagement_auto_close_days,
            updated: None,
            enable_deduplication: input.enable_deduplication,
        }
    }
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
        let product = ids::decode_opt::<ProductId>(&product_id)?;
        let settings = service::notification_settings(db(ctx), principal(ctx)?, product).await?;
        Ok(NotificationSettings(settings))
    }

    /// The system settings.
    async fn system_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<SystemSettings> {
        Ok(service::system_settings(db(ctx), principal(ctx)?)
            .await?
            .into())
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
        let product = ids::decode_opt::<ProductId>(&input.product_id)?;
        let kinds = input.kinds.map(|k| k.into_iter().map(Kind::from).collect());
        let settings =
            service::update_notification_settings(db(ctx), principal(ctx)?, product, kinds).await?;
        Ok(NotificationSettingsPayload {
            notification_settings: NotificationSettings(settings),
        })
    }

    /// Changes the system settings (superusers only).
    async fn update_system_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateSystemSettingsInput,
    ) -> async_graphql::Result<SystemSettingsPayload> {
        let s = service::update_system_settings(db(ctx), principal(ctx)?, input.into()).await?;
        Ok(SystemSettingsPayload {
            system_settings: s.into(),
        })
    }
}
