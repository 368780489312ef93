//! `certkeep cert order|renew|revoke`, `certkeep order …` and `certkeep acme …`: ordering
//! certificates from ACME CAs, following the orders, and the accounts and DNS providers they use.

use certkeep_api::{
    AcmeAccountInfo, ChallengeType, Client, CreateAcmeAccountRequest, CreateDnsProviderRequest,
    CreateOrderRequest, DnsProviderInfo, DnsProviderKind, EabCredentials, KeyType, OrderInfo,
    RenewCertificateRequest, RevocationReason, RevokeCertificateRequest, TsigAlgorithm,
    UpdateAcmeAccountRequest, UpdateRenewalRequest,
};

use crate::args::{
    AcmeAccountCommand, AcmeAccountCreateArgs, AcmeCommand, ChallengeArg, DnsProviderCommand,
    DnsProviderCreateArgs, KeyTypeArg, OrderArgs, OrderCommand, OutputFormat, ProviderKindArg,
    ReasonArg, RenewArgs, RenewalArgs, RevokeArgs, Switch, TsigArg,
};
use crate::error::CliError;
use crate::input::{parse_labels, read_input, read_secret_file};
use crate::output::{
    KeyValues, Table, note, opt_str, opt_time, print_json, print_text, time, yes_no,
};

/// Largest CA root file read.
const ROOT_FILE_LIMIT: usize = 100 * 1024;

fn order_view(o: &OrderInfo) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", o.id.to_string())
        .add("name", &o.name)
        .add("status", o.status.as_str())
        .add("domains", o.domains.join(", "))
        .add("challenge", o.challenge.as_str())
        .add("key type", o.key_type.as_str())
        .add("account", o.account_id.to_string())
        .add(
            "dns provider",
            o.dns_provider_id
                .map(|u| u.to_string())
                .unwrap_or_else(|| "-".into()),
        )
        .add("group", opt_str(o.group.as_deref()))
        .add("auto renew", yes_no(o.auto_renew));
    if let Some(c) = o.renews_certificate_id {
        kv.add("renews", c.to_string())
            .add("new key", yes_no(o.rekey));
    }
    if let Some(c) = o.certificate_id {
        kv.add("certificate", c.to_string());
    }
    if let Some(e) = &o.error {
        kv.add("error", e);
    }
    if let Some(d) = &o.failed_domain {
        kv.add("failed domain", d);
    }
    if let Some(p) = o.problem.as_ref().and_then(|p| p.kind.as_deref()) {
        kv.add("CA problem", p);
    }
    for r in &o.dns_records {
        kv.add(
            "TXT record",
            format!("{} {:?} (for {})", r.record_name, r.value, r.domain),
        );
    }
    kv.add("attempts", o.attempts.to_string())
        .add("created", time(o.created_at))
        .add("finished", opt_time(o.finished_at));
    kv
}

fn print_order(output: OutputFormat, o: &OrderInfo) -> Result<(), CliError> {
    match output {
        OutputFormat::Json => print_json(o),
        OutputFormat::Table => print_text(&order_view(o).render()),
    }
}

pub async fn create(client: &Client, output: OutputFormat, a: OrderArgs) -> Result<(), CliError> {
    let req = CreateOrderRequest {
        name: a.name,
        description: a.description,
        domains: a.domains,
        key_type: Some(match a.key_type {
            KeyTypeArg::EcP256 => KeyType::EcP256,
            KeyTypeArg::EcP384 => KeyType::EcP384,
            KeyTypeArg::Rsa2048 => KeyType::Rsa2048,
            KeyTypeArg::Rsa3072 => KeyType::Rsa3072,
            KeyTypeArg::Rsa4096 => KeyType::Rsa4096,
        }),
        account_id: a.account,
        challenge: match a.challenge {
            ChallengeArg::Http01 => ChallengeType::Http01,
            ChallengeArg::Dns01 => ChallengeType::Dns01,
        },
        dns_provider_id: a.dns_provider,
        group: a.group,
        labels: parse_labels(&a.label)?,
        auto_renew: Some(!a.no_auto_renew),
    };
    let o = client.order_create(&req).await?;
    if output == OutputFormat::Table {
        note(&format!(
            "order accepted; follow it with `certkeep order get {}`",
            o.id
        ));
    }
    print_order(output, &o)
}

pub async fn renew(client: &Client, output: OutputFormat, a: RenewArgs) -> Result<(), CliError> {
    let o = client
        .certificate_renew(a.id, &RenewCertificateRequest { rekey: a.rekey })
        .await?;
    print_order(output, &o)
}

