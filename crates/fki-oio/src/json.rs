//! The LoRa JSON wire form of objects (contract §2, §3, §7).
//!
//! [`parse_write`] validates a write body against the class's [`ClassSpec`] and turns it into an
//! [`Aendring`]; every refusal names the field by its JSON path and says why. [`render_objekt`]
//! produces the read shape. Both are driven by the spec alone.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{OioError, OioResult};
use crate::model::{
    Aendring, AttrEntry, Data, Del, HasVirkning, Maal, Registrering, RelEntry, StateEntry, Variant,
    Virkning, prune_empty,
};
use crate::spec::{self, Cardinality, ClassSpec, Field, FieldType, RelKind, RelSpec};
use crate::time::{self, NEG_INF, POS_INF, Ts};

/// Create (POST, PUT: the create schema) or update (PATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Update,
}

/// Values of `virkning.aktoertypekode` the database accepts (contract §2.2).
pub const AKTOERTYPEKODER: &[&str] = &[
    "Organisation",
    "OrganisationEnhed",
    "OrganisationFunktion",
    "Bruger",
    "ItSystem",
    "Interessefaellesskab",
];

type Obj = Map<String, Value>;

fn err<T>(path: &str, reason: impl Into<String>) -> OioResult<T> {
    Err(OioError::validation(path, reason))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn as_object<'a>(v: &'a Value, path: &str) -> OioResult<&'a Obj> {
    v.as_object().ok_or_else(|| {
        OioError::validation(path, format!("expected an object, got {}", type_name(v)))
    })
}

fn as_array<'a>(v: &'a Value, path: &str) -> OioResult<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| {
        OioError::validation(path, format!("expected an array, got {}", type_name(v)))
    })
}

fn as_str<'a>(v: &'a Value, path: &str) -> OioResult<&'a str> {
    v.as_str().ok_or_else(|| {
        OioError::validation(path, format!("expected a string, got {}", type_name(v)))
    })
}

fn only_keys(o: &Obj, allowed: &[&str], path: &str) -> OioResult<()> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return err(
                &join(path, k),
                format!("unknown key '{k}' (allowed here: {})", allowed.join(", ")),
            );
        }
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Parse a UUID the way LoRa's schema does (hex 8-4-4-4-12, any case).
pub fn parse_uuid(s: &str, path: &str) -> OioResult<Uuid> {
    let ok = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if !ok {
        return err(
            path,
            format!("'{s}' is not a UUID (expected hex 8-4-4-4-12)"),
        );
    }
    Uuid::parse_str(s).map_err(|e| OioError::validation(path, format!("'{s}' is not a UUID: {e}")))
}

/// Parse a write body (contract §2.1, §7).
pub fn parse_write(spec: &ClassSpec, body: &Value, mode: Mode) -> OioResult<Aendring> {
    let top = body.as_object().ok_or_else(|| {
        OioError::validation(
            "",
            format!("the body must be a JSON object, got {}", type_name(body)),
        )
    })?;
    if top.is_empty() {
        return err("", "the body is empty");
    }
    let mut allowed = vec![
        "attributter",
        "tilstande",
        "relationer",
        "note",
        "livscyklus",
    ];
    if spec.varianter {
        allowed.push("varianter");
    }
    only_keys(top, &allowed, "")?;
    let note = top
        .get("note")
        .map(|v| as_str(v, "note").map(str::to_owned))
        .transpose()?;
    let livscyklus = top
        .get("livscyklus")
        .map(|v| as_str(v, "livscyklus").map(str::to_owned))
        .transpose()?;

    let mut data = Data::default();

    // Attributes.
    match top.get("attributter") {
        Some(v) => {
            let o = as_object(v, "attributter")?;
            for (key, entries) in o {
                let path = join("attributter", key);
                let group = spec.attr_group_by_key(key).ok_or_else(|| {
                    OioError::validation(
                        &path,
                        format!("unknown attribute group for {}", spec.name),
                    )
                })?;
                let list =
                    parse_attr_entries(group.fields, entries, &path, mode, spec.enforce_mandatory)?;
                data.attributter.insert(group.name.to_owned(), list);
            }
        }
        None if mode == Mode::Create => return err("attributter", "missing (required on create)"),
        None => {}
    }
    // States.
    match top.get("tilstande") {
        Some(v) => {
            let o = as_object(v, "tilstande")?;
            for (key, entries) in o {
                let path = join("tilstande", key);
                let state = spec.state_by_key(key).ok_or_else(|| {
                    OioError::validation(&path, format!("unknown state for {}", spec.name))
                })?;
                let mut list = Vec::new();
                for (i, e) in as_array(entries, &path)?.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    let eo = as_object(e, &p)?;
                    only_keys(eo, &[state.name, "virkning"], &p)?;
                    let raw = eo.get(state.name).ok_or_else(|| {
                        OioError::validation(&p, format!("missing '{}'", state.name))
                    })?;
                    let vp = join(&p, state.name);
                    let val = as_str(raw, &vp)?;
                    if !state.values.contains(&val) {
                        return err(
                            &vp,
                            format!("'{val}' is not one of: {}", state.values.join(", ")),
                        );
                    }
                    let virkning = parse_virkning(eo.get("virkning"), &join(&p, "virkning"))?;
                    list.push(StateEntry {
                        vaerdi: val.to_owned(),
                        virkning,
                    });
                }
                no_overlap(&list, &path)?;
                data.tilstande.insert(state.name.to_owned(), list);
            }
        }
        None if mode == Mode::Create && !spec.states.is_empty() => {
            return err("tilstande", "missing (required on create)");
        }
        None => {}
    }
    // Relations.
    if let Some(v) = top.get("relationer") {
        let o = as_object(v, "relationer")?;
        if o.is_empty() && mode == Mode::Update {
            // `"relationer": {}` clears every relation (Doc; docs/oio-rest.md).
            for r in spec.relations {
                data.relationer.insert(r.name.to_owned(), Vec::new());
            }
        }
        for (name, entries) in o {
            let path = join("relationer", name);
            let rel = spec.relation(name).ok_or_else(|| {
                OioError::validation(&path, format!("unknown relation for {}", spec.name))
            })?;
            let list = parse_rel_entries(spec.indexed, rel, entries, &path)?;
            data.relationer.insert(rel.name.to_owned(), list);
        }
    }
    // Dokument variants.
    if let Some(v) = top.get("varianter") {
        data.varianter = Some(parse_varianter(v, mode)?);
    }

    if mode == Mode::Create {
        for g in spec.attributes.iter().take(1) {
            match data.attributter.get(g.name) {
                Some(l) if !l.is_empty() => {}
                _ => {
                    return err(
                        &join("attributter", &spec.key(g.name)),
                        "missing or empty (required on create)",
                    );
                }
            }
        }
        for s in spec.states {
            match data.tilstande.get(s.name) {
                Some(l) if !l.is_empty() => {}
                _ => {
                    return err(
                        &join("tilstande", &spec.key(s.name)),
                        "missing or empty (required on create)",
                    );
                }
            }
        }
        // Blank entries mean "clear"; on create there is nothing to clear.
        for list in data.relationer.values_mut() {
            list.retain(|e| e.maal != Maal::Ingen);
        }
    }
    Ok(Aendring {
        note,
        livscyklus,
        data,
    })
}

