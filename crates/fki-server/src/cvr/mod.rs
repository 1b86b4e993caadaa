//! CVR on the Serviceplatform (issue 7): SF1530 CVR Online v2 at `/service/CVR/Online/2`, SOAP
//! 1.1 as `../shared/specs/sf1530-cvr/wsdl/token/OnlineService.wsdl` binds it, with its five
//! operations (`getLegalUnit`, `searchLegalUnit`, `getProductionUnit`, `searchProductionUnit`,
//! `getRelatedProductionUnitNameAndAddress`), answered from the companies of the generated
//! population (`<data-dir>/cpr/*.jsonl`, read at start: `fki_cpr::cvr::Virksomheder::fra_register` over the CPR register). Reading and
//! writing the messages is [`fki_cpr::cvr`]'s.
//!
//! The operation is the Body's element; a `SOAPAction` header (or SOAP 1.2's `action`
//! parameter), when sent and not empty, must be that operation's soapAction.
//!
//! Security: WS-Security with a holder-of-key assertion for
//! `http://cvr.serviceplatformen.dk/service/online/2` (`sp/service.properties`) and an active
//! agreement for the token's CVR ([`WsSecured`]). SF1530's requests have no `AuthorityContext`
//! (`OnlineServiceMsg.xsd`): the municipality is the token's, and a request that carries one is
//! not valid. `InvocationContext`, when sent, must name the calling system (`UserSystemUUID`),
//! this service (`ServiceUUID`: the UUID `fki service list` shows, or KOMBIT's
//! [`cvr::KOMBIT_SERVICE_UUID`] that clients copy from `sp/service.properties`) and one of the
//! caller's active agreements for it (`ServiceAgreementUUID`). Every refusal, an invalid request
//! and an unknown CVR or P-number are a SOAP fault with a `ServiceplatformFault` detail
//! (`ErrorCode`, `ErrorText`; fki's codes, docs/cpr.md).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fki_cpr::cvr::{self, Forespoergsel};
use fki_cpr::personlookup::InvocationContext;
use fki_sts::wssec::SoapVersion;
use fki_sts::xml;

use crate::AppState;
use crate::sts::soap::{SecuredService, WsSecured};

/// Entity ID of CVR Online v2 (SF1530).
pub const ENTITY_CVR_ONLINE: &str = cvr::ENTITY_ID;

/// The SF1530 service (tokens with this audience).
pub struct CvrOnline;
impl SecuredService for CvrOnline {
    const ENTITY_ID: &'static str = ENTITY_CVR_ONLINE;
}

/// fki's `ErrorCode`s for refused contexts (the same as SF1520's); the others are
/// [`cvr::fejlkode`].
pub mod fejlkode {
    /// `InvocationContext` does not match the caller, the service or an active agreement.
    pub const INVOCATION_CONTEXT: &str = "InvocationContextAfvist";
}

/// `POST /service/CVR/Online/2` (and with a trailing slash).
pub fn routes() -> Router<AppState> {
    let h = post(
        |State(st): State<AppState>, headers: HeaderMap, secured: WsSecured<CvrOnline>| async move {
            online(&st, &headers, &secured).await
        },
    );
    Router::new()
        .route(cvr::STI, h.clone())
        .route(&format!("{}/", cvr::STI), h)
}

/// A SOAP fault in `v` (client's or server's) with a `ServiceplatformFault` detail.
fn sp_fault(v: SoapVersion, sender: bool, code: &str, tekst: &str) -> Response {
    let detail = fki_cpr::personlookup::fault_detail(code, tekst);
    let reason = xml::escape_text(tekst);
    let (fault, ct) = match v {
        SoapVersion::Soap11 => (
            format!(
                "<soap:Fault><faultcode>soap:{}</faultcode><faultstring>{reason}</faultstring>\
<detail>{detail}</detail></soap:Fault>",
                if sender { "Client" } else { "Server" }
            ),
            "text/xml; charset=utf-8",
        ),
        SoapVersion::Soap12 => (
            format!(
                "<soap:Fault><soap:Code><soap:Value>soap:{}</soap:Value></soap:Code>\
<soap:Reason><soap:Text xml:lang=\"en\">{reason}</soap:Text></soap:Reason>\
<soap:Detail>{detail}</soap:Detail></soap:Fault>",
                if sender { "Sender" } else { "Receiver" }
            ),
            "application/soap+xml; charset=utf-8",
        ),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{}\"><soap:Body>{fault}</soap:Body></soap:Envelope>",
        v.namespace()
    );
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, HeaderValue::from_static(ct))],
        xml,
    )
        .into_response()
}

