//! The services fki mounts that implement KOMBIT interfaces, as data: each with the SF numbers
//! it implements, a path that answers, and the function that builds its routes. [`crate::app`]
//! mounts exactly these, so this table is what the server exposes; `fki krav` reads it to say
//! which interfaces of an integration package fki implements, and `tests/tjenester.rs` asks
//! each path of a running server.

use axum::Router;

use crate::{
    AppState, beskedfordeler, cpr, cvr, organisation, sagdokumentindeks, sts, ydelsesindeks,
};

/// One mounted service.
pub struct Tjeneste {
    pub navn: &'static str,
    /// The SF numbers of the interfaces it implements (SKI 02.19's names).
    pub sf: &'static [&'static str],
    /// A request that reaches it: method and path.
    pub proeve: (&'static str, &'static str),
    pub routes: fn() -> Router<AppState>,
}

pub static TJENESTER: &[Tjeneste] = &[
    Tjeneste {
        navn: "Adgangsstyring: STS (SAML over WS-Trust and REST, access tokens)",
        sf: &["SF1514"],
        proeve: ("POST", "/runtime/services/kombittrust/14/certificatemixed"),
        routes: sts::routes,
    },
    Tjeneste {
        navn: "Beskedfordeler: afsend, dueslag, push and pull, Værdilister",
        sf: &["SF1461", "SF1462"],
        proeve: ("POST", "/beskedfordeler/afsend"),
        routes: beskedfordeler::routes,
    },
    Tjeneste {
        navn: "Organisation and Klassifikation over SOAP, with the hierarchy services",
        sf: &["SF1500", "SF1510"],
        proeve: ("POST", "/organisation/organisationenhed/6/"),
        routes: organisation::routes,
    },
    Tjeneste {
        navn: "OrganisationHent (GraphQL)",
        sf: &["SF1500"],
        proeve: ("POST", "/organisation/graphql"),
        routes: organisation::graphql::routes,
    },
    Tjeneste {
        navn: "CPR PersonBaseDataExtended v4 (PersonLookup) and the CPR Query service",
        sf: &["SF1520"],
        proeve: ("POST", "/service/CPR/PersonBaseDataExtended/4"),
        routes: cpr::routes,
    },
    Tjeneste {
        navn: "CVR Online v2 (legal and production units: get, search, related names and addresses)",
        sf: &["SF1530"],
        proeve: ("POST", "/service/CVR/Online/2"),
        routes: cvr::routes,
    },
    Tjeneste {
        navn: "CPR Persondata Samling Hent (REST/JSON): data areas with history",
        sf: &["SF1525"],
        // a malformed number: 400 (or 401 without a token), never 404
        proeve: ("GET", "/cpr/personer/ugyldigt/samling"),
        routes: cpr::samling::routes,
    },
    Tjeneste {
        navn: "Sags- og dokumentindeks v6 (importer, opdater, fremsoeg, fjern; SagIndeks and DokumentIndeks passiver, slet, kasser) with the index rules and their validation",
        sf: &["SF1470"],
        proeve: ("POST", "/sagdokumentindeks/6/"),
        routes: sagdokumentindeks::routes,
    },
    Tjeneste {
        navn: "Indeks overview (REST/JSON): a citizen's or company's sager and documents, as registered now or at T",
        sf: &["SF1470"],
        // a malformed number: 400 (or 401 without a token), never 404
        proeve: ("GET", "/indeks/overblik/ugyldig"),
        routes: sagdokumentindeks::overblik::routes,
    },
    Tjeneste {
        navn: "Ydelsesindeks v6 (YdelseIndeks importer, opdater, fremsoeg; BevillingIndeks and OekonomiskEffektueringIndeks fjern) with the index rules and their validation",
        sf: &["SF1490"],
        proeve: ("POST", "/ydelsesindeks/6/"),
        routes: ydelsesindeks::routes,
    },
    Tjeneste {
        navn: "CPR-hændelser: the register's changes as events in the Beskedfordeler (simulated)",
        sf: &["SF1320_A"],
        proeve: ("POST", "/admin/cpr/simuler"),
        routes: cpr::haendelser::routes,
    },
];

/// The SF numbers fki implements, sorted, each once.
pub fn implementerede() -> Vec<&'static str> {
    let mut v: Vec<&str> = TJENESTER
        .iter()
        .flat_map(|t| t.sf.iter().copied())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The services implementing `sf`.
pub fn for_sf(sf: &str) -> Vec<&'static Tjeneste> {
    TJENESTER.iter().filter(|t| t.sf.contains(&sf)).collect()
}
