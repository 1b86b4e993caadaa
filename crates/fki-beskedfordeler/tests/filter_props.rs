//! Property tests of the filter language: the parser never panics; text and JSON forms print
//! and parse back to the same filter; and evaluation agrees with a reference evaluator that
//! works differently (it first lists every (group occurrence, field, value) fact of a message,
//! then answers each condition by scanning those facts).

use std::collections::{HashMap, HashSet};

use fki_beskedfordeler::filter::{Felt, Filter, Gruppe, Op, RegFelt, RelFelt, Vaerdilister};
use fki_beskedfordeler::kuvert::{Filtreringsdata, ObjektRegistrering, RelateretObjekt, UnikId};
use proptest::prelude::*;
use uuid::Uuid;

// Small value pools so that generated filters and messages actually meet.
const VALUES: &[&str] = &[
    "urn:oio:cvr-nr:11111111",
    "urn:oio:cvr-nr:22222222",
    "urn:oio:cpr-nr:0101010101",
    "urn:oio:kle:27.35.04",
    "urn:oio:kle:27.35",
    "urn:oio:kle:32.01.01",
    "00000000-0000-0000-0000-000000000001",
    "00000000-0000-0000-0000-000000000002",
];
const KLE_PREFIXES: &[&str] = &["urn:oio:kle:27", "urn:oio:kle:27.35", "urn:oio:kle:32.01"];
const LISTS: &[u128] = &[1, 2];

fn unik(v: &str) -> UnikId {
    match Uuid::parse_str(v) {
        Ok(u) => UnikId::Uuid(u),
        Err(_) => UnikId::urn(v).unwrap(),
    }
}

fn value() -> impl Strategy<Value = String> {
    prop::sample::select(VALUES).prop_map(str::to_owned)
}

fn uuid_value() -> impl Strategy<Value = Uuid> {
    (1u128..=2).prop_map(Uuid::from_u128)
}

fn rel_felt() -> impl Strategy<Value = RelFelt> {
    prop_oneof![
        Just(RelFelt::ObjektId),
        Just(RelFelt::ObjektType),
        Just(RelFelt::ObjektRolle)
    ]
}

fn reg_felt() -> impl Strategy<Value = RegFelt> {
    prop_oneof![
        Just(RegFelt::ObjektAnsvarligMyndighed),
        Just(RegFelt::ObjektId),
        Just(RegFelt::ObjektType),
        Just(RegFelt::ObjektHandling),
        Just(RegFelt::OpgaveEmne)
    ]
}

fn op_for(felt: Felt) -> BoxedStrategy<Op> {
    let prefix = if felt == Felt::Registrering(RegFelt::OpgaveEmne) {
        prop::sample::select(KLE_PREFIXES)
            .prop_map(|p| Op::Praefiks(p.to_owned()))
            .boxed()
    } else {
        value()
            .prop_map(|v| Op::Praefiks(v[..v.len() - 2].to_owned()))
            .boxed()
    };
    prop_oneof![
        value().prop_map(Op::Lig),
        prefix,
        prop::collection::vec(value(), 1..3).prop_map(Op::I),
        prop::sample::select(LISTS).prop_map(|l| Op::IVaerdiliste(Uuid::from_u128(l))),
    ]
    .boxed()
}

fn cond(inside: Option<Gruppe>) -> BoxedStrategy<Filter> {
    let felt: BoxedStrategy<Felt> = match inside {
        None => prop_oneof![
            Just(Felt::Beskedtype),
            Just(Felt::BeskedAnsvarligAktoer),
            Just(Felt::TilladtModtager),
            rel_felt().prop_map(Felt::Relateret),
            reg_felt().prop_map(Felt::Registrering),
        ]
        .boxed(),
        Some(Gruppe::RelateretObjekt) => rel_felt().prop_map(Felt::Relateret).boxed(),
        Some(Gruppe::ObjektRegistrering) => reg_felt().prop_map(Felt::Registrering).boxed(),
    };
    felt.prop_flat_map(|f| op_for(f).prop_map(move |op| Filter::Betingelse(f, op)))
        .boxed()
}

fn filter_in(inside: Option<Gruppe>) -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        8 => cond(inside),
        1 => Just(Filter::And(vec![])),
        1 => Just(Filter::Or(vec![])),
    ];
    leaf.prop_recursive(4, 24, 4, move |inner| {
        let mut options = vec![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(Filter::And)
                .boxed(),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(Filter::Or)
                .boxed(),
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))).boxed(),
        ];
        if inside.is_none() {
            options.push(
                prop_oneof![
                    Just(Gruppe::RelateretObjekt),
                    Just(Gruppe::ObjektRegistrering)
                ]
                .prop_flat_map(|g| {
                    filter_in(Some(g)).prop_map(move |f| Filter::Nogen(g, Box::new(f)))
                })
                .boxed(),
            );
        }
        prop::strategy::Union::new(options)
    })
    .boxed()
}

fn opt_value() -> impl Strategy<Value = Option<UnikId>> {
    prop::option::of(value().prop_map(|v| unik(&v)))
}

