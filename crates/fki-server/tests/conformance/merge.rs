//! PATCH merge semantics (contract §5.1–§5.5): attributes by period, states, 0..1 and 0..n
//! relations, indexed relations, and `[]` clearing a group.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

const FEG: &str = "facetegenskaber";
const GYLDIGHED: &str = "organisationenhedgyldighed";

/// `(target, from, to)` of relation entries.
fn rel_periods(entries: &[Value]) -> Vec<(String, String, String)> {
    let t = targets(entries);
    periods(entries, "objekttype")
        .into_iter()
        .zip(t)
        .map(|((_, a, b), t)| (t, a, b))
        .collect()
}

/// The value of `field` in the entry valid at `t` of a read over all valid time.
async fn value_at(s: &Srv, cls: &str, u: Uuid, group: &str, field: &str, t: &str) -> Vec<String> {
    let reg = s.reg(cls, u, &[("virkningstid", t)]).await;
    let list = if group.ends_with("egenskaber") {
        attr(&reg, group)
    } else {
        state(&reg, group)
    };
    list.iter()
        .map(|e| e[field].as_str().unwrap_or("-").to_owned())
        .collect()
}

/// The contract's own example (§5.2), then a partial update across two existing periods and
/// one outside every existing period.
async fn partial_attribute_updates(s: &Srv) {
    let u = s
        .create(FACET, &facet("f1", "Facetten", "Ja", "2014-05-19"))
        .await;
    s.ret(
        FACET,
        u,
        &json!({"attributter": {FEG: [{"supplement": "Nej", "virkning": v("2015-08-27", "2015-09-30")}]}}),
    )
    .await;
    let eg = attr(&s.reg(FACET, u, ALL_VALID).await, FEG);
    assert_eq!(
        periods(&eg, "supplement"),
        p3(&[
            ("Ja", "2014-05-19 00:00:00+02", "2015-08-27 00:00:00+02"),
            ("Nej", "2015-08-27 00:00:00+02", "2015-09-30 00:00:00+02"),
            ("Ja", "2015-09-30 00:00:00+02", "infinity"),
        ])
    );
    for e in &eg {
        assert_eq!(e["brugervendtnoegle"], "f1", "other fields copied: {e}");
        assert_eq!(e["beskrivelse"], "Facetten", "other fields copied: {e}");
    }

    // `plan` over [2015-09-01, 2016-01-01) overlaps the Nej and the second Ja entry.
    s.ret(
        FACET,
        u,
        &json!({"attributter": {FEG: [{"plan": "P", "virkning": v("2015-09-01", "2016-01-01")}]}}),
    )
    .await;
    let eg = attr(&s.reg(FACET, u, ALL_VALID).await, FEG);
    let got: Vec<(String, String, String)> = eg
        .iter()
        .map(|e| {
            (
                format!(
                    "{}/{}",
                    e["supplement"].as_str().unwrap_or("-"),
                    e["plan"].as_str().unwrap_or("-")
                ),
                e["virkning"]["from"].as_str().unwrap().to_owned(),
                e["virkning"]["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        p3(&[
            ("Ja/-", "2014-05-19 00:00:00+02", "2015-08-27 00:00:00+02"),
            ("Nej/-", "2015-08-27 00:00:00+02", "2015-09-01 00:00:00+02"),
            ("Nej/P", "2015-09-01 00:00:00+02", "2015-09-30 00:00:00+02"),
            ("Ja/P", "2015-09-30 00:00:00+02", "2016-01-01 00:00:00+01"),
            ("Ja/-", "2016-01-01 00:00:00+01", "infinity"),
        ])
    );
    assert!(eg.iter().all(|e| e["brugervendtnoegle"] == "f1"));

    // Outside every existing period: stored with only the supplied fields.
    s.ret(
        FACET,
        u,
        &json!({"attributter": {FEG: [{"opbygning": "O", "virkning": v("2010-01-01", "2012-01-01")}]}}),
    )
    .await;
    let first = &attr(&s.reg(FACET, u, ALL_VALID).await, FEG)[0];
    let mut keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["opbygning", "virkning"], "{first}");

    // "" clears a field for the given period only.
    s.ret(
        FACET,
        u,
        &json!({"attributter": {FEG: [{"beskrivelse": "", "virkning": v("2020-01-01", INF)}]}}),
    )
    .await;
    let now = attr(&s.reg(FACET, u, &[]).await, FEG);
    assert_eq!(now.len(), 1);
    assert!(now[0].get("beskrivelse").is_none(), "{}", now[0]);
    assert_eq!(now[0]["supplement"], "Ja");
    assert_eq!(
        value_at(s, FACET, u, FEG, "beskrivelse", "2019-06-01").await,
        ["Facetten"]
    );

    // A complete entry replaces the period as is (no field carried over).
    s.ret(
        FACET,
        u,
        &json!({"attributter": {FEG: [{
            "brugervendtnoegle": "f1", "beskrivelse": "Ny", "opbygning": "", "ophavsret": "",
            "plan": "", "supplement": "", "retskilde": "", "integrationsdata": "",
            "virkning": v("2014-05-19", "2015-01-01")}]}}),
    )
    .await;
    let e = &attr(
        &s.reg(FACET, u, &[("virkningstid", "2014-06-01")]).await,
        FEG,
    )[0];
    let mut keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["beskrivelse", "brugervendtnoegle", "virkning"],
        "{e}"
    );
}
both!(partial_attribute_updates);