pub async fn renewal(
    client: &Client,
    output: OutputFormat,
    a: RenewalArgs,
) -> Result<(), CliError> {
    let r = match a.auto_renew {
        Some(switch) => {
            client
                .certificate_renewal_update(
                    a.id,
                    &UpdateRenewalRequest {
                        auto_renew: switch == Switch::On,
                    },
                )
                .await?
        }
        None => client.certificate_renewal_get(a.id).await?,
    };
    match output {
        OutputFormat::Json => print_json(&r),
        OutputFormat::Table => {
            let mut kv = KeyValues::new();
            kv.add("certificate", r.certificate_id.to_string())
                .add("order", r.order_id.to_string())
                .add("auto renew", yes_no(r.auto_renew))
                .add("renew at", time(r.renew_at))
                .add("failures in a row", r.failures.to_string())
                .add("last error", opt_str(r.last_error.as_deref()));
            print_text(&kv.render())
        }
    }
}

pub async fn revoke(client: &Client, output: OutputFormat, a: RevokeArgs) -> Result<(), CliError> {
    let reason = match a.reason {
        ReasonArg::Unspecified => RevocationReason::Unspecified,
        ReasonArg::KeyCompromise => RevocationReason::KeyCompromise,
        ReasonArg::AffiliationChanged => RevocationReason::AffiliationChanged,
        ReasonArg::Superseded => RevocationReason::Superseded,
        ReasonArg::CessationOfOperation => RevocationReason::CessationOfOperation,
    };
    let r = client
        .certificate_revoke(
            a.id,
            &RevokeCertificateRequest {
                reason: Some(reason),
            },
        )
        .await?;
    match output {
        OutputFormat::Json => print_json(&r),
        OutputFormat::Table => {
            let mut kv = KeyValues::new();
            kv.add("certificate", r.certificate_id.to_string())
                .add("version", r.version.to_string())
                .add("serial", &r.serial)
                .add("reason", r.reason.as_str())
                .add("revoked", time(r.revoked_at));
            print_text(&kv.render())
        }
    }
}

pub async fn run(client: &Client, output: OutputFormat, cmd: OrderCommand) -> Result<(), CliError> {
    match cmd {
        OrderCommand::List => {
            let list = client.order_list().await?;
            match output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => {
                    let mut t =
                        Table::new(&["ID", "NAME", "STATUS", "DOMAINS", "CERTIFICATE", "CREATED"]);
                    for o in &list.items {
                        t.row(vec![
                            o.id.to_string(),
                            o.name.clone(),
                            o.status.as_str().to_string(),
                            o.domains.join(","),
                            o.certificate_id
                                .or(o.renews_certificate_id)
                                .map(|u| u.to_string())
                                .unwrap_or_else(|| "-".into()),
                            time(o.created_at),
                        ]);
                    }
                    print_text(&t.render())?;
                    if t.is_empty() {
                        note("no orders");
                    }
                    Ok(())
                }
            }
        }
        OrderCommand::Get(a) => print_order(output, &client.order_get(a.id).await?),
        OrderCommand::Validate(a) => print_order(output, &client.order_validate(a.id).await?),
    }
}

fn account_view(a: &AcmeAccountInfo) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", a.id.to_string())
        .add("name", &a.name)
        .add("directory", &a.directory_url)
        .add("contact", a.contact.join(", "))
        .add("EAB key id", opt_str(a.eab_kid.as_deref()))
        .add("custom CA root", yes_no(a.custom_ca_root))
        .add("account URL", &a.account_url)
        .add("created", time(a.created_at));
    kv
}

fn provider_view(p: &DnsProviderInfo) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", p.id.to_string())
        .add("name", &p.name)
        .add("kind", p.kind.as_str())
        .add("zone", &p.zone);
    if let Some(server) = &p.server {
        kv.add("server", server);
    }
    if let Some(key) = &p.tsig_key_name {
        kv.add("TSIG key", key);
    }
    if let Some(alg) = p.tsig_algorithm {
        kv.add("TSIG algorithm", alg.as_str());
    }
    if let Some(channel) = p.channel_id {
        kv.add("channel", channel.to_string());
    }
    kv.add(
        "propagation timeout",
        format!("{}s", p.propagation_timeout_seconds),
    )
    .add("created", time(p.created_at));
    kv
}

