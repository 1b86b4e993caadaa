//! # fki-oio: the generic bitemporal OIO engine
//!
//! One engine serves every OIO object type (Organisation, Klassifikation, Sag, Dokument …) from a
//! declarative description of each type ([`spec`]). An object is a chain of *registreringer* in
//! transaction time; every attribute, state and relation value inside a registrering carries a
//! *virkning* (valid-time period). The engine implements LoRa's eight operations (opret, importer,
//! ret, passiver, slet, laes, list, soeg) over a [`store::Store`], independent of transport: the
//! LoRa REST API and the SOAP services are thin adapters over [`engine::Engine`].
//!
//! Map of the crate:
//! - [`spec`]: the table of object types;
//! - [`time`]: instants and timestamp literals;
//! - [`model`]: registrering, virkning and the values they hold;
//! - [`json`]: the LoRa JSON wire form (parse with precise errors, render);
//! - [`merge`]: the bitemporal merge rules of `ret` and `importer`;
//! - [`query`]: LoRa's query parameters turned into time windows and search criteria;
//! - [`fakta`]: the flat search facts stored beside each registrering;
//! - [`store`]: the storage port implemented by `fki-store`;
//! - [`engine`]: the operations, each one transaction;
//! - [`describe`]: `/fields` structures and JSON Schemas derived from the table;
//! - [`error`]: the one domain error type, with stable codes.

pub mod describe;
pub mod engine;
pub mod error;
pub mod fakta;
pub mod json;
pub mod merge;
pub mod model;
pub mod query;
pub mod spec;
pub mod store;
pub mod time;

pub use engine::{Aendringslytter, Bulk, Engine, Haendelse, Handling, Kontekst, Skriv, Udfald};
pub use error::{OioError, OioResult};