/// `"<group>": []` removes an attribute group or a state over all time.
async fn empty_list_clears_a_group(s: &Srv) {
    let u = s.create(FACET, &facet("f2", "B", "Ja", "2014-05-19")).await;
    s.ret(FACET, u, &json!({"attributter": {FEG: []}})).await;
    let reg = s.reg(FACET, u, ALL_VALID).await;
    assert!(attr(&reg, FEG).is_empty(), "{reg:#}");
    assert_eq!(state(&reg, "facetpubliceret").len(), 1);
    assert!(s.search(FACET, &[("bvn", "f2")]).await.is_empty());
}
both!(empty_list_clears_a_group);

/// `"<state>": []` removes all values of that state (§5.3).
async fn empty_list_clears_a_state(s: &Srv) {
    let e = s.create(ENHED, &enhed("g", "G")).await;
    s.ret(ENHED, e, &json!({"tilstande": {GYLDIGHED: []}}))
        .await;
    let reg = s.reg(ENHED, e, ALL_VALID).await;
    assert!(state(&reg, GYLDIGHED).is_empty(), "{reg:#}");
    assert_eq!(attr(&reg, "organisationenhedegenskaber").len(), 1);
    assert!(s.search(ENHED, &[("gyldighed", "Aktiv")]).await.is_empty());
}
both!(empty_list_clears_a_state);

