//! End-to-end tests of the STS core: CA → Issue request → assertion → service request, and the
//! refusals. One binary (one CA, created once) for speed.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use fki_sts::bpp::{Constraint, Privilege, PrivilegeList, constraint};
use fki_sts::ca::{Ca, Issued};
use fki_sts::saml::{self, AssertionSpec, IssuedAssertion, StsKey, TokenError};
use fki_sts::wssec::{self, ReplayCache, SignOptions, WsSecConfig, WsSecError};
use fki_sts::wstrust;

const ISSUER: &str = "https://sts.fki.test";
const AUDIENCE: &str = "http://stoettesystemerne.dk/service/organisation/3";
const STS_ADDRESS: &str = "https://sts.fki.test/sts/issue";
const CVR: &str = "12345678";
const ROLE: &str = "http://fki.test/roles/usersystemrole/laes/1";

struct Fixture {
    ca: Ca,
    sts: StsKey,
    system: Issued,
    /// Another system certificate of the same CA.
    other_system: Issued,
    /// A CA nobody trusts, with its own STS.
    rogue_ca: Ca,
}

fn fx() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(&dir.path().join("ca")).unwrap();
        let rogue_ca = Ca::load_or_create(&dir.path().join("rogue")).unwrap();
        let sts = StsKey {
            issuer: ISSUER.into(),
            cert_der: ca.sts().cert_der.clone(),
            key_pem: ca.sts().key_pem.clone(),
        };
        let system = ca
            .issue_system_certificate("Testkommune ESDH", CVR)
            .unwrap();
        let other_system = ca.issue_system_certificate("Andet system", CVR).unwrap();
        Fixture {
            ca,
            sts,
            system,
            other_system,
            rogue_ca,
        }
    })
}

fn trusted() -> Vec<Vec<u8>> {
    vec![fx().sts.cert_der.clone()]
}

fn privileges() -> PrivilegeList {
    PrivilegeList::for_cvr(
        CVR,
        &[Privilege {
            role: ROLE.into(),
            constraints: vec![Constraint {
                name: constraint::KLE.into(),
                value: "25.*".into(),
            }],
        }],
    )
}

fn issue(sts: &StsKey, subject: &[u8], now: DateTime<Utc>) -> IssuedAssertion {
    let privileges = privileges();
    saml::issue_assertion(&AssertionSpec::new(
        sts,
        subject,
        AUDIENCE,
        CVR,
        &privileges,
        now,
    ))
    .unwrap()
}

fn verify(xml: &str, now: DateTime<Utc>) -> Result<saml::VerifiedAssertion, TokenError> {
    saml::verify_assertion(xml, &trusted(), ISSUER, AUDIENCE, now, Duration::minutes(5))
}

const SERVICE_ENVELOPE: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><Action xmlns="http://www.w3.org/2005/08/addressing">http://serviceplatformen.dk/xml/wsdl/soap11/Organisation/OrganisationEnhed/5/soeg</Action><MessageID xmlns="http://www.w3.org/2005/08/addressing">urn:uuid:MSGID</MessageID><To xmlns="http://www.w3.org/2005/08/addressing">https://fki.test/service/Organisation/OrganisationEnhed/5</To><ReplyTo xmlns="http://www.w3.org/2005/08/addressing"><Address>http://www.w3.org/2005/08/addressing/anonymous</Address></ReplyTo></soap:Header><soap:Body><ns5:SoegInput xmlns:ns5="urn:oio:sts:organisation:organisationenhed:1.1.3.0"><ns5:Navn>Feddet kommune</ns5:Navn></ns5:SoegInput></soap:Body></soap:Envelope>"#;

fn service_envelope() -> String {
    SERVICE_ENVELOPE.replace("MSGID", &uuid::Uuid::new_v4().to_string())
}

fn signed_service_request(now: DateTime<Utc>) -> (IssuedAssertion, String) {
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let signed =
        wssec::sign_service_request(&service_envelope(), &a.xml, fx().system.key_pem(), now)
            .unwrap();
    (a, signed)
}

fn verify_request(
    envelope: &str,
    now: DateTime<Utc>,
    config: &WsSecConfig,
) -> Result<wssec::VerifiedRequest, WsSecError> {
    wssec::verify_service_request(
        envelope.as_bytes(),
        &trusted(),
        ISSUER,
        AUDIENCE,
        now,
        config,
    )
}

