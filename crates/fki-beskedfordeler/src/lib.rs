//! # fki-beskedfordeler: the event backbone's message model and filters (SF1460/SF1461/SF1462)
//!
//! A library without I/O; the server stores, distributes and delivers.
//!
//! - [`kuvert`]: the `Haendelsesbesked` of `Beskedkuvert.xsd` (namespace
//!   `urn:oio:besked:kuvert:1.0`, with `urn:oio:sagdok:3.0.0`): a strict parser that names what
//!   is wrong, and a writer in the shape KOMBIT's own (JAXB) services emit;
//! - [`retur`]: `StandardRetur` (StatusKode, FejlbeskedTekst) and the codes the Beskedfordeler
//!   answers with;
//! - [`gemt`]: a stored message handed on with the Beskedfordeler's hop spliced in, without
//!   parsing it again;
//! - [`filter`]: the subscription filter language over `Filtreringsdata` (text and JSON forms,
//!   one AST, one evaluator).
//!
//! The wire contract is `../shared/specs/sf1460-beskedfordeler/` (`xsd/Beskedkuvert.xsd`,
//! `xsd/BeskedfordelerOperationer.xsd`, `xsd/AnvendersystemOperationer.xsd`,
//! `wsdl/Beskedfordeler.wsdl`, `example_messages/`).

pub mod filter;
pub mod gemt;
pub mod kuvert;
pub mod retur;
