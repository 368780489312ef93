//! `certkeep audit …`: read the audit log.

use certkeep_api::{AuditEvent, AuditOrder, AuditPage, AuditQuery, Client};
use serde::Serialize;

use crate::args::{AuditCommand, AuditListArgs, OutputFormat};
use crate::error::CliError;
use crate::output::{Table, note, print_json, print_text, time};

pub async fn run(client: &Client, output: OutputFormat, cmd: AuditCommand) -> Result<(), CliError> {
    match cmd {
        AuditCommand::List(args) => list(client, output, args).await,
    }
}

#[derive(Serialize)]
struct AllItems<'a> {
    items: &'a [AuditEvent],
}

async fn list(client: &Client, output: OutputFormat, args: AuditListArgs) -> Result<(), CliError> {
    let mut query = AuditQuery {
        after: args.after,
        before: args.before,
        order: args.newest_first.then_some(AuditOrder::Desc),
        limit: args.limit,
        action: args.action,
        target: args.target,
        ..AuditQuery::default()
    };
    if !args.all {
        let page = client.audit_list(&query).await?;
        return match output {
            OutputFormat::Json => print_json(&page),
            OutputFormat::Table => {
                print_text(&events_table(&page.items).render())?;
                if let Some(a) = page.next_after {
                    note(&format!("more events: add --after {a} (or --all)"));
                }
                if let Some(b) = page.next_before {
                    note(&format!("older events: add --before {b} (or --all)"));
                }
                Ok(())
            }
        };
    }
    let mut items = Vec::new();
    loop {
        let AuditPage {
            items: page,
            next_after,
            next_before,
        } = client.audit_list(&query).await?;
        items.extend(page);
        // Guard against a server that does not advance: stop instead of looping forever.
        if args.newest_first {
            match next_before {
                Some(b) if query.before.is_none_or(|prev| b < prev) => query.before = Some(b),
                _ => break,
            }
        } else {
            match next_after {
                Some(a) if query.after.is_none_or(|prev| a > prev) => query.after = Some(a),
                _ => break,
            }
        }
    }
    match output {
        OutputFormat::Json => print_json(&AllItems { items: &items }),
        OutputFormat::Table => print_text(&events_table(&items).render()),
    }
}

fn events_table(items: &[AuditEvent]) -> Table {
    let mut t = Table::new(&[
        "SEQ", "TIME", "ACTION", "OUTCOME", "TARGET", "TOKEN", "REQUEST", "DETAIL",
    ]);
    for e in items {
        let outcome = match e.outcome {
            certkeep_api::AuditOutcome::Success => "success",
            certkeep_api::AuditOutcome::Denied => "denied",
            certkeep_api::AuditOutcome::Failed => "failed",
        };
        let detail = match &e.detail {
            serde_json::Value::Object(m) if m.is_empty() => String::new(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        t.row(vec![
            e.seq.to_string(),
            time(e.time),
            e.action.clone(),
            outcome.to_string(),
            e.target.clone().unwrap_or_else(|| "-".into()),
            e.token_id
                .map(|u| u.to_string())
                .unwrap_or_else(|| "-".into()),
            e.request_id.clone(),
            detail,
        ]);
    }
    t
}
