//! Adgangsstyring for systemer (SF1514) in the server: the token service's endpoints and the
//! enforcement every service uses. The cryptography and wire formats are in `fki-sts`; the
//! registries (systems, services, serviceaftaler, audit log) behind [`AdgangStore`].
//!
//! - [`issue`]: `POST /runtime/services/kombittrust/14/certificatemixed` (SOAP 1.2 WS-Trust
//!   Issue), `POST /runtime/api/rest/wstrust/v1/issue` (REST step 1) and
//!   `POST /service/AccessTokenService_1/token` (REST step 2);
//! - [`tokens`]: the access-token table of REST step 2;
//! - [`guard`]: token checks for REST services (`Authorization: Holder-of-key …`) and the
//!   middleware on the OIO REST API that turns the token's CVR into the engine's `Kontekst`;
//! - [`soap`]: the WS-Security extractor for SOAP services.
//!
//! Every issued token and every refusal is written to the audit log with a stable code
//! (see `docs/security.md` for the list). The tenancy model is documented there too.

// A refusal carries its audit context; it is built on the slow path only, so its size in
// `Result` does not matter.
#![allow(clippy::result_large_err)]

pub mod guard;
pub mod issue;
pub mod soap;
pub mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{DateTime, Duration, Utc};
use fki_oio::store::StoreError;
use fki_store::adgang::{
    AdgangStore, AftaleFilter, AftaleStatus, AuditEntry, ItSystem, Serviceaftale,
};
use fki_sts::ca::Ca;
use fki_sts::fault::FaultCode;
use fki_sts::saml::StsKey;
use fki_sts::wssec::ReplayCache;
use uuid::Uuid;

use crate::AppState;

/// Entity ID of Organisation (SF1500).
pub const ENTITY_ORGANISATION: &str = "http://stoettesystemerne.dk/service/organisation/3";
/// Entity ID of Klassifikation (SF1510).
pub const ENTITY_KLASSIFIKATION: &str = "http://entityid.kombit.dk/service/klassifikation/7";
/// Entity ID of Sags- og dokumentindeks (SF1470).
pub const ENTITY_SAGDOKUMENTINDEKS: &str =
    "http://entityid.kombit.dk/service/sdi/sagdokumentindeks/6";
/// Entity ID of Ydelsesindeks (SF1490): one audience for its three services (YdelseIndeks,
/// BevillingIndeks, OekonomiskEffektueringIndeks), as KOMBIT's sample client asks the STS for
/// (`cxf.xml` of github.com/kombit/kosdy_infrastructureSamplesYdelse-java).
pub const ENTITY_YDELSESINDEKS: &str = "http://entityid.kombit.dk/service/ydi/ydelseindeks/6";

/// The default `Issuer` of assertions: the one of KOMBIT's external test STS.
pub const DEFAULT_ISSUER: &str = "https://saml.adgangsstyring.eksterntest-stoettesystemerne.dk";

/// Largest request body the STS endpoints read.
pub const STS_BODY_LIMIT: usize = 1024 * 1024;

/// The entity ID a token for the OIO REST API's `/{service}/…` routes must be issued for:
/// `organisation` → Organisation, `klassifikation` → Klassifikation, and `sag`, `dokument`,
/// `aktivitet`, `indsats`, `tilstand`, `log` → Sags- og dokumentindeks.
pub fn oio_entity_id(service: &str) -> Option<&'static str> {
    match service {
        "organisation" => Some(ENTITY_ORGANISATION),
        "klassifikation" => Some(ENTITY_KLASSIFIKATION),
        "sag" | "dokument" | "aktivitet" | "indsats" | "tilstand" | "log" => {
            Some(ENTITY_SAGDOKUMENTINDEKS)
        }
        _ => None,
    }
}

/// Settings of the token service and the checks.
#[derive(Debug, Clone)]
pub struct StsSettings {
    /// `Issuer` of issued assertions (and the issuer services expect).
    pub issuer: String,
    /// Lifetime of issued assertions.
    pub token_lifetime: Duration,
    /// Clock skew allowed on validity windows and timestamps.
    pub skew: Duration,
    /// Capacity of the access-token table.
    pub max_access_tokens: usize,
    /// Capacity of the WS-Security `MessageID` replay cache.
    pub replay_capacity: usize,
    /// `--dev-open`: no checks on services (each request let through is logged at WARN).
    pub dev_open: bool,
}

