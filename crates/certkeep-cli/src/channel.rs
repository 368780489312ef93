//! `certkeep channel …`: notification channels (webhook, Slack, Teams, PagerDuty, e-mail), their
//! test events and delivery history, and the JWKS receivers verify webhook signatures with.

use std::collections::BTreeMap;
use std::path::Path;

use certkeep_api::{
    ChannelInfo, ChannelKind, ChannelScope, ChannelTestResult, Client, CreateChannelRequest,
    DeliveryInfo, DeliveryPage, DeliveryQuery, DeliveryStatus, SmtpConfig, UpdateChannelRequest,
};
use serde::Serialize;

use crate::args::{
    ChannelCommand, ChannelCreateArgs, ChannelSettingsArgs, ChannelUpdateArgs, DeliveriesArgs,
    OutputFormat,
};
use crate::error::CliError;
use crate::input::{check_single_stdin, parse_labels, read_secret_file};
use crate::output::{
    KeyValues, Table, note, opt_str, print_json, print_text, sanitize, time, yes_no,
};

/// Longest LAST ERROR cell of the deliveries table, in characters; JSON has the whole text.
const LAST_ERROR_CHARS: usize = 60;

pub async fn run(
    client: &Client,
    output: OutputFormat,
    cmd: ChannelCommand,
) -> Result<(), CliError> {
    match cmd {
        ChannelCommand::Create(args) => create(client, output, *args).await,
        ChannelCommand::List => {
            let list = client.channel_list().await?;
            match output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => {
                    let table = channels_table(&list.items);
                    print_text(&table.render())?;
                    if table.is_empty() {
                        note("no channels");
                    }
                    Ok(())
                }
            }
        }
        ChannelCommand::Get(a) => {
            let info = client.channel_get(a.id).await?;
            print_channel(output, &info)
        }
        ChannelCommand::Update(args) => update(client, output, *args).await,
        ChannelCommand::Delete(a) => {
            client.channel_delete(a.id).await?;
            // The API answers 204 without a body, so JSON output has nothing to print.
            if output == OutputFormat::Table {
                print_text(&format!("deleted channel {}\n", a.id))?;
            }
            Ok(())
        }
        ChannelCommand::Test(a) => {
            let result = client.channel_test(a.id).await?;
            match output {
                OutputFormat::Json => print_json(&result)?,
                OutputFormat::Table => print_text(&test_result(&result).render())?,
            }
            if result.delivered {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "the test event was not delivered: {}",
                    sanitize(&result.detail)
                )))
            }
        }
        ChannelCommand::Deliveries(args) => deliveries(client, output, args).await,
        ChannelCommand::Jwks => {
            // A JSON document in either output format: it is what receivers configure.
            let jwks = client.notification_jwks().await?;
            print_json(&jwks)
        }
        ChannelCommand::RotateSigningKey => {
            let jwks = client.notification_signing_key_rotate().await?;
            print_json(&jwks)
        }
    }
}

/// The options shared by create and update, with files read and labels parsed. No `Debug`:
/// it holds secrets.
#[derive(Default)]
struct Settings {
    url: Option<String>,
    secret: Option<String>,
    routing_key: Option<String>,
    events_url: Option<String>,
    smtp: Option<SmtpConfig>,
    from: Option<String>,
    to: Vec<String>,
    events: Option<Vec<String>>,
    group: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    thresholds: Option<Vec<String>>,
    expired_hour: Option<u8>,
}

