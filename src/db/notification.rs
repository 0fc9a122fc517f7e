//! Notification settings: the event kinds a user wants from the `notifications` subscription,
//! per product or as the user's default.

use std::collections::HashMap;

use diesel::{
    QueryableByName,
    sql_types::{Array, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::QueryResult;
use crate::domain::{
    events::{EventKind, SettingsChanged},
    ids::{ProductId, UserId},
};

/// A user's choices: the default one and per-product ones (`None` where not chosen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSettings {
    pub default: Option<Vec<EventKind>>,
    pub products: HashMap<ProductId, Vec<EventKind>>,
}

impl UserSettings {
    /// The kinds wanted for events of `product`: the product's choice, else the user's
    /// default, else the server's default.
    pub fn kinds_for(&self, product: ProductId) -> &[EventKind] {
        self.products
            .get(&product)
            .or(self.default.as_ref())
            .map(Vec::as_slice)
            .unwrap_or(crate::domain::events::DEFAULT_NOTIFICATIONS)
    }

    /// Applies a change announced by `NOTIFICATION_SETTINGS_CHANGED`.
    pub fn apply(&mut self, change: &SettingsChanged) {
        match (change.product_id, &change.kinds) {
            (None, kinds) => self.default = kinds.clone(),
            (Some(p), Some(kinds)) => {
                self.products.insert(p, kinds.clone());
            }
            (Some(p), None) => {
                self.products.remove(&p);
            }
        }
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Integer>)]
    product_id: Option<ProductId>,
    #[diesel(sql_type = Array<Text>)]
    kinds: Vec<String>,
}

fn parse(kinds: Vec<String>) -> Vec<EventKind> {
    kinds.iter().filter_map(|k| k.parse().ok()).collect()
}

/// Everything `user` chose.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_user(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<UserSettings> {
    let rows: Vec<Row> =
        diesel::sql_query("SELECT product_id, kinds FROM notification_settings WHERE user_id = $1")
            .bind::<Integer, _>(user)
            .load(conn)
            .await?;
    let mut out = UserSettings::default();
    for r in rows {
        match r.product_id {
            None => out.default = Some(parse(r.kinds)),
            Some(p) => {
                out.products.insert(p, parse(r.kinds));
            }
        }
    }
    Ok(out)
}

/// Sets (or, with `kinds` `None`, removes) `user`'s choice for `product` (its default when
/// `None`). The write only: `service::settings` announces it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set(
    conn: &mut AsyncPgConnection,
    user: UserId,
    product: Option<ProductId>,
    kinds: Option<&[EventKind]>,
) -> QueryResult<()> {
    match kinds {
        Some(k) => {
            let names: Vec<String> = k.iter().map(|k| k.as_str().to_string()).collect();
            diesel::sql_query(
                "INSERT INTO notification_settings (user_id, product_id, kinds) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, COALESCE(product_id, 0)) \
                 DO UPDATE SET kinds = EXCLUDED.kinds, updated = now()",
            )
            .bind::<Integer, _>(user)
            .bind::<Nullable<Integer>, _>(product)
            .bind::<Array<Text>, _>(names)
            .execute(conn)
            .await?;
        }
        None => {
            diesel::sql_query(
                "DELETE FROM notification_settings WHERE user_id = $1 \
                 AND product_id IS NOT DISTINCT FROM $2",
            )
            .bind::<Integer, _>(user)
            .bind::<Nullable<Integer>, _>(product)
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}
