//! The SAML 2.0 holder-of-key assertion the STS issues, and its verification.
//!
//! The shape is that of the assertion issued by KOMBIT's STS in
//! `../shared/specs/sf1514-sts/signed-request-with-issued-assertion.example.xml`: element
//! order `Issuer, Signature, Subject, Conditions, AttributeStatement, AuthnStatement`, the SAML
//! namespace as default namespace, `NameID` in `X509SubjectName` format, one holder-of-key
//! `SubjectConfirmation` whose `KeyInfo` carries the caller's certificate, one
//! `AudienceRestriction`, and the attributes (`NameFormat` basic) `CvrNumberIdentifier`,
//! `AssuranceLevel`, `SpecVer` = `DK-SAML-2.0`, `KombitSpecVer`, `Privileges_intermediate`
//! (base64 OIO-BPP, see [`crate::bpp`]).
//!
//! The signature is enveloped, exclusive C14N, RSA-SHA256 with SHA-256 digests, referencing
//! the assertion by its `ID`, with the STS certificate in `KeyInfo`.
//!
//! [`verify_assertion`] checks, in this order: well-formedness and shape, that the one
//! signature is a child of the assertion with exactly one reference that resolves to the
//! assertion itself (anti-wrapping) and uses only the algorithms above, that the signer is one
//! of the trusted STS certificates, the signature value and digest, the issuer, the audience,
//! the validity window, and the holder-of-key confirmation.

use base64::Engine;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use roxmltree::Node;

use crate::bpp::PrivilegeList;
use crate::dsig::{self, Outcome, alg};
use crate::xml::{self, Limits, XmlError, ns};

/// `SubjectConfirmation/@Method` for holder-of-key.
pub const HOLDER_OF_KEY: &str = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
/// `NameID/@Format` of the subject.
pub const NAMEID_X509: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName";
/// `Issuer/@Format`.
pub const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
/// `Attribute/@NameFormat`.
pub const ATTRNAME_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
/// `AuthnContextClassRef`.
pub const AUTHN_X509: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509";
/// Default lifetime of an issued assertion (KOMBIT's are 8 hours, see the example).
pub const DEFAULT_LIFETIME: Duration = Duration::hours(8);

/// Attribute names (`Attribute/@Name`).
pub mod attr {
    /// The myndighed's CVR number.
    pub const CVR: &str = "dk:gov:saml:attribute:CvrNumberIdentifier";
    /// NSIS/OCES assurance level.
    pub const ASSURANCE_LEVEL: &str = "dk:gov:saml:attribute:AssuranceLevel";
    /// OIOSAML specification version (value [`super::SPEC_VER`]).
    pub const SPEC_VER: &str = "dk:gov:saml:attribute:SpecVer";
    /// KOMBIT specification version.
    pub const KOMBIT_SPEC_VER: &str = "dk:gov:saml:attribute:KombitSpecVer";
    /// Base64 OIO-BPP privilege list.
    pub const PRIVILEGES: &str = "dk:gov:saml:attribute:Privileges_intermediate";
}

/// Value of the `SpecVer` attribute.
pub const SPEC_VER: &str = "DK-SAML-2.0";

