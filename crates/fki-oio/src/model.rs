//! The bitemporal data model: an object is a chain of registreringer in transaction time; each
//! registrering holds attributes, states and relations whose values each carry a `virkning`
//! (valid-time period).
//!
//! These types are transport-neutral: the LoRa JSON codec (`json.rs`) and later the SOAP codecs
//! translate to and from them. They are also the stored form: a registrering's [`Data`] is kept as
//! JSON in the store, next to the search facts derived from it ([`crate::fakta`]).
//!
//! Group, state and relation maps are keyed by *short* names (`egenskaber`, `gyldighed`,
//! `tilhoerer`); the class-prefixed wire keys exist only in the JSON codec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::time::{NEG_INF, POS_INF, Ts};

/// A valid-time period `[from, to)` with its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virkning {
    pub from: Ts,
    pub to: Ts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aktoerref: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aktoertypekode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notetekst: Option<String>,
}

impl Virkning {
    pub fn new(from: Ts, to: Ts) -> Self {
        Virkning {
            from,
            to,
            aktoerref: None,
            aktoertypekode: None,
            notetekst: None,
        }
    }
    pub fn always() -> Self {
        Virkning::new(NEG_INF, POS_INF)
    }
    pub fn overlaps(&self, from: Ts, to: Ts) -> bool {
        self.from < to && from < self.to
    }
    /// The same metadata over another period.
    pub fn with_period(&self, from: Ts, to: Ts) -> Self {
        Virkning {
            from,
            to,
            ..self.clone()
        }
    }
    pub fn same_meta(&self, other: &Virkning) -> bool {
        self.aktoerref == other.aktoerref
            && self.aktoertypekode == other.aktoertypekode
            && self.notetekst == other.notetekst
    }
}

/// Anything that carries a virkning.
pub trait HasVirkning {
    fn virkning(&self) -> &Virkning;
    fn virkning_mut(&mut self) -> &mut Virkning;
}

/// One period of an attribute group: the supplied fields (by name) and the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrEntry {
    pub felter: Map<String, Value>,
    pub virkning: Virkning,
}

/// One period of a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateEntry {
    pub vaerdi: String,
    pub virkning: Virkning,
}

/// The target of a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Maal {
    Uuid(Uuid),
    Urn(String),
    /// A blank entry (`uuid: ""` and `urn: ""`): no target in this period.
    Ingen,
    /// A Tilstand `tilstandsvaerdi` entry: a value, which has no target by nature.
    Vaerdi,
}

impl Maal {
    /// The searchable text of the target (lower-case UUID or the URN as given).
    pub fn key(&self) -> Option<String> {
        match self {
            Maal::Uuid(u) => Some(u.to_string()),
            Maal::Urn(u) => Some(u.clone()),
            Maal::Ingen | Maal::Vaerdi => None,
        }
    }
}

/// One period of a relation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelEntry {
    pub maal: Maal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objekttype: Option<String>,
    /// Position in an indexed 0..n relation (Sag, Tilstand, Aktivitet, Indsats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indeks: Option<i64>,
    /// Kind-specific keys (`journalpostkode`, `journalnotat`, `journaldokument`, `aktoerattr`,
    /// `tilstandsvaerdiattr`), validated by the codec against the relation's [`crate::spec::RelKind`].
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub ekstra: Map<String, Value>,
    pub virkning: Virkning,
}

macro_rules! has_virkning {
    ($($t:ty),*) => {$(
        impl HasVirkning for $t {
            fn virkning(&self) -> &Virkning { &self.virkning }
            fn virkning_mut(&mut self) -> &mut Virkning { &mut self.virkning }
        }
    )*};
}
has_virkning!(AttrEntry, StateEntry, RelEntry);

/// A Dokument part (`del`), keyed by `deltekst` within its variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Del {
    pub deltekst: String,
    /// `None` in a change means "keep"; in stored data it is treated as empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egenskaber: Option<Vec<AttrEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationer: Option<BTreeMap<String, Vec<RelEntry>>>,
}

/// A Dokument variant, keyed by `varianttekst`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub varianttekst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egenskaber: Option<Vec<AttrEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dele: Option<Vec<Del>>,
}

