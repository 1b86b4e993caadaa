//! Evaluating a fremsoeg's `SoegUdtryk` over the results of its leaves.
//!
//! The expression mixes searches for sager and for documents. fki evaluates it once per kind,
//! three-valued: a leaf of the other kind says nothing (it is left out of AND and OR, and NOT
//! of nothing is nothing). `(SoegSag part=X) OR (SoegDokument part=X)` thus finds the sager and
//! the documents of X; `(SoegSag klasse=K) AND NOT (SoegSag fremdrift=Afsluttet)` the open
//! sager of K and no documents. A kind no leaf speaks of is not searched (empty result).
//!
//! SF1490's expression is the same with two other kinds: Bevillinger take the sager's place,
//! OekonomiskEffektueringer the documents'.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::operation::Udtryk;

/// The UUIDs found for each kind; `None`: the expression says nothing about that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fundet {
    /// Sager (SF1490: Bevillinger).
    pub sager: Option<BTreeSet<Uuid>>,
    /// Documents (SF1490: OekonomiskEffektueringer).
    pub dokumenter: Option<BTreeSet<Uuid>>,
}

/// Whether the expression holds a NOT (then [`evaluer`] needs the universes).
pub fn har_ikke(u: &Udtryk) -> bool {
    match u {
        Udtryk::Ikke(_) => true,
        Udtryk::Og(v) | Udtryk::Eller(v) => v.iter().any(har_ikke),
        _ => false,
    }
}

/// Evaluate `u`. `blade` holds each leaf's hits in the order of [`Udtryk::blade`]; `alle_*` are
/// every visible sag and document (used only under NOT).
pub fn evaluer(
    u: &Udtryk,
    blade: &[BTreeSet<Uuid>],
    alle_sager: &BTreeSet<Uuid>,
    alle_dokumenter: &BTreeSet<Uuid>,
) -> Fundet {
    let mut i = 0;
    gaa(u, blade, &mut i, alle_sager, alle_dokumenter)
}

fn kombiner(
    a: Option<BTreeSet<Uuid>>,
    b: Option<BTreeSet<Uuid>>,
    og: bool,
) -> Option<BTreeSet<Uuid>> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(if og {
            a.intersection(&b).copied().collect()
        } else {
            a.union(&b).copied().collect()
        }),
    }
}

