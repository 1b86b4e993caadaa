//! Every class of the table, driven by its own self-description (`/fields`): a body with every
//! field, state and relation is created, read back, searched by each criterion, changed and
//! deleted. This ties `/fields` to the behaviour of the class routes.

use serde_json::{Map, Value, json};

use crate::fixtures::*;
use crate::harness::*;

/// A value of the `/fields` metadata type, and the value expected back (None: only presence).
fn sample(name: &str, typ: &str) -> (Value, Option<Value>) {
    match typ {
        "text" => {
            let v = json!(format!("{name}-værdi"));
            (v.clone(), Some(v))
        }
        "boolean" => (json!(false), Some(json!(false))),
        "int" => (json!(0), Some(json!(0))),
        "date" => (json!("2020-02-29"), Some(json!("2020-02-29"))),
        "timestamptz" => (json!("2020-06-01 12:00:00+02"), None),
        "interval(0)" => (json!("2 hours"), None),
        "text[]" => (json!(["a", "b"]), Some(json!(["a", "b"]))),
        "soegeord" => (
            json!([["i", "b", "k"]]),
            Some(
                json!([{"soegeordidentifikator": "i", "beskrivelse": "b", "soegeordskategori": "k"}]),
            ),
        ),
        "offentlighedundtagettype" => {
            let v = json!({"alternativtitel": "a", "hjemmel": "h"});
            (v.clone(), Some(v))
        }
        other => panic!("unknown field type {other} of {name}"),
    }
}

/// `(state, values)` from either `/fields` form.
fn states(fields: &Value) -> Vec<(String, Vec<String>)> {
    let vals = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    match &fields["tilstande"] {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), vals(v))).collect(),
        Value::Array(pairs) => pairs
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), vals(&p[1])))
            .collect(),
        other => panic!("tilstande: {other}"),
    }
}