fn message() -> impl Strategy<Value = Filtreringsdata> {
    let rel = (value(), value(), opt_value()).prop_map(|(a, b, c)| RelateretObjekt {
        objekt_id: unik(&a),
        objekt_type: unik(&b),
        objekt_rolle: c,
    });
    let reg = (
        opt_value(),
        opt_value(),
        opt_value(),
        opt_value(),
        opt_value(),
    )
        .prop_map(|(m, i, t, h, e)| ObjektRegistrering {
            objekt_ansvarlig_myndighed: m,
            objekt_id: i,
            objekt_type: t,
            objekt_handling: h,
            opgave_emne: e,
            ..Default::default()
        });
    (
        opt_value(),
        prop::option::of(uuid_value()),
        prop::collection::vec(value().prop_map(|v| unik(&v)), 0..3),
        prop::collection::vec(rel, 0..3),
        prop::collection::vec(reg, 0..3),
    )
        .prop_map(|(bt, ba, tm, ro, or)| Filtreringsdata {
            beskedtype: bt,
            besked_ansvarlig_aktoer: ba,
            tilladt_modtager: tm,
            relateret_objekt: ro,
            objekt_registrering: or,
            tvaergaaende_proces: vec![],
        })
}

fn lists() -> impl Strategy<Value = HashMap<Uuid, HashSet<String>>> {
    prop::collection::vec(prop::collection::hash_set(value(), 0..4), 2..=2).prop_map(|sets| {
        sets.into_iter()
            .enumerate()
            .map(|(i, s)| (Uuid::from_u128(i as u128 + 1), s))
            .collect()
    })
}

// ---- the reference evaluator ----------------------------------------------------------------

/// A fact: (group, occurrence number, field, value). Top-level fields have no group.
type Fact = (Option<Gruppe>, usize, Felt, String);

fn facts(d: &Filtreringsdata) -> Vec<Fact> {
    let mut out = Vec::new();
    if let Some(v) = &d.beskedtype {
        out.push((None, 0, Felt::Beskedtype, v.vaerdi()));
    }
    if let Some(u) = d.besked_ansvarlig_aktoer {
        out.push((None, 0, Felt::BeskedAnsvarligAktoer, u.to_string()));
    }
    for v in &d.tilladt_modtager {
        out.push((None, 0, Felt::TilladtModtager, v.vaerdi()));
    }
    for (i, r) in d.relateret_objekt.iter().enumerate() {
        let g = Some(Gruppe::RelateretObjekt);
        out.push((
            g,
            i,
            Felt::Relateret(RelFelt::ObjektId),
            r.objekt_id.vaerdi(),
        ));
        out.push((
            g,
            i,
            Felt::Relateret(RelFelt::ObjektType),
            r.objekt_type.vaerdi(),
        ));
        if let Some(v) = &r.objekt_rolle {
            out.push((g, i, Felt::Relateret(RelFelt::ObjektRolle), v.vaerdi()));
        }
    }
    for (i, r) in d.objekt_registrering.iter().enumerate() {
        let g = Some(Gruppe::ObjektRegistrering);
        for (f, v) in [
            (
                RegFelt::ObjektAnsvarligMyndighed,
                &r.objekt_ansvarlig_myndighed,
            ),
            (RegFelt::ObjektId, &r.objekt_id),
            (RegFelt::ObjektType, &r.objekt_type),
            (RegFelt::ObjektHandling, &r.objekt_handling),
            (RegFelt::OpgaveEmne, &r.opgave_emne),
        ] {
            if let Some(v) = v {
                out.push((g, i, Felt::Registrering(f), v.vaerdi()));
            }
        }
    }
    out
}

fn ref_op(op: &Op, v: &str, l: &HashMap<Uuid, HashSet<String>>) -> bool {
    match op {
        Op::Lig(x) => x == v,
        Op::I(xs) => xs.contains(&v.to_owned()),
        Op::IVaerdiliste(u) => l.get(u).is_some_and(|s| s.contains(v)),
        // A KLE prefix matches the key itself or the key followed by more levels.
        Op::Praefiks(p) if p.starts_with("urn:oio:kle:") => {
            v == p || v.starts_with(&format!("{p}."))
        }
        Op::Praefiks(p) => v.starts_with(p.as_str()),
    }
}

/// How many occurrences each group has (an occurrence may hold no facts at all).
type Antal = HashMap<Gruppe, usize>;

/// `scope`: `None` at the top; `Some((group, i))` inside occurrence `i` of a group.
fn reference(
    f: &Filter,
    facts: &[Fact],
    antal: &Antal,
    scope: Option<(Gruppe, usize)>,
    l: &HashMap<Uuid, HashSet<String>>,
) -> bool {
    match f {
        Filter::And(v) => v.iter().all(|x| reference(x, facts, antal, scope, l)),
        Filter::Or(v) => v.iter().any(|x| reference(x, facts, antal, scope, l)),
        Filter::Not(x) => !reference(x, facts, antal, scope, l),
        Filter::Betingelse(felt, op) => facts.iter().any(|(g, i, fe, v)| {
            fe == felt
                && match scope {
                    None => true,
                    Some((sg, si)) => *g == Some(sg) && *i == si,
                }
                && ref_op(op, v, l)
        }),
        Filter::Nogen(g, x) => {
            let n = antal.get(g).copied().unwrap_or(0);
            (0..n).any(|i| reference(x, facts, antal, Some((*g, i)), l))
        }
    }
}

