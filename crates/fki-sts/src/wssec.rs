//! WS-Security for the SOAP services (organisation, klassifikation, indexes …) and the parts of
//! it the STS Issue request shares.
//!
//! A service request carries, in `wsse:Security`, a `wsu:Timestamp`, the SAML assertion issued
//! by the STS, and a `ds:Signature` made with the holder-of-key key (the key of the certificate
//! in the assertion's `SubjectConfirmationData`), whose `KeyInfo` points at the assertion with a
//! `SecurityTokenReference`/`KeyIdentifier` of value type `SAMLID`. See the example in
//! `../shared/specs/sf1514-sts/signed-request-with-issued-assertion.example.xml`.
//!
//! [`verify_service_request`] checks the assertion ([`crate::saml::verify_assertion`]), that
//! the signature's key reference names that assertion, that the signature verifies with the
//! holder-of-key certificate, that its references resolve to the Body, the Timestamp and every
//! WS-Addressing header present (`Action`, `MessageID`, `To`, `ReplyTo`, `From`, `FaultTo`,
//! `RelatesTo`, as the `SignedParts` policy of `../shared/specs/sf1514-sts/sts.wsdl` lists
//! them) — by the byte range of the element each reference resolved to, not merely "some
//! reference verified" — that the Timestamp is fresh, and, with a [`ReplayCache`], that the
//! `MessageID` was not seen before.
//!
//! [`sign_service_request`] is the client side, for tests, the `fki` CLI and benchmarks.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use roxmltree::{Document, Node};

use crate::dsig::{self, Outcome, alg};
use crate::saml::{self, TokenError, VerifiedAssertion};
use crate::xml::{self, Limits, XmlError, ns};

/// `KeyIdentifier/@ValueType` for a SAML 2.0 assertion ID.
pub const VALUE_TYPE_SAMLID: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID";
/// `wsse11:TokenType` of a SAML 2.0 token.
pub const TOKEN_TYPE_SAML20: &str =
    "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0";
/// `ValueType` of an X.509 binary security token.
pub const VALUE_TYPE_X509: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
/// `EncodingType` base64.
pub const ENCODING_BASE64: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// The WS-Addressing headers that must be signed when present (`sts.wsdl`, `Input_policy`).
pub const SIGNED_WSA_HEADERS: [&str; 7] = [
    "To",
    "From",
    "FaultTo",
    "ReplyTo",
    "MessageID",
    "RelatesTo",
    "Action",
];

/// SOAP version of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    /// SOAP 1.1 (the services, e.g. the example service request).
    Soap11,
    /// SOAP 1.2 (the STS).
    Soap12,
}

impl SoapVersion {
    /// The envelope namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::Soap11 => ns::SOAP11,
            SoapVersion::Soap12 => ns::SOAP12,
        }
    }
}

/// Why a message was refused. [`WsSecError::fault_code`] gives the WS-Security fault code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsSecError {
    /// Not a well-formed, acceptable SOAP envelope (includes DTDs and oversized input).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// No or incomplete `wsse:Security` header.
    #[error("missing security: {0}")]
    MissingSecurity(String),
    /// The signature does not verify (digest or value) or is not acceptable.
    #[error("bad message signature: {0}")]
    BadSignature(String),
    /// A part that must be signed is not covered by the signature.
    #[error("not signed: {0}")]
    NotSigned(String),
    /// The signature is not made with the holder-of-key key of the assertion.
    #[error("holder-of-key mismatch: {0}")]
    HolderOfKeyMismatch(String),
    /// The Timestamp is expired or too old.
    #[error("message expired: {0}")]
    MessageExpired(String),
    /// The Timestamp is invalid (e.g. created in the future).
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// The assertion was refused.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The `MessageID` was seen before.
    #[error("replayed message {0}")]
    Replay(String),
    /// The replay cache is full of unexpired entries: refused rather than risk a replay.
    #[error("replay cache full")]
    ReplayCacheFull,
    /// Signing failed (client side).
    #[error("cannot sign message: {0}")]
    Sign(String),
}

