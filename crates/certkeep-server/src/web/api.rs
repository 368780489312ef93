//! JSON API handlers (`<resource>_<verb>`), each a thin call into [`App`], and the OpenAPI
//! document generated from the same route table, so every route is in it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use certkeep_api::{
    AuditPage, AuditQuery, BatchImportRequest, BatchImportResponse, CertificateListQuery,
    CertificateMetadata, CertificatePage, CertificateVersionList, CreateTokenRequest, CreatedToken,
    DownloadQuery, EditCertificateRequest, ErrorBody, HealthStatus, ImportCertificateRequest,
    Pkcs12ExportRequest, ReimportCertificateRequest, TokenInfo, TokenList,
};
use certkeep_api::{
    ChannelInfo, ChannelList, ChannelTestResult, CreateChannelRequest, CreatedChannel,
    DeliveryPage, DeliveryQuery, UpdateChannelRequest,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::{BATCH_BODY_LIMIT, BODY_LIMIT};
use crate::app::{App, Download, RequestCtx, actions};
use crate::error::Error;

pub(super) type AppState = State<Arc<App>>;

/// The parsed input, or the parse error after authentication and auditing.
pub(super) async fn accept<T>(
    app: &App,
    ctx: &RequestCtx,
    action: &str,
    target: Option<Uuid>,
    parsed: Result<T, Error>,
) -> Result<T, Error> {
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            let target = target.map(|t| t.to_string());
            Err(app.input_rejected(ctx, action, target.as_deref(), e).await)
        }
    }
}
pub(super) type ApiResult<T> = Result<T, Error>;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "certkeep API",
        description = "Certificate inventory: import, encrypted key storage, search, download, tokens and audit. \
                       Every route except the health checks and this document needs `Authorization: Bearer <token>`. \
                       Errors are `{code, message, request_id}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    // Types used only by query parameters: utoipa refers to them but adds no schema for them.
    components(schemas(
        ErrorBody,
        certkeep_api::AuditOrder,
        certkeep_api::CertificateSort,
        certkeep_api::DownloadFormat,
        certkeep_api::DownloadPart
    )),
    tags(
        (name = "certificates", description = "Certificate inventory"),
        (name = "tokens", description = "API tokens (Admin)"),
        (name = "audit", description = "Audit log (Admin)"),
        (name = "notifications", description = "Notification channels, deliveries, webhook signing keys"),
        (name = "acme", description = "ACME accounts, DNS-01 providers and certificate orders"),
        (name = "health", description = "Liveness and readiness")
    )
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    let batch = OpenApiRouter::new()
        .routes(routes!(certificate_import_batch))
        .layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health_live))
        .routes(routes!(health_ready))
        .routes(routes!(certificate_import, certificate_list))
        .routes(routes!(
            certificate_get,
            certificate_edit,
            certificate_delete
        ))
        .routes(routes!(certificate_reimport, certificate_versions))
        .routes(routes!(certificate_notifications))
        .routes(routes!(certificate_restore))
        .routes(routes!(certificate_purge))
        .routes(routes!(certificate_download))
        .routes(routes!(certificate_pkcs12))
        .routes(routes!(token_create, token_list))
        .routes(routes!(token_revoke))
        .routes(routes!(audit_list))
        .routes(routes!(channel_create, channel_list))
        .routes(routes!(channel_get, channel_update, channel_delete))
        .routes(routes!(channel_test))
        .routes(routes!(channel_deliveries))
        .routes(routes!(notification_jwks))
        .routes(routes!(notification_signing_key_rotate))
        .merge(super::acme::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .merge(batch)
}

/// The OpenAPI document (3.1) of the API, as served at `/api/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = routes().into_openapi();
    doc.paths.paths.insert(
        "/api/v1/openapi.json".into(),
        utoipa::openapi::path::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .operation_id(Some("openapi_document"))
                .summary(Some("This OpenAPI document (no authentication)"))
                .tag("health")
                .security(utoipa::openapi::security::SecurityRequirement::default())
                .response(
                    "200",
                    utoipa::openapi::ResponseBuilder::new().description("OpenAPI 3.1 document"),
                ),
        ),
    );
    doc
}

