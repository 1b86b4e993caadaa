//! Issuing tokens: the SOAP WS-Trust Issue endpoint, the REST issue flow (step 1) and the
//! access-token exchange (step 2). All three end in [`decide`], the one place that decides
//! whether a system gets a token for a service and a CVR.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use fki_store::adgang::{AuditEntry, ItSystem, Serviceaftale, SystemRolle};
use fki_sts::bpp::{Constraint, Privilege, PrivilegeList};
use fki_sts::fault::{FaultCode, soap_fault};
use fki_sts::saml::{self, AssertionSpec, IssuedAssertion};
use fki_sts::wssec::SoapVersion;
use fki_sts::wstrust;
use fki_sts::xml::{self, Limits, ns};
use serde_json::{Value, json};
use uuid::Uuid;

use super::tokens::{ACCESS_TOKEN_LIFETIME, AccessEntry, seconds_left};
use super::{Refusal, Sts, is_cvr};
use crate::AppState;
use crate::tls::{ClientCert, TlsInfo};

/// What a successful decision yields.
pub struct Granted {
    pub system: ItSystem,
    pub service: Uuid,
    pub agreements: Vec<Serviceaftale>,
}

/// The privileges an agreement grants: each role with the agreement's data restrictions.
pub fn privileges(cvr: &str, agreements: &[Serviceaftale]) -> PrivilegeList {
    let mut out = Vec::new();
    for a in agreements {
        let constraints: Vec<Constraint> = a
            .dataafgraensninger
            .iter()
            .map(|d| Constraint {
                name: d.navn.clone(),
                value: d.vaerdi.clone(),
            })
            .collect();
        for role in &a.roller {
            out.push(Privilege {
                role: role.clone(),
                constraints: constraints.clone(),
            });
        }
    }
    PrivilegeList::for_cvr(cvr, &out)
}

/// May the holder of `cert_der` (registered, an anvendersystem, certificate valid) act for `cvr`
/// against the service `entity_id` (registered, with an active agreement)?
pub async fn decide(
    sts: &Sts,
    cert_der: &[u8],
    entity_id: &str,
    cvr: Option<&str>,
) -> Result<Granted, Refusal> {
    let sha = fki_sts::ca::fingerprint_sha256(cert_der);
    let ctx = |r: Refusal| {
        r.with_cert(Some(&sha))
            .with_service(Some(entity_id))
            .with_cvr(cvr)
    };
    let system = sts
        .adgang
        .system_by_certificate(&sha)
        .await
        .map_err(|e| ctx(Refusal::store(e)))?
        .ok_or_else(|| {
            ctx(Refusal::new(
                "unknown_system",
                "the certificate does not belong to a registered anvendersystem",
                FaultCode::FailedAuthentication,
                StatusCode::UNAUTHORIZED,
            ))
        })?;
    let ctx = |r: Refusal| ctx(r).with_system(Some(system.uuid));
    if system.rolle != SystemRolle::Anvendersystem {
        return Err(ctx(Refusal::new(
            "not_anvendersystem",
            "the system is not registered as an anvendersystem",
            FaultCode::FailedAuthentication,
            StatusCode::FORBIDDEN,
        )));
    }
    // Registered explicitly, or issued by the fki CA: either way it must be valid now.
    let info = fki_sts::ca::cert_info(cert_der).map_err(|_| {
        ctx(Refusal::new(
            "bad_certificate",
            "the certificate cannot be read",
            FaultCode::InvalidSecurityToken,
            StatusCode::UNAUTHORIZED,
        ))
    })?;
    let now = Utc::now();
    if now < info.not_before || now >= info.not_after {
        return Err(ctx(Refusal::new(
            "certificate_expired",
            "the certificate is outside its validity period",
            FaultCode::InvalidSecurityToken,
            StatusCode::UNAUTHORIZED,
        )));
    }
    let service = sts
        .service_uuid(entity_id)
        .await
        .map_err(|e| ctx(Refusal::store(e)))?
        .ok_or_else(|| {
            ctx(Refusal::new(
                "unknown_service",
                format!("AppliesTo {entity_id:?} is not a known service"),
                FaultCode::BadRequest,
                StatusCode::BAD_REQUEST,
            ))
        })?;
    let cvr = match cvr {
        None | Some("") => {
            return Err(ctx(Refusal::new(
                "missing_cvr",
                "the CvrNumberIdentifier claim is missing",
                FaultCode::InvalidRequest,
                StatusCode::BAD_REQUEST,
            )));
        }
        Some(c) if !is_cvr(c) => {
            return Err(ctx(Refusal::new(
                "invalid_cvr",
                "the CvrNumberIdentifier claim is not a CVR number of 8 digits",
                FaultCode::InvalidRequest,
                StatusCode::BAD_REQUEST,
            )));
        }
        Some(c) => c,
    };
    let agreements = sts
        .active_agreements(system.uuid, service, cvr)
        .await
        .map_err(ctx)?;
    Ok(Granted {
        system,
        service,
        agreements,
    })
}

