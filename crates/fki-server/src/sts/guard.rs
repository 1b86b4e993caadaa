//! Token enforcement for REST services.
//!
//! [`authenticate`] is the reusable check for HTTP: `Authorization: Holder-of-key <token>` where the token
//! is an access token from REST step 2 or a base64 SAML assertion from the STS, presented on an
//! HTTPS connection whose client certificate is the token's holder-of-key certificate; the
//! token's audience is the service's entity ID; and an agreement for the token's system,
//! service and CVR is active **now** (looked up on every request: revocation is immediate).
//!
//! [`authenticate_assertion`] is the same check for a SAML assertion carried in a message
//! instead of an HTTP header (AMQP), without the holder-of-key proof.
//!
//! [`oio_rest`] is the middleware on the OIO REST API: it maps `/{service}/…` to an entity ID
//! ([`super::oio_entity_id`]), authenticates, and hands the handlers a [`Kontekst`] with
//! `Scope::Myndigheder([cvr])` and the token's CVR as owner. Under `--dev-open` it takes the
//! context from the `X-FKI-*` headers instead and logs a warning for every request.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fki_oio::Kontekst;
use fki_oio::store::Scope;
use fki_sts::bpp::PrivilegeList;
use fki_sts::fault::FaultCode;
use uuid::Uuid;

use super::issue::{decode_assertion, hok_mismatch, transaktions_id, verify_presented};
use super::{Refusal, Sts, oio_entity_id};
use crate::AppState;
use crate::rest::{HEADER_FAELLES, HEADER_MYNDIGHED};
use crate::tls::ClientCert;

/// The authenticated caller of a service.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The myndighed the caller acts for (the token's CVR).
    pub cvr: String,
    pub system: Uuid,
    /// The service's entity ID.
    pub service: String,
    pub certificate_sha256: Arc<str>,
    /// The assertion behind the token.
    pub assertion_id: String,
    pub privileges: PrivilegeList,
    /// `x-TransaktionsId`, if sent.
    pub transaktions_id: Option<String>,
}

fn unauthorized(code: &str, reason: &str) -> Refusal {
    Refusal::new(
        code,
        reason,
        FaultCode::FailedAuthentication,
        StatusCode::UNAUTHORIZED,
    )
}

/// The `Authorization: Holder-of-key <token>` value, if the header is there. `Bearer <token>`
/// is taken the same way (KOMBIT's newer REST services, such as OrganisationHent, name the
/// scheme so): the token is still bound to the client certificate it was issued for.
fn hok_token(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| unauthorized("bad_authorization", "unreadable Authorization header"))?;
    let v = v.trim();
    let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("holder-of-key") && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(
            "unsupported_auth_scheme",
            "expected Authorization: Holder-of-key <token>",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthorized("bad_authorization", "empty token"));
    }
    Ok(Some(token))
}