/// States (§5.3): new entries win inside their periods only.
async fn state_merge(s: &Srv) {
    let u = s.create(ENHED, &enhed("s", "S")).await;
    s.ret(
        ENHED,
        u,
        &json!({"tilstande": {GYLDIGHED: [{"gyldighed": "Inaktiv", "virkning": v("2021-01-01", "2022-01-01")}]}}),
    )
    .await;
    assert_eq!(
        periods(
            &state(&s.reg(ENHED, u, ALL_VALID).await, GYLDIGHED),
            "gyldighed"
        ),
        p3(&[
            ("Aktiv", "2020-01-01 00:00:00+01", "2021-01-01 00:00:00+01"),
            (
                "Inaktiv",
                "2021-01-01 00:00:00+01",
                "2022-01-01 00:00:00+01"
            ),
            ("Aktiv", "2022-01-01 00:00:00+01", "infinity"),
        ])
    );
    // Two entries at once, one before every existing period.
    s.ret(
        ENHED,
        u,
        &json!({"tilstande": {GYLDIGHED: [
            {"gyldighed": "Inaktiv", "virkning": v("2019-01-01", "2020-06-01")},
            {"gyldighed": "Inaktiv", "virkning": v("2030-01-01", INF)}]}}),
    )
    .await;
    for (t, want) in [
        ("2018-06-01", None),
        ("2019-06-01", Some("Inaktiv")),
        ("2020-03-01", Some("Inaktiv")),
        ("2020-07-01", Some("Aktiv")),
        ("2021-07-01", Some("Inaktiv")),
        ("2025-01-01", Some("Aktiv")),
        ("2031-01-01", Some("Inaktiv")),
    ] {
        let got = value_at(s, ENHED, u, GYLDIGHED, "gyldighed", t).await;
        assert_eq!(got, want.into_iter().collect::<Vec<_>>(), "at {t}");
    }
    let all = state(&s.reg(ENHED, u, ALL_VALID).await, GYLDIGHED);
    for w in periods(&all, "gyldighed").windows(2) {
        assert!(
            w[0].2 != "infinity" && w[0].2 <= w[1].1,
            "overlap or order: {all:#?}"
        );
    }
}
both!(state_merge);

/// 0..1 relations (§5.4): merged by period; a blank uuid/urn entry clears a period.
async fn zero_to_one_relation(s: &Srv) {
    let (x, y) = (fixed_uuid(10), fixed_uuid(11));
    let u = s
        .create(
            ENHED,
            &with_rel(enhed("r", "R"), "tilhoerer", json!([rel(x)])),
        )
        .await;
    s.ret(
        ENHED,
        u,
        &json!({"relationer": {"tilhoerer": [
            {"uuid": y.to_string(), "objekttype": "organisation", "virkning": v("2021-01-01", "2022-01-01")}]}}),
    )
    .await;
    let all = rels(&s.reg(ENHED, u, ALL_VALID).await, "tilhoerer");
    let (xs, ys) = (x.to_string(), y.to_string());
    assert_eq!(
        rel_periods(&all),
        p3(&[
            (&xs, "2020-01-01 00:00:00+01", "2021-01-01 00:00:00+01"),
            (&ys, "2021-01-01 00:00:00+01", "2022-01-01 00:00:00+01"),
            (&xs, "2022-01-01 00:00:00+01", "infinity"),
        ])
    );
    assert_eq!(all[1]["objekttype"], "organisation");

    // Clear [2023, 2024) and point to a URN from 2030.
    s.ret(
        ENHED,
        u,
        &json!({"relationer": {"tilhoerer": [
            {"uuid": "", "urn": "", "virkning": v("2023-01-01", "2024-01-01")},
            {"urn": "urn:dk:test:1", "virkning": v("2030-01-01", INF)}]}}),
    )
    .await;
    let all = rels(&s.reg(ENHED, u, ALL_VALID).await, "tilhoerer");
    assert_eq!(
        rel_periods(&all),
        p3(&[
            (&xs, "2020-01-01 00:00:00+01", "2021-01-01 00:00:00+01"),
            (&ys, "2021-01-01 00:00:00+01", "2022-01-01 00:00:00+01"),
            (&xs, "2022-01-01 00:00:00+01", "2023-01-01 00:00:00+01"),
            (&xs, "2024-01-01 00:00:00+01", "2030-01-01 00:00:00+01"),
            ("urn:dk:test:1", "2030-01-01 00:00:00+01", "infinity"),
        ])
    );
    let gap = s.reg(ENHED, u, &[("virkningstid", "2023-06-01")]).await;
    assert!(gap.get("relationer").is_none(), "{gap:#}");
    assert!(
        s.search(ENHED, &[("tilhoerer", &xs), ("virkningstid", "2023-06-01")])
            .await
            .is_empty()
    );
    assert_eq!(
        s.search(ENHED, &[("tilhoerer", &xs), ("virkningstid", "2024-06-01")])
            .await,
        [u]
    );

    // Clear everything.
    s.ret(
        ENHED,
        u,
        &json!({"relationer": {"tilhoerer": [
            {"uuid": "", "urn": "", "virkning": v("-infinity", INF)}]}}),
    )
    .await;
    assert!(rels(&s.reg(ENHED, u, ALL_VALID).await, "tilhoerer").is_empty());
}
both!(zero_to_one_relation);