/// Why an assertion was refused (or could not be issued). Each variant has a stable
/// [`TokenError::code`] for audit logs; the server maps them to KOMBIT-shaped faults.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not XML, not an assertion, or a required part is missing or invalid.
    #[error("malformed assertion: {0}")]
    Malformed(String),
    /// The signature is missing, does not verify, or does not cover the assertion.
    #[error("bad assertion signature: {0}")]
    BadSignature(String),
    /// Signed by a certificate that is not a trusted STS certificate.
    #[error("assertion signed by an untrusted certificate: {0}")]
    UntrustedSigner(String),
    /// `Issuer` differs from the expected STS entity ID.
    #[error("wrong issuer {found:?}, expected {expected:?}")]
    WrongIssuer {
        /// Expected issuer.
        expected: String,
        /// Issuer in the assertion.
        found: String,
    },
    /// The expected audience is not in (every) `AudienceRestriction`.
    #[error("wrong audience {found:?}, expected {expected:?}")]
    WrongAudience {
        /// Expected audience.
        expected: String,
        /// Audiences in the assertion.
        found: Vec<String>,
    },
    /// Past `NotOnOrAfter` (plus skew).
    #[error("assertion expired at {not_on_or_after}")]
    Expired {
        /// End of validity.
        not_on_or_after: DateTime<Utc>,
    },
    /// Before `NotBefore` (minus skew).
    #[error("assertion not valid before {not_before}")]
    NotYetValid {
        /// Start of validity.
        not_before: DateTime<Utc>,
    },
    /// No holder-of-key confirmation, or its certificate is unusable.
    #[error("holder-of-key confirmation: {0}")]
    HolderOfKey(String),
    /// Issuing failed (bad key, bad certificate …).
    #[error("cannot issue assertion: {0}")]
    Issue(String),
}

impl TokenError {
    /// A stable code for audit logs and fault details.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "TOKEN_MALFORMED",
            TokenError::BadSignature(_) => "TOKEN_BAD_SIGNATURE",
            TokenError::UntrustedSigner(_) => "TOKEN_UNTRUSTED_SIGNER",
            TokenError::WrongIssuer { .. } => "TOKEN_WRONG_ISSUER",
            TokenError::WrongAudience { .. } => "TOKEN_WRONG_AUDIENCE",
            TokenError::Expired { .. } => "TOKEN_EXPIRED",
            TokenError::NotYetValid { .. } => "TOKEN_NOT_YET_VALID",
            TokenError::HolderOfKey(_) => "TOKEN_HOK",
            TokenError::Issue(_) => "TOKEN_ISSUE_FAILED",
        }
    }
}

impl From<XmlError> for TokenError {
    fn from(e: XmlError) -> Self {
        TokenError::Malformed(e.to_string())
    }
}

/// The STS's signing identity.
#[derive(Clone)]
pub struct StsKey {
    /// Issuer entity ID (`Issuer` element), e.g. `https://sts.fki.example`.
    pub issuer: String,
    /// STS signing certificate, DER.
    pub cert_der: Vec<u8>,
    /// STS private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for StsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsKey")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// What to put into an assertion.
#[derive(Debug, Clone)]
pub struct AssertionSpec<'a> {
    /// Issuer and signing key.
    pub sts: &'a StsKey,
    /// The caller's (holder-of-key) certificate, DER.
    pub subject_cert_der: &'a [u8],
    /// Audience: the entity ID of the service the token is for (`AppliesTo`).
    pub audience: &'a str,
    /// `IssueInstant`, `NotBefore`.
    pub not_before: DateTime<Utc>,
    /// `NotOnOrAfter`.
    pub not_on_or_after: DateTime<Utc>,
    /// The myndighed's CVR.
    pub cvr: &'a str,
    /// `AssuranceLevel` (KOMBIT: `3`).
    pub assurance_level: &'a str,
    /// `KombitSpecVer` (KOMBIT: `1.0`).
    pub kombit_spec_ver: &'a str,
    /// The privileges.
    pub privileges: &'a PrivilegeList,
}

impl<'a> AssertionSpec<'a> {
    /// A spec valid from `now` for [`DEFAULT_LIFETIME`], assurance level 3, KombitSpecVer 1.0.
    pub fn new(
        sts: &'a StsKey,
        subject_cert_der: &'a [u8],
        audience: &'a str,
        cvr: &'a str,
        privileges: &'a PrivilegeList,
        now: DateTime<Utc>,
    ) -> Self {
        AssertionSpec {
            sts,
            subject_cert_der,
            audience,
            not_before: now,
            not_on_or_after: now + DEFAULT_LIFETIME,
            cvr,
            assurance_level: "3",
            kombit_spec_ver: "1.0",
            privileges,
        }
    }

    /// Sets the lifetime from `not_before`.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.not_on_or_after = self.not_before + lifetime;
        self
    }
}