fn parse_attr_entries(
    fields: &[Field],
    entries: &Value,
    path: &str,
    mode: Mode,
    enforce_mandatory: bool,
) -> OioResult<Vec<AttrEntry>> {
    let mut list = Vec::new();
    for (i, e) in as_array(entries, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let eo = as_object(e, &p)?;
        let mut felter = Map::new();
        for (k, v) in eo {
            if k == "virkning" {
                continue;
            }
            let f = fields.iter().find(|f| f.name == k).ok_or_else(|| {
                let names: Vec<_> = fields.iter().map(|f| f.name).collect();
                OioError::validation(
                    join(&p, k),
                    format!("unknown field (fields: {})", names.join(", ")),
                )
            })?;
            felter.insert(k.clone(), check_field(f, v, &join(&p, k))?);
        }
        if mode == Mode::Create && enforce_mandatory {
            for f in fields.iter().filter(|f| f.mandatory) {
                if !felter.contains_key(f.name) {
                    return err(&join(&p, f.name), "missing mandatory field");
                }
            }
        }
        let virkning = parse_virkning(eo.get("virkning"), &join(&p, "virkning"))?;
        list.push(AttrEntry { felter, virkning });
    }
    no_overlap(&list, path)?;
    Ok(list)
}

/// Check one attribute value against its declared type; returns the value to store.
fn check_field(f: &Field, v: &Value, path: &str) -> OioResult<Value> {
    let want = |what: &str| -> OioResult<Value> {
        err(path, format!("expected {what}, got {}", type_name(v)))
    };
    match f.typ {
        FieldType::Text | FieldType::Interval => match v {
            Value::String(_) => Ok(v.clone()),
            _ => want("a string"),
        },
        FieldType::Timestamp => match v {
            Value::String(s) if s.is_empty() => Ok(v.clone()),
            Value::String(s) => match time::parse(s) {
                Ok(_) => Ok(v.clone()),
                Err(e) => err(path, e),
            },
            _ => want("a timestamp string"),
        },
        FieldType::Date => match v {
            Value::String(s) if s.is_empty() => Ok(v.clone()),
            Value::String(s) => {
                if s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
                    Ok(v.clone())
                } else {
                    err(path, format!("'{s}' is not a date YYYY-MM-DD"))
                }
            }
            _ => want("a date string YYYY-MM-DD"),
        },
        FieldType::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => want("a boolean"),
        },
        FieldType::Int => match v {
            Value::Number(n) if n.is_i64() => Ok(v.clone()),
            _ => want("an integer"),
        },
        FieldType::TextList => {
            let a = v
                .as_array()
                .map_or_else(|| want("an array of strings").map(|_| ()), |_| Ok(()));
            a?;
            for (i, x) in v.as_array().into_iter().flatten().enumerate() {
                as_str(x, &format!("{path}[{i}]"))?;
            }
            Ok(v.clone())
        }
        FieldType::Soegeord => {
            let Some(a) = v.as_array() else {
                return want("an array of [identifikator, beskrivelse, kategori]");
            };
            for (i, x) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let t = as_array(x, &p)?;
                if t.is_empty() || t.len() > 3 {
                    return err(&p, "expected [identifikator, beskrivelse, kategori]");
                }
                for (j, s) in t.iter().enumerate() {
                    as_str(s, &format!("{p}[{j}]"))?;
                }
            }
            Ok(v.clone())
        }
        FieldType::OffentlighedUndtaget => {
            let o = as_object(v, path)?;
            only_keys(o, &["alternativtitel", "hjemmel"], path)?;
            for k in ["alternativtitel", "hjemmel"] {
                let x = o
                    .get(k)
                    .ok_or_else(|| OioError::validation(join(path, k), "missing"))?;
                as_str(x, &join(path, k))?;
            }
            Ok(v.clone())
        }
    }
}

