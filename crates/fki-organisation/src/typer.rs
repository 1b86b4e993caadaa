//! The object types of the SOAP services, declared as data: for each, its namespace and element
//! name, and which XML element carries which field, state and relation of the engine's class
//! (`fki_oio::spec`). Everything else (reading requests, writing answers, the routes) is
//! generic code over this table.
//!
//! Source: `../shared/specs/sf1500-organisation/v6/xsd/6.0.STS-0/<Type>.xsd` (the `Egenskab`,
//! `TilstandListe` and `RelationListe` sequences, in their order) and
//! `../shared/specs/sf1500-organisation/v6/xsd/common/SagDokObjekt.xsd` (the relation elements).
//! The KOMBIT names differ from LoRa's in places (`EnhedNavn` is `enhedsnavn`, `Funktionstype`
//! is `organisatoriskfunktionstype`, `TilknyttedeOpgaver` is `opgaver`); this table is where
//! that mapping lives.

use fki_oio::spec::{self, ClassSpec};

/// `urn:oio:sagdok:3.0.0`: the shared SagDok elements.
pub const NS_SD: &str = "urn:oio:sagdok:3.0.0";
/// `urn:oio:sts:6`: KOMBIT's general definitions (CVR-, CPR-numbers, names).
pub const NS_STS: &str = "urn:oio:sts:6";
/// `http://stoettesystemerne.dk/organisation/6/`: `Gyldighed` and `GyldighedStatusKode`.
pub const NS_ORGFAELLES: &str = "http://stoettesystemerne.dk/organisation/6/";
/// The SOAP header of every operation (`../shared/specs/sf1500-organisation/v6/xsd/common/RequestHeader.xsd`).
pub const NS_REQUEST_HEADER: &str = "http://kombit.dk/xml/schemas/RequestHeader/1/";

/// Which namespace an element is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// [`NS_SD`].
    Sd,
    /// [`NS_STS`].
    Sts,
    /// The object type's own namespace ([`Objekttype::ns`]).
    Egen,
}

/// How a field's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One text element.
    Tekst,
    /// A repeated text element: a list (ItSystem `KonfigurationReference`).
    Liste,
    /// Klasse `Soegeord`: repeated, each `SoegeordIdentifikator`, `BeskrivelseTekst`,
    /// `SoegeordKategoriTekst`.
    Soegeord,
}

/// An element of `Egenskab` and the engine field it carries.
#[derive(Debug, Clone, Copy)]
pub struct Felt {
    pub ns: Ns,
    pub element: &'static str,
    pub felt: &'static str,
    pub form: Form,
}

/// The state list of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tilstand {
    /// None (Adresse, Person, Virksomhed, Myndighed).
    Ingen,
    /// `orgfaelles:Gyldighed` with `GyldighedStatusKode` Aktiv/Inaktiv: the state `gyldighed`.
    Gyldighed,
    /// `<type>:PubliceretStatus` with `sd:ErPubliceretIndikator`: the state `publiceret`
    /// (true = `Publiceret`, false = `IkkePubliceret`).
    Publiceret,
}

/// How a relation entry is written after its `Virkning` and `ReferenceID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelForm {
    /// Nothing more (`…FlerRelationType`, `…RelationType`).
    Enkel,
    /// v6 `DynamicFlerRelationType`: optional `Rolle` and `Type` (`UuidLabelInputType`: a UUID
    /// or URN and a `Label`) and a text `Indeks`.
    Dynamisk,
    /// v7 `DynamicRoleFlerRelationType` (Klasse `Mapninger`): required `Rolle` and `Type`
    /// (`UuidLabelNoUrnInputType`: a UUID and a `Label`) and an `Indeks` holding an optional
    /// `UUIDIdentifikator`, kept as the engine's text `indeks`.
    DynamiskRolle,
}

/// A relation element (always in [`NS_SD`]) and the engine relation it carries.
#[derive(Debug, Clone, Copy)]
pub struct Rel {
    pub element: &'static str,
    pub relation: &'static str,
    pub form: RelForm,
}

/// One object type of the SOAP services.
#[derive(Debug)]
pub struct Objekttype {
    /// The engine's class (`fki_oio::spec` name).
    pub klasse: &'static str,
    /// `organisation` or `klassifikation`.
    pub service: &'static str,
    /// The object element (`OrganisationEnhed`), also the prefix of its WSDL's names.
    pub element: &'static str,
    /// `http://stoettesystemerne.dk/<service>/<klasse>/6/`.
    pub ns: &'static str,
    pub egenskaber: &'static [Felt],
    pub tilstand: Tilstand,
    pub relationer: &'static [Rel],
    /// The interface version: 6 (SF1500 v6) or 7 (SF1510 Klasse v7,
    /// `../shared/specs/sf1510-klassifikation/klasse-v7-sample/`: `ObjektID` for `ObjektType` in
    /// a FiltreretOejebliksbillede, a `Label` allowed in `ReferenceID`).
    pub version: u8,
}