async fn online(st: &AppState, headers: &HeaderMap, secured: &WsSecured<CvrOnline>) -> Response {
    let v = secured.soap_version;
    let ugyldig = |t: &str| sp_fault(v, true, cvr::fejlkode::UGYLDIG_FORESPOERGSEL, t);
    let f = match crate::sts::soap::laes_operation(&secured.body, v, cvr::laes) {
        Ok(f) => f,
        Err(e) => return ugyldig(&e),
    };
    let operation = f.operation();
    if let Some(a) = crate::sts::soap::soap_action(headers)
        && a != operation.soap_action()
    {
        return ugyldig(&format!(
            "the SOAPAction {a} is not that of the Body's {} ({})",
            operation.request(),
            operation.soap_action()
        ));
    }
    if let Some(caller) = &secured.caller
        && let Err(r) = invocation_context(st, v, caller, &f).await
    {
        return r;
    }
    let svar = match cvr::svar(&st.cvr, &f.kald) {
        Ok(s) => s,
        Err(e) => return sp_fault(v, true, e.kode, &e.tekst),
    };
    crate::sts::soap::envelope(v, None, &svar)
}

/// The InvocationContext check (see the module docs); no context, nothing to check.
async fn invocation_context(
    st: &AppState,
    v: SoapVersion,
    caller: &crate::sts::guard::Caller,
    f: &Forespoergsel,
) -> Result<(), Response> {
    let Some(InvocationContext {
        service_agreement,
        user_system,
        service: ic_service,
        ..
    }) = &f.invocation
    else {
        return Ok(());
    };
    let afvist = |t: String| sp_fault(v, true, fejlkode::INVOCATION_CONTEXT, &t);
    let refusal =
        |r: crate::sts::Refusal| sp_fault(v, r.status.is_client_error(), &r.code, &r.reason);
    if *user_system != caller.system {
        return Err(afvist(format!(
            "InvocationContext/UserSystemUUID {user_system} is not the calling system"
        )));
    }
    let service = st
        .sts
        .own_service(ENTITY_CVR_ONLINE)
        .await
        .map_err(refusal)?;
    if *ic_service != service && *ic_service != cvr::KOMBIT_SERVICE_UUID {
        return Err(afvist(format!(
            "InvocationContext/ServiceUUID {ic_service} is not this service ({service}, or KOMBIT's {})",
            cvr::KOMBIT_SERVICE_UUID
        )));
    }
    let aftaler = st
        .sts
        .active_agreements(caller.system, service, &caller.cvr)
        .await
        .map_err(refusal)?;
    if !aftaler.iter().any(|a| a.uuid == *service_agreement) {
        return Err(afvist(format!(
            "InvocationContext/ServiceAgreementUUID {service_agreement} is not an active agreement of the caller for this service and CVR"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_comes_from_the_header_or_the_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(crate::sts::soap::soap_action(&h), None);
        h.insert("soapaction", HeaderValue::from_static("\"\""));
        assert_eq!(crate::sts::soap::soap_action(&h), None);
        h.insert(
            "soapaction",
            HeaderValue::from_static("\"http://rep.oio.dk/eogs/xml.wsdl/2/getLegalUnit\""),
        );
        assert_eq!(
            crate::sts::soap::soap_action(&h).as_deref(),
            Some("http://rep.oio.dk/eogs/xml.wsdl/2/getLegalUnit")
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(
                "application/soap+xml; charset=utf-8; action=\"http://rep.oio.dk/eogs/xml.wsdl/2/searchLegalUnit\"",
            ),
        );
        assert_eq!(
            crate::sts::soap::soap_action(&h).as_deref(),
            Some("http://rep.oio.dk/eogs/xml.wsdl/2/searchLegalUnit")
        );
    }
}
