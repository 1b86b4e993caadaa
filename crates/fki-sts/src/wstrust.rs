//! WS-Trust 1.3 Issue: the request a client sends to the STS, and the response.
//!
//! The request is shaped like `../shared/specs/sf1514-sts/SAMLTokenSoapTemplate.xml`: a SOAP
//! 1.2 envelope with WS-Addressing headers (`Action`, `MessageID`, `To`, `ReplyTo`, each with a
//! `wsu:Id`), a `wsse:Security` header holding a `wsu:Timestamp`, the caller's certificate as a
//! `wsse:BinarySecurityToken`, and a `ds:Signature` made with that certificate's key over the
//! Timestamp, the Body, the addressing headers and the token itself (`sp:ProtectTokens` in
//! `../shared/specs/sf1514-sts/sts.wsdl`); the Body is a `wst:RequestSecurityToken` with
//! `RequestType` Issue, `AppliesTo/EndpointReference/Address`, `Claims` with the
//! `dk:gov:saml:attribute:CvrNumberIdentifier` claim, `TokenType` SAML 2.0, `KeyType`
//! PublicKey and `UseKey` with the certificate.
//!
//! [`verify_issue_request`] verifies the signature (by which elements its references resolve
//! to), the Timestamp, and reads the request. Whether the certificate belongs to a registered
//! anvendersystem with an agreement for `AppliesTo` is the server's decision.
//!
//! The response (`build_issue_response`) is a `wst:RequestSecurityTokenResponseCollection`
//! (the output message of `Trust13Issue` in `sts.wsdl`, action `…/RSTRC/IssueFinal`) with the
//! assertion copied byte-for-byte into `RequestedSecurityToken`.

use base64::Engine;
use chrono::{DateTime, Utc};

use crate::dsig;
use crate::saml::IssuedAssertion;
use crate::wssec::{self, ENCODING_BASE64, SoapVersion, VALUE_TYPE_X509, WsSecConfig, WsSecError};
use crate::xml::{self, Limits, ns};

/// `wsa:Action` of the request.
pub const ACTION_ISSUE: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";
/// `wsa:Action` of the response.
pub const ACTION_ISSUE_FINAL: &str =
    "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal";
/// `wst:RequestType` Issue.
pub const REQUEST_TYPE_ISSUE: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue";
/// `wst:TokenType` SAML 2.0.
pub const TOKEN_TYPE_SAML20: &str = wssec::TOKEN_TYPE_SAML20;
/// `wst:KeyType` PublicKey (holder-of-key with the caller's certificate).
pub const KEY_TYPE_PUBLIC_KEY: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/PublicKey";
/// `Claims/@Dialect`.
pub const CLAIMS_DIALECT: &str = "http://docs.oasis-open.org/wsfed/authorization/200706/authclaims";
/// The CVR claim type.
pub const CLAIM_CVR: &str = "dk:gov:saml:attribute:CvrNumberIdentifier";
/// WS-Addressing anonymous address.
pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";

/// A verified Issue request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// `wsa:MessageID` (the response's `RelatesTo`).
    pub message_id: String,
    /// `wsa:Action`, if present.
    pub action: Option<String>,
    /// `wsa:To`, if present.
    pub to: Option<String>,
    /// SOAP version of the request (the response uses the same).
    pub soap_version: SoapVersion,
    /// The certificate that signed the request (`BinarySecurityToken`), DER.
    pub bst_certificate_der: Vec<u8>,
    /// The certificate in `UseKey`, DER, if present (the key the token is to be bound to).
    pub use_key_certificate_der: Option<Vec<u8>>,
    /// `AppliesTo/EndpointReference/Address`: the service's entity ID.
    pub applies_to: String,
    /// The `CvrNumberIdentifier` claim, if present.
    pub cvr: Option<String>,
    /// `wst:TokenType`.
    pub token_type: Option<String>,
    /// `wst:KeyType`.
    pub key_type: Option<String>,
    /// `wst:RequestType`.
    pub request_type: String,
    /// Timestamp `Created`.
    pub created: DateTime<Utc>,
    /// Timestamp `Expires`.
    pub expires: DateTime<Utc>,
}