impl Objekttype {
    /// The engine's declaration of the class.
    pub fn spec(&self) -> &'static ClassSpec {
        spec::class(self.service, self.klasse).expect("every SOAP type is an engine class")
    }

    /// The endpoint path: `/<service>/<klasse>/<version>` (KOMBIT's
    /// `…/organisation/organisationenhed/6/`, `…/klassifikation/klasse/7/`).
    pub fn path(&self) -> String {
        format!("/{}/{}/{}", self.service, self.klasse, self.version)
    }

    /// The namespace URI of `ns` for this type.
    pub fn uri(&self, ns: Ns) -> &'static str {
        match ns {
            Ns::Sd => NS_SD,
            Ns::Sts => NS_STS,
            Ns::Egen => self.ns,
        }
    }

    /// The `soapAction` of an operation, as the WSDL's binding names it
    /// (`http://kombit.dk/sts/organisation/organisationenhed/laes`).
    pub fn soap_action(&self, operation: &str) -> String {
        format!(
            "http://kombit.dk/sts/{}/{}/{operation}",
            self.service, self.klasse
        )
    }
}

/// Every type, Organisation side then Klassifikation side.
pub fn alle() -> &'static [Objekttype] {
    TYPER
}

/// The type whose namespace is `ns`.
pub fn ved_ns(ns: &str) -> Option<&'static Objekttype> {
    TYPER.iter().find(|t| t.ns == ns)
}

/// The v6 type served at `/<service>/<klasse>/6`.
pub fn ved_sti(service: &str, klasse: &str) -> Option<&'static Objekttype> {
    TYPER
        .iter()
        .find(|t| t.service == service && t.klasse == klasse && t.version == 6)
}

// ---------------------------------------------------------------------------------------------

const fn sd(element: &'static str, felt: &'static str) -> Felt {
    Felt {
        ns: Ns::Sd,
        element,
        felt,
        form: Form::Tekst,
    }
}
const fn sts(element: &'static str, felt: &'static str) -> Felt {
    Felt {
        ns: Ns::Sts,
        element,
        felt,
        form: Form::Tekst,
    }
}
const BVN: Felt = sd("BrugervendtNoegleTekst", "brugervendtnoegle");
/// Klasse `Soegeord` (v6 and v7).
const SOEGEORD: Felt = Felt {
    ns: Ns::Egen,
    element: "Soegeord",
    felt: "soegeord",
    form: Form::Soegeord,
};

const fn r(element: &'static str, relation: &'static str) -> Rel {
    Rel {
        element,
        relation,
        form: RelForm::Enkel,
    }
}
const fn dyn_r(element: &'static str, relation: &'static str) -> Rel {
    Rel {
        element,
        relation,
        form: RelForm::Dynamisk,
    }
}

/// The relation lists of the Aktør types end in these seven.
macro_rules! tilknyttede {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
            r("TilknyttedeBrugere", "tilknyttedebrugere"),
            r("TilknyttedeEnheder", "tilknyttedeenheder"),
            r("TilknyttedeFunktioner", "tilknyttedefunktioner"),
            r("TilknyttedeInteressefaellesskaber", "tilknyttedeinteressefaellesskaber"),
            r("TilknyttedeOrganisationer", "tilknyttedeorganisationer"),
            r("TilknyttedePersoner", "tilknyttedepersoner"),
            r("TilknyttedeItSystemer", "tilknyttedeitsystemer"),
        ]
    };
}

