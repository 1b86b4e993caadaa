//! Search (contract §4): attribute patterns, states, relations, the generic criteria, time
//! windows, `list`, and refused arguments.

use serde_json::json;
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}

/// Attribute text matching (§4.4): case-insensitive equality, `%` wildcard, literal `_` and `\%`.
async fn attribute_patterns(s: &Srv) {
    let alpha = s.create(ENHED, &enhed("Alpha", "navn")).await;
    let alphabet = s.create(ENHED, &enhed("alphabet", "navn")).await;
    let al_pha = s.create(ENHED, &enhed("al_pha", "navn")).await;
    let alxpha = s.create(ENHED, &enhed("alxpha", "navn")).await;
    let pct = s.create(ENHED, &enhed("100% sure", "navn")).await;
    let hundred = s.create(ENHED, &enhed("100x sure", "andet")).await;
    let aeroe = s.create(ENHED, &enhed("Ærø Kommune", "ø")).await;

    let q = |raw: &'static str| async move { sorted(s.search_raw(ENHED, raw).await) };
    // Exact, case-insensitive, also on the parameter name; bvn is brugervendtnoegle.
    assert_eq!(q("bvn=alpha").await, [alpha]);
    assert_eq!(q("bvn=ALPHA").await, [alpha]);
    assert_eq!(q("BVN=aLpHa").await, [alpha]);
    assert_eq!(q("brugervendtnoegle=Alpha").await, [alpha]);
    assert_eq!(q("bvn=alph").await, NONE);
    // `%` (sent as %25) is the wildcard.
    assert_eq!(q("bvn=alpha%25").await, sorted(vec![alpha, alphabet]));
    assert_eq!(
        q("bvn=al%25").await,
        sorted(vec![alpha, alphabet, al_pha, alxpha])
    );
    assert_eq!(q("bvn=%25pha").await, sorted(vec![alpha, al_pha, alxpha]));
    assert_eq!(q("bvn=%25").await.len(), 7);
    // `_` matches only itself.
    assert_eq!(q("bvn=al_pha").await, [al_pha]);
    assert_eq!(q("bvn=al_p%25").await, [al_pha]);
    assert_eq!(q("bvn=%25_%25").await, [al_pha]);
    // `\%` (sent as %5C%25) is a literal percent.
    assert_eq!(q("bvn=100%5C%25%20sure").await, [pct]);
    assert_eq!(q("bvn=100%5C%25%25").await, [pct]);
    assert_eq!(q("bvn=100%25").await, sorted(vec![pct, hundred]));
    // Case-insensitive beyond ASCII.
    assert_eq!(q("bvn=%C3%A6r%C3%B8%20kommune").await, [aeroe]);
    assert_eq!(q("bvn=%C3%86R%C3%98%25").await, [aeroe]);
    // Any attribute field by name.
    assert_eq!(q("enhedsnavn=ANDET").await, [hundred]);
    assert_eq!(q("enhedsnavn=navn").await.len(), 5);
    assert_eq!(q("enhedsnavn=navn&bvn=al%25").await.len(), 4);
}
both!(attribute_patterns);

/// States: exact enum equality; values outside the enum are refused.
async fn state_search(s: &Srv) {
    let a = s.create(ENHED, &enhed("sa", "A")).await;
    let b = s.create(ENHED, &enhed("sb", "B")).await;
    s.ret(
        ENHED,
        b,
        &json!({"tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Inaktiv", "virkning": v(START, INF)}]}}),
    )
    .await;
    assert_eq!(s.search(ENHED, &[("gyldighed", "Inaktiv")]).await, [b]);
    assert_eq!(s.search(ENHED, &[("gyldighed", "Aktiv")]).await, [a]);
    // Criteria combine with AND.
    assert_eq!(
        s.search(ENHED, &[("gyldighed", "Inaktiv"), ("bvn", "sa")])
            .await,
        NONE
    );
    for bad in ["aktiv", "Maybe", ""] {
        s.get(&format!("/{ENHED}{}", qs(&[("gyldighed", bad)])))
            .await
            .expect(400);
    }
}
both!(state_search);

