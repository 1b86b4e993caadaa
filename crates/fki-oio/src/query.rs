//! LoRa's query parameters (contract §4): time windows, list versus search, search criteria.
//!
//! The REST layer hands over the raw `(name, value)` pairs; this module decides what they mean
//! and refuses anything LoRa refuses, so every transport that speaks LoRa's parameters gets the
//! same answers.

use uuid::Uuid;

use crate::error::{OioError, OioResult};
use crate::fakta::STI_SEP;
use crate::model::Livscyklus;
use crate::spec::{ClassSpec, FieldType};
use crate::store::{Kriterium, Match, RegWindow, Scope, SearchQuery};
use crate::time::{self, NEG_INF, POS_INF, Ts};

/// The two time windows of a read or search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tid {
    pub virk: (Ts, Ts),
    pub reg: RegWindow,
}

impl Tid {
    /// Defaults: valid time = the present instant; transaction time = the current registrering.
    pub fn now() -> Tid {
        let n = time::now();
        Tid {
            virk: (n, n + 1),
            reg: RegWindow::Current,
        }
    }
}

/// A class-level GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forespoergsel {
    List {
        uuids: Vec<Uuid>,
        tid: Tid,
        konsolider: bool,
    },
    Soeg {
        query: SearchQuery,
        tid: Tid,
        list: bool,
        konsolider: bool,
    },
}

const TIME_PARAMS: &[&str] = &[
    "virkningfra",
    "virkningtil",
    "virkningstid",
    "registreretfra",
    "registrerettil",
    "registreringstid",
];

/// Lower-case a parameter name except the part after `:` (contract §4.1); `bvn` becomes
/// `brugervendtnoegle`.
pub fn normalise_name(name: &str) -> String {
    let (head, tail) = match name.split_once(':') {
        Some((h, t)) => (h.to_lowercase(), Some(t)),
        None => (name.to_lowercase(), None),
    };
    let head = if head == "bvn" {
        "brugervendtnoegle".to_owned()
    } else {
        head
    };
    match tail {
        Some(t) => format!("{head}:{t}"),
        None => head,
    }
}

fn ts_param(name: &str, v: &str) -> OioResult<Ts> {
    time::parse(v).map_err(|e| OioError::BadRequest(format!("{name}: {e}")))
}

/// Parse the six time parameters from normalised pairs (others are ignored here).
pub fn parse_tid(pairs: &[(String, String)]) -> OioResult<Tid> {
    let get = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let mut tid = Tid::now();
    let (vf, vt, vs) = (get("virkningfra"), get("virkningtil"), get("virkningstid"));
    if vs.is_some() && (vf.is_some() || vt.is_some()) {
        return Err(OioError::BadRequest(
            "virkningstid cannot be combined with virkningFra/virkningTil".into(),
        ));
    }
    if let Some(v) = vs {
        let t = ts_param("virkningstid", v)?;
        tid.virk = (t, t.saturating_add(1));
    } else if vf.is_some() || vt.is_some() {
        let a = vf
            .map(|v| ts_param("virkningFra", v))
            .transpose()?
            .unwrap_or(NEG_INF);
        let b = vt
            .map(|v| ts_param("virkningTil", v))
            .transpose()?
            .unwrap_or(POS_INF);
        if a >= b {
            return Err(OioError::BadRequest(
                "virkningFra must be before virkningTil".into(),
            ));
        }
        tid.virk = (a, b);
    }
    let (rf, rt, rs) = (
        get("registreretfra"),
        get("registrerettil"),
        get("registreringstid"),
    );
    if rs.is_some() && (rf.is_some() || rt.is_some()) {
        return Err(OioError::BadRequest(
            "registreringstid cannot be combined with registreretFra/registreretTil".into(),
        ));
    }
    if let Some(v) = rs {
        let t = ts_param("registreringstid", v)?;
        tid.reg = RegWindow::Range(t, t.saturating_add(1));
    } else if rf.is_some() || rt.is_some() {
        let a = rf
            .map(|v| ts_param("registreretFra", v))
            .transpose()?
            .unwrap_or(NEG_INF);
        let b = rt
            .map(|v| ts_param("registreretTil", v))
            .transpose()?
            .unwrap_or(POS_INF);
        if a >= b {
            return Err(OioError::BadRequest(
                "registreretFra must be before registreretTil".into(),
            ));
        }
        tid.reg = RegWindow::Range(a, b);
    }
    Ok(tid)
}

fn unsupported(names: &[&str]) -> OioError {
    OioError::BadRequest(format!("Unsupported argument(s): {}", names.join(", ")))
}