static TYPER: &[Objekttype] = &[
    Objekttype {
        klasse: "adresse",
        version: 6,
        service: "organisation",
        element: "Adresse",
        ns: "http://stoettesystemerne.dk/organisation/adresse/6/",
        egenskaber: &[BVN, sts("AdresseTekst", "adresse")],
        tilstand: Tilstand::Ingen,
        relationer: &[],
    },
    Objekttype {
        klasse: "bruger",
        version: 6,
        service: "organisation",
        element: "Bruger",
        ns: "http://stoettesystemerne.dk/organisation/bruger/6/",
        egenskaber: &[
            BVN,
            sd("BrugerNavn", "brugernavn"),
            sd("BrugerTypeTekst", "brugertype"),
        ],
        tilstand: Tilstand::Gyldighed,
        // Bruger has no TilknyttedeBrugere.
        relationer: &[
            dyn_r("Adresser", "adresser"),
            r("BrugerTyper", "brugertyper"),
            r("TilknyttedeOpgaver", "opgaver"),
            r("Tilhoerer", "tilhoerer"),
            r("TilknyttedeEnheder", "tilknyttedeenheder"),
            r("TilknyttedeFunktioner", "tilknyttedefunktioner"),
            r(
                "TilknyttedeInteressefaellesskaber",
                "tilknyttedeinteressefaellesskaber",
            ),
            r("TilknyttedeOrganisationer", "tilknyttedeorganisationer"),
            r("TilknyttedePersoner", "tilknyttedepersoner"),
            r("TilknyttedeItSystemer", "tilknyttedeitsystemer"),
        ],
    },
    Objekttype {
        klasse: "interessefaellesskab",
        version: 6,
        service: "organisation",
        element: "Interessefaellesskab",
        ns: "http://stoettesystemerne.dk/organisation/interessefaellesskab/6/",
        egenskaber: &[
            BVN,
            sd("InteressefaellesskabNavn", "interessefaellesskabsnavn"),
            sd("InteressefaellesskabTypeTekst", "interessefaellesskabstype"),
        ],
        tilstand: Tilstand::Gyldighed,
        relationer: tilknyttede!(
            dyn_r("Adresser", "adresser"),
            r("Branche", "branche"),
            r("Interessefaellesskabstype", "interessefaellesskabstype"),
            r("TilknyttedeOpgaver", "opgaver"),
            r("Overordnet", "overordnet"),
            r("Tilhoerer", "tilhoerer"),
        ),
    },
    Objekttype {
        klasse: "itsystem",
        version: 6,
        service: "organisation",
        element: "ItSystem",
        ns: "http://stoettesystemerne.dk/organisation/itsystem/6/",
        egenskaber: &[
            BVN,
            sd("ItSystemNavn", "itsystemnavn"),
            sd("ItSystemTypeTekst", "itsystemtype"),
            Felt {
                ns: Ns::Sd,
                element: "KonfigurationReference",
                felt: "konfigurationreference",
                form: Form::Liste,
            },
        ],
        tilstand: Tilstand::Gyldighed,
        relationer: tilknyttede!(
            dyn_r("Adresser", "adresser"),
            r("TilknyttedeOpgaver", "opgaver"),
            r("SystemTyper", "systemtyper"),
            r("Tilhoerer", "tilhoerer"),
        ),
    },
    Objekttype {
        klasse: "myndighed",
        version: 6,
        service: "organisation",
        element: "Myndighed",
        ns: "http://stoettesystemerne.dk/organisation/myndighed/6/",
        egenskaber: &[
            BVN,
            sts("CVR-NummerTekst", "cvrnr"),
            sts("NavnTekst", "navn"),
            sts("MyndighedsKode", "myndighedskode"),
        ],
        tilstand: Tilstand::Ingen,
        relationer: &[],
    },
    Objekttype {
        klasse: "organisation",
        version: 6,
        service: "organisation",
        element: "Organisation",
        ns: "http://stoettesystemerne.dk/organisation/organisation/6/",
        egenskaber: &[BVN, sd("OrganisationNavn", "organisationsnavn")],
        tilstand: Tilstand::Gyldighed,
        relationer: &[
            dyn_r("Adresser", "adresser"),
            r("Ansatte", "ansatte"),
            r("Branche", "branche"),
            r("Organisationstype", "organisationstype"),
            r("Myndighed", "myndighed"),
            r("Myndighedstype", "myndighedstype"),
            r("TilknyttedeOpgaver", "opgaver"),
            r("Overordnet", "overordnet"),
            r("Produktionsenhed", "produktionsenhed"),
            r("Skatteenhed", "skatteenhed"),
            r("Tilhoerer", "tilhoerer"),
            r("TilknyttedeBrugere", "tilknyttedebrugere"),
            r("TilknyttedeEnheder", "tilknyttedeenheder"),
            r("TilknyttedeFunktioner", "tilknyttedefunktioner"),
            r(
                "TilknyttedeInteressefaellesskaber",
                "tilknyttedeinteressefaellesskaber",
            ),
            r("TilknyttedeOrganisationer", "tilknyttedeorganisationer"),
            r("TilknyttedePersoner", "tilknyttedepersoner"),
            r("TilknyttedeItSystemer", "tilknyttedeitsystemer"),
            r("Virksomhed", "virksomhed"),
            r("Virksomhedstype", "virksomhedstype"),
        ],
    },
    Objekttype {
        klasse: "organisationenhed",
        version: 6,
        service: "organisation",
        element: "OrganisationEnhed",
        ns: "http://stoettesystemerne.dk/organisation/organisationenhed/6/",
        egenskaber: &[BVN, sd("EnhedNavn", "enhedsnavn")],
        tilstand: Tilstand::Gyldighed,
        relationer: tilknyttede!(
            dyn_r("Adresser", "adresser"),
            r("Ansatte", "ansatte"),
            r("Branche", "branche"),
            r("Enhedstype", "enhedstype"),
            dyn_r("Opgaver", "opgaver"),
            r("Overordnet", "overordnet"),
            r("Produktionsenhed", "produktionsenhed"),
            r("Skatteenhed", "skatteenhed"),
            r("Tilhoerer", "tilhoerer"),
        ),
    },
    Objekttype {
        klasse: "organisationfunktion",
        version: 6,
        service: "organisation",
        element: "OrganisationFunktion",
        ns: "http://stoettesystemerne.dk/organisation/organisationfunktion/6/",
        egenskaber: &[BVN, sd("FunktionNavn", "funktionsnavn")],
        tilstand: Tilstand::Gyldighed,
        // OrganisationFunktion has no TilknyttedeFunktioner.
        relationer: &[
            dyn_r("Adresser", "adresser"),
            r("Funktionstype", "organisatoriskfunktionstype"),
            r("TilknyttedeOpgaver", "opgaver"),
            r("TilknyttedeBrugere", "tilknyttedebrugere"),
            r("TilknyttedeEnheder", "tilknyttedeenheder"),
            r(
                "TilknyttedeInteressefaellesskaber",
                "tilknyttedeinteressefaellesskaber",
            ),
            r("TilknyttedeOrganisationer", "tilknyttedeorganisationer"),
            r("TilknyttedePersoner", "tilknyttedepersoner"),
            r("TilknyttedeItSystemer", "tilknyttedeitsystemer"),
        ],
    },
    Objekttype {
        klasse: "person",
        version: 6,
        service: "organisation",
        element: "Person",
        ns: "http://stoettesystemerne.dk/organisation/person/6/",
        egenskaber: &[
            BVN,
            sts("CPR-NummerTekst", "cprnr"),
            Felt {
                ns: Ns::Egen,
                element: "NavnTekst",
                felt: "navn",
                form: Form::Tekst,
            },
        ],
        tilstand: Tilstand::Ingen,
        relationer: &[],
    },
    Objekttype {
        klasse: "virksomhed",
        version: 6,
        service: "organisation",
        element: "Virksomhed",
        ns: "http://stoettesystemerne.dk/organisation/virksomhed/6/",
        egenskaber: &[
            BVN,
            sts("CVR-NummerTekst", "cvr-nummer"),
            sts("SE-NummerTekst", "se-nummer"),
            sts("P-NummerTekst", "p-nummer"),
            sts("NavnTekst", "navn"),
        ],
        tilstand: Tilstand::Ingen,
        relationer: &[],
    },
    // ---- Klassifikation ------------------------------------------------------------------
    Objekttype {
        klasse: "facet",
        version: 6,
        service: "klassifikation",
        element: "Facet",
        ns: "http://stoettesystemerne.dk/klassifikation/facet/6/",
        egenskaber: &[
            BVN,
            sd("TitelTekst", "titel"),
            sd("BeskrivelseTekst", "beskrivelse"),
            sd("OpbygningTekst", "opbygning"),
            sd("OphavsretTekst", "ophavsret"),
            sd("PlanIdentifikator", "plan"),
            sd("SupplementTekst", "supplement"),
            sd("RetskildeTekst", "retskilde"),
        ],
        tilstand: Tilstand::Publiceret,
        relationer: &[
            r("Ansvarlig", "ansvarlig"),
            r("Ejer", "ejer"),
            r("FacetTilhoerer", "facettilhoerer"),
            r("Redaktoerer", "redaktoerer"),
        ],
    },
    Objekttype {
        klasse: "klasse",
        version: 6,
        service: "klassifikation",
        element: "Klasse",
        ns: "http://stoettesystemerne.dk/klassifikation/klasse/6/",
        egenskaber: &[
            BVN,
            sd("BeskrivelseTekst", "beskrivelse"),
            sd("EksempelTekst", "eksempel"),
            sd("OmfangTekst", "omfang"),
            sd("TitelTekst", "titel"),
            sd("RetskildeTekst", "retskilde"),
            sd("AendringsnotatTekst", "aendringsnotat"),
            SOEGEORD,
        ],
        tilstand: Tilstand::Publiceret,
        relationer: &[
            r("Ansvarlig", "ansvarlig"),
            r("Ejer", "ejer"),
            r("Erstatter", "erstatter"),
            r("Facet", "facet"),
            r("LovligeKombinationer", "lovligekombinationer"),
            r("Mapninger", "mapninger"),
            r("OverordnetKlasse", "overordnetklasse"),
            r("Redaktoerer", "redaktoerer"),
            r("Sideordnede", "sideordnede"),
            r("Tilfoejelser", "tilfoejelser"),
        ],
    },
    Objekttype {
        klasse: "klassifikation",
        version: 6,
        service: "klassifikation",
        element: "Klassifikation",
        ns: "http://stoettesystemerne.dk/klassifikation/klassifikation/6/",
        egenskaber: &[
            BVN,
            sd("TitelTekst", "titel"),
            sd("BeskrivelseTekst", "beskrivelse"),
            sd("KaldenavnTekst", "kaldenavn"),
            sd("OphavsretTekst", "ophavsret"),
        ],
        tilstand: Tilstand::Publiceret,
        relationer: &[r("Ansvarlig", "ansvarlig"), r("Ejer", "ejer")],
    },
    // SF1510 Klasse v7 (`../shared/specs/sf1510-klassifikation/klasse-v7-sample/Klasse.xsd`):
    // `Sortering` in Egenskab; four relations fewer; `Mapninger` a DynamicRoleFlerRelation.
    Objekttype {
        klasse: "klasse",
        version: 7,
        service: "klassifikation",
        element: "Klasse",
        ns: "http://stoettesystemerne.dk/klassifikation/klasse/7/",
        egenskaber: &[
            BVN,
            sd("BeskrivelseTekst", "beskrivelse"),
            sd("EksempelTekst", "eksempel"),
            sd("OmfangTekst", "omfang"),
            sd("TitelTekst", "titel"),
            sd("RetskildeTekst", "retskilde"),
            sd("Sortering", "sortering"),
            sd("AendringsnotatTekst", "aendringsnotat"),
            SOEGEORD,
        ],
        tilstand: Tilstand::Publiceret,
        relationer: &[
            r("Ansvarlig", "ansvarlig"),
            r("Ejer", "ejer"),
            r("Facet", "facet"),
            Rel {
                element: "Mapninger",
                relation: "mapninger",
                form: RelForm::DynamiskRolle,
            },
            r("OverordnetKlasse", "overordnetklasse"),
            r("Redaktoerer", "redaktoerer"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use fki_oio::spec::RelKind;

    /// Every field, state and relation named here exists in the engine's class, so nothing
    /// written over SOAP is refused or lost by the engine.
    #[test]
    fn the_table_matches_the_engine_classes() {
        assert_eq!(alle().len(), 14);
        for t in alle() {
            let spec = t.spec();
            for f in t.egenskaber {
                assert!(
                    spec.find_field(f.felt).is_some(),
                    "{}: no field {}",
                    t.klasse,
                    f.felt
                );
            }
            match t.tilstand {
                Tilstand::Ingen => assert!(spec.states.is_empty(), "{}", t.klasse),
                Tilstand::Gyldighed => assert!(spec.state("gyldighed").is_some(), "{}", t.klasse),
                Tilstand::Publiceret => {
                    assert!(spec.state("publiceret").is_some(), "{}", t.klasse)
                }
            }
            for r in t.relationer {
                let rel = spec
                    .relation(r.relation)
                    .unwrap_or_else(|| panic!("{}: no relation {}", t.klasse, r.relation));
                // A dynamic element needs a dynamic relation (v6 Klasse `Mapninger` is a plain
                // element over v7's dynamic one).
                let dynamisk = r.element == "Adresser"
                    || (r.element == "Opgaver" && t.klasse == "organisationenhed")
                    || (r.element == "Mapninger" && t.version == 7);
                assert_eq!(
                    r.form != RelForm::Enkel,
                    dynamisk,
                    "{}.{}",
                    t.klasse,
                    r.relation
                );
                if dynamisk {
                    assert_eq!(rel.kind, RelKind::Dynamisk, "{}.{}", t.klasse, r.relation);
                }
            }
            assert!(t.ns.ends_with(&format!("/{}/{}/{}/", t.service, t.klasse, t.version)));
            assert_eq!(ved_ns(t.ns).map(|x| x.klasse), Some(t.klasse));
        }
    }
}
