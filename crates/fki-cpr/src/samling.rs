//! SF1525 Persondata Samling Hent (PersonStamoplysningerSamlingHent v2): one person's data
//! areas (dataområder), each current and, on request, with its history. The public
//! specifications hold no WSDL/XSD for SF1525, so fki offers it as REST/JSON
//! (`GET /cpr/personer/{pnr}/samling`, documented in OpenAPI and docs/cpr.md); the content
//! follows the service's description: current and earlier addresses, names, civilstand with
//! earlier spouses, status, family relations.
//!
//! The history comes from the CPR events ([`crate::haendelse`]); a freshly generated person's
//! history holds what the record itself implies (a name since birth, ugift until the
//! civilstand's start).

use std::str::FromStr;

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::nummer::{Cpr, Koen};
use crate::personlookup::{Udsnit, adresseringsnavn};
use crate::population::{Adresse, Civilstand, Person, Status};
use crate::register::Register;

/// A data area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Omraade {
    Navn,
    Adresse,
    Civilstand,
    Status,
    Relationer,
}

impl Omraade {
    pub const ALLE: [Omraade; 5] = [
        Omraade::Navn,
        Omraade::Adresse,
        Omraade::Civilstand,
        Omraade::Status,
        Omraade::Relationer,
    ];

    pub fn navn(self) -> &'static str {
        match self {
            Omraade::Navn => "navn",
            Omraade::Adresse => "adresse",
            Omraade::Civilstand => "civilstand",
            Omraade::Status => "status",
            Omraade::Relationer => "relationer",
        }
    }
}

impl FromStr for Omraade {
    type Err = String;
    fn from_str(s: &str) -> Result<Omraade, String> {
        Omraade::ALLE
            .into_iter()
            .find(|o| o.navn().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown data area '{s}' (known: {})",
                    Omraade::ALLE.map(Omraade::navn).join(", ")
                )
            })
    }
}

/// What the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valg {
    pub omraader: Vec<Omraade>,
    /// With earlier values (otherwise current only).
    pub historik: bool,
}

impl Valg {
    /// From `omraader=a,b` (absent: all) and `historik=true|false` (absent: true).
    pub fn af(omraader: Option<&str>, historik: Option<&str>) -> Result<Valg, String> {
        let omraader = match omraader {
            None => Omraade::ALLE.to_vec(),
            Some(s) => s
                .split(',')
                .filter(|x| !x.trim().is_empty())
                .map(str::parse)
                .collect::<Result<Vec<_>, _>>()?,
        };
        if omraader.is_empty() {
            return Err("omraader names no data area".into());
        }
        let historik = match historik.map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(x) => return Err(format!("historik must be true or false, not '{x}'")),
        };
        Ok(Valg { omraader, historik })
    }

    fn har(&self, o: Omraade) -> bool {
        self.omraader.contains(&o)
    }
}

fn d(x: NaiveDate) -> String {
    x.format("%Y-%m-%d").to_string()
}

/// The Query service's address with the day the person moved in.
fn adresse_json(a: &Adresse) -> Value {
    let mut v = crate::soeg::adresse_json(a);
    v["tilflytningsdato"] = json!(d(a.tilflytningsdato));
    v
}

fn civilstand_tekst(c: Civilstand) -> &'static str {
    match c {
        Civilstand::Ugift => "ugift",
        Civilstand::Gift => "gift",
        Civilstand::Fraskilt => "fraskilt",
        Civilstand::Enke => "enke/enkemand",
        Civilstand::RegistreretPartner => "registreret partner",
    }
}

/// A relative as the agreement allows: the number, or without numbers birth date and name.
fn relation(c: &Cpr, reg: &Register, u: Udsnit) -> Value {
    if u.cpr {
        json!({ "personnummer": c.as_digits() })
    } else {
        match reg.person(c) {
            Some(r) => json!({
                "foedselsdato": d(r.foedselsdato),
                "navn": adresseringsnavn(r),
            }),
            None => json!({}),
        }
    }
}