/// An issued, signed assertion.
#[derive(Debug, Clone)]
pub struct IssuedAssertion {
    /// The assertion `ID`.
    pub id: String,
    /// The signed XML (no XML declaration), to be embedded verbatim.
    pub xml: String,
    /// `NotBefore`.
    pub not_before: DateTime<Utc>,
    /// `NotOnOrAfter`.
    pub not_on_or_after: DateTime<Utc>,
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Builds and signs an assertion.
pub fn issue_assertion(spec: &AssertionSpec<'_>) -> Result<IssuedAssertion, TokenError> {
    if spec.not_on_or_after <= spec.not_before {
        return Err(TokenError::Issue("empty validity window".into()));
    }
    let subject = crate::ca::cert_info(spec.subject_cert_der)
        .map_err(|e| TokenError::Issue(format!("subject certificate: {e}")))?;
    let id = format!("_{}", uuid::Uuid::new_v4());
    // The wire carries milliseconds: report exactly what is on the wire.
    let not_before = spec.not_before.trunc_subsecs(3);
    let not_on_or_after = spec.not_on_or_after.trunc_subsecs(3);
    let nb = crate::time::format(not_before);
    let na = crate::time::format(not_on_or_after);
    let audience = xml::escape_text(spec.audience);
    let attribute = |name: &str, value: &str| {
        format!(
            "<Attribute Name=\"{name}\" NameFormat=\"{ATTRNAME_BASIC}\"><AttributeValue>{}</AttributeValue></Attribute>",
            xml::escape_text(value)
        )
    };
    let mut s = String::with_capacity(8192);
    s.push_str(&format!(
        "<Assertion xmlns=\"{saml}\" ID=\"{id}\" IssueInstant=\"{nb}\" Version=\"2.0\">",
        saml = ns::SAML
    ));
    s.push_str(&format!(
        "<Issuer Format=\"{NAMEID_ENTITY}\">{}</Issuer>",
        xml::escape_text(&spec.sts.issuer)
    ));
    // The Signature goes here (after Issuer, as in KOMBIT's assertions); it is added once the
    // rest is complete, see `dsig::sign_enveloped_root`.
    let signature_at = s.len();
    s.push_str(&format!(
        "<Subject><NameID Format=\"{NAMEID_X509}\">{name}</NameID>\
<SubjectConfirmation Method=\"{HOLDER_OF_KEY}\"><SubjectConfirmationData xmlns:xsi=\"{xsi}\" \
NotBefore=\"{nb}\" NotOnOrAfter=\"{na}\" Recipient=\"{recipient}\" xsi:type=\"KeyInfoConfirmationDataType\">\
<KeyInfo xmlns=\"{ds}\"><X509Data><X509Certificate>{cert}</X509Certificate></X509Data></KeyInfo>\
</SubjectConfirmationData></SubjectConfirmation></Subject>",
        name = xml::escape_text(&subject.subject_x509_name),
        xsi = ns::XSI,
        recipient = xml::escape_attr(spec.audience),
        ds = ns::DS,
        cert = b64(spec.subject_cert_der),
    ));
    s.push_str(&format!(
        "<Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{na}\"><AudienceRestriction>\
<Audience>{audience}</Audience></AudienceRestriction></Conditions>"
    ));
    s.push_str("<AttributeStatement>");
    s.push_str(&attribute(attr::CVR, spec.cvr));
    s.push_str(&attribute(attr::ASSURANCE_LEVEL, spec.assurance_level));
    s.push_str(&attribute(attr::SPEC_VER, SPEC_VER));
    s.push_str(&attribute(attr::KOMBIT_SPEC_VER, spec.kombit_spec_ver));
    s.push_str(&attribute(attr::PRIVILEGES, &spec.privileges.to_base64()));
    s.push_str("</AttributeStatement>");
    s.push_str(&format!(
        "<AuthnStatement AuthnInstant=\"{nb}\"><AuthnContext><AuthnContextClassRef>{AUTHN_X509}\
</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion>"
    ));
    let xml = dsig::sign_enveloped_root(
        s,
        signature_at,
        &id,
        &b64(&spec.sts.cert_der),
        &spec.sts.key_pem,
    )
    .map_err(TokenError::Issue)?;
    Ok(IssuedAssertion {
        id,
        xml,
        not_before,
        not_on_or_after,
    })
}

/// What a verified assertion says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// `ID`.
    pub id: String,
    /// `Issuer`.
    pub issuer: String,
    /// The audience that matched.
    pub audience: String,
    /// `CvrNumberIdentifier`.
    pub cvr: String,
    /// `AssuranceLevel`, if present.
    pub assurance_level: Option<String>,
    /// The holder-of-key certificate (DER): requests must be signed with its key.
    pub hok_certificate_der: Vec<u8>,
    /// `Subject/NameID`.
    pub subject_name: String,
    /// `Conditions/@NotBefore`.
    pub not_before: DateTime<Utc>,
    /// `Conditions/@NotOnOrAfter`.
    pub not_on_or_after: DateTime<Utc>,
    /// `Privileges_intermediate`, decoded (empty if absent).
    pub privileges: PrivilegeList,
    /// The trusted STS certificate (DER) whose key verified the signature.
    pub signer_certificate_der: Vec<u8>,
}