impl From<XmlError> for WsSecError {
    fn from(e: XmlError) -> Self {
        WsSecError::Malformed(e.to_string())
    }
}

impl WsSecError {
    /// The WS-Security fault code this error is reported with.
    pub fn fault_code(&self) -> crate::fault::FaultCode {
        use crate::fault::FaultCode as F;
        match self {
            WsSecError::Malformed(_) | WsSecError::MissingSecurity(_) => F::InvalidSecurity,
            WsSecError::BadSignature(_) | WsSecError::NotSigned(_) => F::FailedCheck,
            WsSecError::HolderOfKeyMismatch(_) => F::FailedAuthentication,
            WsSecError::MessageExpired(_) | WsSecError::Replay(_) => F::MessageExpired,
            WsSecError::InvalidTimestamp(_) => F::InvalidSecurity,
            WsSecError::Token(t) => t.fault_code(),
            WsSecError::ReplayCacheFull | WsSecError::Sign(_) => F::Receiver,
        }
    }

    /// A stable code for audit logs.
    pub fn code(&self) -> &'static str {
        match self {
            WsSecError::Malformed(_) => "WSSEC_MALFORMED",
            WsSecError::MissingSecurity(_) => "WSSEC_MISSING_SECURITY",
            WsSecError::BadSignature(_) => "WSSEC_BAD_SIGNATURE",
            WsSecError::NotSigned(_) => "WSSEC_NOT_SIGNED",
            WsSecError::HolderOfKeyMismatch(_) => "WSSEC_HOK_MISMATCH",
            WsSecError::MessageExpired(_) => "WSSEC_MESSAGE_EXPIRED",
            WsSecError::InvalidTimestamp(_) => "WSSEC_INVALID_TIMESTAMP",
            WsSecError::Token(t) => t.code(),
            WsSecError::Replay(_) => "WSSEC_REPLAY",
            WsSecError::ReplayCacheFull => "WSSEC_REPLAY_CACHE_FULL",
            WsSecError::Sign(_) => "WSSEC_SIGN_FAILED",
        }
    }
}

/// Verification settings.
#[derive(Debug, Clone)]
pub struct WsSecConfig {
    /// Clock skew allowed on every time comparison.
    pub skew: Duration,
    /// Largest accepted age of a Timestamp's `Created`.
    pub max_message_age: Duration,
    /// Input limits.
    pub limits: Limits,
    /// Replay protection; `None` disables it (tests, benchmarks).
    pub replay_cache: Option<Arc<ReplayCache>>,
    /// Verified assertions by their text ([`saml::AssertionCache`]); `None` verifies every
    /// assertion in full.
    pub assertion_cache: Option<Arc<saml::AssertionCache>>,
}

impl Default for WsSecConfig {
    /// 5 minutes skew, 5 minutes maximum age, default limits, no replay cache.
    fn default() -> Self {
        WsSecConfig {
            skew: Duration::minutes(5),
            max_message_age: Duration::minutes(5),
            limits: Limits::default(),
            replay_cache: None,
            assertion_cache: None,
        }
    }
}

/// A verified service request.
#[derive(Debug, Clone)]
pub struct VerifiedRequest {
    /// The verified assertion (who is calling, for which CVR, with which privileges).
    pub assertion: VerifiedAssertion,
    /// WS-Addressing `MessageID`.
    pub message_id: String,
    /// WS-Addressing `Action`, if present.
    pub action: Option<String>,
    /// WS-Addressing `To`, if present.
    pub to: Option<String>,
    /// SOAP version of the envelope.
    pub soap_version: SoapVersion,
    /// Byte range of the `Body` element in the input.
    pub body_range: Range<usize>,
    /// Byte range of the Body's first element child (the operation payload), if any.
    pub payload_range: Option<Range<usize>>,
    /// Timestamp `Created`.
    pub created: DateTime<Utc>,
    /// Timestamp `Expires`.
    pub expires: DateTime<Utc>,
}

