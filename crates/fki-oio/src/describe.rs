//! Self-description derived from the class table: LoRa's `/fields` structure and the JSON Schema
//! of write bodies (contract §1.5). The OpenAPI document embeds the same schemas.

use serde_json::{Map, Value, json};

use crate::json::{AKTOERTYPEKODER, Mode};
use crate::spec::{self, Cardinality, ClassSpec, Field, FieldType, RelKind, RelSpec};

/// LoRa's `/{service}/{class}/fields` structure.
pub fn fields(spec: &ClassSpec) -> Value {
    let mut attributter = Map::new();
    let mut metadata = Map::new();
    for g in spec.attributes {
        attributter.insert(
            g.name.into(),
            json!(g.fields.iter().map(|f| f.name).collect::<Vec<_>>()),
        );
        let mut m = Map::new();
        for f in g.fields {
            let mut fm = Map::new();
            if f.mandatory {
                fm.insert("mandatory".into(), json!(true));
            }
            if f.typ != FieldType::Text {
                fm.insert("type".into(), json!(field_type_name(f.typ)));
            }
            if !fm.is_empty() {
                m.insert(f.name.into(), Value::Object(fm));
            }
        }
        metadata.insert(g.name.into(), Value::Object(m));
    }
    let tilstande = if spec.states_as_pairs {
        json!(
            spec.states
                .iter()
                .map(|s| json!([s.name, s.values]))
                .collect::<Vec<_>>()
        )
    } else {
        Value::Object(
            spec.states
                .iter()
                .map(|s| (s.name.to_owned(), json!(s.values)))
                .collect(),
        )
    };
    let names = |c: Cardinality| -> Vec<&str> {
        spec.relations
            .iter()
            .filter(|r| r.card == c)
            .map(|r| r.name)
            .collect()
    };
    let mut out = Map::new();
    out.insert("attributter".into(), Value::Object(attributter));
    out.insert("attributter_metadata".into(), Value::Object(metadata));
    out.insert("tilstande".into(), tilstande);
    out.insert(
        "relationer_nul_til_en".into(),
        json!(names(Cardinality::ZeroToOne)),
    );
    out.insert(
        "relationer_nul_til_mange".into(),
        json!(names(Cardinality::ZeroToMany)),
    );
    let rel_meta: Map<String, Value> = spec
        .relations
        .iter()
        // LoRa's /fields knows no dynamic relations: they are listed like plain ones.
        .filter(|r| {
            !matches!(r.kind, RelKind::Plain | RelKind::Dynamisk | RelKind::Indeks)
                || (spec.indexed && r.card == Cardinality::ZeroToMany)
        })
        .map(|r| (r.name.to_owned(), rel_metadata(spec, r)))
        .collect();
    if !rel_meta.is_empty() {
        out.insert("relationer_metadata".into(), Value::Object(rel_meta));
    }
    Value::Object(out)
}

fn field_type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::Bool => "boolean",
        FieldType::Int => "int",
        FieldType::Date => "date",
        FieldType::Timestamp => "timestamptz",
        FieldType::Interval => "interval(0)",
        FieldType::TextList => "text[]",
        FieldType::Soegeord => "soegeord",
        FieldType::OffentlighedUndtaget => "offentlighedundtagettype",
    }
}

fn rel_metadata(spec: &ClassSpec, r: &RelSpec) -> Value {
    let mut m = Map::new();
    if spec.indexed && r.card == Cardinality::ZeroToMany {
        m.insert("indeks".into(), json!({"type": "int"}));
    }
    match r.kind {
        RelKind::Journalpost => {
            m.insert(
                "journalpostkode".into(),
                json!({"enum": ["journalnotat", "vedlagtdokument"], "mandatory": true}),
            );
            m.insert("journalnotat".into(), json!({"type": "journalnotat"}));
            m.insert("journaldokument".into(), json!({"type": "journaldokument"}));
        }
        RelKind::Aktoer => {
            m.insert("aktoerattr".into(), json!({"type": "aktoerattr"}));
        }
        RelKind::Tilstandsvaerdi => {
            m.insert(
                "tilstandsvaerdiattr".into(),
                json!({"type": "tilstandsvaerdiattr"}),
            );
        }
        RelKind::Plain | RelKind::Dynamisk | RelKind::Indeks => {}
    }
    Value::Object(m)
}

fn virkning_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "from": {"type": "string", "description": "timestamp literal; zone-less = Europe/Copenhagen; -infinity allowed"},
            "to": {"type": "string", "description": "timestamp literal; infinity allowed"},
            "from_included": {"type": "boolean"},
            "to_included": {"type": "boolean"},
            "aktoerref": {"type": "string", "format": "uuid"},
            "aktoertypekode": {"type": "string", "enum": AKTOERTYPEKODER},
            "notetekst": {"type": "string"}
        },
        "required": ["from", "to"],
        "additionalProperties": false
    })
}

