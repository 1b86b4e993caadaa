//! The bitemporal merge rules (contract §5): how a `ret` (PATCH) or an `importer` onto a passive
//! object combines the supplied entries with the current registrering, and `konsolider`.
//!
//! Everything here is pure: old data and a change in, new data out. Periods are half-open
//! `[from, to)` integers, so cutting and joining are exact.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::{AttrEntry, Data, Del, HasVirkning, Maal, RelEntry, Variant};
use crate::spec::{self, Cardinality, ClassSpec, Field};
use crate::time::Ts;

/// The parts of `[from, to)` not covered by any of `covers`.
pub fn uncovered(from: Ts, to: Ts, covers: &[(Ts, Ts)]) -> Vec<(Ts, Ts)> {
    let mut cs: Vec<(Ts, Ts)> = covers
        .iter()
        .copied()
        .filter(|&(a, b)| a < to && from < b)
        .collect();
    cs.sort();
    let mut out = Vec::new();
    let mut cur = from;
    for (a, b) in cs {
        if a > cur {
            out.push((cur, a.min(to)));
        }
        cur = cur.max(b);
        if cur >= to {
            break;
        }
    }
    if cur < to {
        out.push((cur, to));
    }
    out
}

fn period<T: HasVirkning>(e: &T) -> (Ts, Ts) {
    (e.virkning().from, e.virkning().to)
}

fn sort_by_period<T: HasVirkning>(list: &mut [T]) {
    list.sort_by_key(|e| period(e));
}

/// States and 0..1 relations (§5.3, §5.4): new entries win inside their periods; old entries
/// survive only in time no new entry covers.
pub fn apply_periodic<T: HasVirkning + Clone>(old: &[T], new: &[T]) -> Vec<T> {
    let covers: Vec<(Ts, Ts)> = new.iter().map(period).collect();
    let mut out: Vec<T> = new.to_vec();
    for o in old {
        for (a, b) in uncovered(o.virkning().from, o.virkning().to, &covers) {
            let mut piece = o.clone();
            *piece.virkning_mut() = o.virkning().with_period(a, b);
            out.push(piece);
        }
    }
    sort_by_period(&mut out);
    out
}

/// One attribute group (§5.2).
pub fn apply_attr(fields: &[Field], old: &[AttrEntry], new: &[AttrEntry]) -> Vec<AttrEntry> {
    let mut out = Vec::new();
    for n in new {
        let complete = fields.iter().all(|f| n.felter.contains_key(f.name));
        if complete {
            out.push(n.clone());
            continue;
        }
        let mut covered = Vec::new();
        for o in old
            .iter()
            .filter(|o| o.virkning.overlaps(n.virkning.from, n.virkning.to))
        {
            let a = o.virkning.from.max(n.virkning.from);
            let b = o.virkning.to.min(n.virkning.to);
            let mut felter = o.felter.clone();
            for (k, v) in &n.felter {
                felter.insert(k.clone(), v.clone());
            }
            out.push(AttrEntry {
                felter,
                virkning: n.virkning.with_period(a, b),
            });
            covered.push((a, b));
        }
        for (a, b) in uncovered(n.virkning.from, n.virkning.to, &covered) {
            out.push(AttrEntry {
                felter: n.felter.clone(),
                virkning: n.virkning.with_period(a, b),
            });
        }
    }
    let covers: Vec<(Ts, Ts)> = new.iter().map(period).collect();
    for o in old {
        for (a, b) in uncovered(o.virkning.from, o.virkning.to, &covers) {
            out.push(AttrEntry {
                felter: o.felter.clone(),
                virkning: o.virkning.with_period(a, b),
            });
        }
    }
    for e in &mut out {
        strip_cleared(&mut e.felter);
    }
    sort_by_period(&mut out);
    out
}

/// `""` clears a field: cleared fields are not stored.
pub fn strip_cleared(felter: &mut Map<String, Value>) {
    felter.retain(|_, v| !matches!(v, Value::String(s) if s.is_empty()) && !v.is_null());
}

/// Non-indexed 0..n relations (§5.4): the supplied list replaces the old one wholesale; blank
/// entries (which mean "remove all") are not stored. `[]` clears (Doc; see docs/oio-rest.md).
pub fn apply_many(new: &[RelEntry]) -> Vec<RelEntry> {
    new.iter().filter(|e| !is_blank(e)).cloned().collect()
}

