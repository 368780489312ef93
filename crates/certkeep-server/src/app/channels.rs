//! Use-cases of notification channels: create, read, change, delete, test, delivery history.
//! Managers change channels; readers list and test them. A group-limited token reaches only
//! the channels scoped to its group.

use base64::Engine;
use certkeep_api::{
    ChannelInfo, ChannelList, ChannelTestResult, CreateChannelRequest, CreatedChannel,
    DeliveryInfo, DeliveryPage, DeliveryQuery, DeliveryStatus, MAX_PAGE_LIMIT, Role,
    UpdateChannelRequest,
};
use serde_json::json;
use tracing::instrument;
use uuid::Uuid;

use super::{App, RequestCtx, actions, whole_second};
use crate::authz::Principal;
use crate::error::{Error, Result};
use crate::notify::channels::{self, UrlPolicy};
use crate::notify::event::EventType;
use crate::notify::outbox::{self, STATUS_DELIVERED, STATUS_FAILED, STATUS_PENDING};
use crate::notify::senders::SendResult;
use crate::store::{ChannelRecord, OutboxRecord, WriteTx};

fn status_of(s: &str) -> Result<DeliveryStatus> {
    match s {
        STATUS_PENDING => Ok(DeliveryStatus::Pending),
        STATUS_DELIVERED => Ok(DeliveryStatus::Delivered),
        STATUS_FAILED => Ok(DeliveryStatus::Failed),
        other => Err(Error::Internal(format!(
            "stored delivery status {other:?} is unknown"
        ))),
    }
}

fn status_str(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => STATUS_PENDING,
        DeliveryStatus::Delivered => STATUS_DELIVERED,
        DeliveryStatus::Failed => STATUS_FAILED,
    }
}

fn delivery_info(o: &OutboxRecord) -> Result<DeliveryInfo> {
    let (certificates, summary) = outbox::stored_outline(&o.payload).unwrap_or_default();
    let status = status_of(&o.status)?;
    Ok(DeliveryInfo {
        id: o.id,
        channel_id: o.channel_id,
        event: o.event_type.clone(),
        status,
        attempts: o.attempts,
        certificates,
        summary,
        last_error: o.last_error.clone(),
        last_status_code: o.last_status_code,
        created_at: o.created_at,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(o.next_attempt_at),
        delivered_at: o.delivered_at,
    })
}

