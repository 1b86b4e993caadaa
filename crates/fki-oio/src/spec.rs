//! The object types, declared as data.
//!
//! Every OIO object type fki serves is one [`ClassSpec`] in [`CLASSES`]: its attribute groups and
//! fields (with type and whether they are mandatory), its states and their allowed values, and its
//! relations with cardinality. Everything else (validation, the merge rules of `ret`, storage,
//! search, the REST field lists and JSON schemas, the OpenAPI document) is derived from this table
//! by generic code. An object type gets no code of its own: special shapes (Klasse `soegeord`,
//! Sag `journalpost`, Aktivitet `aktoerattr`, Tilstand `tilstandsvaerdi`) are field and relation
//! *kinds* the generic code knows, not branches on the type's name.
//!
//! Sources: LoRa's `db_structure.py` as summarised in `shared/docs/oio-rest-contract.md` §3, and
//! for the v6-only types (adresse, person, virksomhed, myndighed)
//! `shared/specs/sf1500-organisation/v6/xsd/6.0.STS-0/{Adresse,Person,Virksomhed,Myndighed}.xsd`.

/// The JSON type of an attribute field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// JSON boolean (Dokument variant egenskaber also take "true"/"false"/"1"/"0").
    Bool,
    /// JSON integer.
    Int,
    /// A date `YYYY-MM-DD`.
    Date,
    /// A timestamp literal (kept as the text given, matched as text).
    Timestamp,
    /// A PostgreSQL interval literal such as `2 hours` (kept as text).
    Interval,
    /// An array of strings (ItSystem `konfigurationreference`).
    TextList,
    /// Klasse `soegeord`: triples `[identifikator, beskrivelse, kategori]` on input, objects on output.
    Soegeord,
    /// `{"alternativtitel": str, "hjemmel": str}`.
    OffentlighedUndtaget,
}

impl FieldType {
    /// The type name used in `/fields` metadata and the JSON schema.
    pub fn json_type(self) -> &'static str {
        match self {
            FieldType::Text | FieldType::Date | FieldType::Timestamp | FieldType::Interval => {
                "string"
            }
            FieldType::Bool => "boolean",
            FieldType::Int => "integer",
            FieldType::TextList | FieldType::Soegeord => "array",
            FieldType::OffentlighedUndtaget => "object",
        }
    }

    /// Whether values of this type are matched as case-insensitive text patterns in searches.
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::Timestamp
                | FieldType::Interval
                | FieldType::TextList
                | FieldType::Soegeord
                | FieldType::OffentlighedUndtaget
        )
    }
}

/// One attribute field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub typ: FieldType,
    pub mandatory: bool,
}

/// An attribute group (`egenskaber`); the wire key is class name + group name.
#[derive(Debug, Clone, Copy)]
pub struct AttrGroup {
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl AttrGroup {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A state (`gyldighed`, `publiceret`, `fremdrift` …); the wire key is class name + state name.
#[derive(Debug, Clone, Copy)]
pub struct StateSpec {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    ZeroToOne,
    ZeroToMany,
}

/// Extra keys a relation entry may carry besides its target, `objekttype`, `indeks` and `virkning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    /// A plain relation: target by `uuid` or `urn`.
    Plain,
    /// Sag `journalpost`: `journalpostkode` plus `journalnotat` / `journaldokument`.
    Journalpost,
    /// Aktivitet relations: optional `aktoerattr` {accepteret, obligatorisk, repraesentation_uuid|urn}.
    Aktoer,
    /// Tilstand `tilstandsvaerdi`: no target, optional `tilstandsvaerdiattr` {forventet, nominelvaerdi}.
    Tilstandsvaerdi,
    /// SF1500 v6's `DynamicFlerRelationType` (Organisation `adresser`, OrganisationEnhed
    /// `opgaver`): optional `rolle` and `type` ({`uuid`|`urn`, `label`}) and a text `indeks`
    /// (`../shared/specs/sf1500-organisation/v6/xsd/common/SagDokObjekt.xsd`).
    Dynamisk,
    /// The index relations of SF1470/SF1490 v6 (`gd:RelationType` of
    /// `../shared/specs/sf1470-sagdokumentindeks/wsdl/xsd/6.0.STS-0/GenerelleDefinitioner.xsd`):
    /// optional `rolle` and `type` (`{uuid|urn}`), a text `indeks`, and `detaljer`, an object
    /// holding what the wire form adds to the relation (its `LokalUdvidelseListe`, Journalpost
    /// `JournalpostEgenskaber`, an IT-system's `SystemNavn`), kept as given and not searched.
    Indeks,
}

#[derive(Debug, Clone, Copy)]
pub struct RelSpec {
    pub name: &'static str,
    pub card: Cardinality,
    pub kind: RelKind,
}

/// Where a type's declaration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// One of LoRa's 15 classes.
    LoRa,
    /// A type of the SF1500 v6 XSDs that LoRa lacks.
    V6,
    /// An index type of SF1470/SF1490 (declared in `fki-indeks`, not in [`CLASSES`]): written
    /// only through its SOAP service, where the index rules apply, never through the REST API.
    Indeks,
}

