//! `certkeep cert …`: the certificate commands, each one API call (or a cursor walk for
//! `list --all`) and its rendering.

use std::io::Write;
use std::path::Path;

use certkeep_api::{
    BatchImportRequest, CertificateListQuery, CertificateMetadata, CertificatePage,
    CertificateVersionList, Client, DownloadFormat, DownloadPart, DownloadQuery,
    EditCertificateRequest, ImportCertificateRequest, Pkcs12ExportRequest,
    ReimportCertificateRequest,
};
use serde::Serialize;

use crate::args::{
    CertCommand, DownloadArgs, EditArgs, FormatArg, ImportArgs, ImportBatchArgs, ListArgs,
    OutputFormat, ReimportArgs,
};
use crate::error::CliError;
use crate::input::{Material, parse_labels, read_input, read_password};
use crate::output::{
    KeyValues, Table, note, opt_str, print_json, print_raw, print_text, time, yes_no,
};

/// The server's body limit for a batch import; reading more locally would only be refused.
const MAX_BATCH_FILE_BYTES: usize = 160 * 1024 * 1024;

pub async fn run(client: &Client, output: OutputFormat, cmd: CertCommand) -> Result<(), CliError> {
    match cmd {
        CertCommand::Import(args) => import(client, output, args).await,
        CertCommand::Order(args) => crate::order::create(client, output, *args).await,
        CertCommand::Renew(args) => crate::order::renew(client, output, args).await,
        CertCommand::Revoke(args) => crate::order::revoke(client, output, args).await,
        CertCommand::Renewal(args) => crate::order::renewal(client, output, args).await,
        CertCommand::ImportBatch(args) => import_batch(client, output, args).await,
        CertCommand::List(args) => list(client, output, args).await,
        CertCommand::Get(a) => {
            let meta = client.certificate_get(a.id).await?;
            match output {
                OutputFormat::Json => print_json(&meta),
                OutputFormat::Table => print_text(&metadata_full(&meta).render()),
            }
        }
        CertCommand::Reimport(args) => reimport(client, output, args).await,
        CertCommand::Edit(args) => edit(client, output, args).await,
        CertCommand::Download(args) => download(client, output, args).await,
        CertCommand::Delete(a) => {
            client.certificate_delete(a.id).await?;
            // The API answers 204 without a body, so JSON output has nothing to print.
            if output == OutputFormat::Table {
                print_text(&format!(
                    "deleted certificate {} (restorable with `certkeep cert restore {}` until purged)\n",
                    a.id, a.id
                ))?;
            }
            Ok(())
        }
        CertCommand::Restore(a) => {
            let meta = client.certificate_restore(a.id).await?;
            print_metadata_summary(output, &meta)
        }
        CertCommand::Purge(a) => {
            client.certificate_purge(a.id).await?;
            if output == OutputFormat::Table {
                print_text(&format!(
                    "purged certificate {} with every version and key\n",
                    a.id
                ))?;
            }
            Ok(())
        }
        CertCommand::Versions(a) => {
            let list = client.certificate_versions(a.id).await?;
            match output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => print_text(&versions_table(&list).render()),
            }
        }
        CertCommand::Notifications(a) => {
            let page = client.certificate_notifications(a.id).await?;
            match output {
                OutputFormat::Json => print_json(&page),
                OutputFormat::Table => crate::channel::print_deliveries_table(&page.items),
            }
        }
    }
}

async fn import(client: &Client, output: OutputFormat, args: ImportArgs) -> Result<(), CliError> {
    let labels = parse_labels(&args.label)?;
    let m = Material::read(&args.material)?;
    let req = ImportCertificateRequest {
        name: args.name,
        description: args.description,
        group: args.group,
        labels,
        certificate: m.certificate,
        private_key: m.private_key,
        chain: m.chain,
        password: m.password,
    };
    let meta = client.certificate_import(&req).await?;
    print_metadata_summary(output, &meta)
}

