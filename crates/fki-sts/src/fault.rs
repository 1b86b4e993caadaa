//! SOAP faults for security and token errors.
//!
//! Neither `../shared/specs/sf1514-sts/sts.wsdl` nor `sts-kosdy-sample.wsdl` declares a fault
//! detail for the STS, so faults are the standard envelopes: SOAP 1.2 `env:Fault` with
//! `Code/Value` (`env:Sender` or `env:Receiver`), a `Subcode` carrying the WS-Security
//! (`wsse:…`, WSS 1.1 §12) or WS-Trust (`wst:…`, WS-Trust 1.3 §11) fault code, and `Reason/Text`;
//! SOAP 1.1 `faultcode` (the `wsse:`/`wst:` QName) and `faultstring`.
//!
//! Reasons go to the caller: keep them short and free of internals; log the full error (and
//! its `code()`) on the server.

use crate::saml::TokenError;
use crate::wssec::SoapVersion;
use crate::xml::{self, ns};

/// Fault codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// `wsse:UnsupportedSecurityToken`.
    UnsupportedSecurityToken,
    /// `wsse:UnsupportedAlgorithm`.
    UnsupportedAlgorithm,
    /// `wsse:InvalidSecurity`: an error processing the Security header.
    InvalidSecurity,
    /// `wsse:InvalidSecurityToken`: an invalid security token.
    InvalidSecurityToken,
    /// `wsse:FailedAuthentication`: the token or signature could not be authenticated.
    FailedAuthentication,
    /// `wsse:FailedCheck`: signature or decryption invalid.
    FailedCheck,
    /// `wsse:SecurityTokenUnavailable`.
    SecurityTokenUnavailable,
    /// `wsse:MessageExpired`.
    MessageExpired,
    /// `wst:InvalidRequest`: the request was invalid or malformed.
    InvalidRequest,
    /// `wst:RequestFailed`: the request failed.
    RequestFailed,
    /// `wst:BadRequest`: the specified request failed (e.g. unknown AppliesTo).
    BadRequest,
    /// A server-side failure (`env:Receiver` / `soap:Server`), no subcode.
    Receiver,
    /// A malformed request outside WS-Security (`env:Sender` / `soap:Client`), no subcode.
    Sender,
}

impl FaultCode {
    /// `(namespace, prefix, local name)` of the subcode, `None` for [`FaultCode::Receiver`].
    pub fn qname(self) -> Option<(&'static str, &'static str, &'static str)> {
        let wsse = |l| Some((ns::WSSE, "wsse", l));
        let wst = |l| Some((ns::WST, "wst", l));
        match self {
            FaultCode::UnsupportedSecurityToken => wsse("UnsupportedSecurityToken"),
            FaultCode::UnsupportedAlgorithm => wsse("UnsupportedAlgorithm"),
            FaultCode::InvalidSecurity => wsse("InvalidSecurity"),
            FaultCode::InvalidSecurityToken => wsse("InvalidSecurityToken"),
            FaultCode::FailedAuthentication => wsse("FailedAuthentication"),
            FaultCode::FailedCheck => wsse("FailedCheck"),
            FaultCode::SecurityTokenUnavailable => wsse("SecurityTokenUnavailable"),
            FaultCode::MessageExpired => wsse("MessageExpired"),
            FaultCode::InvalidRequest => wst("InvalidRequest"),
            FaultCode::RequestFailed => wst("RequestFailed"),
            FaultCode::BadRequest => wst("BadRequest"),
            FaultCode::Receiver | FaultCode::Sender => None,
        }
    }

    /// Whether the sender is at fault (`env:Sender`) rather than the receiver.
    pub fn is_sender(self) -> bool {
        self != FaultCode::Receiver
    }
}

impl TokenError {
    /// The fault code a refused assertion is reported with.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            TokenError::Malformed(_) => FaultCode::InvalidSecurityToken,
            TokenError::BadSignature(_) => FaultCode::FailedCheck,
            TokenError::UntrustedSigner(_) | TokenError::WrongIssuer { .. } => {
                FaultCode::FailedAuthentication
            }
            TokenError::WrongAudience { .. } | TokenError::HolderOfKey(_) => {
                FaultCode::InvalidSecurityToken
            }
            TokenError::Expired { .. } | TokenError::NotYetValid { .. } => {
                FaultCode::MessageExpired
            }
            TokenError::Issue(_) => FaultCode::Receiver,
        }
    }
}