fn field_schema(f: &Field) -> Value {
    match f.typ {
        FieldType::Text | FieldType::Interval => json!({"type": "string"}),
        FieldType::Timestamp => json!({"type": "string", "description": "timestamp literal"}),
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Int => json!({"type": "integer"}),
        FieldType::TextList => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::Soegeord => json!({
            "type": "array",
            "items": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3,
                      "description": "[soegeordidentifikator, beskrivelse, soegeordskategori]"}
        }),
        FieldType::OffentlighedUndtaget => json!({
            "type": "object",
            "properties": {"alternativtitel": {"type": "string"}, "hjemmel": {"type": "string"}},
            "required": ["alternativtitel", "hjemmel"],
            "additionalProperties": false
        }),
    }
}

fn attr_entry_schema(fields: &[Field], mode: Mode, enforce: bool) -> Value {
    let mut props: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.to_owned(), field_schema(f)))
        .collect();
    props.insert("virkning".into(), virkning_schema());
    let mut required = vec!["virkning"];
    if mode == Mode::Create && enforce {
        required.extend(fields.iter().filter(|f| f.mandatory).map(|f| f.name));
    }
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn rel_entry_schema(spec_indexed: bool, r: &RelSpec) -> Value {
    let mut props = Map::new();
    props.insert("virkning".into(), virkning_schema());
    props.insert("objekttype".into(), json!({"type": "string"}));
    if spec_indexed && r.card == Cardinality::ZeroToMany {
        props.insert("indeks".into(), json!({"type": "integer"}));
    }
    match r.kind {
        RelKind::Journalpost => {
            props.insert(
                "journalpostkode".into(),
                json!({"type": "string", "enum": ["journalnotat", "vedlagtdokument"]}),
            );
            props.insert("journalnotat".into(), json!({
                "type": "object", "additionalProperties": false,
                "properties": {"titel": {"type": "string"}, "notat": {"type": "string"}, "format": {"type": "string"}},
                "required": ["titel", "notat", "format"]}));
            props.insert("journaldokument".into(), json!({
                "type": "object", "additionalProperties": false,
                "properties": {"dokumenttitel": {"type": "string"},
                               "offentlighedundtaget": field_schema(&Field { name: "", typ: FieldType::OffentlighedUndtaget, mandatory: true })},
                "required": ["dokumenttitel", "offentlighedundtaget"]}));
        }
        RelKind::Aktoer => {
            props.insert("aktoerattr".into(), json!({
                "type": "object", "additionalProperties": false,
                "properties": {"accepteret": {"type": "string", "enum": ["accepteret", "foreloebigt", "afslaaet"]},
                               "obligatorisk": {"type": "string", "enum": ["noedvendig", "valgfri"]},
                               "repraesentation_uuid": {"type": "string", "format": "uuid"},
                               "repraesentation_urn": {"type": "string"}},
                "required": ["accepteret", "obligatorisk"]}));
        }
        RelKind::Tilstandsvaerdi => {
            props.insert("tilstandsvaerdiattr".into(), json!({
                "type": "object", "additionalProperties": false,
                "properties": {"forventet": {"type": "boolean"}, "nominelvaerdi": {"type": "string"}},
                "required": ["forventet", "nominelvaerdi"]}));
            return json!({"type": "object", "properties": props, "required": ["virkning"], "additionalProperties": false});
        }
        RelKind::Dynamisk | RelKind::Indeks => {
            if r.kind == RelKind::Indeks {
                props.insert("detaljer".into(), json!({"type": "object"}));
            }
            let uuid_label = json!({
                "type": "object", "additionalProperties": false,
                "properties": {"uuid": {"type": "string", "format": "uuid"}, "urn": {"type": "string"},
                               "label": {"type": "string"}}});
            props.insert("rolle".into(), uuid_label.clone());
            props.insert("type".into(), uuid_label);
            props.insert("indeks".into(), json!({"type": "string"}));
        }
        RelKind::Plain => {}
    }
    let with = |key: &str, schema: Value| {
        let mut p = props.clone();
        p.insert(key.into(), schema);
        json!({"type": "object", "properties": p, "required": [key, "virkning"], "additionalProperties": false})
    };
    json!({"oneOf": [
        with("uuid", json!({"type": "string", "format": "uuid"})),
        with("urn", json!({"type": "string", "pattern": "^urn:."})),
        {"type": "object", "additionalProperties": false, "required": ["uuid", "urn", "virkning"],
         "properties": {"uuid": {"const": ""}, "urn": {"const": ""}, "virkning": virkning_schema()}}
    ]})
}