/// Parameters of a read (`GET …/{uuid}`): only time parameters and `konsolider`.
pub fn parse_read(pairs: &[(String, String)]) -> OioResult<(Tid, bool)> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (normalise_name(k), v.clone()))
        .collect();
    let bad: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !TIME_PARAMS.contains(k) && *k != "konsolider")
        .collect();
    if !bad.is_empty() {
        return Err(unsupported(&bad));
    }
    Ok((
        parse_tid(&pairs)?,
        pairs.iter().any(|(k, _)| k == "konsolider"),
    ))
}

/// Turn an attribute search value into a match: `%` is the wildcard, `\%` a literal percent, and
/// (when `escape_underscore`) `_` is literal. Without a wildcard it is a case-insensitive equality.
pub fn text_match(value: &str, escape_underscore: bool) -> Match {
    let lower = value.to_lowercase();
    let mut pattern = String::new();
    let mut prefix = String::new();
    let mut literal_prefix = true;
    let mut wildcard = false;
    let mut chars = lower.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                chars.next();
                pattern.push_str("\\%");
                if literal_prefix {
                    prefix.push('%');
                }
            }
            '%' => {
                pattern.push('%');
                literal_prefix = false;
                wildcard = true;
            }
            '_' if !escape_underscore => {
                pattern.push('_');
                literal_prefix = false;
                wildcard = true;
            }
            '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
                if literal_prefix {
                    prefix.push(c);
                }
            }
            _ => {
                pattern.push(c);
                if literal_prefix {
                    prefix.push(c);
                }
            }
        }
    }
    if wildcard {
        Match::Like { pattern, prefix }
    } else {
        Match::Eq(prefix)
    }
}

fn relation_value(name: &str, v: &str) -> OioResult<String> {
    if v.starts_with("urn:") || v.starts_with("URN:") {
        return Ok(v.to_owned());
    }
    Uuid::parse_str(v)
        .map(|u| u.to_string())
        .map_err(|_| OioError::BadRequest(format!("{name}: '{v}' is neither a UUID nor a URN")))
}

