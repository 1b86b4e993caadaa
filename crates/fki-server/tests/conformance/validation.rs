//! Validation (contract §7): every refusal is a 400 whose body names the offending path
//! (`field`) and says why (`reason`); a refused request changes nothing.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

const EG: &str = "organisationenhedegenskaber";
const GY: &str = "organisationenhedgyldighed";

/// `enhed("val", "V")` with `f` applied.
fn body(f: impl FnOnce(&mut Value)) -> Value {
    let mut b = enhed("val", "V");
    f(&mut b);
    b
}

fn eg0(b: &mut Value) -> &mut Value {
    &mut b["attributter"][EG][0]
}

fn sag_body(f: impl FnOnce(&mut Value)) -> Value {
    let mut b = sag("val");
    f(&mut b);
    b
}

/// Create bodies (POST and PUT) that must be refused, with the field they must name.
fn create_cases() -> Vec<(&'static str, Value, &'static str)> {
    let u = Uuid::new_v4().to_string();
    vec![
        (ENHED, json!({}), ""),
        (ENHED, json!([]), ""),
        (ENHED, json!("text"), ""),
        (ENHED, body(|b| b["bogus"] = json!(1)), "bogus"),
        (ENHED, body(|b| b["note"] = json!(5)), "note"),
        (ENHED, body(|b| b["livscyklus"] = json!(true)), "livscyklus"),
        (ENHED, body(|b| b["attributter"] = json!([])), "attributter"),
        (
            ENHED,
            body(|b| b["attributter"][EG] = json!({})),
            "attributter.organisationenhedegenskaber",
        ),
        (
            ENHED,
            body(|b| b["attributter"][EG] = json!([])),
            "attributter.organisationenhedegenskaber",
        ),
        (
            ENHED,
            body(|b| eg0(b)["farve"] = json!("blå")),
            "attributter.organisationenhedegenskaber[0].farve",
        ),
        (
            ENHED,
            body(|b| b["attributter"]["organisationenhedfoo"] = json!([])),
            "attributter.organisationenhedfoo",
        ),
        (
            ENHED,
            body(|b| b["attributter"]["organisationegenskaber"] = json!([])),
            "attributter.organisationegenskaber",
        ),
        (
            ENHED,
            body(|b| b["tilstande"]["organisationenhedpubliceret"] = json!([])),
            "tilstande.organisationenhedpubliceret",
        ),
        (
            ENHED,
            body(|b| b["relationer"] = json!({"facet": [rel(Uuid::nil())]})),
            "relationer.facet",
        ),
        (
            ENHED,
            body(|b| eg0(b)["enhedsnavn"] = json!(5)),
            "attributter.organisationenhedegenskaber[0].enhedsnavn",
        ),
        (
            ENHED,
            body(|b| eg0(b)["enhedsnavn"] = json!(null)),
            "attributter.organisationenhedegenskaber[0].enhedsnavn",
        ),
        (
            ENHED,
            body(|b| eg0(b)["brugervendtnoegle"] = json!(["a"])),
            "attributter.organisationenhedegenskaber[0].brugervendtnoegle",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"] = v("2021-01-01", "2020-01-01")),
            "attributter.organisationenhedegenskaber[0].virkning",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"] = v("2021-01-01", "2021-01-01")),
            "attributter.organisationenhedegenskaber[0].virkning",
        ),
        (
            ENHED,
            body(|b| {
                eg0(b).as_object_mut().unwrap().remove("virkning");
            }),
            "attributter.organisationenhedegenskaber[0].virkning",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"] = json!({"from": "2020-01-01"})),
            "attributter.organisationenhedegenskaber[0].virkning.to",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"] = json!("2020-01-01")),
            "attributter.organisationenhedegenskaber[0].virkning",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["bogus"] = json!(1)),
            "attributter.organisationenhedegenskaber[0].virkning.bogus",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["from"] = json!("2020-13-01")),
            "attributter.organisationenhedegenskaber[0].virkning.from",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["from"] = json!(2020)),
            "attributter.organisationenhedegenskaber[0].virkning.from",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["aktoerref"] = json!("nope")),
            "attributter.organisationenhedegenskaber[0].virkning.aktoerref",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["aktoertypekode"] = json!("Robot")),
            "attributter.organisationenhedegenskaber[0].virkning.aktoertypekode",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["from_included"] = json!("yes")),
            "attributter.organisationenhedegenskaber[0].virkning.from_included",
        ),
        (
            ENHED,
            body(|b| eg0(b)["virkning"]["notetekst"] = json!(1)),
            "attributter.organisationenhedegenskaber[0].virkning.notetekst",
        ),
        (
            ENHED,
            body(|b| {
                eg0(b).as_object_mut().unwrap().remove("brugervendtnoegle");
            }),
            "attributter.organisationenhedegenskaber[0].brugervendtnoegle",
        ),
        (
            ENHED,
            body(|b| {
                let mut second = b["attributter"][EG][0].clone();
                second["virkning"] = v("2021-01-01", "2022-01-01");
                b["attributter"][EG].as_array_mut().unwrap().push(second);
            }),
            "attributter.organisationenhedegenskaber[1]",
        ),
        (
            ENHED,
            body(|b| {
                b.as_object_mut().unwrap().remove("tilstande");
            }),
            "tilstande",
        ),
        (
            ENHED,
            body(|b| {
                b.as_object_mut().unwrap().remove("attributter");
            }),
            "attributter",
        ),
        (
            ENHED,
            body(|b| b["tilstande"] = json!({})),
            "tilstande.organisationenhedgyldighed",
        ),
        (
            ENHED,
            body(|b| b["tilstande"][GY] = json!([])),
            "tilstande.organisationenhedgyldighed",
        ),
        (
            ENHED,
            body(|b| b["tilstande"][GY][0]["gyldighed"] = json!("Måske")),
            "tilstande.organisationenhedgyldighed[0].gyldighed",
        ),
        (
            ENHED,
            body(|b| b["tilstande"][GY][0]["gyldighed"] = json!("")),
            "tilstande.organisationenhedgyldighed[0].gyldighed",
        ),
        (
            ENHED,
            body(|b| b["tilstande"][GY][0]["gyldighed"] = json!("aktiv")),
            "tilstande.organisationenhedgyldighed[0].gyldighed",
        ),
        (
            ENHED,
            body(|b| {
                b["tilstande"][GY][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("gyldighed");
            }),
            "tilstande.organisationenhedgyldighed[0]",
        ),
        (
            ENHED,
            body(|b| b["tilstande"][GY][0]["publiceret"] = json!("Publiceret")),
            "tilstande.organisationenhedgyldighed[0].publiceret",
        ),
        (
            ENHED,
            body(|b| {
                b["tilstande"][GY] = json!([
                {"gyldighed": "Aktiv", "virkning": v("2020-01-01", "2022-01-01")},
                {"gyldighed": "Inaktiv", "virkning": v("2021-01-01", INF)}]);
            }),
            "tilstande.organisationenhedgyldighed[1]",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] =
                    json!({"tilhoerer": [{"uuid": "not-a-uuid", "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0].uuid",
        ),
        (
            ENHED,
            body(
                |b| b["relationer"] = json!({"tilhoerer": [{"uuid": "0d2f6c1e5b1a4a519d552a1f0c4c9e01", "virkning": v(START, INF)}]}),
            ),
            "relationer.tilhoerer[0].uuid",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] =
                    json!({"tilhoerer": [{"uuid": u, "urn": "urn:x", "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0]",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] =
                    json!({"tilhoerer": [{"objekttype": "x", "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0]",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] = json!({"tilhoerer": [{"urn": "x:y", "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0].urn",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] = json!({"tilhoerer": [{"urn": "urn:", "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0].urn",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] =
                    json!({"tilhoerer": [{"uuid": u, "bogus": 1, "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0].bogus",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] =
                    json!({"tilhoerer": [{"uuid": u, "objekttype": 3, "virkning": v(START, INF)}]})
            }),
            "relationer.tilhoerer[0].objekttype",
        ),
        (
            ENHED,
            body(
                |b| b["relationer"] = json!({"tilhoerer": [{"uuid": "", "urn": "", "objekttype": "x", "virkning": v(START, INF)}]}),
            ),
            "relationer.tilhoerer[0].objekttype",
        ),
        (
            ENHED,
            body(|b| b["relationer"] = json!({"tilhoerer": [{"uuid": u}]})),
            "relationer.tilhoerer[0].virkning",
        ),
        (
            ENHED,
            body(|b| {
                b["relationer"] = json!({"tilhoerer": [
            {"uuid": u, "virkning": v("2020-01-01", "2022-01-01")},
            {"urn": "urn:x", "virkning": v("2021-01-01", INF)}]})
            }),
            "relationer.tilhoerer[1]",
        ),
        (
            ENHED,
            body(|b| b["relationer"] = json!({"adresser": {"uuid": u}})),
            "relationer.adresser",
        ),
        (
            SAG,
            sag_body(|b| b["attributter"]["sagegenskaber"][0]["afleveret"] = json!("yes")),
            "attributter.sagegenskaber[0].afleveret",
        ),
        (
            SAG,
            sag_body(|b| b["attributter"]["sagegenskaber"][0]["afleveret"] = json!(1)),
            "attributter.sagegenskaber[0].afleveret",
        ),
        (
            SAG,
            sag_body(|b| {
                b["attributter"]["sagegenskaber"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("sagsnummer");
            }),
            "attributter.sagegenskaber[0].sagsnummer",
        ),
        (
            SAG,
            sag_body(|b| {
                b["attributter"]["sagegenskaber"][0]["offentlighedundtaget"] =
                    json!({"alternativtitel": "a"})
            }),
            "attributter.sagegenskaber[0].offentlighedundtaget.hjemmel",
        ),
        (
            SAG,
            sag_body(|b| {
                b["attributter"]["sagegenskaber"][0]["offentlighedundtaget"] =
                    json!({"alternativtitel": "a", "hjemmel": "h", "x": "y"})
            }),
            "attributter.sagegenskaber[0].offentlighedundtaget.x",
        ),
        (
            SAG,
            sag_body(|b| {
                b["relationer"] =
                    json!({"andresager": [{"uuid": u, "indeks": "1", "virkning": v(START, INF)}]})
            }),
            "relationer.andresager[0].indeks",
        ),
        (
            SAG,
            sag_body(|b| b["tilstande"]["sagfremdrift"][0]["fremdrift"] = json!("Aktiv")),
            "tilstande.sagfremdrift[0].fremdrift",
        ),
        (
            DOKUMENT,
            json!({"attributter": {"dokumentegenskaber": [{"brugervendtnoegle": "d", "major": "1", "virkning": v(START, INF)}]},
                          "tilstande": {"dokumentfremdrift": [{"fremdrift": "Modtaget", "virkning": v(START, INF)}]}}),
            "attributter.dokumentegenskaber[0].major",
        ),
        (
            DOKUMENT,
            json!({"attributter": {"dokumentegenskaber": [{"brugervendtnoegle": "d", "brevdato": "31-12-2020", "virkning": v(START, INF)}]},
                          "tilstande": {"dokumentfremdrift": [{"fremdrift": "Modtaget", "virkning": v(START, INF)}]}}),
            "attributter.dokumentegenskaber[0].brevdato",
        ),
        (
            DOKUMENT,
            json!({"attributter": {"dokumentegenskaber": [{"brugervendtnoegle": "d", "virkning": v(START, INF)}]},
                          "tilstande": {"dokumentfremdrift": [{"fremdrift": "Modtaget", "virkning": v(START, INF)}]},
                          "varianter": [{"varianttekst": "v", "farve": 1}]}),
            "varianter[0].farve",
        ),
        (
            KLASSE,
            json!({"attributter": {"klasseegenskaber": [{"brugervendtnoegle": "k", "titel": "t", "soegeord": "ord", "virkning": v(START, INF)}]},
                        "tilstande": {"klassepubliceret": [{"publiceret": "Publiceret", "virkning": v(START, INF)}]}}),
            "attributter.klasseegenskaber[0].soegeord",
        ),
        (
            KLASSE,
            json!({"attributter": {"klasseegenskaber": [{"brugervendtnoegle": "k", "virkning": v(START, INF)}]},
                        "tilstande": {"klassepubliceret": [{"publiceret": "Publiceret", "virkning": v(START, INF)}]}}),
            "attributter.klasseegenskaber[0].titel",
        ),
    ]
}

/// Every create-mode refusal, by POST and by PUT; afterwards nothing exists.
async fn create_refusals(s: &Srv) {
    let mut put_uuids = Vec::new();
    for (cls, b, field) in create_cases() {
        let r = s.post(&format!("/{cls}"), &b).await.expect_invalid(field);
        assert_eq!(r.body["error"], 400, "{}", r.text);
        assert_eq!(r.body["code"], "OIO-VALIDATION", "{}", r.text);
        assert!(
            r.body["text"].as_str().is_some_and(|t| t.contains(field)),
            "{}",
            r.text
        );
        let u = Uuid::new_v4();
        s.import(cls, u, &b).await.expect_invalid(field);
        put_uuids.push((cls, u));
    }
    // Atomicity: nothing was created.
    for cls in [ENHED, SAG, DOKUMENT, KLASSE] {
        assert_eq!(s.search(cls, &[("bvn", "%")]).await, NONE, "{cls}");
        assert_eq!(s.search(cls, &[("livscykluskode", "Opstaaet")]).await, NONE);
        assert_eq!(
            s.search(cls, &[("livscykluskode", "Importeret")]).await,
            NONE
        );
    }
    for (cls, u) in put_uuids {
        s.read(cls, u, &[]).await.expect(404);
    }
    // The bodies were refused for the reason named, not for something else: the base bodies
    // are valid.
    s.create(ENHED, &body(|_| {})).await;
    s.create(SAG, &sag_body(|_| {})).await;
}
both!(create_refusals);

/// Body-level refusals: malformed JSON, empty bodies.
async fn body_refusals(s: &Srv) {
    let u = s.create(ENHED, &enhed("b", "B")).await;
    let path = format!("/{ENHED}");
    let upath = format!("/{ENHED}/{u}");
    for (method, p) in [
        (Method::POST, &path),
        (Method::PUT, &upath),
        (Method::PATCH, &upath),
    ] {
        for raw in [&b"{\"attributter\": "[..], b"{,}", b"nope", b"", b"   "] {
            let r = s
                .send(method.clone(), p, Some(("application/json", raw.to_vec())))
                .await
                .expect_invalid("");
            if !raw.trim_ascii().is_empty() {
                assert!(
                    r.body["reason"].as_str().unwrap().contains("JSON"),
                    "{}",
                    r.text
                );
            }
        }
        s.send(method.clone(), p, None).await.expect_invalid("");
        s.send(
            method.clone(),
            p,
            Some(("application/json", b"{}".to_vec())),
        )
        .await
        .expect_invalid("");
    }
    assert_eq!(s.history(ENHED, u).await.len(), 1);
    s.delete(ENHED, u).await.expect(202);
    // DELETE's optional body must be an object with a string note.
    let v = s.create(ENHED, &enhed("b2", "B")).await;
    s.send(
        Method::DELETE,
        &format!("/{ENHED}/{v}"),
        Some(("application/json", br#"{"note": 5}"#.to_vec())),
    )
    .await
    .expect_invalid("note");
    s.read(ENHED, v, &[]).await.expect(200);
}
both!(body_refusals);

/// Update mode: only `virkning`, state values and relation targets are required; types, enums
/// and unknown keys still apply; a refused PATCH changes nothing.
async fn patch_refusals(s: &Srv) {
    let x = fixed_uuid(5);
    let u = s
        .create(
            ENHED,
            &with_rel(enhed("pr", "Før"), "tilhoerer", json!([rel(x)])),
        )
        .await;
    let cases = [
        (
            json!({"attributter": {EG: [{"enhedsnavn": "x"}]}}),
            "attributter.organisationenhedegenskaber[0].virkning",
        ),
        (
            json!({"attributter": {EG: [{"enhedsnavn": 1, "virkning": v(START, INF)}]}}),
            "attributter.organisationenhedegenskaber[0].enhedsnavn",
        ),
        (
            json!({"tilstande": {GY: [{"virkning": v(START, INF)}]}}),
            "tilstande.organisationenhedgyldighed[0]",
        ),
        (
            json!({"tilstande": {GY: [{"gyldighed": "", "virkning": v(START, INF)}]}}),
            "tilstande.organisationenhedgyldighed[0].gyldighed",
        ),
        (
            json!({"relationer": {"tilhoerer": [{"virkning": v(START, INF)}]}}),
            "relationer.tilhoerer[0]",
        ),
        // A valid attribute change together with an invalid relation: all or nothing.
        (
            json!({"attributter": {EG: [{"enhedsnavn": "Efter", "virkning": v(START, INF)}]},
                "relationer": {"tilhoerer": [{"uuid": "x", "virkning": v(START, INF)}]}}),
            "relationer.tilhoerer[0].uuid",
        ),
        (
            json!({"attributter": {EG: [
            {"enhedsnavn": "Efter", "virkning": v("2020-01-01", "2022-01-01")},
            {"enhedsnavn": "Efter", "virkning": v("2021-01-01", INF)}]}}),
            "attributter.organisationenhedegenskaber[1]",
        ),
        // Validation happens before passivation: the passivation body must be valid too.
        (json!({"livscyklus": "Passiv", "bogus": 1}), "bogus"),
        (json!({"livscyklus": "Passiv", "note": 1}), "note"),
        (
            json!({"attributter": {EG: [{"enhedsnavn": "x", "virkning": v(START, INF)}]}, "varianter": []}),
            "varianter",
        ),
    ];
    for (b, field) in cases {
        s.patch(ENHED, u, &b).await.expect_invalid(field);
    }
    let hist = s.history(ENHED, u).await;
    assert_eq!(hist.len(), 1, "a refused PATCH stores nothing");
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(reg["livscykluskode"], "Opstaaet");
    assert_eq!(attr(&reg, EG)[0]["enhedsnavn"], "Før");
    assert_eq!(targets(&rels(&reg, "tilhoerer")), [x.to_string()]);
    // PUT needs a complete (create-mode) body.
    s.import(ENHED, u, &navn_patch("x", START, INF))
        .await
        .expect_invalid("attributter.organisationenhedegenskaber[0].brugervendtnoegle");
    s.import(
        ENHED,
        u,
        &json!({"attributter": {EG: [{"brugervendtnoegle": "x", "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("tilstande");
    assert_eq!(s.history(ENHED, u).await.len(), 1);
    // The same change, valid, goes through.
    s.ret(ENHED, u, &navn_patch("Efter", START, INF)).await;
    assert_eq!(s.history(ENHED, u).await.len(), 2);
}
both!(patch_refusals);

/// A malformed UUID in the path is a 400 naming `uuid`, for every method.
async fn invalid_path_uuid(s: &Srv) {
    for bad in [
        "not-a-uuid",
        "0d2f6c1e5b1a4a519d552a1f0c4c9e01",
        "0d2f6c1e-5b1a-4a51-9d55-2a1f0c4c9e0g",
    ] {
        let p = format!("/{ENHED}/{bad}");
        s.get(&p).await.expect_invalid("uuid");
        s.put(&p, &enhed("x", "x")).await.expect_invalid("uuid");
        s.patch_path(&p, &navn_patch("x", START, INF))
            .await
            .expect_invalid("uuid");
        s.send(Method::DELETE, &p, None)
            .await
            .expect_invalid("uuid");
    }
    // Upper-case hex is a UUID.
    let u = s.create(ENHED, &enhed("up", "Up")).await;
    let r = s
        .get(&format!("/{ENHED}/{}", u.to_string().to_uppercase()))
        .await
        .expect(200);
    assert!(r.body.get(u.to_string()).is_some(), "{}", r.text);
}
both!(invalid_path_uuid);

/// Overlapping periods are fine for 0..n relations (contract §2.2).
async fn zero_to_many_may_overlap(s: &Srv) {
    let b = with_rel(
        enhed("ov", "O"),
        "adresser",
        json!([
            {"uuid": fixed_uuid(1).to_string(), "virkning": v("2020-01-01", "2022-01-01")},
            {"uuid": fixed_uuid(2).to_string(), "virkning": v("2021-01-01", INF)}
        ]),
    );
    let u = s.create(ENHED, &b).await;
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(rels(&reg, "adresser").len(), 1);
    assert_eq!(rels(&s.reg(ENHED, u, ALL_VALID).await, "adresser").len(), 2);
    // Blank entries on create mean nothing.
    let b = with_rel(
        enhed("ov2", "O"),
        "tilhoerer",
        json!([{"uuid": "", "urn": "", "virkning": v(START, INF)}]),
    );
    let u = s.create(ENHED, &b).await;
    assert!(s.reg(ENHED, u, ALL_VALID).await.get("relationer").is_none());
}
both!(zero_to_many_may_overlap);
