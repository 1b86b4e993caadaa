//! List (contract §1.2, §1.3, §4.1): `?uuid=A&uuid=B`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

fn ids(body: &Value) -> Vec<String> {
    let outer = body["results"].as_array().expect("results array");
    assert_eq!(outer.len(), 1, "results nest one array: {body}");
    outer[0]
        .as_array()
        .expect("inner array")
        .iter()
        .map(|o| o["id"].as_str().expect("object id").to_owned())
        .collect()
}

async fn list_objects(s: &Srv) {
    let (lo, mid, hi) = (fixed_uuid(1), fixed_uuid(0x800), fixed_uuid(0xfff));
    // Created in an order different from the UUID order.
    for (u, bvn) in [(hi, "hi"), (lo, "lo"), (mid, "mid")] {
        s.import(ENHED, u, &enhed(bvn, bvn)).await.expect(200);
    }
    let bruger = s
        .create(
            BRUGER,
            &json!({
                "attributter": {"brugeregenskaber": [{"brugervendtnoegle": "b", "virkning": v(START, INF)}]},
                "tilstande": {"brugergyldighed": [{"gyldighed": "Aktiv", "virkning": v(START, INF)}]}
            }),
        )
        .await;

    let r = s
        .query_raw(ENHED, &format!("uuid={hi}&uuid={lo}"))
        .await
        .expect(200);
    assert_eq!(ids(&r.body), [lo.to_string(), hi.to_string()]);
    let objs = r.body["results"][0].as_array().unwrap();
    let reg = &objs[0]["registreringer"][0];
    assert_eq!(reg["livscykluskode"], "Importeret");
    assert_eq!(
        attr(reg, "organisationenhedegenskaber")[0]["brugervendtnoegle"],
        "lo"
    );

    // Unknown UUIDs, duplicates and another class's objects are left out.
    let r = s
        .query_raw(
            ENHED,
            &format!(
                "uuid={hi}&uuid={}&uuid={mid}&uuid={lo}&uuid={lo}&uuid={bruger}",
                Uuid::new_v4()
            ),
        )
        .await
        .expect(200);
    assert_eq!(
        ids(&r.body),
        [lo.to_string(), mid.to_string(), hi.to_string()]
    );

    // Nothing found: no inner array.
    let r = s
        .query_raw(ENHED, &format!("uuid={}", Uuid::new_v4()))
        .await
        .expect(200);
    assert_eq!(r.body, json!({"results": []}));
    let r = s.get(&format!("/{ENHED}")).await.expect(200);
    assert_eq!(r.body, json!({"results": []}));
    // A search without hits: one empty inner array.
    let r = s.query_raw(ENHED, "bvn=ingen").await.expect(200);
    assert_eq!(r.body, json!({"results": [[]]}));

    // Time parameters apply to every listed object.
    let r = s
        .query_raw(
            ENHED,
            &format!("uuid={lo}&uuid={hi}&virkningstid=2019-06-01"),
        )
        .await
        .expect(200);
    for o in r.body["results"][0].as_array().unwrap() {
        assert!(
            attr(&o["registreringer"][0], "organisationenhedegenskaber").is_empty(),
            "nothing valid in 2019: {o}"
        );
    }
    s.ret(ENHED, lo, &navn_patch("lo2", START, INF)).await;
    let r = s
        .query_raw(
            ENHED,
            &format!("uuid={lo}&uuid={hi}&registreretFra=-infinity&registreretTil=infinity"),
        )
        .await
        .expect(200);
    let counts: Vec<usize> = r.body["results"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["registreringer"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [2, 1]);

    // Refused: malformed UUID, unknown parameter.
    s.query_raw(ENHED, "uuid=nope").await.expect(400);
    s.query_raw(ENHED, &format!("uuid={lo}&virkningstid=x"))
        .await
        .expect(400);

    // A deleted object makes the list 410, wherever it sorts (Doc).
    tick().await;
    let before_delete = now_literal();
    tick().await;
    s.delete(ENHED, hi).await.expect(202);
    s.query_raw(ENHED, &format!("uuid={lo}&uuid={hi}"))
        .await
        .expect(410);
    s.query_raw(ENHED, &format!("uuid={hi}&uuid={mid}&uuid={lo}"))
        .await
        .expect(410);
    s.query_raw(ENHED, &format!("uuid={hi}")).await.expect(410);
    // Search with `list` finding a deleted object: 410 as for list.
    s.query_raw(ENHED, "bvn=hi&livscykluskode=Slettet&list=1")
        .await
        .expect(410);
    // Without it, the others still list.
    let r = s
        .query_raw(ENHED, &format!("uuid={mid}&uuid={lo}"))
        .await
        .expect(200);
    assert_eq!(ids(&r.body), [lo.to_string(), mid.to_string()]);
    // A deleted object's past is listable.
    let r = s
        .query_raw(
            ENHED,
            &format!("uuid={hi}&uuid={lo}&registreringstid={before_delete}"),
        )
        .await
        .expect(200);
    assert_eq!(ids(&r.body), [lo.to_string(), hi.to_string()]);
}
both!(list_objects);