/// Parse a class-level GET (`GET /{service}/{class}?…`).
pub fn parse_class_query(
    spec: &ClassSpec,
    raw: &[(String, String)],
    scope: Scope,
) -> OioResult<Forespoergsel> {
    let pairs: Vec<(String, String)> = raw
        .iter()
        .map(|(k, v)| (normalise_name(k), v.clone()))
        .collect();
    let tid = parse_tid(&pairs)?;
    let konsolider = pairs.iter().any(|(k, _)| k == "konsolider");
    let list = pairs.iter().any(|(k, _)| k == "list");
    let is_list = !list
        && pairs
            .iter()
            .all(|(k, _)| k == "uuid" || k == "konsolider" || TIME_PARAMS.contains(&k.as_str()));
    if is_list {
        let mut uuids = Vec::new();
        for (_, v) in pairs.iter().filter(|(k, _)| k == "uuid") {
            uuids.push(
                Uuid::parse_str(v)
                    .map_err(|_| OioError::BadRequest(format!("uuid: '{v}' is not a UUID")))?,
            );
        }
        return Ok(Forespoergsel::List {
            uuids,
            tid,
            konsolider,
        });
    }

    let mut q = SearchQuery {
        klasse: spec.name.to_owned(),
        reg: tid.reg,
        virk: tid.virk,
        uuid: None,
        livscyklus: None,
        brugerref: None,
        note: None,
        kriterier: Vec::new(),
        scope,
        paging: None,
    };
    let mut offset: Option<u64> = None;
    let mut limit: Option<u64> = None;
    let mut unknown: Vec<&str> = Vec::new();
    let first = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let varianttekst = first("varianttekst");
    let deltekst = first("deltekst");

    for (name, value) in &pairs {
        let (base, qualifier) = match name.split_once(':') {
            Some((b, q)) => (b, Some(q)),
            None => (name.as_str(), None),
        };
        match base {
            _ if TIME_PARAMS.contains(&base) => {}
            "list" | "konsolider" => {}
            "uuid" => {
                if q.uuid.is_some() {
                    return Err(OioError::BadRequest(
                        "uuid can be given only once in a search".into(),
                    ));
                }
                q.uuid =
                    Some(Uuid::parse_str(value).map_err(|_| {
                        OioError::BadRequest(format!("uuid: '{value}' is not a UUID"))
                    })?);
            }
            "foersteresultat" => {
                offset = Some(value.parse().map_err(|_| {
                    OioError::BadRequest(format!(
                        "foersteresultat: '{value}' is not a non-negative integer"
                    ))
                })?);
            }
            "maximalantalresultater" => {
                limit = Some(value.parse().map_err(|_| {
                    OioError::BadRequest(format!(
                        "maximalantalresultater: '{value}' is not a non-negative integer"
                    ))
                })?);
            }
            "livscykluskode" => {
                q.livscyklus = Some(Livscyklus::parse(value).ok_or_else(|| {
                    OioError::BadRequest(format!("livscykluskode: '{value}' is not one of Opstaaet, Importeret, Passiveret, Slettet, Rettet"))
                })?);
            }
            "brugerref" => {
                q.brugerref = Some(Uuid::parse_str(value).map_err(|_| {
                    OioError::BadRequest(format!("brugerref: '{value}' is not a UUID"))
                })?);
            }
            "notetekst" => match text_match(value, false) {
                Match::Eq(v) => {
                    q.note = Some(
                        v.replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_"),
                    )
                }
                Match::Like { pattern, .. } => q.note = Some(pattern),
            },
            "vilkaarligattr" => q.kriterier.push(Kriterium {
                navn: "a:".into(),
                navn_prefix: true,
                vaerdi: match text_match(value, false) {
                    // Equality over any attribute still needs LIKE (other fields share the prefix).
                    Match::Eq(v) => Match::Like {
                        pattern: v.replace('\\', "\\\\"),
                        prefix: v,
                    },
                    m => m,
                },
                objekttype: None,
                sti_prefix: None,
            }),
            "vilkaarligrel" => {
                let v = Uuid::parse_str(value).map_err(|_| {
                    OioError::BadRequest(format!("vilkaarligrel: '{value}' is not a UUID"))
                })?;
                q.kriterier.push(Kriterium {
                    navn: "r:".into(),
                    navn_prefix: true,
                    vaerdi: Match::Eq(v.to_string()),
                    objekttype: None,
                    sti_prefix: None,
                });
            }
            "varianttekst" | "deltekst" if spec.varianter => {
                let only_with_parts = base == "deltekst" || first("underredigeringaf").is_none();
                if only_with_parts && Some(value.as_str()) == first(base) {
                    q.kriterier.push(Kriterium {
                        navn: format!("v:{base}"),
                        navn_prefix: false,
                        vaerdi: Match::Eq(value.to_lowercase()),
                        objekttype: None,
                        sti_prefix: if base == "deltekst" {
                            varianttekst.map(str::to_owned)
                        } else {
                            None
                        },
                    });
                }
            }
            "underredigeringaf" if spec.varianter => {
                let sti_prefix = match (varianttekst, deltekst) {
                    (Some(v), Some(d)) => Some(format!("{v}{STI_SEP}{d}")),
                    (Some(v), None) => Some(format!("{v}{STI_SEP}")),
                    _ => None,
                };
                q.kriterier.push(Kriterium {
                    navn: "r:underredigeringaf".into(),
                    navn_prefix: false,
                    vaerdi: Match::Eq(relation_value(base, value)?),
                    objekttype: qualifier.map(str::to_owned),
                    sti_prefix,
                });
            }
            _ => {
                if let Some(rel) = spec.relation(base) {
                    q.kriterier.push(Kriterium {
                        navn: format!("r:{}", rel.name),
                        navn_prefix: false,
                        vaerdi: Match::Eq(relation_value(base, value)?),
                        objekttype: qualifier.map(str::to_owned),
                        sti_prefix: None,
                    });
                } else if let Some(state) = spec.state(base).filter(|_| qualifier.is_none()) {
                    if !state.values.contains(&value.as_str()) {
                        return Err(OioError::BadRequest(format!(
                            "{base}: '{value}' is not one of {}",
                            state.values.join(", ")
                        )));
                    }
                    q.kriterier.push(Kriterium {
                        navn: format!("s:{}", state.name),
                        navn_prefix: false,
                        vaerdi: Match::Eq(value.clone()),
                        objekttype: None,
                        sti_prefix: None,
                    });
                } else if let Some((_, field)) =
                    spec.find_field(base).filter(|_| qualifier.is_none())
                {
                    q.kriterier
                        .push(attr_criterion(field.name, field.typ, value)?);
                } else {
                    unknown.push(name);
                }
            }
        }
    }
    if !unknown.is_empty() {
        return Err(unsupported(&unknown));
    }
    if offset.is_some_and(|o| o > 0) || limit.is_some() {
        q.paging = Some((offset.unwrap_or(0), limit));
    }
    Ok(Forespoergsel::Soeg {
        query: q,
        tid,
        list,
        konsolider,
    })
}

