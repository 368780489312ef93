//! Certificate pages: dashboard, inventory table, detail with its actions (download, PKCS#12,
//! edit, reimport, delete, restore) and the import form.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use certkeep_api::{
    AuditQuery, CertificateListQuery, CertificateMetadata, CertificateSort, CertificateStatus,
    DownloadFormat, DownloadPart, DownloadQuery, EditCertificateRequest, ImportCertificateRequest,
    Pkcs12ExportRequest, ReimportCertificateRequest, Role,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::form::{labels_text, parse_labels};
use super::format::{date, days_phrase, relative, short_date, urgency, url_encode};
use super::session::{Posted, Signed, UiForm, UiId, UiQuery};
use super::{Chrome, UiError, render, user_message};
use crate::app::{App, ChainEntry, Dashboard, Download, TIMELINE_WEEKS};
use crate::error::Error;

fn status_label(s: CertificateStatus) -> (&'static str, &'static str) {
    match s {
        CertificateStatus::Valid => ("valid", "ok"),
        CertificateStatus::Expiring => ("expiring", "warn"),
        CertificateStatus::Expired => ("expired", "bad"),
        CertificateStatus::NotYetValid => ("not yet valid", "muted"),
    }
}

/// The common name of a distinguished name, or the whole name when it has none.
fn common_name(dn: &str) -> String {
    dn.split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("CN="))
        .unwrap_or(dn)
        .to_string()
}

/// One certificate as a table row.
pub struct CertRow {
    pub id: String,
    pub name: String,
    pub domains: String,
    pub issuer: String,
    pub group: String,
    pub key: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub not_after: String,
    pub relative: String,
    pub days: String,
    pub urgency: &'static str,
}

fn key_label(c: &CertificateMetadata) -> String {
    match (&c.key_curve, c.key_size) {
        (Some(curve), _) => format!("{} {curve}", c.key_algorithm),
        (None, Some(bits)) => format!("{} {bits}", c.key_algorithm),
        (None, None) => c.key_algorithm.clone(),
    }
}

fn cert_row(c: &CertificateMetadata, now: OffsetDateTime) -> CertRow {
    let (status, status_class) = status_label(c.status);
    let mut domains = c
        .domains
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if c.domains.len() > 3 {
        let _ = write!(domains, " +{}", c.domains.len() - 3);
    }
    CertRow {
        id: c.id.to_string(),
        name: c.name.clone(),
        domains,
        issuer: common_name(&c.issuer),
        group: c.group.clone().unwrap_or_default(),
        key: key_label(c),
        status,
        status_class,
        not_after: date(c.not_after),
        relative: relative(c.not_after, now),
        days: days_phrase(c.not_after, now),
        urgency: urgency(c.not_after, now),
    }
}

// ---------------------------------------------------------------- dashboard

#[derive(Template)]
#[template(path = "ui/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    valid: i64,
    expiring: i64,
    expired: i64,
    not_yet_valid: i64,
    renewal_failing: i64,
    window_days: i64,
    timeline: String,
    soonest: Vec<CertRow>,
    now: String,
}

/// The expiry timeline as inline SVG: expired first (highlighted), then one bar per week.
fn timeline_svg(d: &Dashboard, window_days: i64) -> String {
    let mut bars: Vec<(String, String, i64, &str)> = vec![(
        "Expired".into(),
        "already expired".into(),
        d.counts.expired,
        "bad",
    )];
    for (i, n) in d.counts.weeks.iter().enumerate() {
        let start = d.now + Duration::weeks(i as i64);
        let class = if (i as i64) * 7 < window_days {
            "warn"
        } else {
            "ok"
        };
        bars.push((
            short_date(start),
            format!("week of {}", short_date(start)),
            *n,
            class,
        ));
    }
    let max = bars.iter().map(|b| b.2).max().unwrap_or(0).max(1);
    let (w, h, top, bottom, left) = (760i64, 240i64, 24i64, 40i64, 8i64);
    let slot = (w - left) / bars.len() as i64;
    let plot = h - top - bottom;
    let mut s = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"tl-title\" preserveAspectRatio=\"xMidYMid meet\">\
         <title id=\"tl-title\">Certificates expiring per week over the next {TIMELINE_WEEKS} weeks; {} already expired</title>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" class=\"axis\"/>",
        d.counts.expired,
        h - bottom,
        h - bottom
    );
    for (i, (label, what, n, class)) in bars.iter().enumerate() {
        let bh = if *n == 0 { 0 } else { (n * plot / max).max(2) };
        let x = left + i as i64 * slot + 6;
        let bw = slot - 12;
        let y = h - bottom - bh;
        let _ = write!(
            s,
            "<g class=\"bar {class}\"><title>{n} certificate(s): {what}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{bh}\" rx=\"3\"/>\
             <text x=\"{}\" y=\"{}\" class=\"value\">{n}</text>\
             <text x=\"{}\" y=\"{}\" class=\"label\">{label}</text></g>",
            x + bw / 2,
            y - 6,
            x + bw / 2,
            h - bottom + 18,
        );
    }
    s.push_str("</svg>");
    s
}