/// Relations by UUID and URN, `rel:objekttype=`, several criteria combined, vilkaarligrel.
async fn relation_search(s: &Srv) {
    let (x, y, z, w) = (fixed_uuid(1), fixed_uuid(2), fixed_uuid(3), fixed_uuid(4));
    let opg =
        |t: &str| json!([{"uuid": z.to_string(), "objekttype": t, "virkning": v(START, INF)}]);
    let a = s
        .create(
            ENHED,
            &with_rel(
                with_rel(
                    with_rel(enhed("ra", "A"), "tilhoerer", json!([rel(x)])),
                    "opgaver",
                    opg("lederniveau"),
                ),
                "adresser",
                json!([
                    {"urn": "urn:email:a@example.org", "virkning": v(START, INF)},
                    {"uuid": w.to_string(), "virkning": v(START, INF)}
                ]),
            ),
        )
        .await;
    let b = s
        .create(
            ENHED,
            &with_rel(
                with_rel(enhed("rb", "B"), "tilhoerer", json!([rel(y)])),
                "opgaver",
                opg("andet"),
            ),
        )
        .await;
    let mut cbody = with_rel(
        with_rel(enhed("rc", "C"), "tilhoerer", json!([rel(x)])),
        "opgaver",
        opg("lederniveau"),
    );
    cbody["tilstande"]["organisationenhedgyldighed"][0]["gyldighed"] = json!("Inaktiv");
    let c = s.create(ENHED, &cbody).await;

    let (xs, ys, zs, ws) = (x.to_string(), y.to_string(), z.to_string(), w.to_string());
    let q = |pairs: Vec<(&'static str, String)>| async move {
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.search_sorted(ENHED, &p).await
    };
    assert_eq!(q(vec![("tilhoerer", xs.clone())]).await, sorted(vec![a, c]));
    assert_eq!(
        q(vec![("tilhoerer", xs.to_uppercase())]).await,
        sorted(vec![a, c])
    );
    assert_eq!(q(vec![("tilhoerer", ys.clone())]).await, [b]);
    assert_eq!(
        q(vec![("adresser", "urn:email:a@example.org".into())]).await,
        [a]
    );
    assert_eq!(
        q(vec![("adresser", "urn:email:b@example.org".into())]).await,
        NONE
    );
    // Two values of the same relation name must both be present.
    assert_eq!(
        q(vec![
            ("adresser", "urn:email:a@example.org".into()),
            ("adresser", ws.clone())
        ])
        .await,
        [a]
    );
    assert_eq!(
        q(vec![("tilhoerer", xs.clone()), ("tilhoerer", ys.clone())]).await,
        NONE
    );
    // objekttype qualifier: exact and case-sensitive.
    assert_eq!(
        q(vec![("opgaver:lederniveau", zs.clone())]).await,
        sorted(vec![a, c])
    );
    assert_eq!(q(vec![("opgaver:andet", zs.clone())]).await, [b]);
    assert_eq!(q(vec![("opgaver:Lederniveau", zs.clone())]).await, NONE);
    assert_eq!(
        q(vec![("opgaver", zs.clone())]).await,
        sorted(vec![a, b, c])
    );
    // Two relations and a state.
    assert_eq!(
        q(vec![
            ("tilhoerer", xs.clone()),
            ("opgaver", zs.clone()),
            ("gyldighed", "Inaktiv".into())
        ])
        .await,
        [c]
    );
    assert_eq!(
        q(vec![
            ("tilhoerer", xs.clone()),
            ("opgaver:lederniveau", zs.clone()),
            ("gyldighed", "Aktiv".into())
        ])
        .await,
        [a]
    );
    // vilkaarligrel: any relation.
    assert_eq!(
        q(vec![("vilkaarligrel", xs.clone())]).await,
        sorted(vec![a, c])
    );
    assert_eq!(
        q(vec![("vilkaarligrel", zs.clone())]).await,
        sorted(vec![a, b, c])
    );
    assert_eq!(q(vec![("vilkaarligrel", ws.clone())]).await, [a]);
    assert_eq!(
        q(vec![
            ("vilkaarligrel", ws.clone()),
            ("vilkaarligrel", ys.clone())
        ])
        .await,
        NONE
    );
    // Relation values must be UUIDs or URNs; vilkaarligrel only UUIDs.
    for bad in [
        ("tilhoerer", "not-a-uuid"),
        ("vilkaarligrel", "urn:email:a@example.org"),
        ("vilkaarligrel", "x"),
    ] {
        s.get(&format!("/{ENHED}{}", qs(&[bad]))).await.expect(400);
    }
}
both!(relation_search);

/// vilkaarligattr: any attribute field; `_` is a wildcard there; repeatable (AND).
async fn vilkaarligattr(s: &Srv) {
    let a = s.create(ENHED, &enhed("va-1", "Kommunen")).await;
    let b = s.create(ENHED, &enhed("vb-2", "Regionen")).await;
    let q = |raw: &'static str| async move { sorted(s.search_raw(ENHED, raw).await) };
    assert_eq!(q("vilkaarligattr=kommunen").await, [a]);
    assert_eq!(q("vilkaarligattr=VB-2").await, [b]);
    assert_eq!(q("vilkaarligattr=%25gion%25").await, [b]);
    assert_eq!(q("vilkaarligattr=v_-%25").await, sorted(vec![a, b]));
    assert_eq!(q("vilkaarligattr=va-1&vilkaarligattr=Kommunen").await, [a]);
    assert_eq!(q("vilkaarligattr=va-1&vilkaarligattr=Regionen").await, NONE);
    assert_eq!(q("vilkaarligattr=Kommune").await, NONE);
}
both!(vilkaarligattr);