/// 0..n relations of non-indexed classes (§5.4): replaced wholesale; blank entry, `[]` and
/// `"relationer": {}` clear (the last two are Doc, a deliberate deviation from Ref).
async fn zero_to_many_relation(s: &Srv) {
    let (a, b, c, x) = (
        fixed_uuid(20),
        fixed_uuid(21),
        fixed_uuid(22),
        fixed_uuid(23),
    );
    let body = with_rel(
        with_rel(
            enhed("m", "M"),
            "adresser",
            json!([
                {"uuid": a.to_string(), "objekttype": "email", "virkning": v(START, INF)},
                {"uuid": b.to_string(), "virkning": v("2021-01-01", INF)}
            ]),
        ),
        "tilhoerer",
        json!([rel(x)]),
    );
    let u = s.create(ENHED, &body).await;
    let reg = s.reg(ENHED, u, &[]).await;
    let mut t = targets(&rels(&reg, "adresser"));
    t.sort();
    assert_eq!(t, [a.to_string(), b.to_string()]);
    assert!(
        rels(&reg, "adresser")
            .iter()
            .any(|e| e["objekttype"] == "email")
    );

    // Replace the whole list with one entry.
    s.ret(
        ENHED,
        u,
        &json!({"relationer": {"adresser": [
            {"uuid": c.to_string(), "objekttype": "telefon", "virkning": v("2022-01-01", INF)}]}}),
    )
    .await;
    let all = rels(&s.reg(ENHED, u, ALL_VALID).await, "adresser");
    assert_eq!(
        rel_periods(&all),
        p3(&[(&c.to_string(), "2022-01-01 00:00:00+01", "infinity")])
    );
    assert_eq!(all[0]["objekttype"], "telefon");
    // Relations not named in the PATCH are carried over.
    assert_eq!(
        targets(&rels(&s.reg(ENHED, u, &[]).await, "tilhoerer")),
        [x.to_string()]
    );
    assert!(
        s.search(ENHED, &[("adresser", &a.to_string())])
            .await
            .is_empty()
    );
    assert_eq!(s.search(ENHED, &[("adresser", &c.to_string())]).await, [u]);

    // A PATCH naming only another relation keeps this one.
    s.ret(ENHED, u, &json!({"relationer": {"opgaver": [rel(a)]}}))
        .await;
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(targets(&rels(&reg, "adresser")), [c.to_string()]);
    assert_eq!(targets(&rels(&reg, "opgaver")), [a.to_string()]);

    // A blank entry removes all.
    s.ret(
        ENHED,
        u,
        &json!({"relationer": {"adresser": [{"uuid": "", "urn": "", "virkning": v(START, INF)}]}}),
    )
    .await;
    assert!(rels(&s.reg(ENHED, u, ALL_VALID).await, "adresser").is_empty());

    // `[]` removes all.
    assert_eq!(rels(&s.reg(ENHED, u, &[]).await, "opgaver").len(), 1);
    s.ret(ENHED, u, &json!({"relationer": {"opgaver": []}}))
        .await;
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert!(rels(&reg, "opgaver").is_empty());
    assert_eq!(rels(&reg, "tilhoerer").len(), 1);

    // `"relationer": {}` removes the 0..n relations (for 0..1 see the next test).
    s.ret(
        ENHED,
        u,
        &json!({"relationer": {"adresser": [rel(a), rel(b)]}}),
    )
    .await;
    s.ret(ENHED, u, &json!({"relationer": {}})).await;
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert!(rels(&reg, "adresser").is_empty(), "{reg:#}");
    assert!(
        s.search(ENHED, &[("adresser", &a.to_string())])
            .await
            .is_empty()
    );
    // Attributes and states were not touched.
    assert_eq!(attr(&reg, "organisationenhedegenskaber").len(), 1);
    assert_eq!(state(&reg, GYLDIGHED).len(), 1);
}
both!(zero_to_many_relation);

