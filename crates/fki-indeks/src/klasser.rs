//! The index types as engine classes (`fki_oio::spec::ClassSpec`), declared here rather than in
//! the engine's table: they are written only through their SOAP services, where the index
//! rules apply ([`Origin::Indeks`]), so the REST API does not serve them.
//!
//! Sources: `../shared/specs/sf1470-sagdokumentindeks/wsdl/xsd/6.0.STS-0/Sag.xsd`
//! (`EgenskaberType`, `FremdriftStatusKodeType`, `RelationListeType`), `SagIndeks.xsd`
//! (`si:SagIndeksEgenskaber`, `Sikkerhedsprofil`, `SagsitsystemRelation`), `DokumentIndeks.xsd`;
//! for SF1490 `../shared/specs/sf1490-ydelsesindeks/xsd/6.0.STS-0/BevillingIndeks.xsd` and
//! `OekonomiskEffektueringIndeks.xsd` (the wire side: [`crate::ydelse`]).
//!
//! Besides the wire's fields each type has the group `ejer` with the field `system`: the
//! anvendersystem that wrote the entry (issue 6: only the owner may change or remove it). The
//! server sets it; the wire never carries it.

use fki_oio::spec::{
    AttrGroup, Cardinality, ClassSpec, Field, FieldType, Origin, RelKind, RelSpec, StateSpec,
};

const fn t(name: &'static str) -> Field {
    Field {
        name,
        typ: FieldType::Text,
        mandatory: false,
    }
}
const fn f(name: &'static str, typ: FieldType) -> Field {
    Field {
        name,
        typ,
        mandatory: false,
    }
}
const fn rel(name: &'static str) -> RelSpec {
    RelSpec {
        name,
        card: Cardinality::ZeroToMany,
        kind: RelKind::Indeks,
    }
}

/// The owner group: which anvendersystem wrote the entry.
pub const EJER: AttrGroup = AttrGroup {
    name: "ejer",
    fields: &[t("system")],
};

/// The service segment of the index classes (facts, events: `urn:oio:objekttype:sagindeks`).
pub const SERVICE: &str = "sagdokumentindeks";

/// A Sag in the index (`sag:SagType`).
pub static SAGINDEKS: ClassSpec = ClassSpec {
    service: SERVICE,
    name: "sagindeks",
    attributes: &[
        AttrGroup {
            name: "egenskaber",
            fields: &[
                t("brugervendtnoegle"),
                f("afleveret", FieldType::Bool),
                t("beskrivelse"),
                t("hjemmel"),
                t("kassationskode"),
                f("offentlighedundtaget", FieldType::OffentlighedUndtaget),
                f("principiel", FieldType::Bool),
                t("sagsnummer"),
                t("titel"),
            ],
        },
        // si:SagIndeksEgenskaber, carried in the AttributListe's LokalUdvidelseListe.
        AttrGroup {
            name: "indeksegenskaber",
            fields: &[
                t("sagsstatus"),
                t("sagskategori"),
                t("foelsomhed"),
                t("lokation"),
                f("oprettettidspunkt", FieldType::Timestamp),
            ],
        },
        EJER,
    ],
    states: &[StateSpec {
        name: "fremdrift",
        values: &["Opstaaet", "Oplyst", "Afgjort", "Afsluttet"],
    }],
    relations: &[
        rel("sagsaktoer"),
        rel("sagsklasse"),
        rel("sagspart"),
        rel("sagsrelation"),
        rel("sagsgenstande"),
        rel("journalpost"),
        rel("sikkerhedsprofil"),
        rel("sagsitsystem"),
    ],
    indexed: false,
    varianter: false,
    enforce_mandatory: false,
    states_as_pairs: false,
    origin: Origin::Indeks,
};

/// A Dokument in the index (`di:DokumentIndeksType`).
pub static DOKUMENTINDEKS: ClassSpec = ClassSpec {
    service: SERVICE,
    name: "dokumentindeks",
    attributes: &[
        AttrGroup {
            name: "egenskaber",
            fields: &[
                t("brugervendtnoegle"),
                t("titel"),
                t("beskrivelse"),
                f("brevdato", FieldType::Date),
                f("offentlighedundtaget", FieldType::OffentlighedUndtaget),
                f("major", FieldType::Int),
                f("minor", FieldType::Int),
                t("kassationskode"),
                t("dokumentnummer"),
                t("foelsomhed"),
                t("type"),
            ],
        },
        EJER,
    ],
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
        rel("dokumentrelation"),
        rel("dokumentaktoer"),
        rel("dokumentpart"),
        rel("dokumentklasse"),
        rel("sikkerhedsprofil"),
        rel("dokumentitsystem"),
    ],
    indexed: false,
    varianter: false,
    enforce_mandatory: false,
    states_as_pairs: false,
    origin: Origin::Indeks,
};