/// Decide, issue and audit (`token_issued` / `token_refused`).
async fn issue_token(
    sts: &Sts,
    cert_der: &[u8],
    entity_id: &str,
    cvr: Option<&str>,
    reference: Option<String>,
) -> Result<IssuedAssertion, Refusal> {
    let result = async {
        let granted = decide(sts, cert_der, entity_id, cvr).await?;
        let cvr = cvr.unwrap_or_default();
        let privileges = privileges(cvr, &granted.agreements);
        let spec = AssertionSpec::new(&sts.key, cert_der, entity_id, cvr, &privileges, Utc::now())
            .with_lifetime(sts.settings.token_lifetime);
        let assertion = saml::issue_assertion(&spec).map_err(|e| {
            tracing::error!(error = %e, "issuing an assertion failed");
            Refusal::from_token(&e).with_system(Some(granted.system.uuid))
        })?;
        Ok::<_, Refusal>((granted, assertion))
    }
    .await;
    match result {
        Ok((granted, assertion)) => {
            sts.audit(AuditEntry {
                id: 0,
                tid: Utc::now().timestamp_micros(),
                haendelse: "token_issued".into(),
                system: Some(granted.system.uuid),
                certifikat_sha256: Some(granted.system.certifikat_sha256.clone()),
                service: Some(entity_id.to_owned()),
                myndighed: cvr.map(str::to_owned),
                resultat: "ok".into(),
                aarsag: Some(format!(
                    "assertion {} valid until {}",
                    assertion.id,
                    fki_sts::time::format(assertion.not_on_or_after)
                )),
                reference,
                ..Default::default()
            })
            .await;
            Ok(assertion)
        }
        Err(r) => {
            let r = r
                .with_cert(Some(&fki_sts::ca::fingerprint_sha256(cert_der)))
                .with_service(Some(entity_id))
                .with_cvr(cvr);
            sts.audit_refusal("token_refused", &r, reference).await;
            Err(r)
        }
    }
}

// ------------------------------------------------------------------------------------------
// SOAP

const SOAP12_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

/// A SOAP fault response: HTTP 400 for sender faults, 500 for receiver faults (SOAP 1.2 HTTP
/// binding; SOAP 1.1 services answer 500 for every fault).
pub fn fault_response(version: SoapVersion, code: FaultCode, reason: &str) -> Response {
    let (status, ct) = match version {
        SoapVersion::Soap12 if code.is_sender() => (StatusCode::BAD_REQUEST, SOAP12_CONTENT_TYPE),
        SoapVersion::Soap12 => (StatusCode::INTERNAL_SERVER_ERROR, SOAP12_CONTENT_TYPE),
        SoapVersion::Soap11 => (StatusCode::INTERNAL_SERVER_ERROR, "text/xml; charset=utf-8"),
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(ct))],
        soap_fault(version, code, reason),
    )
        .into_response()
}

/// The SOAP version a (possibly unparsable) envelope claims, by its namespace.
pub fn guess_version(body: &[u8]) -> SoapVersion {
    let head = &body[..body.len().min(4096)];
    let needle = ns::SOAP11.as_bytes();
    if head.windows(needle.len()).any(|w| w == needle) {
        SoapVersion::Soap11
    } else {
        SoapVersion::Soap12
    }
}

fn body_refusal(e: &BytesRejection) -> Refusal {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::new(
            "too_large",
            "request body too large",
            FaultCode::InvalidRequest,
            StatusCode::PAYLOAD_TOO_LARGE,
        )
    } else {
        Refusal::new(
            "bad_body",
            "the request body cannot be read",
            FaultCode::InvalidRequest,
            StatusCode::BAD_REQUEST,
        )
    }
}

fn require_tls(sts: &Sts, tls: Option<&TlsInfo>) -> Result<(), Refusal> {
    if tls.is_none() && !sts.settings.dev_open {
        return Err(Refusal::new(
            "tls_required",
            "this endpoint is only served over HTTPS",
            FaultCode::InvalidSecurity,
            StatusCode::FORBIDDEN,
        ));
    }
    Ok(())
}