/// One object type.
#[derive(Debug)]
pub struct ClassSpec {
    /// First REST path segment (`organisation`, `klassifikation`, `sag` …).
    pub service: &'static str,
    /// Second REST path segment and prefix of the group keys (`organisationenhed`).
    pub name: &'static str,
    pub attributes: &'static [AttrGroup],
    pub states: &'static [StateSpec],
    pub relations: &'static [RelSpec],
    /// Whether the 0..n relations carry `indeks` (Sag, Tilstand, Aktivitet, Indsats).
    pub indexed: bool,
    /// Dokument: `varianter` with `egenskaber` and `dele`.
    pub varianter: bool,
    /// Whether mandatory fields are enforced on create (LoRa does not for Dokument).
    pub enforce_mandatory: bool,
    /// `/fields` lists `tilstande` as `[state, [values]]` pairs (tilstand, aktivitet, indsats).
    pub states_as_pairs: bool,
    pub origin: Origin,
}

impl ClassSpec {
    pub fn attr_group(&self, name: &str) -> Option<&'static AttrGroup> {
        self.attributes.iter().find(|g| g.name == name)
    }
    pub fn state(&self, name: &str) -> Option<&'static StateSpec> {
        self.states.iter().find(|s| s.name == name)
    }
    pub fn relation(&self, name: &str) -> Option<&'static RelSpec> {
        self.relations.iter().find(|r| r.name == name)
    }
    /// The wire key of an attribute group or state: class name + short name.
    pub fn key(&self, short: &str) -> String {
        format!("{}{}", self.name, short)
    }
    /// The short name of an attribute group from its wire key (`organisationenhedegenskaber`).
    pub fn attr_group_by_key(&self, key: &str) -> Option<&'static AttrGroup> {
        key.strip_prefix(self.name).and_then(|s| self.attr_group(s))
    }
    pub fn state_by_key(&self, key: &str) -> Option<&'static StateSpec> {
        key.strip_prefix(self.name).and_then(|s| self.state(s))
    }
    /// The field used for paging and sorting.
    pub fn bvn_group(&self) -> &'static AttrGroup {
        &self.attributes[0]
    }
    /// Find an attribute field by name across the groups.
    pub fn find_field(&self, name: &str) -> Option<(&'static AttrGroup, &'static Field)> {
        self.attributes
            .iter()
            .find_map(|g| g.field(name).map(|f| (g, f)))
    }
}

/// The full table of object types.
pub fn classes() -> &'static [ClassSpec] {
    CLASSES
}

/// Look a class up by service and name (both lower case, as in the REST path).
pub fn class(service: &str, name: &str) -> Option<&'static ClassSpec> {
    CLASSES
        .iter()
        .find(|c| c.service == service && c.name == name)
}