fn gaa(
    u: &Udtryk,
    blade: &[BTreeSet<Uuid>],
    i: &mut usize,
    alle_s: &BTreeSet<Uuid>,
    alle_d: &BTreeSet<Uuid>,
) -> Fundet {
    let mut blad = || {
        let v = blade.get(*i).cloned().unwrap_or_default();
        *i += 1;
        v
    };
    match u {
        Udtryk::Sag(_) | Udtryk::Bevilling(_) => Fundet {
            sager: Some(blad()),
            dokumenter: None,
        },
        Udtryk::Dokument(_) | Udtryk::SagsloeseDokumenter(_) | Udtryk::Effektuering(_) => Fundet {
            sager: None,
            dokumenter: Some(blad()),
        },
        Udtryk::Og(v) | Udtryk::Eller(v) => {
            let og = matches!(u, Udtryk::Og(_));
            let mut acc = Fundet::default();
            for x in v {
                let f = gaa(x, blade, i, alle_s, alle_d);
                acc.sager = kombiner(acc.sager, f.sager, og);
                acc.dokumenter = kombiner(acc.dokumenter, f.dokumenter, og);
            }
            acc
        }
        Udtryk::Ikke(x) => {
            let f = gaa(x, blade, i, alle_s, alle_d);
            Fundet {
                sager: f.sager.map(|s| alle_s.difference(&s).copied().collect()),
                dokumenter: f
                    .dokumenter
                    .map(|d| alle_d.difference(&d).copied().collect()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::Blad;
    use proptest::prelude::*;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn or_of_sag_and_dokument_finds_both_kinds() {
        let e = Udtryk::Eller(vec![
            Udtryk::Sag(Blad::default()),
            Udtryk::Dokument(Blad::default()),
        ]);
        let f = evaluer(
            &e,
            &[[u(1)].into(), [u(2)].into()],
            &BTreeSet::new(),
            &BTreeSet::new(),
        );
        assert_eq!(f.sager, Some([u(1)].into()));
        assert_eq!(f.dokumenter, Some([u(2)].into()));
    }

    #[test]
    fn and_not_takes_the_difference_within_the_kind() {
        let e = Udtryk::Og(vec![
            Udtryk::Sag(Blad::default()),
            Udtryk::Ikke(Box::new(Udtryk::Og(vec![Udtryk::Sag(Blad::default())]))),
        ]);
        let alle: BTreeSet<Uuid> = [u(1), u(2), u(3)].into();
        let f = evaluer(
            &e,
            &[[u(1), u(2)].into(), [u(2)].into()],
            &alle,
            &BTreeSet::new(),
        );
        assert_eq!(f.sager, Some([u(1)].into()));
        assert_eq!(f.dokumenter, None);
    }

    /// A reference: evaluate per kind by brute force over the universe.
    fn reference(
        e: &Udtryk,
        blade: &[BTreeSet<Uuid>],
        alle: &BTreeSet<Uuid>,
        sag: bool,
    ) -> Option<BTreeSet<Uuid>> {
        fn holder(
            e: &Udtryk,
            blade: &[BTreeSet<Uuid>],
            i: &mut usize,
            x: Uuid,
            sag: bool,
        ) -> Option<bool> {
            match e {
                Udtryk::Sag(_) | Udtryk::Bevilling(_) => {
                    let b = blade[*i].contains(&x);
                    *i += 1;
                    sag.then_some(b)
                }
                Udtryk::Dokument(_) | Udtryk::SagsloeseDokumenter(_) | Udtryk::Effektuering(_) => {
                    let b = blade[*i].contains(&x);
                    *i += 1;
                    (!sag).then_some(b)
                }
                Udtryk::Og(v) | Udtryk::Eller(v) => {
                    let og = matches!(e, Udtryk::Og(_));
                    let mut acc: Option<bool> = None;
                    for c in v {
                        if let Some(b) = holder(c, blade, i, x, sag) {
                            acc = Some(match acc {
                                None => b,
                                Some(a) if og => a && b,
                                Some(a) => a || b,
                            });
                        }
                    }
                    acc
                }
                Udtryk::Ikke(c) => holder(c, blade, i, x, sag).map(|b| !b),
            }
        }
        let mut out = None;
        for x in alle {
            let mut i = 0;
            if let Some(b) = holder(e, blade, &mut i, *x, sag) {
                let s = out.get_or_insert_with(BTreeSet::new);
                if b {
                    s.insert(*x);
                }
            }
        }
        out
    }

    fn udtryk() -> impl Strategy<Value = Udtryk> {
        let blad = prop_oneof![
            Just(Udtryk::Sag(Blad::default())),
            Just(Udtryk::Dokument(Blad::default())),
            Just(Udtryk::Bevilling(Blad::default())),
            Just(Udtryk::Effektuering(Blad::default())),
        ];
        blad.prop_recursive(4, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..3).prop_map(Udtryk::Og),
                prop::collection::vec(inner.clone(), 1..3).prop_map(Udtryk::Eller),
                inner.prop_map(|x| Udtryk::Ikke(Box::new(x))),
            ]
        })
    }

    proptest! {
        /// The set evaluation agrees with evaluating each element one by one (within the
        /// elements the expression can reach: the leaves only ever hold universe members).
        #[test]
        fn agrees_with_a_per_element_reference(e in udtryk(), seeds in prop::collection::vec(0u8..16, 0..64)) {
            let n = e.blade().len();
            let alle: BTreeSet<Uuid> = (0..8).map(u).collect();
            let blade: Vec<BTreeSet<Uuid>> = (0..n)
                .map(|k| seeds.iter().skip(k).step_by(n.max(1)).filter(|s| **s < 8).map(|s| u(*s as u128)).collect())
                .collect();
            let f = evaluer(&e, &blade, &alle, &alle);
            // The reference yields Some(empty) where the universe has members but none match;
            // the evaluation yields the same sets.
            prop_assert_eq!(f.sager, reference(&e, &blade, &alle, true));
            prop_assert_eq!(f.dokumenter, reference(&e, &blade, &alle, false));
        }
    }
}