/// `POST /runtime/services/kombittrust/14/certificatemixed`: WS-Trust 1.3 Issue (SOAP 1.2).
pub async fn soap_issue(
    State(state): State<AppState>,
    tls: Option<Extension<TlsInfo>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let sts = &state.sts;
    let (version, result) = match body {
        Err(e) => (SoapVersion::Soap12, Err((body_refusal(&e), false))),
        Ok(body) => {
            let version = guess_version(&body);
            (version, soap_issue_inner(sts, tls.as_deref(), &body).await)
        }
    };
    match result {
        Ok(xml) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SOAP12_CONTENT_TYPE),
            )],
            xml,
        )
            .into_response(),
        Err((r, audited)) => {
            if !audited {
                sts.audit_refusal("token_refused", &r, None).await;
            }
            let mut resp = fault_response(version, r.fault, &r.reason);
            if r.status == StatusCode::PAYLOAD_TOO_LARGE {
                *resp.status_mut() = r.status;
            }
            resp
        }
    }
}

/// `Err((refusal, already audited))`.
async fn soap_issue_inner(
    sts: &Sts,
    tls: Option<&TlsInfo>,
    body: &[u8],
) -> Result<String, (Refusal, bool)> {
    require_tls(sts, tls).map_err(|r| (r, false))?;
    let now = Utc::now();
    let config = sts.wssec_config();
    let req = wstrust::verify_issue_request(body, now, &config)
        .map_err(|e| (Refusal::from_wssec(&e), false))?;
    let ctx = |r: Refusal| {
        r.with_cert(Some(&fki_sts::ca::fingerprint_sha256(
            &req.bst_certificate_der,
        )))
        .with_service(Some(&req.applies_to))
        .with_cvr(req.cvr.as_deref())
    };
    if let Some(t) = &req.token_type
        && t != wstrust::TOKEN_TYPE_SAML20
    {
        return Err((
            ctx(Refusal::new(
                "unsupported_token_type",
                "only SAML 2.0 tokens are issued",
                FaultCode::BadRequest,
                StatusCode::BAD_REQUEST,
            )),
            false,
        ));
    }
    if let Some(k) = &req.key_type
        && k != wstrust::KEY_TYPE_PUBLIC_KEY
    {
        return Err((
            ctx(Refusal::new(
                "unsupported_key_type",
                "only holder-of-key (PublicKey) tokens are issued",
                FaultCode::BadRequest,
                StatusCode::BAD_REQUEST,
            )),
            false,
        ));
    }
    // Replay protection on the Issue request's MessageID, too.
    sts.replay
        .check_and_insert(&req.message_id, req.expires + sts.settings.skew, now)
        .map_err(|e| (ctx(Refusal::from_wssec(&e)), false))?;
    let cert = req
        .use_key_certificate_der
        .as_deref()
        .unwrap_or(&req.bst_certificate_der);
    let assertion = issue_token(
        sts,
        cert,
        &req.applies_to,
        req.cvr.as_deref(),
        Some(req.message_id.clone()),
    )
    .await
    .map_err(|r| (r, true))?;
    Ok(wstrust::build_issue_response(&req, &assertion))
}

// ------------------------------------------------------------------------------------------
// REST step 1

