//! The demo set is deterministic, large enough, referentially closed, in dependency order, and
//! every body is a valid create body for its class per `fki_oio::spec`.

use std::collections::{BTreeMap, HashMap, HashSet};

use fki_demo::{DEMO_CVR, DemoConfig, DemoObjekt, cvr_gyldigt, municipality, scaled};
use fki_oio::spec::{self, Cardinality, FieldType};
use serde_json::Value;
use uuid::Uuid;

const INF: &str = "infinity";

fn serialise(objs: &[DemoObjekt]) -> String {
    let mut out = String::new();
    for o in objs {
        out.push_str(&format!(
            "{}/{}/{} {} {}\n",
            o.service,
            o.klasse,
            o.uuid,
            o.faelles,
            serde_json::to_string(&o.body).unwrap()
        ));
    }
    out
}

fn counts(objs: &[DemoObjekt]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for o in objs {
        *m.entry(o.klasse).or_insert(0) += 1;
    }
    m
}

fn egenskaber(o: &DemoObjekt) -> &[Value] {
    o.body["attributter"][format!("{}egenskaber", o.klasse)]
        .as_array()
        .unwrap()
}

fn felt<'a>(o: &'a DemoObjekt, navn: &str) -> &'a str {
    egenskaber(o)[0][navn].as_str().unwrap()
}

fn relationer<'a>(o: &'a DemoObjekt, navn: &str) -> Vec<&'a Value> {
    o.body
        .get("relationer")
        .and_then(|r| r.get(navn))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn rel_uuid(entry: &Value) -> Uuid {
    entry["uuid"].as_str().unwrap().parse().unwrap()
}

fn periode(entry: &Value) -> (&str, &str) {
    let v = &entry["virkning"];
    (v["from"].as_str().unwrap(), v["to"].as_str().unwrap())
}

/// `YYYY-MM-DD` text compares like dates; `infinity` is after every date.
fn foer(a: &str, b: &str) -> bool {
    match (a == INF, b == INF) {
        (true, _) => false,
        (false, true) => true,
        _ => a < b,
    }
}