#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "The process is up", body = HealthStatus)))]
async fn health_live() -> Json<HealthStatus> {
    Json(HealthStatus {
        status: "ok".into(),
    })
}

#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "The database answers", body = HealthStatus),
        (status = 503, description = "The database does not answer", body = ErrorBody)
    ))]
async fn health_ready(State(app): AppState) -> ApiResult<Json<HealthStatus>> {
    app.store
        .ping()
        .await
        .map_err(|e| Error::Unavailable(format!("database not ready: {e}")))?;
    Ok(Json(HealthStatus {
        status: "ready".into(),
    }))
}

#[utoipa::path(post, path = "/api/v1/certificates", tag = "certificates",
    request_body = ImportCertificateRequest,
    responses(
        (status = 201, description = "Imported", body = CertificateMetadata),
        (status = 400, description = "Invalid input (which field, which PEM block, why)", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Role or group does not allow it", body = ErrorBody),
        (status = 413, description = "An input exceeds 100 KiB", body = ErrorBody)
    ))]
async fn certificate_import(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<ImportCertificateRequest>,
) -> ApiResult<(StatusCode, Json<CertificateMetadata>)> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_IMPORT, None, req).await?;
    let meta = app.certificate_import(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

#[utoipa::path(post, path = "/api/v1/certificates/batch", tag = "certificates",
    request_body = BatchImportRequest,
    responses(
        (status = 201, description = "All imported", body = BatchImportResponse),
        (status = 400, description = "An item is invalid (`items[i]…`); nothing was stored", body = ErrorBody),
        (status = 413, description = "Too many items or too large", body = ErrorBody)
    ))]
async fn certificate_import_batch(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<BatchImportRequest>,
) -> ApiResult<(StatusCode, Json<BatchImportResponse>)> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_IMPORT, None, req).await?;
    let items = app.certificate_import_batch(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(BatchImportResponse { items })))
}

#[utoipa::path(get, path = "/api/v1/certificates", tag = "certificates",
    params(CertificateListQuery),
    responses(
        (status = 200, description = "One page", body = CertificatePage),
        (status = 400, description = "Bad filter", body = ErrorBody)
    ))]
async fn certificate_list(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<CertificateListQuery>,
) -> ApiResult<Json<CertificatePage>> {
    let q = accept(&app, &ctx, actions::CERTIFICATE_LIST, None, q).await?;
    Ok(Json(app.certificate_list(&ctx, q).await?))
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses(
        (status = 200, description = "Metadata", body = CertificateMetadata),
        (status = 404, description = "Not found", body = ErrorBody)
    ))]
async fn certificate_get(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<CertificateMetadata>> {
    Ok(Json(app.certificate_get(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/certificates/{id}", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    request_body = EditCertificateRequest,
    responses(
        (status = 200, description = "Edited", body = CertificateMetadata),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)
    ))]
async fn certificate_edit(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EditCertificateRequest>,
) -> ApiResult<Json<CertificateMetadata>> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_UPDATE, Some(id), req).await?;
    Ok(Json(app.certificate_edit(&ctx, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/certificates/{id}", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses(
        (status = 204, description = "Soft-deleted; restorable until the retention period ends"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Already deleted", body = ErrorBody)
    ))]
async fn certificate_delete(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    app.certificate_delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/restore", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses(
        (status = 200, description = "Restored", body = CertificateMetadata),
        (status = 409, description = "Not deleted", body = ErrorBody)
    ))]
async fn certificate_restore(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<CertificateMetadata>> {
    Ok(Json(app.certificate_restore(&ctx, id).await?))
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/purge", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses(
        (status = 204, description = "Removed for good, with every version and key"),
        (status = 409, description = "Not deleted: delete first", body = ErrorBody)
    ))]
async fn certificate_purge(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    app.certificate_purge(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/versions", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    request_body = ReimportCertificateRequest,
    responses(
        (status = 201, description = "New current version", body = CertificateMetadata),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "Entry is deleted", body = ErrorBody)
    ))]
async fn certificate_reimport(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ReimportCertificateRequest>,
) -> ApiResult<(StatusCode, Json<CertificateMetadata>)> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_REIMPORT, Some(id), req).await?;
    let meta = app.certificate_reimport(&ctx, id, req).await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/versions", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses((status = 200, description = "Every stored version", body = CertificateVersionList)))]
