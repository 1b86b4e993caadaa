//! Operations, status codes and the lifecycle table (contract §1.2, §5.7, §6).

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

const EG: &str = "organisationenhedegenskaber";

fn codes(regs: &[Value]) -> Vec<String> {
    regs.iter()
        .map(|r| r["livscykluskode"].as_str().unwrap_or("-").to_owned())
        .collect()
}

fn navn(reg: &Value) -> String {
    attr(reg, EG)[0]["enhedsnavn"]
        .as_str()
        .unwrap_or("-")
        .to_owned()
}

/// POST → 201 + uuid, Opstaaet; PATCH → 200, Rettet; the read shape (§2.3).
async fn opret_and_ret(s: &Srv) {
    let r = s
        .post(&format!("/{ENHED}"), &enhed("o1", "Først"))
        .await
        .expect(201);
    let u: Uuid = r.body["uuid"].as_str().unwrap().parse().unwrap();
    assert_eq!(r.body, json!({"uuid": u.to_string()}));
    assert!(r.content_type.starts_with("application/json"));

    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(reg["livscykluskode"], "Opstaaet");
    assert_eq!(reg["note"], "oprettet");
    assert_eq!(
        attr(&reg, EG),
        vec![
            json!({"brugervendtnoegle": "o1", "enhedsnavn": "Først", "virkning": {
            "from": "2020-01-01 00:00:00+01", "from_included": true,
            "to": "infinity", "to_included": false}})
        ]
    );
    assert_eq!(
        state(&reg, "organisationenhedgyldighed"),
        vec![json!({"gyldighed": "Aktiv", "virkning": {
            "from": "2020-01-01 00:00:00+01", "from_included": true,
            "to": "infinity", "to_included": false}})]
    );
    assert!(
        reg.get("relationer").is_none(),
        "empty relationer is omitted"
    );

    let r = s
        .patch(
            ENHED,
            u,
            &json!({"note": "rettet", "attributter": {EG: [
            {"enhedsnavn": "Anden", "virkning": v(START, INF)}]}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body, json!({"uuid": u.to_string()}));
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(reg["livscykluskode"], "Rettet");
    assert_eq!(reg["note"], "rettet");
    assert_eq!(navn(&reg), "Anden");
    assert_eq!(codes(&s.history(ENHED, u).await), ["Rettet", "Opstaaet"]);

    // Another class's path does not see the object, nor change it.
    s.read(BRUGER, u, &[]).await.expect(404);
    s.patch(
        BRUGER,
        u,
        &json!({"attributter": {"brugeregenskaber": [{"brugernavn": "x", "virkning": v(START, INF)}]}}),
    )
    .await
    .expect(404);
    s.delete(BRUGER, u).await.expect(404);
    s.reg(ENHED, u, &[]).await;

    // A livscyklus other than Passiv is ignored: a plain update.
    s.ret(
        ENHED,
        u,
        &json!({"livscyklus": "Slettet", "attributter": {EG: [
        {"enhedsnavn": "Tredje", "virkning": v(START, INF)}]}}),
    )
    .await;
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(reg["livscykluskode"], "Rettet");
    assert_eq!(navn(&reg), "Tredje");
}
both!(opret_and_ret);

/// Passivate, refuse changes to a passive object, delete, 410, delete again, revive by PUT.
async fn passivate_delete_revive(s: &Srv) {
    let u = s.create(ENHED, &enhed("pd", "Liv")).await;
    let other = s.create(ENHED, &enhed("pd", "Anden")).await;

    // Passivate: still readable.
    s.ret(
        ENHED,
        u,
        &json!({"livscyklus": "Passiv", "note": "passiveret"}),
    )
    .await;
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(reg["livscykluskode"], "Passiveret");
    assert_eq!(reg["note"], "passiveret");
    assert_eq!(navn(&reg), "Liv", "passivation carries the data over");
    // Passive objects are still found by searches (Ref).
    assert_eq!(s.search_sorted(ENHED, &[("bvn", "pd")]).await.len(), 2);

    // No update or second passivation of a passive object.
    let r = s
        .patch(ENHED, u, &navn_patch("Nej", START, INF))
        .await
        .expect(400);
    assert!(!r.message().is_empty());
    s.patch(ENHED, u, &json!({"livscyklus": "passiv"}))
        .await
        .expect(400);
    assert_eq!(
        codes(&s.history(ENHED, u).await),
        ["Passiveret", "Opstaaet"]
    );
    tick().await;
    let while_passive = now_literal();
    tick().await;

    // Delete (with a note in the body): 202, then 410.
    let r = s
        .send(
            Method::DELETE,
            &format!("/{ENHED}/{u}"),
            Some(("application/json", br#"{"note": "slettet"}"#.to_vec())),
        )
        .await
        .expect(202);
    assert_eq!(r.body, json!({"uuid": u.to_string()}));
    s.read(ENHED, u, &[]).await.expect(410);
    s.read(ENHED, u, ALL_VALID).await.expect(410);
    // Deleting again is a no-op that still answers 202.
    let r = s.delete(ENHED, u).await.expect(202);
    assert_eq!(r.body, json!({"uuid": u.to_string()}));
    // No change of a deleted object.
    s.patch(ENHED, u, &navn_patch("Nej", START, INF))
        .await
        .expect(400);
    s.patch(ENHED, u, &json!({"livscyklus": "Passiv"}))
        .await
        .expect(400);
    // The past is still readable: as registered while passive.
    let past = s
        .reg(ENHED, u, &[("registreringstid", &while_passive)])
        .await;
    assert_eq!(past["livscykluskode"], "Passiveret");
    assert_eq!(navn(&past), "Liv");

    // Searches skip deleted objects unless livscykluskode is given.
    assert_eq!(s.search(ENHED, &[("bvn", "pd")]).await, [other]);
    assert_eq!(
        s.search(ENHED, &[("bvn", "pd"), ("livscykluskode", "Slettet")])
            .await,
        [u]
    );
    assert_eq!(
        s.search(ENHED, &[("bvn", "pd"), ("livscykluskode", "Opstaaet")])
            .await,
        [other]
    );

    // PUT revives the deleted object: Importeret, readable, merged onto the last data (Ref).
    let r = s
        .import(
            ENHED,
            u,
            &json!({
                "attributter": {EG: [{"brugervendtnoegle": "pd", "enhedsnavn": "Igen",
                                      "virkning": v("2025-01-01", INF)}]},
                "tilstande": {"organisationenhedgyldighed": [{"gyldighed": "Aktiv", "virkning": v(START, INF)}]}
            }),
        )
        .await
        .expect(200);
    assert_eq!(r.body, json!({"uuid": u.to_string()}));
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert_eq!(reg["livscykluskode"], "Importeret");
    assert_eq!(
        periods(&attr(&reg, EG), "enhedsnavn"),
        p3(&[
            ("Liv", "2020-01-01 00:00:00+01", "2025-01-01 00:00:00+01"),
            ("Igen", "2025-01-01 00:00:00+01", "infinity"),
        ])
    );
    // The second DELETE stored nothing; the Slettet registrering kept its note.
    let hist = s.history(ENHED, u).await;
    assert_eq!(
        codes(&hist),
        ["Importeret", "Slettet", "Passiveret", "Opstaaet"]
    );
    assert_eq!(hist[1]["note"], "slettet");
    assert_eq!(s.search_sorted(ENHED, &[("bvn", "pd")]).await.len(), 2);
    // And it can be changed again.
    s.ret(ENHED, u, &navn_patch("Efter", START, INF)).await;
    assert_eq!(navn(&s.reg(ENHED, u, &[]).await), "Efter");
}
both!(passivate_delete_revive);

/// PUT onto a passive object: Importeret (Ref: merged update).
async fn import_onto_passive(s: &Srv) {
    let u = s.create(ENHED, &enhed("ip", "Før")).await;
    s.ret(ENHED, u, &json!({"livscyklus": "Passiv"})).await;
    s.import(ENHED, u, &enhed("ip", "Efter")).await.expect(200);
    let reg = s.reg(ENHED, u, &[]).await;
    assert_eq!(reg["livscykluskode"], "Importeret");
    assert_eq!(navn(&reg), "Efter");
    s.ret(ENHED, u, &navn_patch("Rettet", START, INF)).await;
    assert_eq!(s.reg(ENHED, u, &[]).await["livscykluskode"], "Rettet");
}
both!(import_onto_passive);

/// PUT on an unknown UUID creates it (Importeret); PUT on a live object overwrites completely
/// (Rettet).
async fn import_create_and_overwrite(s: &Srv) {
    let u = fixed_uuid(1);
    let target = fixed_uuid(2);
    let body = json!({
        "attributter": {EG: [
            {"brugervendtnoegle": "imp", "enhedsnavn": "Et", "virkning": v("2020-01-01", "2021-01-01")},
            {"brugervendtnoegle": "imp", "enhedsnavn": "To", "virkning": v("2021-01-01", INF)}
        ]},
        "tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Aktiv", "virkning": v(START, INF)}]},
        "relationer": {"tilhoerer": [rel(target)], "adresser": [rel(fixed_uuid(3)), rel(fixed_uuid(4))]}
    });
    let r = s.import(ENHED, u, &body).await.expect(200);
    assert_eq!(r.body, json!({"uuid": u.to_string()}));
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert_eq!(reg["livscykluskode"], "Importeret");
    assert_eq!(attr(&reg, EG).len(), 2);
    assert_eq!(targets(&rels(&reg, "adresser")).len(), 2);

    // Overwrite with a payload of one period and no relations: the old periods are gone.
    let r = s
        .import(
            ENHED,
            u,
            &json!({
                "attributter": {EG: [{"brugervendtnoegle": "imp2", "virkning": v("2022-01-01", INF)}]},
                "tilstande": {"organisationenhedgyldighed": [
                    {"gyldighed": "Inaktiv", "virkning": v("2022-01-01", INF)}]}
            }),
        )
        .await
        .expect(200);
    assert_eq!(r.status, 200);
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    assert_eq!(reg["livscykluskode"], "Rettet");
    assert_eq!(
        periods(&attr(&reg, EG), "brugervendtnoegle"),
        p3(&[("imp2", "2022-01-01 00:00:00+01", "infinity")])
    );
    assert!(attr(&reg, EG)[0].get("enhedsnavn").is_none());
    assert_eq!(
        periods(&state(&reg, "organisationenhedgyldighed"), "gyldighed"),
        p3(&[("Inaktiv", "2022-01-01 00:00:00+01", "infinity")])
    );
    assert!(reg.get("relationer").is_none(), "{reg:#}");
    assert_eq!(codes(&s.history(ENHED, u).await), ["Rettet", "Importeret"]);
    // The same payload again changes nothing.
    let same = json!({
        "attributter": {EG: [{"brugervendtnoegle": "imp2", "virkning": v("2022-01-01", INF)}]},
        "tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Inaktiv", "virkning": v("2022-01-01", INF)}]}
    });
    s.import(ENHED, u, &same).await.expect(200);
    assert_eq!(s.history(ENHED, u).await.len(), 2);
    // The search facts follow: the old bvn no longer matches.
    assert!(s.search(ENHED, &[("bvn", "imp")]).await.is_empty());
    assert_eq!(s.search(ENHED, &[("bvn", "imp2")]).await, [u]);

    // POST always creates a new UUID; PUT with a UUID of another class is refused.
    let r = s.import(BRUGER, u, &json!({
        "attributter": {"brugeregenskaber": [{"brugervendtnoegle": "b", "virkning": v(START, INF)}]},
        "tilstande": {"brugergyldighed": [{"gyldighed": "Aktiv", "virkning": v(START, INF)}]}
    })).await;
    assert!(
        (400..500).contains(&r.status),
        "PUT of a bruger onto an organisationenhed's UUID: {} {}",
        r.status,
        r.text
    );
    assert_eq!(s.reg(ENHED, u, &[]).await["livscykluskode"], "Rettet");
}
both!(import_create_and_overwrite);

