//! # fki-demo: a fictitious Danish municipality as OIO demo data
//!
//! Deterministic generator of the data a Danish municipality keeps in the common municipal
//! infrastructure, as LoRa JSON **write bodies** (the body of `PUT /{service}/{class}/{uuid}`,
//! contract §2.1). Everything is fictitious: "Fiktiv Kommune", its units and its staff are made up
//! from name parts; no real person, address or register entry is described.
//!
//! What [`municipality`] produces, in dependency order (every relation points at an object that
//! comes earlier; load the objects in order and every reference resolves):
//!
//! 1. **Fælleskommunale klassifikationer** (`faelles: true`, the same UUIDs and content for every
//!    seed): the `klassifikation` *KLE-Emneplan* with the facet *Emne* — a KLE-shaped tree of 16
//!    hovedgrupper (`00` Kommunens styrelse … `32` Kontante ydelser), grupper (`27.35`) and emner
//!    (`27.35.04`) linked by `overordnetklasse`, each gruppe with its `dd.dd.00 … i almindelighed`
//!    emne — and the facet *Handling* (handlingsfacetter `G01`, `A53` …); the `klassifikation`
//!    *FORM* with facet *FORM* (opgavenøgler `1`, `1.1`, `1.1.1`). A few emner are udgået: their
//!    periods end in the past and `publiceret` turns `IkkePubliceret`.
//! 2. **The organisation**: v6 `adresse` (town hall), `virksomhed` (CVR [`DEMO_CVR`]) and
//!    `myndighed` (myndighedskode 0999, which no real municipality has), then the `organisation`
//!    *Fiktiv Kommune* pointing at them, all valid from the 1970 municipal reform (1970-04-01).
//! 3. **Local classification** (`faelles: false`): a local `klassifikation` owned by the
//!    organisation with the facets *Enhedstype*, *Funktionstype*, *Stillingsbetegnelse* and
//!    *Lederniveau* and their klasser.
//! 4. **Organisationenheder**, level by level: the top unit, six forvaltninger, 33 afdelinger
//!    (Skoleafdelingen, Hjemmeplejen, Jobcenter …), then institutions and teams (schools,
//!    daginstitutioner, plejecentre, jobcenter teams …) shared out by realistic weights, and for
//!    larger sizes sub-units below them (Indskoling, Udskoling …). Every unit has `tilhoerer`,
//!    `overordnet` (the top unit's points at the organisation) and `enhedstype`. Most exist from
//!    2007-01-01 (the municipal reform); some opened later, a few were renamed (two egenskaber
//!    periods) and a few leaf units closed (periods end, `gyldighed` turns `Inaktiv`).
//! 5. **IT systems** (Active Directory, Fiktivt ESDH, Fiktivt Økonomisystem, two payroll systems,
//!    one of them retired in 2020 …), `tilhoerer` the organisation.
//! 6. **Brugere**, each followed by its **engagement** (`organisationfunktion` "Engagement" linking
//!    user, unit, organisation, funktionstype and stillingsbetegnelse in `opgaver`) and, for the
//!    managers of the top unit, forvaltninger and afdelinger, a **leder** function ("Leder", with
//!    lederniveau in `opgaver`). Users have an e-mail address (`urn:mailto:`) and IT accounts.
//!    History: engagements start on many different dates, about 4 % ended in the past, about 8 %
//!    moved to another unit, about 6 % of users changed surname.
//!
//! Determinism: every object is a pure function of the seed and its position. UUIDs are version 5
//! UUIDs in [`NAMESPACE`] from stable names (`faelles/klasse/Emne/27.35.04`,
//! `lokal/{seed}/enhed/17`), and each unit and user draws from its own ChaCha8 stream. The same
//! seed gives byte-identical output; another seed gives other names and dates with the same counts.
//!
//! [`scaled`] streams the same shape at any size, holding only the level table and the few hundred
//! units of the top four levels in memory: 100,000 units and 100,000 users (about 300,000 objects,
//! 260 MB of JSON) take about four seconds of CPU in a release build, most of it spent allocating
//! `serde_json` values (`cargo test -p fki-demo --release -- --ignored --nocapture` measures it).

mod data;
mod dato;
mod generator;

/// Danish names, shared by every generator of people (the demo municipality's users here, the
/// synthetic CPR population in `fki-cpr`), so both draw from the same pool.
pub mod navne {
    pub use crate::data::{EFTERNAVNE, FORNAVNE_KVINDER, FORNAVNE_MAEND, MELLEMNAVNE};
}