/// Parse and check a `virkning` object (contract §2.2). `from_included: false` and
/// `to_included: true` are honoured by moving the bound one microsecond (LoRa ignores them; see
/// docs/oio-rest.md).
pub fn parse_virkning(v: Option<&Value>, path: &str) -> OioResult<Virkning> {
    let v = v.ok_or_else(|| OioError::validation(path, "missing"))?;
    let o = as_object(v, path)?;
    only_keys(
        o,
        &[
            "from",
            "to",
            "from_included",
            "to_included",
            "aktoerref",
            "aktoertypekode",
            "notetekst",
        ],
        path,
    )?;
    let bound = |k: &str| -> OioResult<Ts> {
        let p = join(path, k);
        let s = as_str(
            o.get(k)
                .ok_or_else(|| OioError::validation(&p, "missing"))?,
            &p,
        )?;
        time::parse(s).map_err(|e| OioError::validation(&p, e))
    };
    let flag = |k: &str| -> OioResult<Option<bool>> {
        match o.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(x) => err(
                &join(path, k),
                format!("expected a boolean, got {}", type_name(x)),
            ),
        }
    };
    let mut from = bound("from")?;
    let mut to = bound("to")?;
    if flag("from_included")? == Some(false) && from != NEG_INF && from != POS_INF {
        from += 1;
    }
    if flag("to_included")? == Some(true) && to != POS_INF && to != NEG_INF {
        to += 1;
    }
    if from >= to {
        return err(path, "'from' must be before 'to'");
    }
    let aktoerref = match o.get("aktoerref") {
        None => None,
        Some(x) => Some(parse_uuid(
            as_str(x, &join(path, "aktoerref"))?,
            &join(path, "aktoerref"),
        )?),
    };
    let aktoertypekode = match o.get("aktoertypekode") {
        None => None,
        Some(x) => {
            let p = join(path, "aktoertypekode");
            let s = as_str(x, &p)?;
            if !AKTOERTYPEKODER.contains(&s) {
                return err(
                    &p,
                    format!("'{s}' is not one of: {}", AKTOERTYPEKODER.join(", ")),
                );
            }
            Some(s.to_owned())
        }
    };
    let notetekst = o
        .get("notetekst")
        .map(|x| as_str(x, &join(path, "notetekst")).map(str::to_owned))
        .transpose()?;
    Ok(Virkning {
        from,
        to,
        aktoerref,
        aktoertypekode,
        notetekst,
    })
}

fn no_overlap<T: HasVirkning>(list: &[T], path: &str) -> OioResult<()> {
    let mut periods: Vec<(Ts, Ts, usize)> = list
        .iter()
        .enumerate()
        .map(|(i, e)| (e.virkning().from, e.virkning().to, i))
        .collect();
    periods.sort();
    for w in periods.windows(2) {
        if w[1].0 < w[0].1 {
            return err(
                &format!("{path}[{}]", w[1].2.max(w[0].2)),
                format!(
                    "virkning overlaps entry {} of the same list",
                    w[1].2.min(w[0].2)
                ),
            );
        }
    }
    Ok(())
}

fn parse_rel_entries(
    indexed_class: bool,
    rel: &RelSpec,
    entries: &Value,
    path: &str,
) -> OioResult<Vec<RelEntry>> {
    let mut list = Vec::new();
    let indexed = indexed_class && rel.card == Cardinality::ZeroToMany;
    for (i, e) in as_array(entries, path)?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        list.push(parse_rel_entry(rel, indexed, e, &p)?);
    }
    if rel.card == Cardinality::ZeroToOne {
        no_overlap(&list, path)?;
    }
    Ok(list)
}

