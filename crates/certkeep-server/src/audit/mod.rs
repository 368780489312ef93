//! The tamper-evident audit log: every API action (reads, lists, downloads and denied attempts
//! included) becomes an event whose hash covers the previous event's hash, so editing, removing
//! or reordering any event breaks the chain. [`verify`] walks the whole log.

use certkeep_api::{AuditEvent, AuditOutcome};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::{AuditRow, Store, WriteTx};

/// Hash before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append. `detail` must never hold secrets or key material.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub time: OffsetDateTime,
    pub token_id: Option<Uuid>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub request_id: String,
    pub detail: serde_json::Value,
}

pub fn outcome_str(o: AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::Success => "success",
        AuditOutcome::Denied => "denied",
        AuditOutcome::Failed => "failed",
    }
}

fn parse_outcome(s: &str) -> Result<AuditOutcome> {
    match s {
        "success" => Ok(AuditOutcome::Success),
        "denied" => Ok(AuditOutcome::Denied),
        "failed" => Ok(AuditOutcome::Failed),
        other => Err(Error::Internal(format!(
            "stored audit outcome {other:?} is unknown"
        ))),
    }
}

/// SHA-256 over the previous hash and every field of the event, each length-prefixed so no two
/// different events encode the same way.
pub fn event_hash(prev_hash: &str, row: &AuditRow) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut field = |b: &[u8]| {
        ctx.update(&(b.len() as u64).to_be_bytes());
        ctx.update(b);
    };
    field(b"certkeep-audit-v1");
    field(prev_hash.as_bytes());
    field(&row.seq.to_be_bytes());
    field(&row.time_ms.to_be_bytes());
    field(row.token_id.as_deref().unwrap_or("").as_bytes());
    field(&[u8::from(row.token_id.is_some())]);
    field(row.action.as_bytes());
    field(row.target.as_deref().unwrap_or("").as_bytes());
    field(&[u8::from(row.target.is_some())]);
    field(row.outcome.as_bytes());
    field(row.request_id.as_bytes());
    field(row.detail.as_bytes());
    hex::encode(ctx.finish().as_ref())
}

/// Append `ev` inside `tx` (it commits with the action it records).
pub async fn append(store: &Store, tx: &mut WriteTx, ev: NewEvent) -> Result<i64> {
    append_many(store, tx, vec![ev]).await
}

/// Append several events in order inside `tx`, locking and moving the chain head once.
/// Returns the last event's seq.
pub async fn append_many(store: &Store, tx: &mut WriteTx, events: Vec<NewEvent>) -> Result<i64> {
    let (mut seq, mut prev_hash) = store.audit_head_lock(tx).await?;
    if events.is_empty() {
        return Ok(seq);
    }
    let mut rows = Vec::with_capacity(events.len());
    for ev in events {
        let time_ms = i64::try_from(ev.time.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| Error::Internal("audit time out of range".into()))?;
        seq += 1;
        let mut row = AuditRow {
            seq,
            time_ms,
            token_id: ev.token_id.map(|u| u.to_string()),
            action: ev.action,
            target: ev.target,
            outcome: outcome_str(ev.outcome).to_string(),
            request_id: ev.request_id,
            detail: serde_json::to_string(&ev.detail)
                .map_err(|e| Error::Internal(format!("audit detail: {e}")))?,
            hash: String::new(),
        };
        row.hash = event_hash(&prev_hash, &row);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    store.audit_insert_many(tx, &rows).await?;
    Ok(seq)
}

pub fn to_api(row: &AuditRow) -> Result<AuditEvent> {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(row.time_ms) * 1_000_000)
        .map_err(|_| Error::Internal(format!("audit event {} has a bad time", row.seq)))?;
    Ok(AuditEvent {
        seq: row.seq,
        time,
        token_id: row
            .token_id
            .as_deref()
            .map(|s| {
                Uuid::parse_str(s).map_err(|_| {
                    Error::Internal(format!("audit event {} has a bad token id", row.seq))
                })
            })
            .transpose()?,
        action: row.action.clone(),
        target: row.target.clone(),
        outcome: parse_outcome(&row.outcome)?,
        request_id: row.request_id.clone(),
        detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
        hash: row.hash.clone(),
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: i64,
    /// Each broken link, in words; empty when the log is intact.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walk the whole log: sequence without gaps from 1, every hash recomputed from its
/// predecessor, and the chain head matching the last event (a removed tail is detected).
pub async fn verify(store: &Store) -> Result<VerifyReport> {
    const PAGE: u32 = 5000;
    const MAX_PROBLEMS: usize = 100;
    let mut problems = Vec::new();
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut after = 0i64;
    let mut count = 0i64;
    loop {
        let rows = store.audit_list(after, PAGE, None, None).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            count += 1;
            if row.seq != expected_seq && problems.len() < MAX_PROBLEMS {
                problems.push(format!(
                    "event {} follows event {}: events {}..{} are missing",
                    row.seq,
                    expected_seq - 1,
                    expected_seq,
                    row.seq - 1
                ));
            }
            let want = event_hash(&prev_hash, row);
            if want != row.hash && problems.len() < MAX_PROBLEMS {
                problems.push(format!(
                    "event {} ({}) does not match its hash: it or an earlier event was edited, removed or reordered",
                    row.seq, row.action
                ));
            }
            prev_hash = row.hash.clone();
            expected_seq = row.seq + 1;
            after = row.seq;
        }
    }
    let (head_seq, head_hash) = store.audit_head().await?;
    if head_seq != after || (head_seq > 0 && head_hash != prev_hash) {
        problems.push(format!(
            "the chain head says the last event is {head_seq}, but the log ends at {after}: events were removed"
        ));
    }
    Ok(VerifyReport {
        events: count,
        problems,
    })
}