async fn import_batch(
    client: &Client,
    output: OutputFormat,
    args: ImportBatchArgs,
) -> Result<(), CliError> {
    let bytes = read_input("batch file", &args.file, MAX_BATCH_FILE_BYTES)?;
    let req: BatchImportRequest = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::local(format!(
            "{} is not a BatchImportRequest ({{\"items\": [...]}}): {e}",
            args.file.display()
        ))
    })?;
    let resp = client.certificate_import_batch(&req).await?;
    match output {
        OutputFormat::Json => print_json(&resp),
        OutputFormat::Table => print_text(&certificates_table(&resp.items).render()),
    }
}

async fn reimport(
    client: &Client,
    output: OutputFormat,
    args: ReimportArgs,
) -> Result<(), CliError> {
    let m = Material::read(&args.material)?;
    let req = ReimportCertificateRequest {
        certificate: m.certificate,
        private_key: m.private_key,
        chain: m.chain,
        password: m.password,
    };
    let meta = client.certificate_reimport(args.id, &req).await?;
    print_metadata_summary(output, &meta)
}

async fn edit(client: &Client, output: OutputFormat, args: EditArgs) -> Result<(), CliError> {
    let labels = if args.clear_labels {
        Some(Default::default())
    } else if args.label.is_empty() {
        None
    } else {
        Some(parse_labels(&args.label)?)
    };
    let req = EditCertificateRequest {
        name: args.name,
        description: args.description,
        group: args.group,
        labels,
    };
    if req == EditCertificateRequest::default() {
        return Err(CliError::local(
            "nothing to edit: give --name, --description, --group, --label or --clear-labels",
        ));
    }
    let meta = client.certificate_edit(args.id, &req).await?;
    print_metadata_summary(output, &meta)
}

/// JSON output of a list: one page as the API sent it, or with `--all` every item.
#[derive(Serialize)]
struct AllItems<'a, T> {
    items: &'a [T],
}

async fn list(client: &Client, output: OutputFormat, args: ListArgs) -> Result<(), CliError> {
    let mut query = CertificateListQuery {
        q: args.q,
        status: args.status.map(Into::into),
        group: args.group,
        label: (!args.label.is_empty()).then(|| args.label.join(",")),
        issuer: args.issuer,
        key_algorithm: args.key_algorithm,
        expires_before: args.expires_before,
        expires_after: args.expires_after,
        sort: args.sort.map(Into::into),
        limit: args.limit,
        cursor: args.cursor,
        deleted: args.deleted.then_some(true),
    };
    if !args.all {
        let page = client.certificate_list(&query).await?;
        return match output {
            OutputFormat::Json => print_json(&page),
            OutputFormat::Table => {
                print_list_table(&page.items)?;
                if let Some(c) = &page.next_cursor {
                    note(&format!("more certificates: add --cursor {c} (or --all)"));
                }
                Ok(())
            }
        };
    }
    let mut items = Vec::new();
    loop {
        let CertificatePage {
            items: page,
            next_cursor,
        } = client.certificate_list(&query).await?;
        items.extend(page);
        match next_cursor {
            Some(c) if query.cursor.as_deref() != Some(c.as_str()) => query.cursor = Some(c),
            _ => break,
        }
    }
    match output {
        OutputFormat::Json => print_json(&AllItems { items: &items }),
        OutputFormat::Table => print_list_table(&items),
    }
}

fn print_list_table(items: &[CertificateMetadata]) -> Result<(), CliError> {
    let table = certificates_table(items);
    print_text(&table.render())?;
    if table.is_empty() {
        note("no certificates match");
    }
    Ok(())
}

fn certificates_table(items: &[CertificateMetadata]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "STATUS", "NOT AFTER", "DOMAINS", "ISSUER CN"]);
    for m in items {
        t.row(vec![
            m.id.to_string(),
            m.name.clone(),
            m.status.as_str().to_string(),
            time(m.not_after),
            domains_summary(&m.domains),
            dn_common_name(&m.issuer).to_string(),
        ]);
    }
    t
}

/// The first two domains and how many more there are.
fn domains_summary(domains: &[String]) -> String {
    let shown: Vec<&str> = domains.iter().take(2).map(String::as_str).collect();
    let mut s = shown.join(", ");
    if domains.len() > 2 {
        s.push_str(&format!(" (+{})", domains.len() - 2));
    }
    if s.is_empty() { "-".into() } else { s }
}