fn er_dato(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn tjek_virkning(v: &Value, sti: &str) -> Result<(), String> {
    let m = v
        .as_object()
        .ok_or(format!("{sti}: virkning not an object"))?;
    if m.len() != 2 {
        return Err(format!(
            "{sti}: virkning keys {:?}",
            m.keys().collect::<Vec<_>>()
        ));
    }
    let fra = m
        .get("from")
        .and_then(Value::as_str)
        .ok_or(format!("{sti}: from"))?;
    let til = m
        .get("to")
        .and_then(Value::as_str)
        .ok_or(format!("{sti}: to"))?;
    if !er_dato(fra) || !(til == INF || er_dato(til)) {
        return Err(format!("{sti}: bad dates {fra} {til}"));
    }
    if !foer(fra, til) {
        return Err(format!("{sti}: empty period {fra}..{til}"));
    }
    Ok(())
}

fn tjek_ikke_overlap(entries: &[Value], sti: &str) -> Result<(), String> {
    let mut p: Vec<(&str, &str)> = entries.iter().map(periode).collect();
    p.sort();
    for w in p.windows(2) {
        if foer(w[1].0, w[0].1) {
            return Err(format!("{sti}: overlapping periods {:?} {:?}", w[0], w[1]));
        }
    }
    Ok(())
}

/// The body is a valid create body for its class (contract §2.1, §3, §7 rules 2–7).
fn tjek_body(o: &DemoObjekt) -> Result<(), String> {
    let navn = format!("{}/{}/{}", o.service, o.klasse, o.uuid);
    let cs = spec::class(o.service, o.klasse).ok_or(format!("{navn}: unknown class"))?;
    let body = o
        .body
        .as_object()
        .ok_or(format!("{navn}: body not an object"))?;
    for k in body.keys() {
        if !["attributter", "tilstande", "relationer"].contains(&k.as_str()) {
            return Err(format!("{navn}: top-level key {k}"));
        }
    }

    // Attributes.
    let attr = body
        .get("attributter")
        .and_then(Value::as_object)
        .ok_or(format!("{navn}: attributter"))?;
    let egen_key = cs.key("egenskaber");
    if attr
        .get(&egen_key)
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        return Err(format!("{navn}: {egen_key} missing or empty"));
    }
    for (key, entries) in attr {
        let gruppe = cs
            .attr_group_by_key(key)
            .ok_or(format!("{navn}: attribute group {key}"))?;
        let entries = entries
            .as_array()
            .ok_or(format!("{navn}: {key} not an array"))?;
        for (i, e) in entries.iter().enumerate() {
            let sti = format!("{navn}: {key}[{i}]");
            let e = e.as_object().ok_or(format!("{sti}: not an object"))?;
            tjek_virkning(
                e.get("virkning").ok_or(format!("{sti}: no virkning"))?,
                &sti,
            )?;
            for (f, v) in e.iter().filter(|(f, _)| *f != "virkning") {
                let field = gruppe.field(f).ok_or(format!("{sti}: unknown field {f}"))?;
                let ok = match field.typ {
                    FieldType::Text => v.as_str().is_some_and(|s| !s.is_empty()),
                    FieldType::TextList => {
                        v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                    }
                    t => {
                        return Err(format!(
                            "{sti}: {f} of type {t:?} not expected in demo data"
                        ));
                    }
                };
                if !ok {
                    return Err(format!("{sti}: {f} = {v} has the wrong type"));
                }
            }
            for f in gruppe.fields.iter().filter(|f| f.mandatory) {
                if !e.contains_key(f.name) {
                    return Err(format!("{sti}: mandatory {} missing", f.name));
                }
            }
        }
        tjek_ikke_overlap(entries, &format!("{navn}: {key}"))?;
    }

    // States: every state of the class, at least one entry each.
    let tilstande = body
        .get("tilstande")
        .and_then(Value::as_object)
        .ok_or(format!("{navn}: tilstande"))?;
    for st in cs.states {
        let key = cs.key(st.name);
        if tilstande
            .get(&key)
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty())
        {
            return Err(format!("{navn}: state {key} missing or empty"));
        }
    }
    for (key, entries) in tilstande {
        let st = cs
            .state_by_key(key)
            .ok_or(format!("{navn}: unknown state {key}"))?;
        let entries = entries
            .as_array()
            .ok_or(format!("{navn}: {key} not an array"))?;
        for (i, e) in entries.iter().enumerate() {
            let sti = format!("{navn}: {key}[{i}]");
            let e = e.as_object().ok_or(format!("{sti}: not an object"))?;
            if e.len() != 2 {
                return Err(format!("{sti}: keys {:?}", e.keys().collect::<Vec<_>>()));
            }
            let v = e
                .get(st.name)
                .and_then(Value::as_str)
                .ok_or(format!("{sti}: no value"))?;
            if !st.values.contains(&v) {
                return Err(format!("{sti}: value {v} not allowed"));
            }
            tjek_virkning(
                e.get("virkning").ok_or(format!("{sti}: no virkning"))?,
                &sti,
            )?;
        }
        tjek_ikke_overlap(entries, &format!("{navn}: {key}"))?;
    }

    // Relations.
    if let Some(rel) = body.get("relationer") {
        let rel = rel
            .as_object()
            .ok_or(format!("{navn}: relationer not an object"))?;
        if rel.is_empty() {
            return Err(format!("{navn}: empty relationer"));
        }
        for (name, entries) in rel {
            let rs = cs
                .relation(name)
                .ok_or(format!("{navn}: unknown relation {name}"))?;
            let entries = entries
                .as_array()
                .ok_or(format!("{navn}: {name} not an array"))?;
            if entries.is_empty() {
                return Err(format!("{navn}: {name} empty"));
            }
            for (i, e) in entries.iter().enumerate() {
                let sti = format!("{navn}: {name}[{i}]");
                let e = e.as_object().ok_or(format!("{sti}: not an object"))?;
                for k in e.keys() {
                    if !["uuid", "urn", "objekttype", "virkning"].contains(&k.as_str()) {
                        return Err(format!("{sti}: key {k}"));
                    }
                }
                match (e.get("uuid"), e.get("urn")) {
                    (Some(u), None) => {
                        u.as_str()
                            .and_then(|u| Uuid::parse_str(u).ok())
                            .ok_or(format!("{sti}: uuid"))?;
                    }
                    (None, Some(u)) => {
                        if !u
                            .as_str()
                            .is_some_and(|u| u.starts_with("urn:") && u.len() > 4)
                        {
                            return Err(format!("{sti}: urn {u}"));
                        }
                    }
                    _ => return Err(format!("{sti}: needs exactly one of uuid and urn")),
                }
                if !e.get("objekttype").is_some_and(Value::is_string) {
                    return Err(format!("{sti}: objekttype"));
                }
                tjek_virkning(
                    e.get("virkning").ok_or(format!("{sti}: no virkning"))?,
                    &sti,
                )?;
            }
            if rs.card == Cardinality::ZeroToOne {
                tjek_ikke_overlap(entries, &format!("{navn}: {name}"))?;
            }
        }
    }
    Ok(())
}

