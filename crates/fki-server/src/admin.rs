//! The Adgangsstyring admin API (`/admin/…`, JSON) and the registry operations it shares with
//! the `fki` CLI (`fki system|service|aftale|audit`).
//!
//! - **Operations** ([`issue_system`], [`register_system`], [`create_aftale`], [`transition`],
//!   …): validation (CVR = 8 digits, names, certificates) and the steps on the
//!   [`AdgangStore`] and the local [`Ca`]; errors are [`AdminError`]s that both front ends show.
//! - **Routes** ([`routes`]): systems, services, agreements with their lifecycle
//!   transitions, and the audit log. Every route needs `Authorization: Bearer <token>`, the
//!   random secret fki writes to `<data-dir>/admin-token` (mode 0600) on first start
//!   ([`load_or_create_token`]). Errors are RFC 9457 problem documents
//!   (`application/problem+json`: `type`, `title`, `status`, `detail`, plus a stable `code`).
//! - **OpenAPI** ([`openapi_paths`]): the routes' part of `/openapi.json`.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fki_oio::store::StoreError;
use fki_oio::time;
use fki_store::adgang::{
    AdgangStore, AftaleFilter, AftaleStatus, AuditEntry, AuditQuery, Dataafgraensning, ItSystem,
    Service, Serviceaftale, SystemRolle,
};
use fki_sts::ca::{self, Ca, Issued};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::AppState;

/// Directory of the local CA inside the data directory.
pub const CA_DIR: &str = "ca";
/// File of the admin API secret inside the data directory.
pub const TOKEN_FILE: &str = "admin-token";

/// Where the CA of a data directory lives.
pub fn ca_dir(data_dir: &FsPath) -> PathBuf {
    data_dir.join(CA_DIR)
}

/// Load the CA of a data directory, creating it (root CA and STS certificate) the first time.
pub fn load_ca(data_dir: &FsPath) -> anyhow::Result<Ca> {
    let dir = ca_dir(data_dir);
    Ca::load_or_create(&dir)
        .map_err(|e| anyhow::anyhow!("cannot load or create the CA in {}: {e}", dir.display()))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why an admin operation failed; the CLI prints it, the API answers with its status.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input (400).
    #[error("{0}")]
    Invalid(String),
    /// No such system, service or agreement (404).
    #[error("{0}")]
    NotFound(String),
    /// Clashes with what is stored: duplicate certificate, forbidden lifecycle step (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is over the server's body limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// Storage or CA failure (500).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AdminError::Conflict(m),
            StoreError::Backend(m) => AdminError::Internal(m),
        }
    }
}

impl AdminError {
    fn status(&self) -> StatusCode {
        match self {
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AdminError::Invalid(_) => "invalid",
            AdminError::NotFound(_) => "not_found",
            AdminError::Conflict(_) => "conflict",
            AdminError::TooLarge(_) => "too_large",
            AdminError::Internal(_) => "internal",
        }
    }
}

/// An RFC 9457 problem document.
pub fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": format!("urn:fki:problem:{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail.into(),
        "code": code,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let detail = match &self {
            AdminError::Internal(m) => {
                tracing::error!(error = %m, "admin API failure");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        problem(self.status(), self.code(), detail)
    }
}

/// The result of an admin operation.
pub type AdminResult<T> = Result<T, AdminError>;

// ---------------------------------------------------------------------------------------------
// Validation

/// A CVR number: exactly 8 digits.
pub fn check_cvr(cvr: &str) -> AdminResult<()> {
    if cvr.len() == 8 && cvr.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "CVR must be exactly 8 digits, got {cvr:?}"
        )))
    }
}

fn check_text(what: &str, s: &str, max: usize) -> AdminResult<()> {
    if s.trim().is_empty() {
        return Err(AdminError::Invalid(format!("{what} must not be empty")));
    }
    if s.len() > max || s.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "{what} must be at most {max} bytes without control characters"
        )));
    }
    Ok(())
}

/// `anvendersystem` or `serviceudbyder`.
pub fn parse_rolle(s: &str) -> AdminResult<SystemRolle> {
    SystemRolle::parse(s).ok_or_else(|| {
        AdminError::Invalid(format!(
            "system role must be 'anvendersystem' or 'serviceudbyder', got {s:?}"
        ))
    })
}