/// Indexed 0..n relations (§5.5): an entry whose `indeks` matches an existing one replaces it;
/// others are appended with the next free index; unmentioned entries are kept.
pub fn apply_indexed(old: &[RelEntry], new: &[RelEntry]) -> Vec<RelEntry> {
    if new.is_empty() {
        return Vec::new();
    }
    let mut out = old.to_vec();
    let mut max = out.iter().filter_map(|e| e.indeks).max().unwrap_or(0);
    for n in new.iter().filter(|e| !is_blank(e)) {
        match n
            .indeks
            .and_then(|i| out.iter().position(|o| o.indeks == Some(i)))
        {
            Some(pos) => out[pos] = n.clone(),
            None => {
                max += 1;
                out.push(RelEntry {
                    indeks: Some(max),
                    ..n.clone()
                });
            }
        }
    }
    out.sort_by_key(|e| e.indeks);
    out
}

fn is_blank(e: &RelEntry) -> bool {
    e.maal == Maal::Ingen
}

/// Number the entries of indexed 0..n relations 1, 2, 3 … in the order given, ignoring supplied
/// values (create and import, §3.2), and drop blank entries.
pub fn normalise_new(spec: &ClassSpec, data: &mut Data) {
    for (name, list) in data.relationer.iter_mut() {
        list.retain(|e| !is_blank(e));
        let indexed = spec.indexed
            && spec
                .relation(name)
                .is_some_and(|r| r.card == Cardinality::ZeroToMany);
        for (i, e) in list.iter_mut().enumerate() {
            e.indeks = if indexed { Some(i as i64 + 1) } else { None };
        }
    }
    data.relationer.retain(|_, l| !l.is_empty());
    for list in data.attributter.values_mut() {
        for e in list.iter_mut() {
            strip_cleared(&mut e.felter);
        }
        sort_by_period(list);
    }
    for list in data.tilstande.values_mut() {
        sort_by_period(list);
    }
    if let Some(vs) = &mut data.varianter {
        for v in vs.iter_mut() {
            v.egenskaber.get_or_insert_with(Vec::new);
            for d in v.dele.get_or_insert_with(Vec::new).iter_mut() {
                d.egenskaber.get_or_insert_with(Vec::new);
                let rels = d.relationer.get_or_insert_with(BTreeMap::new);
                for l in rels.values_mut() {
                    l.retain(|e| !is_blank(e));
                }
                rels.retain(|_, l| !l.is_empty());
            }
        }
    }
}

/// Apply a change to the current data (§5.1–§5.6). Keys absent from the change carry over.
pub fn apply(spec: &ClassSpec, old: &Data, change: &Data) -> Data {
    let mut out = old.clone();
    for (group, new) in &change.attributter {
        if new.is_empty() {
            out.attributter.remove(group);
            continue;
        }
        let fields = spec.attr_group(group).map_or(&[][..], |g| g.fields);
        let merged = apply_attr(
            fields,
            old.attributter.get(group).map_or(&[][..], Vec::as_slice),
            new,
        );
        out.attributter.insert(group.clone(), merged);
    }
    for (state, new) in &change.tilstande {
        // `[]` clears the state for all time (§5.3).
        let merged = if new.is_empty() {
            Vec::new()
        } else {
            apply_periodic(old.tilstande.get(state).map_or(&[][..], Vec::as_slice), new)
        };
        out.tilstande.insert(state.clone(), merged);
    }
    for (name, new) in &change.relationer {
        let old_list = old.relationer.get(name).map_or(&[][..], Vec::as_slice);
        let card = spec
            .relation(name)
            .map_or(Cardinality::ZeroToMany, |r| r.card);
        let merged = match card {
            // `[]` clears the relation for all time (Doc; docs/oio-rest.md).
            Cardinality::ZeroToOne if new.is_empty() => Vec::new(),
            Cardinality::ZeroToOne => {
                let mut l = apply_periodic(old_list, new);
                l.retain(|e| !is_blank(e));
                l
            }
            Cardinality::ZeroToMany if spec.indexed => apply_indexed(old_list, new),
            Cardinality::ZeroToMany => apply_many(new),
        };
        out.relationer.insert(name.clone(), merged);
    }
    out.attributter.retain(|_, l| !l.is_empty());
    out.tilstande.retain(|_, l| !l.is_empty());
    out.relationer.retain(|_, l| !l.is_empty());
    if let Some(new) = &change.varianter {
        out.varianter = Some(apply_varianter(
            old.varianter.as_deref().unwrap_or_default(),
            new,
        ));
    }
    out
}