// ---------------------------------------------------------------- the whole flow

#[test]
fn full_flow_issue_request_to_verified_service_request() {
    let now = Utc::now();
    let system = &fx().system;

    // client → STS
    let request = wstrust::build_issue_request(
        system.cert_der(),
        system.key_pem(),
        STS_ADDRESS,
        AUDIENCE,
        CVR,
        now,
    )
    .unwrap();
    let req =
        wstrust::verify_issue_request(request.as_bytes(), now, &WsSecConfig::default()).unwrap();
    assert_eq!(req.applies_to, AUDIENCE);
    assert_eq!(req.cvr.as_deref(), Some(CVR));
    assert_eq!(req.bst_certificate_der, system.cert_der());
    assert_eq!(
        req.use_key_certificate_der.as_deref(),
        Some(system.cert_der())
    );
    assert_eq!(req.token_type.as_deref(), Some(wstrust::TOKEN_TYPE_SAML20));
    assert_eq!(req.key_type.as_deref(), Some(wstrust::KEY_TYPE_PUBLIC_KEY));
    assert_eq!(req.request_type, wstrust::REQUEST_TYPE_ISSUE);
    assert_eq!(req.action.as_deref(), Some(wstrust::ACTION_ISSUE));
    assert_eq!(req.to.as_deref(), Some(STS_ADDRESS));
    assert!(req.message_id.starts_with("urn:uuid:"));

    // STS issues and answers
    let privileges = privileges();
    let issued = saml::issue_assertion(&AssertionSpec::new(
        &fx().sts,
        &req.use_key_certificate_der.clone().unwrap(),
        &req.applies_to,
        req.cvr.as_deref().unwrap(),
        &privileges,
        now,
    ))
    .unwrap();
    let response = wstrust::build_issue_response(&req, &issued);
    assert!(
        response.contains(&issued.xml),
        "assertion copied byte-for-byte"
    );
    let resp = wstrust::parse_issue_response(&response).unwrap();
    assert_eq!(resp.assertion_xml, issued.xml);
    assert_eq!(resp.relates_to.as_deref(), Some(req.message_id.as_str()));
    assert_eq!(resp.applies_to.as_deref(), Some(AUDIENCE));
    assert_eq!(resp.expires, Some(issued.not_on_or_after));

    // the assertion verifies
    let v = verify(&resp.assertion_xml, now).unwrap();
    assert_eq!(v.id, issued.id);
    assert_eq!(v.cvr, CVR);
    assert_eq!(v.issuer, ISSUER);
    assert_eq!(v.audience, AUDIENCE);
    assert_eq!(v.hok_certificate_der, system.cert_der());
    assert_eq!(v.privileges, privileges);
    assert_eq!(v.assurance_level.as_deref(), Some("3"));
    assert_eq!(v.not_on_or_after - v.not_before, saml::DEFAULT_LIFETIME);
    assert!(
        v.subject_name
            .starts_with("CN=Testkommune ESDH (funktionscertifikat)")
    );

    // client → service
    let envelope = service_envelope();
    let signed =
        wssec::sign_service_request(&envelope, &resp.assertion_xml, system.key_pem(), now).unwrap();
    let config = WsSecConfig {
        replay_cache: Some(Arc::new(ReplayCache::new(1000))),
        ..WsSecConfig::default()
    };
    let vr = verify_request(&signed, now, &config).unwrap();
    assert_eq!(vr.assertion.cvr, CVR);
    assert_eq!(vr.assertion.privileges.privileges_for(CVR)[0].role, ROLE);
    assert!(vr.message_id.starts_with("urn:uuid:"));
    assert_eq!(
        vr.action.as_deref(),
        Some("http://serviceplatformen.dk/xml/wsdl/soap11/Organisation/OrganisationEnhed/5/soeg")
    );
    assert_eq!(vr.soap_version, wssec::SoapVersion::Soap11);
    let payload = &signed[vr.payload_range.clone().unwrap()];
    assert!(payload.starts_with("<ns5:SoegInput"), "{payload}");
    assert!(signed[vr.body_range.clone()].contains("Feddet kommune"));
}

// ---------------------------------------------------------------- assertion refusals

