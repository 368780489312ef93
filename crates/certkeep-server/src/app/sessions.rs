//! Web UI sessions. Signing in exchanges an API token for a random session secret (the cookie);
//! the token is kept sealed beside the session, and every page calls the use-cases with it, so
//! the UI is authorized and audited exactly like the API. A revoked or expired token ends its
//! sessions at their next use.

use base64::Engine;
use certkeep_api::Role;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tracing::instrument;
use zeroize::Zeroizing;

use super::{App, RequestCtx, whole_second};
use crate::authz;
use crate::error::{Error, Result};
use crate::store::SessionRecord;

pub const SESSION_CREATE: &str = "session.create";
pub const SESSION_DELETE: &str = "session.delete";

/// How long a session lasts (never beyond its token's expiry).
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

const BEARER_CONTEXT: &str = "ui-session-token";

/// A new session: the cookie secret (shown to the browser only) and when it ends. No `Debug`:
/// the secret is the session.
pub struct NewSession {
    pub secret: Zeroizing<String>,
    pub expires_at: OffsetDateTime,
}

/// A live session, resolved from its cookie. No `Debug`: it holds the API token.
pub struct Session {
    /// The API token the user signed in with; pass it as the bearer of every use-case.
    pub bearer: Zeroizing<String>,
    /// Expected in every form the session posts.
    pub csrf: String,
    pub token_name: String,
    pub role: Role,
    pub group: Option<String>,
    pub expires_at: OffsetDateTime,
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::Internal("cannot draw random bytes".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl App {
    /// Sign in with the bearer token of `ctx`: audited as `session.create`.
    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn session_create(&self, ctx: &RequestCtx) -> Result<NewSession> {
        let p = self.authenticate(ctx, SESSION_CREATE, None).await?;
        let result = async {
            let bearer = ctx
                .bearer
                .as_deref()
                .ok_or_else(|| Error::Unauthenticated("no token given".into()))?;
            let token = self
                .store
                .token_get(p.token_id)
                .await?
                .ok_or_else(|| Error::Unauthenticated("the token no longer exists".into()))?;
            let mut expires_at = whole_second(ctx.now + SESSION_LIFETIME);
            if let Some(t) = token.expires_at {
                expires_at = expires_at.min(t);
            }
            let secret = Zeroizing::new(random_token()?);
            let rec = SessionRecord {
                id_hash: authz::hash_secret(&secret),
                token_id: p.token_id,
                bearer_sealed: self.keyring.seal(BEARER_CONTEXT, bearer.as_bytes())?,
                csrf: random_token()?,
                created_at: whole_second(ctx.now),
                expires_at,
            };
            let mut tx = self.store.begin_write().await?;
            self.store.session_prune(&mut tx, ctx.now).await?;
            self.store.session_insert(&mut tx, &rec).await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                SESSION_CREATE,
                Some(&p.token_id.to_string()),
                json!({"expires_at": super::rfc3339(expires_at)}),
            )
            .await?;
            tx.commit().await?;
            Ok(NewSession { secret, expires_at })
        }
        .await;
        self.finish_write(ctx, &p, SESSION_CREATE, None, result, json!({}))
            .await
    }

    /// The live session behind cookie `secret` at `now`, or `None` (unknown, expired, or its
    /// token was revoked or expired: then the session is removed).
    pub async fn session_resolve(
        &self,
        secret: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>> {
        let hash = authz::hash_secret(secret);
        let Some(rec) = self.store.session_get(&hash).await? else {
            return Ok(None);
        };
        let token = self.store.token_get(rec.token_id).await?;
        let token = token.filter(|t| {
            t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now) && rec.expires_at > now
        });
        let bearer = token
            .as_ref()
            .and_then(|_| self.keyring.open(BEARER_CONTEXT, &rec.bearer_sealed).ok())
            .and_then(|b| String::from_utf8(b.to_vec()).ok());
        let (Some(token), Some(bearer)) = (token, bearer) else {
            let mut tx = self.store.begin_write().await?;
            self.store.session_delete(&mut tx, &hash).await?;
            tx.commit().await?;
            return Ok(None);
        };
        Ok(Some(Session {
            bearer: Zeroizing::new(bearer),
            csrf: rec.csrf,
            token_name: token.name,
            role: token.role,
            group: token.group,
            expires_at: rec.expires_at,
        }))
    }

    /// Sign out: end the session behind cookie `secret`; audited as `session.delete`.
    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn session_end(&self, ctx: &RequestCtx, secret: &str) -> Result<()> {
        let p = self.authenticate(ctx, SESSION_DELETE, None).await?;
        let mut tx = self.store.begin_write().await?;
        self.store
            .session_delete(&mut tx, &authz::hash_secret(secret))
            .await?;
        self.record_in(
            &mut tx,
            ctx,
            Some(&p),
            SESSION_DELETE,
            Some(&p.token_id.to_string()),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