async fn every_class_round_trip(s: &Srv) {
    let target = fixed_uuid(0xabc);
    for c in fki_oio::spec::classes() {
        let cls = format!("{}/{}", c.service, c.name);
        let fields = s.get(&format!("/{cls}/fields")).await.expect(200).body;

        // One entry with every field.
        let mut entry = Map::new();
        let mut expect: Vec<(String, Option<Value>)> = Vec::new();
        let names = fields["attributter"]["egenskaber"].as_array().unwrap();
        let meta = &fields["attributter_metadata"]["egenskaber"];
        for n in names {
            let n = n.as_str().unwrap();
            let typ = meta[n]["type"].as_str().unwrap_or("text");
            let (v, back) = sample(n, typ);
            entry.insert(n.to_owned(), v);
            expect.push((n.to_owned(), back));
        }
        entry.insert("virkning".into(), v(START, INF));
        let eg_key = format!("{}egenskaber", c.name);
        let mut body = json!({"attributter": {eg_key.clone(): [Value::Object(entry.clone())]}});
        let sts = states(&fields);
        if !sts.is_empty() {
            let mut t = Map::new();
            for (st, values) in &sts {
                t.insert(
                    format!("{}{st}", c.name),
                    json!([{st.clone(): values[0].clone(), "virkning": v(START, INF)}]),
                );
            }
            body["tilstande"] = Value::Object(t);
        }
        let rel_meta = &fields["relationer_metadata"];
        let mut rels_in = Map::new();
        let mut plain_rels = Vec::new();
        for card in ["relationer_nul_til_en", "relationer_nul_til_mange"] {
            for r in fields[card].as_array().unwrap() {
                let r = r.as_str().unwrap();
                let m = &rel_meta[r];
                let mut e = json!({"objekttype": "test", "virkning": v(START, INF)});
                if m.get("tilstandsvaerdiattr").is_some() {
                    e["tilstandsvaerdiattr"] = json!({"forventet": false, "nominelvaerdi": "5"});
                } else {
                    e["uuid"] = json!(target.to_string());
                    plain_rels.push(r.to_owned());
                }
                if m.get("journalpostkode").is_some() {
                    e["journalpostkode"] = json!("journalnotat");
                }
                if m.get("aktoerattr").is_some() {
                    e["aktoerattr"] = json!({"accepteret": "accepteret", "obligatorisk": "valgfri",
                                             "repraesentation_uuid": target.to_string()});
                }
                rels_in.insert(r.to_owned(), json!([e]));
            }
        }
        if !rels_in.is_empty() {
            body["relationer"] = Value::Object(rels_in.clone());
        }

        let u = s.create(&cls, &body).await;
        let reg = s.reg(&cls, u, &[]).await;
        assert_eq!(reg["livscykluskode"], "Opstaaet", "{cls}");
        let got = &attr(&reg, &eg_key);
        assert_eq!(got.len(), 1, "{cls}: {reg:#}");
        for (n, back) in &expect {
            match back {
                Some(want) => assert_eq!(&got[0][n], want, "{cls}.{n}: {}", got[0]),
                None => assert!(got[0].get(n).is_some(), "{cls}.{n} missing: {}", got[0]),
            }
        }
        for (st, values) in &sts {
            let key = format!("{}{st}", c.name);
            assert_eq!(state(&reg, &key)[0][st.as_str()], values[0], "{cls}.{st}");
        }
        for (r, sent) in &rels_in {
            let out = rels(&reg, r);
            assert_eq!(out.len(), 1, "{cls}.{r}: {reg:#}");
            assert_eq!(out[0]["objekttype"], "test", "{cls}.{r}");
            for k in ["uuid", "tilstandsvaerdiattr", "aktoerattr"] {
                assert_eq!(out[0].get(k), sent[0].get(k), "{cls}.{r}.{k}");
            }
            if sent[0].get("journalpostkode").is_some() {
                assert_eq!(out[0]["reltypespec"], "journalnotat", "{cls}.{r}");
            }
            if rel_meta[r.as_str()].get("indeks").is_some() {
                assert_eq!(out[0]["indeks"], 1, "{cls}.{r}");
            }
        }

        // Searchable by a text attribute, each state and each relation.
        let first_text = expect
            .iter()
            .find(|(_, b)| b.as_ref().is_some_and(Value::is_string))
            .map(|(n, b)| (n.clone(), b.clone().unwrap()))
            .unwrap();
        let want = [u];
        assert_eq!(
            s.search(&cls, &[(&first_text.0, first_text.1.as_str().unwrap())])
                .await,
            want,
            "{cls} by {}",
            first_text.0
        );
        for (st, values) in &sts {
            assert_eq!(
                s.search(&cls, &[(st, &values[0])]).await,
                want,
                "{cls}.{st}"
            );
            if values.len() > 1 {
                assert_eq!(
                    s.search(&cls, &[(st, &values[1])]).await,
                    NONE,
                    "{cls}.{st}"
                );
            }
        }
        let ts = target.to_string();
        for r in &plain_rels {
            assert_eq!(s.search(&cls, &[(r, &ts)]).await, want, "{cls}.{r}");
            assert_eq!(
                s.search(&cls, &[(&format!("{r}:test"), &ts)]).await,
                want,
                "{cls}.{r}:test"
            );
        }
        if !plain_rels.is_empty() {
            assert_eq!(
                s.search(&cls, &[("vilkaarligrel", &ts)]).await,
                want,
                "{cls}"
            );
        }

        // Change a state (or, without states, an attribute) from 2030; then delete.
        let change = match sts.first() {
            Some((st, values)) => {
                json!({"tilstande": {format!("{}{st}", c.name): [
                    {st.clone(): values.last().unwrap().clone(), "virkning": v("2030-01-01", INF)}]}})
            }
            None => json!({"attributter": {eg_key.clone(): [
                {first_text.0.clone(): "ændret", "virkning": v("2030-01-01", INF)}]}}),
        };
        s.ret(&cls, u, &change).await;
        let regs = s.history(&cls, u).await;
        assert_eq!(regs.len(), 2, "{cls}");
        assert_eq!(regs[0]["livscykluskode"], "Rettet");
        s.delete(&cls, u).await.expect(202);
        s.read(&cls, u, &[]).await.expect(410);
        assert_eq!(
            s.search(&cls, &[(&first_text.0, first_text.1.as_str().unwrap())])
                .await,
            NONE,
            "{cls}"
        );
    }
}
both!(every_class_round_trip);

