//! Who receives a message: the in-memory picture of every active dueslag, its abonnementer
//! (parsed filters), the Værdilister they use, and which receiving systems hold an active
//! `bfo_modtag` agreement for which myndighed.
//!
//! A message sent in the context of myndighed M (the sender's token CVR) goes to a dueslag when
//! **all** of these hold:
//!
//! 1. the dueslag is active and receives for M;
//! 2. its owner holds an active serviceaftale for `bfo_modtag/2` and M (unless `--dev-open`);
//! 3. `TilladtModtager`, if the message names any, names the dueslag's owner (its system UUID)
//!    or M's CVR (`urn:oio:cvr-nr:M`);
//! 4. at least one of its active abonnementer's filters matches the `Filtreringsdata`.
//!
//! A dueslag gets a message at most once, however many of its abonnementer match.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fki_beskedfordeler::filter::{Filter, Vaerdilister};
use fki_beskedfordeler::kuvert::{Filtreringsdata, UnikId};
use uuid::Uuid;

/// One active dueslag with its active filters.
#[derive(Debug, Clone)]
pub struct Modtager {
    pub dueslag: Uuid,
    pub ejer: Uuid,
    pub myndighed: String,
    pub filtre: Vec<Filter>,
}

/// Values of the Værdilister in use, lower-cased, with the version they were read at.
#[derive(Debug, Clone, Default)]
pub struct Lister {
    pub lister: HashMap<Uuid, (i64, Arc<HashSet<String>>)>,
}

impl Vaerdilister for Lister {
    fn indeholder(&self, liste: &Uuid, vaerdi: &str) -> bool {
        self.lister
            .get(liste)
            .is_some_and(|(_, s)| s.contains(vaerdi))
    }
}

/// Everything distribution decides from, as of one moment.
#[derive(Debug, Default)]
pub struct Fordeling {
    /// `BeskedStore::abonnement_version` this was built from.
    pub abonnement_version: i64,
    /// Active dueslag by myndighed, their filters indexed.
    pub modtagere: Modtagerkort,
    pub lister: Lister,
    /// (system, myndighed) pairs with an active `bfo_modtag` agreement; `None`: not checked
    /// (`--dev-open`).
    pub modtag_aftaler: Option<HashMap<Uuid, HashSet<String>>>,
}

/// The active dueslag by myndighed, with their filters indexed by the Beskedtype they require
/// ([`Filter::kraevede_beskedtyper`]): a message is tested against the filters of its own
/// Beskedtype and the unrestricted ones only. Built once, never changed (so the index cannot
/// go stale); cheap to share between pictures.
#[derive(Debug, Default, Clone)]
pub struct Modtagerkort(Arc<HashMap<String, Myndighedens>>);

#[derive(Debug, Default)]
struct Myndighedens {
    modtagere: Vec<Modtager>,
    /// (modtager, filter) indices of the filters that pass only messages of some Beskedtyper,
    /// under each of those Beskedtyper ([`UnikId::vaerdi`]).
    efter_type: HashMap<String, Vec<(u32, u32)>>,
    /// (modtager, filter) indices of the other filters.
    oevrige: Vec<(u32, u32)>,
}

impl Modtagerkort {
    /// `modtagere` (active dueslag by myndighed) with their filters indexed.
    pub fn ny(modtagere: HashMap<String, Vec<Modtager>>) -> Self {
        Modtagerkort(Arc::new(
            modtagere
                .into_iter()
                .map(|(cvr, ms)| (cvr, Myndighedens::ny(ms)))
                .collect(),
        ))
    }