/// Thread-safe, bounded `MessageID` → expiry cache.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl ReplayCache {
    /// A cache holding at most `capacity` unexpired message IDs.
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            capacity,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records `message_id` until `expires`; refuses it if already recorded and unexpired.
    /// When full of unexpired entries the message is refused ([`WsSecError::ReplayCacheFull`]):
    /// failing closed, since evicting would reopen a replay window.
    pub fn check_and_insert(
        &self,
        message_id: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), WsSecError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(exp) = seen.get(message_id)
            && *exp > now
        {
            return Err(WsSecError::Replay(message_id.to_owned()));
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, exp| *exp > now);
            if seen.len() >= self.capacity {
                return Err(WsSecError::ReplayCacheFull);
            }
        }
        seen.insert(message_id.to_owned(), expires);
        Ok(())
    }

    /// Number of entries (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The parts of a SOAP envelope with a `wsse:Security` header.
pub(crate) struct Secured<'a, 'input> {
    pub version: SoapVersion,
    pub header: Node<'a, 'input>,
    pub body: Node<'a, 'input>,
    pub security: Node<'a, 'input>,
    pub timestamp: Node<'a, 'input>,
    pub signature: Node<'a, 'input>,
}

pub(crate) fn envelope<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<(SoapVersion, Node<'a, 'input>), WsSecError> {
    let root = doc.root_element();
    let version = if xml::is(root, ns::SOAP11, "Envelope") {
        SoapVersion::Soap11
    } else if xml::is(root, ns::SOAP12, "Envelope") {
        SoapVersion::Soap12
    } else {
        return Err(WsSecError::Malformed(
            "not a SOAP 1.1 or 1.2 Envelope".into(),
        ));
    };
    Ok((version, root))
}

pub(crate) fn secured<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<Secured<'a, 'input>, WsSecError> {
    xml::check_unique_ids(doc)?;
    let (version, root) = envelope(doc)?;
    let env = version.namespace();
    let header = xml::only_child(root, env, "Header")
        .map_err(|e| WsSecError::MissingSecurity(e.to_string()))?;
    let body = xml::only_child(root, env, "Body")?;
    let security = xml::only_child(header, ns::WSSE, "Security")
        .map_err(|e| WsSecError::MissingSecurity(e.to_string()))?;
    let timestamp = xml::only_child(security, ns::WSU, "Timestamp")
        .map_err(|e| WsSecError::MissingSecurity(e.to_string()))?;
    let signature = xml::only_child(security, ns::DS, "Signature")
        .map_err(|e| WsSecError::MissingSecurity(e.to_string()))?;
    for name in SIGNED_WSA_HEADERS {
        xml::opt_child(header, ns::WSA, name)?;
    }
    Ok(Secured {
        version,
        header,
        body,
        security,
        timestamp,
        signature,
    })
}

/// The elements the signature must cover: Body, Timestamp, the WS-Addressing headers present,
/// plus `extra`.
pub(crate) fn required_parts<'a, 'input>(
    s: &Secured<'a, 'input>,
    extra: &[Node<'a, 'input>],
) -> Vec<(String, Node<'a, 'input>)> {
    let mut parts = vec![
        ("Body".to_owned(), s.body),
        ("Timestamp".to_owned(), s.timestamp),
    ];
    for name in SIGNED_WSA_HEADERS {
        if let Some(h) = xml::child(s.header, ns::WSA, name) {
            parts.push((format!("wsa:{name}"), h));
        }
    }
    for e in extra {
        parts.push((e.tag_name().name().to_owned(), *e));
    }
    parts
}

