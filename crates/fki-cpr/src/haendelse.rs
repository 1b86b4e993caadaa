//! CPR events (SF1320_A): the day-by-day changes `fki population simulate` plays on the
//! register (moves, births, deaths, marriages, divorces, name changes, emigration), how a
//! change is applied (keeping the earlier values as history, for SF1525), and the log that
//! makes them durable.
//!
//! **Planning** ([`planlaeg_dag`]) is read-only: it looks at the register as it is before the
//! day and picks, from one ChaCha8 stream seeded by (seed, day), how many of each change
//! happen (yearly rates per person, [`RATER`]) and to whom. Nobody takes part in two changes
//! of one day, so the day's changes are independent and each can be applied on its own
//! ([`Register::anvend`]). Given the same register, day and seed the plan is the same.
//!
//! **Families move together**: a mover takes along a spouse living at the same address and the
//! children under 18 living there in their custody; each gets its own `Flytning`. A death
//! makes the spouse `Enkestand`; a marriage and a divorce are one change for each of the two.
//!
//! **The log** ([`Logbog`]) is JSON Lines next to the population files
//! (`<data-dir>/cpr/haendelser/log.jsonl`): a day's changes (`{"haendelse": …}`), then the line
//! that closes the day (`{"dag": "YYYY-MM-DD", "antal": n}`), and, once the day's events are in
//! the Beskedfordeler, `{"publiceret": "YYYY-MM-DD"}`. Replaying the closed days over the
//! generated population gives the register back; the events of a day that was not closed (a
//! crash while writing) were never applied nor published, and are ignored.

use std::collections::HashSet;
use std::io::{BufRead, Write};

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::nummer::{Cpr, Koen};
use crate::population::{
    Adresse, Civilstand, DigitalPost, Gen, Person, Status, TidligereAdresse, TidligereCivilstand,
    TidligereNavn,
};
use crate::register::Register;

/// The kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Art {
    Foedsel,
    Flytning,
    Doedsfald,
    Aegteskab,
    Skilsmisse,
    Enkestand,
    Navneaendring,
    Udrejse,
}

/// Namespace of the ObjektHandling UUIDs fki defines (UUIDv5 of the kind's name).
const NAVNERUM_HANDLING: Uuid = Uuid::from_u128(0x3c0f_9d51_4a7e_4b0c_8e22_51d6_a9b3_77e1);
/// Namespace of the changes' ids.
const NAVNERUM_HAENDELSE: Uuid = Uuid::from_u128(0x9a41_07c2_e35b_4f18_b6d0_2f8c_14e9_5a63);

/// "Fødsel" in KOMBIT's classification of actions on the business object Person, as KOMBIT's
/// example event uses it (`../shared/specs/sf1460-beskedfordeler/example_messages/externTestBesked.xml`).
pub const HANDLING_FOEDSEL: Uuid = Uuid::from_u128(0x1e5b_b089_5445_44f8_9b65_bc85_4053_f423);

impl Art {
    pub const ALLE: [Art; 8] = [
        Art::Foedsel,
        Art::Flytning,
        Art::Doedsfald,
        Art::Aegteskab,
        Art::Skilsmisse,
        Art::Enkestand,
        Art::Navneaendring,
        Art::Udrejse,
    ];