fn require_client_cert(
    sts: &Sts,
    tls: Option<&TlsInfo>,
    cert: Option<&ClientCert>,
) -> Result<ClientCert, Refusal> {
    require_tls(sts, tls)?;
    cert.cloned().ok_or_else(|| {
        Refusal::new(
            "client_certificate_required",
            "this endpoint requires a TLS client certificate",
            FaultCode::FailedAuthentication,
            StatusCode::UNAUTHORIZED,
        )
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

fn bad(code: &str, reason: impl Into<String>) -> Refusal {
    Refusal::new(
        code,
        reason,
        FaultCode::InvalidRequest,
        StatusCode::BAD_REQUEST,
    )
}

/// `POST /runtime/api/rest/wstrust/v1/issue` (mutual TLS):
/// `{TokenType, RequestType, KeyType, AnvenderKontekst:{Cvr}, UseKey, AppliesTo:{EndpointReference:{Address}}, OnBehalfOf}`.
pub async fn rest_issue(
    State(state): State<AppState>,
    tls: Option<Extension<TlsInfo>>,
    cert: Option<Extension<ClientCert>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let sts = &state.sts;
    let reference = transaktions_id(&headers);
    match rest_issue_inner(
        sts,
        tls.as_deref(),
        cert.as_deref(),
        body,
        reference.clone(),
    )
    .await
    {
        Ok(v) => axum::Json(v).into_response(),
        Err((r, audited)) => {
            if !audited {
                sts.audit_refusal("token_refused", &r, reference).await;
            }
            r.json()
        }
    }
}

async fn rest_issue_inner(
    sts: &Sts,
    tls: Option<&TlsInfo>,
    cert: Option<&ClientCert>,
    body: Result<Bytes, BytesRejection>,
    reference: Option<String>,
) -> Result<Value, (Refusal, bool)> {
    let cert = require_client_cert(sts, tls, cert).map_err(|r| (r, false))?;
    let ctx = |r: Refusal| (r.with_cert(Some(&cert.sha256)), false);
    let body = body.map_err(|e| ctx(body_refusal(&e)))?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ctx(bad("bad_request", format!("malformed JSON: {e}"))))?;
    if !v.is_object() {
        return Err(ctx(bad("bad_request", "the body must be a JSON object")));
    }
    let checks = [
        (
            "TokenType",
            wstrust::TOKEN_TYPE_SAML20,
            "unsupported_token_type",
        ),
        (
            "RequestType",
            wstrust::REQUEST_TYPE_ISSUE,
            "unsupported_request_type",
        ),
        (
            "KeyType",
            wstrust::KEY_TYPE_PUBLIC_KEY,
            "unsupported_key_type",
        ),
    ];
    for (field, want, code) in checks {
        match v.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == want => {}
            Some(_) => return Err(ctx(bad(code, format!("{field} must be {want:?}")))),
        }
    }
    match v.get("OnBehalfOf") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(_) => {
            return Err(ctx(bad(
                "on_behalf_of_unsupported",
                "OnBehalfOf (user context) is not supported: system tokens only",
            )));
        }
    }
    let entity_id = str_at(&v, &["AppliesTo", "EndpointReference", "Address"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ctx(bad(
                "bad_request",
                "AppliesTo.EndpointReference.Address is required",
            ))
        })?;
    let cvr = str_at(&v, &["AnvenderKontekst", "Cvr"]);
    if let Some(uk) = v.get("UseKey").filter(|u| !u.is_null()) {
        let der = uk
            .as_str()
            .and_then(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.split_whitespace().collect::<String>())
                    .ok()
            })
            .ok_or_else(|| ctx(bad("bad_request", "UseKey must be a base64 certificate")))?;
        if der != *cert.der {
            return Err(ctx(Refusal::new(
                "usekey_mismatch",
                "UseKey differs from the TLS client certificate",
                FaultCode::FailedAuthentication,
                StatusCode::UNAUTHORIZED,
            )
            .with_service(Some(entity_id))
            .with_cvr(cvr)));
        }
    }
    let assertion = issue_token(sts, &cert.der, entity_id, cvr, reference)
        .await
        .map_err(|r| (r, true))?;
    Ok(json!({
        "RequestedSecurityToken": {
            "Assertion": base64::engine::general_purpose::STANDARD.encode(assertion.xml.as_bytes()),
        },
        "Lifetime": {
            "Created": fki_sts::time::format(assertion.not_before),
            "Expires": fki_sts::time::format(assertion.not_on_or_after),
        },
        "TokenType": wstrust::TOKEN_TYPE_SAML20,
        "AppliesTo": {"EndpointReference": {"Address": entity_id}},
    }))
}

/// `x-TransaktionsId`, for audit references.
pub fn transaktions_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-transaktionsid")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(100).collect())
}

// ------------------------------------------------------------------------------------------
// REST step 2

/// An assertion sent as a token: base64 (standard or URL-safe, padding optional) of the XML,
/// or the XML itself.
pub fn decode_assertion(token: &str) -> Option<String> {
    let t = token.trim();
    if t.starts_with('<') {
        return Some(t.to_owned());
    }
    let compact: String = t.split_whitespace().collect();
    let trimmed = compact.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.trim_start().starts_with('<').then_some(text)
}

/// The audiences an (unverified) assertion names: to choose the expected audience before the
/// full verification, which checks it again.
pub fn claimed_audiences(xml_text: &str) -> Result<Vec<String>, Refusal> {
    let doc = xml::parse(xml_text, Limits::default())
        .map_err(|e| Refusal::from_token(&saml::TokenError::from(e)))?;
    Ok(doc
        .descendants()
        .filter(|n| xml::is(*n, ns::SAML, "Audience"))
        .map(xml::text)
        .collect())
}

