//! Thin wrappers around bergshamra (XML-DSig) shared by [`crate::saml`], [`crate::wstrust`] and
//! [`crate::wssec`].
//!
//! Verification is always done with an explicit key set (`trusted_keys_only`): keys embedded in
//! `KeyInfo` are never trusted by themselves. bergshamra's strict position mode is off because
//! it refuses the WS-Security Body reference (see `../shared/docs/stack-notes.md`); instead
//! every caller checks *which* elements the verified references resolved to, by byte range.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;

use bergshamra::dsig::VerifyResult;
use bergshamra::{DsigContext, Key, KeyUsage, KeysManager};

/// Algorithm URIs accepted and produced.
pub(crate) mod alg {
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
}

/// A reference of a verified signature and the element it resolved to.
#[derive(Debug, Clone)]
pub(crate) struct RefTarget {
    /// Byte range of the resolved element in the verified text.
    pub range: Option<Range<usize>>,
}

/// Outcome of verifying one signature.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The signature value and every reference digest verified.
    Valid {
        references: Vec<RefTarget>,
        /// The certificate (DER) of the key that verified it.
        signer_cert: Option<Vec<u8>>,
    },
    /// It did not verify.
    Invalid(String),
}

/// Verification keys for DER certificates, parsed once per set of certificates (a service
/// verifies with the same trusted STS certificate all day; parsing it costs more than the
/// rest of the key handling).
pub(crate) fn verify_keys(certs: &[&[u8]]) -> Result<KeysManager, String> {
    type Parsed = HashMap<Vec<Vec<u8>>, KeysManager>;
    static PARSED: OnceLock<Mutex<Parsed>> = OnceLock::new();
    let parsed = PARSED.get_or_init(Default::default);
    let key: Vec<Vec<u8>> = certs.iter().map(|c| c.to_vec()).collect();
    if let Some(km) = parsed.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(km);
    }
    let km = load_verify_keys(certs)?;
    if let Ok(mut m) = parsed.lock() {
        // The STS certificate(s), and a holder-of-key certificate per calling system: bounded.
        if m.len() >= 1024 {
            m.clear();
        }
        m.insert(key, km.clone());
    }
    Ok(km)
}

fn load_verify_keys(certs: &[&[u8]]) -> Result<KeysManager, String> {
    let mut km = KeysManager::new();
    for der in certs {
        let mut key = bergshamra::keys::loader::load_x509_cert_der(der)
            .map_err(|e| format!("cannot load certificate: {e}"))?;
        key.usage = KeyUsage::Verify;
        key.x509_chain = vec![der.to_vec()];
        km.add_key(key);
    }
    Ok(km)
}

/// Verifies the `index`-th `ds:Signature` (document order) of `xml` with the keys of `certs`,
/// and checks that it is the signature element at `sig_range`.
pub(crate) fn verify_signature(
    xml: &str,
    index: usize,
    sig_range: Range<usize>,
    certs: &[&[u8]],
) -> Result<Outcome, String> {
    let km = verify_keys(certs)?;
    let ctx = DsigContext::new(km)
        .with_strict_verification(false)
        .with_trusted_keys_only(true);
    let doc = bergshamra::xml::uppsala::parse(xml).map_err(|e| format!("XML: {e}"))?;
    let results = bergshamra::dsig::verify::verify_all_document_with_source(&ctx, &doc, Some(xml))
        .map_err(|e| e.to_string())?;
    let result = results
        .into_iter()
        .nth(index)
        .ok_or_else(|| "signature not found".to_owned())?;
    match result {
        VerifyResult::Valid {
            signature_node,
            references,
            key_info,
        } => {
            if doc.node_range(signature_node) != Some(sig_range) {
                return Ok(Outcome::Invalid(
                    "verified signature is not the expected element".into(),
                ));
            }
            if references.is_empty() || references.iter().any(|r| !r.digest_verified) {
                return Ok(Outcome::Invalid(
                    "not every reference digest was verified".into(),
                ));
            }
            Ok(Outcome::Valid {
                references: references
                    .iter()
                    .map(|r| RefTarget {
                        range: r.resolved_node.and_then(|n| doc.node_range(n)),
                    })
                    .collect(),
                signer_cert: key_info.x509_chain.into_iter().next(),
            })
        }
        VerifyResult::Invalid { reason } => Ok(Outcome::Invalid(reason)),
    }
}

