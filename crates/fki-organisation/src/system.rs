//! The hierarchy services: OrganisationSystem and KlassifikationSystem
//! (`../shared/specs/sf1500-organisation/v6/xsd/6.0.STS-0/OrganisationSystemOperationer.xsd`,
//! `KlassifikationSystemOperationer.xsd`; WSDLs `OrganisationSystem.wsdl`,
//! `KlassifikationSystem.wsdl`).
//!
//! - `FremsoegObjekthierarkiInput`: the objects of every type of the hierarchy (Organisation,
//!   OrganisationEnhed, OrganisationFunktion, Bruger, Interessefaellesskab, ItSystem — or
//!   Klassifikation, Facet, Klasse) that match that type's optional `…SoegEgenskab`, each as a
//!   `FiltreretOejebliksbillede`. Without criteria this is the whole hierarchy the caller may
//!   see: fki's export.
//! - `ImporterOrganisationSystemInput` / `ImporterKlassifikationSystemInput`: an Organisation
//!   with its OrganisationEnheder (a Klassifikation with its Facetter and Klasser), imported in
//!   one transaction: all or nothing.
//! - OrganisationSystem `AnonymiserInput` (a PersonUUID or a PersonCPR): personal data out of
//!   every registrering of the Person, past ones included.
//! - OrganisationAdministration (`OrganisationAdministrationOperationer.xsd`, a service of its own
//!   at `/organisation/organisationadministration/6/`) `FysiskSletInput`: an OrganisationEnhed
//!   of an Organisation deleted physically, history and all.

use roxmltree::Node;
use serde_json::Value;
use uuid::Uuid;

use crate::forespoergsel::{
    Boern, importobjekt, soeg_egenskab, soeg_hoved, tekst as xml_tekst, ugyldig, uuid_element,
};
use crate::svar::{registrering, tekst_element};
use crate::typer::{NS_SD, Objekttype, ved_sti};
use crate::{Fejl, StatusKode};
use fki_oio::model::{Data, Registrering};
use fki_oio::time::Ts;

/// One type of a hierarchy: its search element in the input and its list in the output.
#[derive(Debug)]
pub struct Led {
    pub klasse: &'static str,
    /// `OrganisationEnhedSoegEgenskab`.
    pub soeg_egenskab: &'static str,
    /// `OrganisationEnheder`.
    pub output: &'static str,
}

/// A hierarchy service.
#[derive(Debug)]
pub struct System {
    /// `OrganisationSystem`.
    pub navn: &'static str,
    /// `organisation` or `klassifikation`.
    pub service: &'static str,
    /// `http://stoettesystemerne.dk/organisation/organisationsystem/6/`.
    pub ns: &'static str,
    pub led: &'static [Led],
    /// `ImporterOrganisationSystemInput`.
    pub import_input: &'static str,
    /// The import's first element is this type's object; then, per entry, a wrapper element
    /// holding objects of the type (`OrganisationEnhederInput` → `OrganisationEnhed`*).
    pub import_rod: &'static str,
    pub import_lister: &'static [(&'static str, &'static str)],
    /// Further operations: input element, output element (`AnonymiserInput`, `FysiskSletInput`).
    pub ekstra: &'static [(&'static str, &'static str)],
}

impl System {
    /// `/<service>/<name>/6` as the namespace names it.
    pub fn path(&self) -> String {
        let navn = self
            .ns
            .trim_end_matches("/6/")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        format!("/{}/{navn}/6", self.service)
    }

    fn typ(klasse: &str, service: &str) -> &'static Objekttype {
        ved_sti(service, klasse).expect("hierarchy types are SOAP types")
    }
}