async fn certificate_versions(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<CertificateVersionList>> {
    Ok(Json(app.certificate_versions(&ctx, id).await?))
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/notifications", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    responses((status = 200,
        description = "The latest 50 notifications about the certificate, newest first (once attempted)",
        body = DeliveryPage)))]
async fn certificate_notifications(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<DeliveryPage>> {
    Ok(Json(app.certificate_notifications(&ctx, id).await?))
}

/// `Content-Disposition` of a download (RFC 6266): `filename` always, ASCII only, with anything
/// else replaced by `_`; and, when the name has characters beyond ASCII, `filename*` with the
/// whole name in UTF-8, percent-encoded (RFC 8187), which browsers prefer.
pub(super) fn attachment_disposition(file_name: &str) -> HeaderValue {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("attachment; filename=\"{fallback}\"");
    if !file_name.is_ascii() {
        value.push_str("; filename*=UTF-8''");
        for b in file_name.bytes() {
            // attr-char of RFC 8187; every other byte is percent-encoded.
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                value.push(char::from(b));
            } else {
                value.push_str(&format!("%{b:02X}"));
            }
        }
    }
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn download_response(d: Download, sensitive: bool) -> Response {
    let mut resp = (StatusCode::OK, d.bytes.to_vec()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(d.content_type),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        attachment_disposition(&d.file_name),
    );
    if sensitive {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/download", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id"), DownloadQuery),
    responses(
        (status = 200, description = "PEM (application/x-pem-file) or DER (application/pkix-cert, application/pkcs8)", content_type = "application/x-pem-file", body = Vec<u8>),
        (status = 403, description = "Private keys need Writer", body = ErrorBody),
        (status = 404, description = "No such part or version", body = ErrorBody)
    ))]
async fn certificate_download(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> ApiResult<Response> {
    let q = accept(&app, &ctx, actions::CERTIFICATE_DOWNLOAD, Some(id), q).await?;
    let sensitive = q.part == Some(certkeep_api::DownloadPart::PrivateKey);
    let d = app.certificate_download(&ctx, id, q).await?;
    Ok(download_response(d, sensitive))
}

#[utoipa::path(post, path = "/api/v1/certificates/{id}/pkcs12", tag = "certificates",
    params(("id" = Uuid, Path, description = "Certificate id")),
    request_body = Pkcs12ExportRequest,
    responses(
        (status = 200, description = "PKCS#12 file", content_type = "application/x-pkcs12", body = Vec<u8>),
        (status = 403, description = "Including the key needs Writer", body = ErrorBody)
    ))]
async fn certificate_pkcs12(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<Pkcs12ExportRequest>,
) -> ApiResult<Response> {
    let req = accept(&app, &ctx, actions::CERTIFICATE_DOWNLOAD_KEY, Some(id), req).await?;
    let d = app.certificate_pkcs12(&ctx, id, req).await?;
    Ok(download_response(d, true))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created; the secret is shown only now", body = CreatedToken),
        (status = 403, description = "Needs Admin", body = ErrorBody)
    ))]
async fn token_create(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let req = accept(&app, &ctx, actions::TOKEN_CREATE, None, req).await?;
    let t = app.token_create(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, description = "Tokens (never their secrets)", body = TokenList)))]
async fn token_list(State(app): AppState, Caller(ctx): Caller) -> ApiResult<Json<TokenList>> {
    Ok(Json(app.token_list(&ctx).await?))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "Token id")),
    responses(
        (status = 200, description = "Revoked", body = TokenInfo),
        (status = 409, description = "Already revoked", body = ErrorBody)
    ))]
async fn token_revoke(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<TokenInfo>> {
    Ok(Json(app.token_revoke(&ctx, id).await?))
}

#[utoipa::path(get, path = "/api/v1/audit-events", tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "Events in order", body = AuditPage)))]
async fn audit_list(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let q = accept(&app, &ctx, actions::AUDIT_LIST, None, q).await?;
    Ok(Json(app.audit_list(&ctx, q).await?))
}

#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "notifications",
    request_body = CreateChannelRequest,
    responses(
        (status = 201, description = "Created; a generated webhook secret is shown only now", body = CreatedChannel),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 403, description = "Needs Manager", body = ErrorBody)
    ))]