/// The content of a registrering, or (in a change) the parts a request supplies.
///
/// In a change, a key that is absent from a map means "carry over"; a key present with an empty
/// list means "clear". `varianter: None` likewise means "carry over".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Data {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributter: BTreeMap<String, Vec<AttrEntry>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tilstande: BTreeMap<String, Vec<StateEntry>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub relationer: BTreeMap<String, Vec<RelEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub varianter: Option<Vec<Variant>>,
}

/// A write request as the engine sees it, whatever transport it came over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aendring {
    pub note: Option<String>,
    /// LoRa's `livscyklus` key: `Passiv` (any case) on PATCH turns the call into a passivation.
    pub livscyklus: Option<String>,
    pub data: Data,
}

/// The lifecycle code of a registrering (contract §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Livscyklus {
    Opstaaet,
    Importeret,
    Passiveret,
    Slettet,
    Rettet,
}

impl Livscyklus {
    pub const ALL: [Livscyklus; 5] = [
        Livscyklus::Opstaaet,
        Livscyklus::Importeret,
        Livscyklus::Passiveret,
        Livscyklus::Slettet,
        Livscyklus::Rettet,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Livscyklus::Opstaaet => "Opstaaet",
            Livscyklus::Importeret => "Importeret",
            Livscyklus::Passiveret => "Passiveret",
            Livscyklus::Slettet => "Slettet",
            Livscyklus::Rettet => "Rettet",
        }
    }
    pub fn parse(s: &str) -> Option<Livscyklus> {
        Livscyklus::ALL.into_iter().find(|l| l.as_str() == s)
    }
    /// The transition table of contract §6.
    pub fn may_become(self, next: Livscyklus) -> bool {
        use Livscyklus::*;
        matches!(
            (self, next),
            (
                Opstaaet | Importeret | Rettet,
                Passiveret | Slettet | Rettet
            ) | (Passiveret, Importeret | Slettet)
                | (Slettet, Importeret)
        )
    }
}

/// Transaction-time facts of a registrering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistreringMeta {
    /// Registered from (inclusive).
    pub fra: Ts,
    /// Registered until (exclusive); `POS_INF` for the current registrering.
    pub til: Ts,
    pub livscyklus: Livscyklus,
    pub brugerref: Option<Uuid>,
    pub note: Option<String>,
}

/// A registrering as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Registrering {
    /// The store's row id (used to close it).
    pub id: i64,
    pub meta: RegistreringMeta,
    pub data: Data,
}

/// The object row: identity, type and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objekt {
    pub uuid: Uuid,
    pub klasse: String,
    /// The owning myndighed (CVR number), if any.
    pub myndighed: Option<String>,
    /// Fælleskommunal: readable under any agreement for the service; writable by its owner only.
    pub faelles: bool,
}

/// Prune `null`, `""` and empty arrays/objects from a JSON map (used on output).
pub fn prune_empty(map: &mut Map<String, Value>) {
    map.retain(|_, v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_table_matches_the_contract() {
        use Livscyklus::*;
        let allowed = |a: Livscyklus| -> Vec<Livscyklus> {
            Livscyklus::ALL
                .into_iter()
                .filter(|b| a.may_become(*b))
                .collect()
        };
        assert_eq!(allowed(Opstaaet), vec![Passiveret, Slettet, Rettet]);
        assert_eq!(allowed(Importeret), vec![Passiveret, Slettet, Rettet]);
        assert_eq!(allowed(Rettet), vec![Passiveret, Slettet, Rettet]);
        assert_eq!(allowed(Passiveret), vec![Importeret, Slettet]);
        assert_eq!(allowed(Slettet), vec![Importeret]);
    }

    #[test]
    fn data_round_trips_through_its_stored_json() {
        let mut d = Data::default();
        d.relationer.insert(
            "tilhoerer".into(),
            vec![RelEntry {
                maal: Maal::Urn("urn:x".into()),
                objekttype: Some("organisation".into()),
                indeks: None,
                ekstra: Map::new(),
                virkning: Virkning::new(1, POS_INF),
            }],
        );
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Data>(&json).unwrap(), d);
    }
}