/// Tilstand `tilstandsvaerdi` entries carry no target; one with only `objekttype` is still an
/// entry (contract §3.2: `tilstandsvaerdiattr` is optional).
async fn tilstandsvaerdi_without_attr(s: &Srv) {
    let body = json!({
        "attributter": {"tilstandegenskaber": [{"brugervendtnoegle": "tv", "virkning": v(START, INF)}]},
        "tilstande": {
            "tilstandstatus": [{"status": "Aktiv", "virkning": v(START, INF)}],
            "tilstandpubliceret": [{"publiceret": "Normal", "virkning": v(START, INF)}]
        },
        "relationer": {"tilstandsvaerdi": [
            {"objekttype": "måling", "virkning": v(START, INF)},
            {"tilstandsvaerdiattr": {"forventet": true, "nominelvaerdi": "7"}, "virkning": v(START, INF)}
        ]}
    });
    let u = s.create("tilstand/tilstand", &body).await;
    let tv = rels(&s.reg("tilstand/tilstand", u, &[]).await, "tilstandsvaerdi");
    assert_eq!(tv.len(), 2, "{tv:#?}");
    assert_eq!(tv[0]["objekttype"], "måling");
    assert_eq!(tv[0]["indeks"], 1);
    assert_eq!(tv[1]["tilstandsvaerdiattr"]["nominelvaerdi"], "7");
    assert_eq!(tv[1]["indeks"], 2);
    // uuid/urn are refused on tilstandsvaerdi.
    s.patch(
        "tilstand/tilstand",
        u,
        &json!({"relationer": {"tilstandsvaerdi": [{"uuid": fixed_uuid(1).to_string(), "virkning": v(START, INF)}]}}),
    )
    .await
    .expect_invalid("relationer.tilstandsvaerdi[0].uuid");
}
both!(tilstandsvaerdi_without_attr);

/// Log events: no brugervendtnoegle; a state value with a space.
async fn loghaendelse(s: &Srv) {
    let body = json!({
        "attributter": {"loghaendelseegenskaber": [{"tidspunkt": "2021-02-03T04:05:06", "service": "organisation",
            "operation": "ret", "virkning": v(START, INF)}]},
        "tilstande": {"loghaendelsegyldighed": [{"gyldighed": "Ikke rettet", "virkning": v(START, INF)}]}
    });
    let u = s.create("log/loghaendelse", &body).await;
    assert_eq!(
        s.search_raw("log/loghaendelse", "gyldighed=Ikke%20rettet")
            .await,
        [u]
    );
    assert_eq!(
        s.search_raw("log/loghaendelse", "gyldighed=Ikke+rettet")
            .await,
        [u]
    );
    assert_eq!(
        s.search_raw("log/loghaendelse", "operation=RET&service=org%25")
            .await,
        [u]
    );
    s.query_raw("log/loghaendelse", "gyldighed=Ikke")
        .await
        .expect(400);
    // Create requires tidspunkt.
    s.post(
        "/log/loghaendelse",
        &json!({
            "attributter": {"loghaendelseegenskaber": [{"service": "x", "virkning": v(START, INF)}]},
            "tilstande": {"loghaendelsegyldighed": [{"gyldighed": "Rettet", "virkning": v(START, INF)}]}
        }),
    )
    .await
    .expect_invalid("attributter.loghaendelseegenskaber[0].tidspunkt");
}
both!(loghaendelse);