/// The valid-time window restricts which periods may match; criteria may match in different
/// periods; transaction-time parameters search old registreringer.
async fn virkning_window(s: &Srv) {
    let f = s.create(ENHED, &enhed("fut", "Nu")).await;
    tick().await;
    let before = now_literal();
    tick().await;
    s.ret(ENHED, f, &navn_patch("Fremtid", "2030-01-01", INF))
        .await;
    s.ret(
        ENHED,
        f,
        &json!({"tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Inaktiv", "virkning": v("2035-01-01", INF)}]}}),
    )
    .await;
    let q = |pairs: &'static [(&'static str, &'static str)]| async move { s.search(ENHED, pairs).await };
    assert_eq!(q(&[("enhedsnavn", "Fremtid")]).await, NONE);
    assert_eq!(q(&[("enhedsnavn", "Nu")]).await, [f]);
    assert_eq!(
        q(&[("enhedsnavn", "Fremtid"), ("virkningstid", "2031-01-01")]).await,
        [f]
    );
    assert_eq!(
        q(&[("enhedsnavn", "Nu"), ("virkningstid", "2031-01-01")]).await,
        NONE
    );
    assert_eq!(
        q(&[
            ("enhedsnavn", "Fremtid"),
            ("virkningFra", "2029-01-01"),
            ("virkningTil", "2030-01-01")
        ])
        .await,
        NONE
    );
    assert_eq!(
        q(&[
            ("enhedsnavn", "Fremtid"),
            ("virkningFra", "2029-01-01"),
            ("virkningTil", "2030-01-02")
        ])
        .await,
        [f]
    );
    assert_eq!(
        q(&[("enhedsnavn", "Fremtid"), ("virkningFra", "2029-01-01")]).await,
        [f]
    );
    // Each criterion may hold in its own period inside the window.
    assert_eq!(
        q(&[("enhedsnavn", "Nu"), ("gyldighed", "Inaktiv")]).await,
        NONE
    );
    assert_eq!(
        q(&[
            ("enhedsnavn", "Nu"),
            ("gyldighed", "Inaktiv"),
            ("virkningFra", "-infinity"),
            ("virkningTil", "infinity")
        ])
        .await,
        [f]
    );
    // As registered before the change, nothing was ever called Fremtid.
    let old = s
        .search(
            ENHED,
            &[
                ("enhedsnavn", "Fremtid"),
                ("virkningstid", "2031-01-01"),
                ("registreringstid", &before),
            ],
        )
        .await;
    assert_eq!(old, NONE);
    let old = s
        .search(
            ENHED,
            &[
                ("enhedsnavn", "Nu"),
                ("virkningstid", "2031-01-01"),
                ("registreringstid", &before),
            ],
        )
        .await;
    assert_eq!(old, [f]);
}
both!(virkning_window);

