//! The CPR Query service (search by name, address, birth date), which has no public XSD: fki
//! offers it as REST/JSON (`GET /cpr/personer`, documented in fki's OpenAPI). This module is
//! the search and the JSON shape; the server adds the route and the token checks.

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::personlookup::{Udsnit, adresseringsnavn, standardadresse};
use crate::population::{Person, Status};
use crate::register::Register;

/// The criteria; every given one must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonSoeg {
    /// Every word must occur in the name (case-insensitive).
    pub navn: Option<String>,
    pub foedselsdato: Option<NaiveDate>,
    /// Case-insensitive, whole.
    pub vejnavn: Option<String>,
    pub husnummer: Option<String>,
    pub postnummer: Option<u16>,
    /// Four digits.
    pub kommunekode: Option<String>,
}

impl PersonSoeg {
    pub fn er_tom(&self) -> bool {
        *self == PersonSoeg::default()
    }

    /// Whether `p` matches. Address criteria never match a protected address the caller may
    /// not see (`u`), so a search cannot reveal it.
    pub fn matcher(&self, p: &Person, u: Udsnit) -> bool {
        if let Some(n) = &self.navn {
            let navn = format!(
                "{} {} {}",
                p.fornavne,
                p.mellemnavn.as_deref().unwrap_or(""),
                p.efternavn
            )
            .to_lowercase();
            if !n
                .split_whitespace()
                .all(|w| navn.contains(&w.to_lowercase()))
            {
                return false;
            }
        }
        if self.foedselsdato.is_some_and(|d| d != p.foedselsdato) {
            return false;
        }
        let adressekriterier = self.vejnavn.is_some()
            || self.husnummer.is_some()
            || self.postnummer.is_some()
            || self.kommunekode.is_some();
        if adressekriterier {
            let kan_se = u.adresse && (!p.adressebeskyttelse || u.beskyttet_adresse);
            let a = &p.adresse;
            if !kan_se
                || p.status != Status::Aktiv
                || self
                    .vejnavn
                    .as_ref()
                    .is_some_and(|v| v.to_lowercase() != a.vejnavn.to_lowercase())
                || self
                    .husnummer
                    .as_ref()
                    .is_some_and(|h| !h.eq_ignore_ascii_case(&a.husnummer))
                || self.postnummer.is_some_and(|n| n != a.postnummer)
                || self
                    .kommunekode
                    .as_ref()
                    .is_some_and(|k| *k != a.kommunekode)
            {
                return false;
            }
        }
        true
    }
}

/// One person as the Query service answers: number (unless `u` leaves CPR out), names, birth
/// date, sex, status and (where `u` allows) the current address.
pub fn person_json(p: &Person, u: Udsnit) -> Value {
    let mut v = json!({
        "navn": {
            "fornavn": p.fornavne,
            "mellemnavn": p.mellemnavn,
            "efternavn": p.efternavn,
            "adresseringsnavn": adresseringsnavn(p),
        },
        "foedselsdato": p.foedselsdato.format("%Y-%m-%d").to_string(),
        "koen": match p.koen { crate::nummer::Koen::Kvinde => "K", crate::nummer::Koen::Mand => "M" },
        "status": match p.status { Status::Aktiv => 1, Status::Udrejst(_) => 80, Status::Doed(_) => 90 },
        "adressebeskyttelse": p.adressebeskyttelse,
    });
    if u.cpr {
        v["personnummer"] = json!(p.cpr.as_digits());
    }
    if u.adresse && p.status == Status::Aktiv && (!p.adressebeskyttelse || u.beskyttet_adresse) {
        v["adresse"] = adresse_json(&p.adresse);
    }
    v
}

/// An address as the JSON services show it.
pub fn adresse_json(a: &crate::population::Adresse) -> Value {
    json!({
        "kommunekode": a.kommunekode,
        "vejkode": a.vejkode,
        "vejnavn": a.vejnavn,
        "husnummer": a.husnummer,
        "etage": a.etage,
        "sidedoer": a.sidedoer,
        "postnummer": a.postnummer,
        "postdistrikt": a.postdistrikt,
        "standardadresse": standardadresse(a),
    })
}

/// Search `reg`: the first `maks` matches in CPR-number order, and whether there were more.
pub fn soeg<'r>(
    reg: &'r Register,
    q: &PersonSoeg,
    u: Udsnit,
    maks: usize,
) -> (Vec<&'r Person>, bool) {
    let mut hits: Vec<&Person> = reg.personer().filter(|p| q.matcher(p, u)).collect();
    hits.sort_by_key(|p| p.cpr);
    let flere = hits.len() > maks;
    hits.truncate(maks);
    (hits, flere)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{Parametre, generate};

    #[test]
    fn searches_by_name_birth_date_and_address() {
        let pop = generate(&Parametre::new("0751", 400, 2), |_| {});
        let mut reg = Register::new();
        reg.tilfoej(pop.clone());
        let p = pop
            .personer
            .iter()
            .find(|p| p.status == Status::Aktiv && !p.adressebeskyttelse)
            .unwrap();
        let q = PersonSoeg {
            navn: Some(format!("{} {}", p.efternavn.to_uppercase(), p.fornavne)),
            foedselsdato: Some(p.foedselsdato),
            ..Default::default()
        };
        let (hits, flere) = soeg(&reg, &q, Udsnit::ALT, 10);
        assert!(hits.iter().any(|h| h.cpr == p.cpr) && !flere);
        assert!(hits.iter().all(|h| h.foedselsdato == p.foedselsdato));
        let q = PersonSoeg {
            vejnavn: Some(p.adresse.vejnavn.to_lowercase()),
            husnummer: Some(p.adresse.husnummer.clone()),
            postnummer: Some(p.adresse.postnummer),
            ..Default::default()
        };
        let (hits, _) = soeg(&reg, &q, Udsnit::ALT, 1000);
        assert!(hits.iter().any(|h| h.cpr == p.cpr));
        assert!(hits.iter().all(|h| h.adresse.vejnavn == p.adresse.vejnavn));
        // Without the address in the agreement, address criteria find nobody.
        let uden = Udsnit::af([("Udelad", "adresse")]);
        assert!(soeg(&reg, &q, uden, 1000).0.is_empty());
        // Paging: at most `maks`, in number order, with "more".
        let alle = PersonSoeg {
            kommunekode: Some("0751".into()),
            ..Default::default()
        };
        let (hits, flere) = soeg(&reg, &alle, Udsnit::ALT, 5);
        assert_eq!(hits.len(), 5);
        assert!(flere);
        assert!(hits.windows(2).all(|w| w[0].cpr < w[1].cpr));
        let j = person_json(p, Udsnit::af([("Udelad", "cpr")]));
        assert!(j.get("personnummer").is_none() && j.get("adresse").is_some());
    }
}