fn merge_opt_attr(
    fields: &[Field],
    old: Option<&Vec<AttrEntry>>,
    new: Option<&Vec<AttrEntry>>,
) -> Vec<AttrEntry> {
    let old = old.map_or(&[][..], Vec::as_slice);
    match new {
        None => old.to_vec(),
        Some(n) if n.is_empty() => Vec::new(),
        Some(n) => apply_attr(fields, old, n),
    }
}

/// Dokument variants (§5.6).
fn apply_varianter(old: &[Variant], new: &[Variant]) -> Vec<Variant> {
    if new.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Variant> = old.to_vec();
    for nv in new {
        let pos = out.iter().position(|v| v.varianttekst == nv.varianttekst);
        let ov = pos.map(|p| out[p].clone());
        let egenskaber = merge_opt_attr(
            spec::VARIANT_FIELDS,
            ov.as_ref().and_then(|v| v.egenskaber.as_ref()),
            nv.egenskaber.as_ref(),
        );
        let old_dele = ov.as_ref().and_then(|v| v.dele.clone()).unwrap_or_default();
        let dele = match &nv.dele {
            None => old_dele,
            Some(d) if d.is_empty() => Vec::new(),
            Some(d) => apply_dele(&old_dele, d),
        };
        let merged = Variant {
            varianttekst: nv.varianttekst.clone(),
            egenskaber: Some(egenskaber),
            dele: Some(dele),
        };
        let empty = merged.egenskaber.as_ref().is_none_or(Vec::is_empty)
            && merged.dele.as_ref().is_none_or(Vec::is_empty);
        match (pos, empty) {
            (Some(p), true) => {
                out.remove(p);
            }
            (Some(p), false) => out[p] = merged,
            (None, false) => out.push(merged),
            (None, true) => {}
        }
    }
    out
}