pub static SYSTEMER: &[System] = &[
    System {
        navn: "OrganisationSystem",
        service: "organisation",
        ns: "http://stoettesystemerne.dk/organisation/organisationsystem/6/",
        led: &[
            Led {
                klasse: "organisation",
                soeg_egenskab: "OrganisationSoegEgenskab",
                output: "Organisationer",
            },
            Led {
                klasse: "organisationenhed",
                soeg_egenskab: "OrganisationEnhedSoegEgenskab",
                output: "OrganisationEnheder",
            },
            Led {
                klasse: "organisationfunktion",
                soeg_egenskab: "OrganisationFunktionSoegEgenskab",
                output: "OrganisationFunktioner",
            },
            Led {
                klasse: "bruger",
                soeg_egenskab: "BrugerSoegEgenskab",
                output: "Brugere",
            },
            Led {
                klasse: "interessefaellesskab",
                soeg_egenskab: "InteressefaellesskabSoegEgenskab",
                output: "Interessefaellesskaber",
            },
            Led {
                klasse: "itsystem",
                soeg_egenskab: "ItSystemSoegEgenskab",
                output: "ItSystemer",
            },
        ],
        import_input: "ImporterOrganisationSystemInput",
        import_rod: "organisation",
        import_lister: &[("OrganisationEnhederInput", "organisationenhed")],
        ekstra: &[("AnonymiserInput", "AnonymiserOutput")],
    },
    // Only `fysiskslet`: no hierarchy, no import.
    System {
        navn: "OrganisationAdministration",
        service: "organisation",
        ns: "http://stoettesystemerne.dk/organisation/organisationadministration/6/",
        led: &[],
        import_input: "",
        import_rod: "",
        import_lister: &[],
        ekstra: &[("FysiskSletInput", "FysiskSletOutput")],
    },
    System {
        navn: "KlassifikationSystem",
        service: "klassifikation",
        ns: "http://stoettesystemerne.dk/klassifikation/klassifikationsystem/6/",
        led: &[
            Led {
                klasse: "klassifikation",
                soeg_egenskab: "KlassifikationSoegEgenskab",
                output: "Klassifikationer",
            },
            Led {
                klasse: "facet",
                soeg_egenskab: "FacetSoegEgenskab",
                output: "Facetter",
            },
            Led {
                klasse: "klasse",
                soeg_egenskab: "KlasseSoegEgenskab",
                output: "Klasser",
            },
        ],
        import_input: "ImporterKlassifikationSystemInput",
        import_rod: "klassifikation",
        import_lister: &[("FacetterInput", "facet"), ("KlasserInput", "klasse")],
        ekstra: &[],
    },
];

/// An operation of a hierarchy service.
#[derive(Debug)]
pub enum SystemOperation {
    /// Per type of the hierarchy (in its order): the type and its LoRa search parameters.
    Fremsoeg(Vec<(&'static Objekttype, Vec<(String, String)>)>),
    /// The objects to import, in order: type, UUID, engine JSON.
    Importer(Vec<(&'static Objekttype, Uuid, Value)>),
    /// OrganisationSystem `Anonymiser`.
    Anonymiser(PersonId),
    /// OrganisationAdministration `FysiskSlet`: the OrganisationEnhed and the Organisation it
    /// must belong to.
    FysiskSlet { organisation: Uuid, enhed: Uuid },
}

/// Which person `Anonymiser` addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonId {
    Uuid(Uuid),
    /// Ten digits.
    Cpr(String),
}

/// The output element answering `input`, if it is an operation of `sys`.
pub fn output_element(sys: &System, input: &str) -> Option<&'static str> {
    if let Some((_, out)) = sys.ekstra.iter().find(|(i, _)| *i == input) {
        Some(out)
    } else if sys.led.is_empty() {
        None
    } else if input == "FremsoegObjekthierarkiInput" {
        Some("FremsoegObjekthierarkiOutput")
    } else if input == sys.import_input {
        Some(if sys.service == "organisation" {
            "ImporterOrganisationSystemOutput"
        } else {
            "ImporterKlassifikationSystemOutput"
        })
    } else {
        None
    }
}

/// Read an operation element of `sys`.
pub fn laes(sys: &System, op: Node<'_, '_>) -> Result<SystemOperation, Fejl> {
    if op.tag_name().namespace() != Some(sys.ns) {
        return Err(ugyldig(format!(
            "{} is not an operation of {}",
            op.tag_name().name(),
            sys.navn
        )));
    }
    let navn = op.tag_name().name();
    let mut b = Boern::new(op, navn)?;
    let out = if navn == "AnonymiserInput" && output_element(sys, navn).is_some() {
        // A choice of PersonUUID or PersonCPR.
        let id = if let Some(u) = b.opt(sys.ns, "PersonUUID") {
            PersonId::Uuid(uuid_element(u)?)
        } else if let Some(c) = b.opt(sys.ns, "PersonCPR") {
            let t = xml_tekst(c)?;
            let t = t.trim();
            if t.len() != 10 || !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ugyldig(format!("PersonCPR: '{t}' is not ten digits")));
            }
            PersonId::Cpr(t.to_owned())
        } else {
            return Err(ugyldig("AnonymiserInput: give PersonUUID or PersonCPR"));
        };
        SystemOperation::Anonymiser(id)
    } else if navn == "FysiskSletInput" && output_element(sys, navn).is_some() {
        let organisation = uuid_element(b.one(sys.ns, "OrganisationUUID")?)?;
        let enhed = uuid_element(b.one(sys.ns, "OrganisationEnhedUUID")?)?;
        SystemOperation::FysiskSlet {
            organisation,
            enhed,
        }
    } else if sys.led.is_empty() {
        return Err(ugyldig(format!(
            "{navn} is not an operation of {}",
            sys.navn
        )));
    } else if navn == "FremsoegObjekthierarkiInput" {
        let hoved = soeg_hoved(&mut b)?;
        let mut per = Vec::new();
        for led in sys.led {
            let typ = System::typ(led.klasse, sys.service);
            let mut q = hoved.clone();
            if let Some(e) = b.opt(sys.ns, led.soeg_egenskab) {
                q.extend(soeg_egenskab(typ, e)?);
            }
            per.push((typ, q));
        }
        SystemOperation::Fremsoeg(per)
    } else if navn == sys.import_input {
        let rod = System::typ(sys.import_rod, sys.service);
        let (u, v) = importobjekt(rod, b.one(rod.ns, rod.element)?)?;
        let mut objekter = vec![(rod, u, v)];
        for (liste, klasse) in sys.import_lister {
            let typ = System::typ(klasse, sys.service);
            let l = b.one(sys.ns, liste)?;
            let mut lb = Boern::new(l, liste)?;
            for o in lb.many(typ.ns, typ.element) {
                let (u, v) = importobjekt(typ, o)?;
                objekter.push((typ, u, v));
            }
            lb.slut()?;
        }
        let mut set = std::collections::HashSet::new();
        if let Some((_, u, _)) = objekter.iter().find(|(_, u, _)| !set.insert(*u)) {
            return Err(ugyldig(format!("{u} is given more than once")));
        }
        SystemOperation::Importer(objekter)
    } else {
        return Err(ugyldig(format!(
            "{navn} is not an operation of {}",
            sys.navn
        )));
    };
    b.slut()?;
    Ok(out)
}