/// The CN of an RFC 4514 DN (`CN=R3, O=Let's Encrypt, C=US` → `R3`), or the whole DN when it
/// has none.
fn dn_common_name(dn: &str) -> &str {
    let mut start = 0;
    let mut escaped = false;
    let mut parts = Vec::new();
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' | '+' => {
                parts.push(&dn[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&dn[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("CN").then(|| v.trim())
        })
        .unwrap_or(dn)
}

fn key_description(m: &CertificateMetadata) -> String {
    let mut s = m.key_algorithm.clone();
    if let Some(c) = &m.key_curve {
        s.push(' ');
        s.push_str(c);
    } else if let Some(bits) = m.key_size {
        s.push_str(&format!(" {bits}"));
    }
    s
}

fn chain_description(m: &CertificateMetadata) -> String {
    let n = m.chain_length;
    if n == 0 && m.chain_issues.is_empty() {
        return "none".into();
    }
    let plural = if n == 1 { "" } else { "s" };
    let state = if m.chain_complete {
        "complete"
    } else {
        "incomplete"
    };
    format!("{n} certificate{plural}, {state}")
}

fn labels_description(m: &CertificateMetadata) -> String {
    let l: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if l.is_empty() {
        "-".into()
    } else {
        l.join(", ")
    }
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// What an import, reimport, edit or restore changed, in brief.
fn metadata_summary(m: &CertificateMetadata) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", m.id.to_string())
        .add("name", &m.name)
        .add("version", m.version.to_string())
        .add("status", m.status.as_str())
        .add("subject", &m.subject)
        .add("domains", list_or_dash(&m.domains))
        .add("not after", time(m.not_after))
        .add("key", key_description(m))
        .add(
            "private key",
            if m.has_private_key { "stored" } else { "none" },
        )
        .add("chain", chain_description(m))
        .add("fingerprint", &m.fingerprint_sha256)
        .add("group", opt_str(m.group.as_deref()))
        .add("labels", labels_description(m));
    for issue in &m.chain_issues {
        kv.add("chain issue", issue);
    }
    kv
}

fn print_metadata_summary(output: OutputFormat, m: &CertificateMetadata) -> Result<(), CliError> {
    match output {
        OutputFormat::Json => print_json(m),
        OutputFormat::Table => print_text(&metadata_summary(m).render()),
    }
}

/// Every field, for `cert get`.
fn metadata_full(m: &CertificateMetadata) -> KeyValues {
    let mut kv = KeyValues::new();
    kv.add("id", m.id.to_string())
        .add("name", &m.name)
        .add("description", opt_str(Some(&m.description)))
        .add("group", opt_str(m.group.as_deref()))
        .add("labels", labels_description(m))
        .add("status", m.status.as_str())
        .add("subject", &m.subject)
        .add("issuer", &m.issuer)
        .add("serial", &m.serial)
        .add("domains", list_or_dash(&m.domains))
        .add("ip addresses", list_or_dash(&m.ip_addresses))
        .add("not before", time(m.not_before))
        .add("not after", time(m.not_after))
        .add("key", key_description(m))
        .add("signature", &m.signature_algorithm)
        .add("fingerprint", &m.fingerprint_sha256)
        .add("ca", yes_no(m.is_ca))
        .add(
            "private key",
            if m.has_private_key { "stored" } else { "none" },
        )
        .add("chain", chain_description(m));
    for issue in &m.chain_issues {
        kv.add("chain issue", issue);
    }
    kv.add("version", m.version.to_string())
        .add("x509 version", m.x509_version.to_string())
        .add(
            "source",
            match m.source {
                certkeep_api::CertificateSource::Imported => "imported",
                certkeep_api::CertificateSource::Ordered => "ordered",
            },
        )
        .add("created", time(m.created_at))
        .add("updated", time(m.updated_at));
    if let Some(d) = m.deleted_at {
        kv.add("deleted", time(d));
    }
    kv
}

fn versions_table(list: &CertificateVersionList) -> Table {
    let mut t = Table::new(&[
        "VERSION",
        "CURRENT",
        "SERIAL",
        "NOT AFTER",
        "DOMAINS",
        "KEY",
        "CHAIN",
        "FINGERPRINT",
        "CREATED",
    ]);
    for v in &list.items {
        t.row(vec![
            v.version.to_string(),
            if v.current { "*".into() } else { String::new() },
            v.serial.clone(),
            time(v.not_after),
            domains_summary(&v.domains),
            format!(
                "{}{}",
                v.key_algorithm,
                if v.has_private_key { "" } else { " (no key)" }
            ),
            v.chain_length.to_string(),
            v.fingerprint_sha256.clone(),
            time(v.created_at),
        ]);
    }
    t
}

async fn download(
    client: &Client,
    output: OutputFormat,
    args: DownloadArgs,
) -> Result<(), CliError> {
    let password = read_password(&args.password.as_input())?;
    let (bytes, holds_key, binary) = match args.format {
        FormatArg::Pkcs12 => {
            if args.part.is_some() {
                return Err(CliError::local(
                    "--part does not apply to --format pkcs12: the file holds the leaf, the chain \
                     and (unless --no-key) the private key",
                ));
            }
            let Some(password) = password else {
                return Err(CliError::local(
                    "--format pkcs12 needs --password or --password-file to encrypt the file",
                ));
            };
            let include_key = !args.no_key;
            let req = Pkcs12ExportRequest {
                password,
                version: args.version,
                include_key: Some(include_key),
            };
            (
                client.certificate_pkcs12(args.id, &req).await?,
                include_key,
                true,
            )
        }
        FormatArg::Pem | FormatArg::Der => {
            if args.no_key {
                return Err(CliError::local(
                    "--no-key applies to --format pkcs12 only; choose a --part instead",
                ));
            }
            if password.is_some() {
                return Err(CliError::local(
                    "--password applies to --format pkcs12 only; keys download as PKCS#8",
                ));
            }
            let part: DownloadPart = args.part.map(Into::into).unwrap_or_default();
            let format = if args.format == FormatArg::Der {
                DownloadFormat::Der
            } else {
                DownloadFormat::Pem
            };
            let q = DownloadQuery {
                part: Some(part),
                format: Some(format),
                version: args.version,
            };
            (
                client.certificate_download(args.id, &q).await?,
                part == DownloadPart::PrivateKey,
                format == DownloadFormat::Der,
            )
        }
    };
    match &args.out {
        Some(path) => {
            write_out(path, &bytes, holds_key)?;
            if output == OutputFormat::Table {
                note(&format!(
                    "wrote {} bytes to {}",
                    bytes.len(),
                    path.display()
                ));
            }
            Ok(())
        }
        None => {
            use std::io::IsTerminal;
            if binary && std::io::stdout().is_terminal() {
                return Err(CliError::local(
                    "refusing to write binary data to a terminal: give --out FILE or redirect stdout",
                ));
            }
            print_raw(&bytes)
        }
    }
}

/// Write a download; a file holding a key is made 0600 before a byte of the key is written,
/// including when it already existed with looser permissions.
fn write_out(path: &Path, bytes: &[u8], holds_key: bool) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::local(format!("cannot write {}: {e}", path.display()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if holds_key {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(fail)?;
    #[cfg(unix)]
    if holds_key {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
    }
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_of_a_dn() {
        assert_eq!(dn_common_name("CN=R3, O=Let's Encrypt, C=US"), "R3");
        assert_eq!(
            dn_common_name("C=US, O=Example, CN=Example CA"),
            "Example CA"
        );
        assert_eq!(dn_common_name("CN=a\\, b, O=x"), "a\\, b");
        assert_eq!(dn_common_name("O=No CN"), "O=No CN");
    }

    #[test]
    fn domains_are_summarised() {
        let d = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(domains_summary(&d(&[])), "-");
        assert_eq!(domains_summary(&d(&["a"])), "a");
        assert_eq!(domains_summary(&d(&["a", "b"])), "a, b");
        assert_eq!(domains_summary(&d(&["a", "b", "c", "d"])), "a, b (+2)");
    }
}