fn decode_b64(what: &str, s: &str) -> Result<Vec<u8>, WsSecError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| WsSecError::Malformed(format!("{what} is not base64: {e}")))
}

/// Verifies and reads an Issue request (see the module docs).
///
/// Refuses: malformed XML, DTDs, oversized input; a missing Security header, Timestamp,
/// BinarySecurityToken or Signature; a signature that does not verify with the token's
/// certificate or whose `KeyInfo` does not reference the token; a signature whose references
/// do not resolve to the Body, the Timestamp, every WS-Addressing header present and the token;
/// a stale or future Timestamp; a `RequestType` other than Issue; a `UseKey` certificate
/// different from the signing certificate (proof of possession covers only the signing key).
pub fn verify_issue_request(
    envelope_bytes: &[u8],
    now: DateTime<Utc>,
    config: &WsSecConfig,
) -> Result<IssueRequest, WsSecError> {
    let text = xml::as_text(envelope_bytes, config.limits)?;
    let doc = xml::parse(text, config.limits)?;
    let s = wssec::secured(&doc)?;
    let bst = xml::only_child(s.security, ns::WSSE, "BinarySecurityToken")
        .map_err(|e| WsSecError::MissingSecurity(e.to_string()))?;
    if bst.attribute("ValueType") != Some(VALUE_TYPE_X509) {
        return Err(WsSecError::Malformed(
            "BinarySecurityToken is not an X.509 v3 token".into(),
        ));
    }
    let bst_der = decode_b64("BinarySecurityToken", &xml::text_no_ws(bst))?;
    crate::ca::parse_certificate(&bst_der)
        .map_err(|e| WsSecError::Malformed(format!("BinarySecurityToken: {e}")))?;

    // KeyInfo must reference the token.
    let bst_id = xml::wsu_id(bst)
        .ok_or_else(|| WsSecError::Malformed("BinarySecurityToken has no wsu:Id".into()))?;
    let key_info = xml::only_child(s.signature, ns::DS, "KeyInfo")
        .map_err(|e| WsSecError::BadSignature(e.to_string()))?;
    let str_ = xml::only_child(key_info, ns::WSSE, "SecurityTokenReference")
        .map_err(|e| WsSecError::BadSignature(e.to_string()))?;
    let reference = xml::only_child(str_, ns::WSSE, "Reference")
        .map_err(|e| WsSecError::BadSignature(e.to_string()))?;
    if reference.attribute("URI").and_then(|u| u.strip_prefix('#')) != Some(bst_id) {
        return Err(WsSecError::BadSignature(
            "the signature's SecurityTokenReference does not name the BinarySecurityToken".into(),
        ));
    }

    let required = wssec::required_parts(&s, &[bst]);
    wssec::verify_coverage(text, &doc, s.signature, &bst_der, &required).map_err(|e| match e {
        // With the key taken from the message itself, a value mismatch is a bad signature.
        WsSecError::HolderOfKeyMismatch(m) => WsSecError::BadSignature(m),
        other => other,
    })?;
    let (created, expires) = wssec::check_timestamp(s.timestamp, now, config)?;

    let header_text = |name: &str| xml::child(s.header, ns::WSA, name).map(xml::text);
    let message_id = header_text("MessageID")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| WsSecError::Malformed("missing wsa:MessageID".into()))?;

    let rst = xml::only_child(s.body, ns::WST, "RequestSecurityToken")?;
    let opt_text = |local: &str| -> Result<Option<String>, WsSecError> {
        Ok(xml::opt_child(rst, ns::WST, local)?.map(xml::text))
    };
    let request_type = opt_text("RequestType")?
        .ok_or_else(|| WsSecError::Malformed("missing wst:RequestType".into()))?;
    if request_type != REQUEST_TYPE_ISSUE {
        return Err(WsSecError::Malformed(format!(
            "unsupported RequestType {request_type:?}"
        )));
    }
    let applies_to = xml::only_child(rst, ns::WSP, "AppliesTo")?;
    let epr = xml::only_child(applies_to, ns::WSA, "EndpointReference")?;
    let applies_to = xml::text(xml::only_child(epr, ns::WSA, "Address")?);
    if applies_to.is_empty() {
        return Err(WsSecError::Malformed("empty AppliesTo address".into()));
    }
    let cvr = match xml::opt_child(rst, ns::WST, "Claims")? {
        Some(claims) => {
            let mut found = None;
            for ct in xml::children(claims, ns::AUTH, "ClaimType") {
                if ct.attribute("Uri") == Some(CLAIM_CVR) {
                    if found.is_some() {
                        return Err(WsSecError::Malformed("CVR claim occurs twice".into()));
                    }
                    found = Some(xml::text(xml::only_child(ct, ns::AUTH, "Value")?));
                }
            }
            found.filter(|c| !c.is_empty())
        }
        None => None,
    };
    let use_key = match xml::opt_child(rst, ns::WST, "UseKey")? {
        Some(uk) => {
            let t = xml::only_child(uk, ns::WSSE, "BinarySecurityToken")?;
            let der = decode_b64("UseKey", &xml::text_no_ws(t))?;
            if der != bst_der {
                return Err(WsSecError::Malformed(
                    "UseKey certificate differs from the signing certificate".into(),
                ));
            }
            Some(der)
        }
        None => None,
    };
    Ok(IssueRequest {
        message_id,
        action: header_text("Action"),
        to: header_text("To"),
        soap_version: s.version,
        bst_certificate_der: bst_der,
        use_key_certificate_der: use_key,
        applies_to,
        cvr,
        token_type: opt_text("TokenType")?,
        key_type: opt_text("KeyType")?,
        request_type,
        created,
        expires,
    })
}

