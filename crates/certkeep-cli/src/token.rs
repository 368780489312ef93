//! `certkeep token …`: create, list and revoke API tokens.

use certkeep_api::{Client, CreateTokenRequest, TokenInfo};
use time::{Duration, OffsetDateTime};

use crate::args::{OutputFormat, TokenCommand, TokenCreateArgs};
use crate::error::CliError;
use crate::output::{KeyValues, Table, note, opt_str, opt_time, print_json, print_text, time};

pub async fn run(client: &Client, output: OutputFormat, cmd: TokenCommand) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Create(args) => create(client, output, args).await,
        TokenCommand::List => {
            let list = client.token_list().await?;
            match output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => {
                    let mut t = Table::new(&[
                        "ID",
                        "NAME",
                        "ROLE",
                        "GROUP",
                        "PREFIX",
                        "CREATED",
                        "EXPIRES",
                        "REVOKED",
                        "LAST USED",
                    ]);
                    for i in &list.items {
                        t.row(vec![
                            i.id.to_string(),
                            i.name.clone(),
                            i.role.as_str().to_string(),
                            opt_str(i.group.as_deref()),
                            i.prefix.clone(),
                            time(i.created_at),
                            opt_time(i.expires_at),
                            opt_time(i.revoked_at),
                            opt_time(i.last_used_at),
                        ]);
                    }
                    print_text(&t.render())
                }
            }
        }
        TokenCommand::Revoke(a) => {
            let info = client.token_revoke(a.id).await?;
            match output {
                OutputFormat::Json => print_json(&info),
                OutputFormat::Table => print_text(&token_info(&info).render()),
            }
        }
    }
}

async fn create(
    client: &Client,
    output: OutputFormat,
    args: TokenCreateArgs,
) -> Result<(), CliError> {
    // A relative expiry is resolved here, against this machine's clock: the server only knows
    // absolute times.
    let expires_at = match (args.expires_at, args.expires_in_days) {
        (Some(at), _) => Some(at),
        (None, Some(days)) => {
            let at = OffsetDateTime::now_utc() + Duration::days(i64::from(days));
            Some(at.replace_nanosecond(0).unwrap_or(at))
        }
        (None, None) => None,
    };
    let req = CreateTokenRequest {
        name: args.name,
        role: Some(args.role.into()),
        group: args.group,
        expires_at,
    };
    let created = client.token_create(&req).await?;
    match output {
        OutputFormat::Json => print_json(&created),
        OutputFormat::Table => {
            note("Token created. Its secret is shown only now: store it safely.");
            let mut text = token_info(&created.info).render();
            text.push_str("\nsecret (shown once):\n");
            // Alone on the last line, so `… | tail -n 1` captures exactly the secret.
            text.push_str(&created.token);
            text.push('\n');
            print_text(&text)
        }
    }
}

fn token_info(i: &TokenInfo) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", i.id.to_string())
        .add("name", &i.name)
        .add("role", i.role.as_str())
        .add("group", opt_str(i.group.as_deref()))
        .add("prefix", &i.prefix)
        .add("created", time(i.created_at))
        .add(
            "expires",
            i.expires_at.map(time).unwrap_or_else(|| "never".into()),
        );
    if let Some(r) = i.revoked_at {
        kv.add("revoked", time(r));
    }
    kv.add("last used", opt_time(i.last_used_at)).add(
        "created by",
        i.created_by
            .map(|u| u.to_string())
            .unwrap_or_else(|| "offline (certkeepd)".into()),
    );
    kv
}