impl Settings {
    fn read(s: &ChannelSettingsArgs) -> Result<Settings, CliError> {
        let files: [(&str, Option<&Path>); 4] = [
            ("--secret-file", s.secret_file.as_deref()),
            ("--routing-key-file", s.routing_key_file.as_deref()),
            ("--smtp-password-file", s.smtp_password_file.as_deref()),
            ("--smtp-ca-file", s.smtp_ca_file.as_deref()),
        ];
        check_single_stdin(files.iter().filter_map(|(n, p)| Some((*n, (*p)?))))?;
        let from_file = |what: &str, path: &Option<std::path::PathBuf>, trim: bool| {
            path.as_deref()
                .map(|p| read_secret_file(what, p, trim))
                .transpose()
        };
        let secret = match &s.secret {
            Some(v) => Some(v.clone()),
            None => from_file("webhook secret", &s.secret_file, true)?,
        };
        let routing_key = match &s.routing_key {
            Some(v) => Some(v.clone()),
            None => from_file("routing key", &s.routing_key_file, true)?,
        };
        let smtp_password = match &s.smtp_password {
            Some(v) => Some(v.clone()),
            None => from_file("SMTP password", &s.smtp_password_file, false)?,
        };
        let smtp_ca = from_file("SMTP CA certificates", &s.smtp_ca_file, false)?;
        // clap makes every other --smtp-* option require --smtp-host.
        let smtp = s.smtp_host.as_ref().map(|host| SmtpConfig {
            host: host.clone(),
            port: s.smtp_port,
            tls: s.smtp_tls.map(Into::into).unwrap_or_default(),
            username: s.smtp_username.clone(),
            password: smtp_password,
            ca_pem: smtp_ca,
        });
        let labels = if s.label.is_empty() {
            None
        } else {
            Some(parse_labels(&s.label)?)
        };
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        Ok(Settings {
            url: s.webhook_url.clone(),
            secret,
            routing_key,
            events_url: s.events_url.clone(),
            smtp,
            from: s.from.clone(),
            to: s.to.clone(),
            events: non_empty(&s.event),
            group: s.group.clone(),
            labels,
            thresholds: non_empty(&s.threshold),
            expired_hour: s.expired_hour,
        })
    }
}

/// Which kinds an endpoint option applies to, and whether it was given.
fn endpoint_options(s: &ChannelSettingsArgs) -> [(&'static str, bool, &'static [ChannelKind]); 6] {
    use ChannelKind::{Email, Pagerduty, Slack, Teams, Webhook};
    [
        (
            "--webhook-url",
            s.webhook_url.is_some(),
            &[Webhook, Slack, Teams],
        ),
        (
            "--secret",
            s.secret.is_some() || s.secret_file.is_some(),
            &[Webhook],
        ),
        (
            "--routing-key",
            s.routing_key.is_some() || s.routing_key_file.is_some(),
            &[Pagerduty],
        ),
        ("--events-url", s.events_url.is_some(), &[Pagerduty]),
        ("--smtp-host", s.smtp_host.is_some(), &[Email]),
        (
            "--from/--to",
            s.from.is_some() || !s.to.is_empty(),
            &[Email],
        ),
    ]
}