fn parse_rel_entry(rel: &RelSpec, indexed: bool, e: &Value, p: &str) -> OioResult<RelEntry> {
    let eo = as_object(e, p)?;
    let uuid = eo
        .get("uuid")
        .map(|v| as_str(v, &join(p, "uuid")))
        .transpose()?;
    let urn = eo
        .get("urn")
        .map(|v| as_str(v, &join(p, "urn")))
        .transpose()?;
    let virkning = parse_virkning(eo.get("virkning"), &join(p, "virkning"))?;
    let mut allowed: Vec<&str> = vec!["virkning", "objekttype"];
    if indexed {
        allowed.push("indeks");
    }
    let mut ekstra = Map::new();
    let maal = if rel.kind == RelKind::Tilstandsvaerdi {
        allowed.push("tilstandsvaerdiattr");
        only_keys(eo, &allowed, p)?;
        if let Some(a) = eo.get("tilstandsvaerdiattr") {
            let ap = join(p, "tilstandsvaerdiattr");
            let ao = as_object(a, &ap)?;
            only_keys(ao, &["forventet", "nominelvaerdi"], &ap)?;
            match ao.get("forventet") {
                Some(Value::Bool(_)) => {}
                Some(x) => {
                    return err(
                        &join(&ap, "forventet"),
                        format!("expected a boolean, got {}", type_name(x)),
                    );
                }
                None => return err(&join(&ap, "forventet"), "missing"),
            }
            as_str(
                ao.get("nominelvaerdi")
                    .ok_or_else(|| OioError::validation(join(&ap, "nominelvaerdi"), "missing"))?,
                &join(&ap, "nominelvaerdi"),
            )?;
            ekstra.insert("tilstandsvaerdiattr".into(), a.clone());
        }
        Maal::Vaerdi
    } else {
        match (uuid, urn) {
            (Some(""), Some("")) => {
                // The blank entry: nothing but virkning.
                only_keys(eo, &["uuid", "urn", "virkning"], p)?;
                return Ok(RelEntry {
                    maal: Maal::Ingen,
                    objekttype: None,
                    indeks: None,
                    ekstra,
                    virkning,
                });
            }
            (Some(u), None) => {
                allowed.push("uuid");
                Maal::Uuid(parse_uuid(u, &join(p, "uuid"))?)
            }
            (None, Some(u)) => {
                allowed.push("urn");
                if !u.starts_with("urn:") || u.len() < 5 {
                    return err(
                        &join(p, "urn"),
                        format!("'{u}' is not a URN (must start with 'urn:')"),
                    );
                }
                Maal::Urn(u.to_owned())
            }
            (Some(_), Some(_)) => return err(p, "give either 'uuid' or 'urn', not both"),
            (None, None) => return err(p, "missing 'uuid' or 'urn'"),
        }
    };
    match rel.kind {
        RelKind::Journalpost => {
            allowed.extend(["journalpostkode", "journalnotat", "journaldokument"]);
            only_keys(eo, &allowed, p)?;
            let kp = join(p, "journalpostkode");
            let kode = as_str(
                eo.get("journalpostkode")
                    .ok_or_else(|| OioError::validation(&kp, "missing"))?,
                &kp,
            )?;
            if !["journalnotat", "vedlagtdokument"].contains(&kode) {
                return err(
                    &kp,
                    format!("'{kode}' is not one of: journalnotat, vedlagtdokument"),
                );
            }
            ekstra.insert("journalpostkode".into(), json!(kode));
            if let Some(n) = eo.get("journalnotat") {
                let np = join(p, "journalnotat");
                if kode != "journalnotat" {
                    return err(&np, "only allowed with journalpostkode 'journalnotat'");
                }
                strings_object(n, &["titel", "notat", "format"], &np)?;
                ekstra.insert("journalnotat".into(), n.clone());
            }
            if let Some(d) = eo.get("journaldokument") {
                let dp = join(p, "journaldokument");
                if kode != "vedlagtdokument" {
                    return err(&dp, "only allowed with journalpostkode 'vedlagtdokument'");
                }
                let o = as_object(d, &dp)?;
                only_keys(o, &["dokumenttitel", "offentlighedundtaget"], &dp)?;
                as_str(
                    o.get("dokumenttitel").ok_or_else(|| {
                        OioError::validation(join(&dp, "dokumenttitel"), "missing")
                    })?,
                    &join(&dp, "dokumenttitel"),
                )?;
                let op = join(&dp, "offentlighedundtaget");
                strings_object(
                    o.get("offentlighedundtaget")
                        .ok_or_else(|| OioError::validation(&op, "missing"))?,
                    &["alternativtitel", "hjemmel"],
                    &op,
                )?;
                ekstra.insert("journaldokument".into(), d.clone());
            }
        }
        RelKind::Aktoer => {
            allowed.push("aktoerattr");
            only_keys(eo, &allowed, p)?;
            if let Some(a) = eo.get("aktoerattr") {
                let ap = join(p, "aktoerattr");
                let ao = as_object(a, &ap)?;
                only_keys(
                    ao,
                    &[
                        "accepteret",
                        "obligatorisk",
                        "repraesentation_uuid",
                        "repraesentation_urn",
                    ],
                    &ap,
                )?;
                for (k, vals) in [
                    ("accepteret", &["accepteret", "foreloebigt", "afslaaet"][..]),
                    ("obligatorisk", &["noedvendig", "valgfri"][..]),
                ] {
                    let kp = join(&ap, k);
                    let s = as_str(
                        ao.get(k)
                            .ok_or_else(|| OioError::validation(&kp, "missing"))?,
                        &kp,
                    )?;
                    if !vals.contains(&s) {
                        return err(&kp, format!("'{s}' is not one of: {}", vals.join(", ")));
                    }
                }
                match (
                    ao.get("repraesentation_uuid"),
                    ao.get("repraesentation_urn"),
                ) {
                    (Some(u), None) => {
                        let up = join(&ap, "repraesentation_uuid");
                        parse_uuid(as_str(u, &up)?, &up)?;
                    }
                    (None, Some(u)) => {
                        let up = join(&ap, "repraesentation_urn");
                        if !as_str(u, &up)?.starts_with("urn:") {
                            return err(&up, "not a URN (must start with 'urn:')");
                        }
                    }
                    _ => {
                        return err(
                            &ap,
                            "give exactly one of 'repraesentation_uuid' and 'repraesentation_urn'",
                        );
                    }
                }
                ekstra.insert("aktoerattr".into(), a.clone());
            }
        }
        RelKind::Dynamisk | RelKind::Indeks => {
            allowed.extend(["rolle", "type", "indeks"]);
            if rel.kind == RelKind::Indeks {
                allowed.push("detaljer");
                if let Some(d) = eo.get("detaljer") {
                    as_object(d, &join(p, "detaljer"))?;
                    ekstra.insert("detaljer".into(), d.clone());
                }
            }
            only_keys(eo, &allowed, p)?;
            for k in ["rolle", "type"] {
                if let Some(v) = eo.get(k) {
                    parse_uuid_label(v, &join(p, k))?;
                    ekstra.insert(k.into(), v.clone());
                }
            }
            if let Some(v) = eo.get("indeks") {
                as_str(v, &join(p, "indeks"))?;
                ekstra.insert("indeks".into(), v.clone());
            }
        }
        RelKind::Plain | RelKind::Tilstandsvaerdi => only_keys(eo, &allowed, p)?,
    }
    let objekttype = eo
        .get("objekttype")
        .map(|v| as_str(v, &join(p, "objekttype")).map(str::to_owned))
        .transpose()?;
    let indeks = match eo.get("indeks") {
        // A dynamic relation's indeks is text, kept with `rolle` and `type` above.
        _ if matches!(rel.kind, RelKind::Dynamisk | RelKind::Indeks) => None,
        None => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(x) => {
            return err(
                &join(p, "indeks"),
                format!("expected an integer, got {}", type_name(x)),
            );
        }
    };
    Ok(RelEntry {
        maal,
        objekttype,
        indeks,
        ekstra,
        virkning,
    })
}