async fn channel_create(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiJson(req): ApiJson<CreateChannelRequest>,
) -> ApiResult<(StatusCode, Json<CreatedChannel>)> {
    let req = accept(&app, &ctx, actions::CHANNEL_CREATE, None, req).await?;
    let c = app.channel_create(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "notifications",
    responses((status = 200, description = "Channels (never their secrets)", body = ChannelList)))]
async fn channel_list(State(app): AppState, Caller(ctx): Caller) -> ApiResult<Json<ChannelList>> {
    Ok(Json(app.channel_list(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/notification-channels/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Channel id")),
    responses(
        (status = 200, description = "The channel", body = ChannelInfo),
        (status = 404, description = "Not found", body = ErrorBody)
    ))]
async fn channel_get(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ChannelInfo>> {
    Ok(Json(app.channel_get(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/notification-channels/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Channel id")),
    request_body = UpdateChannelRequest,
    responses(
        (status = 200, description = "Changed", body = ChannelInfo),
        (status = 400, description = "Invalid settings", body = ErrorBody)
    ))]
async fn channel_update(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UpdateChannelRequest>,
) -> ApiResult<Json<ChannelInfo>> {
    let req = accept(&app, &ctx, actions::CHANNEL_UPDATE, Some(id), req).await?;
    Ok(Json(app.channel_update(&ctx, id, req).await?))
}

#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "notifications",
    params(("id" = Uuid, Path, description = "Channel id")),
    responses(
        (status = 204, description = "Deleted with its delivery history"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Callback DNS providers use it (named in the message)", body = ErrorBody)
    ))]
async fn channel_delete(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    app.channel_delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "notifications",
    params(("id" = Uuid, Path, description = "Channel id")),
    responses((status = 200, description = "What the receiver answered to a channel.test event", body = ChannelTestResult)))]
async fn channel_test(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<ChannelTestResult>> {
    Ok(Json(app.channel_test(&ctx, id).await?))
}

#[utoipa::path(get, path = "/api/v1/notification-channels/{id}/deliveries", tag = "notifications",
    params(("id" = Uuid, Path, description = "Channel id"), DeliveryQuery),
    responses((status = 200, description = "Deliveries, newest first", body = DeliveryPage)))]
async fn channel_deliveries(
    State(app): AppState,
    Caller(ctx): Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    let q = accept(&app, &ctx, actions::CHANNEL_DELIVERIES, Some(id), q).await?;
    Ok(Json(app.channel_deliveries(&ctx, id, q).await?))
}

#[utoipa::path(get, path = "/api/v1/notifications/jwks.json", tag = "notifications", security(()),
    responses((status = 200, description = "JWKS of the keys that sign webhook bodies (ES256)", body = Object)))]
async fn notification_jwks(State(app): AppState) -> Json<serde_json::Value> {
    Json(app.notification_jwks().await)
}

#[utoipa::path(post, path = "/api/v1/notifications/signing-keys/rotate", tag = "notifications",
    responses(
        (status = 200, description = "The new JWKS: the new key and the previous one", body = Object),
        (status = 403, description = "Needs an unrestricted Admin", body = ErrorBody)
    ))]
async fn notification_signing_key_rotate(
    State(app): AppState,
    Caller(ctx): Caller,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(app.notification_signing_key_rotate(&ctx).await?))
}

#[cfg(test)]
mod tests {
    use super::attachment_disposition;

    #[test]
    fn content_disposition_has_an_ascii_name_and_the_utf8_one_when_needed() {
        assert_eq!(
            attachment_disposition("www-v2.pem"),
            "attachment; filename=\"www-v2.pem\""
        );
        assert_eq!(
            attachment_disposition("Bäckerei-key.pem"),
            "attachment; filename=\"B_ckerei-key.pem\"; filename*=UTF-8''B%C3%A4ckerei-key.pem"
        );
        assert_eq!(
            attachment_disposition("a\"b\\c\u{7}d.pem"),
            "attachment; filename=\"a_b_c_d.pem\""
        );
        assert_eq!(
            attachment_disposition("证书 1.p12"),
            "attachment; filename=\"__ 1.p12\"; filename*=UTF-8''%E8%AF%81%E4%B9%A6%201.p12"
        );
    }
}
