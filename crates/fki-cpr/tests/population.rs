//! Properties of the generators: validity, determinism, uniqueness, consistent families.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use fki_cpr::nummer::{Cpr, Koen, cvr_gyldig};
use fki_cpr::population::{Civilstand, Parametre, Status, generate};
use proptest::prelude::*;

fn oct_2007() -> NaiveDate {
    NaiveDate::from_ymd_opt(2007, 10, 1).unwrap()
}

#[test]
fn every_number_is_valid_and_unique_and_ties_are_consistent() {
    let p = Parametre::new("0751", 5_000, 7);
    let mut seen = 0;
    let pop = generate(&p, |n| seen = n);
    assert_eq!(pop.personer.len(), 5_000);
    assert_eq!(seen, 5_000, "progress reports the end");
    let by: HashMap<Cpr, _> = pop.personer.iter().map(|x| (x.cpr, x)).collect();
    assert_eq!(by.len(), pop.personer.len(), "CPR numbers are unique");
    let mut without_mod11 = 0;
    for x in &pop.personer {
        assert_eq!(x.cpr.foedselsdato(), Some(x.foedselsdato), "{}", x.cpr);
        assert_eq!(x.cpr.koen(), x.koen, "{}", x.cpr);
        if !x.cpr.modulus11() {
            assert!(x.foedselsdato >= oct_2007(), "{} lacks modulus 11", x.cpr);
            without_mod11 += 1;
        }
        assert_eq!(Cpr::parse(&x.cpr.to_string()), Some(x.cpr));
        assert!(x.foedselsdato <= pop.as_of);
        assert_eq!(x.adresse.kommunekode, "0751");
        assert!(
            (8000..=8999).contains(&x.adresse.postnummer),
            "{:?}",
            x.adresse
        );
        if let Some(s) = x.aegtefaelle {
            let other = by[&s];
            assert_eq!(
                other.aegtefaelle,
                Some(x.cpr),
                "spouses point at each other"
            );
            assert_eq!(other.civilstand, x.civilstand);
            assert!(matches!(
                x.civilstand,
                Civilstand::Gift | Civilstand::RegistreretPartner
            ));
        }
        for c in &x.boern {
            let child = by[c];
            assert!(child.mor == Some(x.cpr) || child.far == Some(x.cpr));
            assert!(child.foedselsdato > x.foedselsdato);
        }
        if let Some(m) = x.mor {
            assert_eq!(by[&m].koen, Koen::Kvinde);
            assert!(by[&m].boern.contains(&x.cpr));
        }
        if x.alder(pop.as_of) < 18 && x.mor.is_some() {
            assert!(
                !x.foraeldremyndighed.is_empty(),
                "children have custody holders"
            );
            for h in &x.foraeldremyndighed {
                assert!(by.contains_key(h));
            }
        }
        if let Status::Doed(d) | Status::Udrejst(d) = x.status {
            assert!(d <= pop.as_of);
        }
    }
    // A realistic mix, not a degenerate one.
    let aktiv = pop
        .personer
        .iter()
        .filter(|x| x.status == Status::Aktiv)
        .count();
    assert!(aktiv > 4_700 && aktiv < 5_000, "{aktiv}");
    let children = pop
        .personer
        .iter()
        .filter(|x| x.alder(pop.as_of) < 18)
        .count();
    assert!(children > 500, "{children}");
    let married = pop
        .personer
        .iter()
        .filter(|x| x.aegtefaelle.is_some())
        .count();
    assert!(married > 1_000, "{married}");
    assert!(without_mod11 < 50, "{without_mod11}");

    let cvrs: HashSet<&str> = pop.virksomheder.iter().map(|v| v.cvr.as_str()).collect();
    assert_eq!(pop.virksomheder.len(), 200);
    assert_eq!(cvrs.len(), 200, "CVR numbers are unique");
    for v in &pop.virksomheder {
        assert!(cvr_gyldig(&v.cvr), "{}", v.cvr);
        for p in &v.p_numre {
            assert_eq!(p.len(), 10);
            assert!(p.starts_with('1'));
        }
    }
}

#[test]
fn the_same_parameters_give_the_same_population() {
    let p = Parametre::new("0101", 2_000, 42);
    let a = generate(&p, |_| {});
    let b = generate(&p, |_| {});
    assert_eq!(a, b);
    let c = generate(&Parametre::new("0101", 2_000, 43), |_| {});
    assert_ne!(a.personer[0].cpr, c.personer[0].cpr);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn small_populations_have_exactly_the_size_asked_and_no_dangling_ties(
        n in 1usize..60, seed in any::<u64>()
    ) {
        let pop = generate(&Parametre::new("0461", n, seed), |_| {});
        prop_assert_eq!(pop.personer.len(), n);
        let ids: HashSet<Cpr> = pop.personer.iter().map(|x| x.cpr).collect();
        prop_assert_eq!(ids.len(), n);
        for x in &pop.personer {
            for t in x.boern.iter().chain(&x.foraeldremyndighed).chain(x.aegtefaelle.iter())
                .chain(x.mor.iter()).chain(x.far.iter())
            {
                prop_assert!(ids.contains(t), "{} points at missing {}", x.cpr, t);
            }
        }
    }

    #[test]
    fn cpr_parse_never_panics_and_accepts_only_dates(s in "[0-9-]{0,12}") {
        if let Some(c) = Cpr::parse(&s) {
            prop_assert!(c.foedselsdato().is_some());
        }
    }
}