/// `{"uuid": …}` or `{"urn": …}`, with an optional `label`: the `Rolle` and `Type` of a
/// dynamic relation (`UuidLabelInputType`).
fn parse_uuid_label(v: &Value, path: &str) -> OioResult<()> {
    let o = as_object(v, path)?;
    only_keys(o, &["uuid", "urn", "label"], path)?;
    match (o.get("uuid"), o.get("urn")) {
        (Some(u), None) => {
            let up = join(path, "uuid");
            parse_uuid(as_str(u, &up)?, &up)?;
        }
        (None, Some(u)) => {
            let up = join(path, "urn");
            if !as_str(u, &up)?.starts_with("urn:") {
                return err(&up, "not a URN (must start with 'urn:')");
            }
        }
        _ => return err(path, "give exactly one of 'uuid' and 'urn'"),
    }
    if let Some(l) = o.get("label") {
        as_str(l, &join(path, "label"))?;
    }
    Ok(())
}

fn strings_object(v: &Value, keys: &[&str], path: &str) -> OioResult<()> {
    let o = as_object(v, path)?;
    only_keys(o, keys, path)?;
    for k in keys {
        let p = join(path, k);
        as_str(
            o.get(*k)
                .ok_or_else(|| OioError::validation(&p, "missing"))?,
            &p,
        )?;
    }
    Ok(())
}

