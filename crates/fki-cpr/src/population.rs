//! The deterministic population generator behind `fki population generate`.
//!
//! People are made household by household: a household gets an address, one or two adults
//! (married, registered partners, cohabiting or single) and children born to them, with custody
//! (forældremyndighed) held by the parents who live with the child. Around them, people who died
//! or emigrated keep their last address. Every person gets a CPR number that fits their birth
//! date and sex (modulus 11 for everyone born before October 2007, and for most born after),
//! names from common Danish names, a civilstand consistent with their partner, sometimes
//! adressebeskyttelse, and a Digital Post registration (adults mostly tilmeldt, some fritaget).
//!
//! Companies get valid CVR numbers and one or more P-numbers at addresses in the municipality.
//!
//! Everything comes from one ChaCha8 stream seeded by `seed`, so the same parameters always give
//! the same population; `as_of` (the reference date for ages and statuses) is a parameter, not
//! the clock.

use std::collections::HashSet;

use chrono::{Datelike, Days, NaiveDate};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::nummer::{Cpr, Koen, cvr_med_kontrolciffer, syvende_cifre};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Parametre {
    /// Kommunekode, 4 digits (e.g. `0751`).
    pub kommunekode: String,
    pub personer: usize,
    /// Companies; by default one per 25 people.
    pub virksomheder: usize,
    pub seed: u64,
    /// The day the population is "as of": ages, statuses and dates are relative to it.
    pub as_of: NaiveDate,
}

impl Parametre {
    pub fn new(kommunekode: &str, personer: usize, seed: u64) -> Parametre {
        Parametre {
            kommunekode: kommunekode.to_owned(),
            personer,
            virksomheder: personer / 25,
            seed,
            as_of: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adresse {
    pub kommunekode: String,
    pub vejkode: u16,
    pub vejnavn: String,
    pub husnummer: String,
    pub etage: Option<String>,
    pub sidedoer: Option<String>,
    pub postnummer: u16,
    pub postdistrikt: String,
    /// When the person moved in.
    pub tilflytningsdato: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Bopæl i Danmark (CPR status 01).
    Aktiv,
    /// Død (90).
    Doed(NaiveDate),
    /// Udrejst (80).
    Udrejst(NaiveDate),
}

impl Status {
    /// CPR's status code.
    pub fn kode(&self) -> &'static str {
        match self {
            Status::Aktiv => "01",
            Status::Doed(_) => "90",
            Status::Udrejst(_) => "80",
        }
    }
}

/// Civilstand with CPR's letter codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Civilstand {
    /// U: ugift.
    Ugift,
    /// G: gift.
    Gift,
    /// F: fraskilt.
    Fraskilt,
    /// E: enke/enkemand.
    Enke,
    /// P: registreret partner.
    RegistreretPartner,
}

impl Civilstand {
    pub fn kode(self) -> char {
        match self {
            Civilstand::Ugift => 'U',
            Civilstand::Gift => 'G',
            Civilstand::Fraskilt => 'F',
            Civilstand::Enke => 'E',
            Civilstand::RegistreretPartner => 'P',
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DigitalPost {
    Tilmeldt,
    Fritaget,
    /// Children and people without NemID/MitID registration.
    IkkeTilmeldt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub cpr: Cpr,
    pub fornavne: String,
    pub mellemnavn: Option<String>,
    pub efternavn: String,
    pub koen: Koen,
    pub foedselsdato: NaiveDate,
    pub status: Status,
    pub civilstand: Civilstand,
    /// When the civilstand began (marriage, divorce …); `None` for ugift.
    pub civilstand_dato: Option<NaiveDate>,
    pub aegtefaelle: Option<Cpr>,
    pub mor: Option<Cpr>,
    /// Far or medmor (CPR's "far/medmor").
    pub far: Option<Cpr>,
    pub boern: Vec<Cpr>,
    /// For a child under 18: who holds custody.
    pub foraeldremyndighed: Vec<Cpr>,
    pub adresse: Adresse,
    pub adressebeskyttelse: bool,
    pub digital_post: DigitalPost,
    /// When the current name was taken; `None`: the name given at birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub navn_dato: Option<NaiveDate>,
    /// What the record held before, oldest first (SF1525); written by the CPR events
    /// (`crate::haendelse`), empty for a freshly generated person.
    #[serde(default, skip_serializing_if = "Historik::er_tom")]
    pub historik: Historik,
}

/// Earlier values of a person's record, each with the period it held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Historik {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adresser: Vec<TidligereAdresse>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub navne: Vec<TidligereNavn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub civilstande: Vec<TidligereCivilstand>,
}

impl Historik {
    pub fn er_tom(&self) -> bool {
        self.adresser.is_empty() && self.navne.is_empty() && self.civilstande.is_empty()
    }
}

/// An address moved away from (its `tilflytningsdato` is when the person moved in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TidligereAdresse {
    pub adresse: Adresse,
    pub fraflytningsdato: NaiveDate,
}

/// A name no longer borne.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TidligereNavn {
    pub fornavne: String,
    pub mellemnavn: Option<String>,
    pub efternavn: String,
    /// `None`: since birth.
    pub fra: Option<NaiveDate>,
    pub til: NaiveDate,
}

/// A civilstand that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TidligereCivilstand {
    pub civilstand: Civilstand,
    /// `None`: since birth (ugift).
    pub fra: Option<NaiveDate>,
    pub til: NaiveDate,
    pub aegtefaelle: Option<Cpr>,
}

