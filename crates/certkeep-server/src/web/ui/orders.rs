//! Order pages: the list of ACME orders, the order form, an order's state (the failing domain
//! and the CA's message when it failed; the page refreshes itself while the order runs), and
//! renewing an ordered certificate from its page.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use certkeep_api::{
    ChallengeType, CreateOrderRequest, KeyType, OrderInfo, OrderStatus, RenewCertificateRequest,
    Role,
};
use uuid::Uuid;

use super::form::{Clues, FormError, parse_labels};
use super::format::{date, relative};
use super::session::{Signed, UiForm, UiId};
use super::{Chrome, UiError, render, user_message};
use crate::app::App;
use crate::error::Error;

pub struct OrderRow {
    pub id: String,
    pub name: String,
    pub domains: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub renewal: bool,
    pub failed_domain: String,
    pub error: String,
    pub created: String,
}

fn status_class(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending | OrderStatus::Validating | OrderStatus::AwaitingDns => "warn",
        OrderStatus::Issued => "ok",
        OrderStatus::Failed => "bad",
    }
}

fn order_row(o: &OrderInfo, now: time::OffsetDateTime) -> OrderRow {
    OrderRow {
        id: o.id.to_string(),
        name: o.name.clone(),
        domains: o.domains.join(", "),
        status: o.status.as_str(),
        status_class: status_class(o.status),
        renewal: o.renews_certificate_id.is_some(),
        failed_domain: o.failed_domain.clone().unwrap_or_default(),
        error: o.error.clone().unwrap_or_default(),
        created: relative(o.created_at, now),
    }
}

#[derive(Template)]
#[template(path = "ui/orders.html")]
struct ListPage {
    chrome: Chrome,
    orders: Vec<OrderRow>,
}

pub async fn list(State(app): State<Arc<App>>, signed: Signed) -> Result<Response, UiError> {
    let list = app
        .order_list(&signed.ctx)
        .await
        .map_err(|e| signed.fail(e))?;
    let now = signed.ctx.now;
    Ok(render(&ListPage {
        chrome: signed.chrome("Orders", "orders"),
        orders: list.items.iter().map(|o| order_row(o, now)).collect(),
    }))
}

pub struct Subproblem {
    pub identifier: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "ui/order.html")]
struct DetailPage {
    chrome: Chrome,
    o: OrderRow,
    /// Reload the page every few seconds while the order runs.
    running: bool,
    challenge: &'static str,
    key_type: &'static str,
    account: String,
    dns_provider: String,
    group: String,
    labels: String,
    auto_renew: bool,
    rekey: bool,
    attempts: u32,
    certificate_id: String,
    renews_certificate_id: String,
    problem_kind: String,
    problem_detail: String,
    subproblems: Vec<Subproblem>,
    /// TXT records to create by hand (manual DNS provider), as (name, value).
    dns_records: Vec<(String, String)>,
    updated: String,
    finished: String,
}

pub async fn detail(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
) -> Result<Response, UiError> {
    let o = app
        .order_get(&signed.ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    let now = signed.ctx.now;
    // Names for the account and provider when this token may read them.
    let account = app
        .acme_account_get(&signed.ctx, o.account_id)
        .await
        .map(|a| format!("{} ({})", a.name, a.directory_url))
        .unwrap_or_else(|_| o.account_id.to_string());
    let dns_provider = match o.dns_provider_id {
        Some(p) => app
            .dns_provider_get(&signed.ctx, p)
            .await
            .map(|d| format!("{} (zone {})", d.name, d.zone))
            .unwrap_or_else(|_| p.to_string()),
        None => String::new(),
    };
    let problem = o.problem.clone().unwrap_or_default();
    Ok(render(&DetailPage {
        chrome: signed.chrome(format!("Order {}", o.name), "orders"),
        running: matches!(o.status, OrderStatus::Pending | OrderStatus::Validating),
        challenge: o.challenge.as_str(),
        key_type: o.key_type.as_str(),
        account,
        dns_provider,
        group: o.group.clone().unwrap_or_default(),
        labels: o
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
        auto_renew: o.auto_renew,
        rekey: o.rekey,
        attempts: o.attempts,
        certificate_id: o.certificate_id.map(|c| c.to_string()).unwrap_or_default(),
        renews_certificate_id: o
            .renews_certificate_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        problem_kind: problem.kind.unwrap_or_default(),
        problem_detail: problem.detail.unwrap_or_default(),
        subproblems: problem
            .subproblems
            .into_iter()
            .map(|s| Subproblem {
                identifier: s.identifier.unwrap_or_default(),
                kind: s.kind.unwrap_or_default(),
                detail: s.detail.unwrap_or_default(),
            })
            .collect(),
        dns_records: o
            .dns_records
            .iter()
            .map(|r| (r.record_name.clone(), r.value.clone()))
            .collect(),
        updated: format!("{} ({})", date(o.updated_at), relative(o.updated_at, now)),
        finished: o
            .finished_at
            .map(|t| format!("{} ({})", date(t), relative(t, now)))
            .unwrap_or_default(),
        o: order_row(&o, now),
    }))
}

/// The order form as posted.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    dns_provider_id: String,
    #[serde(default)]
    key_type: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    auto_renew: Option<String>,
}