/// Every relation target is in the set, earlier in the order, and of the class its objekttype
/// says; every unit's overordnet chain reaches the organisation; engagements point at units only
/// while the unit is active.
fn tjek_referencer(objs: &[DemoObjekt]) {
    let mut pos: HashMap<Uuid, usize> = HashMap::new();
    for (i, o) in objs.iter().enumerate() {
        assert!(pos.insert(o.uuid, i).is_none(), "duplicate uuid {}", o.uuid);
    }
    for (i, o) in objs.iter().enumerate() {
        let Some(rel) = o.body.get("relationer").and_then(Value::as_object) else {
            continue;
        };
        for (name, entries) in rel {
            for e in entries.as_array().unwrap() {
                let Some(u) = e.get("uuid") else { continue };
                let u: Uuid = u.as_str().unwrap().parse().unwrap();
                let &j = pos
                    .get(&u)
                    .unwrap_or_else(|| panic!("{}: {name} → {u} not in the set", o.uuid));
                assert!(
                    j < i,
                    "{} {}: {name} → {u} comes later (at {j}, this at {i})",
                    o.klasse,
                    o.uuid
                );
                let typ = e["objekttype"].as_str().unwrap();
                let forventet = match typ {
                    "stillingsbetegnelse" | "lederniveau" => "klasse",
                    t => t,
                };
                assert_eq!(
                    objs[j].klasse, forventet,
                    "{}: {name} objekttype {typ}",
                    o.uuid
                );
            }
        }
    }

    let org: Vec<&DemoObjekt> = objs.iter().filter(|o| o.klasse == "organisation").collect();
    assert_eq!(org.len(), 1);
    let org = org[0].uuid;
    let enheder: HashMap<Uuid, &DemoObjekt> = objs
        .iter()
        .filter(|o| o.klasse == "organisationenhed")
        .map(|o| (o.uuid, o))
        .collect();
    let mut toppe = 0;
    for e in enheder.values() {
        let mut cur = *e;
        let mut skridt = 0;
        loop {
            let over = relationer(cur, "overordnet");
            assert_eq!(over.len(), 1, "{}: one overordnet", cur.uuid);
            let p = rel_uuid(over[0]);
            if p == org {
                if cur.uuid == e.uuid {
                    toppe += 1;
                }
                break;
            }
            cur = enheder
                .get(&p)
                .unwrap_or_else(|| panic!("{}: overordnet {p} is no unit", cur.uuid));
            skridt += 1;
            assert!(
                skridt <= enheder.len(),
                "cycle in overordnet from {}",
                e.uuid
            );
        }
        assert_eq!(relationer(e, "tilhoerer").len(), 1);
        assert_eq!(rel_uuid(relationer(e, "tilhoerer")[0]), org);
        assert_eq!(relationer(e, "enhedstype").len(), 1);
    }
    assert_eq!(
        toppe,
        usize::from(!enheder.is_empty()),
        "exactly one top unit"
    );

    // A relation holds only while its target is valid (Aktiv, Publiceret, or for the v6 types
    // while it has properties).
    let gyldig = |o: &DemoObjekt| -> Vec<(String, String)> {
        let tilstande = o.body["tilstande"].as_object().unwrap();
        let perioder: Vec<&Value> = match tilstande.values().next() {
            Some(entries) => entries
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| {
                    e.as_object()
                        .unwrap()
                        .values()
                        .any(|v| v == "Aktiv" || v == "Publiceret")
                })
                .collect(),
            None => egenskaber(o).iter().collect(),
        };
        perioder
            .into_iter()
            .map(periode)
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect()
    };
    let gyldighed: HashMap<Uuid, Vec<(String, String)>> =
        objs.iter().map(|o| (o.uuid, gyldig(o))).collect();
    for o in objs {
        let Some(rel) = o.body.get("relationer").and_then(Value::as_object) else {
            continue;
        };
        for (name, entries) in rel {
            for e in entries
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e.get("uuid").is_some())
            {
                let (rf, rt) = periode(e);
                let target = rel_uuid(e);
                let ok = gyldighed[&target]
                    .iter()
                    .any(|(f, t)| !foer(rf, f) && !foer(t, rt));
                assert!(
                    ok,
                    "{} {}: {name} {rf}..{rt} outside the validity {:?} of {target}",
                    o.klasse, o.uuid, gyldighed[&target]
                );
            }
        }
    }
}