/// The answer for `p` (relatives from `reg`): the areas `valg` asks for that `u` allows. An
/// area the agreement withholds (`Udelad=adresse` or `relationer`) is absent; a protected
/// address, without `SeBeskyttetAdresse`, is `{"beskyttet": true}` with neither the current
/// nor any earlier address.
pub fn samling(p: &Person, reg: &Register, valg: &Valg, u: Udsnit) -> Value {
    let mut v = json!({
        "foedselsdato": d(p.foedselsdato),
        "koen": match p.koen { Koen::Kvinde => "K", Koen::Mand => "M" },
        "adressebeskyttelse": p.adressebeskyttelse,
    });
    if u.cpr {
        v["personnummer"] = json!(p.cpr.as_digits());
    }
    let mut omr = serde_json::Map::new();
    if valg.har(Omraade::Navn) {
        let mut navn = json!({ "aktuel": {
            "fornavne": p.fornavne,
            "mellemnavn": p.mellemnavn,
            "efternavn": p.efternavn,
            "adresseringsnavn": adresseringsnavn(p),
            "fra": p.navn_dato.map(d),
        }});
        if valg.historik {
            navn["historik"] = p
                .historik
                .navne
                .iter()
                .rev()
                .map(|n| {
                    json!({
                        "fornavne": n.fornavne,
                        "mellemnavn": n.mellemnavn,
                        "efternavn": n.efternavn,
                        "fra": n.fra.map(d),
                        "til": d(n.til),
                    })
                })
                .collect();
        }
        omr.insert("navn".into(), navn);
    }
    if valg.har(Omraade::Adresse) && u.adresse {
        let a = if p.adressebeskyttelse && !u.beskyttet_adresse {
            json!({ "beskyttet": true })
        } else {
            let mut a = json!({
                "aktuel": (p.status == Status::Aktiv).then(|| adresse_json(&p.adresse)),
            });
            if valg.historik {
                let mut h: Vec<Value> = Vec::new();
                // Someone who died or left: the last Danish address is history.
                if let Status::Doed(x) | Status::Udrejst(x) = p.status {
                    let mut s = adresse_json(&p.adresse);
                    s["fraflytningsdato"] = json!(d(x));
                    h.push(s);
                }
                for t in p.historik.adresser.iter().rev() {
                    let mut s = adresse_json(&t.adresse);
                    s["fraflytningsdato"] = json!(d(t.fraflytningsdato));
                    h.push(s);
                }
                a["historik"] = Value::Array(h);
            }
            a
        };
        omr.insert("adresse".into(), a);
    }
    let aegtefaelle = |c: Option<Cpr>| -> Value {
        match c {
            Some(c) if u.relationer => relation(&c, reg, u),
            _ => Value::Null,
        }
    };
    if valg.har(Omraade::Civilstand) {
        let mut c = json!({ "aktuel": {
            "kode": p.civilstand.kode().to_string(),
            "tekst": civilstand_tekst(p.civilstand),
            "fra": p.civilstand_dato.map(d),
            "aegtefaelle": aegtefaelle(p.aegtefaelle),
        }});
        if valg.historik {
            let mut h: Vec<Value> = p
                .historik
                .civilstande
                .iter()
                .rev()
                .map(|t| {
                    json!({
                        "kode": t.civilstand.kode().to_string(),
                        "tekst": civilstand_tekst(t.civilstand),
                        "fra": t.fra.map(d),
                        "til": d(t.til),
                        "aegtefaelle": aegtefaelle(t.aegtefaelle),
                    })
                })
                .collect();
            // Generated records: before the first recorded civilstand the person was ugift.
            let foerste_fra = p
                .historik
                .civilstande
                .first()
                .map(|t| t.fra)
                .unwrap_or(p.civilstand_dato);
            if let Some(start) = foerste_fra
                && p.historik.civilstande.first().map(|t| t.civilstand) != Some(Civilstand::Ugift)
                && p.civilstand != Civilstand::Ugift
            {
                h.push(json!({
                    "kode": "U", "tekst": "ugift", "fra": null, "til": d(start), "aegtefaelle": null,
                }));
            }
            c["historik"] = Value::Array(h);
        }
        omr.insert("civilstand".into(), c);
    }
    if valg.har(Omraade::Status) {
        let (kode, dato) = match p.status {
            Status::Aktiv => ("01", None),
            Status::Udrejst(x) => ("80", Some(x)),
            Status::Doed(x) => ("90", Some(x)),
        };
        let mut s = json!({ "aktuel": { "kode": kode, "dato": dato.map(d) } });
        if valg.historik {
            // Resident from birth until the status changed.
            s["historik"] = match dato {
                Some(x) => json!([{ "kode": "01", "fra": d(p.foedselsdato), "til": d(x) }]),
                None => json!([]),
            };
        }
        omr.insert("status".into(), s);
    }
    if valg.har(Omraade::Relationer) && u.relationer {
        let mut r = json!({
            "mor": p.mor.map(|c| relation(&c, reg, u)),
            "far": p.far.map(|c| relation(&c, reg, u)),
            "aegtefaelle": p.aegtefaelle.map(|c| relation(&c, reg, u)),
            "boern": p.boern.iter().map(|c| relation(c, reg, u)).collect::<Vec<_>>(),
            "foraeldremyndighed": p.foraeldremyndighed.iter().map(|c| relation(c, reg, u)).collect::<Vec<_>>(),
        });
        if valg.historik {
            r["tidligereAegtefaeller"] = p
                .historik
                .civilstande
                .iter()
                .filter_map(|t| t.aegtefaelle)
                .map(|c| relation(&c, reg, u))
                .collect();
        }
        omr.insert("relationer".into(), r);
    }
    v["dataomraader"] = Value::Object(omr);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haendelse::{Aendring, CprHaendelse};
    use crate::population::{Parametre, generate};
    use uuid::Uuid;

    fn dag(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn areas_and_history_as_asked() {
        assert!(
            Valg::af(Some("navn,bil"), None)
                .unwrap_err()
                .contains("bil")
        );
        assert!(Valg::af(Some(""), None).is_err());
        assert!(Valg::af(None, Some("ja")).is_err());
        let mut reg = Register::new();
        reg.tilfoej(generate(&Parametre::new("0751", 300, 4), |_| {}));
        let p = reg
            .personer()
            .find(|p| {
                p.status == Status::Aktiv
                    && p.alder(dag("2026-01-01")) > 25
                    && !p.adressebeskyttelse
            })
            .unwrap()
            .clone();
        let gammel = p.adresse.clone();
        let ny = Adresse {
            vejnavn: "Ny Vej".into(),
            tilflytningsdato: dag("2026-02-01"),
            ..gammel.clone()
        };
        let h = |a: Aendring, dato: &str| CprHaendelse {
            id: Uuid::nil(),
            dato: dag(dato),
            cpr: p.cpr,
            relaterede: vec![],
            aendring: a,
        };
        reg.anvend(&h(Aendring::Flytning { adresse: ny }, "2026-02-01"))
            .unwrap();
        reg.anvend(&h(
            Aendring::Navneaendring {
                fornavne: p.fornavne.clone(),
                mellemnavn: None,
                efternavn: "Andersen-Holm".into(),
            },
            "2026-03-01",
        ))
        .unwrap();
        let p = reg.person(&p.cpr).unwrap();
        let alt = samling(p, &reg, &Valg::af(None, None).unwrap(), Udsnit::ALT);
        let o = &alt["dataomraader"];
        assert_eq!(alt["personnummer"], p.cpr.as_digits());
        assert_eq!(o["adresse"]["aktuel"]["vejnavn"], "Ny Vej");
        assert_eq!(o["adresse"]["historik"][0]["vejnavn"], gammel.vejnavn);
        assert_eq!(
            o["adresse"]["historik"][0]["fraflytningsdato"],
            "2026-02-01"
        );
        assert_eq!(o["navn"]["aktuel"]["efternavn"], "Andersen-Holm");
        assert_eq!(o["navn"]["aktuel"]["fra"], "2026-03-01");
        assert_eq!(o["navn"]["historik"][0]["til"], "2026-03-01");
        assert_eq!(o["status"]["aktuel"]["kode"], "01");
        // current only, two areas
        let kort = samling(
            p,
            &reg,
            &Valg::af(Some("adresse,navn"), Some("false")).unwrap(),
            Udsnit::ALT,
        );
        let o = kort["dataomraader"].as_object().unwrap();
        let mut noegler: Vec<_> = o.keys().collect();
        noegler.sort();
        assert_eq!(noegler, ["adresse", "navn"]);
        assert!(o["adresse"].get("historik").is_none());
        // restrictions: no addresses, no numbers
        let u = Udsnit::af([("Udelad", "adresse,cpr")]);
        let begr = samling(p, &reg, &Valg::af(None, None).unwrap(), u);
        assert!(begr.get("personnummer").is_none());
        assert!(begr["dataomraader"].get("adresse").is_none());
        assert!(!begr.to_string().contains(&p.cpr.as_digits()));
        // a protected address shows nothing of where the person lives or lived
        let mut beskyttet = p.clone();
        beskyttet.adressebeskyttelse = true;
        let b = samling(
            &beskyttet,
            &reg,
            &Valg::af(None, None).unwrap(),
            Udsnit::af([]),
        );
        assert_eq!(b["dataomraader"]["adresse"], json!({"beskyttet": true}));
        assert!(!b.to_string().contains("Ny Vej"), "{b}");
        assert!(!b.to_string().contains(&gammel.vejnavn), "{b}");
        let set = samling(
            &beskyttet,
            &reg,
            &Valg::af(None, None).unwrap(),
            Udsnit::af([("SeBeskyttetAdresse", "true")]),
        );
        assert_eq!(
            set["dataomraader"]["adresse"]["aktuel"]["vejnavn"],
            "Ny Vej"
        );
    }

    #[test]
    fn a_married_person_was_ugift_before() {
        let mut reg = Register::new();
        reg.tilfoej(generate(&Parametre::new("0751", 400, 8), |_| {}));
        let p = reg
            .personer()
            .find(|p| p.civilstand == Civilstand::Gift)
            .unwrap();
        let v = samling(
            p,
            &reg,
            &Valg::af(Some("civilstand"), None).unwrap(),
            Udsnit::ALT,
        );
        let c = &v["dataomraader"]["civilstand"];
        assert_eq!(c["aktuel"]["kode"], "G");
        assert_eq!(
            c["aktuel"]["aegtefaelle"]["personnummer"],
            p.aegtefaelle.unwrap().as_digits()
        );
        assert_eq!(c["historik"][0]["kode"], "U");
        assert_eq!(c["historik"][0]["til"], d(p.civilstand_dato.unwrap()));
    }
}