fn apply_dele(old: &[Del], new: &[Del]) -> Vec<Del> {
    let mut out: Vec<Del> = old.to_vec();
    for nd in new {
        let pos = out.iter().position(|d| d.deltekst == nd.deltekst);
        let od = pos.map(|p| out[p].clone());
        let egenskaber = merge_opt_attr(
            spec::DEL_FIELDS,
            od.as_ref().and_then(|d| d.egenskaber.as_ref()),
            nd.egenskaber.as_ref(),
        );
        let relationer = match &nd.relationer {
            None => od
                .as_ref()
                .and_then(|d| d.relationer.clone())
                .unwrap_or_default(),
            Some(r) => r
                .iter()
                .map(|(k, l)| (k.clone(), apply_many(l)))
                .filter(|(_, l)| !l.is_empty())
                .collect(),
        };
        let empty = egenskaber.is_empty() && relationer.is_empty();
        let merged = Del {
            deltekst: nd.deltekst.clone(),
            egenskaber: Some(egenskaber),
            relationer: Some(relationer),
        };
        match (pos, empty) {
            (Some(p), true) => {
                out.remove(p);
            }
            (Some(p), false) => out[p] = merged,
            (None, false) => out.push(merged),
            (None, true) => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// konsolider (§4.6)

fn join_touching<T: HasVirkning + Clone>(list: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let mut sorted = list.to_vec();
    sort_by_period(&mut sorted);
    let mut out: Vec<T> = Vec::new();
    for e in sorted {
        if let Some(last) = out.last_mut()
            && last.virkning().to == e.virkning().from
            && same(last, &e)
        {
            last.virkning_mut().to = e.virkning().to;
            continue;
        }
        out.push(e);
    }
    out
}

/// Merge entries that are equal apart from `virkning` and whose periods touch.
pub fn konsolider(d: &Data) -> Data {
    let rel_same = |a: &RelEntry, b: &RelEntry| {
        a.maal == b.maal
            && a.objekttype == b.objekttype
            && a.indeks == b.indeks
            && a.ekstra == b.ekstra
    };
    let attr_same = |a: &AttrEntry, b: &AttrEntry| a.felter == b.felter;
    Data {
        attributter: d
            .attributter
            .iter()
            .map(|(k, l)| (k.clone(), join_touching(l, attr_same)))
            .collect(),
        tilstande: d
            .tilstande
            .iter()
            .map(|(k, l)| (k.clone(), join_touching(l, |a, b| a.vaerdi == b.vaerdi)))
            .collect(),
        relationer: d
            .relationer
            .iter()
            .map(|(k, l)| (k.clone(), join_touching(l, rel_same)))
            .collect(),
        varianter: d.varianter.as_ref().map(|vs| {
            vs.iter()
                .map(|v| Variant {
                    varianttekst: v.varianttekst.clone(),
                    egenskaber: v.egenskaber.as_ref().map(|l| join_touching(l, attr_same)),
                    dele: v.dele.as_ref().map(|ds| {
                        ds.iter()
                            .map(|dl| Del {
                                deltekst: dl.deltekst.clone(),
                                egenskaber: dl
                                    .egenskaber
                                    .as_ref()
                                    .map(|l| join_touching(l, attr_same)),
                                relationer: dl.relationer.as_ref().map(|r| {
                                    r.iter()
                                        .map(|(k, l)| (k.clone(), join_touching(l, rel_same)))
                                        .collect()
                                }),
                            })
                            .collect()
                    }),
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StateEntry, Virkning};
    use crate::time::{NEG_INF, POS_INF};
    use proptest::prelude::*;
    use serde_json::json;

    const FIELDS: &[Field] = &[
        Field {
            name: "brugervendtnoegle",
            typ: spec::FieldType::Text,
            mandatory: true,
        },
        Field {
            name: "supplement",
            typ: spec::FieldType::Text,
            mandatory: false,
        },
    ];

    fn attr(pairs: &[(&str, &str)], from: Ts, to: Ts) -> AttrEntry {
        let mut felter = Map::new();
        for (k, v) in pairs {
            felter.insert((*k).into(), json!(v));
        }
        AttrEntry {
            felter,
            virkning: Virkning::new(from, to),
        }
    }

    fn state(v: &str, from: Ts, to: Ts) -> StateEntry {
        StateEntry {
            vaerdi: v.into(),
            virkning: Virkning::new(from, to),
        }
    }

    #[test]
    fn uncovered_cuts_exactly() {
        assert_eq!(uncovered(0, 10, &[]), vec![(0, 10)]);
        assert_eq!(
            uncovered(0, 10, &[(2, 4), (6, 8)]),
            vec![(0, 2), (4, 6), (8, 10)]
        );
        assert_eq!(uncovered(0, 10, &[(-5, 15)]), Vec::<(Ts, Ts)>::new());
        assert_eq!(uncovered(0, 10, &[(5, 15), (0, 3)]), vec![(3, 5)]);
        assert_eq!(
            uncovered(NEG_INF, POS_INF, &[(0, 1)]),
            vec![(NEG_INF, 0), (1, POS_INF)]
        );
    }

    /// The contract's own example (§5.2): Ja until 2015-08-27, Nej until 2015-09-30, Ja after.
    #[test]
    fn partial_attribute_update_splits_the_old_period() {
        let old = vec![attr(
            &[("brugervendtnoegle", "x"), ("supplement", "Ja")],
            100,
            POS_INF,
        )];
        let new = vec![attr(&[("supplement", "Nej")], 200, 300)];
        let out = apply_attr(FIELDS, &old, &new);
        let got: Vec<(Ts, Ts, Value, Value)> = out
            .iter()
            .map(|e| {
                (
                    e.virkning.from,
                    e.virkning.to,
                    e.felter["supplement"].clone(),
                    e.felter["brugervendtnoegle"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (100, 200, json!("Ja"), json!("x")),
                (200, 300, json!("Nej"), json!("x")),
                (300, POS_INF, json!("Ja"), json!("x")),
            ]
        );
    }

    #[test]
    fn partial_entry_outside_old_periods_keeps_only_supplied_fields() {
        let old = vec![attr(&[("brugervendtnoegle", "x")], 100, 200)];
        let new = vec![attr(&[("supplement", "s")], 150, 250)];
        let out = apply_attr(FIELDS, &old, &new);
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].felter.len(), 2); // merged part
        assert_eq!((out[2].virkning.from, out[2].virkning.to), (200, 250));
        assert_eq!(out[2].felter.keys().collect::<Vec<_>>(), vec!["supplement"]);
    }

    #[test]
    fn empty_string_clears_a_field() {
        let old = vec![attr(
            &[("brugervendtnoegle", "x"), ("supplement", "Ja")],
            0,
            10,
        )];
        let new = vec![attr(&[("supplement", "")], 0, 10)];
        let out = apply_attr(FIELDS, &old, &new);
        assert_eq!(out.len(), 1);
        assert!(!out[0].felter.contains_key("supplement"));
    }

    #[test]
    fn states_are_replaced_inside_new_periods_only() {
        let old = vec![state("Aktiv", 0, POS_INF)];
        let out = apply_periodic(&old, &[state("Inaktiv", 10, 20)]);
        let got: Vec<_> = out
            .iter()
            .map(|e| (e.vaerdi.as_str(), e.virkning.from, e.virkning.to))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Aktiv", 0, 10),
                ("Inaktiv", 10, 20),
                ("Aktiv", 20, POS_INF)
            ]
        );
    }

    fn rel(u: u128, indeks: Option<i64>) -> RelEntry {
        RelEntry {
            maal: Maal::Uuid(uuid::Uuid::from_u128(u)),
            objekttype: None,
            indeks,
            ekstra: Map::new(),
            virkning: Virkning::always(),
        }
    }

    #[test]
    fn indexed_relations_replace_by_index_and_append_the_rest() {
        let old = vec![rel(1, Some(1)), rel(2, Some(2))];
        let out = apply_indexed(&old, &[rel(9, Some(2)), rel(3, None), rel(4, Some(77))]);
        let got: Vec<_> = out
            .iter()
            .map(|e| {
                (
                    e.maal.key().unwrap().chars().last().unwrap(),
                    e.indeks.unwrap(),
                )
            })
            .collect();
        assert_eq!(got, vec![('1', 1), ('9', 2), ('3', 3), ('4', 4)]);
    }

    #[test]
    fn konsolider_joins_touching_equal_periods_only() {
        let mut d = Data::default();
        d.tilstande.insert(
            "gyldighed".into(),
            vec![
                state("Aktiv", 0, 10),
                state("Aktiv", 10, 20),
                state("Inaktiv", 20, 30),
                state("Aktiv", 31, 40),
            ],
        );
        let k = konsolider(&d);
        let got: Vec<_> = k.tilstande["gyldighed"]
            .iter()
            .map(|e| (e.virkning.from, e.virkning.to))
            .collect();
        assert_eq!(got, vec![(0, 20), (20, 30), (31, 40)]);
    }

    fn arb_periods() -> impl Strategy<Value = Vec<(Ts, Ts, u8)>> {
        // Non-overlapping periods on a small grid, with a value tag.
        prop::collection::vec((0i64..20, 1i64..6, 0u8..3), 0..6).prop_map(|v| {
            let mut out = Vec::new();
            let mut at = 0;
            for (gap, len, tag) in v {
                let a = at + gap;
                out.push((a, a + len, tag));
                at = a + len;
            }
            out
        })
    }

    fn states_of(p: &[(Ts, Ts, u8)]) -> Vec<StateEntry> {
        p.iter()
            .map(|&(a, b, t)| state(["A", "B", "C"][t as usize], a, b))
            .collect()
    }

    fn value_at(list: &[StateEntry], t: Ts) -> Option<&str> {
        list.iter()
            .find(|e| e.virkning.from <= t && t < e.virkning.to)
            .map(|e| e.vaerdi.as_str())
    }

    proptest! {
        /// After a periodic merge: no overlaps; at every instant the value is the new one where a
        /// new entry covers it, else the old one.
        #[test]
        fn periodic_merge_is_pointwise_correct(old in arb_periods(), new in arb_periods()) {
            let (old, new) = (states_of(&old), states_of(&new));
            let out = apply_periodic(&old, &new);
            for w in out.windows(2) {
                prop_assert!(w[0].virkning.to <= w[1].virkning.from);
            }
            for t in -1..130 {
                let want = value_at(&new, t).or_else(|| value_at(&old, t));
                prop_assert_eq!(value_at(&out, t), want, "at {}", t);
            }
        }

        /// Applying the same change twice gives the same result as applying it once.
        #[test]
        fn merges_are_idempotent(old in arb_periods(), new in arb_periods()) {
            let (old, new) = (states_of(&old), states_of(&new));
            let once = apply_periodic(&old, &new);
            prop_assert_eq!(apply_periodic(&once, &new), once.clone());
            let to_attr = |l: &[StateEntry]| -> Vec<AttrEntry> {
                l.iter().map(|s| attr(&[("supplement", &s.vaerdi)], s.virkning.from, s.virkning.to)).collect()
            };
            let a1 = apply_attr(FIELDS, &to_attr(&old), &to_attr(&new));
            prop_assert_eq!(apply_attr(FIELDS, &a1, &to_attr(&new)), a1);
        }

        /// konsolider changes no value at any instant and is idempotent.
        #[test]
        fn konsolider_preserves_values(p in arb_periods()) {
            let mut d = Data::default();
            d.tilstande.insert("s".into(), states_of(&p));
            let k = konsolider(&d);
            for t in -1..130 {
                prop_assert_eq!(value_at(&k.tilstande["s"], t), value_at(&d.tilstande["s"], t));
            }
            prop_assert_eq!(konsolider(&k), k);
        }
    }
}