/// Checks the algorithms of a WS-Security signature: exclusive C14N, RSA-SHA256, SHA-256
/// digests, and only exclusive C14N transforms (no XPath or XSLT that could narrow what a
/// reference covers).
pub(crate) fn check_signature_algorithms(sig: Node<'_, '_>) -> Result<(), WsSecError> {
    let bad = |m: String| WsSecError::BadSignature(m);
    let si = xml::only_child(sig, ns::DS, "SignedInfo").map_err(|e| bad(e.to_string()))?;
    if xml::algorithm(xml::child(si, ns::DS, "CanonicalizationMethod")) != Some(alg::EXC_C14N) {
        return Err(bad("CanonicalizationMethod must be exclusive C14N".into()));
    }
    if xml::algorithm(xml::child(si, ns::DS, "SignatureMethod")) != Some(alg::RSA_SHA256) {
        return Err(bad("SignatureMethod must be RSA-SHA256".into()));
    }
    for r in xml::children(si, ns::DS, "Reference") {
        if xml::algorithm(xml::child(r, ns::DS, "DigestMethod")) != Some(alg::SHA256) {
            return Err(bad("DigestMethod must be SHA-256".into()));
        }
        if let Some(ts) = xml::child(r, ns::DS, "Transforms") {
            for t in ts.children().filter(|n| n.is_element()) {
                if t.attribute("Algorithm") != Some(alg::EXC_C14N) {
                    return Err(bad(format!(
                        "transform {:?} is not allowed",
                        t.attribute("Algorithm")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Verifies the signature with `cert_der` and checks that its references resolve to every
/// element of `required`.
pub(crate) fn verify_coverage(
    text: &str,
    doc: &Document<'_>,
    signature: Node<'_, '_>,
    cert_der: &[u8],
    required: &[(String, Node<'_, '_>)],
) -> Result<(), WsSecError> {
    check_signature_algorithms(signature)?;
    let index = doc
        .descendants()
        .filter(|n| xml::is(*n, ns::DS, "Signature"))
        .position(|n| n == signature)
        .unwrap_or(0);
    let outcome = dsig::verify_signature(text, index, signature.range(), &[cert_der])
        .map_err(WsSecError::BadSignature)?;
    let references = match outcome {
        Outcome::Valid { references, .. } => references,
        Outcome::Invalid(reason) => {
            return Err(if reason.contains("signature value verification failed") {
                WsSecError::HolderOfKeyMismatch(format!(
                    "signature value does not verify with the expected key ({reason})"
                ))
            } else {
                WsSecError::BadSignature(reason)
            });
        }
    };
    for (name, node) in required {
        let covered = references
            .iter()
            .any(|r| r.range.as_ref() == Some(&node.range()));
        if !covered {
            return Err(WsSecError::NotSigned(format!(
                "the signature does not cover {name}"
            )));
        }
    }
    Ok(())
}

/// Checks a `wsu:Timestamp` and returns (Created, Expires).
pub(crate) fn check_timestamp(
    ts: Node<'_, '_>,
    now: DateTime<Utc>,
    config: &WsSecConfig,
) -> Result<(DateTime<Utc>, DateTime<Utc>), WsSecError> {
    let read = |name: &str| -> Result<DateTime<Utc>, WsSecError> {
        let n = xml::only_child(ts, ns::WSU, name)
            .map_err(|e| WsSecError::InvalidTimestamp(e.to_string()))?;
        crate::time::parse(&xml::text(n)).map_err(WsSecError::InvalidTimestamp)
    };
    let created = read("Created")?;
    let expires = read("Expires")?;
    if expires <= created {
        return Err(WsSecError::InvalidTimestamp(
            "Expires is not after Created".into(),
        ));
    }
    if created > now + config.skew {
        return Err(WsSecError::InvalidTimestamp(format!(
            "Created {created} is in the future"
        )));
    }
    if expires <= now - config.skew {
        return Err(WsSecError::MessageExpired(format!(
            "Timestamp expired at {expires}"
        )));
    }
    if now - created > config.max_message_age + config.skew {
        return Err(WsSecError::MessageExpired(format!(
            "Timestamp created at {created} is too old"
        )));
    }
    Ok((created, expires))
}

/// Verifies a service request (see the module docs). `trusted_sts_certs` and `expected_issuer`
/// identify the STS; `expected_audience` is this service's entity ID.
pub fn verify_service_request(
    envelope_bytes: &[u8],
    trusted_sts_certs: &[Vec<u8>],
    expected_issuer: &str,
    expected_audience: &str,
    now: DateTime<Utc>,
    config: &WsSecConfig,
) -> Result<VerifiedRequest, WsSecError> {
    let text = xml::as_text(envelope_bytes, config.limits)?;
    let doc = xml::parse(text, config.limits)?;
    let s = secured(&doc)?;
    let assertion_node = xml::only_child(s.security, ns::SAML, "Assertion")
        .map_err(|e| WsSecError::MissingSecurity(e.to_string()))?;
    let fragment = xml::standalone_fragment(text, assertion_node)?;
    let assertion = match &config.assertion_cache {
        Some(cache) => cache.verify(
            &fragment,
            trusted_sts_certs,
            expected_issuer,
            expected_audience,
            now,
            config.skew,
        ),
        None => saml::verify_assertion(
            &fragment,
            trusted_sts_certs,
            expected_issuer,
            expected_audience,
            now,
            config.skew,
        ),
    }?;

    // The signature's key must be the assertion (holder of key).
    let key_info = xml::only_child(s.signature, ns::DS, "KeyInfo")
        .map_err(|e| WsSecError::BadSignature(e.to_string()))?;
    let str_ = xml::only_child(key_info, ns::WSSE, "SecurityTokenReference")
        .map_err(|e| WsSecError::BadSignature(e.to_string()))?;
    let bound = match xml::opt_child(str_, ns::WSSE, "KeyIdentifier")? {
        Some(ki) => {
            ki.attribute("ValueType") == Some(VALUE_TYPE_SAMLID) && xml::text(ki) == assertion.id
        }
        None => xml::opt_child(str_, ns::WSSE, "Reference")?
            .and_then(|r| r.attribute("URI"))
            .is_some_and(|u| u.strip_prefix('#') == Some(assertion.id.as_str())),
    };
    if !bound {
        return Err(WsSecError::HolderOfKeyMismatch(
            "the signature's SecurityTokenReference does not name the assertion".into(),
        ));
    }

    let required = required_parts(&s, &[]);
    verify_coverage(
        text,
        &doc,
        s.signature,
        &assertion.hok_certificate_der,
        &required,
    )?;
    let (created, expires) = check_timestamp(s.timestamp, now, config)?;

    let header_text = |name: &str| xml::child(s.header, ns::WSA, name).map(xml::text);
    let message_id = header_text("MessageID")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| WsSecError::Malformed("missing wsa:MessageID".into()))?;
    if let Some(cache) = &config.replay_cache {
        cache.check_and_insert(&message_id, expires + config.skew, now)?;
    }
    Ok(VerifiedRequest {
        assertion,
        message_id,
        action: header_text("Action"),
        to: header_text("To"),
        soap_version: s.version,
        body_range: s.body.range(),
        payload_range: s.body.first_element_child().map(|n| n.range()),
        created,
        expires,
    })
}

/// One text edit: replace `range` of the input with `text`.
pub(crate) struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

pub(crate) fn apply_edits(input: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = input.to_owned();
    for e in edits {
        out.replace_range(e.range, &e.text);
    }
    out
}

/// Makes sure `node` has a `wsu:Id`: returns its value and, if it had none, the edit that adds
/// one (inserted right after the element name).
pub(crate) fn ensure_wsu_id(input: &str, node: Node<'_, '_>) -> (String, Option<Edit>) {
    if let Some(id) = xml::wsu_id(node) {
        return (id.to_owned(), None);
    }
    let id = format!("_{}", uuid::Uuid::new_v4());
    let start = node.range().start;
    let raw = &input[node.range()];
    let name_end = raw[1..]
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .map(|i| start + 1 + i)
        .unwrap_or(start + 1);
    // Use the prefix `wsu` if it is free or already bound to the utility namespace here.
    let text = match node.lookup_prefix(ns::WSU) {
        Some(p) if !p.is_empty() => format!(" {p}:Id=\"{id}\""),
        _ if node.lookup_namespace_uri(Some("wsu")).is_none() => {
            format!(" xmlns:wsu=\"{}\" wsu:Id=\"{id}\"", ns::WSU)
        }
        _ => format!(" xmlns:fkiwsu=\"{}\" fkiwsu:Id=\"{id}\"", ns::WSU),
    };
    (
        id,
        Some(Edit {
            range: name_end..name_end,
            text,
        }),
    )
}

/// The prefix of an element's name as written (`soap` for `<soap:Envelope`), if any.
pub(crate) fn written_prefix<'i>(input: &'i str, node: Node<'_, '_>) -> Option<&'i str> {
    let raw = &input[node.range()];
    let name_end = raw[1..]
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .map(|i| i + 1)?;
    raw[1..name_end].split_once(':').map(|(p, _)| p)
}

/// `<ds:Reference>` elements for the given IDs (exclusive C14N, SHA-256, empty digest).
pub(crate) fn reference_xml(ids: &[String]) -> String {
    let mut s = String::new();
    for id in ids {
        s.push_str(&format!(
            "<ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"{c14n}\"/>\
</ds:Transforms><ds:DigestMethod Algorithm=\"{sha}\"/><ds:DigestValue></ds:DigestValue>\
</ds:Reference>",
            id = xml::escape_attr(id),
            c14n = alg::EXC_C14N,
            sha = alg::SHA256,
        ));
    }
    s
}

/// Options for [`sign_service_request_with`].
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Timestamp lifetime (Expires − Created).
    pub timestamp_lifetime: Duration,
    /// Sign the Body (turning this off only exists to test the verifier).
    pub sign_body: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            timestamp_lifetime: Duration::minutes(5),
            sign_body: true,
        }
    }
}

/// Client side: adds a `wsse:Security` header with Timestamp, the assertion (verbatim) and a
/// signature made with `hok_key_pem` over Body, Timestamp and the WS-Addressing headers, shaped
/// like the example service request. `envelope` must be a SOAP 1.1 or 1.2 envelope without a
/// `wsse:Security` header; a `Header` is added if missing.
pub fn sign_service_request(
    envelope: &str,
    assertion_xml: &str,
    hok_key_pem: &str,
    now: DateTime<Utc>,
) -> Result<String, WsSecError> {
    sign_service_request_with(
        envelope,
        assertion_xml,
        hok_key_pem,
        now,
        &SignOptions::default(),
    )
}

/// [`sign_service_request`] with options.
pub fn sign_service_request_with(
    envelope: &str,
    assertion_xml: &str,
    hok_key_pem: &str,
    now: DateTime<Utc>,
    options: &SignOptions,
) -> Result<String, WsSecError> {
    let assertion_xml = strip_xml_declaration(assertion_xml);
    let assertion_id = {
        let adoc = xml::parse(assertion_xml, Limits::default())?;
        let root = adoc.root_element();
        if !xml::is(root, ns::SAML, "Assertion") {
            return Err(WsSecError::Sign("not a SAML 2.0 assertion".into()));
        }
        root.attribute("ID")
            .ok_or_else(|| WsSecError::Sign("assertion has no ID".into()))?
            .to_owned()
    };
    let doc = xml::parse(envelope, Limits::default())?;
    let (version, root) = envelope_of(&doc)?;
    let env_ns = version.namespace();
    let body = xml::only_child(root, env_ns, "Body")?;
    let header = xml::opt_child(root, env_ns, "Header")?;
    if let Some(h) = header
        && xml::child(h, ns::WSSE, "Security").is_some()
    {
        return Err(WsSecError::Sign(
            "envelope already has a wsse:Security header".into(),
        ));
    }

    let mut edits = Vec::new();
    let mut ids = Vec::new();
    let ts_id = format!("TS-{}", uuid::Uuid::new_v4());
    ids.push(ts_id.clone());
    if options.sign_body {
        let (id, edit) = ensure_wsu_id(envelope, body);
        ids.push(id);
        edits.extend(edit);
    }
    if let Some(h) = header {
        for name in SIGNED_WSA_HEADERS {
            if let Some(n) = xml::child(h, ns::WSA, name) {
                let (id, edit) = ensure_wsu_id(envelope, n);
                ids.push(id);
                edits.extend(edit);
            }
        }
    }

    let prefix = written_prefix(envelope, root);
    let (env_decl, env_prefix) = match prefix {
        Some(p) => (String::new(), p.to_owned()),
        None => (format!(" xmlns:soapenv=\"{env_ns}\""), "soapenv".to_owned()),
    };
    let marker = format!("<!--fki-assertion-{}-->", uuid::Uuid::new_v4());
    let created = crate::time::format(now);
    let expires = crate::time::format(now + options.timestamp_lifetime);
    let security = format!(
        "<wsse:Security xmlns:wsse=\"{wsse}\" xmlns:wsu=\"{wsu}\"{env_decl} {env_prefix}:mustUnderstand=\"1\">\
<wsu:Timestamp wsu:Id=\"{ts_id}\"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>\
{marker}\
<ds:Signature xmlns:ds=\"{ds}\" Id=\"SIG-{sig_id}\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
<ds:SignatureMethod Algorithm=\"{rsa}\"/>{refs}</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>\
<ds:KeyInfo><wsse:SecurityTokenReference xmlns:wsse11=\"{wsse11}\" wsse11:TokenType=\"{tt}\">\
<wsse:KeyIdentifier ValueType=\"{vt}\">{aid}</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo>\
</ds:Signature></wsse:Security>",
        wsse = ns::WSSE,
        wsu = ns::WSU,
        ds = ns::DS,
        wsse11 = ns::WSSE11,
        sig_id = uuid::Uuid::new_v4(),
        c14n = alg::EXC_C14N,
        rsa = alg::RSA_SHA256,
        refs = reference_xml(&ids),
        tt = TOKEN_TYPE_SAML20,
        vt = VALUE_TYPE_SAMLID,
        aid = xml::escape_text(&assertion_id),
    );
    edits.push(security_insertion(envelope, root, header, body, security)?);
    let template = apply_edits(envelope, edits);
    let signed = dsig::sign_template(template, hok_key_pem).map_err(WsSecError::Sign)?;
    Ok(signed.replacen(&marker, assertion_xml, 1))
}

fn envelope_of<'a, 'input>(
    doc: &'a Document<'input>,
) -> Result<(SoapVersion, Node<'a, 'input>), WsSecError> {
    envelope(doc)
}

/// The edit that puts `security` at the end of the Header (creating one if needed).
pub(crate) fn security_insertion(
    input: &str,
    root: Node<'_, '_>,
    header: Option<Node<'_, '_>>,
    body: Node<'_, '_>,
    security: String,
) -> Result<Edit, WsSecError> {
    let qualified = |local: &str| match written_prefix(input, root) {
        Some(p) => format!("{p}:{local}"),
        None => local.to_owned(),
    };
    match header {
        Some(h) => {
            let r = h.range();
            let raw = &input[r.clone()];
            if let Some(open) = raw.strip_suffix("/>") {
                Ok(Edit {
                    range: r,
                    text: format!("{open}>{security}</{}>", qualified("Header")),
                })
            } else {
                let close = raw
                    .rfind("</")
                    .ok_or_else(|| WsSecError::Sign("Header has no end tag".into()))?;
                let at = r.start + close;
                Ok(Edit {
                    range: at..at,
                    text: security,
                })
            }
        }
        None => {
            let at = body.range().start;
            let name = qualified("Header");
            Ok(Edit {
                range: at..at,
                text: format!("<{name}>{security}</{name}>"),
            })
        }
    }
}

pub(crate) fn strip_xml_declaration(s: &str) -> &str {
    let t = s.trim_start();
    if t.starts_with("<?xml")
        && let Some(end) = t.find("?>")
    {
        return t[end + 2..].trim_start();
    }
    t
}