fn parse_varianter(v: &Value, mode: Mode) -> OioResult<Vec<Variant>> {
    let mut out: Vec<Variant> = Vec::new();
    for (i, x) in as_array(v, "varianter")?.iter().enumerate() {
        let p = format!("varianter[{i}]");
        let o = as_object(x, &p)?;
        only_keys(o, &["varianttekst", "egenskaber", "dele"], &p)?;
        let tp = join(&p, "varianttekst");
        let varianttekst = as_str(
            o.get("varianttekst")
                .ok_or_else(|| OioError::validation(&tp, "missing"))?,
            &tp,
        )?;
        if out.iter().any(|v| v.varianttekst == varianttekst) {
            return err(&tp, format!("variant '{varianttekst}' given twice"));
        }
        let egenskaber = o
            .get("egenskaber")
            .map(|e| parse_variant_egenskaber(e, &join(&p, "egenskaber"), mode))
            .transpose()?;
        let dele = match o.get("dele") {
            None => None,
            Some(d) => {
                let mut dele: Vec<Del> = Vec::new();
                for (j, y) in as_array(d, &join(&p, "dele"))?.iter().enumerate() {
                    let dp = format!("{p}.dele[{j}]");
                    let dobj = as_object(y, &dp)?;
                    only_keys(dobj, &["deltekst", "egenskaber", "relationer"], &dp)?;
                    let tp = join(&dp, "deltekst");
                    let deltekst = as_str(
                        dobj.get("deltekst")
                            .ok_or_else(|| OioError::validation(&tp, "missing"))?,
                        &tp,
                    )?;
                    if dele.iter().any(|d| d.deltekst == deltekst) {
                        return err(&tp, format!("part '{deltekst}' given twice"));
                    }
                    let egenskaber = dobj
                        .get("egenskaber")
                        .map(|e| {
                            parse_attr_entries(
                                spec::DEL_FIELDS,
                                e,
                                &join(&dp, "egenskaber"),
                                mode,
                                false,
                            )
                        })
                        .transpose()?;
                    let relationer = match dobj.get("relationer") {
                        None => None,
                        Some(r) => {
                            let rp = join(&dp, "relationer");
                            let ro = as_object(r, &rp)?;
                            let mut m = BTreeMap::new();
                            for (name, entries) in ro {
                                let rel = spec::DEL_RELATIONS
                                    .iter()
                                    .find(|r| r.name == name)
                                    .ok_or_else(|| {
                                        OioError::validation(
                                            join(&rp, name),
                                            "unknown part relation (only underredigeringaf)",
                                        )
                                    })?;
                                m.insert(
                                    name.clone(),
                                    parse_rel_entries(false, rel, entries, &join(&rp, name))?,
                                );
                            }
                            Some(m)
                        }
                    };
                    dele.push(Del {
                        deltekst: deltekst.to_owned(),
                        egenskaber,
                        relationer,
                    });
                }
                Some(dele)
            }
        };
        out.push(Variant {
            varianttekst: varianttekst.to_owned(),
            egenskaber,
            dele,
        });
    }
    Ok(out)
}

/// Variant egenskaber booleans also accept "true"/"false"/"1"/"0" (contract §3.3); they are
/// stored as JSON booleans.
fn parse_variant_egenskaber(v: &Value, path: &str, mode: Mode) -> OioResult<Vec<AttrEntry>> {
    let mut normalised = v.clone();
    if let Some(a) = normalised.as_array_mut() {
        for e in a.iter_mut().filter_map(Value::as_object_mut) {
            for f in spec::VARIANT_FIELDS {
                if let Some(Value::String(s)) = e.get(f.name) {
                    let b = match s.as_str() {
                        "true" | "1" => Some(true),
                        "false" | "0" => Some(false),
                        _ => None,
                    };
                    if let Some(b) = b {
                        e.insert(f.name.into(), Value::Bool(b));
                    }
                }
            }
        }
    }
    parse_attr_entries(spec::VARIANT_FIELDS, &normalised, path, mode, false)
}

// ---------------------------------------------------------------------------------------------
// Rendering.

/// Options of a read.
#[derive(Debug, Clone, Copy)]
pub struct RenderOpts {
    /// Valid-time window; only periods overlapping it are shown.
    pub virk: (Ts, Ts),
    /// Merge touching periods with equal values before filtering (contract §4.6).
    pub konsolider: bool,
}

/// LoRa's constant `brugerref` when no user is known (contract §2.3).
pub const LORA_BRUGERREF: Uuid = uuid::uuid!("42c432e8-9c4a-11e6-9f62-873cf34a735f");

/// Render an object in the read shape (contract §2.3): `{"id", "registreringer": [...]}`.
pub fn render_objekt(
    spec: &ClassSpec,
    uuid: Uuid,
    regs: &[Registrering],
    opts: RenderOpts,
) -> Value {
    let registreringer: Vec<Value> = regs
        .iter()
        .map(|r| render_registrering(spec, r, opts))
        .collect();
    json!({ "id": uuid.to_string(), "registreringer": registreringer })
}

fn render_registrering(spec: &ClassSpec, r: &Registrering, opts: RenderOpts) -> Value {
    let mut o = Map::new();
    o.insert(
        "fratidspunkt".into(),
        json!({"tidsstempeldatotid": time::format_iso(r.meta.fra), "graenseindikator": true}),
    );
    o.insert(
        "tiltidspunkt".into(),
        json!({"tidsstempeldatotid": time::format_iso(r.meta.til)}),
    );
    o.insert("livscykluskode".into(), json!(r.meta.livscyklus.as_str()));
    o.insert(
        "brugerref".into(),
        json!(r.meta.brugerref.unwrap_or(LORA_BRUGERREF).to_string()),
    );
    if let Some(n) = &r.meta.note {
        o.insert("note".into(), json!(n));
    }
    let d = if opts.konsolider {
        crate::merge::konsolider(&r.data)
    } else {
        r.data.clone()
    };
    let (from, to) = opts.virk;

    let mut attributter = Map::new();
    for g in spec.attributes {
        if let Some(entries) = d.attributter.get(g.name) {
            let list = render_attr_entries(g.fields, entries, from, to);
            if !list.is_empty() {
                attributter.insert(spec.key(g.name), Value::Array(list));
            }
        }
    }
    o.insert("attributter".into(), Value::Object(attributter));

    let mut tilstande = Map::new();
    for s in spec.states {
        if let Some(entries) = d.tilstande.get(s.name) {
            let list: Vec<Value> = entries
                .iter()
                .filter(|e| e.virkning.overlaps(from, to))
                .map(|e| {
                    let mut m = Map::new();
                    m.insert(s.name.into(), json!(e.vaerdi));
                    m.insert("virkning".into(), render_virkning(&e.virkning));
                    Value::Object(m)
                })
                .collect();
            if !list.is_empty() {
                tilstande.insert(spec.key(s.name), Value::Array(list));
            }
        }
    }
    o.insert("tilstande".into(), Value::Object(tilstande));

    let relationer = render_relations(&d.relationer, from, to);
    if !relationer.is_empty() {
        o.insert("relationer".into(), Value::Object(relationer));
    }
    if spec.varianter
        && let Some(vs) = &d.varianter
    {
        let list: Vec<Value> = vs.iter().map(|v| render_variant(v, from, to)).collect();
        if !list.is_empty() {
            o.insert("varianter".into(), Value::Array(list));
        }
    }
    Value::Object(o)
}