    pub fn navn(self) -> &'static str {
        match self {
            Art::Foedsel => "foedsel",
            Art::Flytning => "flytning",
            Art::Doedsfald => "doedsfald",
            Art::Aegteskab => "aegteskab",
            Art::Skilsmisse => "skilsmisse",
            Art::Enkestand => "enkestand",
            Art::Navneaendring => "navneaendring",
            Art::Udrejse => "udrejse",
        }
    }

    /// The event's ObjektHandling: KOMBIT's UUID for a birth; for the other kinds, which have
    /// no public UUID, fki's (a UUIDv5 of the name, listed in docs/cpr.md).
    pub fn objekthandling(self) -> Uuid {
        match self {
            Art::Foedsel => HANDLING_FOEDSEL,
            a => Uuid::new_v5(&NAVNERUM_HANDLING, a.navn().as_bytes()),
        }
    }

    /// The event's OpgaveEmne (a KLE number; fki's choice, docs/cpr.md).
    pub fn opgaveemne(self) -> &'static str {
        match self {
            Art::Flytning | Art::Udrejse => "urn:oio:kle:16.01.00",
            Art::Foedsel | Art::Doedsfald => "urn:oio:kle:16.02.00",
            Art::Aegteskab | Art::Skilsmisse | Art::Enkestand => "urn:oio:kle:16.03.00",
            Art::Navneaendring => "urn:oio:kle:16.04.00",
        }
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "art", rename_all = "snake_case")]
pub enum Aendring {
    /// The person was born (the whole record).
    Foedsel {
        barn: Box<Person>,
    },
    /// Moved to `adresse` (its `tilflytningsdato` is the day).
    Flytning {
        adresse: Adresse,
    },
    Doedsfald,
    Aegteskab {
        aegtefaelle: Cpr,
    },
    Skilsmisse,
    /// The spouse died.
    Enkestand,
    Navneaendring {
        fornavne: String,
        mellemnavn: Option<String>,
        efternavn: String,
    },
    Udrejse,
}

impl Aendring {
    pub fn art(&self) -> Art {
        match self {
            Aendring::Foedsel { .. } => Art::Foedsel,
            Aendring::Flytning { .. } => Art::Flytning,
            Aendring::Doedsfald => Art::Doedsfald,
            Aendring::Aegteskab { .. } => Art::Aegteskab,
            Aendring::Skilsmisse => Art::Skilsmisse,
            Aendring::Enkestand => Art::Enkestand,
            Aendring::Navneaendring { .. } => Art::Navneaendring,
            Aendring::Udrejse => Art::Udrejse,
        }
    }
}

/// One change of one person's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CprHaendelse {
    /// Stable: the same plan gives the same ids (the events' BeskedIds).
    pub id: Uuid,
    pub dato: NaiveDate,
    pub cpr: Cpr,
    /// The others it concerns: a newborn's parents, the spouse of one who married, divorced
    /// or died, the deceased spouse of a widow(er).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relaterede: Vec<Cpr>,
    pub aendring: Aendring,
}

/// Yearly rates per person (roughly Denmark's): how many changes of a kind a day brings is
/// `people × rate / 365` (the fraction decided by chance). Couples' changes count once.
pub const RATER: [(Art, f64); 7] = [
    (Art::Flytning, 0.07),
    (Art::Foedsel, 0.0105),
    (Art::Doedsfald, 0.0098),
    (Art::Aegteskab, 0.0028),
    (Art::Skilsmisse, 0.0013),
    (Art::Navneaendring, 0.003),
    (Art::Udrejse, 0.008),
];

/// Picks tried per wanted change before the day gives it up (nobody suitable found).
const FORSOEG: usize = 60;

fn aktiv(p: &Person) -> bool {
    p.status == Status::Aktiv
}

fn samme_bolig(a: &Adresse, b: &Adresse) -> bool {
    a.kommunekode == b.kommunekode
        && a.vejkode == b.vejkode
        && a.husnummer == b.husnummer
        && a.etage == b.etage
        && a.sidedoer == b.sidedoer
}

fn gift(p: &Person) -> bool {
    matches!(
        p.civilstand,
        Civilstand::Gift | Civilstand::RegistreretPartner
    )
}

/// The day's plan (see the module docs).
struct Plan<'r> {
    reg: &'r Register,
    dag: NaiveDate,
    seed: u64,
    rng: ChaCha8Rng,
    brugt: HashSet<Cpr>,
    ud: Vec<CprHaendelse>,
}