use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

/// One object to write: `PUT /{service}/{klasse}/{uuid}` with `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoObjekt {
    /// First REST path segment (`organisation`, `klassifikation`).
    pub service: &'static str,
    /// Second REST path segment (`organisationenhed`, `klasse` …).
    pub klasse: &'static str,
    pub uuid: Uuid,
    /// Fælleskommunal data (KLE, FORM): shared by all municipalities, the same for every seed.
    pub faelles: bool,
    /// The LoRa JSON write body: `attributter`, `tilstande` and, where there are any, `relationer`.
    pub body: Value,
}

/// The CVR number of the fictitious municipality (on its `virksomhed` and `myndighed`).
///
/// Chosen to pass the CVR modulus-11 check ([`cvr_gyldigt`]: weights 2,7,6,5,4,3,2,1; the weighted
/// digit sum 1·2 + 2·7 + 3·6 + 4·5 + 5·4 + 6·3 + 7·2 + 4·1 = 110 is divisible by 11) while being
/// obviously made up, so it is not mistaken for a real municipality's CVR number. It has not been
/// checked against the CVR register; should a real entity hold it, that is a coincidence.
pub const DEMO_CVR: &str = "12345674";

/// The namespace of every UUID this crate derives (UUID v5).
pub const NAMESPACE: Uuid = Uuid::from_u128(0xe1f706f4_34a4_4e98_a87b_2e8cb2b2391e);

/// Whether `cvr` is eight digits passing the CVR modulus-11 check (weights 2,7,6,5,4,3,2,1).
pub fn cvr_gyldigt(cvr: &str) -> bool {
    const VAEGTE: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];
    cvr.len() == 8
        && cvr.bytes().all(|b| b.is_ascii_digit())
        && cvr
            .bytes()
            .zip(VAEGTE)
            .map(|(b, v)| u32::from(b - b'0') * v)
            .sum::<u32>()
            % 11
            == 0
}

/// Size and seed of the demo municipality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    pub seed: u64,
    /// Number of organisationenheder (default 320).
    pub enheder: usize,
    /// Number of brugere (default 2,100); each has one engagement.
    pub brugere: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seed: 1,
            enheder: 320,
            brugere: 2100,
        }
    }
}

/// The demo municipality, in dependency order (parents before children).
pub fn municipality(cfg: &DemoConfig) -> Vec<DemoObjekt> {
    scaled(cfg.seed, cfg.enheder, cfg.brugere).collect()
}

/// The same shape as [`municipality`] at any size, streamed: `enheder` organisationenheder and
/// `brugere` brugere (with their functions), produced one at a time.
///
/// Sizes below the template (1 + 6 forvaltninger + 33 afdelinger) are cut from the end of the
/// template; above it, institutions and then sub-units fill up further levels.
///
/// ```
/// let enheder = fki_demo::scaled(1, 1000, 10).filter(|o| o.klasse == "organisationenhed");
/// assert_eq!(enheder.count(), 1000);
/// ```
pub fn scaled(
    seed: u64,
    enheder: usize,
    brugere: usize,
) -> impl Iterator<Item = DemoObjekt> + Send {
    let plan = Arc::new(generator::Plan::new(seed, enheder, brugere));
    let faste = plan.faste_objekter();
    let itsystemer = plan.itsystemer();
    let (p1, p2) = (Arc::clone(&plan), Arc::clone(&plan));
    faste
        .into_iter()
        .chain((0..plan.n_enheder).map(move |i| p1.enhed_objekt(i)))
        .chain(itsystemer)
        .chain((0..plan.n_brugere).flat_map(move |i| p2.bruger_objekter(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_cvr_passes_modulus_11() {
        assert!(cvr_gyldigt(DEMO_CVR));
        assert!(!cvr_gyldigt("12345675"));
        assert!(!cvr_gyldigt("1234567"));
        assert!(!cvr_gyldigt("1234567a"));
    }

    #[test]
    fn ascii_keys() {
        assert_eq!(
            generator::ascii("Social- og sundhedsassistent"),
            "social-og-sundhedsassistent"
        );
        assert_eq!(generator::ascii("Kommunaldirektør"), "kommunaldirektoer");
        assert_eq!(generator::ascii("Lærer på Åen"), "laerer-paa-aaen");
    }
}