fn render_relations(
    rels: &BTreeMap<String, Vec<RelEntry>>,
    from: Ts,
    to: Ts,
) -> Map<String, Value> {
    let mut out = Map::new();
    // BTreeMap iteration is alphabetical, as LoRa emits relation groups.
    for (name, entries) in rels {
        let mut shown: Vec<&RelEntry> = entries
            .iter()
            .filter(|e| e.virkning.overlaps(from, to))
            .collect();
        shown.sort_by_key(|e| e.indeks.unwrap_or(i64::MAX));
        let list: Vec<Value> = shown.into_iter().map(render_rel_entry).collect();
        if !list.is_empty() {
            out.insert(name.clone(), Value::Array(list));
        }
    }
    out
}

fn render_attr_entries(fields: &[Field], entries: &[AttrEntry], from: Ts, to: Ts) -> Vec<Value> {
    entries
        .iter()
        .filter(|e| e.virkning.overlaps(from, to))
        .map(|e| {
            let mut m = Map::new();
            for f in fields {
                if let Some(v) = e.felter.get(f.name) {
                    let v = if f.typ == FieldType::Soegeord {
                        render_soegeord(v)
                    } else {
                        v.clone()
                    };
                    m.insert(f.name.into(), v);
                }
            }
            prune_empty(&mut m);
            m.insert("virkning".into(), render_virkning(&e.virkning));
            Value::Object(m)
        })
        .collect()
}

/// Klasse `soegeord`: triples on input, objects on output (contract §2.3).
fn render_soegeord(v: &Value) -> Value {
    let list: Vec<Value> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let s = |i: usize| t.get(i).cloned().unwrap_or(Value::Null);
            let mut m = Map::new();
            m.insert("soegeordidentifikator".into(), s(0));
            m.insert("beskrivelse".into(), s(1));
            m.insert("soegeordskategori".into(), s(2));
            prune_empty(&mut m);
            Value::Object(m)
        })
        .collect();
    Value::Array(list)
}

fn render_rel_entry(e: &RelEntry) -> Value {
    let mut m = Map::new();
    match &e.maal {
        Maal::Uuid(u) => {
            m.insert("uuid".into(), json!(u.to_string()));
        }
        Maal::Urn(u) => {
            m.insert("urn".into(), json!(u));
        }
        Maal::Ingen | Maal::Vaerdi => {}
    }
    if let Some(t) = &e.objekttype {
        m.insert("objekttype".into(), json!(t));
    }
    if let Some(i) = e.indeks {
        m.insert("indeks".into(), json!(i));
    }
    for (k, v) in &e.ekstra {
        // The database type of a journal post's code is `reltypespec` (contract §2.3).
        let key = if k == "journalpostkode" {
            "reltypespec"
        } else {
            k.as_str()
        };
        m.insert(key.into(), v.clone());
    }
    prune_empty(&mut m);
    m.insert("virkning".into(), render_virkning(&e.virkning));
    Value::Object(m)
}

fn render_variant(v: &Variant, from: Ts, to: Ts) -> Value {
    let mut m = Map::new();
    m.insert("varianttekst".into(), json!(v.varianttekst));
    let eg = render_attr_entries(
        spec::VARIANT_FIELDS,
        v.egenskaber.as_deref().unwrap_or_default(),
        from,
        to,
    );
    if !eg.is_empty() {
        m.insert("egenskaber".into(), Value::Array(eg));
    }
    let dele: Vec<Value> = v
        .dele
        .iter()
        .flatten()
        .map(|d| {
            let mut dm = Map::new();
            dm.insert("deltekst".into(), json!(d.deltekst));
            let eg = render_attr_entries(
                spec::DEL_FIELDS,
                d.egenskaber.as_deref().unwrap_or_default(),
                from,
                to,
            );
            if !eg.is_empty() {
                dm.insert("egenskaber".into(), Value::Array(eg));
            }
            if let Some(r) = &d.relationer {
                let rels = render_relations(r, from, to);
                if !rels.is_empty() {
                    dm.insert("relationer".into(), Value::Object(rels));
                }
            }
            Value::Object(dm)
        })
        .collect();
    if !dele.is_empty() {
        m.insert("dele".into(), Value::Array(dele));
    }
    Value::Object(m)
}