impl<'r> Plan<'r> {
    fn tilfoej(&mut self, cpr: Cpr, relaterede: Vec<Cpr>, aendring: Aendring) {
        let id = Uuid::new_v5(
            &NAVNERUM_HAENDELSE,
            format!(
                "{}/{}/{}/{}",
                self.seed,
                self.dag,
                cpr.as_digits(),
                aendring.art().navn()
            )
            .as_bytes(),
        );
        self.brugt.insert(cpr);
        self.ud.push(CprHaendelse {
            id,
            dato: self.dag,
            cpr,
            relaterede,
            aendring,
        });
    }

    /// A person not yet part of today's plan that `ok` accepts, picked at random.
    fn vaelg(&mut self, ok: impl Fn(&Person, &mut ChaCha8Rng) -> bool) -> Option<&'r Person> {
        let orden = self.reg.orden();
        if orden.is_empty() {
            return None;
        }
        for _ in 0..FORSOEG {
            let c = orden[self.rng.random_range(0..orden.len())];
            if self.brugt.contains(&c) {
                continue;
            }
            if let Some(p) = self.reg.person(&c)
                && ok(p, &mut self.rng)
            {
                return Some(p);
            }
        }
        None
    }

    fn fri(&self, c: &Cpr) -> Option<&'r Person> {
        if self.brugt.contains(c) {
            return None;
        }
        self.reg.person(c).filter(|p| aktiv(p))
    }

    fn generator(&mut self, kommunekode: &str) -> Gen {
        Gen::ny(kommunekode, self.rng.random(), self.dag)
    }

    fn flytning(&mut self) {
        let dag = self.dag;
        let Some(p) = self.vaelg(|p, _| aktiv(p) && p.alder(dag) >= 18) else {
            return;
        };
        let mut husstand = vec![p.cpr];
        if gift(p)
            && let Some(x) = p.aegtefaelle.and_then(|c| self.fri(&c))
            && samme_bolig(&x.adresse, &p.adresse)
        {
            husstand.push(x.cpr);
        }
        for b in &p.boern {
            if let Some(barn) = self.fri(b)
                && barn.alder(dag) < 18
                && barn.foraeldremyndighed.contains(&p.cpr)
                && samme_bolig(&barn.adresse, &p.adresse)
            {
                husstand.push(barn.cpr);
            }
        }
        let adresse = self.generator(&p.adresse.kommunekode).adresse(dag);
        for c in husstand {
            self.tilfoej(
                c,
                Vec::new(),
                Aendring::Flytning {
                    adresse: adresse.clone(),
                },
            );
        }
    }

    fn foedsel(&mut self) {
        let dag = self.dag;
        let Some(mor) = self
            .vaelg(|p, _| aktiv(p) && p.koen == Koen::Kvinde && (20..=44).contains(&p.alder(dag)))
        else {
            return;
        };
        let far = mor
            .aegtefaelle
            .filter(|_| gift(mor))
            .and_then(|c| self.fri(&c))
            .map(|p| p.cpr);
        let mut g = self.generator(&mor.adresse.kommunekode);
        let koen = if g.rng.random_bool(0.5) {
            Koen::Mand
        } else {
            Koen::Kvinde
        };
        let mut cpr = g.cpr(dag, koen);
        // A number the register already holds (someone born the same day) is not reused.
        for _ in 0..100 {
            if self.reg.person(&cpr).is_none() && !self.brugt.contains(&cpr) {
                break;
            }
            cpr = g.cpr(dag, koen);
        }
        if self.reg.person(&cpr).is_some() || self.brugt.contains(&cpr) {
            return;
        }
        let adresse = Adresse {
            tilflytningsdato: dag,
            ..mor.adresse.clone()
        };
        let mut barn = g.person(koen, dag, mor.efternavn.clone(), adresse);
        barn.cpr = cpr;
        barn.mor = Some(mor.cpr);
        barn.far = far;
        barn.foraeldremyndighed = std::iter::once(mor.cpr).chain(far).collect();
        barn.adressebeskyttelse = mor.adressebeskyttelse;
        barn.digital_post = DigitalPost::IkkeTilmeldt;
        let foraeldre: Vec<Cpr> = std::iter::once(mor.cpr).chain(far).collect();
        self.brugt.extend(foraeldre.iter().copied());
        self.tilfoej(
            cpr,
            foraeldre,
            Aendring::Foedsel {
                barn: Box::new(barn),
            },
        );
    }

    fn doedsfald(&mut self) {
        let dag = self.dag;
        // Mostly the old: younger people are accepted one time in twenty.
        let Some(p) =
            self.vaelg(|p, rng| aktiv(p) && (p.alder(dag) >= 65 || rng.random_bool(0.05)))
        else {
            return;
        };
        let aegtefaelle = p
            .aegtefaelle
            .filter(|_| gift(p))
            .and_then(|c| self.fri(&c))
            .map(|x| x.cpr);
        self.tilfoej(
            p.cpr,
            aegtefaelle.into_iter().collect(),
            Aendring::Doedsfald,
        );
        if let Some(x) = aegtefaelle {
            self.tilfoej(x, vec![p.cpr], Aendring::Enkestand);
        }
    }

    fn aegteskab(&mut self) {
        let dag = self.dag;
        let kan = |p: &Person| {
            aktiv(p)
                && p.alder(dag) >= 18
                && matches!(
                    p.civilstand,
                    Civilstand::Ugift | Civilstand::Fraskilt | Civilstand::Enke
                )
        };
        let Some(a) = self.vaelg(|p, _| kan(p)) else {
            return;
        };
        let samme_koen = self.rng.random_bool(0.02);
        let Some(b) = self.vaelg(|p, _| {
            kan(p)
                && p.cpr != a.cpr
                && (p.koen == a.koen) == samme_koen
                && (p.foedselsdato - a.foedselsdato).num_days().abs() < 15 * 365
        }) else {
            return;
        };
        self.tilfoej(
            a.cpr,
            vec![b.cpr],
            Aendring::Aegteskab { aegtefaelle: b.cpr },
        );
        self.tilfoej(
            b.cpr,
            vec![a.cpr],
            Aendring::Aegteskab { aegtefaelle: a.cpr },
        );
    }

    fn skilsmisse(&mut self) {
        let Some(a) = self.vaelg(|p, _| aktiv(p) && gift(p) && p.aegtefaelle.is_some()) else {
            return;
        };
        let Some(b) = a.aegtefaelle.and_then(|c| self.fri(&c)) else {
            return;
        };
        self.tilfoej(a.cpr, vec![b.cpr], Aendring::Skilsmisse);
        self.tilfoej(b.cpr, vec![a.cpr], Aendring::Skilsmisse);
    }

    fn navneaendring(&mut self) {
        let dag = self.dag;
        let Some(p) = self.vaelg(|p, _| aktiv(p) && p.alder(dag) >= 18) else {
            return;
        };
        let mut g = self.generator(&p.adresse.kommunekode);
        let efternavn = (0..10)
            .map(|_| g.efternavn())
            .find(|e| *e != p.efternavn)
            .unwrap_or_else(|| format!("{}-Holm", p.efternavn));
        self.tilfoej(
            p.cpr,
            Vec::new(),
            Aendring::Navneaendring {
                fornavne: p.fornavne.clone(),
                mellemnavn: p.mellemnavn.clone(),
                efternavn,
            },
        );
    }

    fn udrejse(&mut self) {
        let dag = self.dag;
        if let Some(p) = self.vaelg(|p, _| aktiv(p) && p.alder(dag) >= 18) {
            self.tilfoej(p.cpr, Vec::new(), Aendring::Udrejse);
        }
    }
}