fn hoved(sys: &System, element: &str, status: StatusKode, tekst: Option<&str>) -> String {
    let mut s = format!(
        "<s:{element} xmlns:s=\"{}\" xmlns:sd=\"{NS_SD}\"><sd:StandardRetur><sd:StatusKode>{}</sd:StatusKode>",
        sys.ns,
        status.kode()
    );
    if let Some(t) = tekst {
        tekst_element(&mut s, "sd", "FejlbeskedTekst", t);
    }
    s.push_str("</sd:StandardRetur>");
    s
}

/// A refusal as the output `element` (for the import: one StandardRetur, as its
/// MultipleOutputType allows).
pub fn fejl(sys: &System, element: &str, f: &Fejl) -> String {
    let mut s = hoved(sys, element, f.kode, Some(&f.tekst));
    if element == "FremsoegObjekthierarkiOutput" {
        // The six (three) lists are required, empty on a refusal.
        for led in sys.led {
            s.push_str(&format!("<s:{0}></s:{0}>", led.output));
        }
    }
    s.push_str(&format!("</s:{element}>"));
    s
}

/// Objects found, each with its registreringer.
pub type Objekter = Vec<(Uuid, Vec<Registrering>)>;

/// The FremsoegObjekthierarkiOutput: per type of the hierarchy its objects with their
/// registreringer, showing the periods that overlap `virk`.
pub fn fremsoeg_svar(
    sys: &System,
    fundne: &[(&'static Objekttype, Objekter)],
    virk: (Ts, Ts),
) -> String {
    let element = "FremsoegObjekthierarkiOutput";
    let mut s = hoved(sys, element, StatusKode::Ok, None);
    for led in sys.led {
        s.push_str(&format!("<s:{}>", led.output));
        if let Some((typ, objekter)) = fundne.iter().find(|(t, _)| t.klasse == led.klasse) {
            for (uuid, regs) in objekter {
                // The wrapper is the system's; what is inside, the type's.
                s.push_str(&format!(
                    "<s:FiltreretOejebliksbillede xmlns:t=\"{}\" xmlns:sts=\"{}\" xmlns:orgfaelles=\"{}\">\
<t:ObjektType><sd:UUIDIdentifikator>{uuid}</sd:UUIDIdentifikator></t:ObjektType>",
                    typ.ns,
                    crate::typer::NS_STS,
                    crate::typer::NS_ORGFAELLES
                ));
                for r in regs {
                    registrering(&mut s, typ, r, virk);
                }
                s.push_str("</s:FiltreretOejebliksbillede>");
            }
        }
        s.push_str(&format!("</s:{}>", led.output));
    }
    s.push_str(&format!("</s:{element}>"));
    s
}

/// Take the personal data out of one registrering of a Person (`Anonymiser`): in every
/// attribute period the CPR number is removed, the name becomes `Anonymiseret` and the
/// brugervendt nøgle (often a CPR number or a name) becomes the Person's UUID. Says whether
/// anything changed, so a second run rewrites nothing.
pub fn anonymiser_person(data: &mut Data, uuid: Uuid) -> bool {
    fn saet(felter: &mut serde_json::Map<String, Value>, felt: &str, ny: &str) -> bool {
        match felter.get_mut(felt) {
            Some(v) if v.as_str() != Some(ny) => {
                *v = Value::String(ny.to_owned());
                true
            }
            _ => false,
        }
    }
    let mut aendret = false;
    for perioder in data.attributter.values_mut() {
        for p in perioder {
            aendret |= saet(&mut p.felter, "navn", ANONYMISERET);
            aendret |= saet(&mut p.felter, "brugervendtnoegle", &uuid.to_string());
            aendret |= p.felter.remove("cprnr").is_some();
        }
    }
    aendret
}

/// The name an anonymised Person carries.
pub const ANONYMISERET: &str = "Anonymiseret";

/// A `BasicOutputType` answer (AnonymiserOutput, FysiskSletOutput): StandardRetur 20.
pub fn ok_svar(sys: &System, element: &str) -> String {
    let mut s = hoved(sys, element, StatusKode::Ok, None);
    s.push_str(&format!("</s:{element}>"));
    s
}

/// The import's answer: one `sd:UnikRetur` per object (StatusKode 20, its type and UUID).
pub fn import_svar(sys: &System, element: &str, objekter: &[(&Objekttype, Uuid)]) -> String {
    let mut s = format!("<s:{element} xmlns:s=\"{}\" xmlns:sd=\"{NS_SD}\">", sys.ns);
    for (typ, u) in objekter {
        s.push_str("<sd:UnikRetur><sd:StatusKode>20</sd:StatusKode>");
        tekst_element(&mut s, "sd", "Type", typ.element);
        tekst_element(&mut s, "sd", "UUIDIdentifikator", &u.to_string());
        s.push_str("</sd:UnikRetur>");
    }
    s.push_str(&format!("</s:{element}>"));
    s
}

#[cfg(test)]
mod tests {
    use fki_oio::model::{AttrEntry, Virkning};
    use serde_json::json;

    use super::*;

    fn periode(felter: Value) -> AttrEntry {
        AttrEntry {
            felter: felter.as_object().unwrap().clone(),
            virkning: Virkning::always(),
        }
    }

    #[test]
    fn anonymiser_takes_cpr_name_and_key_out_of_every_period() {
        let u = Uuid::new_v4();
        let mut d = Data::default();
        d.attributter.insert(
            "egenskaber".into(),
            vec![
                periode(json!({"brugervendtnoegle": "0101011234", "cprnr": "0101011234", "navn": "Anne Hansen"})),
                periode(json!({"navn": "Anne Jensen", "integrationsdata": "x"})),
            ],
        );
        assert!(anonymiser_person(&mut d, u));
        let p = &d.attributter["egenskaber"];
        assert_eq!(
            Value::Object(p[0].felter.clone()),
            json!({"brugervendtnoegle": u.to_string(), "navn": "Anonymiseret"})
        );
        assert_eq!(
            Value::Object(p[1].felter.clone()),
            json!({"navn": "Anonymiseret", "integrationsdata": "x"})
        );
        // Idempotent: nothing left to change.
        let foer = d.clone();
        assert!(!anonymiser_person(&mut d, u));
        assert_eq!(d, foer);
    }

    #[test]
    fn fysisk_slet_and_anonymiser_are_operations_only_where_the_xsds_put_them() {
        let org = SYSTEMER
            .iter()
            .find(|s| s.navn == "OrganisationSystem")
            .unwrap();
        let adm = SYSTEMER
            .iter()
            .find(|s| s.navn == "OrganisationAdministration")
            .unwrap();
        let kla = SYSTEMER
            .iter()
            .find(|s| s.navn == "KlassifikationSystem")
            .unwrap();
        assert_eq!(
            output_element(org, "AnonymiserInput"),
            Some("AnonymiserOutput")
        );
        assert_eq!(
            output_element(adm, "FysiskSletInput"),
            Some("FysiskSletOutput")
        );
        assert_eq!(output_element(adm, "FremsoegObjekthierarkiInput"), None);
        assert_eq!(output_element(adm, "AnonymiserInput"), None);
        assert_eq!(output_element(kla, "AnonymiserInput"), None);
        assert_eq!(output_element(org, "FysiskSletInput"), None);
        assert_eq!(adm.path(), "/organisation/organisationadministration/6");
    }
}