    /// Every active dueslag with its filters.
    pub fn alle(&self) -> impl Iterator<Item = &Modtager> {
        self.0.values().flat_map(|m| m.modtagere.iter())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Myndighedens {
    fn ny(modtagere: Vec<Modtager>) -> Self {
        let mut efter_type: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut oevrige = Vec::new();
        for (mi, m) in modtagere.iter().enumerate() {
            for (fi, f) in m.filtre.iter().enumerate() {
                let par = (mi as u32, fi as u32);
                match f.kraevede_beskedtyper() {
                    Some(typer) => {
                        for t in typer {
                            efter_type.entry(t.to_owned()).or_default().push(par);
                        }
                    }
                    None => oevrige.push(par),
                }
            }
        }
        Myndighedens {
            modtagere,
            efter_type,
            oevrige,
        }
    }
}

impl Fordeling {
    /// The dueslag that receive a message with `data` sent for `myndighed`, in a stable order
    /// (dueslag UUID).
    pub fn modtagere(&self, myndighed: &str, data: &Filtreringsdata) -> Vec<Uuid> {
        let Some(m) = self.modtagere.0.get(myndighed) else {
            return Vec::new();
        };
        // Per message and candidate: no allocation but the state below.
        let er_cvr = |t: &UnikId| matches!(t, UnikId::Urn(u) if u.strip_prefix("urn:oio:cvr-nr:") == Some(myndighed));
        let maa_modtage = |mo: &Modtager| {
            self.modtag_aftaler
                .as_ref()
                .is_none_or(|a| a.get(&mo.ejer).is_some_and(|c| c.contains(&mo.myndighed)))
                && (data.tilladt_modtager.is_empty()
                    || data
                        .tilladt_modtager
                        .iter()
                        .any(|t| *t == UnikId::Uuid(mo.ejer) || er_cvr(t)))
        };
        const UPROEVET: u8 = 0;
        const MAA: u8 = 1;
        const VALGT: u8 = 2;
        const NEJ: u8 = 3;
        let mut tilstand = vec![UPROEVET; m.modtagere.len()];
        let mut ud = Vec::new();
        let egne = data
            .beskedtype
            .as_ref()
            .and_then(|t| t.med_vaerdi(|v| m.efter_type.get(v)));
        for &(mi, fi) in egne.into_iter().flatten().chain(&m.oevrige) {
            let mi = mi as usize;
            let mo = &m.modtagere[mi];
            if tilstand[mi] == UPROEVET {
                tilstand[mi] = if maa_modtage(mo) { MAA } else { NEJ };
            }
            if tilstand[mi] == MAA && mo.filtre[fi as usize].matcher(data, &self.lister) {
                tilstand[mi] = VALGT;
                ud.push(mo.dueslag);
            }
        }
        ud.sort();
        ud.dedup();
        ud
    }

    /// The dueslag of every myndighed that receive a message with `data`, each myndighed's
    /// dueslag chosen as [`Fordeling::modtagere`] does (agreement, TilladtModtager, filter): for
    /// fki's events about fælleskommunale objects, which every myndighed may read.
    pub fn modtagere_alle(&self, data: &Filtreringsdata) -> Vec<Uuid> {
        let mut ud: Vec<Uuid> = self
            .modtagere
            .0
            .keys()
            .flat_map(|m| self.modtagere(m, data))
            .collect();
        ud.sort();
        ud.dedup();
        ud
    }

    /// The Værdilister the filters refer to.
    pub fn brugte_lister(filtre: &[&Filter]) -> HashSet<Uuid> {
        fn walk(f: &Filter, ud: &mut HashSet<Uuid>) {
            match f {
                Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| walk(f, ud)),
                Filter::Not(f) | Filter::Nogen(_, f) => walk(f, ud),
                Filter::Betingelse(_, fki_beskedfordeler::filter::Op::IVaerdiliste(l)) => {
                    ud.insert(*l);
                }
                Filter::Betingelse(..) => {}
            }
        }
        let mut ud = HashSet::new();
        for f in filtre {
            walk(f, &mut ud);
        }
        ud
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(beskedtype: &str, tilladt: &[UnikId]) -> Filtreringsdata {
        Filtreringsdata {
            beskedtype: Some(UnikId::Uuid(beskedtype.parse().unwrap())),
            tilladt_modtager: tilladt.to_vec(),
            ..Default::default()
        }
    }

    const TYPE_A: &str = "7654895c-a3f3-4c77-8afd-4c77330f963c";
    const TYPE_B: &str = "11111111-a3f3-4c77-8afd-4c77330f963c";

    fn modtager(n: u128, ejer: u128, myndighed: &str, filtre: &[&str]) -> Modtager {
        Modtager {
            dueslag: Uuid::from_u128(n),
            ejer: Uuid::from_u128(ejer),
            myndighed: myndighed.into(),
            filtre: filtre.iter().map(|f| Filter::parse(f).unwrap()).collect(),
        }
    }

    fn fordeling(ms: Vec<Modtager>, aftaler: Option<&[(u128, &str)]>) -> Fordeling {
        let mut modtagere: HashMap<String, Vec<Modtager>> = HashMap::new();
        for m in ms {
            modtagere.entry(m.myndighed.clone()).or_default().push(m);
        }
        let aftaler = aftaler.map(|a| {
            let mut m: HashMap<Uuid, HashSet<String>> = HashMap::new();
            for (s, cvr) in a {
                m.entry(Uuid::from_u128(*s))
                    .or_default()
                    .insert((*cvr).to_owned());
            }
            m
        });
        Fordeling {
            modtagere: Modtagerkort::ny(modtagere),
            modtag_aftaler: aftaler,
            ..Default::default()
        }
    }

    /// Without the index: every filter of every permitted dueslag.
    fn alle_proevet(f: &Fordeling, myndighed: &str, d: &Filtreringsdata) -> Vec<Uuid> {
        let mut ud: Vec<Uuid> = f
            .modtagere
            .alle()
            .filter(|m| m.myndighed == myndighed)
            .filter(|m| {
                f.modtag_aftaler
                    .as_ref()
                    .is_none_or(|a| a.get(&m.ejer).is_some_and(|c| c.contains(&m.myndighed)))
            })
            .filter(|m| m.filtre.iter().any(|x| x.matcher(d, &f.lister)))
            .map(|m| m.dueslag)
            .collect();
        ud.sort();
        ud.dedup();
        ud
    }

    #[test]
    fn the_beskedtype_index_selects_what_trying_every_filter_selects() {
        let a = format!("\"{TYPE_A}\"");
        let b = format!("\"{TYPE_B}\"");
        let kle = r#"objektregistrering.opgaveemne ^= "urn:oio:kle:27""#;
        let filtre = [
            format!("beskedtype = {a}"),
            format!("beskedtype = {b}"),
            format!("beskedtype IN [{a}, {b}]"),
            format!("beskedtype = {a} OR beskedtype = {b}"),
            format!("beskedtype = {a} AND {kle}"),
            format!("beskedtype = {a} OR {kle}"),
            format!("NOT beskedtype = {a}"),
            kle.to_owned(),
            "TRUE".to_owned(),
            format!("beskedtype = {a} AND beskedtype = {b}"),
        ];
        // Every pair of filters on a dueslag, and some dueslag without an agreement.
        let mut ms = Vec::new();
        let mut aftaler = Vec::new();
        for (i, x) in filtre.iter().enumerate() {
            for (j, y) in filtre.iter().enumerate().skip(i) {
                let n = (i * 100 + j) as u128 + 1;
                ms.push(modtager(n, n + 10_000, "11111111", &[x, y]));
                if !n.is_multiple_of(7) {
                    aftaler.push((n + 10_000, "11111111"));
                }
            }
        }
        let f = fordeling(ms, Some(&aftaler));
        let med_kle = |t: Option<&str>| Filtreringsdata {
            beskedtype: t.map(|t| UnikId::Uuid(t.parse().unwrap())),
            objekt_registrering: vec![fki_beskedfordeler::kuvert::ObjektRegistrering {
                opgave_emne: Some(UnikId::urn("urn:oio:kle:27.35.04").unwrap()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let c = "33333333-a3f3-4c77-8afd-4c77330f963c";
        let mut proevet = 0;
        for d in [
            data(TYPE_A, &[]),
            data(TYPE_B, &[]),
            data(c, &[]),
            Filtreringsdata::default(),
            med_kle(Some(TYPE_A)),
            med_kle(Some(TYPE_B)),
            med_kle(None),
        ] {
            let valgt = f.modtagere("11111111", &d);
            assert_eq!(valgt, alle_proevet(&f, "11111111", &d), "{d:?}");
            proevet += valgt.len();
        }
        // The cases select something (else the comparison proves little).
        assert!(proevet > 100, "{proevet}");
    }

    #[test]
    fn filter_myndighed_agreement_and_tilladt_modtager_all_decide() {
        let f = fordeling(
            vec![
                modtager(1, 100, "11111111", &[&format!("beskedtype = \"{TYPE_A}\"")]),
                modtager(2, 200, "11111111", &["TRUE"]),
                modtager(3, 300, "22222222", &["TRUE"]),
                // no agreement for its owner
                modtager(4, 400, "11111111", &["TRUE"]),
                // two filters that both match: one delivery
                modtager(5, 100, "11111111", &["TRUE", "TRUE"]),
            ],
            Some(&[(100, "11111111"), (200, "11111111"), (300, "22222222")]),
        );
        let u = Uuid::from_u128;
        assert_eq!(
            f.modtagere("11111111", &data(TYPE_A, &[])),
            vec![u(1), u(2), u(5)]
        );
        assert_eq!(
            f.modtagere("11111111", &data(TYPE_B, &[])),
            vec![u(2), u(5)]
        );
        assert_eq!(f.modtagere("22222222", &data(TYPE_B, &[])), vec![u(3)]);
        assert!(f.modtagere("33333333", &data(TYPE_A, &[])).is_empty());
        // TilladtModtager by system UUID
        assert_eq!(
            f.modtagere("11111111", &data(TYPE_A, &[UnikId::Uuid(u(200))])),
            vec![u(2)]
        );
        // by the myndighed's CVR: every receiver of that myndighed
        let cvr = UnikId::urn("urn:oio:cvr-nr:11111111").unwrap();
        assert_eq!(
            f.modtagere("11111111", &data(TYPE_A, &[cvr])),
            vec![u(1), u(2), u(5)]
        );
        // another CVR: nobody here
        let other = UnikId::urn("urn:oio:cvr-nr:99999999").unwrap();
        assert!(f.modtagere("11111111", &data(TYPE_A, &[other])).is_empty());
    }

    #[test]
    fn every_myndighed_for_faelles_objects() {
        let f = fordeling(
            vec![
                modtager(1, 100, "11111111", &["TRUE"]),
                modtager(2, 200, "22222222", &["TRUE"]),
                modtager(3, 300, "22222222", &[&format!("beskedtype = \"{TYPE_B}\"")]),
                // no agreement for 33333333
                modtager(4, 400, "33333333", &["TRUE"]),
            ],
            Some(&[(100, "11111111"), (200, "22222222"), (300, "22222222")]),
        );
        let u = Uuid::from_u128;
        assert_eq!(f.modtagere_alle(&data(TYPE_A, &[])), vec![u(1), u(2)]);
        assert_eq!(f.modtagere_alle(&data(TYPE_B, &[])), vec![u(1), u(2), u(3)]);
    }

    #[test]
    fn dev_open_skips_the_agreement_check_only() {
        let f = fordeling(vec![modtager(4, 400, "11111111", &["TRUE"])], None);
        assert_eq!(
            f.modtagere("11111111", &data(TYPE_A, &[])),
            vec![Uuid::from_u128(4)]
        );
        assert!(f.modtagere("22222222", &data(TYPE_A, &[])).is_empty());
    }

    #[test]
    fn vaerdilister_in_filters_are_found_and_consulted() {
        let liste = Uuid::from_u128(77);
        let filter = format!("beskedtype IN vaerdiliste(\"{liste}\")");
        let mut f = fordeling(
            vec![modtager(1, 100, "11111111", &[&filter])],
            Some(&[(100, "11111111")]),
        );
        let parsed = Filter::parse(&filter).unwrap();
        assert_eq!(Fordeling::brugte_lister(&[&parsed]), HashSet::from([liste]));
        assert!(f.modtagere("11111111", &data(TYPE_A, &[])).is_empty());
        f.lister
            .lister
            .insert(liste, (1, Arc::new(HashSet::from([TYPE_A.to_owned()]))));
        assert_eq!(f.modtagere("11111111", &data(TYPE_A, &[])).len(), 1);
        assert!(f.modtagere("11111111", &data(TYPE_B, &[])).is_empty());
    }
}