impl Default for StsSettings {
    fn default() -> Self {
        StsSettings {
            issuer: DEFAULT_ISSUER.into(),
            token_lifetime: fki_sts::saml::DEFAULT_LIFETIME,
            skew: Duration::minutes(5),
            max_access_tokens: 100_000,
            replay_capacity: 100_000,
            dev_open: false,
        }
    }
}

/// The token service's shared state.
pub struct Sts {
    pub adgang: Arc<dyn AdgangStore>,
    pub ca: Arc<Ca>,
    pub key: StsKey,
    /// The STS certificates services trust (DER).
    pub trusted: Vec<Vec<u8>>,
    pub settings: StsSettings,
    pub access_tokens: tokens::AccessTokens,
    pub replay: Arc<ReplayCache>,
    /// Assertions verified before, by their text: a token's XML signature is verified once,
    /// every later request presenting it is checked in O(1) (times, audience, signer).
    pub assertions: Arc<fki_sts::saml::AssertionCache>,
    /// entity ID → service UUID (stable: a service keeps its first UUID).
    services: RwLock<HashMap<String, Uuid>>,
    /// Holder-of-key certificate (SHA-256) → the moment its tokens were declared expired
    /// ([`Sts::udloeb_tokens`], the compliance probe `PROBE_TOKEN`): assertions valid from
    /// before that moment are refused as expired.
    udloebne: RwLock<HashMap<String, DateTime<Utc>>>,
}

impl std::fmt::Debug for Sts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sts")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A refusal: what the caller is told, what the audit log records.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Stable code (lower-case snake, see `docs/security.md`).
    pub code: String,
    /// Short reason for the caller (no internals).
    pub reason: String,
    /// SOAP fault code when answered as a fault.
    pub fault: FaultCode,
    /// HTTP status when answered as JSON.
    pub status: StatusCode,
    /// Audit context known at the time of refusal.
    pub system: Option<Uuid>,
    pub certificate_sha256: Option<String>,
    pub service: Option<String>,
    pub cvr: Option<String>,
}

impl Refusal {
    pub fn new(
        code: impl Into<String>,
        reason: impl Into<String>,
        fault: FaultCode,
        status: StatusCode,
    ) -> Refusal {
        Refusal {
            code: code.into(),
            reason: reason.into(),
            fault,
            status,
            system: None,
            certificate_sha256: None,
            service: None,
            cvr: None,
        }
    }

    /// From a WS-Security / token error: its code lower-cased, its fault, status 401.
    pub fn from_wssec(e: &fki_sts::wssec::WsSecError) -> Refusal {
        let status = if e.fault_code().is_sender() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Refusal::new(
            e.code().to_ascii_lowercase(),
            e.to_string(),
            e.fault_code(),
            status,
        )
    }

    pub fn from_token(e: &fki_sts::saml::TokenError) -> Refusal {
        Refusal::new(
            e.code().to_ascii_lowercase(),
            e.to_string(),
            e.fault_code(),
            StatusCode::UNAUTHORIZED,
        )
    }

    pub fn store(e: StoreError) -> Refusal {
        tracing::error!(error = %e, "adgang store failure");
        Refusal::new(
            "internal_error",
            "internal error",
            FaultCode::Receiver,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    }

    pub fn with_cert(mut self, sha256: Option<&str>) -> Self {
        if self.certificate_sha256.is_none() {
            self.certificate_sha256 = sha256.map(str::to_owned);
        }
        self
    }

    pub fn with_service(mut self, entity_id: Option<&str>) -> Self {
        if self.service.is_none() {
            self.service = entity_id.map(str::to_owned);
        }
        self
    }

    pub fn with_cvr(mut self, cvr: Option<&str>) -> Self {
        if self.cvr.is_none() {
            self.cvr = cvr.map(str::to_owned);
        }
        self
    }

    pub fn with_system(mut self, system: Option<Uuid>) -> Self {
        if self.system.is_none() {
            self.system = system;
        }
        self
    }

    /// As a JSON problem response (`{"message", "code"}`), with `WWW-Authenticate` on 401.
    pub fn json(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let mut r = crate::error::message(self.status, &self.code, self.reason.clone());
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Holder-of-key"),
            );
        }
        r.into_response()
    }
}

