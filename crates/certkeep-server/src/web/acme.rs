//! JSON API handlers of ACME accounts, DNS-01 providers and orders, and the HTTP-01 challenge
//! listener's router (served on its own address, without authentication: the CA calls it).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use certkeep_api::{
    AcmeAccountInfo, AcmeAccountList, CreateAcmeAccountRequest, CreateDnsProviderRequest,
    CreateOrderRequest, DnsProviderInfo, DnsProviderList, ErrorBody, OrderInfo, OrderList,
    RenewCertificateRequest, RenewalInfo, RevocationInfo, RevokeCertificateRequest,
    UpdateAcmeAccountRequest, UpdateRenewalRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::api::{ApiResult, AppState, accept};
use super::extract::{ApiJson, ApiPath, Caller};
use crate::app::{App, actions};

pub(super) fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(acme_account_create, acme_account_list))
        .routes(routes!(
            acme_account_get,
            acme_account_update,
            acme_account_delete
        ))
        .routes(routes!(dns_provider_create, dns_provider_list))
        .routes(routes!(dns_provider_get, dns_provider_delete))
        .routes(routes!(order_create, order_list))
        .routes(routes!(order_get))
        .routes(routes!(order_validate))
        .routes(routes!(certificate_renew))
        .routes(routes!(certificate_renewal_get, certificate_renewal_update))
        .routes(routes!(certificate_revoke))
}

/// The HTTP-01 listener: `GET /.well-known/acme-challenge/{token}` answers the key
/// authorization of a challenge in progress (on any replica: the answers are in the database).
pub fn challenge_router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(challenge_answer),
        )
        .with_state(app)
}

async fn challenge_answer(State(app): AppState, Path(token): Path<String>) -> Response {
    match app.store.http_challenge_get(&token).await {
        Ok(Some(key_authorization)) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            key_authorization,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up an HTTP-01 answer");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

#[utoipa::path(post, path = "/api/v1/acme/accounts", tag = "acme",
    request_body = CreateAcmeAccountRequest,
    responses(
        (status = 201, description = "Registered with the CA; the key is stored sealed", body = AcmeAccountInfo),
        (status = 400, description = "Invalid input, or the CA refused the registration (its reason)", body = ErrorBody),
        (status = 403, description = "Needs the Manager role, not limited to a group", body = ErrorBody),
        (status = 503, description = "The CA cannot be reached", body = ErrorBody)
    ))]
async fn acme_account_create(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateAcmeAccountRequest>,
) -> ApiResult<(StatusCode, Json<AcmeAccountInfo>)> {
    let req = accept(&app, &ctx, actions::ACME_ACCOUNT_CREATE, None, req).await?;
    let a = app.acme_account_create(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

#[utoipa::path(get, path = "/api/v1/acme/accounts", tag = "acme",
    responses((status = 200, description = "ACME accounts (never their keys)", body = AcmeAccountList)))]