#[test]
fn assertion_signed_by_an_untrusted_sts_is_refused() {
    let now = Utc::now();
    let rogue = StsKey {
        issuer: ISSUER.into(),
        cert_der: fx().rogue_ca.sts().cert_der.clone(),
        key_pem: fx().rogue_ca.sts().key_pem.clone(),
    };
    let a = issue(&rogue, fx().system.cert_der(), now);
    assert!(matches!(
        verify(&a.xml, now),
        Err(TokenError::UntrustedSigner(_))
    ));
}

#[test]
fn assertion_claiming_the_trusted_cert_but_signed_by_another_key_is_refused() {
    let now = Utc::now();
    let forger = StsKey {
        issuer: ISSUER.into(),
        cert_der: fx().sts.cert_der.clone(),
        key_pem: fx().rogue_ca.sts().key_pem.clone(),
    };
    let a = issue(&forger, fx().system.cert_der(), now);
    assert!(matches!(
        verify(&a.xml, now),
        Err(TokenError::BadSignature(_))
    ));
}

#[test]
fn assertion_altered_after_signing_is_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    verify(&a.xml, now).unwrap();
    let altered = a.xml.replace(
        &format!("<AttributeValue>{CVR}</AttributeValue>"),
        "<AttributeValue>87654321</AttributeValue>",
    );
    assert_ne!(altered, a.xml);
    let err = verify(&altered, now).unwrap_err();
    assert!(matches!(err, TokenError::BadSignature(_)), "{err}");
}

#[test]
fn expired_and_not_yet_valid_assertions_are_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    // inside the skew both ends are still accepted
    verify(&a.xml, now - Duration::minutes(4)).unwrap();
    verify(&a.xml, now + Duration::hours(8) + Duration::minutes(4)).unwrap();
    assert!(matches!(
        verify(&a.xml, now + Duration::hours(8) + Duration::minutes(6)),
        Err(TokenError::Expired { .. })
    ));
    assert!(matches!(
        verify(&a.xml, now - Duration::minutes(6)),
        Err(TokenError::NotYetValid { .. })
    ));
}

#[test]
fn wrong_audience_and_wrong_issuer_are_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let err = saml::verify_assertion(
        &a.xml,
        &trusted(),
        ISSUER,
        "http://stoettesystemerne.dk/service/klassifikation/7",
        now,
        Duration::minutes(5),
    )
    .unwrap_err();
    assert!(
        matches!(&err, TokenError::WrongAudience { found, .. } if found == &vec![AUDIENCE.to_owned()]),
        "{err}"
    );
    let err = saml::verify_assertion(
        &a.xml,
        &trusted(),
        "https://other-sts",
        AUDIENCE,
        now,
        Duration::minutes(5),
    )
    .unwrap_err();
    assert!(matches!(err, TokenError::WrongIssuer { .. }), "{err}");
}

#[test]
fn wrapped_assertion_is_refused() {
    // An attacker builds their own assertion (other CVR) and moves the genuine signed assertion
    // inside it, copying the genuine Signature as the outer assertion's Signature: the
    // reference then resolves to the inner assertion, not to the root.
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let sig_start = a.xml.find("<Signature").unwrap();
    let sig_end = a.xml.find("</Signature>").unwrap() + "</Signature>".len();
    let signature = &a.xml[sig_start..sig_end];
    let evil = a.xml.replacen(&a.id, "_evil", 1).replace(
        &format!("<AttributeValue>{CVR}</AttributeValue>"),
        "<AttributeValue>87654321</AttributeValue>",
    );
    // replace the outer signature with the genuine one and embed the genuine assertion
    let evil_sig_start = evil.find("<Signature").unwrap();
    let evil_sig_end = evil.find("</Signature>").unwrap() + "</Signature>".len();
    let wrapped = format!(
        "{}{}<Advice>{}</Advice>{}",
        &evil[..evil_sig_start],
        signature,
        a.xml,
        &evil[evil_sig_end..]
    );
    let err = verify(&wrapped, now).unwrap_err();
    assert!(
        matches!(&err, TokenError::BadSignature(m) if m.contains("assertion ID")),
        "{err}"
    );
}

/// Re-signs an assertion after editing it, with the genuine STS key: a validly signed assertion
/// that only the later checks can refuse.
fn resign_assertion(xml: &str) -> String {
    sign_with(&blank_signature(xml, ""), &fx().sts.key_pem)
}