/// Verify an assertion presented as a bearer of identity for `entity_id` (`None`: the one
/// audience it names).
pub fn verify_presented(
    sts: &Sts,
    xml_text: &str,
    entity_id: Option<&str>,
) -> Result<saml::VerifiedAssertion, Refusal> {
    let audience = match entity_id {
        Some(e) => e.to_owned(),
        None => {
            let mut a = claimed_audiences(xml_text)?;
            if a.len() != 1 {
                return Err(Refusal::from_token(&saml::TokenError::Malformed(
                    "expected exactly one Audience".into(),
                )));
            }
            a.remove(0)
        }
    };
    let a = sts
        .assertions
        .verify(
            xml_text,
            &sts.trusted,
            &sts.settings.issuer,
            &audience,
            Utc::now(),
            sts.settings.skew,
        )
        .map_err(|e| Refusal::from_token(&e).with_service(Some(&audience)))?;
    sts.tjek_udloeb(&a)
        .map_err(|r| r.with_service(Some(&audience)))?;
    Ok(a)
}

/// `POST /service/AccessTokenService_1/token` (mutual TLS with the holder-of-key certificate),
/// form field `saml-token`.
pub async fn access_token(
    State(state): State<AppState>,
    tls: Option<Extension<TlsInfo>>,
    cert: Option<Extension<ClientCert>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let sts = &state.sts;
    let reference = transaktions_id(&headers);
    match access_token_inner(sts, tls.as_deref(), cert.as_deref(), body).await {
        Ok((token, entry)) => {
            sts.audit(AuditEntry {
                id: 0,
                tid: Utc::now().timestamp_micros(),
                haendelse: "access_token_issued".into(),
                system: Some(entry.system),
                certifikat_sha256: Some(entry.certificate_sha256.to_string()),
                service: Some(entry.audience.clone()),
                myndighed: Some(entry.cvr.clone()),
                resultat: "ok".into(),
                aarsag: Some(format!("for assertion {}", entry.assertion_id)),
                reference,
                ..Default::default()
            })
            .await;
            axum::Json(json!({
                "access_token": token,
                "token_type": "Holder-of-key",
                "expires_in": seconds_left(entry.expires),
            }))
            .into_response()
        }
        Err(r) => {
            sts.audit_refusal("access_token_refused", &r, reference)
                .await;
            r.json()
        }
    }
}

async fn access_token_inner(
    sts: &Sts,
    tls: Option<&TlsInfo>,
    cert: Option<&ClientCert>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(String, AccessEntry), Refusal> {
    let cert = require_client_cert(sts, tls, cert)?;
    let ctx = |r: Refusal| r.with_cert(Some(&cert.sha256));
    let body = body.map_err(|e| ctx(body_refusal(&e)))?;
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "saml-token")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ctx(bad("bad_request", "form field saml-token is required")))?;
    let xml_text = decode_assertion(&token).ok_or_else(|| {
        ctx(bad(
            "token_malformed",
            "saml-token is not a base64 encoded SAML assertion",
        ))
    })?;
    let a = verify_presented(sts, &xml_text, None).map_err(ctx)?;
    let ctx = |r: Refusal| {
        ctx(r)
            .with_service(Some(&a.audience))
            .with_cvr(Some(&a.cvr))
    };
    if a.hok_certificate_der != *cert.der {
        return Err(ctx(hok_mismatch()));
    }
    let granted = decide(sts, &cert.der, &a.audience, Some(&a.cvr))
        .await
        .map_err(ctx)?;
    let until = a.not_on_or_after - Utc::now();
    let lifetime = until
        .to_std()
        .unwrap_or_default()
        .min(ACCESS_TOKEN_LIFETIME);
    let entry = AccessEntry {
        cvr: a.cvr.clone(),
        audience: a.audience.clone(),
        certificate_sha256: cert.sha256.clone(),
        system: granted.system.uuid,
        service: granted.service,
        assertion_id: a.id.clone(),
        privileges: a.privileges.clone(),
        expires: Instant::now() + lifetime,
    };
    let token = sts.access_tokens.insert(entry.clone()).map_err(|_| {
        ctx(Refusal::new(
            "access_token_table_full",
            "too many live access tokens; try again later",
            FaultCode::Receiver,
            StatusCode::SERVICE_UNAVAILABLE,
        ))
    })?;
    Ok((token, entry))
}

pub fn hok_mismatch() -> Refusal {
    Refusal::new(
        "hok_mismatch",
        "the TLS client certificate is not the token's holder-of-key certificate",
        FaultCode::FailedAuthentication,
        StatusCode::UNAUTHORIZED,
    )
}