/// The service segment of the Ydelsesindeks classes (facts, events:
/// `urn:oio:objekttype:bevillingindeks`).
pub const SERVICE_YDELSE: &str = "ydelsesindeks";

/// A Bevilling in the Ydelsesindeks (`bi:BevillingIndeksType`). Neither it nor the
/// effektuering has a tilstand (their TilstandListe holds only a LokalUdvidelseListe).
///
/// A Bevilling's `BevilgetYdelse`s (`bi:BevilgetYdelseType`) are not an attribute group: several
/// are granted at once, in the same period, and an attribute group's entries may not overlap in
/// time. Each is one entry of the relation `bevilgetydelse` (its own Virkning, `indeks` = its
/// `Id`, the target `urn:sts:bevilling:<uuid>:Ydelse:<Id>` after the schema's comment on
/// `BevilgetYdelseRef`), the element kept whole in `detaljer`; its references are the
/// index-only relations `ydelsesitsystem`, `ydelse`, `ydelsesklasse` (searchable, checked by
/// the rules, never written on the wire).
pub static BEVILLINGINDEKS: ClassSpec = ClassSpec {
    service: SERVICE_YDELSE,
    name: "bevillingindeks",
    attributes: &[
        AttrGroup {
            name: "egenskaber",
            fields: &[
                t("brugervendtnoegle"),
                // xs:string in the schema (BevillingIndeks.xsd:137-138), not dates.
                t("startdato"),
                t("slutdato"),
                t("begrundelse"),
                t("foelsomhed"),
            ],
        },
        EJER,
    ],
    states: &[],
    relations: &[
        rel("bevillingssag"),
        rel("bevillingspart"),
        rel("bevillingsaktoer"),
        rel("sikkerhedsprofil"),
        rel("bevilgetydelse"),
        rel("ydelsesitsystem"),
        rel("ydelse"),
        rel("ydelsesklasse"),
    ],
    indexed: false,
    varianter: false,
    enforce_mandatory: false,
    states_as_pairs: false,
    origin: Origin::Indeks,
};

/// An OekonomiskEffektuering (a payment) in the Ydelsesindeks
/// (`oef:OekonomiskEffektueringIndeksType`). Its `bevilling` relation is index-only: derived
/// from each OekonomiskYdelseEffektueringRelation's `BevilgetYdelseRef` (target the Bevilling,
/// `indeks` the BevilgetYdelse's Id).
pub static OEKONOMISKEFFEKTUERINGINDEKS: ClassSpec = ClassSpec {
    service: SERVICE_YDELSE,
    name: "oekonomiskeffektueringindeks",
    attributes: &[
        AttrGroup {
            name: "egenskaber",
            fields: &[
                t("brugervendtnoegle"),
                f("startdato", FieldType::Timestamp),
                f("slutdato", FieldType::Timestamp),
                t("samletbruttobeloeb"),
                f("dispositionsdato", FieldType::Timestamp),
                t("beloebefterskatatp"),
                t("beloebsendttiludbetaling"),
                t("beloebudbetalt"),
                t("udbetalingsafdeling"),
                t("sendttiludbetalingtekst"),
                t("udbetalttekst"),
            ],
        },
        EJER,
    ],
    states: &[],
    relations: &[
        rel("oekonomiskydelseeffektuering"),
        rel("aktoer"),
        rel("itsystem"),
        rel("oekonomiskeffektueringpart"),
        rel("bevilling"),
    ],
    indexed: false,
    varianter: false,
    enforce_mandatory: false,
    states_as_pairs: false,
    origin: Origin::Indeks,
};

/// Every index class.
pub fn alle() -> [&'static ClassSpec; 4] {
    [
        &SAGINDEKS,
        &DOKUMENTINDEKS,
        &BEVILLINGINDEKS,
        &OEKONOMISKEFFEKTUERINGINDEKS,
    ]
}

/// The index class named `navn`.
pub fn ved_navn(navn: &str) -> Option<&'static ClassSpec> {
    alle().into_iter().find(|c| c.name == navn)
}
