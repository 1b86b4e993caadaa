//! Thin wrappers around bergshamra (XML-DSig) shared by [`crate::saml`], [`crate::wstrust`] and
//! [`crate::wssec`].
//!
//! Verification is always done with an explicit key set (`trusted_keys_only`): keys embedded in
//! `KeyInfo` are never trusted by themselves. bergshamra's strict position mode is off because
//! it refuses the WS-Security Body reference (see `../shared/docs/stack-notes.md`); instead
//! every caller checks *which* elements the verified references resolved to, by byte range.

use std::ops::Range;

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

/// Loads verification keys from DER certificates.
pub(crate) fn verify_keys(certs: &[&[u8]]) -> Result<KeysManager, String> {
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