/// `"<0..1 relation>": []` clears that relation and `"relationer": {}` clears every relation,
/// 0..1 ones included (docs/oio-rest.md: Doc, a deliberate deviation from Ref).
async fn empty_list_clears_zero_to_one(s: &Srv) {
    let (x, y) = (fixed_uuid(24), fixed_uuid(25));
    let body = with_rel(
        with_rel(enhed("z", "Z"), "tilhoerer", json!([rel(x)])),
        "overordnet",
        json!([rel(y)]),
    );
    let u = s.create(ENHED, &body).await;
    s.ret(ENHED, u, &json!({"relationer": {"tilhoerer": []}}))
        .await;
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert!(rels(&reg, "tilhoerer").is_empty(), "tilhoerer: [] {reg:#}");
    assert_eq!(rels(&reg, "overordnet").len(), 1);

    s.ret(ENHED, u, &json!({"relationer": {}})).await;
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert!(reg.get("relationer").is_none(), "relationer: {{}} {reg:#}");
    assert!(
        s.search(ENHED, &[("overordnet", &y.to_string())])
            .await
            .is_empty()
    );
}
both!(empty_list_clears_zero_to_one);

fn indexed(entries: &[Value]) -> Vec<(i64, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e["indeks"].as_i64().unwrap_or(-1),
                e["uuid"]
                    .as_str()
                    .or_else(|| e["urn"].as_str())
                    .unwrap_or("-")
                    .to_owned(),
            )
        })
        .collect()
}

