//! Organisation (SF1500 v6) and Klassifikation (SF1510) as KOMBIT serves them over SOAP: the
//! thirteen object services `Adresse` … `Virksomhed`, `Facet`, `Klasse`, `Klassifikation`, each
//! with the operations opret, importer, ret, passiver, slet, laes, list and soeg.
//!
//! Wire contract: `../shared/specs/sf1500-organisation/v6/` (WSDLs in `wsdl/`, messages in
//! `xsd/6.0.STS-0/` and `xsd/common/`). This crate is pure (no I/O): [`typer`] declares the
//! types as data, [`forespoergsel`] reads a request's operation element into an
//! [`forespoergsel::Operation`] for the OIO engine, and [`svar`] writes the answer. The server
//! (`fki_server::organisation`) adds WS-Security, the routes and the engine calls.
//!
//! There is one truth: a SOAP write is translated to the engine's LoRa JSON and validated by the
//! same code as a REST write, and both APIs read the same registreringer.

pub mod forespoergsel;
pub mod kaede;
pub mod svar;
pub mod system;
pub mod typer;
pub mod wsdl;

use fki_oio::OioError;

/// The `sd:StatusKode` of an answer.
///
/// fki's use of the codes: 20 success; 40 the request is malformed or breaks a rule (the text
/// names the element or field); 44 the object does not exist, is not visible to the caller's
/// myndighed, or has been deleted; 50 fki failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKode {
    Ok,
    UgyldigInput,
    IkkeFundet,
    Fejl,
}

impl StatusKode {
    pub fn kode(self) -> u16 {
        match self {
            StatusKode::Ok => 20,
            StatusKode::UgyldigInput => 40,
            StatusKode::IkkeFundet => 44,
            StatusKode::Fejl => 50,
        }
    }
}

/// A refused or failed operation: its StatusKode and FejlbeskedTekst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fejl {
    pub kode: StatusKode,
    pub tekst: String,
}

impl Fejl {
    pub fn new(kode: StatusKode, tekst: impl Into<String>) -> Fejl {
        Fejl {
            kode,
            tekst: tekst.into(),
        }
    }
}

impl From<&OioError> for Fejl {
    fn from(e: &OioError) -> Fejl {
        let kode = match e {
            OioError::NotFound { .. } | OioError::Gone { .. } => StatusKode::IkkeFundet,
            OioError::Store(_) => StatusKode::Fejl,
            _ => StatusKode::UgyldigInput,
        };
        let tekst = match e {
            // Never show storage internals.
            OioError::Store(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        Fejl { kode, tekst }
    }
}