/// The changes of `dag` for `reg`, from `seed` (see the module docs). Apply each with
/// [`Register::anvend`].
pub fn planlaeg_dag(reg: &Register, dag: NaiveDate, seed: u64) -> Vec<CprHaendelse> {
    let dagseed =
        seed ^ (i64::from(dag.num_days_from_ce()) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut plan = Plan {
        reg,
        dag,
        seed,
        rng: ChaCha8Rng::seed_from_u64(dagseed),
        brugt: HashSet::new(),
        ud: Vec::new(),
    };
    let n = reg.orden().len() as f64;
    for (art, rate) in RATER {
        let forventet = n * rate / 365.0;
        let mut antal = forventet.floor() as usize;
        if plan.rng.random_bool(forventet.fract().clamp(0.0, 1.0)) {
            antal += 1;
        }
        for _ in 0..antal {
            match art {
                Art::Flytning => plan.flytning(),
                Art::Foedsel => plan.foedsel(),
                Art::Doedsfald => plan.doedsfald(),
                Art::Aegteskab => plan.aegteskab(),
                Art::Skilsmisse => plan.skilsmisse(),
                Art::Navneaendring => plan.navneaendring(),
                Art::Udrejse => plan.udrejse(),
                Art::Enkestand => {}
            }
        }
    }
    plan.ud
}

impl Register {
    /// Apply one change, keeping what it replaces as history. A change that does not fit the
    /// register (an unknown person, a birth of a number already there) is refused unchanged.
    pub fn anvend(&mut self, h: &CprHaendelse) -> Result<(), String> {
        let dato = h.dato;
        if let Aendring::Foedsel { barn } = &h.aendring {
            if barn.cpr != h.cpr {
                return Err(format!("birth of {}: the record is of {}", h.cpr, barn.cpr));
            }
            if self.person(&h.cpr).is_some() {
                return Err(format!("birth of {}: the number is taken", h.cpr));
            }
            self.indsaet((**barn).clone());
            for f in barn.mor.iter().chain(barn.far.iter()) {
                if let Some(p) = self.person_mut(f)
                    && !p.boern.contains(&h.cpr)
                {
                    p.boern.push(h.cpr);
                }
            }
            return Ok(());
        }
        let p = self
            .person_mut(&h.cpr)
            .ok_or_else(|| format!("{} of {}: no such person", h.aendring.art().navn(), h.cpr))?;
        let civilstand = |p: &mut Person, ny: Civilstand, aegtefaelle: Option<Cpr>| {
            p.historik.civilstande.push(TidligereCivilstand {
                civilstand: p.civilstand,
                fra: p.civilstand_dato,
                til: dato,
                aegtefaelle: p.aegtefaelle,
            });
            p.civilstand = ny;
            p.civilstand_dato = Some(dato);
            p.aegtefaelle = aegtefaelle;
        };
        match &h.aendring {
            Aendring::Foedsel { .. } => {}
            Aendring::Flytning { adresse } => {
                let gammel = std::mem::replace(&mut p.adresse, adresse.clone());
                p.historik.adresser.push(TidligereAdresse {
                    adresse: gammel,
                    fraflytningsdato: dato,
                });
            }
            Aendring::Doedsfald => {
                p.status = Status::Doed(dato);
                p.digital_post = DigitalPost::IkkeTilmeldt;
            }
            Aendring::Udrejse => p.status = Status::Udrejst(dato),
            Aendring::Aegteskab { aegtefaelle } => {
                civilstand(p, Civilstand::Gift, Some(*aegtefaelle))
            }
            Aendring::Skilsmisse => civilstand(p, Civilstand::Fraskilt, None),
            Aendring::Enkestand => civilstand(p, Civilstand::Enke, None),
            Aendring::Navneaendring {
                fornavne,
                mellemnavn,
                efternavn,
            } => {
                p.historik.navne.push(TidligereNavn {
                    fornavne: std::mem::replace(&mut p.fornavne, fornavne.clone()),
                    mellemnavn: std::mem::replace(&mut p.mellemnavn, mellemnavn.clone()),
                    efternavn: std::mem::replace(&mut p.efternavn, efternavn.clone()),
                    fra: p.navn_dato,
                    til: dato,
                });
                p.navn_dato = Some(dato);
            }
        }
        Ok(())
    }
}

/// One closed day of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    pub dag: NaiveDate,
    pub haendelser: Vec<CprHaendelse>,
    /// Whether its events reached the Beskedfordeler.
    pub publiceret: bool,
}