/// Client side: a signed Issue request shaped like the template, signed with `key_pem` (PKCS#8
/// PEM) of `cert_der`, for the service `applies_to`, claiming `cvr`, addressed to `sts_address`.
pub fn build_issue_request(
    cert_der: &[u8],
    key_pem: &str,
    sts_address: &str,
    applies_to: &str,
    cvr: &str,
    now: DateTime<Utc>,
) -> Result<String, WsSecError> {
    let cert = base64::engine::general_purpose::STANDARD.encode(cert_der);
    let u = || uuid::Uuid::new_v4();
    let (action_id, msg_id, to_id, reply_id, ts_id, bst_id, body_id) = (
        format!("_{}", u()),
        format!("_{}", u()),
        format!("_{}", u()),
        format!("_{}", u()),
        format!("TS-{}", u()),
        format!("X509-{}", u()),
        format!("_{}", u()),
    );
    let refs = wssec::reference_xml(&[
        ts_id.clone(),
        body_id.clone(),
        to_id.clone(),
        reply_id.clone(),
        msg_id.clone(),
        action_id.clone(),
        bst_id.clone(),
    ]);
    let created = crate::time::format(now);
    let expires = crate::time::format(now + chrono::Duration::minutes(5));
    let template = format!(
        "<soap:Envelope xmlns:soap=\"{soap}\"><soap:Header>\
<Action xmlns=\"{wsa}\" xmlns:wsu=\"{wsu}\" wsu:Id=\"{action_id}\">{ACTION_ISSUE}</Action>\
<MessageID xmlns=\"{wsa}\" xmlns:wsu=\"{wsu}\" wsu:Id=\"{msg_id}\">urn:uuid:{message}</MessageID>\
<To xmlns=\"{wsa}\" xmlns:wsu=\"{wsu}\" wsu:Id=\"{to_id}\">{to}</To>\
<ReplyTo xmlns=\"{wsa}\" xmlns:wsu=\"{wsu}\" wsu:Id=\"{reply_id}\"><Address>{WSA_ANONYMOUS}</Address></ReplyTo>\
<wsse:Security xmlns:wsse=\"{wsse}\" xmlns:wsu=\"{wsu}\" soap:mustUnderstand=\"true\">\
<wsu:Timestamp wsu:Id=\"{ts_id}\"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>\
<wsse:BinarySecurityToken EncodingType=\"{ENCODING_BASE64}\" ValueType=\"{VALUE_TYPE_X509}\" wsu:Id=\"{bst_id}\">{cert}</wsse:BinarySecurityToken>\
<ds:Signature xmlns:ds=\"{ds}\" Id=\"SIG-{sig}\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"{c14n}\"/><ds:SignatureMethod Algorithm=\"{rsa}\"/>{refs}\
</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo Id=\"KI-{ki}\">\
<wsse:SecurityTokenReference wsu:Id=\"STR-{str_id}\"><wsse:Reference URI=\"#{bst_id}\" ValueType=\"{VALUE_TYPE_X509}\"/>\
</wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security></soap:Header>\
<soap:Body xmlns:wsu=\"{wsu}\" wsu:Id=\"{body_id}\"><wst:RequestSecurityToken xmlns:wst=\"{wst}\">\
<wst:RequestType>{REQUEST_TYPE_ISSUE}</wst:RequestType>\
<wsp:AppliesTo xmlns:wsp=\"{wsp}\"><wsa:EndpointReference xmlns:wsa=\"{wsa}\"><wsa:Address>{applies_to}</wsa:Address>\
</wsa:EndpointReference></wsp:AppliesTo>\
<Claims xmlns=\"{wst}\" Dialect=\"{CLAIMS_DIALECT}\"><ClaimType xmlns=\"{auth}\" Uri=\"{CLAIM_CVR}\">\
<Value xmlns=\"{auth}\">{cvr}</Value></ClaimType></Claims>\
<wst:TokenType>{TOKEN_TYPE_SAML20}</wst:TokenType><wst:KeyType>{KEY_TYPE_PUBLIC_KEY}</wst:KeyType>\
<wst:UseKey><wsse:BinarySecurityToken xmlns:wsse=\"{wsse}\" EncodingType=\"{ENCODING_BASE64}\" ValueType=\"{VALUE_TYPE_X509}\">{cert}</wsse:BinarySecurityToken></wst:UseKey>\
</wst:RequestSecurityToken></soap:Body></soap:Envelope>",
        soap = ns::SOAP12,
        wsa = ns::WSA,
        wsu = ns::WSU,
        wsse = ns::WSSE,
        ds = ns::DS,
        wst = ns::WST,
        wsp = ns::WSP,
        auth = ns::AUTH,
        message = u(),
        to = xml::escape_text(sts_address),
        sig = u(),
        ki = u(),
        str_id = u(),
        c14n = dsig::alg::EXC_C14N,
        rsa = dsig::alg::RSA_SHA256,
        applies_to = xml::escape_text(applies_to),
        cvr = xml::escape_text(cvr),
    );
    dsig::sign_template(template, key_pem).map_err(WsSecError::Sign)
}