pub async fn dashboard(State(app): State<Arc<App>>, signed: Signed) -> Result<Response, UiError> {
    let d = app
        .certificate_dashboard(&signed.ctx)
        .await
        .map_err(|e| signed.fail(e))?;
    let page = DashboardPage {
        chrome: signed.chrome("Dashboard", "dashboard"),
        valid: d.counts.valid,
        expiring: d.counts.expiring,
        expired: d.counts.expired,
        not_yet_valid: d.counts.not_yet_valid,
        renewal_failing: d.renewal_failing,
        window_days: app.policy.expiring_window.whole_days(),
        timeline: timeline_svg(&d, app.policy.expiring_window.whole_days()),
        soonest: d.soonest.iter().map(|c| cert_row(c, d.now)).collect(),
        now: date(d.now),
    };
    Ok(render(&page))
}

// ---------------------------------------------------------------- table

/// The table's filters as the form sends them (empty fields are absent).
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
pub struct ListForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    within: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    deleted: String,
    #[serde(default)]
    cursor: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ListForm {
    fn query(&self, now: OffsetDateTime) -> Result<CertificateListQuery, String> {
        let status = match self.status.as_str() {
            "" => None,
            "valid" => Some(CertificateStatus::Valid),
            "expiring" => Some(CertificateStatus::Expiring),
            "expired" => Some(CertificateStatus::Expired),
            "not_yet_valid" => Some(CertificateStatus::NotYetValid),
            other => return Err(format!("unknown status {other:?}")),
        };
        let sort = match self.sort.as_str() {
            "" | "not_after" => CertificateSort::NotAfter,
            "-not_after" => CertificateSort::NotAfterDesc,
            "name" => CertificateSort::Name,
            "-name" => CertificateSort::NameDesc,
            other => return Err(format!("unknown sort order {other:?}")),
        };
        let (expires_after, expires_before) = match some(&self.within) {
            None => (None, None),
            Some(n) => {
                let days: i64 = n
                    .parse()
                    .ok()
                    .filter(|d| (0..=36_500).contains(d))
                    .ok_or_else(|| {
                        format!("\"expiring within\" must be a number of days from 0 to 36500, not {n:?}")
                    })?;
                (
                    Some(now - Duration::seconds(1)),
                    Some(now + Duration::days(days)),
                )
            }
        };
        Ok(CertificateListQuery {
            q: some(&self.q),
            status,
            group: some(&self.group),
            label: some(&self.label),
            issuer: some(&self.issuer),
            key_algorithm: some(&self.key),
            expires_before,
            expires_after,
            sort: Some(sort),
            limit: Some(50),
            cursor: some(&self.cursor),
            deleted: Some(self.deleted == "1"),
        })
    }

    /// The query string of this filter at another cursor.
    fn href(&self, cursor: Option<&str>) -> String {
        let mut f = self.clone();
        f.cursor = cursor.unwrap_or_default().to_string();
        let pairs: Vec<(&str, &str)> = [
            ("q", f.q.as_str()),
            ("status", &f.status),
            ("group", &f.group),
            ("label", &f.label),
            ("issuer", &f.issuer),
            ("key", &f.key),
            ("within", &f.within),
            ("sort", &f.sort),
            ("deleted", &f.deleted),
            ("cursor", &f.cursor),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        let qs = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        if qs.is_empty() {
            "/certificates".into()
        } else {
            format!("/certificates?{qs}")
        }
    }
}

#[derive(Template)]
#[template(path = "ui/certificates.html")]
struct ListPage {
    chrome: Chrome,
    f: ListForm,
    rows: Vec<CertRow>,
    next: Option<String>,
    first: Option<String>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiQuery(f): UiQuery<ListForm>,
) -> Result<Response, UiError> {
    let q = f.query(signed.ctx.now).map_err(|m| signed.bad(m))?;
    let page = app
        .certificate_list(&signed.ctx, q)
        .await
        .map_err(|e| signed.fail(e))?;
    let now = signed.ctx.now;
    Ok(render(&ListPage {
        chrome: signed.chrome("Certificates", "certificates"),
        rows: page.items.iter().map(|c| cert_row(c, now)).collect(),
        next: page.next_cursor.as_deref().map(|c| f.href(Some(c))),
        first: (!f.cursor.is_empty()).then(|| f.href(None)),
        f,
    }))
}

// ---------------------------------------------------------------- detail

pub struct Field {
    pub label: &'static str,
    pub value: String,
}

pub struct ChainRow {
    pub subject: String,
    pub issuer: String,
    pub validity: String,
    pub urgency: &'static str,
    pub days: String,
    pub ca: bool,
}

pub struct VersionRow {
    pub version: u32,
    pub current: bool,
    pub serial: String,
    pub validity: String,
    pub created: String,
    pub has_key: bool,
}

pub struct AuditRow {
    pub time: String,
    pub action: String,
    pub outcome: String,
    pub token: String,
}

#[derive(Template)]
#[template(path = "ui/certificate.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    name: String,
    status: &'static str,
    status_class: &'static str,
    days: String,
    urgency: &'static str,
    deleted: bool,
    has_key: bool,
    /// Ordered through certkeep: it can be renewed from here.
    ordered: bool,
    fields: Vec<Field>,
    chain: Vec<ChainRow>,
    chain_issues: Vec<String>,
    versions: Vec<VersionRow>,
    audit: Option<Vec<AuditRow>>,
    notifications: Vec<super::channels::DeliveryRow>,
    message: Option<String>,
}

