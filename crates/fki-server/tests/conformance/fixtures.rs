//! Request bodies in the contract's shapes (§2.1, §3) and helpers to pick answers apart.

use serde_json::{Value, json};
use uuid::Uuid;

pub const ENHED: &str = "organisation/organisationenhed";
pub const BRUGER: &str = "organisation/bruger";
pub const FACET: &str = "klassifikation/facet";
pub const KLASSE: &str = "klassifikation/klasse";
pub const SAG: &str = "sag/sag";
pub const DOKUMENT: &str = "dokument/dokument";

/// Start of every period the fixtures create.
pub const START: &str = "2020-01-01";
pub const INF: &str = "infinity";

/// No hits.
pub const NONE: [Uuid; 0] = [];

/// A `virkning`.
pub fn v(from: &str, to: &str) -> Value {
    json!({"from": from, "to": to})
}

/// A complete organisationenhed create body valid over `[2020-01-01, infinity)`.
pub fn enhed(bvn: &str, navn: &str) -> Value {
    json!({
        "note": "oprettet",
        "attributter": {"organisationenhedegenskaber": [
            {"brugervendtnoegle": bvn, "enhedsnavn": navn, "virkning": v(START, INF)}
        ]},
        "tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Aktiv", "virkning": v(START, INF)}
        ]}
    })
}

/// `body` with `relationer.<name> = entries`.
pub fn with_rel(mut body: Value, name: &str, entries: Value) -> Value {
    let rels = body
        .as_object_mut()
        .expect("object body")
        .entry("relationer")
        .or_insert_with(|| json!({}));
    rels[name] = entries;
    body
}

/// One relation entry to a UUID over `[2020-01-01, infinity)`.
pub fn rel(uuid: Uuid) -> Value {
    json!({"uuid": uuid.to_string(), "virkning": v(START, INF)})
}

/// A PATCH body setting only `enhedsnavn` over `[from, to)`.
pub fn navn_patch(navn: &str, from: &str, to: &str) -> Value {
    json!({"attributter": {"organisationenhedegenskaber": [
        {"enhedsnavn": navn, "virkning": v(from, to)}
    ]}})
}

/// A complete facet create body.
pub fn facet(bvn: &str, beskrivelse: &str, supplement: &str, from: &str) -> Value {
    json!({
        "attributter": {"facetegenskaber": [{
            "brugervendtnoegle": bvn, "beskrivelse": beskrivelse, "supplement": supplement,
            "virkning": v(from, INF)
        }]},
        "tilstande": {"facetpubliceret": [{"publiceret": "Publiceret", "virkning": v(from, INF)}]}
    })
}

/// A complete sag create body.
pub fn sag(bvn: &str) -> Value {
    json!({
        "attributter": {"sagegenskaber": [{
            "brugervendtnoegle": bvn, "beskrivelse": "en sag", "kassationskode": "K1",
            "sagsnummer": "2020-001", "titel": "Sagen", "afleveret": false, "principiel": true,
            "virkning": v(START, INF)
        }]},
        "tilstande": {"sagfremdrift": [{"fremdrift": "Opstaaet", "virkning": v(START, INF)}]}
    })
}

/// `attributter.<key>` of a registrering (empty when absent).
pub fn attr(reg: &Value, key: &str) -> Vec<Value> {
    reg["attributter"][key]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `tilstande.<key>` of a registrering (empty when absent).
pub fn state(reg: &Value, key: &str) -> Vec<Value> {
    reg["tilstande"][key]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `relationer.<name>` of a registrering (empty when absent).
pub fn rels(reg: &Value, name: &str) -> Vec<Value> {
    reg["relationer"][name]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `(value of field, virkning.from, virkning.to)` per entry; a missing field reads as `-`.
pub fn periods(entries: &[Value], field: &str) -> Vec<(String, String, String)> {
    entries
        .iter()
        .map(|e| {
            let val = match &e[field] {
                Value::String(s) => s.clone(),
                Value::Null => "-".to_owned(),
                other => other.to_string(),
            };
            (
                val,
                e["virkning"]["from"].as_str().unwrap_or("?").to_owned(),
                e["virkning"]["to"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

/// `periods` with borrowed strings, for compact `assert_eq!`s.
pub fn p3(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

/// The targets (UUID or URN) of relation entries, in answer order.
pub fn targets(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            e["uuid"]
                .as_str()
                .or_else(|| e["urn"].as_str())
                .unwrap_or("-")
                .to_owned()
        })
        .collect()
}

/// Deterministic distinct UUIDs for tests that need to control ordering.
pub fn fixed_uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x5a5a_0000_0000_4000_8000_0000_0000_0000 | n)
}