#[test]
fn validly_signed_assertion_without_holder_of_key_is_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    assert!(a.xml.contains(saml::HOLDER_OF_KEY));
    // the editing + re-signing itself keeps a verifiable assertion
    verify(&resign_assertion(&a.xml), now).unwrap();
    let bearer = resign_assertion(
        &a.xml
            .replace(saml::HOLDER_OF_KEY, "urn:oasis:names:tc:SAML:2.0:cm:bearer"),
    );
    let err = verify(&bearer, now).unwrap_err();
    assert!(matches!(err, TokenError::HolderOfKey(_)), "{err}");
    // a holder-of-key confirmation whose certificate is garbage
    let cert = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(fx().system.cert_der())
    };
    let garbage = resign_assertion(&a.xml.replace(&cert, "AAAA"));
    let err = verify(&garbage, now).unwrap_err();
    assert!(matches!(err, TokenError::HolderOfKey(_)), "{err}");
    // altering without re-signing is caught by the signature first
    let err = verify(
        &a.xml
            .replace(saml::HOLDER_OF_KEY, "urn:oasis:names:tc:SAML:2.0:cm:bearer"),
        now,
    )
    .unwrap_err();
    assert!(matches!(err, TokenError::BadSignature(_)), "{err}");
}

#[test]
fn garbage_and_dtd_assertions_are_malformed() {
    let now = Utc::now();
    assert!(matches!(
        verify("not xml", now),
        Err(TokenError::Malformed(_))
    ));
    let dtd = r#"<!DOCTYPE a [<!ENTITY x "y">]><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion">&x;</Assertion>"#;
    let err = verify(dtd, now).unwrap_err();
    assert!(
        matches!(&err, TokenError::Malformed(m) if m.contains("DTD")),
        "{err}"
    );
}

// ---------------------------------------------------------------- service request refusals

#[test]
fn service_request_signed_by_another_certificate_is_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    // the assertion is bound to `system`, the request is signed with `other_system`'s key
    let signed = wssec::sign_service_request(
        &service_envelope(),
        &a.xml,
        fx().other_system.key_pem(),
        now,
    )
    .unwrap();
    let err = verify_request(&signed, now, &WsSecConfig::default()).unwrap_err();
    assert!(matches!(err, WsSecError::HolderOfKeyMismatch(_)), "{err}");
}

#[test]
fn replayed_message_id_is_refused() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    let config = WsSecConfig {
        replay_cache: Some(Arc::new(ReplayCache::new(100))),
        ..WsSecConfig::default()
    };
    verify_request(&signed, now, &config).unwrap();
    let err = verify_request(&signed, now + Duration::seconds(1), &config).unwrap_err();
    assert!(matches!(err, WsSecError::Replay(_)), "{err}");
    // a cache that is full of live entries fails closed
    let full = WsSecConfig {
        replay_cache: Some(Arc::new(ReplayCache::new(0))),
        ..WsSecConfig::default()
    };
    assert_eq!(
        verify_request(&signed, now, &full).unwrap_err(),
        WsSecError::ReplayCacheFull
    );
}

#[test]
fn body_modified_after_signing_is_refused() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    let tampered = signed.replace("Feddet kommune", "Andet kommune");
    assert_ne!(tampered, signed);
    let err = verify_request(&tampered, now, &WsSecConfig::default()).unwrap_err();
    assert!(matches!(err, WsSecError::BadSignature(_)), "{err}");
}

#[test]
fn signature_that_omits_the_body_is_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let signed = wssec::sign_service_request_with(
        &service_envelope(),
        &a.xml,
        fx().system.key_pem(),
        now,
        &SignOptions {
            sign_body: false,
            ..SignOptions::default()
        },
    )
    .unwrap();
    let err = verify_request(&signed, now, &WsSecConfig::default()).unwrap_err();
    assert!(
        matches!(&err, WsSecError::NotSigned(m) if m.contains("Body")),
        "{err}"
    );
}

#[test]
fn second_body_is_refused() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    let doubled = signed.replace("</soap:Body>", "</soap:Body><soap:Body><x/></soap:Body>");
    let err = verify_request(&doubled, now, &WsSecConfig::default()).unwrap_err();
    assert!(matches!(err, WsSecError::Malformed(_)), "{err}");
}