/// Output form of a virkning: PostgreSQL text timestamps, always `[from, to)`.
pub fn render_virkning(v: &Virkning) -> Value {
    let mut m = Map::new();
    m.insert("from".into(), json!(time::format_pg(v.from)));
    m.insert("from_included".into(), json!(true));
    m.insert("to".into(), json!(time::format_pg(v.to)));
    m.insert("to_included".into(), json!(false));
    if let Some(a) = v.aktoerref {
        m.insert("aktoerref".into(), json!(a.to_string()));
    }
    if let Some(a) = &v.aktoertypekode {
        m.insert("aktoertypekode".into(), json!(a));
    }
    if let Some(n) = &v.notetekst {
        m.insert("notetekst".into(), json!(n));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::class;

    fn enhed() -> &'static ClassSpec {
        class("organisation", "organisationenhed").unwrap()
    }

    fn v() -> Value {
        json!({"from": "2020-01-01", "to": "infinity"})
    }

    #[test]
    fn empty_relationer_on_patch_clears_every_relation() {
        let a = parse_write(enhed(), &json!({"relationer": {}}), Mode::Update).unwrap();
        assert_eq!(a.data.relationer.len(), enhed().relations.len());
        assert!(a.data.relationer.values().all(Vec::is_empty));
    }

    const U: &str = "5ab1a6c4-5a8c-4b5c-9d6e-0a1b2c3d4e5f";

    #[test]
    fn dynamic_relations_keep_rolle_type_and_indeks() {
        let body = json!({"relationer": {"adresser": [{
            "urn": "urn:magenta.dk:email:a@b.dk",
            "rolle": {"uuid": U, "label": "Email"},
            "type": {"urn": "urn:dk:type:email"},
            "indeks": "7d8e",
            "virkning": v()}]}});
        let a = parse_write(enhed(), &body, Mode::Update).unwrap();
        let e = &a.data.relationer["adresser"][0];
        assert_eq!(e.ekstra["rolle"], json!({"uuid": U, "label": "Email"}));
        assert_eq!(e.ekstra["type"], json!({"urn": "urn:dk:type:email"}));
        assert_eq!(e.ekstra["indeks"], json!("7d8e"));
        assert_eq!(e.indeks, None);
        let shown = render_rel_entry(e);
        assert_eq!(shown["rolle"]["label"], json!("Email"));
        assert_eq!(shown["indeks"], json!("7d8e"));
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (
                json!({"attributter": {"organisationenhedegenskaber": [{"brugervendtnoegle": 1, "virkning": v()}]}}),
                "attributter.organisationenhedegenskaber[0].brugervendtnoegle",
            ),
            (
                json!({"attributter": {"organisationenhedegenskaber": [{"x": "1", "virkning": v()}]}}),
                "attributter.organisationenhedegenskaber[0].x",
            ),
            (
                json!({"tilstande": {"organisationenhedgyldighed": [{"gyldighed": "Maybe", "virkning": v()}]}}),
                "tilstande.organisationenhedgyldighed[0].gyldighed",
            ),
            (
                json!({"relationer": {"tilhoerer": [{"uuid": "x", "virkning": v()}]}}),
                "relationer.tilhoerer[0].uuid",
            ),
            (
                json!({"relationer": {"tilhoerer": [{"urn": "urn:a", "virkning": {"from": "2020-01-01"}}]}}),
                "relationer.tilhoerer[0].virkning.to",
            ),
            (json!({"bogus": 1}), "bogus"),
            // Dynamic relations (adresser, opgaver): rolle/type are {uuid|urn, label}, indeks text.
            (
                json!({"relationer": {"adresser": [{"uuid": U, "rolle": {"label": "x"}, "virkning": v()}]}}),
                "relationer.adresser[0].rolle",
            ),
            (
                json!({"relationer": {"adresser": [{"uuid": U, "type": {"urn": "nourn"}, "virkning": v()}]}}),
                "relationer.adresser[0].type.urn",
            ),
            (
                json!({"relationer": {"opgaver": [{"uuid": U, "indeks": 3, "virkning": v()}]}}),
                "relationer.opgaver[0].indeks",
            ),
            (
                json!({"relationer": {"tilhoerer": [{"uuid": U, "rolle": {"uuid": U}, "virkning": v()}]}}),
                "relationer.tilhoerer[0].rolle",
            ),
        ];
        for (body, field) in cases {
            match parse_write(enhed(), &body, Mode::Update) {
                Err(OioError::Validation { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn inclusive_bounds_are_honoured() {
        let body = json!({"tilstande": {"organisationenhedgyldighed": [{"gyldighed": "Aktiv",
            "virkning": {"from": "2020-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z",
                         "from_included": false, "to_included": true}}]}});
        let a = parse_write(enhed(), &body, Mode::Update).unwrap();
        let vk = &a.data.tilstande["gyldighed"][0].virkning;
        assert_eq!(vk.from, time::parse("2020-01-01T00:00:00Z").unwrap() + 1);
        assert_eq!(vk.to, time::parse("2021-01-01T00:00:00Z").unwrap() + 1);
    }
}
