//! Klasse `soegeord` (contract §2.3, §3.1): triples in, objects out; every triple is kept (a
//! deliberate deviation: LoRa caps them at two).

use serde_json::{Value, json};

use crate::fixtures::*;
use crate::harness::*;

const KEG: &str = "klasseegenskaber";

fn klasse(bvn: &str, soegeord: Value) -> Value {
    json!({
        "attributter": {KEG: [{"brugervendtnoegle": bvn, "titel": "Titel", "soegeord": soegeord,
                               "virkning": v(START, INF)}]},
        "tilstande": {"klassepubliceret": [{"publiceret": "Publiceret", "virkning": v(START, INF)}]},
        "relationer": {"facet": [rel(fixed_uuid(60))]}
    })
}

fn ord(id: &str, beskrivelse: &str, kategori: &str) -> Value {
    json!({"soegeordidentifikator": id, "beskrivelse": beskrivelse, "soegeordskategori": kategori})
}

async fn soegeord_round_trip(s: &Srv) {
    let k = s
        .create(
            KLASSE,
            &klasse(
                "k1",
                json!([
                    ["id1", "beskr 1", "kat1"],
                    ["id2", "beskr 2", "kat2"],
                    ["id3", "b3", "k3"]
                ]),
            ),
        )
        .await;
    let eg = &attr(&s.reg(KLASSE, k, &[]).await, KEG)[0];
    assert_eq!(
        eg["soegeord"],
        json!([
            ord("id1", "beskr 1", "kat1"),
            ord("id2", "beskr 2", "kat2"),
            ord("id3", "b3", "k3")
        ]),
        "{eg}"
    );
    assert_eq!(eg["titel"], "Titel");

    // One triple is stored too.
    let one = s
        .create(KLASSE, &klasse("k2", json!([["solo", "s", "k"]])))
        .await;
    assert_eq!(
        attr(&s.reg(KLASSE, one, &[]).await, KEG)[0]["soegeord"],
        json!([ord("solo", "s", "k")])
    );

    // A PATCH replaces the list for its period only.
    s.ret(
        KLASSE,
        k,
        &json!({"attributter": {KEG: [{"soegeord": [["ny", "n", "kat"]], "virkning": v("2025-01-01", INF)}]}}),
    )
    .await;
    let later = &attr(
        &s.reg(KLASSE, k, &[("virkningstid", "2030-01-01")]).await,
        KEG,
    )[0];
    assert_eq!(later["soegeord"], json!([ord("ny", "n", "kat")]));
    assert_eq!(later["brugervendtnoegle"], "k1");
    let before = &attr(
        &s.reg(KLASSE, k, &[("virkningstid", "2021-01-01")]).await,
        KEG,
    )[0];
    assert_eq!(before["soegeord"].as_array().unwrap().len(), 3);

    // Shape errors name the element.
    s.patch(
        KLASSE,
        k,
        &json!({"attributter": {KEG: [{"soegeord": [["a", "b", "c", "d"]], "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("attributter.klasseegenskaber[0].soegeord[0]");
    s.patch(
        KLASSE,
        k,
        &json!({"attributter": {KEG: [{"soegeord": [["a", 1, "c"]], "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("attributter.klasseegenskaber[0].soegeord[0][1]");
    s.patch(
        KLASSE,
        k,
        &json!({"attributter": {KEG: [{"soegeord": ["a"], "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("attributter.klasseegenskaber[0].soegeord[0]");
    assert_eq!(s.history(KLASSE, k).await.len(), 2);

    // The klasse's facet relation is searchable.
    let mut hits = s
        .search(KLASSE, &[("facet", &fixed_uuid(60).to_string())])
        .await;
    hits.sort();
    let mut want = vec![k, one];
    want.sort();
    assert_eq!(hits, want);
}
both!(soegeord_round_trip);
