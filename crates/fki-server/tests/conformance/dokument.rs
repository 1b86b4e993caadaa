//! Dokument with variants and parts (contract §3.3, §5.6, §4.2).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

fn dokument(bvn: &str, redaktoer: Uuid) -> Value {
    json!({
        "attributter": {"dokumentegenskaber": [{
            "brugervendtnoegle": bvn, "beskrivelse": "b", "brevdato": "2020-02-03",
            "dokumenttype": "notat", "titel": "T", "major": 0, "minor": 1,
            "virkning": v(START, INF)}]},
        "tilstande": {"dokumentfremdrift": [{"fremdrift": "Modtaget", "virkning": v(START, INF)}]},
        "relationer": {"ejer": [rel(fixed_uuid(99))]},
        "varianter": [
            {"varianttekst": "PDF",
             "egenskaber": [{"arkivering": true, "delvisscannet": false, "offentliggoerelse": "true",
                             "produktion": "0", "virkning": v(START, INF)}],
             "dele": [{"deltekst": "kap1",
                       "egenskaber": [{"indeks": 1, "indhold": "urn:indhold:1", "lokation": "arkiv",
                                       "mimetype": "application/pdf", "virkning": v(START, INF)}],
                       "relationer": {"underredigeringaf": [
                           {"urn": "urn:bruger:1", "objekttype": "Bruger", "virkning": v(START, INF)}]}}]},
            {"varianttekst": "ODT",
             "dele": [{"deltekst": "kap1",
                       "relationer": {"underredigeringaf": [
                           {"uuid": redaktoer.to_string(), "virkning": v(START, INF)}]}},
                      {"deltekst": "kap2",
                       "egenskaber": [{"indeks": 2, "mimetype": "text/plain", "virkning": v(START, INF)}]}]}
        ]
    })
}

fn variant<'a>(reg: &'a Value, tekst: &str) -> &'a Value {
    reg["varianter"]
        .as_array()
        .unwrap_or_else(|| panic!("no varianter: {reg:#}"))
        .iter()
        .find(|v| v["varianttekst"] == tekst)
        .unwrap_or_else(|| panic!("no variant {tekst}: {reg:#}"))
}

fn del<'a>(variant: &'a Value, tekst: &str) -> &'a Value {
    variant["dele"]
        .as_array()
        .unwrap_or_else(|| panic!("no dele: {variant:#}"))
        .iter()
        .find(|d| d["deltekst"] == tekst)
        .unwrap_or_else(|| panic!("no part {tekst}: {variant:#}"))
}