/// `anmodet`, `godkendt`, `aktiv` or `tilbagekaldt`.
pub fn parse_status(s: &str) -> AdminResult<AftaleStatus> {
    AftaleStatus::parse(s).ok_or_else(|| {
        AdminError::Invalid(format!(
            "status must be anmodet, godkendt, aktiv or tilbagekaldt, got {s:?}"
        ))
    })
}

/// A data restriction written `NAVN=VAERDI`.
pub fn parse_begraensning(s: &str) -> AdminResult<Dataafgraensning> {
    match s.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() => Ok(Dataafgraensning {
            navn: n.trim().to_owned(),
            vaerdi: v.trim().to_owned(),
        }),
        _ => Err(AdminError::Invalid(format!(
            "a data restriction is NAVN=VAERDI, got {s:?}"
        ))),
    }
}

fn parse_uuid(what: &str, s: &str) -> AdminResult<Uuid> {
    Uuid::parse_str(s.trim())
        .map_err(|_| AdminError::Invalid(format!("{what} must be a UUID, got {s:?}")))
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Issue a function certificate from the CA and register the system with it. The caller gets
/// the key once: fki does not keep it.
pub async fn issue_system(
    store: &dyn AdgangStore,
    ca: Arc<Ca>,
    navn: &str,
    cvr: &str,
    rolle: SystemRolle,
) -> AdminResult<(ItSystem, Issued)> {
    check_text("name", navn, 200)?;
    check_cvr(cvr)?;
    let (n, c) = (navn.to_owned(), cvr.to_owned());
    let issued = tokio::task::spawn_blocking(move || ca.issue_system_certificate(&n, &c))
        .await
        .map_err(|e| AdminError::Internal(format!("issuing certificate: {e}")))?
        .map_err(|e| match e {
            ca::CaError::Invalid(m) => AdminError::Invalid(m),
            e => AdminError::Internal(format!("issuing certificate: {e}")),
        })?;
    let system = register_der(store, navn, cvr, rolle, issued.cert_der().to_vec()).await?;
    Ok((system, issued))
}

/// Register a system with an existing certificate (PEM or DER).
pub async fn register_system(
    store: &dyn AdgangStore,
    navn: &str,
    cvr: &str,
    rolle: SystemRolle,
    certifikat: &[u8],
) -> AdminResult<ItSystem> {
    check_text("name", navn, 200)?;
    check_cvr(cvr)?;
    let der = ca::parse_certificate(certifikat)
        .map_err(|e| AdminError::Invalid(format!("not a certificate (PEM or DER): {e}")))?;
    register_der(store, navn, cvr, rolle, der).await
}

async fn register_der(
    store: &dyn AdgangStore,
    navn: &str,
    cvr: &str,
    rolle: SystemRolle,
    der: Vec<u8>,
) -> AdminResult<ItSystem> {
    let info = ca::cert_info(&der)
        .map_err(|e| AdminError::Invalid(format!("unreadable certificate: {e}")))?;
    if let Some(s) = store.system_by_certificate(&info.sha256_hex).await? {
        return Err(AdminError::Conflict(format!(
            "this certificate (SHA-256 {}) is already registered as system {} ({})",
            info.sha256_hex, s.uuid, s.navn
        )));
    }
    let system = ItSystem {
        uuid: Uuid::new_v4(),
        navn: navn.trim().to_owned(),
        cvr: cvr.to_owned(),
        rolle,
        certifikat_sha256: info.sha256_hex,
        certifikat_der: der,
        subject: info.subject,
        oprettet: time::now(),
    };
    store.put_system(&system).await?;
    Ok(system)
}

/// A system by UUID or by its (unique) name.
pub async fn resolve_system(store: &dyn AdgangStore, key: &str) -> AdminResult<ItSystem> {
    if let Ok(u) = Uuid::parse_str(key.trim()) {
        return store
            .system(u)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no system {u}")));
    }
    let mut hits: Vec<ItSystem> = store
        .systems()
        .await?
        .into_iter()
        .filter(|s| s.navn == key.trim())
        .collect();
    match (hits.pop(), hits.is_empty()) {
        (None, _) => Err(AdminError::NotFound(format!("no system named {key:?}"))),
        (Some(s), true) => Ok(s),
        (Some(last), false) => Err(AdminError::Invalid(format!(
            "several systems are named {key:?}; give a UUID: {}",
            hits.iter()
                .chain([&last])
                .map(|s| s.uuid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A service by entity ID or UUID.
pub async fn resolve_service(store: &dyn AdgangStore, key: &str) -> AdminResult<Service> {
    if let Some(s) = store.service_by_entity_id(key.trim()).await? {
        return Ok(s);
    }
    let by_uuid = match Uuid::parse_str(key.trim()) {
        Ok(u) => store.services().await?.into_iter().find(|s| s.uuid == u),
        Err(_) => None,
    };
    if let Some(s) = by_uuid {
        return Ok(s);
    }
    Err(AdminError::NotFound(format!(
        "no service with entity ID {key:?} (see the service list)"
    )))
}

/// Add or update a service (keyed by entity ID).
pub async fn put_service(
    store: &dyn AdgangStore,
    entity_id: &str,
    navn: &str,
    sf: &str,
) -> AdminResult<Service> {
    check_text("entity ID", entity_id, 500)?;
    check_text("name", navn, 200)?;
    check_text("SF number", sf, 20)?;
    if entity_id.chars().any(char::is_whitespace) {
        return Err(AdminError::Invalid(format!(
            "an entity ID has no spaces, got {entity_id:?}"
        )));
    }
    Ok(store
        .put_service(&Service {
            uuid: Uuid::new_v4(),
            entity_id: entity_id.to_owned(),
            navn: navn.trim().to_owned(),
            sf: sf.trim().to_owned(),
        })
        .await?)
}

/// What a new agreement is for.
#[derive(Debug, Clone, Default)]
pub struct NyAftale {
    /// System UUID or name.
    pub system: String,
    /// Service entity ID or UUID.
    pub service: String,
    /// The municipality's CVR.
    pub cvr: String,
    pub roller: Vec<String>,
    pub dataafgraensninger: Vec<Dataafgraensning>,
}

/// Create an agreement in status `anmodet`; with `grant`, move it on through `godkendt` to
/// `aktiv` at once.
pub async fn create_aftale(
    store: &dyn AdgangStore,
    ny: &NyAftale,
    grant: bool,
) -> AdminResult<Serviceaftale> {
    check_cvr(&ny.cvr)?;
    for r in &ny.roller {
        check_text("role", r, 500)?;
    }
    for d in &ny.dataafgraensninger {
        check_text("data restriction name", &d.navn, 200)?;
    }
    let system = resolve_system(store, &ny.system).await?;
    let service = resolve_service(store, &ny.service).await?;
    let a = Serviceaftale {
        uuid: Uuid::new_v4(),
        system: system.uuid,
        service: service.uuid,
        myndighed: ny.cvr.clone(),
        roller: ny.roller.clone(),
        dataafgraensninger: ny.dataafgraensninger.clone(),
        status: AftaleStatus::Anmodet,
        aendret: time::now(),
    };
    store.put_aftale(&a).await?;
    if !grant {
        return Ok(a);
    }
    transition(store, a.uuid, AftaleStatus::Godkendt).await?;
    transition(store, a.uuid, AftaleStatus::Aktiv).await
}

/// Move an agreement to `to` (Conflict if its lifecycle forbids that).
pub async fn transition(
    store: &dyn AdgangStore,
    uuid: Uuid,
    to: AftaleStatus,
) -> AdminResult<Serviceaftale> {
    store
        .set_aftale_status(uuid, to, time::now())
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no serviceaftale {uuid}")))
}

// ---------------------------------------------------------------------------------------------
// JSON forms (shared with the CLI's --json)

/// A system as JSON; with `pem`, its certificate too.
pub fn system_json(s: &ItSystem, pem: bool) -> Value {
    let mut v = json!({
        "uuid": s.uuid,
        "navn": s.navn,
        "cvr": s.cvr,
        "rolle": s.rolle.as_str(),
        "certifikat_sha256": s.certifikat_sha256,
        "subject": s.subject,
        "oprettet": time::format_iso(s.oprettet),
    });
    if pem {
        v["certifikat_pem"] = json!(ca::der_to_pem(&s.certifikat_der, "CERTIFICATE"));
    }
    v
}

pub fn service_json(s: &Service) -> Value {
    json!({"uuid": s.uuid, "entity_id": s.entity_id, "navn": s.navn, "sf": s.sf})
}

/// An agreement as JSON; `services` resolves the service's entity ID.
pub fn aftale_json(a: &Serviceaftale, services: &[Service]) -> Value {
    json!({
        "uuid": a.uuid,
        "system": a.system,
        "service": a.service,
        "service_entity_id": services.iter().find(|s| s.uuid == a.service).map(|s| s.entity_id.as_str()),
        "myndighed": a.myndighed,
        "roller": a.roller,
        "dataafgraensninger": a.dataafgraensninger.iter().map(|d| json!({"navn": d.navn, "vaerdi": d.vaerdi})).collect::<Vec<_>>(),
        "status": a.status.as_str(),
        "aendret": time::format_iso(a.aendret),
    })
}

pub fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "tid": time::format_iso(e.tid),
        "haendelse": e.haendelse,
        "system": e.system,
        "certifikat_sha256": e.certifikat_sha256,
        "service": e.service,
        "myndighed": e.myndighed,
        "resultat": e.resultat,
        "aarsag": e.aarsag,
        "reference": e.reference,
        "sf": e.sf,
        "operation": e.operation,
        "status": e.status,
    })
}

/// Parse an instant (RFC 3339 or any timestamp literal the OIO API accepts).
pub fn parse_time(what: &str, s: &str) -> AdminResult<i64> {
    time::parse(s).map_err(|e| AdminError::Invalid(format!("{what}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// The admin secret

/// The admin secret of `data_dir` (`admin-token`), created (64 random hex digits, mode 0600)
/// if missing.
pub fn load_or_create_token(data_dir: &FsPath) -> anyhow::Result<String> {
    use anyhow::Context;
    let path = data_dir.join(TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_owned()),
        Ok(_) => anyhow::bail!("{} is empty: delete it to get a new token", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    // Two v4 UUIDs: 244 bits from the OS random source.
    let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(format!("{token}\n").as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "created the admin API token");
            Ok(token)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Proof that a request carried the admin token; every admin handler takes one first, so
/// nothing else (not even the body) is looked at before the token is checked.
pub struct Admin;

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match given {
            Some(t) if same_secret(t.as_bytes(), st.admin_token.as_bytes()) => Ok(Admin),
            other => {
                let detail = if other.is_some() {
                    "wrong admin token"
                } else {
                    "the admin API needs 'Authorization: Bearer <token>' (the token is in \
                     <data-dir>/admin-token)"
                };
                let mut r = problem(StatusCode::UNAUTHORIZED, "unauthorized", detail);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"fki-admin\""),
                );
                Err(r)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// The `/admin` routes (each handler checks the token through [`Admin`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/systemer", get(list_systems).post(create_system))
        .route("/admin/systemer/{uuid}", get(get_system))
        .route("/admin/services", get(list_services).post(add_service))
        .route("/admin/aftaler", get(list_aftaler).post(new_aftale))
        .route("/admin/aftaler/{uuid}", get(get_aftale))
        .route("/admin/aftaler/{uuid}/approve", post(approve))
        .route("/admin/aftaler/{uuid}/activate", post(activate))
        .route("/admin/aftaler/{uuid}/revoke", post(revoke))
        .route("/admin/audit", get(audit))
}

pub(crate) type Json<T> = Result<axum::Json<T>, JsonRejection>;

pub(crate) fn body<T>(b: Json<T>) -> AdminResult<T> {
    b.map(|axum::Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::TooLarge(format!("body too large: {}", e.body_text()))
        } else {
            AdminError::Invalid(format!("bad JSON body: {}", e.body_text()))
        }
    })
}

/// The query string as a map (a repeated name: the last value).
pub(crate) fn params(raw: Option<String>) -> HashMap<String, String> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Refuse query parameters outside `known`.
pub(crate) fn only(q: &HashMap<String, String>, known: &[&str]) -> AdminResult<()> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(AdminError::Invalid(format!(
            "unknown query parameter {k:?} (known: {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

pub(crate) fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

async fn list_systems(State(st): State<AppState>, _: Admin) -> AdminResult<Response> {
    let systems = st.adgang.systems().await?;
    Ok(ok(json!({
        "systemer": systems.iter().map(|s| system_json(s, false)).collect::<Vec<_>>()
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSystem {
    navn: String,
    cvr: String,
    #[serde(default)]
    rolle: Option<String>,
    /// PEM (or base64 DER) of an existing certificate; absent: fki issues one.
    #[serde(default)]
    certifikat: Option<String>,
}

async fn create_system(
    State(st): State<AppState>,
    _: Admin,
    b: Json<CreateSystem>,
) -> AdminResult<Response> {
    let b = body(b)?;
    let rolle = b
        .rolle
        .as_deref()
        .map(parse_rolle)
        .transpose()?
        .unwrap_or(SystemRolle::Anvendersystem);
    match b.certifikat {
        Some(pem) => {
            let s = register_system(&*st.adgang, &b.navn, &b.cvr, rolle, pem.as_bytes()).await?;
            Ok(created(json!({"system": system_json(&s, true)})))
        }
        None => {
            let (s, issued) =
                issue_system(&*st.adgang, st.ca.clone(), &b.navn, &b.cvr, rolle).await?;
            Ok(created(json!({
                "system": system_json(&s, true),
                "udstedt": {
                    "certifikat_pem": issued.cert_pem(),
                    "noegle_pem": issued.key_pem(),
                    "ca_pem": st.ca.root_cert_pem(),
                    "bemaerkning": "fki keeps no copy of the key: store it now",
                }
            })))
        }
    }
}

async fn get_system(
    State(st): State<AppState>,
    _: Admin,
    Path(u): Path<String>,
) -> AdminResult<Response> {
    let u = parse_uuid("uuid", &u)?;
    let s = st
        .adgang
        .system(u)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no system {u}")))?;
    Ok(ok(system_json(&s, true)))
}

async fn list_services(State(st): State<AppState>, _: Admin) -> AdminResult<Response> {
    let services = st.adgang.services().await?;
    Ok(ok(json!({
        "services": services.iter().map(service_json).collect::<Vec<_>>()
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddService {
    entity_id: String,
    navn: String,
    sf: String,
}

async fn add_service(
    State(st): State<AppState>,
    _: Admin,
    b: Json<AddService>,
) -> AdminResult<Response> {
    let b = body(b)?;
    let s = put_service(&*st.adgang, &b.entity_id, &b.navn, &b.sf).await?;
    Ok(ok(service_json(&s)))
}

async fn list_aftaler(
    State(st): State<AppState>,
    _: Admin,
    RawQuery(q): RawQuery,
) -> AdminResult<Response> {
    let q = params(q);
    only(&q, &["system", "service", "cvr", "status"])?;
    let mut f = AftaleFilter::default();
    if let Some(s) = q.get("system") {
        f.system = Some(resolve_system(&*st.adgang, s).await?.uuid);
    }
    if let Some(s) = q.get("service") {
        f.service = Some(resolve_service(&*st.adgang, s).await?.uuid);
    }
    if let Some(c) = q.get("cvr") {
        check_cvr(c)?;
        f.myndighed = Some(c.clone());
    }
    if let Some(s) = q.get("status") {
        f.status = Some(parse_status(s)?);
    }
    let aftaler = st.adgang.aftaler(&f).await?;
    let services = st.adgang.services().await?;
    Ok(ok(json!({
        "aftaler": aftaler.iter().map(|a| aftale_json(a, &services)).collect::<Vec<_>>()
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAftale {
    system: String,
    service: String,
    cvr: String,
    #[serde(default)]
    roller: Vec<String>,
    #[serde(default)]
    dataafgraensninger: Vec<NewRestriction>,
    /// Create straight in status `aktiv` (approve and activate at once).
    #[serde(default)]
    aktiv: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRestriction {
    navn: String,
    vaerdi: String,
}

async fn new_aftale(
    State(st): State<AppState>,
    _: Admin,
    b: Json<NewAftale>,
) -> AdminResult<Response> {
    let b = body(b)?;
    let ny = NyAftale {
        system: b.system,
        service: b.service,
        cvr: b.cvr,
        roller: b.roller,
        dataafgraensninger: b
            .dataafgraensninger
            .into_iter()
            .map(|d| Dataafgraensning {
                navn: d.navn,
                vaerdi: d.vaerdi,
            })
            .collect(),
    };
    let a = create_aftale(&*st.adgang, &ny, b.aktiv).await?;
    let services = st.adgang.services().await?;
    Ok(created(aftale_json(&a, &services)))
}

async fn get_aftale(
    State(st): State<AppState>,
    _: Admin,
    Path(u): Path<String>,
) -> AdminResult<Response> {
    let u = parse_uuid("uuid", &u)?;
    let a = st
        .adgang
        .aftale(u)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no serviceaftale {u}")))?;
    let services = st.adgang.services().await?;
    Ok(ok(aftale_json(&a, &services)))
}

async fn step(st: AppState, u: String, to: AftaleStatus) -> AdminResult<Response> {
    let u = parse_uuid("uuid", &u)?;
    let a = transition(&*st.adgang, u, to).await?;
    let services = st.adgang.services().await?;
    Ok(ok(aftale_json(&a, &services)))
}

async fn approve(
    State(st): State<AppState>,
    _: Admin,
    Path(u): Path<String>,
) -> AdminResult<Response> {
    step(st, u, AftaleStatus::Godkendt).await
}

async fn activate(
    State(st): State<AppState>,
    _: Admin,
    Path(u): Path<String>,
) -> AdminResult<Response> {
    step(st, u, AftaleStatus::Aktiv).await
}

async fn revoke(
    State(st): State<AppState>,
    _: Admin,
    Path(u): Path<String>,
) -> AdminResult<Response> {
    step(st, u, AftaleStatus::Tilbagekaldt).await
}

/// Default and largest page of the audit log.
const AUDIT_DEFAULT_LIMIT: u32 = 100;
const AUDIT_MAX_LIMIT: u32 = 10_000;

async fn audit(
    State(st): State<AppState>,
    _: Admin,
    RawQuery(q): RawQuery,
) -> AdminResult<Response> {
    let q = params(q);
    only(
        &q,
        &[
            "since",
            "until",
            "system",
            "cvr",
            "haendelse",
            "sf",
            "limit",
        ],
    )?;
    let mut a = AuditQuery {
        limit: Some(AUDIT_DEFAULT_LIMIT),
        ..Default::default()
    };
    if let Some(s) = q.get("since") {
        a.fra = Some(parse_time("since", s)?);
    }
    if let Some(s) = q.get("until") {
        a.til = Some(parse_time("until", s)?);
    }
    if let Some(s) = q.get("system") {
        a.system = Some(resolve_system(&*st.adgang, s).await?.uuid);
    }
    if let Some(c) = q.get("cvr") {
        check_cvr(c)?;
        a.myndighed = Some(c.clone());
    }
    if let Some(h) = q.get("haendelse") {
        a.haendelse = Some(h.clone());
    }
    if let Some(sf) = q.get("sf") {
        a.sf = Some(sf.clone());
    }
    if let Some(l) = q.get("limit") {
        let n: u32 = l
            .parse()
            .ok()
            .filter(|n| (1..=AUDIT_MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AdminError::Invalid(format!(
                    "limit must be a number from 1 to {AUDIT_MAX_LIMIT}, got {l:?}"
                ))
            })?;
        a.limit = Some(n);
    }
    let entries = st.adgang.audit_query(&a).await?;
    Ok(ok(json!({
        "audit": entries.iter().map(audit_json).collect::<Vec<_>>()
    })))
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/// Add the admin routes and their schemas to the OpenAPI document under construction.
pub fn openapi_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let tag = "admin";
    let sec = json!([{"adminToken": []}]);
    let r = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let content = |schema: Value| json!({"application/json": {"schema": schema}});
    let ok = |d: &str, schema: Value| json!({"description": d, "content": content(schema)});
    let problem = |d: &str| json!({"description": d, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let body = |name: &str| json!({"required": true, "content": content(r(name))});
    let uuid_param = json!({"name": "uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    let q = |n: &str, d: &str| json!({"name": n, "in": "query", "required": false, "description": d, "schema": {"type": "string"}});
    let common = |mut responses: Map<String, Value>| {
        responses.insert("401".into(), problem("Missing or wrong admin token"));
        responses.insert("400".into(), problem("Invalid input"));
        Value::Object(responses)
    };
    let resp = |pairs: Vec<(&str, Value)>| {
        common(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let list = |key: &str, item: &str| json!({"type": "object", "properties": {key: {"type": "array", "items": r(item)}}});

    paths.insert("/admin/systemer".into(), json!({
        "get": {"tags": [tag], "summary": "List IT systems", "operationId": "admin_systemer_list", "security": sec,
                "responses": resp(vec![("200", ok("Systems by name", list("systemer", "ItSystem")))])},
        "post": {"tags": [tag], "summary": "Register an IT system: with `certifikat` (PEM) as given, without it with a function certificate fki issues (its key is returned once)",
                 "operationId": "admin_systemer_create", "security": sec, "requestBody": body("CreateSystem"),
                 "responses": resp(vec![("201", ok("Registered", r("CreatedSystem"))), ("409", problem("Certificate already registered"))])}
    }));
    paths.insert("/admin/systemer/{uuid}".into(), json!({
        "get": {"tags": [tag], "summary": "One IT system with its certificate", "operationId": "admin_systemer_get", "security": sec,
                "parameters": [uuid_param.clone()],
                "responses": resp(vec![("200", ok("The system", r("ItSystem"))), ("404", problem("Unknown"))])}
    }));
    paths.insert("/admin/services".into(), json!({
        "get": {"tags": [tag], "summary": "List services (the known KOMBIT services are seeded)", "operationId": "admin_services_list", "security": sec,
                "responses": resp(vec![("200", ok("Services", list("services", "Service")))])},
        "post": {"tags": [tag], "summary": "Add or update a service, keyed by entity ID", "operationId": "admin_services_put", "security": sec,
                 "requestBody": body("NewService"), "responses": resp(vec![("200", ok("Stored", r("Service")))])}
    }));
    paths.insert("/admin/aftaler".into(), json!({
        "get": {"tags": [tag], "summary": "List serviceaftaler", "operationId": "admin_aftaler_list", "security": sec,
                "parameters": [q("system", "System UUID or name"), q("service", "Service entity ID or UUID"), q("cvr", "Myndighed (8 digits)"),
                               {"name": "status", "in": "query", "required": false, "schema": {"type": "string", "enum": ["anmodet", "godkendt", "aktiv", "tilbagekaldt"]}}],
                "responses": resp(vec![("200", ok("Agreements, oldest first", list("aftaler", "Serviceaftale"))), ("404", problem("Unknown system or service"))])},
        "post": {"tags": [tag], "summary": "Request a serviceaftale (status anmodet; `aktiv: true` approves and activates it at once)", "operationId": "admin_aftaler_create", "security": sec,
                 "requestBody": body("NewAftale"),
                 "responses": resp(vec![("201", ok("Created", r("Serviceaftale"))), ("404", problem("Unknown system or service"))])}
    }));
    paths.insert("/admin/aftaler/{uuid}".into(), json!({
        "get": {"tags": [tag], "summary": "One serviceaftale", "operationId": "admin_aftaler_get", "security": sec, "parameters": [uuid_param.clone()],
                "responses": resp(vec![("200", ok("The agreement", r("Serviceaftale"))), ("404", problem("Unknown"))])}
    }));
    for (action, to, what) in [
        ("approve", "godkendt", "Approve (anmodet → godkendt)"),
        ("activate", "aktiv", "Activate (godkendt → aktiv)"),
        (
            "revoke",
            "tilbagekaldt",
            "Revoke (from any status but tilbagekaldt)",
        ),
    ] {
        paths.insert(format!("/admin/aftaler/{{uuid}}/{action}"), json!({
            "post": {"tags": [tag], "summary": what, "operationId": format!("admin_aftaler_{action}"), "security": sec, "parameters": [uuid_param.clone()],
                     "responses": resp(vec![("200", ok(&format!("Now {to}"), r("Serviceaftale"))), ("404", problem("Unknown")), ("409", problem("The lifecycle forbids this step from the current status"))])}
        }));
    }
    paths.insert("/admin/audit".into(), json!({
        "get": {"tags": [tag], "summary": "The audit log (sporbarhed), newest first", "operationId": "admin_audit", "security": sec,
                "parameters": [q("since", "From this instant (RFC 3339), inclusive"), q("until", "Before this instant, exclusive"),
                               q("system", "System UUID or name"), q("cvr", "Myndighed"), q("haendelse", "Event: token_issued, token_refused, request_refused, kald (a recorded call), levering (a push delivery), …"), q("sf", "SF number of recorded calls and deliveries, e.g. SF1520"),
                               {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": AUDIT_MAX_LIMIT, "default": AUDIT_DEFAULT_LIMIT}}],
                "responses": resp(vec![("200", ok("Entries", list("audit", "AuditEntry")))])}
    }));

    let s = |t: &str| json!({"type": t});
    let nullable = json!({"type": ["string", "null"]});
    schemas.insert("ItSystem".into(), json!({"type": "object", "properties": {
        "uuid": {"type": "string", "format": "uuid"}, "navn": s("string"), "cvr": s("string"),
        "rolle": {"type": "string", "enum": ["anvendersystem", "serviceudbyder"]},
        "certifikat_sha256": s("string"), "subject": s("string"), "oprettet": s("string"),
        "certifikat_pem": {"type": "string", "description": "Only when one system is read or created"}},
        "required": ["uuid", "navn", "cvr", "rolle", "certifikat_sha256", "subject", "oprettet"]}));
    schemas.insert("CreateSystem".into(), json!({"type": "object", "additionalProperties": false, "properties": {
        "navn": s("string"), "cvr": {"type": "string", "pattern": "^[0-9]{8}$"},
        "rolle": {"type": "string", "enum": ["anvendersystem", "serviceudbyder"], "default": "anvendersystem"},
        "certifikat": {"type": "string", "description": "PEM of an existing certificate; omit to have fki issue one"}},
        "required": ["navn", "cvr"]}));
    schemas.insert("CreatedSystem".into(), json!({"type": "object", "properties": {
        "system": r("ItSystem"),
        "udstedt": {"type": "object", "description": "Only when fki issued the certificate",
                    "properties": {"certifikat_pem": s("string"), "noegle_pem": s("string"), "ca_pem": s("string")}}}}));
    schemas.insert("Service".into(), json!({"type": "object", "properties": {
        "uuid": {"type": "string", "format": "uuid"}, "entity_id": s("string"), "navn": s("string"), "sf": s("string")},
        "required": ["uuid", "entity_id", "navn", "sf"]}));
    schemas.insert("NewService".into(), json!({"type": "object", "additionalProperties": false, "properties": {
        "entity_id": s("string"), "navn": s("string"), "sf": s("string")}, "required": ["entity_id", "navn", "sf"]}));
    let restriction = json!({"type": "object", "properties": {"navn": s("string"), "vaerdi": s("string")}, "required": ["navn", "vaerdi"]});
    schemas.insert("Serviceaftale".into(), json!({"type": "object", "properties": {
        "uuid": {"type": "string", "format": "uuid"}, "system": {"type": "string", "format": "uuid"},
        "service": {"type": "string", "format": "uuid"}, "service_entity_id": nullable.clone(),
        "myndighed": s("string"), "roller": {"type": "array", "items": s("string")},
        "dataafgraensninger": {"type": "array", "items": restriction.clone()},
        "status": {"type": "string", "enum": ["anmodet", "godkendt", "aktiv", "tilbagekaldt"]},
        "aendret": s("string")}}));
    schemas.insert("NewAftale".into(), json!({"type": "object", "additionalProperties": false, "properties": {
        "system": {"type": "string", "description": "UUID or name"}, "service": {"type": "string", "description": "Entity ID or UUID"},
        "cvr": {"type": "string", "pattern": "^[0-9]{8}$"}, "roller": {"type": "array", "items": s("string")},
        "dataafgraensninger": {"type": "array", "items": restriction}, "aktiv": {"type": "boolean", "default": false}},
        "required": ["system", "service", "cvr"]}));
    schemas.insert("AuditEntry".into(), json!({"type": "object", "properties": {
        "id": s("integer"), "tid": s("string"), "haendelse": s("string"), "system": {"type": ["string", "null"], "format": "uuid"},
        "certifikat_sha256": nullable.clone(), "service": nullable.clone(), "myndighed": nullable.clone(),
        "resultat": s("string"), "aarsag": nullable.clone(), "reference": nullable.clone(),
        "sf": nullable.clone(), "operation": nullable, "status": {"type": ["integer", "null"]}}}));
    schemas.insert("Problem".into(), json!({"type": "object", "description": "RFC 9457 problem details", "properties": {
        "type": s("string"), "title": s("string"), "status": s("integer"), "detail": s("string"), "code": s("string")}}));
}

/// The security scheme of the admin routes, for `components.securitySchemes`.
pub fn openapi_security_schemes() -> Value {
    json!({"adminToken": {"type": "http", "scheme": "bearer",
        "description": "The secret in <data-dir>/admin-token (created on first start, mode 0600)"},
        "holderOfKey": {"type": "apiKey", "in": "header", "name": "Authorization",
        "description": "`Holder-of-key <token>`: an access token or base64 SAML assertion from the STS for the service's entity ID, on an HTTPS connection presenting the token's holder-of-key client certificate (docs/security.md)"}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvr_and_restrictions() {
        assert!(check_cvr("12345678").is_ok());
        for bad in ["1234567", "123456789", "1234567a", "", "１２３４５６７８"] {
            assert!(check_cvr(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_begraensning("KLE=27.*").unwrap(),
            Dataafgraensning {
                navn: "KLE".into(),
                vaerdi: "27.*".into()
            }
        );
        assert!(parse_begraensning("=x").is_err());
        assert!(parse_begraensning("novalue").is_err());
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }

    #[test]
    fn token_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let t = load_or_create_token(dir.path()).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(load_or_create_token(dir.path()).unwrap(), t);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