impl App {
    fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_http: self.policy.allow_http_channels,
        }
    }

    /// A channel the caller may see; others' are "not found".
    async fn visible_channel(&self, p: &Principal, id: Uuid) -> Result<ChannelRecord> {
        self.store
            .channel_get(id)
            .await?
            .filter(|c| p.reaches_group(c.scope_group.as_deref()))
            .ok_or_else(|| Error::NotFound(format!("notification channel {id} not found")))
    }

    async fn lock_channel(
        &self,
        tx: &mut WriteTx,
        p: &Principal,
        id: Uuid,
        what: &str,
    ) -> Result<ChannelRecord> {
        let c = self
            .store
            .channel_get_for_update(tx, id)
            .await?
            .filter(|c| p.reaches_group(c.scope_group.as_deref()))
            .ok_or_else(|| Error::NotFound(format!("notification channel {id} not found")))?;
        p.require(Role::Manager, c.scope_group.as_deref(), what)?;
        Ok(c)
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn channel_create(
        &self,
        ctx: &RequestCtx,
        req: CreateChannelRequest,
    ) -> Result<CreatedChannel> {
        const ACTION: &str = actions::CHANNEL_CREATE;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let id = Uuid::now_v7();
        let target = id.to_string();
        let result = async {
            let mut req = req;
            // A group-limited manager makes channels about its own group.
            if let Some(mine) = &p.group {
                let scope = req.scope.get_or_insert_with(Default::default);
                if scope.group.is_none() {
                    scope.group = Some(mine.clone());
                }
            }
            let scope_group = req.scope.as_ref().and_then(|s| s.group.clone());
            p.require(
                Role::Manager,
                scope_group.as_deref(),
                "creating notification channels",
            )?;
            let (rec, secret) = channels::build_new(
                id,
                &req,
                &self.keyring,
                self.url_policy(),
                whole_second(ctx.now),
            )?;
            let mut tx = self.store.begin_write().await?;
            self.store.channel_insert(&mut tx, &rec).await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name, "kind": rec.kind, "events": rec.events}),
            )
            .await?;
            tx.commit().await?;
            Ok(CreatedChannel {
                channel: channels::to_api(&rec)?,
                secret,
            })
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn channel_list(&self, ctx: &RequestCtx) -> Result<ChannelList> {
        const ACTION: &str = actions::CHANNEL_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            p.require(
                Role::Reader,
                p.group.as_deref(),
                "listing notification channels",
            )?;
            let items = self
                .store
                .channel_list(p.group.as_deref())
                .await?
                .iter()
                .map(channels::to_api)
                .collect::<Result<Vec<_>>>()?;
            Ok(ChannelList { items })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, channel = %id))]
    pub async fn channel_get(&self, ctx: &RequestCtx, id: Uuid) -> Result<ChannelInfo> {
        const ACTION: &str = actions::CHANNEL_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(
                Role::Reader,
                p.group.as_deref(),
                "reading notification channels",
            )?;
            channels::to_api(&self.visible_channel(&p, id).await?)
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, channel = %id))]
    pub async fn channel_update(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: UpdateChannelRequest,
    ) -> Result<ChannelInfo> {
        const ACTION: &str = actions::CHANNEL_UPDATE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let mut tx = self.store.begin_write().await?;
            let mut rec = self
                .lock_channel(&mut tx, &p, id, "changing notification channels")
                .await?;
            channels::apply_update(
                &mut rec,
                &req,
                &self.keyring,
                self.url_policy(),
                whole_second(ctx.now),
            )?;
            p.require(
                Role::Manager,
                rec.scope_group.as_deref(),
                "scoping a channel to another group",
            )?;
            self.store.channel_update(&mut tx, &rec).await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name, "enabled": rec.enabled}),
            )
            .await?;
            tx.commit().await?;
            channels::to_api(&rec)
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, channel = %id))]
    pub async fn channel_delete(&self, ctx: &RequestCtx, id: Uuid) -> Result<()> {
        const ACTION: &str = actions::CHANNEL_DELETE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let mut tx = self.store.begin_write().await?;
            let rec = self
                .lock_channel(&mut tx, &p, id, "deleting notification channels")
                .await?;
            // Checked under the channel's lock, in the transaction that deletes it: no
            // provider can start using it in between (the database's key backs this up).
            let users = self.store.dns_providers_using_channel(&mut tx, id).await?;
            if !users.is_empty() {
                let names: Vec<String> = users
                    .iter()
                    .map(|u| format!("{:?} ({})", u.name, u.id))
                    .collect();
                return Err(Error::Conflict(format!(
                    "notification channel {:?} is used by the callback DNS provider{} {}; delete {} first",
                    rec.name,
                    if users.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    if users.len() == 1 { "it" } else { "them" },
                )));
            }
            self.store.channel_delete(&mut tx, id).await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name}),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Send a `channel.test` event now and report what the receiver said. The attempt is kept
    /// in the channel's delivery history.
    #[instrument(skip_all, fields(request_id = %ctx.request_id, channel = %id))]
    pub async fn channel_test(&self, ctx: &RequestCtx, id: Uuid) -> Result<ChannelTestResult> {
        const ACTION: &str = actions::CHANNEL_TEST;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(
                Role::Reader,
                p.group.as_deref(),
                "testing notification channels",
            )?;
            let channel = self.visible_channel(&p, id).await?;
            let now = whole_second(ctx.now);
            let n = outbox::notification(&channel, EventType::ChannelTest, Vec::new(), now);
            let record = outbox::pending_record(&n)?;
            // A test that is disabled still tells the truth: send regardless of `enabled`.
            let mut sendable = channel.clone();
            sendable.enabled = true;
            self.refresh_signing_keys().await?;
            let answer = outbox::attempt(self, Some(&sendable), &record, now).await;
            let (delivered, status_code, detail) = match &answer {
                SendResult::Delivered { status, detail } => (true, *status, detail.clone()),
                SendResult::Retry { status, error, .. } | SendResult::Failed { status, error } => {
                    (false, *status, error.clone())
                }
            };
            let u = outbox::after_attempt(&record, &answer, now);
            let mut stored = record.clone();
            stored.status = if delivered {
                STATUS_DELIVERED
            } else {
                STATUS_FAILED
            }
            .to_string();
            stored.attempts = u.attempts;
            stored.last_error = u.last_error;
            stored.last_status_code = u.last_status_code;
            stored.delivered_at = u.delivered_at;
            let mut tx = self.store.begin_write().await?;
            self.store.outbox_insert(&mut tx, &stored).await?;
            tx.commit().await?;
            Ok(ChannelTestResult {
                delivered,
                status_code,
                detail,
                delivery_id: record.id,
            })
        }
        .await;
        let detail = match &result {
            Ok(r) => json!({"delivered": r.delivered, "status_code": r.status_code}),
            Err(_) => json!({}),
        };
        self.finish_read(ctx, &p, ACTION, Some(&target), result, detail)
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, channel = %id))]
    pub async fn channel_deliveries(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        q: DeliveryQuery,
    ) -> Result<DeliveryPage> {
        const ACTION: &str = actions::CHANNEL_DELIVERIES;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading delivery history")?;
            self.visible_channel(&p, id).await?;
            let limit = q.limit.unwrap_or(100);
            if limit == 0 || limit > MAX_PAGE_LIMIT {
                return Err(Error::InvalidInput(format!(
                    "`limit` is {limit}; it must be between 1 and {MAX_PAGE_LIMIT}"
                )));
            }
            let before = q.cursor.as_deref().map(decode_cursor).transpose()?;
            let rows = self
                .store
                .outbox_list(id, q.status.map(status_str), before, limit + 1)
                .await?;
            let more = rows.len() > limit as usize;
            let rows = &rows[..rows.len().min(limit as usize)];
            Ok(DeliveryPage {
                next_cursor: if more {
                    rows.last().map(encode_cursor)
                } else {
                    None
                },
                items: rows.iter().map(delivery_info).collect::<Result<_>>()?,
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// The latest notifications about certificate `id` (50, newest first, each once a worker
    /// has attempted it): a group-limited token sees those of its group's channels.
    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_notifications(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
    ) -> Result<DeliveryPage> {
        const ACTION: &str = actions::CERTIFICATE_NOTIFICATIONS;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(
                Role::Reader,
                p.group.as_deref(),
                "reading notification history",
            )?;
            self.visible_certificate(&p, id).await?;
            let rows = self
                .store
                .certificate_deliveries(id, p.group.as_deref(), 50)
                .await?;
            Ok(DeliveryPage {
                items: rows.iter().map(delivery_info).collect::<Result<_>>()?,
                next_cursor: None,
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// The public keys that sign webhook bodies, as a JWKS (no authentication: receivers fetch it).
    /// Read from the database first: another replica may have rotated them.
    pub async fn notification_jwks(&self) -> serde_json::Value {
        if let Err(e) = self.refresh_signing_keys().await {
            tracing::warn!(error = %e, "cannot reload the webhook signing keys; serving those loaded");
        }
        self.signing_keys().jwks()
    }

    /// Replace the webhook signing key. The old key stays in the JWKS (one rotation deep) so
    /// receivers keep verifying what replicas sign until they reload the keys (before each
    /// batch of deliveries they send).
    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn notification_signing_key_rotate(
        &self,
        ctx: &RequestCtx,
    ) -> Result<serde_json::Value> {
        const ACTION: &str = actions::SIGNING_KEY_ROTATE;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            p.require(Role::Admin, None, "rotating the webhook signing key")?;
            let (new, pkcs8) = crate::notify::signing::Signer::generate()?;
            let sealed = super::seal_signing_key(&self.keyring, &pkcs8)?;
            let mut tx = self.store.begin_write().await?;
            let current = self
                .store
                .setting_get_in(&mut tx, super::SIGNING_KEY_SETTING)
                .await?
                .ok_or_else(|| Error::Internal("no signing key is stored".into()))?;
            self.store
                .setting_put(&mut tx, super::SIGNING_KEY_PREVIOUS_SETTING, &current)
                .await?;
            self.store
                .setting_put(&mut tx, super::SIGNING_KEY_SETTING, &sealed)
                .await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                None,
                json!({"kid": new.kid()}),
            )
            .await?;
            tx.commit().await?;
            self.refresh_signing_keys().await?;
            Ok(self.signing_keys().jwks())
        }
        .await;
        self.finish_write(ctx, &p, ACTION, None, result, json!({}))
            .await
    }
}

fn encode_cursor(o: &OutboxRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        o.created_at.unix_timestamp(),
        o.id
    ))
}

fn decode_cursor(s: &str) -> Result<(i64, String)> {
    let bad = || Error::InvalidInput("`cursor` is not a cursor returned by this listing".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (t, id) = text.split_once(':').ok_or_else(bad)?;
    let t: i64 = t.parse().map_err(|_| bad())?;
    Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((t, id.to_string()))
}