impl Person {
    /// Age in whole years on `dato`.
    pub fn alder(&self, dato: NaiveDate) -> u32 {
        dato.years_since(self.foedselsdato).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virksomhed {
    pub cvr: String,
    pub navn: String,
    pub p_numre: Vec<String>,
    pub adresse: Adresse,
    /// Branchekode (DB07, 6 digits).
    pub branchekode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Population {
    pub kommunekode: String,
    pub as_of: NaiveDate,
    pub personer: Vec<Person>,
    pub virksomheder: Vec<Virksomhed>,
}

use fki_demo::navne::{
    EFTERNAVNE, FORNAVNE_KVINDER as FORNAVNE_K, FORNAVNE_MAEND as FORNAVNE_M, MELLEMNAVNE,
};
const VEJE: &[&str] = &[
    "Vestergade",
    "Østergade",
    "Nørregade",
    "Søndergade",
    "Skolevej",
    "Kirkevej",
    "Møllevej",
    "Stationsvej",
    "Parkvej",
    "Skovvej",
    "Engvej",
    "Bakkevej",
    "Ringvej",
    "Havnegade",
    "Åboulevarden",
    "Strandvejen",
    "Birkevej",
    "Egevej",
    "Bøgevej",
    "Lindevej",
    "Rosenvej",
    "Violvej",
    "Syrenvej",
    "Hasselvej",
    "Granvej",
    "Fyrrevej",
    "Ahornvej",
    "Kastanievej",
    "Industrivej",
    "Torvet",
    "Grønnegade",
    "Klostergade",
    "Frederiks Allé",
    "Jægergårdsgade",
];
const FIRMAORD: &[&str] = &[
    "Byg",
    "Tømrer",
    "VVS",
    "El",
    "Data",
    "Rengøring",
    "Revision",
    "Consult",
    "Handel",
    "Auto",
    "Maler",
    "Anlæg",
    "Transport",
    "Bageri",
    "Frisør",
    "Café",
    "Tandklinik",
    "Fysioterapi",
];
const FIRMAFORMER: &[&str] = &["ApS", "A/S", "I/S", "IVS", ""];
const BRANCHER: &[&str] = &[
    "412000", "432100", "432200", "620100", "812100", "692000", "702200", "471100", "452000",
    "433400", "494100", "107100", "960210", "561010", "862300", "869020",
];

/// Postnumre of a few municipalities; others get `kommunekode`-derived fictitious districts.
fn postnumre(kommunekode: &str) -> Vec<(u16, &'static str)> {
    match kommunekode {
        "0101" => vec![
            (1050, "København K"),
            (1550, "København V"),
            (2100, "København Ø"),
            (2200, "København N"),
            (2300, "København S"),
            (2400, "København NV"),
            (2450, "København SV"),
            (2500, "Valby"),
            (2700, "Brønshøj"),
            (2720, "Vanløse"),
        ],
        "0751" => vec![
            (8000, "Aarhus C"),
            (8200, "Aarhus N"),
            (8210, "Aarhus V"),
            (8220, "Brabrand"),
            (8230, "Åbyhøj"),
            (8240, "Risskov"),
            (8250, "Egå"),
            (8260, "Viby J"),
            (8270, "Højbjerg"),
            (8310, "Tranbjerg J"),
            (8320, "Mårslet"),
            (8361, "Hasselager"),
            (8381, "Tilst"),
            (8520, "Lystrup"),
            (8530, "Hjortshøj"),
        ],
        "0461" => vec![
            (5000, "Odense C"),
            (5200, "Odense V"),
            (5210, "Odense NV"),
            (5220, "Odense SØ"),
            (5230, "Odense M"),
            (5250, "Odense SV"),
            (5260, "Odense S"),
            (5270, "Odense N"),
        ],
        "0851" => vec![
            (9000, "Aalborg"),
            (9200, "Aalborg SV"),
            (9210, "Aalborg SØ"),
            (9220, "Aalborg Øst"),
            (9400, "Nørresundby"),
        ],
        _ => vec![
            (9990, "Fiktivby"),
            (9991, "Fiktivby Nord"),
            (9992, "Fiktivby Syd"),
        ],
    }
}

/// The generator's state; the CPR events (`crate::haendelse`) borrow its numbers, names and
/// addresses for births and moves.
pub(crate) struct Gen {
    pub(crate) rng: ChaCha8Rng,
    p: Parametre,
    brugte: HashSet<Cpr>,
    post: Vec<(u16, &'static str)>,
}

impl Gen {
    /// A generator for `kommunekode` as of `as_of`, its own stream from `seed`.
    pub(crate) fn ny(kommunekode: &str, seed: u64, as_of: NaiveDate) -> Gen {
        Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            p: Parametre {
                as_of,
                ..Parametre::new(kommunekode, 0, seed)
            },
            brugte: HashSet::new(),
            post: postnumre(kommunekode),
        }
    }

    pub(crate) fn dato_mellem(&mut self, fra: NaiveDate, til: NaiveDate) -> NaiveDate {
        let span = (til - fra).num_days().max(1);
        fra + Days::new(self.rng.random_range(0..span).unsigned_abs())
    }

    fn foedt(&mut self, min_alder: u32, max_alder: u32) -> NaiveDate {
        let y = self.p.as_of.year();
        let fra = NaiveDate::from_ymd_opt(y - max_alder as i32 - 1, self.p.as_of.month(), 1)
            .unwrap_or(self.p.as_of);
        let til = NaiveDate::from_ymd_opt(y - min_alder as i32, self.p.as_of.month(), 1)
            .unwrap_or(self.p.as_of);
        self.dato_mellem(fra, til)
    }

    /// A free CPR number for a birth date and sex.
    pub(crate) fn cpr(&mut self, dato: NaiveDate, koen: Koen) -> Cpr {
        let cifre = syvende_cifre(dato.year());
        // Since 1 October 2007 CPR may issue numbers without modulus 11; fki gives 2 % of
        // those born since then one.
        let mod11_undtaget = dato >= NaiveDate::from_ymd_opt(2007, 10, 1).unwrap_or(dato)
            && self.rng.random_bool(0.02);
        for _ in 0..10_000 {
            let Some(&syv) = cifre.choose(&mut self.rng) else {
                break;
            };
            let rest: u16 = self.rng.random_range(0..1000);
            let mut serial = u16::from(syv) * 1000 + rest;
            // Fix the sex digit.
            let odd = serial % 2 == 1;
            if odd != (koen == Koen::Mand) {
                serial = if serial % 10 == 9 {
                    serial - 1
                } else {
                    serial + 1
                };
            }
            let Some(c) = Cpr::new(dato, serial) else {
                continue;
            };
            if c.modulus11() == mod11_undtaget || self.brugte.contains(&c) {
                continue;
            }
            self.brugte.insert(c);
            return c;
        }
        // Practically unreachable at these sizes: every serial of a birth date is taken.
        // Take any free number of the next day instead.
        self.cpr(dato + Days::new(1), koen)
    }

    pub(crate) fn navn(&mut self, koen: Koen) -> (String, Option<String>) {
        let pool = match koen {
            Koen::Mand => FORNAVNE_M,
            Koen::Kvinde => FORNAVNE_K,
        };
        let mut fornavne = pool
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("Kim")
            .to_owned();
        if self.rng.random_bool(0.25) {
            fornavne.push(' ');
            fornavne.push_str(pool.choose(&mut self.rng).copied().unwrap_or("Kim"));
        }
        let mellem = self.rng.random_bool(0.15).then(|| {
            MELLEMNAVNE
                .choose(&mut self.rng)
                .copied()
                .unwrap_or("Holm")
                .to_owned()
        });
        (fornavne, mellem)
    }

    pub(crate) fn efternavn(&mut self) -> String {
        EFTERNAVNE
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("Jensen")
            .to_owned()
    }

    pub(crate) fn adresse(&mut self, tilflyttet: NaiveDate) -> Adresse {
        let vej_index = self.rng.random_range(0..VEJE.len());
        let (postnummer, postdistrikt) = *self
            .post
            .choose(&mut self.rng)
            .unwrap_or(&(9990, "Fiktivby"));
        let lejlighed = self.rng.random_bool(0.45);
        let mut husnummer = self.rng.random_range(1..=150u16).to_string();
        if self.rng.random_bool(0.08) {
            husnummer.push(*['A', 'B', 'C'].choose(&mut self.rng).unwrap_or(&'A'));
        }
        Adresse {
            kommunekode: self.p.kommunekode.clone(),
            // Vejkode: per street name and postnummer, stable within the municipality.
            vejkode: (vej_index as u16 + 1) * 10 + postnummer % 10,
            vejnavn: VEJE[vej_index].to_owned(),
            husnummer,
            etage: lejlighed.then(|| {
                ["st", "1", "2", "3", "4", "5"]
                    .choose(&mut self.rng)
                    .copied()
                    .unwrap_or("st")
                    .to_owned()
            }),
            sidedoer: lejlighed.then(|| {
                ["tv", "th", "mf"]
                    .choose(&mut self.rng)
                    .copied()
                    .unwrap_or("tv")
                    .to_owned()
            }),
            postnummer,
            postdistrikt: postdistrikt.to_owned(),
            tilflytningsdato: tilflyttet,
        }
    }

    pub(crate) fn person(
        &mut self,
        koen: Koen,
        foedt: NaiveDate,
        efternavn: String,
        adresse: Adresse,
    ) -> Person {
        let cpr = self.cpr(foedt, koen);
        let (fornavne, mellemnavn) = self.navn(koen);
        let voksen = self.p.as_of.years_since(foedt).unwrap_or(0) >= 15;
        let digital_post = if !voksen {
            DigitalPost::IkkeTilmeldt
        } else if self.rng.random_bool(0.06) {
            DigitalPost::Fritaget
        } else {
            DigitalPost::Tilmeldt
        };
        Person {
            cpr,
            fornavne,
            mellemnavn,
            efternavn,
            koen,
            foedselsdato: foedt,
            status: Status::Aktiv,
            civilstand: Civilstand::Ugift,
            civilstand_dato: None,
            aegtefaelle: None,
            mor: None,
            far: None,
            boern: Vec::new(),
            foraeldremyndighed: Vec::new(),
            adresse,
            adressebeskyttelse: self.rng.random_bool(0.015),
            digital_post,
            navn_dato: None,
            historik: Historik::default(),
        }
    }
}

/// Generate a population. `progress` is called with the number of people made so far.
pub fn generate(p: &Parametre, mut progress: impl FnMut(usize)) -> Population {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(p.seed),
        p: p.clone(),
        brugte: HashSet::with_capacity(p.personer * 2),
        post: postnumre(&p.kommunekode),
    };
    let mut personer: Vec<Person> = Vec::with_capacity(p.personer + 8);
    while personer.len() < p.personer {
        let before = personer.len();
        husstand(&mut g, &mut personer);
        if personer.len() / 1000 != before / 1000 {
            progress(personer.len().min(p.personer));
        }
    }
    // Never more than asked for: the last household may be cut short; ties to the people cut
    // off go with them (parents come before their children, so only lists of children and
    // spouses can point past the cut).
    if personer.len() > p.personer {
        personer.truncate(p.personer);
        let kendte: HashSet<Cpr> = personer.iter().map(|x| x.cpr).collect();
        for x in personer.iter_mut().rev().take(8) {
            x.boern.retain(|c| kendte.contains(c));
            x.aegtefaelle = x.aegtefaelle.filter(|c| kendte.contains(c));
            if x.aegtefaelle.is_none() && x.civilstand == Civilstand::Gift {
                x.civilstand = Civilstand::Ugift;
                x.civilstand_dato = None;
            }
        }
    }
    progress(personer.len());
    let mut cvr_brugt = HashSet::new();
    let virksomheder = (0..p.virksomheder)
        .map(|_| virksomhed(&mut g, &mut cvr_brugt))
        .collect();
    Population {
        kommunekode: p.kommunekode.clone(),
        as_of: p.as_of,
        personer,
        virksomheder,
    }
}

fn husstand(g: &mut Gen, out: &mut Vec<Person>) {
    let as_of = g.p.as_of;
    let kind: f64 = g.rng.random();
    let tilflyttet = g.foedt(0, 20);
    let adresse = g.adresse(tilflyttet);
    if kind < 0.38 {
        // One adult: ugift, fraskilt or enke.
        let koen = if g.rng.random_bool(0.5) {
            Koen::Mand
        } else {
            Koen::Kvinde
        };
        let foedt = g.foedt(18, 95);
        let efternavn = g.efternavn();
        let mut p = g.person(koen, foedt, efternavn, adresse.clone());
        let alder = p.alder(as_of);
        let r: f64 = g.rng.random();
        (p.civilstand, p.civilstand_dato) = if alder > 70 && r < 0.4 {
            (Civilstand::Enke, Some(g.foedt(0, 10)))
        } else if alder > 30 && r < 0.3 {
            (Civilstand::Fraskilt, Some(g.foedt(0, 15)))
        } else {
            (Civilstand::Ugift, None)
        };
        // Some of those living alone died or emigrated (kept with their last address).
        let s: f64 = g.rng.random();
        if s < 0.03 {
            p.status = Status::Doed(g.dato_mellem(as_of - Days::new(3 * 365), as_of));
            p.digital_post = DigitalPost::IkkeTilmeldt;
        } else if s < 0.05 {
            p.status = Status::Udrejst(g.dato_mellem(as_of - Days::new(5 * 365), as_of));
        }
        out.push(p);
        return;
    }
    // A couple, perhaps with children.
    let same_sex = g.rng.random_bool(0.02);
    let k1 = Koen::Kvinde;
    let k2 = if same_sex { Koen::Kvinde } else { Koen::Mand };
    let foedt1 = g.foedt(20, 85);
    let foedt2 = (foedt1 + Days::new(g.rng.random_range(0..2000)))
        .checked_sub_days(Days::new(1000))
        .unwrap_or(foedt1)
        .min(as_of - Days::new(18 * 366));
    let efternavn = g.efternavn();
    let gift = g.rng.random_bool(0.6);
    let fælles_navn = gift && g.rng.random_bool(0.7);
    let efternavn1 = if fælles_navn {
        efternavn.clone()
    } else {
        g.efternavn()
    };
    let mut a = g.person(k1, foedt1, efternavn1, adresse.clone());
    let mut b = g.person(k2, foedt2, efternavn.clone(), adresse.clone());
    if gift {
        let yngst = a.foedselsdato.max(b.foedselsdato);
        let tidligst = yngst + Days::new(18 * 366);
        let bryllup = g.dato_mellem(tidligst.min(as_of), as_of);
        let cs = if same_sex && g.rng.random_bool(0.3) {
            Civilstand::RegistreretPartner
        } else {
            Civilstand::Gift
        };
        for x in [&mut a, &mut b] {
            x.civilstand = cs;
            x.civilstand_dato = Some(bryllup);
        }
        a.aegtefaelle = Some(b.cpr);
        b.aegtefaelle = Some(a.cpr);
    }
    // Children: born when the younger parent was 20-45 and before as_of.
    let mor_foedt = a.foedselsdato;
    let first = mor_foedt + Days::new(20 * 365);
    let last = (mor_foedt + Days::new(45 * 365)).min(as_of - Days::new(1));
    let mut boern = Vec::new();
    if first < last {
        let n = [0, 1, 2, 2, 3, 3, 4]
            .choose(&mut g.rng)
            .copied()
            .unwrap_or(0);
        for _ in 0..n {
            let foedt = g.dato_mellem(first, last);
            let alder = as_of.years_since(foedt).unwrap_or(0);
            // Grown-up children have moved out: they are not part of this household.
            if alder >= 18 {
                continue;
            }
            let koen = if g.rng.random_bool(0.5) {
                Koen::Mand
            } else {
                Koen::Kvinde
            };
            let mut c = g.person(koen, foedt, efternavn.clone(), adresse.clone());
            c.adresse.tilflytningsdato = foedt.max(adresse.tilflytningsdato);
            c.mor = Some(a.cpr);
            // CPR's second parent relation is "far/medmor".
            c.far = Some(b.cpr);
            c.foraeldremyndighed = vec![a.cpr, b.cpr];
            // A protected parent protects the household.
            c.adressebeskyttelse = a.adressebeskyttelse || b.adressebeskyttelse;
            boern.push(c);
        }
    }
    a.boern = boern.iter().map(|c| c.cpr).collect();
    b.boern = a.boern.clone();
    out.push(a);
    out.push(b);
    out.extend(boern);
}

/// A company; `brugt` holds the CVR and P-numbers given out so far (both unique).
fn virksomhed(g: &mut Gen, brugt: &mut HashSet<String>) -> Virksomhed {
    let cvr = loop {
        let stem = g.rng.random_range(1_000_000..=9_999_999u32);
        if let Some(c) = cvr_med_kontrolciffer(stem)
            && brugt.insert(c.clone())
        {
            break c;
        }
    };
    let ord = FIRMAORD.choose(&mut g.rng).copied().unwrap_or("Handel");
    let form = FIRMAFORMER.choose(&mut g.rng).copied().unwrap_or("ApS");
    let ejer = g.efternavn();
    let navn = format!("{ejer}s {ord} {form}").trim().to_owned();
    let n_p = if g.rng.random_bool(0.1) { 2 } else { 1 };
    let p_numre = (0..n_p)
        .map(|_| {
            loop {
                let p = format!("1{:09}", g.rng.random_range(0..1_000_000_000u32));
                if brugt.insert(p.clone()) {
                    break p;
                }
            }
        })
        .collect();
    let etableret = g.foedt(0, 40);
    Virksomhed {
        cvr,
        navn,
        p_numre,
        adresse: g.adresse(etableret),
        branchekode: BRANCHER
            .choose(&mut g.rng)
            .copied()
            .unwrap_or("702200")
            .to_owned(),
    }
}