/// A complete SOAP fault envelope.
pub fn soap_fault(version: SoapVersion, code: FaultCode, reason: &str) -> String {
    let reason = xml::escape_text(reason);
    match version {
        SoapVersion::Soap12 => {
            let value = if code.is_sender() {
                "env:Sender"
            } else {
                "env:Receiver"
            };
            let (decl, subcode) = match code.qname() {
                Some((namespace, prefix, local)) => (
                    format!(" xmlns:{prefix}=\"{namespace}\""),
                    format!("<env:Subcode><env:Value>{prefix}:{local}</env:Value></env:Subcode>"),
                ),
                None => (String::new(), String::new()),
            };
            format!(
                "<env:Envelope xmlns:env=\"{env}\"{decl}><env:Body><env:Fault><env:Code>\
<env:Value>{value}</env:Value>{subcode}</env:Code><env:Reason>\
<env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>",
                env = ns::SOAP12,
            )
        }
        SoapVersion::Soap11 => {
            let (decl, faultcode) = match code.qname() {
                Some((namespace, prefix, local)) => (
                    format!(" xmlns:{prefix}=\"{namespace}\""),
                    format!("{prefix}:{local}"),
                ),
                None if code.is_sender() => (String::new(), "soap:Client".to_owned()),
                None => (String::new(), "soap:Server".to_owned()),
            };
            format!(
                "<soap:Envelope xmlns:soap=\"{env}\"{decl}><soap:Body><soap:Fault>\
<faultcode>{faultcode}</faultcode><faultstring>{reason}</faultstring></soap:Fault>\
</soap:Body></soap:Envelope>",
                env = ns::SOAP11,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Limits;

    #[test]
    fn soap12_fault_has_sender_and_wsse_subcode() {
        let f = soap_fault(
            SoapVersion::Soap12,
            FaultCode::InvalidSecurityToken,
            "token <expired>",
        );
        let doc = xml::parse(&f, Limits::default()).unwrap();
        let fault = xml::only_descendant(doc.root_element(), ns::SOAP12, "Fault").unwrap();
        let code = xml::only_child(fault, ns::SOAP12, "Code").unwrap();
        assert_eq!(
            xml::text(xml::only_child(code, ns::SOAP12, "Value").unwrap()),
            "env:Sender"
        );
        let sub = xml::only_descendant(code, ns::SOAP12, "Subcode").unwrap();
        let value = xml::only_child(sub, ns::SOAP12, "Value").unwrap();
        assert_eq!(xml::text(value), "wsse:InvalidSecurityToken");
        assert_eq!(value.lookup_namespace_uri(Some("wsse")), Some(ns::WSSE));
        assert!(f.contains("token &lt;expired&gt;"));
    }

    #[test]
    fn soap11_fault_uses_qname_faultcode() {
        let f = soap_fault(SoapVersion::Soap11, FaultCode::MessageExpired, "old");
        let doc = xml::parse(&f, Limits::default()).unwrap();
        let code = doc
            .descendants()
            .find(|n| n.has_tag_name("faultcode"))
            .unwrap();
        assert_eq!(xml::text(code), "wsse:MessageExpired");
        let f = soap_fault(SoapVersion::Soap11, FaultCode::Receiver, "oops");
        assert!(f.contains("<faultcode>soap:Server</faultcode>"));
        let f = soap_fault(SoapVersion::Soap11, FaultCode::Sender, "no such operation");
        assert!(f.contains("<faultcode>soap:Client</faultcode>"), "{f}");
        let f = soap_fault(SoapVersion::Soap12, FaultCode::Sender, "no such operation");
        assert!(
            f.contains("<env:Value>env:Sender</env:Value></env:Code>"),
            "{f}"
        );
    }

    #[test]
    fn every_token_error_maps_to_a_sender_fault_except_issue() {
        let e = TokenError::Expired {
            not_on_or_after: chrono::Utc::now(),
        };
        assert_eq!(e.fault_code(), FaultCode::MessageExpired);
        assert_eq!(
            TokenError::UntrustedSigner("x".into()).fault_code(),
            FaultCode::FailedAuthentication
        );
        assert!(!TokenError::Issue("x".into()).fault_code().is_sender());
    }
}