/// Check the token of a request to the service `entity_id` (see the module docs). Refusals are
/// not audited here; [`authenticate_audited`] does that.
pub async fn authenticate(sts: &Sts, parts: &Parts, entity_id: &str) -> Result<Caller, Refusal> {
    crate::optagelse::saet_tjeneste(&parts.extensions, entity_id);
    let token = hok_token(&parts.headers)?.ok_or_else(|| {
        unauthorized(
            "no_token",
            "a token is required: Authorization: Holder-of-key <token>",
        )
    })?;
    let cert = parts.extensions.get::<ClientCert>().ok_or_else(|| {
        unauthorized(
            "client_certificate_required",
            "tokens are only accepted on HTTPS with the holder-of-key client certificate",
        )
    })?;
    let ctx = |r: Refusal| {
        r.with_cert(Some(&cert.sha256))
            .with_service(Some(entity_id))
    };
    let transaktions_id = transaktions_id(&parts.headers);

    // An assertion, or an access token from step 2.
    let (cvr, system, service, hok_sha, assertion_id, privileges) =
        if let Some(xml_text) = decode_assertion(token) {
            let a = verify_presented(sts, &xml_text, Some(entity_id)).map_err(ctx)?;
            let hok_sha = fki_sts::ca::fingerprint_sha256(&a.hok_certificate_der);
            if hok_sha != *cert.sha256 {
                return Err(ctx(hok_mismatch().with_cvr(Some(&a.cvr))));
            }
            let (system, service) = holder_and_service(sts, &hok_sha, entity_id)
                .await
                .map_err(ctx)?;
            (
                a.cvr,
                system,
                service,
                cert.sha256.clone(),
                a.id,
                a.privileges,
            )
        } else {
            let e = sts.access_tokens.get(token).ok_or_else(|| {
                ctx(unauthorized(
                    "invalid_access_token",
                    "unknown or expired access token",
                ))
            })?;
            if e.audience != entity_id {
                return Err(ctx(unauthorized(
                    "token_wrong_audience",
                    &format!("the token is for {}, not this service", e.audience),
                ))
                .with_cvr(Some(&e.cvr))
                .with_system(Some(e.system)));
            }
            if e.certificate_sha256 != cert.sha256 {
                return Err(ctx(hok_mismatch())
                    .with_cvr(Some(&e.cvr))
                    .with_system(Some(e.system)));
            }
            (
                e.cvr.clone(),
                e.system,
                e.service,
                e.certificate_sha256.clone(),
                e.assertion_id.clone(),
                e.privileges.clone(),
            )
        };
    let ctx = |r: Refusal| ctx(r).with_cvr(Some(&cvr)).with_system(Some(system));
    sts.active_agreements(system, service, &cvr)
        .await
        .map_err(ctx)?;
    let caller = Caller {
        cvr,
        system,
        service: entity_id.to_owned(),
        certificate_sha256: hok_sha,
        assertion_id,
        privileges,
        transaktions_id,
    };
    crate::optagelse::saet_kalder(&parts.extensions, &caller);
    Ok(caller)
}

/// The system holding a verified assertion's holder-of-key certificate (`hok_sha`), and the
/// UUID of this server's service `entity_id`.
async fn holder_and_service(
    sts: &Sts,
    hok_sha: &str,
    entity_id: &str,
) -> Result<(Uuid, Uuid), Refusal> {
    let system = sts.token_holder(hok_sha).await?;
    let service = sts.own_service(entity_id).await?;
    Ok((system.uuid, service))
}

/// Check a SAML assertion presented without TLS, for transports that carry the token in the
/// message itself (the Beskedfordeler's AMQP afsend: the `token` header). `token` is the
/// assertion XML or its base64. The same checks as [`authenticate`] with an assertion —
/// signature by fki's STS, times, audience `entity_id`, a registered system holding the
/// token's certificate, an agreement active now for system × service × the token's CVR —
/// except the holder-of-key proof: there is no TLS client certificate to compare with, so the
/// assertion is a bearer token here (whoever may publish to the broker and holds a valid
/// assertion acts as its system until it expires).
pub async fn authenticate_assertion(
    sts: &Sts,
    token: &str,
    entity_id: &str,
) -> Result<Caller, Refusal> {
    let ctx = |r: Refusal| r.with_service(Some(entity_id));
    let xml_text = decode_assertion(token).ok_or_else(|| {
        ctx(unauthorized(
            "token_malformed",
            "the token is not a SAML assertion (XML or its base64)",
        ))
    })?;
    let a = verify_presented(sts, &xml_text, Some(entity_id)).map_err(ctx)?;
    let hok_sha = fki_sts::ca::fingerprint_sha256(&a.hok_certificate_der);
    let ctx = |r: Refusal| ctx(r).with_cert(Some(&hok_sha)).with_cvr(Some(&a.cvr));
    let (system, service) = holder_and_service(sts, &hok_sha, entity_id)
        .await
        .map_err(ctx)?;
    sts.active_agreements(system, service, &a.cvr)
        .await
        .map_err(|r| ctx(r).with_system(Some(system)))?;
    Ok(Caller {
        cvr: a.cvr,
        system,
        service: entity_id.to_owned(),
        certificate_sha256: Arc::from(hok_sha),
        assertion_id: a.id,
        privileges: a.privileges,
        transaktions_id: None,
    })
}