fn uuid_field(field: &str, s: &str) -> Result<Option<Uuid>, Error> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(s)
        .map(Some)
        .map_err(|_| Error::InvalidInput(format!("{field} {s:?} is not an id")))
}

/// Where the server's messages about an order go; more specific clues first (a wildcard
/// needing dns-01 is about the domains, a missing provider is about the provider).
const CLUES: Clues<'static> = &[
    ("dns_provider_id", &["`dns_provider_id`"]),
    ("domains", &["`domains", "wildcard"]),
    ("account_id", &["`account_id`", "acme account"]),
    ("challenge", &["challenge"]),
    ("key_type", &["key type", "`key_type`"]),
    ("labels", &["label"]),
    ("group", &["`group`"]),
    ("name", &["`name`"]),
];

impl OrderForm {
    fn request(&self) -> Result<CreateOrderRequest, Error> {
        let account_id = uuid_field("`account_id`", &self.account_id)?
            .ok_or_else(|| Error::InvalidInput("choose the ACME account to order with".into()))?;
        let challenge = ChallengeType::parse(&self.challenge).ok_or_else(|| {
            Error::InvalidInput(format!("unknown challenge type {:?}", self.challenge))
        })?;
        let key_type = KeyType::parse(&self.key_type)
            .ok_or_else(|| Error::InvalidInput(format!("unknown key type {:?}", self.key_type)))?;
        let labels = parse_labels(&self.labels).map_err(Error::InvalidInput)?;
        Ok(CreateOrderRequest {
            name: self.name.trim().to_string(),
            description: None,
            domains: self
                .domains
                .split([',', '\n', ' '])
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
            key_type: Some(key_type),
            account_id,
            challenge,
            dns_provider_id: match challenge {
                ChallengeType::Dns01 => uuid_field("`dns_provider_id`", &self.dns_provider_id)?,
                ChallengeType::Http01 => None,
            },
            group: Some(self.group.trim().to_string()).filter(|g| !g.is_empty()),
            labels,
            auto_renew: Some(self.auto_renew.is_some()),
        })
    }
}

pub struct Choice {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "ui/order_form.html")]
struct FormPage {
    chrome: Chrome,
    f: OrderForm,
    accounts: Vec<Choice>,
    providers: Vec<Choice>,
    error: FormError,
}

async fn form_page(
    app: &App,
    signed: &Signed,
    f: OrderForm,
    error: FormError,
) -> Result<FormPage, UiError> {
    let accounts = app
        .acme_account_list(&signed.ctx)
        .await
        .map_err(|e| signed.fail(e))?
        .items
        .into_iter()
        .map(|a| Choice {
            id: a.id.to_string(),
            label: format!("{} ({})", a.name, a.directory_url),
        })
        .collect();
    let providers = app
        .dns_provider_list(&signed.ctx)
        .await
        .map_err(|e| signed.fail(e))?
        .items
        .into_iter()
        .map(|d| Choice {
            id: d.id.to_string(),
            label: format!("{} (zone {})", d.name, d.zone),
        })
        .collect();
    Ok(FormPage {
        chrome: signed.chrome("New order", "orders"),
        f,
        accounts,
        providers,
        error,
    })
}

pub async fn new_form(State(app): State<Arc<App>>, signed: Signed) -> Result<Response, UiError> {
    signed.require(Role::Manager, "ordering a certificate")?;
    let f = OrderForm {
        challenge: "http-01".into(),
        key_type: KeyType::default().as_str().into(),
        auto_renew: Some("1".into()),
        ..OrderForm::default()
    };
    Ok(render(
        &form_page(&app, &signed, f, FormError::none()).await?,
    ))
}

pub async fn create(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiForm(f): UiForm<OrderForm>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let result = match f.request() {
        Ok(req) => app.order_create(&signed.ctx, req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(o) => Ok(Redirect::to(&format!("/orders/{}", o.id)).into_response()),
        Err(e @ (Error::InvalidInput(_) | Error::Conflict(_) | Error::NotFound(_))) => {
            let status = super::status_of(&e);
            let error = FormError::place(user_message(&e), CLUES);
            let page = form_page(&app, &signed, f, error).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(e) => Err(signed.fail(e)),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct RenewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rekey: Option<String>,
}

/// Renew an ordered certificate now; on to the renewal's order.
pub async fn renew(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
    UiForm(f): UiForm<RenewForm>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let order = app
        .certificate_renew(
            &signed.ctx,
            id,
            RenewCertificateRequest {
                rekey: f.rekey.is_some(),
            },
        )
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(Redirect::to(&format!("/orders/{}", order.id)).into_response())
}