/// The read log (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logbog {
    pub dage: Vec<Dag>,
    /// Events after the last closed day, ignored.
    pub ufuldstaendige: usize,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLinje {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    haendelse: Option<CprHaendelse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dag: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    antal: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    publiceret: Option<NaiveDate>,
}

impl Logbog {
    /// Read a log; a malformed line is an error naming it.
    pub fn laes(r: impl BufRead) -> Result<Logbog, String> {
        let mut log = Logbog::default();
        let mut aaben: Vec<CprHaendelse> = Vec::new();
        for (i, linje) in r.lines().enumerate() {
            let fejl = |e: &dyn std::fmt::Display| format!("line {}: {e}", i + 1);
            let linje = linje.map_err(|e| fejl(&e))?;
            if linje.trim().is_empty() {
                continue;
            }
            let l: LogLinje = serde_json::from_str(&linje).map_err(|e| fejl(&e))?;
            match l {
                LogLinje {
                    haendelse: Some(h),
                    dag: None,
                    antal: None,
                    publiceret: None,
                } => aaben.push(h),
                LogLinje {
                    haendelse: None,
                    dag: Some(dag),
                    antal: Some(antal),
                    publiceret: None,
                } => {
                    if antal != aaben.len() {
                        return Err(fejl(&format!(
                            "day {dag} closes {antal} events, the log holds {}",
                            aaben.len()
                        )));
                    }
                    if log.dage.last().is_some_and(|d| d.dag >= dag) {
                        return Err(fejl(&format!("day {dag} is not after the day before it")));
                    }
                    log.dage.push(Dag {
                        dag,
                        haendelser: std::mem::take(&mut aaben),
                        publiceret: false,
                    });
                }
                LogLinje {
                    haendelse: None,
                    dag: None,
                    antal: None,
                    publiceret: Some(dag),
                } => {
                    if let Some(d) = log.dage.iter_mut().rev().find(|d| d.dag == dag) {
                        d.publiceret = true;
                    } else {
                        return Err(fejl(&format!("day {dag} published but not in the log")));
                    }
                }
                _ => return Err(fejl(&"expected one of haendelse, dag+antal, publiceret")),
            }
        }
        log.ufuldstaendige = aaben.len();
        Ok(log)
    }