/// The JSON Schema of a write body in the given mode (create for POST/PUT, update for PATCH).
pub fn json_schema(spec: &ClassSpec, mode: Mode) -> Value {
    let mut attributter = Map::new();
    for g in spec.attributes {
        attributter.insert(
            spec.key(g.name),
            json!({"type": "array", "items": attr_entry_schema(g.fields, mode, spec.enforce_mandatory)}),
        );
    }
    let mut tilstande = Map::new();
    for s in spec.states {
        tilstande.insert(spec.key(s.name), json!({"type": "array", "items": {
            "type": "object", "additionalProperties": false,
            "properties": {s.name: {"type": "string", "enum": s.values}, "virkning": virkning_schema()},
            "required": [s.name, "virkning"]}}));
    }
    let relationer: Map<String, Value> = spec
        .relations
        .iter()
        .map(|r| {
            (
                r.name.to_owned(),
                json!({"type": "array", "items": rel_entry_schema(spec.indexed, r)}),
            )
        })
        .collect();
    let mut props = Map::new();
    let create = mode == Mode::Create;
    let group_req: Vec<String> = if create {
        spec.attributes
            .iter()
            .take(1)
            .map(|g| spec.key(g.name))
            .collect()
    } else {
        vec![]
    };
    props.insert("attributter".into(), json!({"type": "object", "properties": attributter, "required": group_req, "additionalProperties": false}));
    let state_req: Vec<String> = if create {
        spec.states.iter().map(|s| spec.key(s.name)).collect()
    } else {
        vec![]
    };
    props.insert("tilstande".into(), json!({"type": "object", "properties": tilstande, "required": state_req, "additionalProperties": false}));
    props.insert(
        "relationer".into(),
        json!({"type": "object", "properties": relationer, "additionalProperties": false}),
    );
    props.insert("note".into(), json!({"type": "string"}));
    props.insert(
        "livscyklus".into(),
        json!({"type": "string", "description": "PATCH only: 'Passiv' passivates"}),
    );
    if spec.varianter {
        let del = json!({"type": "object", "additionalProperties": false, "required": ["deltekst"], "properties": {
            "deltekst": {"type": "string"},
            "egenskaber": {"type": "array", "items": attr_entry_schema(spec::DEL_FIELDS, Mode::Update, false)},
            "relationer": {"type": "object", "additionalProperties": false, "properties": {
                "underredigeringaf": {"type": "array", "items": rel_entry_schema(false, &spec::DEL_RELATIONS[0])}}}}});
        props.insert("varianter".into(), json!({"type": "array", "items": {
            "type": "object", "additionalProperties": false, "required": ["varianttekst"], "properties": {
                "varianttekst": {"type": "string"},
                "egenskaber": {"type": "array", "items": attr_entry_schema(spec::VARIANT_FIELDS, Mode::Update, false)},
                "dele": {"type": "array", "items": del}}}}));
    }
    let mut required = vec!["attributter"];
    if create && !spec.states.is_empty() {
        required.push("tilstande");
    }
    json!({
        "$schema": "http://json-schema.org/draft-06/schema#",
        "title": spec.name,
        "type": "object",
        "properties": props,
        "required": if create { json!(required) } else { json!([]) },
        "minProperties": 1,
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::class;

    #[test]
    fn fields_lists_groups_states_and_relations() {
        let f = fields(class("organisation", "organisationenhed").unwrap());
        assert_eq!(f["attributter"]["egenskaber"][0], "brugervendtnoegle");
        assert_eq!(f["tilstande"]["gyldighed"], json!(["Aktiv", "Inaktiv"]));
        assert!(
            f["relationer_nul_til_en"]
                .as_array()
                .unwrap()
                .contains(&json!("overordnet"))
        );
        assert!(
            f["relationer_nul_til_mange"]
                .as_array()
                .unwrap()
                .contains(&json!("adresser"))
        );
        let t = fields(class("tilstand", "tilstand").unwrap());
        assert_eq!(t["tilstande"][0][0], "status");
        assert!(
            fields(class("klassifikation", "klasse").unwrap())["attributter"]["egenskaber"]
                .as_array()
                .unwrap()
                .contains(&json!("soegeord"))
        );
    }

    #[test]
    fn create_schema_requires_what_the_codec_requires() {
        let s = json_schema(class("klassifikation", "klasse").unwrap(), Mode::Create);
        let item = &s["properties"]["attributter"]["properties"]["klasseegenskaber"]["items"];
        assert_eq!(
            item["required"],
            json!(["virkning", "brugervendtnoegle", "titel"])
        );
        assert_eq!(
            s["properties"]["tilstande"]["required"],
            json!(["klassepubliceret"])
        );
        let u = json_schema(class("klassifikation", "klasse").unwrap(), Mode::Update);
        assert_eq!(u["required"], json!([]));
    }
}
