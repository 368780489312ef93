//! Instance settings (key/value): the root key id the data was sealed with, the sealed webhook
//! signing keys.

use sqlx::Row;

use super::{Store, WriteTx};
use crate::error::Result;

impl Store {
    pub async fn setting_get(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.reader())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?),
            None => None,
        })
    }

    /// Insert `key` = `value` unless the key exists; returns the stored value either way.
    pub async fn setting_init(&self, tx: &mut WriteTx, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut **tx)
            .await?;
        Ok(row.try_get::<String, _>(0)?)
    }

    /// Read a setting inside a write transaction.
    pub async fn setting_get_in(&self, tx: &mut WriteTx, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?),
            None => None,
        })
    }

    /// Set `key` = `value`, replacing what was there.
    pub async fn setting_put(&self, tx: &mut WriteTx, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