/// `list` turns the hits into objects read with the same time window.
async fn search_with_list(s: &Srv) {
    let a = s.create(ENHED, &enhed("la", "A")).await;
    let b = s.create(ENHED, &enhed("lb", "B")).await;
    s.create(ENHED, &enhed("x", "X")).await;
    s.ret(ENHED, b, &navn_patch("B2", "2030-01-01", INF)).await;

    let r = s.query_raw(ENHED, "bvn=l%25&list=true").await.expect(200);
    let objs = r.body["results"][0].as_array().expect("[[objects]]");
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    let mut ids: Vec<&str> = objs.iter().map(|o| o["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![a.to_string(), b.to_string()];
    want.sort();
    assert_eq!(ids, want);
    for o in objs {
        let regs = o["registreringer"].as_array().unwrap();
        assert_eq!(regs.len(), 1);
        assert_eq!(
            attr(&regs[0], "organisationenhedegenskaber").len(),
            1,
            "only today's periods: {o}"
        );
    }
    // `list` with a valid-time window shows that window.
    let r = s
        .query_raw(
            ENHED,
            "bvn=lb&list&virkningFra=-infinity&virkningTil=infinity",
        )
        .await
        .expect(200);
    let o = &r.body["results"][0][0];
    assert_eq!(o["id"], b.to_string());
    assert_eq!(
        periods(
            &attr(&o["registreringer"][0], "organisationenhedegenskaber"),
            "enhedsnavn"
        )
        .len(),
        2
    );
    // `list` with a transaction-time instant reads that registrering.
    tick().await;
    let before = now_literal();
    tick().await;
    s.ret(ENHED, a, &navn_patch("A2", START, INF)).await;
    let r = s
        .get(&format!(
            "/{ENHED}{}",
            qs(&[
                ("enhedsnavn", "A"),
                ("registreringstid", &before),
                ("list", "1")
            ])
        ))
        .await
        .expect(200);
    let o = &r.body["results"][0][0];
    assert_eq!(o["id"], a.to_string());
    assert_eq!(o["registreringer"].as_array().unwrap().len(), 1);
    assert_eq!(
        attr(&o["registreringer"][0], "organisationenhedegenskaber")[0]["enhedsnavn"],
        "A"
    );
    assert_eq!(s.search(ENHED, &[("enhedsnavn", "A")]).await, NONE);
}
both!(search_with_list);

/// The registrering-level criteria: livscykluskode, notetekst (Ref: the registrering note),
/// brugerref, uuid.
async fn registrering_criteria(s: &Srv) {
    let a = s.create(ENHED, &enhed("rk-a", "A")).await;
    let b = s.create(ENHED, &enhed("rk-b", "B")).await;
    s.ret(
        ENHED,
        b,
        &json!({"note": "Rettet af sagsbehandler_1", "attributter": {"organisationenhedegenskaber": [
            {"enhedsnavn": "B2", "virkning": v(START, INF)}]}}),
    )
    .await;
    assert_eq!(
        s.search(ENHED, &[("livscykluskode", "Opstaaet")]).await,
        [a]
    );
    assert_eq!(s.search(ENHED, &[("livscykluskode", "Rettet")]).await, [b]);
    s.get(&format!("/{ENHED}?livscykluskode=Bogus"))
        .await
        .expect(400);
    assert_eq!(
        sorted(s.search(ENHED, &[("notetekst", "%")]).await),
        sorted(vec![a, b])
    );
    assert_eq!(
        s.search(ENHED, &[("notetekst", "%sagsbehandler%")]).await,
        [b]
    );
    assert_eq!(s.search(ENHED, &[("notetekst", "OPRETTET")]).await, [a]);
    // uuid restricts a search.
    assert_eq!(
        s.search(ENHED, &[("uuid", &a.to_string()), ("bvn", "rk%")])
            .await,
        [a]
    );
    assert_eq!(
        s.search(ENHED, &[("uuid", &a.to_string()), ("bvn", "rk-b")])
            .await,
        NONE
    );
}
both!(registrering_criteria);

/// Every registrering shows LoRa's constant brugerref, so searching by it finds them.
async fn brugerref_search(s: &Srv) {
    let a = s.create(ENHED, &enhed("br", "A")).await;
    let reg = s.reg(ENHED, a, &[]).await;
    let brugerref = reg["brugerref"].as_str().unwrap().to_owned();
    assert_eq!(brugerref, "42c432e8-9c4a-11e6-9f62-873cf34a735f");
    assert_eq!(
        s.search(ENHED, &[("bvn", "br"), ("brugerref", &brugerref)])
            .await,
        [a]
    );
    assert!(
        s.search(
            ENHED,
            &[("bvn", "br"), ("brugerref", &Uuid::new_v4().to_string())]
        )
        .await
        .is_empty()
    );
}
both!(brugerref_search);

/// Refused arguments (§1.2, §4.1, §4.5).
async fn refused_arguments(s: &Srv) {
    let a = s.create(ENHED, &enhed("ref", "A")).await;
    let r = s.query_raw(ENHED, "bvn=ref&bogus=1").await.expect(400);
    assert!(r.message().contains("bogus"), "{}", r.text);
    let r = s
        .query_raw(ENHED, &format!("uuid={a}&uuid={}&bvn=ref", Uuid::new_v4()))
        .await
        .expect(400);
    assert!(!r.message().is_empty());
    for raw in [
        "bvn=ref&foersteresultat=abc",
        "bvn=ref&maximalantalresultater=-1",
        "bvn=ref&maximalantalresultater=1.5",
        "bvn=ref&uuid=nope",
        "brugerref=nope",
        // Attributes of other classes, states with a qualifier, and Ref-refused dot names.
        "titel=x",
        "gyldighed:x=Aktiv",
        "journalnotat.titel=x",
    ] {
        s.query_raw(ENHED, raw).await.expect(400);
    }
    s.query_raw(SAG, "journalnotat.titel=x").await.expect(400);
    s.query_raw(SAG, "journalpostkode=journalnotat")
        .await
        .expect(400);
}
both!(refused_arguments);