#[test]
fn stale_timestamp_is_refused() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    // the assertion is valid for 8 hours, the message only for its Timestamp (5 min + skew)
    verify_request(&signed, now + Duration::minutes(9), &WsSecConfig::default()).unwrap();
    let err = verify_request(
        &signed,
        now + Duration::minutes(11),
        &WsSecConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, WsSecError::MessageExpired(_)), "{err}");
    let err =
        verify_request(&signed, now - Duration::minutes(6), &WsSecConfig::default()).unwrap_err();
    assert!(
        matches!(err, WsSecError::InvalidTimestamp(_) | WsSecError::Token(_)),
        "{err}"
    );
}

#[test]
fn dtd_and_entity_expansion_in_a_service_request_are_refused() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE soap:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        signed.replace("Feddet kommune", "&xxe;")
    );
    let err = verify_request(&xxe, now, &WsSecConfig::default()).unwrap_err();
    assert!(
        matches!(&err, WsSecError::Malformed(m) if m.contains("DTD")),
        "{err}"
    );
    let lol = format!(
        "<!DOCTYPE soap:Envelope [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>{}",
        signed.replace("Feddet kommune", "&c;")
    );
    let err = verify_request(&lol, now, &WsSecConfig::default()).unwrap_err();
    assert!(
        matches!(&err, WsSecError::Malformed(m) if m.contains("DTD")),
        "{err}"
    );
    // the Issue request parser refuses them the same way
    let err =
        wstrust::verify_issue_request(xxe.as_bytes(), now, &WsSecConfig::default()).unwrap_err();
    assert!(matches!(err, WsSecError::Malformed(_)), "{err}");
}

#[test]
fn oversized_requests_are_refused_before_parsing() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    let config = WsSecConfig {
        limits: fki_sts::xml::Limits {
            max_bytes: 4096,
            ..fki_sts::xml::Limits::default()
        },
        ..WsSecConfig::default()
    };
    assert!(signed.len() > 4096);
    let err = verify_request(&signed, now, &config).unwrap_err();
    assert!(
        matches!(&err, WsSecError::Malformed(m) if m.contains("too large")),
        "{err}"
    );
    let err = wstrust::verify_issue_request(signed.as_bytes(), now, &config).unwrap_err();
    assert!(
        matches!(&err, WsSecError::Malformed(m) if m.contains("too large")),
        "{err}"
    );
}

#[test]
fn service_request_with_an_expired_assertion_is_refused() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now - Duration::hours(9));
    let signed =
        wssec::sign_service_request(&service_envelope(), &a.xml, fx().system.key_pem(), now)
            .unwrap();
    let err = verify_request(&signed, now, &WsSecConfig::default()).unwrap_err();
    assert!(
        matches!(err, WsSecError::Token(TokenError::Expired { .. })),
        "{err}"
    );
    assert_eq!(err.code(), "TOKEN_EXPIRED");
}

// ---------------------------------------------------------------- Issue request refusals

fn issue_request(now: DateTime<Utc>) -> String {
    let s = &fx().system;
    wstrust::build_issue_request(s.cert_der(), s.key_pem(), STS_ADDRESS, AUDIENCE, CVR, now)
        .unwrap()
}

#[test]
fn issue_request_tampering_is_refused() {
    let now = Utc::now();
    let request = issue_request(now);
    let cfg = WsSecConfig::default();
    // body (AppliesTo) changed
    let tampered = request.replace(AUDIENCE, "http://stoettesystemerne.dk/service/other/1");
    let err = wstrust::verify_issue_request(tampered.as_bytes(), now, &cfg).unwrap_err();
    assert!(matches!(err, WsSecError::BadSignature(_)), "{err}");
    // claim changed
    let tampered = request.replace(&format!(">{CVR}<"), ">87654321<");
    let err = wstrust::verify_issue_request(tampered.as_bytes(), now, &cfg).unwrap_err();
    assert!(matches!(err, WsSecError::BadSignature(_)), "{err}");
    // token swapped for another certificate: the signature no longer verifies with it
    let b64 = |d: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(d)
    };
    let swapped = request.replace(
        &b64(fx().system.cert_der()),
        &b64(fx().other_system.cert_der()),
    );
    let err = wstrust::verify_issue_request(swapped.as_bytes(), now, &cfg).unwrap_err();
    assert!(matches!(err, WsSecError::BadSignature(_)), "{err}");
    // stale
    let err = wstrust::verify_issue_request(request.as_bytes(), now + Duration::minutes(11), &cfg)
        .unwrap_err();
    assert!(matches!(err, WsSecError::MessageExpired(_)), "{err}");
}