/// Verifies a standalone assertion document (see the module docs for the checks).
///
/// `trusted_sts_certs` are DER certificates; several may be trusted at once (rollover).
/// `skew` is allowed on both ends of the validity window.
pub fn verify_assertion(
    xml_text: &str,
    trusted_sts_certs: &[Vec<u8>],
    expected_issuer: &str,
    expected_audience: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<VerifiedAssertion, TokenError> {
    verify_assertion_full(
        xml_text,
        trusted_sts_certs,
        expected_issuer,
        expected_audience,
        now,
        skew,
    )
    .map(|(v, _)| v)
}

/// [`verify_assertion`], also returning the holder-of-key confirmation's own validity window
/// (if it has one) for [`AssertionCache`] to check again on every later use.
fn verify_assertion_full(
    xml_text: &str,
    trusted_sts_certs: &[Vec<u8>],
    expected_issuer: &str,
    expected_audience: &str,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<(VerifiedAssertion, Option<Window>), TokenError> {
    let doc = xml::parse(xml_text, Limits::default())?;
    xml::check_unique_ids(&doc)?;
    let root = doc.root_element();
    if !xml::is(root, ns::SAML, "Assertion") {
        return Err(TokenError::Malformed(
            "document is not a saml:Assertion".into(),
        ));
    }
    if root.attribute("Version") != Some("2.0") {
        return Err(TokenError::Malformed("Version is not 2.0".into()));
    }
    let id = root
        .attribute("ID")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| TokenError::Malformed("missing ID".into()))?
        .to_owned();

    // --- signature: position, algorithms, signer, value, coverage
    let sig = xml::only_child(root, ns::DS, "Signature")
        .map_err(|e| TokenError::BadSignature(e.to_string()))?;
    check_assertion_signature_shape(sig, &id)?;
    let trusted: Vec<&[u8]> = trusted_sts_certs.iter().map(Vec::as_slice).collect();
    if let Some(cert) = sig
        .descendants()
        .find(|n| xml::is(*n, ns::DS, "X509Certificate"))
    {
        let der = base64::engine::general_purpose::STANDARD
            .decode(xml::text_no_ws(cert))
            .map_err(|e| TokenError::Malformed(format!("KeyInfo certificate: {e}")))?;
        if !trusted.contains(&der.as_slice()) {
            let who = crate::ca::cert_info(&der)
                .map(|i| format!("{} (SHA-256 {})", i.subject, i.sha256_hex))
                .unwrap_or_else(|_| "unparseable certificate".into());
            return Err(TokenError::UntrustedSigner(who));
        }
    }
    if trusted.is_empty() {
        return Err(TokenError::UntrustedSigner(
            "no trusted STS certificates".into(),
        ));
    }
    let index = doc
        .descendants()
        .filter(|n| xml::is(*n, ns::DS, "Signature"))
        .position(|n| n == sig)
        .unwrap_or(0);
    let outcome = dsig::verify_signature(xml_text, index, sig.range(), &trusted)
        .map_err(TokenError::BadSignature)?;
    let signer = match outcome {
        Outcome::Invalid(reason) => return Err(TokenError::BadSignature(reason)),
        Outcome::Valid {
            references,
            signer_cert,
        } => {
            let [reference] = references.as_slice() else {
                return Err(TokenError::BadSignature(
                    "signature must have exactly one reference".into(),
                ));
            };
            if reference.range != Some(root.range()) {
                return Err(TokenError::BadSignature(
                    "signature reference does not resolve to the assertion".into(),
                ));
            }
            signer_cert.ok_or_else(|| {
                TokenError::UntrustedSigner("verifying key has no certificate".into())
            })?
        }
    };

    // --- issuer
    let issuer = xml::text(xml::only_child(root, ns::SAML, "Issuer")?);
    if issuer != expected_issuer {
        return Err(TokenError::WrongIssuer {
            expected: expected_issuer.into(),
            found: issuer,
        });
    }

    // --- audience
    let conditions = xml::only_child(root, ns::SAML, "Conditions")?;
    let restrictions: Vec<Vec<String>> = xml::children(conditions, ns::SAML, "AudienceRestriction")
        .map(|r| {
            xml::children(r, ns::SAML, "Audience")
                .map(xml::text)
                .collect()
        })
        .collect();
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| r.iter().any(|a| a == expected_audience))
    {
        return Err(TokenError::WrongAudience {
            expected: expected_audience.into(),
            found: restrictions.into_iter().flatten().collect(),
        });
    }

    // --- validity window
    let not_before = time_attr(conditions, "NotBefore")?;
    let not_on_or_after = time_attr(conditions, "NotOnOrAfter")?;
    check_window(not_before, not_on_or_after, now, skew)?;

    // --- holder of key
    let subject = xml::only_child(root, ns::SAML, "Subject")?;
    let subject_name = xml::opt_child(subject, ns::SAML, "NameID")?
        .map(xml::text)
        .unwrap_or_default();
    let (hok_certificate_der, hok_window) = holder_of_key(subject, now, skew)?;

    // --- attributes
    let statement = xml::only_child(root, ns::SAML, "AttributeStatement")?;
    let cvr = single_attribute(statement, attr::CVR)?
        .ok_or_else(|| TokenError::Malformed(format!("missing attribute {}", attr::CVR)))?;
    let assurance_level = single_attribute(statement, attr::ASSURANCE_LEVEL)?;
    let privileges = match single_attribute(statement, attr::PRIVILEGES)? {
        Some(v) => PrivilegeList::from_base64(&v)?,
        None => PrivilegeList::default(),
    };

    Ok((
        VerifiedAssertion {
            id,
            issuer,
            audience: expected_audience.into(),
            cvr,
            assurance_level,
            hok_certificate_der,
            subject_name,
            not_before,
            not_on_or_after,
            privileges,
            signer_certificate_der: signer,
        },
        hok_window,
    ))
}