struct Lists<'a>(&'a HashMap<Uuid, HashSet<String>>);

impl Vaerdilister for Lists<'_> {
    fn indeholder(&self, liste: &Uuid, vaerdi: &str) -> bool {
        self.0.get(liste).is_some_and(|s| s.contains(vaerdi))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_parser_never_panics(s in ".{0,200}") {
        let _ = Filter::parse(&s);
    }

    #[test]
    fn the_parser_never_panics_on_filter_like_text(
        parts in prop::collection::vec(prop::sample::select(&[
            "AND", "OR", "NOT", "(", ")", "{", "}", "[", "]", ",", "=", "^=", "IN",
            "vaerdiliste", "beskedtype", "relateretobjekt", "objektid", "\"x\"", "\"",
            "TRUE", "FALSE", "objektregistrering.opgaveemne", "\"urn:oio:kle:27\"",
        ][..]), 0..30)
    ) {
        let _ = Filter::parse(&parts.join(" "));
    }

    #[test]
    fn text_and_json_forms_round_trip(f in filter_in(None)) {
        let text = f.to_string();
        let parsed = Filter::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed, f.clone());
        let from_json = Filter::from_json(&f.to_json())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(from_json, f);
    }

    #[test]
    fn evaluation_agrees_with_the_reference(f in filter_in(None), d in message(), l in lists()) {
        let fs = facts(&d);
        let antal: Antal = [
            (Gruppe::RelateretObjekt, d.relateret_objekt.len()),
            (Gruppe::ObjektRegistrering, d.objekt_registrering.len()),
        ]
        .into();
        prop_assert_eq!(f.matcher(&d, &Lists(&l)), reference(&f, &fs, &antal, None, &l), "{}", f);
    }

    /// The Beskedtyper a filter requires are sound: a message it passes has one of them.
    #[test]
    fn a_passed_message_has_a_required_beskedtype(f in filter_in(None), d in message(), l in lists()) {
        if let Some(typer) = f.kraevede_beskedtyper()
            && f.matcher(&d, &Lists(&l))
        {
            let v = d.beskedtype.as_ref().map(UnikId::vaerdi);
            prop_assert!(v.as_deref().is_some_and(|v| typer.contains(v)), "{} passed {:?}, requires {:?}", f, v, typer);
        }
    }
}

#[test]
fn the_required_beskedtyper_follow_and_or_and_not() {
    let a = "00000000-0000-0000-0000-000000000001";
    let b = "00000000-0000-0000-0000-000000000002";
    let krav = |s: &str| {
        Filter::parse(s).unwrap().kraevede_beskedtyper().map(|t| {
            let mut t: Vec<String> = t.into_iter().map(str::to_owned).collect();
            t.sort();
            t
        })
    };
    assert_eq!(
        krav(&format!("beskedtype = \"{a}\"")),
        Some(vec![a.to_owned()])
    );
    assert_eq!(
        krav(&format!(
            "beskedtype IN [\"{a}\", \"{b}\"] AND relateretobjekt.objektid = \"{a}\""
        )),
        Some(vec![a.to_owned(), b.to_owned()])
    );
    assert_eq!(
        krav(&format!(
            "beskedtype IN [\"{a}\", \"{b}\"] AND beskedtype = \"{b}\""
        )),
        Some(vec![b.to_owned()])
    );
    assert_eq!(
        krav(&format!("beskedtype = \"{a}\" OR beskedtype = \"{b}\"")),
        Some(vec![a.to_owned(), b.to_owned()])
    );
    assert_eq!(
        krav(&format!(
            "beskedtype = \"{a}\" OR relateretobjekt.objektid = \"{a}\""
        )),
        None
    );
    assert_eq!(krav(&format!("NOT beskedtype = \"{a}\"")), None);
    assert_eq!(krav("TRUE"), None);
    assert_eq!(
        krav(r#"objektregistrering.opgaveemne ^= "urn:oio:kle:27""#),
        None
    );
}

/// Found by the property above (a CI run): an occurrence without any of the fields still counts
/// as an occurrence, so `NOT` inside a group holds for it.
#[test]
fn an_occurrence_without_fields_still_satisfies_a_negation() {
    let f = Filter::parse(
        r#"objektregistrering { NOT objektansvarligmyndighed = "urn:oio:cvr-nr:11111111" }"#,
    )
    .unwrap();
    let mut d = Filtreringsdata::default();
    assert!(
        !f.matcher(&d, &Lists(&HashMap::new())),
        "no occurrence, nothing holds"
    );
    d.objekt_registrering.push(ObjektRegistrering::default());
    assert!(f.matcher(&d, &Lists(&HashMap::new())));
}