/// Look a class up by name alone (class names are unique across services).
pub fn class_by_name(name: &str) -> Option<&'static ClassSpec> {
    CLASSES.iter().find(|c| c.name == name)
}

/// The services in the order of the table, without duplicates.
pub fn services() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in CLASSES {
        if !out.contains(&c.service) {
            out.push(c.service);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Building blocks of the table.

const fn t(name: &'static str) -> Field {
    Field {
        name,
        typ: FieldType::Text,
        mandatory: false,
    }
}
const fn tm(name: &'static str) -> Field {
    Field {
        name,
        typ: FieldType::Text,
        mandatory: true,
    }
}
const fn f(name: &'static str, typ: FieldType) -> Field {
    Field {
        name,
        typ,
        mandatory: false,
    }
}
const fn fm(name: &'static str, typ: FieldType) -> Field {
    Field {
        name,
        typ,
        mandatory: true,
    }
}
const BVN: Field = tm("brugervendtnoegle");
const INTEGRATIONSDATA: Field = t("integrationsdata");

const fn one(name: &'static str) -> RelSpec {
    RelSpec {
        name,
        card: Cardinality::ZeroToOne,
        kind: RelKind::Plain,
    }
}
const fn many(name: &'static str) -> RelSpec {
    RelSpec {
        name,
        card: Cardinality::ZeroToMany,
        kind: RelKind::Plain,
    }
}
const fn dyn_many(name: &'static str) -> RelSpec {
    RelSpec {
        name,
        card: Cardinality::ZeroToMany,
        kind: RelKind::Dynamisk,
    }
}
const fn aktoer_one(name: &'static str) -> RelSpec {
    RelSpec {
        name,
        card: Cardinality::ZeroToOne,
        kind: RelKind::Aktoer,
    }
}
const fn aktoer_many(name: &'static str) -> RelSpec {
    RelSpec {
        name,
        card: Cardinality::ZeroToMany,
        kind: RelKind::Aktoer,
    }
}

const GYLDIGHED: &[StateSpec] = &[StateSpec {
    name: "gyldighed",
    values: &["Aktiv", "Inaktiv"],
}];
const PUBLICERET: &[StateSpec] = &[StateSpec {
    name: "publiceret",
    values: &["Publiceret", "IkkePubliceret"],
}];

/// The ten 0..n relations shared by organisation and organisationenhed.
macro_rules! org_many {
    () => {
        [
            dyn_many("adresser"),
            many("ansatte"),
            many("opgaver"),
            many("tilknyttedebrugere"),
            many("tilknyttedeenheder"),
            many("tilknyttedefunktioner"),
            many("tilknyttedeinteressefaellesskaber"),
            many("tilknyttedeorganisationer"),
            many("tilknyttedepersoner"),
            many("tilknyttedeitsystemer"),
        ]
    };
}

macro_rules! class {
    (
        $service:literal / $name:literal,
        attrs: [$($field:expr),* $(,)?],
        states: $states:expr,
        rels: [$($rel:expr),* $(,)?]
        $(, $opt:ident: $val:expr)* $(,)?
    ) => {
        ClassSpec {
            service: $service,
            name: $name,
            attributes: &[AttrGroup { name: "egenskaber", fields: &[$($field),*] }],
            states: $states,
            relations: &[$($rel),*],
            $($opt: $val,)*
            ..ClassSpec::DEFAULTS
        }
    };
}

impl ClassSpec {
    const DEFAULTS: ClassSpec = ClassSpec {
        service: "",
        name: "",
        attributes: &[],
        states: &[],
        relations: &[],
        indexed: false,
        varianter: false,
        enforce_mandatory: true,
        states_as_pairs: false,
        origin: Origin::LoRa,
    };
}

use Cardinality::ZeroToMany;
use FieldType::*;

static CLASSES: &[ClassSpec] = &[
    // ---- klassifikation -----------------------------------------------------------------
    class!("klassifikation" / "facet",
        attrs: [BVN, t("beskrivelse"), t("opbygning"), t("ophavsret"), t("plan"), t("supplement"),
                t("retskilde"), t("titel"), INTEGRATIONSDATA],
        states: PUBLICERET,
        rels: [one("ansvarlig"), one("ejer"), one("facettilhoerer"), many("redaktoerer")]),
    // `sortering` and the dynamic `mapninger` (rolle, type, indeks) are SF1510 Klasse v7's
    // (`../shared/specs/sf1510-klassifikation/klasse-v7-sample/Klasse.xsd`); both optional.
    class!("klassifikation" / "klasse",
        attrs: [BVN, tm("titel"), t("beskrivelse"), t("eksempel"), t("omfang"), t("retskilde"),
                t("aendringsnotat"), f("soegeord", Soegeord), t("sortering"), INTEGRATIONSDATA],
        states: PUBLICERET,
        rels: [one("ejer"), one("ansvarlig"), one("overordnetklasse"), one("facet"),
               many("redaktoerer"), many("sideordnede"), dyn_many("mapninger"), many("tilfoejelser"),
               many("erstatter"), many("lovligekombinationer")]),
    class!("klassifikation" / "klassifikation",
        attrs: [BVN, t("beskrivelse"), t("kaldenavn"), t("ophavsret"), t("titel"), INTEGRATIONSDATA],
        states: PUBLICERET,
        rels: [one("ansvarlig"), one("ejer")]),
    // ---- organisation -------------------------------------------------------------------
    class!("organisation" / "bruger",
        attrs: [BVN, t("brugernavn"), t("brugertype"), INTEGRATIONSDATA],
        states: GYLDIGHED,
        rels: [one("tilhoerer"), dyn_many("adresser"), many("brugertyper"), many("opgaver"),
               many("tilknyttedeenheder"), many("tilknyttedefunktioner"),
               many("tilknyttedeinteressefaellesskaber"), many("tilknyttedeorganisationer"),
               many("tilknyttedepersoner"), many("tilknyttedeitsystemer")]),
    class!("organisation" / "interessefaellesskab",
        attrs: [BVN, t("interessefaellesskabsnavn"), t("interessefaellesskabstype"),
                INTEGRATIONSDATA],
        states: GYLDIGHED,
        rels: [one("branche"), one("interessefaellesskabstype"), one("overordnet"),
               one("tilhoerer"), dyn_many("adresser"), many("opgaver"), many("tilknyttedebrugere"),
               many("tilknyttedeenheder"), many("tilknyttedefunktioner"),
               many("tilknyttedeinteressefaellesskaber"), many("tilknyttedeorganisationer"),
               many("tilknyttedepersoner"), many("tilknyttedeitsystemer")]),
    class!("organisation" / "itsystem",
        attrs: [BVN, t("itsystemnavn"), t("itsystemtype"), f("konfigurationreference", TextList),
                INTEGRATIONSDATA],
        states: GYLDIGHED,
        rels: [one("tilhoerer"), many("tilknyttedeorganisationer"), many("tilknyttedeenheder"),
               many("tilknyttedefunktioner"), many("tilknyttedebrugere"),
               many("tilknyttedeinteressefaellesskaber"), many("tilknyttedeitsystemer"),
               many("tilknyttedepersoner"), many("systemtyper"), many("opgaver"),
               dyn_many("adresser")]),
    ClassSpec {
        service: "organisation",
        name: "organisation",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[BVN, t("organisationsnavn"), INTEGRATIONSDATA],
        }],
        states: GYLDIGHED,
        relations: &{
            let m = org_many!();
            [
                one("branche"),
                one("myndighed"),
                one("myndighedstype"),
                one("organisationstype"),
                one("overordnet"),
                one("produktionsenhed"),
                one("skatteenhed"),
                one("tilhoerer"),
                one("virksomhed"),
                one("virksomhedstype"),
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5],
                m[6],
                m[7],
                m[8],
                m[9],
            ]
        },
        ..ClassSpec::DEFAULTS
    },
    ClassSpec {
        service: "organisation",
        name: "organisationenhed",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[BVN, t("enhedsnavn"), INTEGRATIONSDATA],
        }],
        states: GYLDIGHED,
        relations: &{
            let m = org_many!();
            [
                one("branche"),
                one("enhedstype"),
                one("overordnet"),
                one("produktionsenhed"),
                one("skatteenhed"),
                one("tilhoerer"),
                m[0],
                m[1],
                dyn_many("opgaver"),
                m[3],
                m[4],
                m[5],
                m[6],
                m[7],
                m[8],
                m[9],
            ]
        },
        ..ClassSpec::DEFAULTS
    },
    class!("organisation" / "organisationfunktion",
        attrs: [BVN, t("funktionsnavn"), INTEGRATIONSDATA],
        states: GYLDIGHED,
        rels: [one("organisatoriskfunktionstype"), dyn_many("adresser"), many("opgaver"),
               many("tilknyttedebrugere"), many("tilknyttedeenheder"),
               many("tilknyttedeorganisationer"), many("tilknyttedeitsystemer"),
               many("tilknyttedeinteressefaellesskaber"), many("tilknyttedepersoner"),
               many("tilknyttedefunktioner")]),
    // v6 types without states or relations (SF1500 v6 XSDs, see module docs).
    class!("organisation" / "adresse",
        attrs: [BVN, t("adresse"), INTEGRATIONSDATA],
        states: &[], rels: [], origin: Origin::V6),
    class!("organisation" / "person",
        attrs: [BVN, t("cprnr"), t("navn"), INTEGRATIONSDATA],
        states: &[], rels: [], origin: Origin::V6),
    class!("organisation" / "virksomhed",
        attrs: [BVN, t("cvr-nummer"), t("se-nummer"), t("p-nummer"), t("navn"), INTEGRATIONSDATA],
        states: &[], rels: [], origin: Origin::V6),
    class!("organisation" / "myndighed",
        attrs: [BVN, t("cvrnr"), t("navn"), t("myndighedskode"), INTEGRATIONSDATA],
        states: &[], rels: [], origin: Origin::V6),
    // ---- sag ----------------------------------------------------------------------------
    ClassSpec {
        service: "sag",
        name: "sag",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[
                BVN,
                tm("beskrivelse"),
                tm("kassationskode"),
                tm("sagsnummer"),
                tm("titel"),
                t("hjemmel"),
                f("afleveret", Bool),
                f("principiel", Bool),
                f("offentlighedundtaget", OffentlighedUndtaget),
                INTEGRATIONSDATA,
            ],
        }],
        states: &[StateSpec {
            name: "fremdrift",
            values: &[
                "Opstaaet",
                "Oplyst",
                "Afgjort",
                "Bestilt",
                "Udfoert",
                "Afsluttet",
            ],
        }],
        relations: &[
            one("behandlingarkiv"),
            one("afleveringsarkiv"),
            one("primaerklasse"),
            one("opgaveklasse"),
            one("handlingsklasse"),
            one("kontoklasse"),
            one("sikkerhedsklasse"),
            one("foelsomhedsklasse"),
            one("indsatsklasse"),
            one("ydelsesklasse"),
            one("ejer"),
            one("ansvarlig"),
            one("primaerbehandler"),
            one("udlaanttil"),
            one("primaerpart"),
            one("ydelsesmodtager"),
            one("oversag"),
            one("praecedens"),
            one("afgiftsobjekt"),
            one("ejendomsskat"),
            many("andetarkiv"),
            many("andrebehandlere"),
            many("sekundaerpart"),
            many("andresager"),
            many("byggeri"),
            many("fredning"),
            RelSpec {
                name: "journalpost",
                card: ZeroToMany,
                kind: RelKind::Journalpost,
            },
        ],
        indexed: true,
        ..ClassSpec::DEFAULTS
    },
    // ---- dokument -----------------------------------------------------------------------
    ClassSpec {
        service: "dokument",
        name: "dokument",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[
                BVN,
                tm("beskrivelse"),
                fm("brevdato", Date),
                tm("dokumenttype"),
                tm("titel"),
                t("kassationskode"),
                f("major", Int),
                f("minor", Int),
                f("offentlighedundtaget", OffentlighedUndtaget),
                INTEGRATIONSDATA,
            ],
        }],
        states: &[StateSpec {
            name: "fremdrift",
            values: &[
                "Modtaget",
                "Fordelt",
                "Underudarbejdelse",
                "Underreview",
                "Publiceret",
                "Endeligt",
                "Afleveret",
            ],
        }],
        relations: &[
            one("nyrevision"),
            one("primaerklasse"),
            one("ejer"),
            one("ansvarlig"),
            one("primaerbehandler"),
            one("fordelttil"),
            many("arkiver"),
            many("besvarelser"),
            many("udgangspunkter"),
            many("kommentarer"),
            many("bilag"),
            many("andredokumenter"),
            many("andreklasser"),
            many("andrebehandlere"),
            many("parter"),
            many("kopiparter"),
            many("tilknyttedesager"),
        ],
        varianter: true,
        enforce_mandatory: false,
        ..ClassSpec::DEFAULTS
    },
    // ---- tilstand -----------------------------------------------------------------------
    ClassSpec {
        service: "tilstand",
        name: "tilstand",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[BVN, t("beskrivelse"), INTEGRATIONSDATA],
        }],
        states: &[
            StateSpec {
                name: "status",
                values: &["Inaktiv", "Aktiv"],
            },
            StateSpec {
                name: "publiceret",
                values: &["Publiceret", "IkkePubliceret", "Normal"],
            },
        ],
        relations: &[
            one("tilstandsobjekt"),
            one("tilstandstype"),
            RelSpec {
                name: "tilstandsvaerdi",
                card: ZeroToMany,
                kind: RelKind::Tilstandsvaerdi,
            },
            many("begrundelse"),
            many("tilstandskvalitet"),
            many("tilstandsvurdering"),
            many("tilstandsaktoer"),
            many("tilstandsudstyr"),
            many("samtykke"),
            many("tilstandsdokument"),
        ],
        indexed: true,
        states_as_pairs: true,
        ..ClassSpec::DEFAULTS
    },
    // ---- aktivitet ----------------------------------------------------------------------
    ClassSpec {
        service: "aktivitet",
        name: "aktivitet",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[
                BVN,
                t("aktivitetnavn"),
                t("beskrivelse"),
                t("formaal"),
                f("starttidspunkt", Timestamp),
                f("sluttidspunkt", Timestamp),
                f("tidsforbrug", Interval),
                INTEGRATIONSDATA,
            ],
        }],
        states: &[
            StateSpec {
                name: "status",
                values: &["Inaktiv", "Aktiv", "Aflyst"],
            },
            StateSpec {
                name: "publiceret",
                values: &["Publiceret", "IkkePubliceret", "Normal"],
            },
        ],
        relations: &[
            aktoer_one("aktivitetstype"),
            aktoer_one("emne"),
            aktoer_one("foelsomhedklasse"),
            aktoer_one("ansvarligklasse"),
            aktoer_one("rekvirentklasse"),
            aktoer_one("ansvarlig"),
            aktoer_one("tilhoerer"),
            aktoer_many("udfoererklasse"),
            aktoer_many("deltagerklasse"),
            aktoer_many("objektklasse"),
            aktoer_many("resultatklasse"),
            aktoer_many("grundlagklasse"),
            aktoer_many("facilitetklasse"),
            aktoer_many("adresse"),
            aktoer_many("geoobjekt"),
            aktoer_many("position"),
            aktoer_many("facilitet"),
            aktoer_many("lokale"),
            aktoer_many("aktivitetdokument"),
            aktoer_many("aktivitetgrundlag"),
            aktoer_many("aktivitetresultat"),
            aktoer_many("udfoerer"),
            aktoer_many("deltager"),
        ],
        indexed: true,
        states_as_pairs: true,
        ..ClassSpec::DEFAULTS
    },
    // ---- indsats ------------------------------------------------------------------------
    ClassSpec {
        service: "indsats",
        name: "indsats",
        attributes: &[AttrGroup {
            name: "egenskaber",
            fields: &[
                BVN,
                t("beskrivelse"),
                f("starttidspunkt", Timestamp),
                f("sluttidspunkt", Timestamp),
                INTEGRATIONSDATA,
            ],
        }],
        states: &[
            StateSpec {
                name: "publiceret",
                values: &["Publiceret", "IkkePubliceret", "Normal"],
            },
            StateSpec {
                name: "fremdrift",
                values: &["Uoplyst", "Visiteret", "Disponeret", "Leveret", "Vurderet"],
            },
        ],
        relations: &[
            one("indsatsmodtager"),
            one("indsatstype"),
            many("indsatskvalitet"),
            many("indsatsaktoer"),
            many("samtykke"),
            many("indsatssag"),
            many("indsatsdokument"),
        ],
        indexed: true,
        states_as_pairs: true,
        ..ClassSpec::DEFAULTS
    },
    // ---- log ----------------------------------------------------------------------------
    class!("log" / "loghaendelse",
        attrs: [tm("tidspunkt"), t("service"), t("klasse"), t("operation"), t("objekttype"),
                t("returkode"), t("returtekst"), t("note"), INTEGRATIONSDATA],
        states: &[StateSpec { name: "gyldighed", values: &["Rettet", "Ikke rettet"] }],
        rels: [one("objekt"), one("bruger"), one("brugerrolle")]),
];