/// A validity window `[NotBefore, NotOnOrAfter)`.
type Window = (DateTime<Utc>, DateTime<Utc>);

/// Assertions that verified, by their exact text, so that a service verifies the XML
/// signature of a token once and every later request that presents the same token in O(1).
///
/// A service sees the same token on every request of its 8-hour life (WS-Security headers
/// carry it whole). What does not change between requests is checked once: the signature and
/// digest, the signer, the shape. What depends on the time or the request is checked on every
/// use: the assertion's validity window and that of its holder-of-key confirmation (with the
/// skew), the expected issuer, audience and trusted signer. A hit requires the *identical*
/// text (the map compares the whole string, not a digest), so no altered token can borrow an
/// entry. Refusals are never cached. The cache is bounded: when full, expired entries go, and
/// if it is still full everything goes (a later request verifies in full again).
#[derive(Debug)]
pub struct AssertionCache {
    capacity: usize,
    max_bytes: usize,
    entries: std::sync::RwLock<CacheEntries>,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct CacheEntries {
    map: std::collections::HashMap<Box<str>, Vec<Cached>>,
    bytes: usize,
}

#[derive(Debug)]
struct Cached {
    verified: VerifiedAssertion,
    hok_window: Option<Window>,
}

impl AssertionCache {
    /// A cache of at most `capacity` assertions and `max_bytes` of assertion text.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        AssertionCache {
            capacity,
            max_bytes,
            entries: Default::default(),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// [`verify_assertion`] with this cache: the same checks, the same errors.
    pub fn verify(
        &self,
        xml_text: &str,
        trusted_sts_certs: &[Vec<u8>],
        expected_issuer: &str,
        expected_audience: &str,
        now: DateTime<Utc>,
        skew: Duration,
    ) -> Result<VerifiedAssertion, TokenError> {
        use std::sync::atomic::Ordering::Relaxed;
        let hit = {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            entries.map.get(xml_text).and_then(|v| {
                v.iter()
                    .find(|c| {
                        c.verified.audience == expected_audience
                            && c.verified.issuer == expected_issuer
                            && trusted_sts_certs.contains(&c.verified.signer_certificate_der)
                    })
                    .map(|c| (c.verified.clone(), c.hok_window))
            })
        };
        if let Some((verified, hok_window)) = hit {
            self.hits.fetch_add(1, Relaxed);
            check_window(verified.not_before, verified.not_on_or_after, now, skew)?;
            if let Some((nb, na)) = hok_window {
                check_window(nb, na, now, skew)?;
            }
            return Ok(verified);
        }
        self.misses.fetch_add(1, Relaxed);
        let (verified, hok_window) = verify_assertion_full(
            xml_text,
            trusted_sts_certs,
            expected_issuer,
            expected_audience,
            now,
            skew,
        )?;
        if xml_text.len() <= self.max_bytes / 4 {
            let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
            if entries.map.len() >= self.capacity || entries.bytes + xml_text.len() > self.max_bytes
            {
                let before = now - skew;
                let mut freed = 0;
                entries.map.retain(|k, v| {
                    v.retain(|c| c.verified.not_on_or_after > before);
                    let keep = !v.is_empty();
                    if !keep {
                        freed += k.len();
                    }
                    keep
                });
                entries.bytes -= freed;
                if entries.map.len() >= self.capacity
                    || entries.bytes + xml_text.len() > self.max_bytes
                {
                    entries.map.clear();
                    entries.bytes = 0;
                }
            }
            let cached = Cached {
                verified: verified.clone(),
                hok_window,
            };
            match entries.map.get_mut(xml_text) {
                Some(v) => v.push(cached),
                None => {
                    entries.bytes += xml_text.len();
                    entries.map.insert(xml_text.into(), vec![cached]);
                }
            }
        }
        Ok(verified)
    }

