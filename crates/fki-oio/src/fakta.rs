//! Search facts: the flat, indexable view of a registrering.
//!
//! Each attribute value, state value and relation target of a registrering becomes one
//! [`Fakt`] carrying its virkning period. Searches are then index lookups on
//! `(klasse, navn, vaerdi)` joined to the registrering row, in both backends, instead of JSON
//! parsing or per-type SQL. The naming scheme is documented on [`Fakt`].

use serde_json::Value;

use crate::model::{AttrEntry, Data, RelEntry};
use crate::spec::{ClassSpec, FieldType};
use crate::store::Fakt;

/// Separator between variant and part text in [`Fakt::sti`].
pub const STI_SEP: char = '\u{1f}';

/// The facts of one registrering's data.
pub fn fakta(spec: &ClassSpec, data: &Data) -> Vec<Fakt> {
    let mut out = Vec::new();
    for (group, entries) in &data.attributter {
        let Some(g) = spec.attr_group(group) else {
            continue;
        };
        for e in entries {
            attr_facts(g.fields, e, None, &mut out);
        }
    }
    for (state, entries) in &data.tilstande {
        for e in entries {
            out.push(Fakt {
                navn: format!("s:{state}"),
                vaerdi: e.vaerdi.clone(),
                objekttype: None,
                sti: None,
                fra: e.virkning.from,
                til: e.virkning.to,
            });
        }
    }
    for (rel, entries) in &data.relationer {
        rel_facts(rel, entries, None, &mut out);
    }
    for v in data.varianter.iter().flatten() {
        out.push(Fakt {
            navn: "v:varianttekst".into(),
            vaerdi: v.varianttekst.to_lowercase(),
            objekttype: None,
            sti: None,
            fra: crate::time::NEG_INF,
            til: crate::time::POS_INF,
        });
        for d in v.dele.iter().flatten() {
            out.push(Fakt {
                navn: "v:deltekst".into(),
                vaerdi: d.deltekst.to_lowercase(),
                objekttype: None,
                sti: Some(v.varianttekst.clone()),
                fra: crate::time::NEG_INF,
                til: crate::time::POS_INF,
            });
            let sti = format!("{}{STI_SEP}{}", v.varianttekst, d.deltekst);
            for (rel, entries) in d.relationer.iter().flatten() {
                rel_facts(rel, entries, Some(&sti), &mut out);
            }
        }
    }
    out
}

/// The canonical text of a typed scalar, as stored in facts and as search values are normalised.
pub fn canonical(typ: FieldType, v: &Value) -> Option<String> {
    match (typ, v) {
        (FieldType::Bool, Value::Bool(b)) => Some(b.to_string()),
        (FieldType::Int, Value::Number(n)) => Some(n.to_string()),
        (_, Value::String(s)) if !s.is_empty() => Some(s.to_lowercase()),
        _ => None,
    }
}

fn attr_facts(
    fields: &[crate::spec::Field],
    e: &AttrEntry,
    sti: Option<&str>,
    out: &mut Vec<Fakt>,
) {
    let mut push = |navn: String, vaerdi: String| {
        out.push(Fakt {
            navn,
            vaerdi,
            objekttype: None,
            sti: sti.map(str::to_owned),
            fra: e.virkning.from,
            til: e.virkning.to,
        })
    };
    for f in fields {
        let Some(v) = e.felter.get(f.name) else {
            continue;
        };
        match f.typ {
            FieldType::Bool => {
                if let Some(c) = canonical(f.typ, v) {
                    push(format!("b:{}", f.name), c);
                }
            }
            FieldType::TextList | FieldType::Soegeord => {
                let mut strings = Vec::new();
                collect_strings(v, &mut strings);
                for s in strings {
                    push(format!("a:{}", f.name), s.to_lowercase());
                }
            }
            FieldType::OffentlighedUndtaget => {
                if let Value::Object(o) = v {
                    for (k, x) in o {
                        if let Value::String(s) = x
                            && !s.is_empty()
                        {
                            push(format!("a:{}.{k}", f.name), s.to_lowercase());
                        }
                    }
                }
            }
            _ => {
                if let Some(c) = canonical(f.typ, v) {
                    push(format!("a:{}", f.name), c);
                }
            }
        }
    }
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn rel_facts(rel: &str, entries: &[RelEntry], sti: Option<&str>, out: &mut Vec<Fakt>) {
    for e in entries {
        if let Some(key) = e.maal.key() {
            out.push(Fakt {
                navn: format!("r:{rel}"),
                vaerdi: key,
                // A dynamic or index relation's `rolle` qualifies it where LoRa's `objekttype`
                // would (`sagsklasse:<rolle>=<klasse>` searches by role).
                objekttype: e.objekttype.clone().or_else(|| {
                    e.ekstra
                        .get("rolle")
                        .and_then(|r| r.get("uuid").or_else(|| r.get("urn")))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }),
                sti: sti.map(str::to_owned),
                fra: e.virkning.from,
                til: e.virkning.to,
            });
        }
        // Aktivitet: `vilkaarligrel` also matches the actor's representation.
        if let Some(Value::Object(a)) = e.ekstra.get("aktoerattr") {
            for k in ["repraesentation_uuid", "repraesentation_urn"] {
                if let Some(Value::String(s)) = a.get(k)
                    && !s.is_empty()
                {
                    out.push(Fakt {
                        navn: format!("r:{rel}#repraesentation"),
                        vaerdi: s.clone(),
                        objekttype: None,
                        sti: sti.map(str::to_owned),
                        fra: e.virkning.from,
                        til: e.virkning.to,
                    });
                }
            }
        }
    }
}