pub async fn run_acme(
    client: &Client,
    output: OutputFormat,
    cmd: AcmeCommand,
) -> Result<(), CliError> {
    match cmd {
        AcmeCommand::Account(AcmeAccountCommand::Create(a)) => {
            account_create(client, output, a).await
        }
        AcmeCommand::Account(AcmeAccountCommand::List) => {
            let list = client.acme_account_list().await?;
            match output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => {
                    let mut t = Table::new(&["ID", "NAME", "DIRECTORY", "EAB KEY ID", "CREATED"]);
                    for a in &list.items {
                        t.row(vec![
                            a.id.to_string(),
                            a.name.clone(),
                            a.directory_url.clone(),
                            opt_str(a.eab_kid.as_deref()),
                            time(a.created_at),
                        ]);
                    }
                    print_text(&t.render())?;
                    if t.is_empty() {
                        note("no ACME accounts");
                    }
                    Ok(())
                }
            }
        }
        AcmeCommand::Account(AcmeAccountCommand::Update(a)) => {
            let contact = match (a.no_contact, a.contact.is_empty()) {
                (true, _) => Some(Vec::new()),
                (false, true) => None,
                (false, false) => Some(a.contact),
            };
            let updated = client
                .acme_account_update(
                    a.id,
                    &UpdateAcmeAccountRequest {
                        name: a.name,
                        contact,
                        rollover_key: a.rollover_key,
                    },
                )
                .await?;
            match output {
                OutputFormat::Json => print_json(&updated),
                OutputFormat::Table => print_text(&account_view(&updated).render()),
            }
        }
        AcmeCommand::Account(AcmeAccountCommand::Delete(a)) => {
            client.acme_account_delete(a.id).await?;
            if output == OutputFormat::Table {
                print_text(&format!("deleted ACME account {}\n", a.id))?;
            }
            Ok(())
        }
        AcmeCommand::DnsProvider(DnsProviderCommand::Create(a)) => {
            provider_create(client, output, a).await
        }
        AcmeCommand::DnsProvider(DnsProviderCommand::List) => {
            let list = client.dns_provider_list().await?;
            match output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => {
                    let mut t = Table::new(&["ID", "NAME", "KIND", "ZONE", "SENT TO", "CREATED"]);
                    for p in &list.items {
                        let sent_to = match (&p.server, p.channel_id) {
                            (Some(server), _) => server.clone(),
                            (None, Some(channel)) => format!("channel {channel}"),
                            (None, None) => "-".to_string(),
                        };
                        t.row(vec![
                            p.id.to_string(),
                            p.name.clone(),
                            p.kind.as_str().to_string(),
                            p.zone.clone(),
                            sent_to,
                            time(p.created_at),
                        ]);
                    }
                    print_text(&t.render())?;
                    if t.is_empty() {
                        note("no DNS providers");
                    }
                    Ok(())
                }
            }
        }
        AcmeCommand::DnsProvider(DnsProviderCommand::Delete(a)) => {
            client.dns_provider_delete(a.id).await?;
            if output == OutputFormat::Table {
                print_text(&format!("deleted DNS provider {}\n", a.id))?;
            }
            Ok(())
        }
    }
}

async fn account_create(
    client: &Client,
    output: OutputFormat,
    a: AcmeAccountCreateArgs,
) -> Result<(), CliError> {
    let eab = match (a.eab_kid, a.eab_hmac_key_file) {
        (Some(kid), Some(path)) => Some(EabCredentials {
            kid,
            hmac_key: read_secret_file("EAB MAC key", &path, true)?,
        }),
        _ => None,
    };
    let ca_root_pem = a
        .ca_root_file
        .map(|p| {
            let bytes = read_input("CA root", &p, ROOT_FILE_LIMIT)?;
            String::from_utf8(bytes).map_err(|_| {
                CliError::local(format!("CA root file {} is not PEM text", p.display()))
            })
        })
        .transpose()?;
    let created = client
        .acme_account_create(&CreateAcmeAccountRequest {
            name: a.name,
            directory: a.directory,
            contact: a.contact,
            terms_of_service_agreed: a.agree_tos,
            eab,
            ca_root_pem,
        })
        .await?;
    match output {
        OutputFormat::Json => print_json(&created),
        OutputFormat::Table => print_text(&account_view(&created).render()),
    }
}

async fn provider_create(
    client: &Client,
    output: OutputFormat,
    a: DnsProviderCreateArgs,
) -> Result<(), CliError> {
    let created = client
        .dns_provider_create(&CreateDnsProviderRequest {
            name: a.name,
            kind: Some(match a.kind {
                ProviderKindArg::Rfc2136 => DnsProviderKind::Rfc2136,
                ProviderKindArg::Callback => DnsProviderKind::Callback,
                ProviderKindArg::Manual => DnsProviderKind::Manual,
            }),
            server: a.server.unwrap_or_default(),
            zone: a.zone,
            tsig_key_name: a.tsig_key_name.unwrap_or_default(),
            tsig_algorithm: match a.tsig_algorithm {
                TsigArg::HmacSha256 => TsigAlgorithm::HmacSha256,
                TsigArg::HmacSha384 => TsigAlgorithm::HmacSha384,
                TsigArg::HmacSha512 => TsigAlgorithm::HmacSha512,
            },
            tsig_secret: a
                .tsig_secret_file
                .map(|f| read_secret_file("TSIG secret", &f, true))
                .transpose()?
                .unwrap_or_default(),
            channel_id: a.channel_id,
            propagation_timeout_seconds: a.propagation_timeout,
        })
        .await?;
    match output {
        OutputFormat::Json => print_json(&created),
        OutputFormat::Table => print_text(&provider_view(&created).render()),
    }
}
