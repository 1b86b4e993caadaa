//! WS-Security for SOAP services: one extractor the SOAP services plug into.
//!
//! ```ignore
//! struct Organisation;
//! impl SecuredService for Organisation {
//!     const ENTITY_ID: &'static str = fki_server::sts::ENTITY_ORGANISATION;
//! }
//! async fn soeg(secured: WsSecured<Organisation>) -> Response {
//!     let caller = secured.caller.as_ref(); // None only under --dev-open
//!     let payload = secured.payload();      // the operation element, verbatim
//!     …
//! }
//! ```
//!
//! [`WsSecured`] reads the body (at most [`super::STS_BODY_LIMIT`]), runs
//! `fki_sts::wssec::verify_service_request` — assertion signed by the STS with this service's
//! entity ID as audience, signature by the holder-of-key key over Body, Timestamp and the
//! WS-Addressing headers, fresh Timestamp, `MessageID` not seen before (the shared
//! [`fki_sts::wssec::ReplayCache`]) — and checks that an agreement for the token's system,
//! service and CVR is active now. A refusal is answered with a SOAP fault in the request's
//! SOAP version (`wsse:…` subcodes) and recorded as `request_refused` in the audit log.
//!
//! Under `--dev-open` a request that fails the checks is let through with `verified` and
//! `caller` set to `None`, and a warning is logged.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::Response;
use chrono::Utc;
use fki_sts::wssec::{self, SoapVersion, VerifiedRequest};

use super::guard::Caller;
use super::issue::{fault_response, guess_version};
use super::{Refusal, STS_BODY_LIMIT, Sts};
use crate::AppState;

/// A SOAP service protected by WS-Security: its entity ID (the tokens' audience).
pub trait SecuredService {
    const ENTITY_ID: &'static str;
}

/// A verified SOAP request (see the module docs).
#[derive(Debug)]
pub struct WsSecured<S> {
    /// The whole envelope as received.
    pub body: Bytes,
    pub soap_version: SoapVersion,
    /// `None` only under `--dev-open` when the checks failed.
    pub verified: Option<VerifiedRequest>,
    /// `None` only under `--dev-open` when the checks failed.
    pub caller: Option<Caller>,
    _service: PhantomData<S>,
}

impl<S> WsSecured<S> {
    /// The operation element (the Body's first child), verbatim; `None` if the Body is empty
    /// or the request was not verified.
    pub fn payload(&self) -> Option<&str> {
        let r = self.verified.as_ref()?.payload_range.clone()?;
        std::str::from_utf8(self.body.get(r)?).ok()
    }
}

/// Verify `body` as a request to the service `entity_id` (see the module docs). Refusals are
/// audited.
pub async fn verify(
    sts: &Sts,
    entity_id: &str,
    body: &[u8],
) -> Result<(VerifiedRequest, Caller), Refusal> {
    let result = async {
        let v = wssec::verify_service_request(
            body,
            &sts.trusted,
            &sts.settings.issuer,
            entity_id,
            Utc::now(),
            &sts.wssec_config(),
        )
        .map_err(|e| Refusal::from_wssec(&e).with_service(Some(entity_id)))?;
        let sha = fki_sts::ca::fingerprint_sha256(&v.assertion.hok_certificate_der);
        let ctx = |r: Refusal| {
            r.with_cert(Some(&sha))
                .with_service(Some(entity_id))
                .with_cvr(Some(&v.assertion.cvr))
        };
        sts.tjek_udloeb(&v.assertion).map_err(ctx)?;
        let system = sts.token_holder(&sha).await.map_err(ctx)?;
        let service = sts.own_service(entity_id).await.map_err(ctx)?;
        sts.active_agreements(system.uuid, service, &v.assertion.cvr)
            .await
            .map_err(|r| ctx(r).with_system(Some(system.uuid)))?;
        let caller = Caller {
            cvr: v.assertion.cvr.clone(),
            system: system.uuid,
            service: entity_id.to_owned(),
            certificate_sha256: sha.as_str().into(),
            assertion_id: v.assertion.id.clone(),
            privileges: v.assertion.privileges.clone(),
            transaktions_id: Some(v.message_id.clone()),
        };
        Ok((v, caller))
    }
    .await;
    if let Err(r) = &result {
        sts.audit_refusal("request_refused", r, None).await;
    }
    result
}