    /// The last closed day.
    pub fn sidste_dag(&self) -> Option<NaiveDate> {
        self.dage.last().map(|d| d.dag)
    }

    /// Write a day's events and the line that closes it (one buffer, one write).
    pub fn skriv_dag(
        w: &mut impl Write,
        dag: NaiveDate,
        haendelser: &[CprHaendelse],
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for h in haendelser {
            serde_json::to_writer(
                &mut buf,
                &LogLinje {
                    haendelse: Some(h.clone()),
                    dag: None,
                    antal: None,
                    publiceret: None,
                },
            )?;
            buf.push(b'\n');
        }
        serde_json::to_writer(
            &mut buf,
            &LogLinje {
                haendelse: None,
                dag: Some(dag),
                antal: Some(haendelser.len()),
                publiceret: None,
            },
        )?;
        buf.push(b'\n');
        w.write_all(&buf)
    }

    /// Record that a day's events are in the Beskedfordeler.
    pub fn skriv_publiceret(w: &mut impl Write, dag: NaiveDate) -> std::io::Result<()> {
        let mut buf = serde_json::to_vec(&LogLinje {
            haendelse: None,
            dag: None,
            antal: None,
            publiceret: Some(dag),
        })?;
        buf.push(b'\n');
        w.write_all(&buf)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::population::{Parametre, generate};

    fn register(n: usize, seed: u64) -> Register {
        let mut r = Register::new();
        r.tilfoej(generate(&Parametre::new("0751", n, seed), |_| {}));
        r
    }

    fn dag(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Play `dage` days from 2026-01-01; every event of the run.
    fn spil(reg: &mut Register, dage: u64, seed: u64) -> Vec<CprHaendelse> {
        let mut alle = Vec::new();
        for i in 0..dage {
            let d = dag("2026-01-01") + chrono::Days::new(i);
            let plan = planlaeg_dag(reg, d, seed);
            let mut set = HashSet::new();
            for h in &plan {
                assert!(set.insert(h.cpr), "{} twice on {d}", h.cpr);
                assert_eq!(h.dato, d);
                reg.anvend(h).unwrap();
            }
            alle.extend(plan);
        }
        alle
    }

    #[test]
    fn the_same_register_day_and_seed_give_the_same_plan() {
        let reg = register(3000, 5);
        let d = dag("2026-03-01");
        assert_eq!(planlaeg_dag(&reg, d, 1), planlaeg_dag(&reg, d, 1));
        assert_ne!(planlaeg_dag(&reg, d, 1), planlaeg_dag(&reg, d, 2));
        let mut a = register(3000, 5);
        let mut b = register(3000, 5);
        assert_eq!(spil(&mut a, 30, 9), spil(&mut b, 30, 9));
    }

    #[test]
    fn a_year_brings_every_kind_and_keeps_the_records_consistent() {
        let mut reg = register(6000, 11);
        let foer = reg.antal_personer();
        let alle = spil(&mut reg, 365, 3);
        let mut antal: HashMap<Art, usize> = HashMap::new();
        for h in &alle {
            *antal.entry(h.aendring.art()).or_default() += 1;
        }
        for a in Art::ALLE {
            assert!(
                antal.get(&a).copied().unwrap_or(0) > 0,
                "no {a:?} in a year: {antal:?}"
            );
        }
        // about 7 % move each year (with their families), about 1 % are born
        let flytninger = antal[&Art::Flytning];
        assert!((300..1200).contains(&flytninger), "{flytninger} moves");
        let foedsler = antal[&Art::Foedsel];
        assert!((25..120).contains(&foedsler), "{foedsler} births");
        assert_eq!(reg.antal_personer(), foer + foedsler);
        // ids are unique
        let ids: HashSet<Uuid> = alle.iter().map(|h| h.id).collect();
        assert_eq!(ids.len(), alle.len());
        for h in &alle {
            let p = reg.person(&h.cpr).unwrap();
            match &h.aendring {
                Aendring::Foedsel { barn } => {
                    assert_eq!(p.foedselsdato, h.dato);
                    assert_eq!(h.cpr.foedselsdato(), Some(h.dato));
                    let mor = reg.person(&barn.mor.unwrap()).unwrap();
                    assert!(mor.boern.contains(&h.cpr));
                    assert_eq!(h.relaterede[0], mor.cpr);
                }
                Aendring::Flytning { .. } => {
                    assert!(
                        p.historik
                            .adresser
                            .iter()
                            .any(|a| a.fraflytningsdato == h.dato)
                    );
                }
                Aendring::Doedsfald => assert!(matches!(p.status, Status::Doed(_))),
                Aendring::Udrejse => assert!(matches!(p.status, Status::Udrejst(_))),
                Aendring::Navneaendring { .. } => {
                    assert!(p.historik.navne.iter().any(|n| n.til == h.dato));
                }
                Aendring::Aegteskab { aegtefaelle } => {
                    assert!(p.historik.civilstande.iter().any(|c| c.til == h.dato));
                    // the other side married the same day
                    assert!(alle.iter().any(|o| o.cpr == *aegtefaelle
                        && o.aendring == Aendring::Aegteskab { aegtefaelle: h.cpr }));
                }
                Aendring::Skilsmisse | Aendring::Enkestand => {
                    assert!(p.historik.civilstande.iter().any(|c| c.til == h.dato));
                }
            }
        }
        // the register at the end: spouses point at each other while both are alive
        for c in reg.orden() {
            let p = reg.person(c).unwrap();
            if aktiv(p)
                && gift(p)
                && let Some(x) = p.aegtefaelle.and_then(|a| reg.person(&a))
                && aktiv(x)
            {
                assert_eq!(x.aegtefaelle, Some(p.cpr), "{} and {}", p.cpr, x.cpr);
            }
            // history is in time order
            for w in p.historik.adresser.windows(2) {
                assert!(w[0].fraflytningsdato <= w[1].fraflytningsdato);
            }
        }
    }

    #[test]
    fn a_change_that_does_not_fit_is_refused() {
        let mut reg = register(200, 1);
        let c = reg.orden()[0];
        let ukendt = Cpr::parse("0101011234").unwrap();
        let h = CprHaendelse {
            id: Uuid::nil(),
            dato: dag("2026-01-02"),
            cpr: ukendt,
            relaterede: vec![],
            aendring: Aendring::Doedsfald,
        };
        assert!(reg.anvend(&h).unwrap_err().contains("no such person"));
        let barn = reg.person(&c).unwrap().clone();
        let h = CprHaendelse {
            cpr: c,
            aendring: Aendring::Foedsel {
                barn: Box::new(barn),
            },
            ..h
        };
        assert!(reg.anvend(&h).unwrap_err().contains("taken"));
    }

    #[test]
    fn the_log_reads_back_its_closed_days_only() {
        let mut reg = register(3000, 2);
        let d1 = dag("2026-01-01");
        let p1 = planlaeg_dag(&reg, d1, 1);
        for h in &p1 {
            reg.anvend(h).unwrap();
        }
        let d2 = dag("2026-01-02");
        let p2 = planlaeg_dag(&reg, d2, 1);
        let mut buf = Vec::new();
        Logbog::skriv_dag(&mut buf, d1, &p1).unwrap();
        Logbog::skriv_publiceret(&mut buf, d1).unwrap();
        Logbog::skriv_dag(&mut buf, d2, &p2).unwrap();
        let log = Logbog::laes(&buf[..]).unwrap();
        assert_eq!(log.dage.len(), 2);
        assert_eq!(log.dage[0].haendelser, p1);
        assert!(log.dage[0].publiceret && !log.dage[1].publiceret);
        assert_eq!(log.sidste_dag(), Some(d2));
        // a day cut short by a crash is not there
        let mut kort = buf.clone();
        Logbog::skriv_dag(&mut kort, dag("2026-01-03"), &p2).unwrap();
        let sidste = kort[..kort.len() - 1]
            .iter()
            .rposition(|b| *b == b'\n')
            .unwrap();
        kort.truncate(sidste + 1);
        let log = Logbog::laes(&kort[..]).unwrap();
        assert_eq!((log.dage.len(), log.ufuldstaendige), (2, p2.len()));
        // a count that does not fit, or garbage, is an error naming the line
        let falsk = String::from_utf8(buf.clone())
            .unwrap()
            .replace(&format!("\"antal\":{}", p1.len()), "\"antal\":999");
        assert!(Logbog::laes(falsk.as_bytes()).unwrap_err().contains("999"));
        assert!(
            Logbog::laes(&b"{\"x\":1}\n"[..])
                .unwrap_err()
                .starts_with("line 1")
        );
    }
}