    /// Verifications answered from the cache, and verified in full, so far.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    /// Number of cached assertion texts.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for AssertionCache {
    /// 10,000 assertions, 64 MiB of text.
    fn default() -> Self {
        AssertionCache::new(10_000, 64 * 1024 * 1024)
    }
}

/// One `SignedInfo` with exclusive C14N and RSA-SHA256, one `Reference` to `#id` with only the
/// enveloped-signature and exclusive C14N transforms, SHA-256 digest.
fn check_assertion_signature_shape(sig: Node<'_, '_>, id: &str) -> Result<(), TokenError> {
    let bad = |m: &str| TokenError::BadSignature(m.to_owned());
    let si = xml::only_child(sig, ns::DS, "SignedInfo").map_err(|e| bad(&e.to_string()))?;
    if xml::algorithm(xml::child(si, ns::DS, "CanonicalizationMethod")) != Some(alg::EXC_C14N) {
        return Err(bad("CanonicalizationMethod must be exclusive C14N"));
    }
    if xml::algorithm(xml::child(si, ns::DS, "SignatureMethod")) != Some(alg::RSA_SHA256) {
        return Err(bad("SignatureMethod must be RSA-SHA256"));
    }
    let reference = xml::only_child(si, ns::DS, "Reference").map_err(|e| bad(&e.to_string()))?;
    if reference.attribute("URI") != Some(&format!("#{id}")) {
        return Err(bad("Reference URI must point at the assertion ID"));
    }
    if xml::algorithm(xml::child(reference, ns::DS, "DigestMethod")) != Some(alg::SHA256) {
        return Err(bad("DigestMethod must be SHA-256"));
    }
    if let Some(transforms) = xml::child(reference, ns::DS, "Transforms") {
        for t in transforms.children().filter(|n| n.is_element()) {
            match t.attribute("Algorithm") {
                Some(alg::ENVELOPED) | Some(alg::EXC_C14N) => {}
                other => {
                    return Err(bad(&format!("transform {other:?} is not allowed")));
                }
            }
        }
    }
    Ok(())
}

fn time_attr(node: Node<'_, '_>, name: &str) -> Result<DateTime<Utc>, TokenError> {
    let v = node
        .attribute(name)
        .ok_or_else(|| TokenError::Malformed(format!("missing {name}")))?;
    crate::time::parse(v).map_err(TokenError::Malformed)
}

fn check_window(
    not_before: DateTime<Utc>,
    not_on_or_after: DateTime<Utc>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<(), TokenError> {
    if now + skew < not_before {
        return Err(TokenError::NotYetValid { not_before });
    }
    if now - skew >= not_on_or_after {
        return Err(TokenError::Expired { not_on_or_after });
    }
    Ok(())
}

/// Exactly one holder-of-key `SubjectConfirmation`, with one X.509 certificate in its
/// `SubjectConfirmationData/KeyInfo`, within its own validity window if it has one.
fn holder_of_key(
    subject: Node<'_, '_>,
    now: DateTime<Utc>,
    skew: Duration,
) -> Result<(Vec<u8>, Option<Window>), TokenError> {
    let hok = |m: String| TokenError::HolderOfKey(m);
    let mut confirmations = xml::children(subject, ns::SAML, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(HOLDER_OF_KEY));
    let confirmation = confirmations
        .next()
        .ok_or_else(|| hok("no holder-of-key SubjectConfirmation".into()))?;
    if confirmations.next().is_some() {
        return Err(hok("more than one holder-of-key SubjectConfirmation".into()));
    }
    let data = xml::only_child(confirmation, ns::SAML, "SubjectConfirmationData")
        .map_err(|e| hok(e.to_string()))?;
    let mut window = None;
    if let (Some(_), Some(_)) = (data.attribute("NotBefore"), data.attribute("NotOnOrAfter")) {
        let (nb, na) = (
            time_attr(data, "NotBefore")?,
            time_attr(data, "NotOnOrAfter")?,
        );
        check_window(nb, na, now, skew)?;
        window = Some((nb, na));
    }
    let key_info = xml::only_child(data, ns::DS, "KeyInfo").map_err(|e| hok(e.to_string()))?;
    let x509 = xml::only_child(key_info, ns::DS, "X509Data").map_err(|e| hok(e.to_string()))?;
    let cert = xml::only_child(x509, ns::DS, "X509Certificate").map_err(|e| hok(e.to_string()))?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(xml::text_no_ws(cert))
        .map_err(|e| hok(format!("certificate is not base64: {e}")))?;
    crate::ca::parse_certificate(&der).map_err(|e| hok(e.to_string()))?;
    Ok((der, window))
}

/// The single `AttributeValue` of the attribute `name`, if the attribute is present.
fn single_attribute(statement: Node<'_, '_>, name: &str) -> Result<Option<String>, TokenError> {
    let mut attrs = xml::children(statement, ns::SAML, "Attribute")
        .filter(|a| a.attribute("Name") == Some(name));
    let Some(a) = attrs.next() else {
        return Ok(None);
    };
    if attrs.next().is_some() {
        return Err(TokenError::Malformed(format!(
            "attribute {name} occurs twice"
        )));
    }
    let value = xml::only_child(a, ns::SAML, "AttributeValue")?;
    Ok(Some(xml::text(value)))
}