impl<S: SecuredService + Send> FromRequest<AppState> for WsSecured<S> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let sts = &state.sts;
        let slot = req.extensions().get::<crate::optagelse::Slot>().cloned();
        if let Some(s) = &slot {
            s.tjeneste(S::ENTITY_ID);
        }
        let body = axum::body::to_bytes(req.into_body(), STS_BODY_LIMIT)
            .await
            .map_err(|_| {
                fault_response(
                    SoapVersion::Soap11,
                    fki_sts::fault::FaultCode::InvalidSecurity,
                    "request body too large or unreadable",
                )
            })?;
        let guessed = guess_version(&body);
        match verify(sts, S::ENTITY_ID, &body).await {
            Ok((v, caller)) => {
                if let Some(s) = &slot {
                    s.kalder(&caller);
                }
                Ok(WsSecured {
                    soap_version: v.soap_version,
                    body,
                    verified: Some(v),
                    caller: Some(caller),
                    _service: PhantomData,
                })
            }
            Err(r) if sts.settings.dev_open => {
                tracing::warn!(
                    service = S::ENTITY_ID,
                    code = %r.code,
                    "--dev-open: SOAP request let through although WS-Security refused it"
                );
                Ok(WsSecured {
                    soap_version: guessed,
                    body,
                    verified: None,
                    caller: None,
                    _service: PhantomData,
                })
            }
            Err(r) => {
                if let Some(s) = &slot {
                    s.afvist(&r.code);
                }
                Err(fault_response(guessed, r.fault, &r.reason))
            }
        }
    }
}

/// An answer envelope (200): SOAP `version`, a header's content (e.g. the RequestHeader back),
/// `body` in the Body, with the version's content type.
pub fn envelope(version: SoapVersion, request_header: Option<&str>, body: &str) -> Response {
    let env = version.namespace();
    let header_xml = request_header
        .map(|h| format!("<soap:Header>{h}</soap:Header>"))
        .unwrap_or_default();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{env}\">{header_xml}<soap:Body>{body}</soap:Body></soap:Envelope>"
    );
    let ct = match version {
        SoapVersion::Soap12 => "application/soap+xml; charset=utf-8",
        SoapVersion::Soap11 => "text/xml; charset=utf-8",
    };
    let mut r = axum::response::IntoResponse::into_response((axum::http::StatusCode::OK, xml));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(ct),
    );
    r
}

/// The action the request names: `SOAPAction` (SOAP 1.1) or the `action` parameter of the
/// content type (SOAP 1.2), unquoted; `None` when absent or empty.
pub fn soap_action(headers: &axum::http::HeaderMap) -> Option<String> {
    let unquote = |s: &str| s.trim().trim_matches('"').trim().to_owned();
    let a = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(unquote)
        .or_else(|| {
            let ct = headers
                .get(axum::http::header::CONTENT_TYPE)?
                .to_str()
                .ok()?;
            ct.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("action").then(|| unquote(v))
            })
        })?;
    (!a.is_empty()).then_some(a)
}

/// The `RequestHeader` of an envelope (`root`, SOAP namespace `env`) as the answer echoes it:
/// `<rh:RequestHeader>` with the request's `TransactionUUID`; `None` without one
/// (`../shared/specs/sf1500-organisation/v6/xsd/common/RequestHeader.xsd`).
pub fn request_header(root: roxmltree::Node<'_, '_>, env: &str) -> Option<String> {
    use fki_organisation::typer::NS_REQUEST_HEADER;
    use fki_sts::xml;
    let t = root
        .children()
        .find(|n| n.is_element() && xml::is(*n, env, "Header"))?
        .children()
        .find(|n| n.is_element() && xml::is(*n, NS_REQUEST_HEADER, "RequestHeader"))?
        .children()
        .find(|c| c.is_element() && xml::is(*c, NS_REQUEST_HEADER, "TransactionUUID"))
        .map(xml::text)?;
    Some(format!(
        "<rh:RequestHeader xmlns:rh=\"{NS_REQUEST_HEADER}\"><rh:TransactionUUID>{}</rh:TransactionUUID></rh:RequestHeader>",
        xml::escape_text(&t)
    ))
}

/// Read the operation element of a SOAP `version` envelope (`body`, bytes as received, with
/// the safe parser's limits) with `laes`; an error text for a body that is not XML, not such an
/// envelope, or has no element in its Body.
pub fn laes_operation<T>(
    body: &[u8],
    version: SoapVersion,
    laes: impl FnOnce(roxmltree::Node<'_, '_>) -> Result<T, String>,
) -> Result<T, String> {
    use fki_sts::xml::{self, Limits};
    let text = xml::as_text(body, Limits::default()).map_err(|e| e.to_string())?;
    let doc = xml::parse(text, Limits::default()).map_err(|e| e.to_string())?;
    let env = version.namespace();
    let op = doc
        .root_element()
        .children()
        .find(|n| n.is_element() && xml::is(*n, env, "Body"))
        .and_then(|b| b.children().find(|n| n.is_element()))
        .ok_or("the envelope has no Body element")?;
    laes(op)
}