async fn varianter_and_dele(s: &Srv) {
    let red = fixed_uuid(50);
    let d = s.create(DOKUMENT, &dokument("dok1", red)).await;
    let plain = s
        .create(
            DOKUMENT,
            &json!({
                "attributter": {"dokumentegenskaber": [{"brugervendtnoegle": "dok2", "virkning": v(START, INF)}]},
                "tilstande": {"dokumentfremdrift": [{"fremdrift": "Modtaget", "virkning": v(START, INF)}]}
            }),
        )
        .await;

    // Read back.
    let reg = s.reg(DOKUMENT, d, &[]).await;
    let eg = &attr(&reg, "dokumentegenskaber")[0];
    assert_eq!(eg["major"], 0, "0 is kept: {eg}");
    assert_eq!(eg["minor"], 1);
    assert_eq!(eg["brevdato"], "2020-02-03");
    assert_eq!(reg["varianter"].as_array().unwrap().len(), 2);
    let pdf = variant(&reg, "PDF");
    let pe = &pdf["egenskaber"][0];
    assert_eq!(pe["arkivering"], true);
    assert_eq!(pe["delvisscannet"], false, "false is kept: {pe}");
    assert_eq!(
        pe["offentliggoerelse"], true,
        "\"true\" is read as a boolean"
    );
    assert_eq!(pe["produktion"], false, "\"0\" is read as false");
    assert_eq!(pe["virkning"]["from"], "2020-01-01 00:00:00+01");
    let k1 = del(pdf, "kap1");
    assert_eq!(k1["egenskaber"][0]["indeks"], 1);
    assert_eq!(k1["egenskaber"][0]["mimetype"], "application/pdf");
    assert_eq!(k1["egenskaber"][0]["indhold"], "urn:indhold:1");
    let ura = &k1["relationer"]["underredigeringaf"][0];
    assert_eq!(ura["urn"], "urn:bruger:1");
    assert_eq!(ura["objekttype"], "Bruger");
    let odt = variant(&reg, "ODT");
    assert_eq!(
        del(odt, "kap1")["relationer"]["underredigeringaf"][0]["uuid"],
        red.to_string()
    );
    assert_eq!(del(odt, "kap2")["egenskaber"][0]["mimetype"], "text/plain");
    assert!(s.reg(DOKUMENT, plain, &[]).await.get("varianter").is_none());

    // PATCH one variant's egenskaber from 2025: merged by period, parts and the other variant kept.
    s.ret(
        DOKUMENT,
        d,
        &json!({"varianter": [{"varianttekst": "PDF",
            "egenskaber": [{"arkivering": false, "virkning": v("2025-01-01", INF)}]}]}),
    )
    .await;
    let all = s.reg(DOKUMENT, d, ALL_VALID).await;
    let pdf = variant(&all, "PDF");
    let eg = pdf["egenskaber"].as_array().unwrap();
    assert_eq!(
        periods(eg, "arkivering"),
        p3(&[
            ("true", "2020-01-01 00:00:00+01", "2025-01-01 00:00:00+01"),
            ("false", "2025-01-01 00:00:00+01", "infinity"),
        ])
    );
    assert_eq!(eg[1]["offentliggoerelse"], true, "merged: {}", eg[1]);
    assert_eq!(del(pdf, "kap1")["egenskaber"][0]["indeks"], 1);
    assert_eq!(variant(&all, "ODT")["dele"].as_array().unwrap().len(), 2);
    assert_eq!(
        variant(
            &s.reg(DOKUMENT, d, &[("virkningstid", "2030-01-01")]).await,
            "PDF"
        )["egenskaber"][0]["arkivering"],
        false
    );
    assert_eq!(s.history(DOKUMENT, d).await.len(), 2);

    // PATCH one part's egenskaber: the other part of the variant stays.
    s.ret(
        DOKUMENT,
        d,
        &json!({"varianter": [{"varianttekst": "ODT", "dele": [{"deltekst": "kap2",
            "egenskaber": [{"mimetype": "text/markdown", "virkning": v("2025-01-01", INF)}]}]}]}),
    )
    .await;
    let all = s.reg(DOKUMENT, d, ALL_VALID).await;
    let odt = variant(&all, "ODT");
    assert_eq!(
        periods(
            del(odt, "kap2")["egenskaber"].as_array().unwrap(),
            "mimetype"
        ),
        p3(&[
            (
                "text/plain",
                "2020-01-01 00:00:00+01",
                "2025-01-01 00:00:00+01"
            ),
            ("text/markdown", "2025-01-01 00:00:00+01", "infinity"),
        ])
    );
    assert_eq!(
        del(odt, "kap1")["relationer"]["underredigeringaf"][0]["uuid"],
        red.to_string()
    );

    // Search by underredigeringaf, narrowed by varianttekst / deltekst.
    let q = |pairs: Vec<(&'static str, String)>| async move {
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.search_sorted(DOKUMENT, &p).await
    };
    let (urn, reds) = ("urn:bruger:1".to_owned(), red.to_string());
    let s_ = |x: &str| x.to_owned();
    assert_eq!(q(vec![("underredigeringaf", urn.clone())]).await, [d]);
    assert_eq!(
        q(vec![
            ("underredigeringaf", urn.clone()),
            ("varianttekst", s_("PDF"))
        ])
        .await,
        [d]
    );
    assert_eq!(
        q(vec![
            ("underredigeringaf", urn.clone()),
            ("varianttekst", s_("ODT"))
        ])
        .await,
        NONE
    );
    assert_eq!(
        q(vec![
            ("underredigeringaf", reds.clone()),
            ("varianttekst", s_("ODT"))
        ])
        .await,
        [d]
    );
    assert_eq!(
        q(vec![
            ("underredigeringaf", reds.clone()),
            ("varianttekst", s_("PDF"))
        ])
        .await,
        NONE
    );
    assert_eq!(
        q(vec![
            ("underredigeringaf", reds.clone()),
            ("varianttekst", s_("ODT")),
            ("deltekst", s_("kap1"))
        ])
        .await,
        [d]
    );
    assert_eq!(
        q(vec![
            ("underredigeringaf", reds.clone()),
            ("varianttekst", s_("ODT")),
            ("deltekst", s_("kap2"))
        ])
        .await,
        NONE
    );
    assert_eq!(
        q(vec![("underredigeringaf:Bruger", urn.clone())]).await,
        [d]
    );
    assert_eq!(
        q(vec![("underredigeringaf:Person", urn.clone())]).await,
        NONE
    );
    assert_eq!(q(vec![("varianttekst", s_("PDF"))]).await, [d]);
    assert_eq!(q(vec![("varianttekst", s_("XLS"))]).await, NONE);
    assert_eq!(q(vec![("vilkaarligrel", reds.clone())]).await, [d]);
    assert_eq!(q(vec![("bvn", s_("dok%"))]).await.len(), 2);
    // Variant and part egenskaber are not search parameters (Ref).
    s.query_raw(DOKUMENT, "arkivering=true").await.expect(400);
    s.query_raw(DOKUMENT, "mimetype=text%2Fplain")
        .await
        .expect(400);

    // Remove one variant by clearing its egenskaber and dele.
    s.ret(
        DOKUMENT,
        d,
        &json!({"varianter": [{"varianttekst": "ODT", "egenskaber": [], "dele": []}]}),
    )
    .await;
    let reg = s.reg(DOKUMENT, d, ALL_VALID).await;
    let names: Vec<&str> = reg["varianter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["varianttekst"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PDF"]);
    assert_eq!(q(vec![("underredigeringaf", reds.clone())]).await, NONE);

    // `"varianter": []` removes them all; other data stays.
    s.ret(DOKUMENT, d, &json!({"varianter": []})).await;
    let reg = s.reg(DOKUMENT, d, ALL_VALID).await;
    assert!(reg.get("varianter").is_none(), "{reg:#}");
    assert_eq!(attr(&reg, "dokumentegenskaber").len(), 1);
    assert_eq!(rels(&reg, "ejer").len(), 1);
    assert_eq!(q(vec![("underredigeringaf", urn)]).await, NONE);
}
both!(varianter_and_dele);
