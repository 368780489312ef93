//! Notifications: channels (webhook, Slack, Teams, PagerDuty, email), the events they carry,
//! the persistent outbox they are delivered from, and the expiry sweep that makes them due.
//!
//! `event` owns the payload; `channels` the channel settings and secrets; `outbox` enqueueing
//! and delivery with retries; `sweep` the expiry sweep; `senders` renders and sends one
//! delivery per channel kind; `signing` owns the instance's webhook signing key and JWKS.

pub mod channels;
pub mod event;
pub mod outbox;
pub mod senders;
pub mod signing;
pub mod sweep;