/// [`authenticate`], recording refusals as `request_refused` in the audit log — except a
/// request without any token (`no_token`), which is only logged: anyone can send those, and
/// the audit log records decisions about callers who identified themselves.
pub async fn authenticate_audited(
    sts: &Sts,
    parts: &Parts,
    entity_id: &str,
) -> Result<Caller, Refusal> {
    match authenticate(sts, parts, entity_id).await {
        Ok(c) => Ok(c),
        Err(r) => {
            if r.code == "no_token" {
                tracing::info!(service = entity_id, "request without token refused");
            } else {
                sts.audit_refusal("request_refused", &r, transaktions_id(&parts.headers))
                    .await;
            }
            Err(r)
        }
    }
}

/// Middleware on the OIO REST API (see the module docs). Inserts a [`Kontekst`] (and, with a
/// token, the [`Caller`]) as request extensions.
pub async fn oio_rest(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let service = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let sts = &state.sts;
    if sts.settings.dev_open {
        let ctx = match crate::rest::kontekst(&state, &parts.headers) {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        tracing::warn!(
            method = %parts.method,
            path = %parts.uri.path(),
            myndighed = ctx.myndighed.as_deref().unwrap_or("-"),
            "--dev-open: request let through without a token"
        );
        parts.extensions.insert(ctx);
        return next.run(Request::from_parts(parts, body)).await;
    }
    let Some(entity_id) = oio_entity_id(&service) else {
        // Not a service of the OIO REST API: the handler answers 404.
        parts.extensions.insert(Kontekst {
            scope: Scope::Myndigheder(Vec::new()),
            myndighed: None,
            faelles: false,
            brugerref: None,
        });
        return next.run(Request::from_parts(parts, body)).await;
    };
    let caller = match authenticate_audited(sts, &parts, entity_id).await {
        Ok(c) => c,
        Err(r) => return r.json(),
    };
    if let Some(m) = parts.headers.get(HEADER_MYNDIGHED)
        && m.to_str().ok().map(str::trim) != Some(caller.cvr.as_str())
    {
        let r = Refusal::new(
            "cvr_mismatch",
            "X-FKI-Myndighed differs from the token's CVR",
            FaultCode::FailedAuthentication,
            StatusCode::FORBIDDEN,
        )
        .with_cvr(Some(&caller.cvr))
        .with_system(Some(caller.system))
        .with_service(Some(entity_id))
        .with_cert(Some(&caller.certificate_sha256));
        sts.audit_refusal("request_refused", &r, caller.transaktions_id.clone())
            .await;
        return r.json();
    }
    let faelles = parts
        .headers
        .get(HEADER_FAELLES)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    parts.extensions.insert(Kontekst {
        scope: Scope::Myndigheder(vec![caller.cvr.clone()]),
        myndighed: Some(caller.cvr.clone()),
        faelles,
        brugerref: None,
    });
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn med(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn holder_of_key_and_bearer_carry_the_token_other_schemes_are_refused() {
        assert_eq!(hok_token(&med("Holder-of-key abc")).unwrap(), Some("abc"));
        assert_eq!(hok_token(&med("bearer  abc ")).unwrap(), Some("abc"));
        assert_eq!(hok_token(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            hok_token(&med("Basic abc")).unwrap_err().code,
            "unsupported_auth_scheme"
        );
        assert_eq!(
            hok_token(&med("Bearer ")).unwrap_err().code,
            "bad_authorization"
        );
    }
}