fn attr_criterion(field: &str, typ: FieldType, value: &str) -> OioResult<Kriterium> {
    let (navn, navn_prefix, vaerdi) = match typ {
        FieldType::Bool => {
            let v = match value.to_lowercase().as_str() {
                "true" | "1" => "true",
                "false" | "0" => "false",
                _ => {
                    return Err(OioError::BadRequest(format!(
                        "{field}: '{value}' is not a boolean"
                    )));
                }
            };
            (format!("b:{field}"), false, Match::Eq(v.to_owned()))
        }
        FieldType::Int => {
            let n: i64 = value.parse().map_err(|_| {
                OioError::BadRequest(format!("{field}: '{value}' is not an integer"))
            })?;
            (format!("a:{field}"), false, Match::Eq(n.to_string()))
        }
        FieldType::Date => (format!("a:{field}"), false, Match::Eq(value.to_owned())),
        FieldType::OffentlighedUndtaget => (format!("a:{field}."), true, text_match(value, true)),
        _ => (format!("a:{field}"), false, text_match(value, true)),
    };
    Ok(Kriterium {
        navn,
        navn_prefix,
        vaerdi,
        objekttype: None,
        sti_prefix: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::class;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn text_match_escapes_like_lora() {
        assert_eq!(text_match("Hq", true), Match::Eq("hq".into()));
        assert_eq!(
            text_match("ab%", true),
            Match::Like {
                pattern: "ab%".into(),
                prefix: "ab".into()
            }
        );
        // `_` is literal, `\%` a literal percent.
        assert_eq!(
            text_match("a_b\\%c%", true),
            Match::Like {
                pattern: "a\\_b\\%c%".into(),
                prefix: "a_b%c".into()
            }
        );
        assert_eq!(text_match("100\\%", true), Match::Eq("100%".into()));
        assert_eq!(
            text_match("a_c", false),
            Match::Like {
                pattern: "a_c".into(),
                prefix: "a".into()
            }
        );
    }

    #[test]
    fn list_versus_search() {
        let spec = class("organisation", "organisationenhed").unwrap();
        let u = "9a2e0d5c-0c5f-4e61-9b6e-1c2d3e4f5a6b";
        match parse_class_query(
            spec,
            &p(&[("uuid", u), ("virkningFra", "2020-01-01")]),
            Scope::All,
        )
        .unwrap()
        {
            Forespoergsel::List { uuids, .. } => assert_eq!(uuids.len(), 1),
            other => panic!("{other:?}"),
        }
        match parse_class_query(
            spec,
            &p(&[
                ("bvn", "a%"),
                ("tilhoerer:organisation", u),
                ("gyldighed", "Aktiv"),
            ]),
            Scope::All,
        )
        .unwrap()
        {
            Forespoergsel::Soeg { query, list, .. } => {
                assert!(!list);
                assert_eq!(query.kriterier.len(), 3);
                assert_eq!(
                    query.kriterier[1].objekttype.as_deref(),
                    Some("organisation")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_class_query(spec, &p(&[("uuid", u), ("list", "")]), Scope::All).unwrap(),
            Forespoergsel::Soeg { list: true, .. }
        ));
    }

    #[test]
    fn refusals() {
        let spec = class("organisation", "organisationenhed").unwrap();
        for bad in [
            vec![("nosuchparam", "1")],
            vec![("gyldighed", "Maybe")],
            vec![("tilhoerer", "not-a-uuid")],
            vec![
                ("bvn", "x"),
                ("uuid", "9a2e0d5c-0c5f-4e61-9b6e-1c2d3e4f5a6b"),
                ("uuid", "9a2e0d5c-0c5f-4e61-9b6e-1c2d3e4f5a6c"),
            ],
            vec![
                ("virkningstid", "2020-01-01"),
                ("virkningFra", "2020-01-01"),
            ],
            vec![("bvn", "x"), ("maximalantalresultater", "ten")],
            vec![("bvn", "x"), ("livscykluskode", "Levende")],
        ] {
            assert!(
                parse_class_query(spec, &p(&bad), Scope::All).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(parse_read(&p(&[("bvn", "x")])).is_err());
        assert!(
            parse_read(&p(&[("virkningFra", "2020-01-01"), ("konsolider", "")]))
                .unwrap()
                .1
        );
    }

    #[test]
    fn windows() {
        let t = parse_tid(&p(&[("virkningfra", "2020-01-01T00:00:00Z")])).unwrap();
        assert_eq!(t.virk.1, POS_INF);
        let t = parse_tid(&p(&[("registreringstid", "2020-01-01T00:00:00Z")])).unwrap();
        assert!(matches!(t.reg, RegWindow::Range(a, b) if b == a + 1));
        assert_eq!(Tid::now().reg, RegWindow::Current);
    }
}