async fn acme_account_list(
    State(app): AppState,
    Caller(ctx): Caller,
) -> ApiResult<Json<AcmeAccountList>> {
    Ok(Json(app.acme_account_list(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/acme/accounts/{id}", tag = "acme",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AcmeAccountInfo),
        (status = 404, description = "Not found", body = ErrorBody)
    ))]
async fn acme_account_get(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<AcmeAccountInfo>> {
    Ok(Json(app.acme_account_get(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/acme/accounts/{id}", tag = "acme",
    params(("id" = Uuid, Path, description = "Account id")),
    request_body = UpdateAcmeAccountRequest,
    responses(
        (status = 200, description = "Changed here and at the CA", body = AcmeAccountInfo),
        (status = 400, description = "Invalid change, or the CA refused it (which field, why)", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 503, description = "The CA cannot be reached", body = ErrorBody)
    ))]
async fn acme_account_update(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateAcmeAccountRequest>,
) -> ApiResult<Json<AcmeAccountInfo>> {
    let req = accept(&app, &ctx, actions::ACME_ACCOUNT_UPDATE, Some(id), req).await?;
    Ok(Json(app.acme_account_update(&ctx, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/acme/accounts/{id}", tag = "acme",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 204, description = "Removed from certkeep (the CA keeps the account)"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Orders use it", body = ErrorBody)
    ))]
async fn acme_account_delete(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    app.acme_account_delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/dns-providers", tag = "acme",
    request_body = CreateDnsProviderRequest,
    responses(
        (status = 201, description = "Configured; the TSIG secret is stored sealed", body = DnsProviderInfo),
        (status = 400, description = "Invalid settings (which field, why)", body = ErrorBody),
        (status = 403, description = "Needs the Manager role, not limited to a group", body = ErrorBody)
    ))]
async fn dns_provider_create(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateDnsProviderRequest>,
) -> ApiResult<(StatusCode, Json<DnsProviderInfo>)> {
    let req = accept(&app, &ctx, actions::DNS_PROVIDER_CREATE, None, req).await?;
    let p = app.dns_provider_create(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/api/v1/dns-providers", tag = "acme",
    responses((status = 200, description = "DNS providers (never their secrets)", body = DnsProviderList)))]
async fn dns_provider_list(
    State(app): AppState,
    Caller(ctx): Caller,
) -> ApiResult<Json<DnsProviderList>> {
    Ok(Json(app.dns_provider_list(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/dns-providers/{id}", tag = "acme",
    params(("id" = Uuid, Path, description = "Provider id")),
    responses(
        (status = 200, description = "The provider", body = DnsProviderInfo),
        (status = 404, description = "Not found", body = ErrorBody)
    ))]
async fn dns_provider_get(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<DnsProviderInfo>> {
    Ok(Json(app.dns_provider_get(&ctx, id).await?))
}

#[utoipa::path(delete, path = "/api/v1/dns-providers/{id}", tag = "acme",
    params(("id" = Uuid, Path, description = "Provider id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Orders use it", body = ErrorBody)
    ))]
async fn dns_provider_delete(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    app.dns_provider_delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/orders", tag = "acme",
    request_body = CreateOrderRequest,
    responses(
        (status = 202, description = "Accepted; it runs in the background (follow it with GET)", body = OrderInfo),
        (status = 400, description = "Invalid order (which field, why)", body = ErrorBody),
        (status = 403, description = "Needs the Manager role for the group", body = ErrorBody)
    ))]
async fn order_create(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateOrderRequest>,
) -> ApiResult<(StatusCode, Json<OrderInfo>)> {
    let req = accept(&app, &ctx, actions::ORDER_CREATE, None, req).await?;
    let o = app.order_create(&ctx, req).await?;
    Ok((StatusCode::ACCEPTED, Json(o)))
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "acme",
    responses((status = 200, description = "The newest 1000 orders the caller may see, newest first", body = OrderList)))]
async fn order_list(State(app): AppState, Caller(ctx): Caller) -> ApiResult<Json<OrderList>> {
    Ok(Json(app.order_list(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "acme",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order: its status, and why it failed", body = OrderInfo),
        (status = 404, description = "Not found", body = ErrorBody)
    ))]
async fn order_get(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<OrderInfo>> {
    Ok(Json(app.order_get(&ctx, id).await?))
}

#[utoipa::path(post, path = "/api/v1/orders/{id}/validate", tag = "acme",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 202, description = "The TXT records of this manual DNS-01 order are in place: it runs again, checks every authoritative nameserver serves them, and has the CA validate", body = OrderInfo),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "The order is not awaiting_dns", body = ErrorBody)
    ))]
async fn order_validate(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<OrderInfo>)> {
    let o = app.order_validate(&ctx, id).await?;
    Ok((StatusCode::ACCEPTED, Json(o)))
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/renew", tag = "acme",
    params(("id" = Uuid, Path, description = "Certificate id")),
    request_body = RenewCertificateRequest,
    responses(
        (status = 202, description = "The renewal order; it runs in the background and adds a version", body = OrderInfo),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not an ordered certificate, deleted, or a renewal is already under way", body = ErrorBody)
    ))]
async fn certificate_renew(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RenewCertificateRequest>,
) -> ApiResult<(StatusCode, Json<OrderInfo>)> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_RENEW, Some(id), req).await?;
    let o = app.certificate_renew(&ctx, id, req).await?;
    Ok((StatusCode::ACCEPTED, Json(o)))
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/renewal", tag = "acme",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses(
        (status = 200, description = "The renewal state of an ordered certificate", body = RenewalInfo),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not an ordered certificate", body = ErrorBody)
    ))]
async fn certificate_renewal_get(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RenewalInfo>> {
    Ok(Json(app.certificate_renewal_get(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/certificates/{id}/renewal", tag = "acme",
    params(("id" = Uuid, Path, description = "Certificate id")),
    request_body = UpdateRenewalRequest,
    responses(
        (status = 200, description = "Automatic renewal turned on or off", body = RenewalInfo),
        (status = 400, description = "Invalid request (which field, why)", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not an ordered certificate", body = ErrorBody)
    ))]
async fn certificate_renewal_update(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateRenewalRequest>,
) -> ApiResult<Json<RenewalInfo>> {
    let req = accept(
        &app,
        &ctx,
        actions::CERTIFICATE_RENEWAL_UPDATE,
        Some(id),
        req,
    )
    .await?;
    Ok(Json(app.certificate_renewal_update(&ctx, id, req).await?))
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/revoke", tag = "acme",
    params(("id" = Uuid, Path, description = "Certificate id")),
    request_body = RevokeCertificateRequest,
    responses(
        (status = 200, description = "The CA revoked the current version", body = RevocationInfo),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Not an ordered certificate, or the CA refused (already revoked…)", body = ErrorBody),
        (status = 503, description = "The CA cannot be reached", body = ErrorBody)
    ))]
async fn certificate_revoke(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RevokeCertificateRequest>,
) -> ApiResult<Json<RevocationInfo>> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_REVOKE, Some(id), req).await?;
    Ok(Json(app.certificate_revoke(&ctx, id, req).await?))
}