/// Signs the first `ds:Signature` template (empty `DigestValue`s and `SignatureValue`) in
/// `template` with the PKCS#8 PEM `key_pem`.
pub(crate) fn sign_template(template: String, key_pem: &str) -> Result<String, String> {
    let key: Key = bergshamra::keys::loader::load_pem_auto(key_pem.as_bytes(), None)
        .map_err(|e| format!("cannot load signing key: {e}"))?;
    let mut km = KeysManager::new();
    km.add_key(Key {
        usage: KeyUsage::Sign,
        ..key
    });
    let ctx = DsigContext::new_permissive(km);
    bergshamra::dsig::sign::sign_owned(&ctx, template).map_err(|e| e.to_string())
}

/// Parsed RSA signing keys by their PKCS#8 PEM. Importing a key (aws-lc validates it) costs
/// more than signing with it, and the STS signs with the same key all day.
fn rsa_key(key_pem: &str) -> Result<Arc<RsaKeyPair>, String> {
    static KEYS: OnceLock<Mutex<HashMap<String, Arc<RsaKeyPair>>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    if let Some(k) = keys.lock().ok().and_then(|m| m.get(key_pem).cloned()) {
        return Ok(k);
    }
    let der = crate::ca::pem_to_der(key_pem, "PRIVATE KEY").map_err(|e| e.to_string())?;
    let key = Arc::new(
        RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("cannot load signing key: {e}"))?,
    );
    if let Ok(mut m) = keys.lock() {
        // A handful of keys at most (the STS key; tests make more): keep the map bounded.
        if m.len() >= 16 {
            m.clear();
        }
        m.insert(key_pem.to_owned(), key.clone());
    }
    Ok(key)
}

/// Signs a document with an enveloped signature over its root element, referenced by `id`
/// (exclusive C14N, RSA-SHA256, SHA-256; the certificate `cert_b64` in KeyInfo), inserting the
/// `ds:Signature` at byte `at` of `unsigned` (between two child elements of the root).
///
/// The reference's transforms (enveloped signature, then exclusive C14N) applied to the signed
/// document give exactly the canonical form of `unsigned`, which is what is digested; the
/// SignedInfo is canonicalized on its own (exclusive C14N renders the same bytes for it
/// wherever it stands, its only namespace being the one it uses) and signed with a key parsed
/// once ([`rsa_key`]). `tests/xmlsec.rs` checks the result with xmlsec1.
pub(crate) fn sign_enveloped_root(
    mut unsigned: String,
    at: usize,
    id: &str,
    cert_b64: &str,
    key_pem: &str,
) -> Result<String, String> {
    use bergshamra::c14n::{C14nMode, canonicalize};
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let canonical = canonicalize::<&str>(&unsigned, C14nMode::Exclusive, None, &[])
        .map_err(|e| format!("canonicalizing the assertion: {e}"))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &canonical);
    let signed_info = format!(
        "<SignedInfo xmlns=\"{ds}\"><CanonicalizationMethod Algorithm=\"{c14n}\"></CanonicalizationMethod>\
<SignatureMethod Algorithm=\"{rsa}\"></SignatureMethod><Reference URI=\"#{id}\"><Transforms>\
<Transform Algorithm=\"{env}\"></Transform><Transform Algorithm=\"{c14n}\"></Transform></Transforms>\
<DigestMethod Algorithm=\"{sha}\"></DigestMethod><DigestValue>{digest}</DigestValue></Reference></SignedInfo>",
        ds = crate::xml::ns::DS,
        c14n = alg::EXC_C14N,
        rsa = alg::RSA_SHA256,
        env = alg::ENVELOPED,
        sha = alg::SHA256,
        id = crate::xml::escape_attr(id),
        digest = b64(digest.as_ref()),
    );
    let signed_info_c14n = canonicalize::<&str>(&signed_info, C14nMode::Exclusive, None, &[])
        .map_err(|e| format!("canonicalizing SignedInfo: {e}"))?;
    let key = rsa_key(key_pem)?;
    let mut value = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        &signed_info_c14n,
        &mut value,
    )
    .map_err(|_| "RSA signing failed".to_owned())?;
    // Inside Signature, SignedInfo inherits the ds namespace from it.
    let signed_info_inner = signed_info.replacen(
        &format!("<SignedInfo xmlns=\"{}\">", crate::xml::ns::DS),
        "<SignedInfo>",
        1,
    );
    let signature = format!(
        "<Signature xmlns=\"{ds}\">{signed_info_inner}<SignatureValue>{value}</SignatureValue>\
<KeyInfo><X509Data><X509Certificate>{cert_b64}</X509Certificate></X509Data></KeyInfo></Signature>",
        ds = crate::xml::ns::DS,
        value = b64(&value),
    );
    if !unsigned.is_char_boundary(at) || at > unsigned.len() {
        return Err("signature position is not in the document".into());
    }
    unsigned.insert_str(at, &signature);
    Ok(unsigned)
}