/// Refuse endpoint options of another kind, and a kind without the endpoint it needs: both
/// are usage errors, caught before any request.
fn check_kind(kind: ChannelKind, s: &ChannelSettingsArgs) -> Result<(), CliError> {
    for (option, given, kinds) in endpoint_options(s) {
        if given && !kinds.contains(&kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            return Err(CliError::local(format!(
                "{option} does not apply to --kind {} (only to {})",
                kind.as_str(),
                names.join(", ")
            )));
        }
    }
    let mut missing = Vec::new();
    match kind {
        ChannelKind::Webhook | ChannelKind::Slack | ChannelKind::Teams => {
            if s.webhook_url.is_none() {
                missing.push("--webhook-url");
            }
        }
        ChannelKind::Pagerduty => {
            if s.routing_key.is_none() && s.routing_key_file.is_none() {
                missing.push("--routing-key (or --routing-key-file)");
            }
        }
        ChannelKind::Email => {
            if s.smtp_host.is_none() {
                missing.push("--smtp-host");
            }
            if s.from.is_none() {
                missing.push("--from");
            }
            if s.to.is_empty() {
                missing.push("--to");
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CliError::local(format!(
            "--kind {} needs {}",
            kind.as_str(),
            missing.join(", ")
        )))
    }
}

async fn create(
    client: &Client,
    output: OutputFormat,
    args: ChannelCreateArgs,
) -> Result<(), CliError> {
    let kind: ChannelKind = args.kind.into();
    check_kind(kind, &args.settings)?;
    let s = Settings::read(&args.settings)?;
    let scope = (s.group.is_some() || s.labels.is_some()).then(|| ChannelScope {
        group: s.group,
        labels: s.labels.unwrap_or_default(),
    });
    let req = CreateChannelRequest {
        name: args.name,
        kind: Some(kind),
        enabled: args.disabled.then_some(false),
        url: s.url,
        secret: s.secret,
        routing_key: s.routing_key,
        events_url: s.events_url,
        smtp: s.smtp,
        email_from: s.from,
        email_to: s.to,
        events: s.events,
        scope,
        thresholds: s.thresholds,
        expired_hour_utc: s.expired_hour,
    };
    let created = client.channel_create(&req).await?;
    match output {
        OutputFormat::Json => print_json(&created),
        OutputFormat::Table => {
            let mut text = channel_info(&created.channel).render();
            if let Some(secret) = &created.secret {
                note("Channel created. Its signing secret is shown only now: store it safely.");
                text.push_str("\nsigning secret (shown once):\n");
                // Alone on the last line, so `… | tail -n 1` captures exactly the secret.
                text.push_str(secret);
                text.push('\n');
            }
            print_text(&text)
        }
    }
}

async fn update(
    client: &Client,
    output: OutputFormat,
    args: ChannelUpdateArgs,
) -> Result<(), CliError> {
    let s = Settings::read(&args.settings)?;
    let enabled = match (args.enable, args.disable) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let mut req = UpdateChannelRequest {
        name: args.name,
        enabled,
        url: s.url,
        secret: s.secret,
        routing_key: s.routing_key,
        events_url: s.events_url,
        smtp: s.smtp,
        email_from: s.from,
        email_to: (!s.to.is_empty()).then_some(s.to),
        events: s.events,
        scope: None,
        thresholds: s.thresholds,
        expired_hour_utc: s.expired_hour,
    };
    let scope_given = s.group.is_some() || s.labels.is_some() || args.clear_labels;
    if req == UpdateChannelRequest::default() && !scope_given {
        return Err(CliError::local(
            "nothing to update: give --name, --enable, --disable or a channel option \
             (see `certkeep channel update --help`)",
        ));
    }
    if scope_given {
        // The API replaces the scope as a whole: keep the half that was not given.
        let current = client.channel_get(args.id).await?.scope;
        let group = match s.group {
            Some(g) if g.is_empty() => None,
            Some(g) => Some(g),
            None => current.group,
        };
        let labels = if args.clear_labels {
            BTreeMap::new()
        } else {
            s.labels.unwrap_or(current.labels)
        };
        req.scope = Some(ChannelScope { group, labels });
    }
    let info = client.channel_update(args.id, &req).await?;
    print_channel(output, &info)
}

/// JSON output of `deliveries --all`: every item.
#[derive(Serialize)]
struct AllItems<'a> {
    items: &'a [DeliveryInfo],
}

async fn deliveries(
    client: &Client,
    output: OutputFormat,
    args: DeliveriesArgs,
) -> Result<(), CliError> {
    let mut query = DeliveryQuery {
        status: args.status.map(Into::into),
        limit: args.limit,
        cursor: args.cursor,
    };
    if !args.all {
        let page = client.channel_deliveries(args.id, &query).await?;
        return match output {
            OutputFormat::Json => print_json(&page),
            OutputFormat::Table => {
                print_deliveries_table(&page.items)?;
                if let Some(c) = &page.next_cursor {
                    note(&format!("more deliveries: add --cursor {c} (or --all)"));
                }
                Ok(())
            }
        };
    }
    let mut items = Vec::new();
    loop {
        let DeliveryPage {
            items: page,
            next_cursor,
        } = client.channel_deliveries(args.id, &query).await?;
        items.extend(page);
        match next_cursor {
            // Guard against a server that does not advance: stop instead of looping forever.
            Some(c) if query.cursor.as_deref() != Some(c.as_str()) => query.cursor = Some(c),
            _ => break,
        }
    }
    match output {
        OutputFormat::Json => print_json(&AllItems { items: &items }),
        OutputFormat::Table => print_deliveries_table(&items),
    }
}