/// The RSTR response envelope for `request`, carrying `assertion` verbatim.
pub fn build_issue_response(request: &IssueRequest, assertion: &IssuedAssertion) -> String {
    let env = request.soap_version.namespace();
    let created = crate::time::format(assertion.not_before);
    let expires = crate::time::format(assertion.not_on_or_after);
    let assertion_xml = wssec::strip_xml_declaration(&assertion.xml);
    format!(
        "<s:Envelope xmlns:s=\"{env}\" xmlns:a=\"{wsa}\"><s:Header>\
<a:Action s:mustUnderstand=\"1\">{ACTION_ISSUE_FINAL}</a:Action>\
<a:MessageID>urn:uuid:{mid}</a:MessageID>\
<a:RelatesTo>{relates}</a:RelatesTo></s:Header><s:Body>\
<trust:RequestSecurityTokenResponseCollection xmlns:trust=\"{wst}\">\
<trust:RequestSecurityTokenResponse>\
<trust:Lifetime><wsu:Created xmlns:wsu=\"{wsu}\">{created}</wsu:Created>\
<wsu:Expires xmlns:wsu=\"{wsu}\">{expires}</wsu:Expires></trust:Lifetime>\
<wsp:AppliesTo xmlns:wsp=\"{wsp}\"><a:EndpointReference><a:Address>{applies_to}</a:Address>\
</a:EndpointReference></wsp:AppliesTo>\
<trust:RequestedSecurityToken>{assertion_xml}</trust:RequestedSecurityToken>\
<trust:RequestedAttachedReference><wsse:SecurityTokenReference xmlns:wsse=\"{wsse}\" \
xmlns:wsse11=\"{wsse11}\" wsse11:TokenType=\"{TOKEN_TYPE_SAML20}\"><wsse:KeyIdentifier \
ValueType=\"{samlid}\">{aid}</wsse:KeyIdentifier></wsse:SecurityTokenReference></trust:RequestedAttachedReference>\
<trust:RequestedUnattachedReference><wsse:SecurityTokenReference xmlns:wsse=\"{wsse}\" \
xmlns:wsse11=\"{wsse11}\" wsse11:TokenType=\"{TOKEN_TYPE_SAML20}\"><wsse:KeyIdentifier \
ValueType=\"{samlid}\">{aid}</wsse:KeyIdentifier></wsse:SecurityTokenReference></trust:RequestedUnattachedReference>\
<trust:TokenType>{TOKEN_TYPE_SAML20}</trust:TokenType>\
<trust:RequestType>{REQUEST_TYPE_ISSUE}</trust:RequestType>\
<trust:KeyType>{KEY_TYPE_PUBLIC_KEY}</trust:KeyType>\
</trust:RequestSecurityTokenResponse></trust:RequestSecurityTokenResponseCollection></s:Body></s:Envelope>",
        wsa = ns::WSA,
        wst = ns::WST,
        wsu = ns::WSU,
        wsp = ns::WSP,
        wsse = ns::WSSE,
        wsse11 = ns::WSSE11,
        samlid = wssec::VALUE_TYPE_SAMLID,
        mid = uuid::Uuid::new_v4(),
        relates = xml::escape_text(&request.message_id),
        applies_to = xml::escape_text(&request.applies_to),
        aid = xml::escape_text(&assertion.id),
    )
}