/// Fields of a Dokument variant's `egenskaber` (contract §3.3).
pub const VARIANT_FIELDS: &[Field] = &[
    f("arkivering", Bool),
    f("delvisscannet", Bool),
    f("offentliggoerelse", Bool),
    f("produktion", Bool),
];

/// Fields of a Dokument part's `egenskaber` (contract §3.3).
pub const DEL_FIELDS: &[Field] = &[f("indeks", Int), t("indhold"), t("lokation"), t("mimetype")];

/// The single relation type of Dokument parts.
pub const DEL_RELATIONS: &[RelSpec] = &[many("underredigeringaf")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in classes() {
            assert!(seen.insert(c.name), "duplicate class {}", c.name);
            assert_eq!(c.name, c.name.to_lowercase());
            assert!(
                !c.attributes.is_empty(),
                "{} has no attribute group",
                c.name
            );
            let mut rels = std::collections::HashSet::new();
            for r in c.relations {
                assert!(
                    rels.insert(r.name),
                    "{}: duplicate relation {}",
                    c.name,
                    r.name
                );
            }
            let mut fields = std::collections::HashSet::new();
            for g in c.attributes {
                for f in g.fields {
                    assert!(
                        fields.insert(f.name),
                        "{}: duplicate field {}",
                        c.name,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_class_but_loghaendelse_has_a_mandatory_bvn() {
        for c in classes() {
            let has = c.find_field("brugervendtnoegle").map(|(_, f)| f.mandatory);
            if c.name == "loghaendelse" {
                assert_eq!(has, None);
            } else {
                assert_eq!(has, Some(true), "{}", c.name);
            }
        }
    }

    #[test]
    fn the_table_holds_every_type_the_foundation_names() {
        for name in [
            "organisation",
            "organisationenhed",
            "organisationfunktion",
            "bruger",
            "interessefaellesskab",
            "itsystem",
            "facet",
            "klasse",
            "klassifikation",
            "adresse",
            "person",
            "virksomhed",
            "myndighed",
            "sag",
            "dokument",
            "aktivitet",
            "indsats",
            "tilstand",
            "loghaendelse",
        ] {
            assert!(class_by_name(name).is_some(), "{name} missing");
        }
        assert_eq!(
            class("organisation", "organisationenhed")
                .unwrap()
                .relations
                .len(),
            16
        );
        assert!(class("sag", "sag").unwrap().indexed);
    }
}
