//! The indexes of the fælleskommunale infrastructure on fki's OIO engine: Sags- og
//! dokumentindeks (SF1470 v6) and Ydelsesindeks (SF1490 v6).
//!
//! Wire contract: `../shared/specs/sf1470-sagdokumentindeks/` (`wsdl/SagDokumentIndeksService_6.wsdl`,
//! messages in `wsdl/xsd/6.0.STS-0/`) and `../shared/specs/sf1490-ydelsesindeks/` (`wsdl/`,
//! `xsd/6.0.STS-0/`). This crate is pure (no I/O):
//! - [`klasser`]: the index types as engine classes (outside the REST API's table);
//! - [`sagdok`]: the index types on the wire as data, reading and writing registreringer;
//! - [`ydelse`]: SF1490's Bevilling and OekonomiskEffektuering, and what they need beyond
//!   SF1470's shapes (the BevilgetYdelse, relations without virkning, search intervals);
//! - [`operation`]: a request's operation element into an [`operation::Operation`] (SF1490:
//!   [`operation::YdelseOperation`]);
//! - [`soeg`]: evaluating a fremsoeg's AND/OR/NOT expression over its searches' hits;
//! - [`regler`]: the index rules (reference checks, required relations, ownership), shared by
//!   the write path and the validation mode;
//! - [`svar`]: the answers.
//!
//! The server (`fki_server::sagdokumentindeks`, `fki_server::ydelsesindeks`) adds WS-Security, the store lookups, the engine calls,
//! the change events and the validation endpoint.

pub mod klasser;
pub mod operation;
pub mod regler;
pub mod sagdok;
pub mod soeg;
pub mod svar;
pub mod ydelse;
