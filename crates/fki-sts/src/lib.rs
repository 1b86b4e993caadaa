//! # fki-sts: the cryptographic and wire core of the Security Token Service (SF1514)
//!
//! A pure library: no HTTP, no database. The server wires it to storage (agreements,
//! certificates) and endpoints.
//!
//! Map of the crate:
//! - [`xml`]: safe parsing (no DTD, size and node limits) and namespace-aware lookup;
//! - [`ca`]: the local CA (root, STS signing certificate, function and server certificates,
//!   PKCS#12), certificate facts and chain checks;
//! - [`bpp`]: OIO-BPP privilege lists (the `Privileges_intermediate` attribute);
//! - [`saml`]: issuing and verifying the SAML 2.0 holder-of-key assertion;
//! - [`wstrust`]: the WS-Trust 1.3 Issue request (verify and read, or build as a client) and the
//!   RSTR response;
//! - [`wssec`]: WS-Security for the SOAP services: verifying a service request that carries an
//!   assertion, signing one as a client, replay protection, SOAP faults.
//!
//! The wire contract is in `../shared/specs/sf1514-sts/`: `SAMLTokenSoapTemplate.xml` (the
//! Issue request), `signed-request-with-issued-assertion.example.xml` (an issued assertion inside
//! a signed service request), `sts.wsdl` and `sts-kosdy-sample.wsdl` (the binding and its
//! security policy).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod bpp;
pub mod ca;
pub(crate) mod dsig;
pub mod fault;
pub mod saml;
pub mod time;
pub mod wssec;
pub mod wstrust;
pub mod xml;