fn kle_noegle(s: &str) -> bool {
    let dele: Vec<&str> = s.split('.').collect();
    (1..=3).contains(&dele.len())
        && dele
            .iter()
            .all(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()))
}

fn tjek_alt(objs: &[DemoObjekt]) {
    let fejl: Vec<String> = objs
        .iter()
        .filter_map(|o| tjek_body(o).err())
        .take(10)
        .collect();
    assert!(fejl.is_empty(), "invalid bodies:\n{}", fejl.join("\n"));
    tjek_referencer(objs);
}

fn funktioner<'a>(objs: &'a [DemoObjekt], navn: &str) -> Vec<&'a DemoObjekt> {
    objs.iter()
        .filter(|o| o.klasse == "organisationfunktion" && felt(o, "funktionsnavn") == navn)
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_content_same_counts() {
    let cfg = DemoConfig::default();
    let a = serialise(&municipality(&cfg));
    let b = serialise(&municipality(&cfg));
    assert_eq!(a, b);
    let other = municipality(&DemoConfig {
        seed: cfg.seed + 1,
        ..cfg
    });
    let c = serialise(&other);
    assert_ne!(a, c);
    assert_eq!(counts(&municipality(&cfg)), counts(&other));
    // Fælles data does not depend on the seed.
    let faelles = |objs: &[DemoObjekt]| {
        serialise(
            &objs
                .iter()
                .filter(|o| o.faelles)
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(faelles(&municipality(&cfg)), faelles(&other));
}

#[test]
fn default_set_has_the_promised_size() {
    let objs = municipality(&DemoConfig::default());
    let n = counts(&objs);
    eprintln!("counts: {n:?}, total {}", objs.len());
    assert_eq!(n["organisationenhed"], 320);
    assert_eq!(n["bruger"], 2100);
    assert!(n["organisationfunktion"] >= n["bruger"]);
    assert!(n["itsystem"] >= 3);
    assert_eq!(n["organisation"], 1);
    assert_eq!(n["virksomhed"], 1);
    assert_eq!(n["myndighed"], 1);
    assert!(n["klasse"] >= 300);

    // One engagement per user; one leder per top unit, forvaltning and afdeling.
    let eng = funktioner(&objs, "Engagement");
    assert_eq!(eng.len(), 2100);
    let brugere: HashSet<Uuid> = eng
        .iter()
        .map(|f| rel_uuid(relationer(f, "tilknyttedebrugere")[0]))
        .collect();
    assert_eq!(brugere.len(), 2100);
    let ledere = funktioner(&objs, "Leder");
    let ledede: HashSet<Uuid> = ledere
        .iter()
        .map(|f| rel_uuid(relationer(f, "tilknyttedeenheder")[0]))
        .collect();
    assert_eq!(ledere.len(), 40);
    assert_eq!(ledede.len(), 40);

    // The v6 objects and the CVR.
    let virk = objs.iter().find(|o| o.klasse == "virksomhed").unwrap();
    assert_eq!(felt(virk, "cvr-nummer"), DEMO_CVR);
    let myn = objs.iter().find(|o| o.klasse == "myndighed").unwrap();
    assert_eq!(felt(myn, "cvrnr"), DEMO_CVR);
    assert!(cvr_gyldigt(DEMO_CVR));
    for o in objs
        .iter()
        .filter(|o| ["virksomhed", "myndighed", "adresse"].contains(&o.klasse))
    {
        assert_eq!(o.body["tilstande"], serde_json::json!({}));
        assert!(o.body.get("relationer").is_none());
    }

    // Fælles = KLE and FORM only.
    for o in &objs {
        let forventet = ["klassifikation", "facet", "klasse"].contains(&o.klasse)
            && relationer(o, "ejer").is_empty();
        assert_eq!(
            o.faelles,
            forventet,
            "{} {}",
            o.klasse,
            felt(o, "brugervendtnoegle")
        );
    }

    // Some history to look at.
    let enheder: Vec<&DemoObjekt> = objs
        .iter()
        .filter(|o| o.klasse == "organisationenhed")
        .collect();
    let lukkede = enheder
        .iter()
        .filter(|o| {
            o.body["tilstande"]["organisationenhedgyldighed"]
                .as_array()
                .unwrap()
                .len()
                == 2
        })
        .count();
    let omdoebte = enheder.iter().filter(|o| egenskaber(o).len() == 2).count();
    let fratraadte = eng
        .iter()
        .filter(|o| periode(&egenskaber(o)[0]).1 != INF)
        .count();
    let flyttede = eng
        .iter()
        .filter(|o| relationer(o, "tilknyttedeenheder").len() == 2)
        .count();
    let starter: HashSet<&str> = eng.iter().map(|o| periode(&egenskaber(o)[0]).0).collect();
    eprintln!(
        "closed units {lukkede}, renamed {omdoebte}, ended engagements {fratraadte}, moved {flyttede}, start dates {}",
        starter.len()
    );
    assert!(lukkede >= 1 && omdoebte >= 1 && fratraadte >= 20 && flyttede >= 20);
    assert!(starter.len() >= 100);
}

#[test]
fn every_body_is_valid_and_every_reference_resolves_earlier() {
    tjek_alt(&municipality(&DemoConfig::default()));
}

#[test]
fn the_kle_emne_facet_is_a_consistent_tree() {
    let objs = municipality(&DemoConfig::default());
    let emne = objs
        .iter()
        .find(|o| o.klasse == "facet" && felt(o, "brugervendtnoegle") == "Emne")
        .expect("facet Emne");
    let klasser: Vec<&DemoObjekt> = objs
        .iter()
        .filter(|o| {
            o.klasse == "klasse"
                && relationer(o, "facet")
                    .iter()
                    .any(|r| rel_uuid(r) == emne.uuid)
        })
        .collect();
    let efter_noegle: HashMap<&str, Uuid> = klasser
        .iter()
        .map(|o| (felt(o, "brugervendtnoegle"), o.uuid))
        .collect();
    assert_eq!(efter_noegle.len(), klasser.len(), "KLE keys are unique");
    let mut niveauer = [0; 3];
    for k in &klasser {
        let noegle = felt(k, "brugervendtnoegle");
        assert!(kle_noegle(noegle), "{noegle}");
        assert!(!felt(k, "titel").is_empty());
        niveauer[noegle.matches('.').count()] += 1;
        let over = relationer(k, "overordnetklasse");
        match noegle.rsplit_once('.') {
            Some((forael, _)) => {
                assert_eq!(over.len(), 1, "{noegle}");
                assert_eq!(
                    rel_uuid(over[0]),
                    efter_noegle[forael],
                    "{noegle} → {forael}"
                );
            }
            None => assert!(over.is_empty(), "{noegle} is a hovedgruppe"),
        }
    }
    eprintln!(
        "KLE hovedgrupper {}, grupper {}, emner {}",
        niveauer[0], niveauer[1], niveauer[2]
    );
    assert!(niveauer[0] >= 15 && niveauer[1] >= 45 && niveauer[2] >= 150);
    let titel = |n: &str| {
        felt(
            klasser
                .iter()
                .find(|k| felt(k, "brugervendtnoegle") == n)
                .unwrap(),
            "titel",
        )
    };
    assert_eq!(titel("00"), "Kommunens styrelse");
    assert_eq!(titel("28"), "Dagtilbud");
    assert!(efter_noegle.contains_key("27.35.04"));
    // Handling and FORM facets are there too.
    for bvn in ["Handling", "FORM", "Enhedstype", "Funktionstype"] {
        assert!(
            objs.iter()
                .any(|o| o.klasse == "facet" && felt(o, "brugervendtnoegle") == bvn),
            "{bvn}"
        );
    }
    assert!(
        objs.iter()
            .any(|o| o.klasse == "klasse" && felt(o, "brugervendtnoegle") == "A53")
    );
    assert!(
        objs.iter()
            .any(|o| o.klasse == "klasse" && felt(o, "brugervendtnoegle") == "1.1.1")
    );
}

#[test]
fn scaled_has_the_same_shape_and_is_deterministic() {
    let a: Vec<DemoObjekt> = scaled(7, 1000, 1000).collect();
    let b: Vec<DemoObjekt> = scaled(7, 1000, 1000).collect();
    assert_eq!(serialise(&a), serialise(&b));
    let n = counts(&a);
    assert_eq!(n["organisationenhed"], 1000);
    assert_eq!(n["bruger"], 1000);
    assert!(n["organisationfunktion"] >= 1000);
    tjek_alt(&a);
    // The default municipality is the scaled set at the default size.
    let cfg = DemoConfig::default();
    assert_eq!(
        serialise(&municipality(&cfg)),
        serialise(&scaled(cfg.seed, cfg.enheder, cfg.brugere).collect::<Vec<_>>())
    );
}

#[test]
fn tiny_and_odd_sizes_stay_valid() {
    for (e, b) in [(0, 0), (1, 5), (3, 10), (40, 40), (41, 3), (500, 20)] {
        let objs: Vec<DemoObjekt> = scaled(3, e, b).collect();
        let n = counts(&objs);
        assert_eq!(
            n.get("organisationenhed").copied().unwrap_or(0),
            e,
            "{e} units"
        );
        assert_eq!(n.get("bruger").copied().unwrap_or(0), b, "{b} users");
        tjek_alt(&objs);
    }
}

/// `cargo test -p fki-demo --release -- --ignored --nocapture` streams the benchmark size.
#[test]
#[ignore = "benchmark size; run in release"]
fn streams_100k_units_and_100k_users() {
    let t = std::time::Instant::now();
    let mut n: BTreeMap<&'static str, usize> = BTreeMap::new();
    for o in scaled(1, 100_000, 100_000) {
        *n.entry(o.klasse).or_insert(0) += 1;
    }
    eprintln!("{n:?}: generated in {:?}", t.elapsed());
    assert_eq!(n["organisationenhed"], 100_000);
    assert_eq!(n["bruger"], 100_000);
    let t = std::time::Instant::now();
    let bytes: usize = scaled(1, 100_000, 100_000)
        .map(|o| serde_json::to_string(&o.body).unwrap().len())
        .sum();
    eprintln!(
        "generated and serialised {bytes} bytes of JSON in {:?}",
        t.elapsed()
    );
}