fn chain_row(e: &ChainEntry, now: OffsetDateTime) -> ChainRow {
    ChainRow {
        subject: e.subject.clone(),
        issuer: e.issuer.clone(),
        validity: format!("{} → {}", date(e.not_before), date(e.not_after)),
        urgency: urgency(e.not_after, now),
        days: days_phrase(e.not_after, now),
        ca: e.is_ca,
    }
}

fn fields(c: &CertificateMetadata, now: OffsetDateTime) -> Vec<Field> {
    let f = |label, value: String| Field { label, value };
    let labels = c
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        f("Description", c.description.clone()),
        f("Group", c.group.clone().unwrap_or_default()),
        f("Labels", labels),
        f("Subject", c.subject.clone()),
        f("Issuer", c.issuer.clone()),
        f("Domains", c.domains.join(", ")),
        f("IP addresses", c.ip_addresses.join(", ")),
        f("Serial", c.serial.clone()),
        f(
            "Valid from",
            format!("{} ({})", date(c.not_before), relative(c.not_before, now)),
        ),
        f(
            "Valid until",
            format!("{} ({})", date(c.not_after), relative(c.not_after, now)),
        ),
        f("Key", key_label(c)),
        f("Signature algorithm", c.signature_algorithm.clone()),
        f("SHA-256 fingerprint", c.fingerprint_sha256.clone()),
        f("CA certificate", if c.is_ca { "yes" } else { "no" }.into()),
        f(
            "Private key stored",
            if c.has_private_key { "yes" } else { "no" }.into(),
        ),
        f(
            "Chain",
            format!(
                "{} certificate(s), {}",
                c.chain_length,
                if c.chain_complete {
                    "complete"
                } else {
                    "incomplete"
                }
            ),
        ),
        f("Version", c.version.to_string()),
        f(
            "Source",
            match c.source {
                certkeep_api::CertificateSource::Imported => "imported",
                certkeep_api::CertificateSource::Ordered => "ordered from an ACME CA",
            }
            .into(),
        ),
        f("Created", date(c.created_at)),
        f("Updated", date(c.updated_at)),
        f("Deleted", c.deleted_at.map(date).unwrap_or_default()),
    ]
    .into_iter()
    .filter(|f| !f.value.is_empty())
    .collect()
}