#[test]
fn issue_request_whose_references_omit_the_body_is_refused() {
    let now = Utc::now();
    let request = issue_request(now);
    // Re-sign a copy without the Body reference, as an attacker holding the key could: the
    // signature itself is valid, but does not cover the request.
    let start = request.find("<ds:SignedInfo>").unwrap();
    let end = request.find("</ds:SignedInfo>").unwrap();
    let signed_info = &request[start..end];
    let body_id_start = request.find("<soap:Body").unwrap();
    let body_tag =
        &request[body_id_start..request[body_id_start..].find('>').unwrap() + body_id_start];
    let body_id = body_tag
        .split("wsu:Id=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let body_ref_start = signed_info
        .find(&format!("<ds:Reference URI=\"#{body_id}\""))
        .unwrap();
    let body_ref_end = signed_info[body_ref_start..]
        .find("</ds:Reference>")
        .unwrap()
        + body_ref_start
        + "</ds:Reference>".len();
    let mut without = request.clone();
    without.replace_range(start + body_ref_start..start + body_ref_end, "");
    // blank the digests and signature value, then sign again with the client's key
    let template = blank_signature(&without, "ds:");
    let resigned = sign_with(&template, fx().system.key_pem());
    let err = wstrust::verify_issue_request(resigned.as_bytes(), now, &WsSecConfig::default())
        .unwrap_err();
    assert!(
        matches!(&err, WsSecError::NotSigned(m) if m.contains("Body")),
        "{err}"
    );
}

/// Empties every `<{prefix}DigestValue>` and `<{prefix}SignatureValue>` (prefix `ds:` or ``).
fn blank_signature(xml: &str, prefix: &str) -> String {
    let mut out = xml.to_owned();
    for local in ["DigestValue", "SignatureValue"] {
        let open = format!("<{prefix}{local}>");
        let close = format!("</{prefix}{local}>");
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&open) {
            let j = rest[i..].find(&close).unwrap() + i;
            result.push_str(&rest[..i + open.len()]);
            rest = &rest[j..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn sign_with(template: &str, key_pem: &str) -> String {
    let key = bergshamra::keys::loader::load_pem_auto(key_pem.as_bytes(), None).unwrap();
    let mut km = bergshamra::KeysManager::new();
    km.add_key(bergshamra::Key {
        usage: bergshamra::KeyUsage::Sign,
        ..key
    });
    let ctx = bergshamra::DsigContext::new_permissive(km);
    bergshamra::sign(&ctx, template).unwrap()
}

// ---------------------------------------------------------------- CA

#[test]
fn ca_is_created_once_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let ca1 = Ca::load_or_create(dir.path()).unwrap();
    let ca2 = Ca::load_or_create(dir.path()).unwrap();
    assert_eq!(ca1.root_cert_der(), ca2.root_cert_der());
    assert_eq!(ca1.sts().cert_der, ca2.sts().cert_der);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [fki_sts::ca::ROOT_KEY_FILE, fki_sts::ca::STS_KEY_FILE] {
            let mode = std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    // half a CA is refused rather than silently replaced
    std::fs::remove_file(dir.path().join(fki_sts::ca::ROOT_KEY_FILE)).unwrap();
    assert!(Ca::load_or_create(dir.path()).is_err());
}

#[test]
fn issued_certificates_chain_to_the_root_only() {
    let f = fx();
    f.ca.verify_issued(f.system.cert_der()).unwrap();
    f.ca.verify_issued(&f.sts.cert_der).unwrap();
    assert!(
        f.ca.verify_issued(f.rogue_ca.sts().cert_der.as_slice())
            .is_err()
    );
    assert!(f.rogue_ca.verify_issued(f.system.cert_der()).is_err());
    let info = fki_sts::ca::cert_info(f.system.cert_der()).unwrap();
    assert!(
        info.subject.contains("CVR:12345678-FID:"),
        "{}",
        info.subject
    );
    // PEM and DER agree
    assert_eq!(
        fki_sts::ca::parse_certificate(f.system.cert_pem().as_bytes()).unwrap(),
        f.system.cert_der()
    );
}

#[test]
fn server_certificate_has_dns_and_ip_sans() {
    let server = fx()
        .ca
        .issue_server_certificate(&["fki.test", "localhost", "127.0.0.1", "::1"])
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(server.cert_der()).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    let names: Vec<String> = san.general_names.iter().map(|n| n.to_string()).collect();
    assert!(names.iter().any(|n| n.contains("fki.test")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("7f:00:00:01")), "{names:?}");
    assert_eq!(names.len(), 4);
    fx().ca.verify_issued(server.cert_der()).unwrap();
    assert!(fx().ca.issue_server_certificate(&[]).is_err());
}

#[test]
fn pkcs12_opens_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let p12 = fx().system.pkcs12_der("hemmelig").unwrap();
    let path = dir.path().join("system.p12");
    std::fs::write(&path, &p12).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-info",
            "-nokeys",
            "-passin",
            "pass:hemmelig",
            "-in",
        ])
        .arg(&path)
        .output()
        .expect("openssl must be installed for this test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CVR:12345678-FID:"), "{stdout}");
    assert!(stdout.contains("lokal rod-CA"), "chain included: {stdout}");
    // wrong password is refused
    let out = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-info",
            "-nokeys",
            "-passin",
            "pass:forkert",
            "-in",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    // and the key inside is the system's key
    let out = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-nocerts",
            "-nodes",
            "-passin",
            "pass:hemmelig",
            "-in",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let key_pem = String::from_utf8_lossy(&out.stdout);
    let strip = |s: &str| -> String {
        let b = s.find("-----BEGIN PRIVATE KEY-----").unwrap();
        let e = s.find("-----END PRIVATE KEY-----").unwrap();
        s[b..e].split_whitespace().collect()
    };
    assert_eq!(strip(&key_pem), strip(fx().system.key_pem()));
}