pub(crate) fn print_deliveries_table(items: &[DeliveryInfo]) -> Result<(), CliError> {
    let table = deliveries_table(items);
    print_text(&table.render())?;
    if table.is_empty() {
        note("no deliveries");
    }
    Ok(())
}

fn deliveries_table(items: &[DeliveryInfo]) -> Table {
    let mut t = Table::new(&[
        "ID",
        "EVENT",
        "STATUS",
        "ATTEMPTS",
        "CODE",
        "CREATED",
        "LAST ERROR",
    ]);
    for d in items {
        t.row(vec![
            d.id.to_string(),
            d.event.clone(),
            delivery_status(d.status).to_string(),
            d.attempts.to_string(),
            d.last_status_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            time(d.created_at),
            truncate(&opt_str(d.last_error.as_deref()), LAST_ERROR_CHARS),
        ]);
    }
    t
}

fn delivery_status(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

/// At most `max` characters of `s` (escaped first, so an escape is never cut in half), with
/// `…` marking a cut.
fn truncate(s: &str, max: usize) -> String {
    let s = sanitize(s);
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn channels_table(items: &[ChannelInfo]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "KIND", "ENABLED", "ENDPOINT", "EVENTS"]);
    for c in items {
        t.row(vec![
            c.id.to_string(),
            c.name.clone(),
            c.kind.as_str().to_string(),
            yes_no(c.enabled).to_string(),
            c.endpoint.clone(),
            list_or_dash(&c.events),
        ]);
    }
    t
}

fn print_channel(output: OutputFormat, info: &ChannelInfo) -> Result<(), CliError> {
    match output {
        OutputFormat::Json => print_json(info),
        OutputFormat::Table => print_text(&channel_info(info).render()),
    }
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// Which certificates the channel is about, in words.
fn scope_description(scope: &ChannelScope) -> String {
    let mut parts = Vec::new();
    if let Some(g) = &scope.group {
        parts.push(format!("group {g}"));
    }
    if !scope.labels.is_empty() {
        let l: Vec<String> = scope
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.push(format!("labels {}", l.join(", ")));
    }
    if parts.is_empty() {
        "all certificates".into()
    } else {
        parts.join("; ")
    }
}

fn channel_info(c: &ChannelInfo) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", c.id.to_string())
        .add("name", &c.name)
        .add("kind", c.kind.as_str())
        .add("enabled", yes_no(c.enabled))
        .add("endpoint", &c.endpoint);
    if c.kind == ChannelKind::Email || c.email_from.is_some() || !c.email_to.is_empty() {
        kv.add("from", opt_str(c.email_from.as_deref()))
            .add("to", list_or_dash(&c.email_to));
    }
    kv.add("events", list_or_dash(&c.events))
        .add("scope", scope_description(&c.scope))
        .add("thresholds", list_or_dash(&c.thresholds))
        .add(
            "expired reminder",
            format!("daily at {:02}:00 UTC", c.expired_hour_utc),
        )
        .add("created", time(c.created_at))
        .add("updated", time(c.updated_at));
    kv
}

fn test_result(r: &ChannelTestResult) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("delivered", yes_no(r.delivered))
        .add(
            "status code",
            r.status_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
        )
        .add("detail", opt_str(Some(&r.detail)))
        .add("delivery", r.delivery_id.to_string());
    kv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_cut_and_escaped() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("0123456789abc", 10), "012345678…");
        assert_eq!(truncate("a\nb", 10), "a\\nb");
    }

    #[test]
    fn scope_in_words() {
        assert_eq!(
            scope_description(&ChannelScope::default()),
            "all certificates"
        );
        let mut labels = BTreeMap::new();
        labels.insert("env".to_string(), "prod".to_string());
        assert_eq!(
            scope_description(&ChannelScope {
                group: Some("web".into()),
                labels,
            }),
            "group web; labels env=prod"
        );
    }
}