/// Indexed relations (§3.2, §5.5) on sag: numbered on create, replaced by `indeks`, appended.
async fn indexed_relations(s: &Srv) {
    let ids: Vec<Uuid> = (30..37).map(fixed_uuid).collect();
    let id = |i: usize| ids[i].to_string();
    let body = with_rel(
        with_rel(
            sag("sag1"),
            "andresager",
            json!([
                {"uuid": id(0), "indeks": 7, "virkning": v(START, INF)},
                {"uuid": id(1), "indeks": 7, "virkning": v(START, INF)},
                {"urn": "urn:sag:2", "virkning": v(START, INF)}
            ]),
        ),
        "primaerklasse",
        json!([rel(ids[6])]),
    );
    let u = s.create(SAG, &body).await;
    let reg = s.reg(SAG, u, &[]).await;
    assert_eq!(
        indexed(&rels(&reg, "andresager")),
        [(1, id(0)), (2, id(1)), (3, "urn:sag:2".to_owned())]
    );
    // 0..1 relations of indexed classes carry no indeks.
    assert!(rels(&reg, "primaerklasse")[0].get("indeks").is_none());

    // Replace by indeks.
    s.ret(
        SAG,
        u,
        &json!({"relationer": {"andresager": [{"uuid": id(3), "indeks": 2, "virkning": v(START, INF)}]}}),
    )
    .await;
    assert_eq!(
        indexed(&rels(&s.reg(SAG, u, &[]).await, "andresager")),
        [(1, id(0)), (2, id(3)), (3, "urn:sag:2".to_owned())]
    );
    // Append without indeks and with an unknown one.
    s.ret(
        SAG,
        u,
        &json!({"relationer": {"andresager": [
            {"uuid": id(4), "virkning": v(START, INF)},
            {"uuid": id(5), "indeks": 99, "virkning": v(START, INF)}]}}),
    )
    .await;
    assert_eq!(
        indexed(&rels(&s.reg(SAG, u, &[]).await, "andresager")),
        [
            (1, id(0)),
            (2, id(3)),
            (3, "urn:sag:2".to_owned()),
            (4, id(4)),
            (5, id(5))
        ]
    );
    // Other relations untouched.
    assert_eq!(
        targets(&rels(&s.reg(SAG, u, &[]).await, "primaerklasse")),
        [id(6)]
    );

    // Refused: indeks on a 0..1 relation; indeks on a blank entry.
    s.patch(
        SAG,
        u,
        &json!({"relationer": {"primaerklasse": [{"uuid": id(0), "indeks": 1, "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("relationer.primaerklasse[0].indeks");
    s.patch(
        SAG,
        u,
        &json!({"relationer": {"andresager": [{"uuid": "", "urn": "", "indeks": 1, "virkning": v(START, INF)}]}}),
    )
    .await
    .expect(400);

    // PUT overwrite renumbers.
    let mut put = with_rel(
        sag("sag1"),
        "andresager",
        json!([
            {"uuid": id(5), "indeks": 5, "virkning": v(START, INF)},
            {"uuid": id(4), "indeks": 4, "virkning": v(START, INF)}
        ]),
    );
    put["attributter"]["sagegenskaber"][0]["titel"] = json!("Overskrevet");
    s.import(SAG, u, &put).await.expect(200);
    let reg = s.reg(SAG, u, &[]).await;
    assert_eq!(indexed(&rels(&reg, "andresager")), [(1, id(5)), (2, id(4))]);
    assert!(rels(&reg, "primaerklasse").is_empty());

    // `[]` clears an indexed relation.
    s.ret(SAG, u, &json!({"relationer": {"andresager": []}}))
        .await;
    assert!(rels(&s.reg(SAG, u, ALL_VALID).await, "andresager").is_empty());
}
both!(indexed_relations);

/// Sag specifics: journal posts (§3.2, §2.3 `reltypespec`), booleans kept as `false`.
async fn sag_journalpost_and_booleans(s: &Srv) {
    let body = with_rel(
        sag("jp"),
        "journalpost",
        json!([
            {"urn": "urn:dok:1", "journalpostkode": "journalnotat",
             "journalnotat": {"titel": "T", "notat": "N", "format": "txt"}, "virkning": v(START, INF)},
            {"uuid": fixed_uuid(40).to_string(), "journalpostkode": "vedlagtdokument",
             "journaldokument": {"dokumenttitel": "D",
                                 "offentlighedundtaget": {"alternativtitel": "A", "hjemmel": "H"}},
             "virkning": v(START, INF)}
        ]),
    );
    let u = s.create(SAG, &body).await;
    let reg = s.reg(SAG, u, &[]).await;
    let jp = rels(&reg, "journalpost");
    assert_eq!(jp.len(), 2);
    assert_eq!(jp[0]["indeks"], 1);
    assert_eq!(jp[0]["reltypespec"], "journalnotat");
    assert_eq!(
        jp[0]["journalnotat"],
        json!({"titel": "T", "notat": "N", "format": "txt"})
    );
    assert_eq!(jp[1]["reltypespec"], "vedlagtdokument");
    assert_eq!(jp[1]["journaldokument"]["dokumenttitel"], "D");
    let eg = &attr(&reg, "sagegenskaber")[0];
    assert_eq!(eg["afleveret"], false, "false is kept in the output: {eg}");
    assert_eq!(eg["principiel"], true);
    assert_eq!(s.search(SAG, &[("afleveret", "false")]).await, [u]);
    assert!(s.search(SAG, &[("afleveret", "true")]).await.is_empty());

    // A journalnotat under the other code is refused; a missing code too.
    s.patch(
        SAG,
        u,
        &json!({"relationer": {"journalpost": [{"urn": "urn:dok:2", "journalpostkode": "vedlagtdokument",
            "journalnotat": {"titel": "T", "notat": "N", "format": "txt"}, "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("relationer.journalpost[0].journalnotat");
    s.patch(
        SAG,
        u,
        &json!({"relationer": {"journalpost": [{"urn": "urn:dok:2", "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("relationer.journalpost[0].journalpostkode");
}
both!(sag_journalpost_and_booleans);