#[test]
fn signer_handles_missing_empty_and_unprefixed_headers() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let wsa = "http://www.w3.org/2005/08/addressing";
    let variants = [
        // SOAP 1.1, no Header at all: MessageID cannot be there, so the verifier refuses for
        // lack of it, after checking the signature
        (
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><x xmlns=\"urn:x\"/></soap:Body></soap:Envelope>".to_owned(),
            false,
        ),
        // SOAP 1.2 with a self-closing Header: same
        (
            "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Header/><e:Body><x xmlns=\"urn:x\"/></e:Body></e:Envelope>".to_owned(),
            false,
        ),
        // SOAP 1.2 in the default namespace, addressing headers with wsu declared on the root
        (
            format!(
                "<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\"><Header><a:MessageID xmlns:a=\"{wsa}\">urn:uuid:{}</a:MessageID><a:Action xmlns:a=\"{wsa}\" wsu:Id=\"act\">urn:op</a:Action></Header><Body><x xmlns=\"urn:x\">é</x></Body></Envelope>",
                uuid::Uuid::new_v4()
            ),
            true,
        ),
    ];
    for (envelope, complete) in variants {
        let signed =
            wssec::sign_service_request(&envelope, &a.xml, fx().system.key_pem(), now).unwrap();
        let result = verify_request(&signed, now, &WsSecConfig::default());
        if complete {
            let v = result.unwrap_or_else(|e| panic!("{e}\n{signed}"));
            assert_eq!(v.action.as_deref(), Some("urn:op"));
            assert!(signed.contains("wsu:Id=\"act\""), "existing Id reused");
        } else {
            let err = result.unwrap_err();
            assert!(
                matches!(&err, WsSecError::Malformed(m) if m.contains("MessageID")),
                "{err}\n{signed}"
            );
        }
    }
    // signing an envelope that already has a Security header is refused
    let (_, signed) = signed_service_request(now);
    assert!(matches!(
        wssec::sign_service_request(&signed, &a.xml, fx().system.key_pem(), now),
        Err(WsSecError::Sign(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// AssertionCache: a token's signature is verified once; times, audience, issuer and signer on
// every use.

fn cached(
    cache: &saml::AssertionCache,
    xml: &str,
    trusted: &[Vec<u8>],
    audience: &str,
    now: DateTime<Utc>,
) -> Result<saml::VerifiedAssertion, TokenError> {
    cache.verify(xml, trusted, ISSUER, audience, now, Duration::minutes(5))
}

#[test]
fn assertion_cache_answers_a_known_token_with_the_full_result() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let cache = saml::AssertionCache::default();
    let first = cached(&cache, &a.xml, &trusted(), AUDIENCE, now).unwrap();
    assert_eq!(cache.counts(), (0, 1));
    let again = cached(
        &cache,
        &a.xml,
        &trusted(),
        AUDIENCE,
        now + Duration::hours(1),
    )
    .unwrap();
    assert_eq!(cache.counts(), (1, 1));
    assert_eq!(first, again);
    assert_eq!(first, verify(&a.xml, now).unwrap());
    assert_eq!(cache.len(), 1);
}

#[test]
fn assertion_cache_still_checks_the_validity_window_on_every_use() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let cache = saml::AssertionCache::default();
    cached(&cache, &a.xml, &trusted(), AUDIENCE, now).unwrap();
    let late = a.not_on_or_after + Duration::minutes(6);
    let err = cached(&cache, &a.xml, &trusted(), AUDIENCE, late).unwrap_err();
    assert!(matches!(err, TokenError::Expired { .. }), "{err}");
    let early = a.not_before - Duration::minutes(6);
    let err = cached(&cache, &a.xml, &trusted(), AUDIENCE, early).unwrap_err();
    assert!(matches!(err, TokenError::NotYetValid { .. }), "{err}");
    // both answered from the cache: the refusal did not need the XML
    assert_eq!(cache.counts(), (2, 1));
}

#[test]
fn assertion_cache_refuses_what_the_full_verification_refuses() {
    let now = Utc::now();
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    let cache = saml::AssertionCache::default();
    cached(&cache, &a.xml, &trusted(), AUDIENCE, now).unwrap();
    // another audience: not the cached verification
    let err = cached(
        &cache,
        &a.xml,
        &trusted(),
        "http://entityid.kombit.dk/service/klassifikation/7",
        now,
    )
    .unwrap_err();
    assert!(matches!(err, TokenError::WrongAudience { .. }), "{err}");
    // the STS certificate no longer trusted (rollover done): refused
    let rogue = vec![fx().rogue_ca.sts().cert_der.clone()];
    let err = cached(&cache, &a.xml, &rogue, AUDIENCE, now).unwrap_err();
    assert!(matches!(err, TokenError::UntrustedSigner(_)), "{err}");
    // the same token altered by one character after signing: no entry, signature fails
    let altered = a.xml.replacen(CVR, "87654321", 1);
    assert_ne!(altered, a.xml);
    let err = cached(&cache, &altered, &trusted(), AUDIENCE, now).unwrap_err();
    assert!(matches!(err, TokenError::BadSignature(_)), "{err}");
    // refusals are not cached
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.counts().0, 0);
}

#[test]
fn assertion_cache_stays_within_its_bounds() {
    let now = Utc::now();
    let cache = saml::AssertionCache::new(2, 1024 * 1024);
    for _ in 0..5 {
        let a = issue(&fx().sts, fx().system.cert_der(), now);
        cached(&cache, &a.xml, &trusted(), AUDIENCE, now).unwrap();
        assert!(cache.len() <= 2, "{}", cache.len());
    }
    // a byte bound smaller than four tokens: nothing is kept, everything still verifies
    let small = saml::AssertionCache::new(100, 1024);
    let a = issue(&fx().sts, fx().system.cert_der(), now);
    cached(&small, &a.xml, &trusted(), AUDIENCE, now).unwrap();
    cached(&small, &a.xml, &trusted(), AUDIENCE, now).unwrap();
    assert_eq!(small.len(), 0);
    assert_eq!(small.counts(), (0, 2));
}

#[test]
fn service_requests_with_an_assertion_cache_verify_the_request_signature_every_time() {
    let now = Utc::now();
    let (_, signed) = signed_service_request(now);
    let cache = Arc::new(saml::AssertionCache::default());
    let config = WsSecConfig {
        assertion_cache: Some(cache.clone()),
        ..WsSecConfig::default()
    };
    verify_request(&signed, now, &config).unwrap();
    verify_request(&signed, now, &config).unwrap();
    assert_eq!(cache.counts(), (1, 1));
    // the token is known, but the body was changed after the request was signed
    let tampered = signed.replace("Feddet kommune", "Andet kommune");
    let err = verify_request(&tampered, now, &config).unwrap_err();
    assert!(matches!(err, WsSecError::BadSignature(_)), "{err}");
    assert_eq!(cache.counts(), (2, 1));
}