/// Whether `s` is a CVR number (8 digits).
pub fn is_cvr(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit())
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

impl Sts {
    pub fn new(adgang: Arc<dyn AdgangStore>, ca: Arc<Ca>, settings: StsSettings) -> Sts {
        let key = StsKey {
            issuer: settings.issuer.clone(),
            cert_der: ca.sts().cert_der.clone(),
            key_pem: ca.sts().key_pem.clone(),
        };
        Sts {
            trusted: vec![key.cert_der.clone()],
            key,
            access_tokens: tokens::AccessTokens::new(settings.max_access_tokens),
            replay: Arc::new(ReplayCache::new(settings.replay_capacity)),
            assertions: Arc::new(fki_sts::saml::AssertionCache::default()),
            services: RwLock::new(HashMap::new()),
            udloebne: RwLock::new(HashMap::new()),
            adgang,
            ca,
            settings,
        }
    }

    /// Expire every token held by the certificate `sha` now, as if each had reached its
    /// `NotOnOrAfter`: its access tokens are removed, and assertions valid from before this
    /// moment (their `NotBefore`, which fki sets to the issue time) are refused with the
    /// refusal of an expired token from now on ([`Sts::tjek_udloeb`]). Tokens issued
    /// afterwards work. Kept in memory: after a restart the tokens issued before the moment
    /// are accepted again until their own `NotOnOrAfter`. Returns the moment, truncated to the
    /// millisecond as `NotBefore` is.
    pub fn udloeb_tokens(&self, sha: &str) -> DateTime<Utc> {
        use chrono::SubsecRound;
        let nu = Utc::now().trunc_subsecs(3);
        self.udloebne
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha.to_owned(), nu);
        let n = self.access_tokens.fjern_certifikat(sha);
        tracing::warn!(
            certificate = sha,
            access_tokens = n,
            "tokens of a certificate declared expired (compliance probe)"
        );
        nu
    }

    /// Refuse an assertion whose certificate's tokens were declared expired after it was
    /// issued ([`Sts::udloeb_tokens`]); the refusal is the one of an expired token.
    pub fn tjek_udloeb(&self, a: &fki_sts::saml::VerifiedAssertion) -> Result<(), Refusal> {
        let udloebne = self.udloebne.read().unwrap_or_else(|p| p.into_inner());
        if udloebne.is_empty() {
            return Ok(());
        }
        let sha = fki_sts::ca::fingerprint_sha256(&a.hok_certificate_der);
        match udloebne.get(&sha) {
            Some(t) if a.not_before < *t => {
                Err(Refusal::from_token(&fki_sts::saml::TokenError::Expired {
                    not_on_or_after: *t,
                })
                .with_cert(Some(&sha))
                .with_cvr(Some(&a.cvr)))
            }
            _ => Ok(()),
        }
    }

    /// WS-Security settings with the shared replay cache.
    pub fn wssec_config(&self) -> fki_sts::wssec::WsSecConfig {
        fki_sts::wssec::WsSecConfig {
            skew: self.settings.skew,
            replay_cache: Some(self.replay.clone()),
            assertion_cache: Some(self.assertions.clone()),
            ..Default::default()
        }
    }

    /// The UUID of the service with `entity_id`, if registered.
    pub async fn service_uuid(&self, entity_id: &str) -> Result<Option<Uuid>, StoreError> {
        if let Some(u) = self
            .services
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(entity_id)
        {
            return Ok(Some(*u));
        }
        let found = self.adgang.service_by_entity_id(entity_id).await?;
        if let Some(s) = &found {
            self.services
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(entity_id.to_owned(), s.uuid);
        }
        Ok(found.map(|s| s.uuid))
    }

    /// The system registered with the certificate whose SHA-256 is `sha` (a presented token's
    /// holder-of-key certificate); otherwise the refusal `unknown_system` (401).
    pub async fn token_holder(&self, sha: &str) -> Result<ItSystem, Refusal> {
        self.adgang
            .system_by_certificate(sha)
            .await
            .map_err(Refusal::store)?
            .ok_or_else(|| {
                Refusal::new(
                    "unknown_system",
                    "the token's certificate does not belong to a registered system",
                    FaultCode::FailedAuthentication,
                    StatusCode::UNAUTHORIZED,
                )
            })
    }

    /// The UUID of a service this server offers itself; its not being registered is the
    /// server's fault: the refusal `unknown_service` (500).
    pub async fn own_service(&self, entity_id: &str) -> Result<Uuid, Refusal> {
        self.service_uuid(entity_id)
            .await
            .map_err(Refusal::store)?
            .ok_or_else(|| {
                Refusal::new(
                    "unknown_service",
                    "the service is not registered",
                    FaultCode::Receiver,
                    StatusCode::INTERNAL_SERVER_ERROR,
                )
            })
    }

    /// The agreements in force for `system` × `service` × `cvr`; a refusal naming why there is
    /// none (`no_agreement`, `agreement_revoked`, `agreement_not_active`).
    pub async fn active_agreements(
        &self,
        system: Uuid,
        service: Uuid,
        cvr: &str,
    ) -> Result<Vec<Serviceaftale>, Refusal> {
        let mut filter = AftaleFilter {
            system: Some(system),
            service: Some(service),
            myndighed: Some(cvr.to_owned()),
            status: Some(AftaleStatus::Aktiv),
        };
        let active = self.adgang.aftaler(&filter).await.map_err(Refusal::store)?;
        if !active.is_empty() {
            return Ok(active);
        }
        filter.status = None;
        let all = self.adgang.aftaler(&filter).await.map_err(Refusal::store)?;
        let (code, reason) = if all.is_empty() {
            (
                "no_agreement",
                format!("no serviceaftale for this system, service and CVR {cvr}"),
            )
        } else if all.iter().any(|a| a.status == AftaleStatus::Tilbagekaldt) {
            (
                "agreement_revoked",
                format!("the serviceaftale for CVR {cvr} is revoked"),
            )
        } else {
            (
                "agreement_not_active",
                format!("the serviceaftale for CVR {cvr} is not active yet"),
            )
        };
        Err(Refusal::new(
            code,
            reason,
            FaultCode::RequestFailed,
            StatusCode::FORBIDDEN,
        ))
    }

    /// Append to the audit log; a failure is logged, never shown to the caller.
    pub async fn audit(&self, entry: AuditEntry) {
        if let Err(e) = self.adgang.audit(&entry).await {
            tracing::error!(error = %e, haendelse = %entry.haendelse, "audit log write failed");
        }
    }

    /// Record a refusal (`haendelse` e.g. `token_refused`, `request_refused`).
    pub async fn audit_refusal(&self, haendelse: &str, r: &Refusal, reference: Option<String>) {
        tracing::info!(
            haendelse,
            code = %r.code,
            service = r.service.as_deref().unwrap_or("-"),
            cvr = r.cvr.as_deref().unwrap_or("-"),
            "refused"
        );
        self.audit(AuditEntry {
            id: 0,
            tid: micros(Utc::now()),
            haendelse: haendelse.to_owned(),
            system: r.system,
            certifikat_sha256: r.certificate_sha256.clone(),
            service: r.service.clone(),
            myndighed: r.cvr.clone(),
            resultat: r.code.clone(),
            aarsag: Some(r.reason.clone()),
            reference,
            ..Default::default()
        })
        .await
    }
}

/// The STS routes (the REST services and the OIO REST API are guarded in [`guard`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/runtime/services/kombittrust/14/certificatemixed",
            post(issue::soap_issue),
        )
        .route(
            "/runtime/api/rest/wstrust/v1/issue",
            post(issue::rest_issue),
        )
        .route(
            "/service/AccessTokenService_1/token",
            post(issue::access_token),
        )
        .layer(DefaultBodyLimit::max(STS_BODY_LIMIT))
}