/// Unknown UUIDs: PATCH/DELETE/read → 404 (PATCH checks existence before the body).
async fn unknown_objects(s: &Srv) {
    let u = Uuid::new_v4();
    s.read(ENHED, u, &[]).await.expect(404);
    s.patch(ENHED, u, &navn_patch("x", START, INF))
        .await
        .expect(404);
    s.patch(ENHED, u, &json!({"livscyklus": "Passiv"}))
        .await
        .expect(404);
    s.patch(ENHED, u, &json!({})).await.expect(404);
    s.patch(ENHED, u, &json!({"bogus": 1})).await.expect(404);
    let r = s.delete(ENHED, u).await.expect(404);
    assert!(!r.message().is_empty());
    // Nothing was created along the way.
    s.read(ENHED, u, &[]).await.expect(404);
}
both!(unknown_objects);

/// A PATCH whose result equals the current registrering stores nothing (but answers 200).
async fn unchanged_patch(s: &Srv) {
    let u = s.create(ENHED, &enhed("uc", "Samme")).await;
    let change = navn_patch("Ny", "2021-01-01", INF);
    s.ret(ENHED, u, &change).await;
    assert_eq!(s.history(ENHED, u).await.len(), 2);
    s.ret(ENHED, u, &change).await;
    assert_eq!(s.history(ENHED, u).await.len(), 2, "same data twice");
    // A change that sets what is already there is also no change.
    s.ret(
        ENHED,
        u,
        &json!({"tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Aktiv", "virkning": v(START, INF)}]}}),
    )
    .await;
    assert_eq!(s.history(ENHED, u).await.len(), 2);
    // A note alone does not make a registrering either (notes are not compared).
    s.ret(
        ENHED,
        u,
        &json!({"note": "kun en note", "attributter": {EG: [
        {"enhedsnavn": "Ny", "virkning": v("2021-01-01", INF)}]}}),
    )
    .await;
    assert_eq!(s.history(ENHED, u).await.len(), 2);
    // A real change does.
    s.ret(ENHED, u, &navn_patch("Andet", "2021-01-01", INF))
        .await;
    assert_eq!(s.history(ENHED, u).await.len(), 3);
}
both!(unchanged_patch);