/// What a client reads from an RSTR response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueResponse {
    /// `wsa:RelatesTo`.
    pub relates_to: Option<String>,
    /// `TokenType`.
    pub token_type: Option<String>,
    /// The assertion, byte-for-byte as in the response (namespace declarations inherited from
    /// the envelope added if it relied on any).
    pub assertion_xml: String,
    /// `Lifetime/Created`.
    pub created: Option<DateTime<Utc>>,
    /// `Lifetime/Expires`.
    pub expires: Option<DateTime<Utc>>,
    /// `AppliesTo` address.
    pub applies_to: Option<String>,
}

/// Client side: reads an RSTR response (not verified: the assertion is verified by the
/// services that receive it).
pub fn parse_issue_response(text: &str) -> Result<IssueResponse, WsSecError> {
    let doc = xml::parse(text, Limits::default())?;
    let (version, root) = wssec::envelope(&doc)?;
    let env = version.namespace();
    let body = xml::only_child(root, env, "Body")?;
    if let Some(fault) = xml::child(body, env, "Fault") {
        return Err(WsSecError::Malformed(format!(
            "the STS answered with a fault: {}",
            fault
                .descendants()
                .filter(|n| n.is_text())
                .filter_map(|n| n.text())
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" / ")
        )));
    }
    let coll = xml::only_child(body, ns::WST, "RequestSecurityTokenResponseCollection")?;
    let rstr = xml::only_child(coll, ns::WST, "RequestSecurityTokenResponse")?;
    let rst_token = xml::only_child(rstr, ns::WST, "RequestedSecurityToken")?;
    let assertion = xml::only_child(rst_token, ns::SAML, "Assertion")?;
    let lifetime = xml::opt_child(rstr, ns::WST, "Lifetime")?;
    let life = |name: &str| {
        lifetime
            .and_then(|l| xml::child(l, ns::WSU, name))
            .and_then(|n| crate::time::parse(&xml::text(n)).ok())
    };
    let header = xml::opt_child(root, env, "Header")?;
    Ok(IssueResponse {
        relates_to: header
            .and_then(|h| xml::child(h, ns::WSA, "RelatesTo"))
            .map(xml::text),
        token_type: xml::opt_child(rstr, ns::WST, "TokenType")?.map(xml::text),
        assertion_xml: xml::standalone_fragment(text, assertion)?,
        created: life("Created"),
        expires: life("Expires"),
        applies_to: xml::opt_child(rstr, ns::WSP, "AppliesTo")?
            .and_then(|a| xml::child(a, ns::WSA, "EndpointReference"))
            .and_then(|e| xml::child(e, ns::WSA, "Address"))
            .map(xml::text),
    })
}