async fn detail_page(
    app: &App,
    signed: &Signed,
    id: uuid::Uuid,
    message: Option<String>,
) -> Result<Response, UiError> {
    let ctx = &signed.ctx;
    let c = app
        .certificate_get(ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    let chain = app
        .certificate_chain(ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    let versions = app
        .certificate_versions(ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    let notifications = app
        .certificate_notifications(ctx, id)
        .await
        .map_err(|e| signed.fail(e))?
        .items
        .iter()
        .map(super::channels::delivery_row)
        .collect();
    let audit = if signed.session.role >= Role::Admin {
        let page = app
            .audit_list(
                ctx,
                AuditQuery {
                    target: Some(id.to_string()),
                    limit: Some(100),
                    order: Some(certkeep_api::AuditOrder::Desc),
                    ..AuditQuery::default()
                },
            )
            .await
            .map_err(|e| signed.fail(e))?;
        Some(
            page.items
                .iter()
                .map(|e| AuditRow {
                    time: date(e.time),
                    action: e.action.clone(),
                    outcome: format!("{:?}", e.outcome).to_lowercase(),
                    token: e.token_id.map(|t| t.to_string()).unwrap_or_default(),
                })
                .collect(),
        )
    } else {
        None
    };
    let now = ctx.now;
    let (status, status_class) = status_label(c.status);
    Ok(render(&DetailPage {
        chrome: signed.chrome(c.name.clone(), "certificates"),
        id: c.id.to_string(),
        name: c.name.clone(),
        status,
        status_class,
        days: days_phrase(c.not_after, now),
        urgency: urgency(c.not_after, now),
        deleted: c.deleted_at.is_some(),
        has_key: c.has_private_key,
        ordered: c.source == certkeep_api::CertificateSource::Ordered,
        fields: fields(&c, now),
        chain: chain.iter().map(|e| chain_row(e, now)).collect(),
        chain_issues: c.chain_issues.clone(),
        versions: versions
            .items
            .iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version,
                current: v.current,
                serial: v.serial.clone(),
                validity: format!("{} → {}", date(v.not_before), date(v.not_after)),
                created: date(v.created_at),
                has_key: v.has_private_key,
            })
            .collect(),
        audit,
        notifications,
        message,
    }))
}

pub async fn detail(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
) -> Result<Response, UiError> {
    detail_page(&app, &signed, id, None).await
}

#[derive(serde::Deserialize)]
pub struct DownloadForm {
    #[serde(default)]
    part: Option<DownloadPart>,
    #[serde(default)]
    format: Option<DownloadFormat>,
    #[serde(default)]
    version: Option<u32>,
}

fn attachment(d: Download) -> Response {
    let mut resp = d.bytes.to_vec().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(d.content_type),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        crate::web::api::attachment_disposition(&d.file_name),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn download(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
    UiQuery(q): UiQuery<DownloadForm>,
) -> Result<Response, UiError> {
    let d = app
        .certificate_download(
            &signed.ctx,
            id,
            DownloadQuery {
                part: q.part,
                format: q.format,
                version: q.version,
            },
        )
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(attachment(d))
}

#[derive(serde::Deserialize)]
pub struct Pkcs12Form {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    include_key: Option<String>,
    /// A version from the versions table; the current one when empty.
    #[serde(default)]
    version: String,
}

pub async fn pkcs12(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
    UiForm(f): UiForm<Pkcs12Form>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let version = match f.version.trim() {
        "" => None,
        v => Some(
            v.parse::<u32>()
                .map_err(|_| signed.bad(format!("version {v:?} is not a version number")))?,
        ),
    };
    let d = app
        .certificate_pkcs12(
            &signed.ctx,
            id,
            Pkcs12ExportRequest {
                password: f.password,
                version,
                include_key: Some(f.include_key.is_some()),
            },
        )
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(attachment(d))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    UiId(id): UiId,
    Posted(signed): Posted,
) -> Result<Response, UiError> {
    let done = app.certificate_delete(&signed.ctx, id).await;
    signed.redirect(done, &format!("/certificates/{id}"))
}

pub async fn restore(
    State(app): State<Arc<App>>,
    UiId(id): UiId,
    Posted(signed): Posted,
) -> Result<Response, UiError> {
    let done = app.certificate_restore(&signed.ctx, id).await;
    signed.redirect(done, &format!("/certificates/{id}"))
}

// ---------------------------------------------------------------- edit

#[derive(Template)]
#[template(path = "ui/edit.html")]
struct EditPage {
    chrome: Chrome,
    id: String,
    name: String,
    description: String,
    group: String,
    labels: String,
    /// A message about none of the fields, shown above the form.
    error: Option<String>,
    errors: FieldErrors,
}

pub async fn edit_form(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
) -> Result<Response, UiError> {
    signed.require(Role::Writer, "editing a certificate")?;
    let c = app
        .certificate_get(&signed.ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(render(&EditPage {
        chrome: signed.chrome(format!("Edit {}", c.name), "certificates"),
        id: id.to_string(),
        name: c.name.clone(),
        description: c.description.clone(),
        group: c.group.clone().unwrap_or_default(),
        labels: labels_text(&c.labels),
        error: None,
        errors: FieldErrors::default(),
    }))
}

#[derive(serde::Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    labels: String,
}

pub async fn edit(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
    UiForm(f): UiForm<EditForm>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let result = match parse_labels(&f.labels) {
        Err(m) => Err(Error::InvalidInput(m)),
        Ok(labels) => {
            app.certificate_edit(
                &signed.ctx,
                id,
                EditCertificateRequest {
                    name: Some(f.name.clone()),
                    description: Some(f.description.clone()),
                    group: Some(f.group.clone()),
                    labels: Some(labels),
                },
            )
            .await
        }
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/certificates/{id}")).into_response()),
        Err(e @ (Error::InvalidInput(_) | Error::Conflict(_) | Error::TooLarge(_))) => {
            let status = super::status_of(&e);
            let (errors, error) = FieldErrors::place_edit(user_message(&e));
            let page = EditPage {
                chrome: signed.chrome("Edit certificate", "certificates"),
                id: id.to_string(),
                name: f.name,
                description: f.description,
                group: f.group,
                labels: f.labels,
                error,
                errors,
            };
            Ok((status, render(&page)).into_response())
        }
        Err(e) => Err(signed.fail(e)),
    }
}

// ---------------------------------------------------------------- import

/// What the import form sent: text fields and uploaded files, in the API's input encoding
/// (PEM text as is, binary files as base64).
#[derive(Default)]
struct ImportInput {
    csrf: String,
    name: String,
    description: String,
    group: String,
    labels: String,
    certificate: String,
    private_key: String,
    chain: String,
    password: Zeroizing<String>,
}

/// Field errors of the import and edit forms, each shown next to its field.
#[derive(Default)]
pub struct FieldErrors {
    pub name: Option<String>,
    pub description: Option<String>,
    pub group: Option<String>,
    pub labels: Option<String>,
    pub certificate: Option<String>,
    pub private_key: Option<String>,
    pub chain: Option<String>,
    pub password: Option<String>,
}

impl FieldErrors {
    /// Put the server's message next to the field it is about.
    fn place(message: String) -> FieldErrors {
        let m = message.to_lowercase();
        let mut e = FieldErrors::default();
        if m.contains("`name`") {
            e.name = Some(message);
        } else if m.contains("`description`") {
            e.description = Some(message);
        } else if m.contains("`group`") || m.contains("group ") {
            e.group = Some(message);
        } else if m.contains("label") {
            e.labels = Some(message);
        } else if m.contains("password") || m.contains("pkcs#12") && m.contains("mac") {
            e.password = Some(message);
        } else if m.contains("private_key") || m.contains("private key") {
            e.private_key = Some(message);
        } else if m.contains("chain") {
            e.chain = Some(message);
        } else {
            e.certificate = Some(message);
        }
        e
    }

    /// The edit form has no certificate, key, chain or password field: a message about
    /// none of its fields is shown above the form.
    fn place_edit(message: String) -> (FieldErrors, Option<String>) {
        let mut e = FieldErrors::place(message);
        let general = e
            .certificate
            .take()
            .or(e.private_key.take())
            .or(e.chain.take())
            .or(e.password.take());
        (e, general)
    }
}

#[derive(Template)]
#[template(path = "ui/import.html")]
struct ImportPage {
    chrome: Chrome,
    action: String,
    reimport: bool,
    name: String,
    description: String,
    group: String,
    labels: String,
    certificate: String,
    chain: String,
    errors: FieldErrors,
}

impl ImportPage {
    fn new(chrome: Chrome, action: String, reimport: bool) -> ImportPage {
        ImportPage {
            chrome,
            action,
            reimport,
            name: String::new(),
            description: String::new(),
            group: String::new(),
            labels: String::new(),
            certificate: String::new(),
            chain: String::new(),
            errors: FieldErrors::default(),
        }
    }
}

pub async fn import_form(signed: Signed) -> Result<Response, UiError> {
    signed.require(Role::Manager, "importing certificates")?;
    Ok(render(&ImportPage::new(
        signed.chrome("Import a certificate", "import"),
        "/import".into(),
        false,
    )))
}

/// A file's content in the API's input encoding: PEM text as is, anything else as base64.
fn file_input(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.contains("-----BEGIN") => s.to_string(),
        _ => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

async fn read_import(signed: &Signed, mut m: Multipart) -> Result<ImportInput, UiError> {
    let mut input = ImportInput::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        signed.bad(format!("the upload could not be read: {}", e.body_text()))
    };
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    while let Some(field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some_and(|f| !f.is_empty());
        let bytes = field.bytes().await.map_err(bad)?;
        if is_file {
            if !bytes.is_empty() {
                files.insert(name, file_input(&bytes));
            }
            continue;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => input.csrf = text,
            "name" => input.name = text,
            "description" => input.description = text,
            "group" => input.group = text,
            "labels" => input.labels = text,
            "certificate" => input.certificate = text,
            "private_key" => input.private_key = text,
            "chain" => input.chain = text,
            "password" => input.password = Zeroizing::new(text),
            _ => {}
        }
    }
    // An uploaded file wins over pasted text of the same input.
    for (name, value) in files {
        match name.as_str() {
            "certificate_file" => input.certificate = value,
            "private_key_file" => input.private_key = value,
            "chain_file" => input.chain = value,
            _ => {}
        }
    }
    Ok(input)
}

/// Pasted text shown back in the form: never a private key, never a base64 upload.
fn echo(text: &str) -> String {
    if text.contains("PRIVATE KEY") || !text.contains("-----BEGIN") {
        String::new()
    } else {
        text.to_string()
    }
}

fn import_failed(
    signed: &Signed,
    mut page: ImportPage,
    input: &ImportInput,
    e: Error,
) -> Result<Response, UiError> {
    match &e {
        Error::InvalidInput(_) | Error::TooLarge(_) | Error::Conflict(_) => {
            let status = super::status_of(&e);
            page.name = input.name.clone();
            page.description = input.description.clone();
            page.group = input.group.clone();
            page.labels = input.labels.clone();
            page.certificate = echo(&input.certificate);
            page.chain = echo(&input.chain);
            page.errors = FieldErrors::place(user_message(&e));
            Ok((status, render(&page)).into_response())
        }
        _ => Err(signed.fail(e)),
    }
}

fn opt(s: &str) -> Option<String> {
    Some(s.to_string()).filter(|s| !s.trim().is_empty())
}

pub async fn import(
    State(app): State<Arc<App>>,
    signed: Signed,
    m: Multipart,
) -> Result<Response, UiError> {
    let input = read_import(&signed, m).await?;
    signed.check_csrf(&input.csrf)?;
    let page = ImportPage::new(
        signed.chrome("Import a certificate", "import"),
        "/import".into(),
        false,
    );
    let labels = match parse_labels(&input.labels) {
        Ok(l) => l,
        Err(msg) => return import_failed(&signed, page, &input, Error::InvalidInput(msg)),
    };
    let req = ImportCertificateRequest {
        name: input.name.clone(),
        description: opt(&input.description),
        group: opt(&input.group),
        labels,
        certificate: input.certificate.clone(),
        private_key: opt(&input.private_key),
        chain: opt(&input.chain).into_iter().collect(),
        password: opt(&input.password),
    };
    match app.certificate_import(&signed.ctx, req).await {
        Ok(c) => Ok(Redirect::to(&format!("/certificates/{}", c.id)).into_response()),
        Err(e) => import_failed(&signed, page, &input, e),
    }
}

pub async fn reimport(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
    m: Multipart,
) -> Result<Response, UiError> {
    let input = read_import(&signed, m).await?;
    signed.check_csrf(&input.csrf)?;
    let page = ImportPage::new(
        signed.chrome("Reimport a certificate", "certificates"),
        format!("/certificates/{id}/reimport"),
        true,
    );
    let req = ReimportCertificateRequest {
        certificate: input.certificate.clone(),
        private_key: opt(&input.private_key),
        chain: opt(&input.chain).into_iter().collect(),
        password: opt(&input.password),
    };
    match app.certificate_reimport(&signed.ctx, id, req).await {
        Ok(_) => {
            detail_page(
                &app,
                &signed,
                id,
                Some("A new version was imported.".into()),
            )
            .await
        }
        Err(e) => import_failed(&signed, page, &input, e),
    }
}