/// The JSON text may also come as the `json` field of a multipart form (contract §1.2).
async fn multipart_body(s: &Srv) {
    let boundary = "fkiBoundary7MA4YWxk";
    let json = serde_json::to_string(&enhed("mp", "Multipart")).unwrap();
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}\r\n--{boundary}--\r\n"
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = s
        .send(
            Method::POST,
            &format!("/{ENHED}"),
            Some((&ct, body.into_bytes())),
        )
        .await
        .expect(201);
    let u: Uuid = r.body["uuid"].as_str().unwrap().parse().unwrap();
    assert_eq!(navn(&s.reg(ENHED, u, &[]).await), "Multipart");

    // File parts are refused with a 400 naming the part.
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"fil\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nindhold\r\n--{boundary}--\r\n"
    );
    s.send(
        Method::POST,
        &format!("/{ENHED}"),
        Some((&ct, body.into_bytes())),
    )
    .await
    .expect_invalid("fil");
    assert_eq!(s.search(ENHED, &[("bvn", "mp")]).await, [u]);
}
both!(multipart_body);

/// DELETE, POST and PUT refuse query parameters (contract §1.2).
async fn query_parameters_on_writes(s: &Srv) {
    let u = s.create(ENHED, &enhed("qw", "Q")).await;
    s.send(Method::DELETE, &format!("/{ENHED}/{u}?note=x"), None)
        .await
        .expect(400);
    s.import(ENHED, u, &enhed("qw", "Q")).await.expect(200);
    s.put(&format!("/{ENHED}/{u}?x=1"), &enhed("qw", "Andet"))
        .await
        .expect(400);
    let r = s
        .post(&format!("/{ENHED}?uuid={u}"), &enhed("qw2", "Q"))
        .await
        .expect(400);
    assert!(r.message().contains("Unsupported argument"), "{}", r.text);
    assert_eq!(s.reg(ENHED, u, &[]).await["livscykluskode"], "Rettet");
    assert_eq!(s.search(ENHED, &[("bvn", "qw2")]).await, Vec::<Uuid>::new());
}
both!(query_parameters_on_writes);
