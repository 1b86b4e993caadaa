//! The two time axes (contract §2.2, §2.3, §4.3, §4.6): valid time (`virkning`) and
//! transaction time (registreringer).

use serde_json::json;

use crate::fixtures::*;
use crate::harness::*;

const EG: &str = "organisationenhedegenskaber";

/// A change effective in the future: today's read still shows the old value.
async fn future_change(s: &Srv) {
    let u = s.create(ENHED, &enhed("e1", "Gammel")).await;
    s.ret(ENHED, u, &navn_patch("Ny", "2030-01-01", INF)).await;

    let now = s.reg(ENHED, u, &[]).await;
    assert_eq!(now["livscykluskode"], "Rettet");
    let eg = attr(&now, EG);
    assert_eq!(
        periods(&eg, "enhedsnavn"),
        p3(&[("Gammel", "2020-01-01 00:00:00+01", "2030-01-01 00:00:00+01")])
    );
    assert_eq!(eg[0]["brugervendtnoegle"], "e1");

    let later = s.reg(ENHED, u, &[("virkningstid", "2031-01-01")]).await;
    let eg = attr(&later, EG);
    assert_eq!(
        periods(&eg, "enhedsnavn"),
        p3(&[("Ny", "2030-01-01 00:00:00+01", "infinity")])
    );
    // The partial update kept the fields it did not mention.
    assert_eq!(eg[0]["brugervendtnoegle"], "e1");

    let all = s.reg(ENHED, u, ALL_VALID).await;
    let eg = attr(&all, EG);
    assert_eq!(
        periods(&eg, "enhedsnavn"),
        p3(&[
            ("Gammel", "2020-01-01 00:00:00+01", "2030-01-01 00:00:00+01"),
            ("Ny", "2030-01-01 00:00:00+01", "infinity"),
        ])
    );
    for e in &eg {
        assert_eq!(e["brugervendtnoegle"], "e1");
        assert_eq!(e["virkning"]["from_included"], true);
        assert_eq!(e["virkning"]["to_included"], false);
    }
    // The state was not touched.
    assert_eq!(
        periods(&state(&all, "organisationenhedgyldighed"), "gyldighed"),
        p3(&[("Aktiv", "2020-01-01 00:00:00+01", "infinity")])
    );

    // Windows: entirely after the change, straddling it, and ending exactly at it (half-open).
    let names = |reg: &serde_json::Value| -> Vec<String> {
        periods(&attr(reg, EG), "enhedsnavn")
            .into_iter()
            .map(|p| p.0)
            .collect()
    };
    let w = s
        .reg(
            ENHED,
            u,
            &[("virkningFra", "2035-01-01"), ("virkningTil", "2036-01-01")],
        )
        .await;
    assert_eq!(names(&w), ["Ny"]);
    let w = s
        .reg(
            ENHED,
            u,
            &[("virkningFra", "2029-12-31"), ("virkningTil", "2030-01-02")],
        )
        .await;
    assert_eq!(names(&w), ["Gammel", "Ny"]);
    let w = s
        .reg(
            ENHED,
            u,
            &[("virkningFra", "2029-01-01"), ("virkningTil", "2030-01-01")],
        )
        .await;
    assert_eq!(names(&w), ["Gammel"]);
}
both!(future_change);

/// A retroactive correction of a past period; the earlier registrering keeps the old value.
async fn retroactive_correction(s: &Srv) {
    let u = s.create(ENHED, &enhed("r1", "A")).await;
    tick().await;
    let before = now_literal();
    tick().await;
    s.ret(ENHED, u, &navn_patch("B", "2021-01-01", "2022-01-01"))
        .await;

    let name_at = |t: &'static str| async move {
        let reg = s.reg(ENHED, u, &[("virkningstid", t)]).await;
        periods(&attr(&reg, EG), "enhedsnavn")
            .into_iter()
            .map(|p| p.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(name_at("2021-06-01").await, ["B"]);
    assert_eq!(name_at("2021-12-31T23:59:59").await, ["B"]);
    assert_eq!(name_at("2021-01-01").await, ["B"]);
    assert_eq!(name_at("2020-12-31T23:59:59").await, ["A"]);
    assert_eq!(name_at("2020-06-01").await, ["A"]);
    assert_eq!(name_at("2022-01-01").await, ["A"], "'to' is exclusive");
    assert_eq!(name_at("2025-01-01").await, ["A"]);
    let today = s.reg(ENHED, u, &[]).await;
    assert_eq!(periods(&attr(&today, EG), "enhedsnavn")[0].0, "A");

    let all = s.reg(ENHED, u, ALL_VALID).await;
    assert_eq!(
        periods(&attr(&all, EG), "enhedsnavn"),
        p3(&[
            ("A", "2020-01-01 00:00:00+01", "2021-01-01 00:00:00+01"),
            ("B", "2021-01-01 00:00:00+01", "2022-01-01 00:00:00+01"),
            ("A", "2022-01-01 00:00:00+01", "infinity"),
        ])
    );

    // As registered before the correction: the uncorrected value, in the first registrering.
    let old = s
        .reg(
            ENHED,
            u,
            &[
                ("registreringstid", &before),
                ("virkningstid", "2021-06-01"),
            ],
        )
        .await;
    assert_eq!(old["livscykluskode"], "Opstaaet");
    assert_eq!(
        periods(&attr(&old, EG), "enhedsnavn"),
        p3(&[("A", "2020-01-01 00:00:00+01", "infinity")])
    );
    let old_all = s
        .reg(
            ENHED,
            u,
            &[
                ("registreringstid", &before),
                ("virkningFra", "-infinity"),
                ("virkningTil", "infinity"),
            ],
        )
        .await;
    assert_eq!(attr(&old_all, EG).len(), 1);
}
both!(retroactive_correction);

/// "As registered at T" versus "as registered now", registrering windows and the chain of
/// transaction-time bounds.
async fn as_registered_at(s: &Srv) {
    let before_create = now_literal();
    tick().await;
    let u = s.create(ENHED, &enhed("t", "N1")).await;
    tick().await;
    let t1 = now_literal();
    tick().await;
    s.ret(ENHED, u, &navn_patch("N2", START, INF)).await;
    tick().await;
    let t2 = now_literal();
    tick().await;
    s.ret(ENHED, u, &navn_patch("N3", START, INF)).await;

    let name = |reg: &serde_json::Value| -> String {
        attr(reg, EG)[0]["enhedsnavn"]
            .as_str()
            .unwrap_or("-")
            .to_owned()
    };
    let names = |regs: &[serde_json::Value]| -> Vec<String> { regs.iter().map(name).collect() };

    let at1 = s.reg(ENHED, u, &[("registreringstid", &t1)]).await;
    assert_eq!(name(&at1), "N1");
    assert_eq!(at1["livscykluskode"], "Opstaaet");
    assert_eq!(at1["note"], "oprettet");
    assert_ne!(at1["tiltidspunkt"]["tidsstempeldatotid"], "infinity");
    let t1_parsed = parse_iso(&json!(t1));
    assert!(parse_iso(&at1["fratidspunkt"]["tidsstempeldatotid"]) < t1_parsed);
    assert!(parse_iso(&at1["tiltidspunkt"]["tidsstempeldatotid"]) > t1_parsed);

    let at2 = s.reg(ENHED, u, &[("registreringstid", &t2)]).await;
    assert_eq!(name(&at2), "N2");
    assert_eq!(at2["livscykluskode"], "Rettet");

    let current = s.reg(ENHED, u, &[]).await;
    assert_eq!(name(&current), "N3");
    assert_eq!(current["tiltidspunkt"]["tidsstempeldatotid"], "infinity");
    assert_eq!(current["fratidspunkt"]["graenseindikator"], true);
    assert_eq!(current["brugerref"], "42c432e8-9c4a-11e6-9f62-873cf34a735f");

    // Windows: newest first.
    let w = s
        .regs(
            ENHED,
            u,
            &[("registreretFra", &t1), ("registreretTil", &t2)],
        )
        .await;
    assert_eq!(names(&w), ["N2", "N1"]);
    let w = s.regs(ENHED, u, &[("registreretFra", &t2)]).await;
    assert_eq!(names(&w), ["N3", "N2"]);
    let w = s.regs(ENHED, u, &[("registreretTil", &t1)]).await;
    assert_eq!(names(&w), ["N1"]);

    let all = s
        .regs(
            ENHED,
            u,
            &[
                ("registreretFra", "-infinity"),
                ("registreretTil", "infinity"),
            ],
        )
        .await;
    assert_eq!(names(&all), ["N3", "N2", "N1"]);
    let codes: Vec<&str> = all
        .iter()
        .map(|r| r["livscykluskode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["Rettet", "Rettet", "Opstaaet"]);
    assert_eq!(all[0]["tiltidspunkt"]["tidsstempeldatotid"], "infinity");
    for pair in all.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        assert_eq!(
            older["tiltidspunkt"]["tidsstempeldatotid"],
            newer["fratidspunkt"]["tidsstempeldatotid"],
            "each registrering ends where the next begins"
        );
        assert!(
            parse_iso(&older["fratidspunkt"]["tidsstempeldatotid"])
                < parse_iso(&newer["fratidspunkt"]["tidsstempeldatotid"])
        );
    }
    // t1 and t2 fall between the writes.
    assert!(parse_iso(&all[1]["fratidspunkt"]["tidsstempeldatotid"]) > t1_parsed);
    assert!(parse_iso(&all[1]["fratidspunkt"]["tidsstempeldatotid"]) < parse_iso(&json!(t2)));

    // After a delete, a window whose latest registrering is Slettet is 410; one before it, 200.
    tick().await;
    let t3 = now_literal();
    tick().await;
    s.delete(ENHED, u).await.expect(202);
    s.read(
        ENHED,
        u,
        &[
            ("registreretFra", "-infinity"),
            ("registreretTil", "infinity"),
        ],
    )
    .await
    .expect(410);
    let w = s.regs(ENHED, u, &[("registreretTil", &t3)]).await;
    assert_eq!(names(&w), ["N3", "N2", "N1"]);

    // Before the object existed there is no registrering: 404.
    s.read(ENHED, u, &[("registreringstid", &before_create)])
        .await
        .expect(404);
}
both!(as_registered_at);

/// Time parameters that conflict or do not parse are refused (contract §4.3, §1.2).
async fn time_parameter_errors(s: &Srv) {
    let u = s.create(ENHED, &enhed("tp", "X")).await;
    for q in [
        &[
            ("virkningstid", "2021-01-01"),
            ("virkningFra", "2020-01-01"),
        ][..],
        &[
            ("virkningstid", "2021-01-01"),
            ("virkningTil", "2022-01-01"),
        ],
        &[
            ("registreringstid", "2021-01-01"),
            ("registreretFra", "2020-01-01"),
        ],
        &[
            ("registreringstid", "2021-01-01"),
            ("registreretTil", "2020-01-01"),
        ],
        &[("virkningFra", "2022-01-01"), ("virkningTil", "2021-01-01")],
        &[("virkningstid", "not a time")],
        &[("registreretFra", "2021-13-45")],
        &[("bogus", "1")],
    ] {
        let r = s.read(ENHED, u, q).await.expect(400);
        assert!(!r.message().is_empty());
        let r = s
            .get(&format!("/{ENHED}{}&bvn=tp", qs(q)))
            .await
            .expect(400);
        assert!(!r.message().is_empty());
    }
}
both!(time_parameter_errors);

/// Zone-less literals are Europe/Copenhagen time, and output uses Copenhagen offsets.
async fn copenhagen_time(s: &Srv) {
    let body = json!({
        "attributter": {EG: [
            {"brugervendtnoegle": "cph", "enhedsnavn": "Vinter", "virkning": v("2020-01-01", "2020-06-01T10:00:00Z")},
            {"brugervendtnoegle": "cph", "enhedsnavn": "Sommer", "virkning": v("2020-06-01T10:00:00Z", "2030-01-01 00:00:00+01")},
            {"brugervendtnoegle": "cph", "enhedsnavn": "Fremtid", "virkning": v("2030-01-01T00:00:00+01:00", INF)}
        ]},
        "tilstande": {"organisationenhedgyldighed": [{"gyldighed": "Aktiv", "virkning": v("-infinity", INF)}]}
    });
    let u = s.create(ENHED, &body).await;
    let all = s.reg(ENHED, u, ALL_VALID).await;
    assert_eq!(
        periods(&attr(&all, EG), "enhedsnavn"),
        p3(&[
            ("Vinter", "2020-01-01 00:00:00+01", "2020-06-01 12:00:00+02"),
            ("Sommer", "2020-06-01 12:00:00+02", "2030-01-01 00:00:00+01"),
            ("Fremtid", "2030-01-01 00:00:00+01", "infinity"),
        ])
    );
    assert_eq!(
        periods(&state(&all, "organisationenhedgyldighed"), "gyldighed"),
        p3(&[("Aktiv", "-infinity", "infinity")])
    );
    // 2029-12-31T23:30Z is 00:30 on 2030-01-01 in Copenhagen.
    let at = |t: &'static str| async move {
        let reg = s.reg(ENHED, u, &[("virkningstid", t)]).await;
        attr(&reg, EG)[0]["enhedsnavn"].as_str().unwrap().to_owned()
    };
    assert_eq!(at("2029-12-31T23:30:00Z").await, "Fremtid");
    assert_eq!(at("2029-12-31T22:59:59Z").await, "Sommer");
    assert_eq!(at("2029-12-31T23:59:59").await, "Sommer");
    assert_eq!(at("2020-06-01T11:59:59").await, "Vinter");
    assert_eq!(at("2020-06-01T12:00:00").await, "Sommer");
}
both!(copenhagen_time);

/// `virkning` metadata round trip: `aktoerref`, `aktoertypekode` and `notetekst` (stored on
/// attributes too, a deliberate deviation) and honoured `from_included`/`to_included`.
async fn virkning_metadata(s: &Srv) {
    let aktoer = fixed_uuid(77);
    let body = json!({
        "attributter": {EG: [{"brugervendtnoegle": "vm", "enhedsnavn": "M", "virkning": {
            "from": "2020-01-01", "to": "2021-01-01", "from_included": false, "to_included": true,
            "aktoerref": aktoer.to_string(), "aktoertypekode": "Bruger", "notetekst": "attribut-note"
        }}]},
        "tilstande": {"organisationenhedgyldighed": [{"gyldighed": "Aktiv", "virkning": {
            "from": "2020-01-01", "to": "infinity", "from_included": true, "to_included": false,
            "notetekst": "tilstand-note"
        }}]},
        "relationer": {"tilhoerer": [{"urn": "urn:dk:kommune:101", "virkning": {
            "from": "2020-01-01", "to": "infinity", "notetekst": "relation-note"
        }}]}
    });
    let u = s.create(ENHED, &body).await;
    let reg = s.reg(ENHED, u, ALL_VALID).await;
    let a = &attr(&reg, EG)[0]["virkning"];
    assert_eq!(
        a,
        &json!({
            "from": "2020-01-01 00:00:00.000001+01", "from_included": true,
            "to": "2021-01-01 00:00:00.000001+01", "to_included": false,
            "aktoerref": aktoer.to_string(), "aktoertypekode": "Bruger", "notetekst": "attribut-note"
        })
    );
    assert_eq!(
        state(&reg, "organisationenhedgyldighed")[0]["virkning"]["notetekst"],
        "tilstand-note"
    );
    assert_eq!(
        state(&reg, "organisationenhedgyldighed")[0]["virkning"]["from"],
        "2020-01-01 00:00:00+01"
    );
    let r = &rels(&reg, "tilhoerer")[0];
    assert_eq!(r["urn"], "urn:dk:kommune:101");
    assert_eq!(r["virkning"]["notetekst"], "relation-note");
    // The first microsecond of 2020 is outside the attribute's period; the first of 2021 inside.
    let first = s
        .reg(ENHED, u, &[("virkningstid", "2020-01-01T00:00:00+01:00")])
        .await;
    assert!(attr(&first, EG).is_empty(), "{first:#}");
    let last = s
        .reg(ENHED, u, &[("virkningstid", "2021-01-01T00:00:00+01:00")])
        .await;
    assert_eq!(attr(&last, EG).len(), 1);
}
both!(virkning_metadata);

/// `konsolider` joins touching equal periods, also without an explicit window (a deliberate
/// deviation: LoRa needs virkningFra and virkningTil).
async fn konsolider(s: &Srv) {
    let body = json!({
        "attributter": {EG: [
            {"brugervendtnoegle": "k", "enhedsnavn": "K", "virkning": v("2020-01-01", "2021-01-01")},
            {"brugervendtnoegle": "k", "enhedsnavn": "K", "virkning": v("2021-01-01", "2022-01-01")},
            {"brugervendtnoegle": "k", "enhedsnavn": "L", "virkning": v("2022-01-01", INF)}
        ]},
        "tilstande": {"organisationenhedgyldighed": [
            {"gyldighed": "Aktiv", "virkning": v("2020-01-01", "2021-01-01")},
            {"gyldighed": "Aktiv", "virkning": v("2021-01-01", INF)}
        ]}
    });
    let u = s.create(ENHED, &body).await;
    let plain = s.reg(ENHED, u, ALL_VALID).await;
    assert_eq!(attr(&plain, EG).len(), 3);
    assert_eq!(state(&plain, "organisationenhedgyldighed").len(), 2);

    let mut q = ALL_VALID.to_vec();
    q.push(("konsolider", ""));
    let k = s.reg(ENHED, u, &q).await;
    assert_eq!(
        periods(&attr(&k, EG), "enhedsnavn"),
        p3(&[
            ("K", "2020-01-01 00:00:00+01", "2022-01-01 00:00:00+01"),
            ("L", "2022-01-01 00:00:00+01", "infinity"),
        ])
    );
    assert_eq!(
        periods(&state(&k, "organisationenhedgyldighed"), "gyldighed"),
        p3(&[("Aktiv", "2020-01-01 00:00:00+01", "infinity")])
    );
    // Without a window: the consolidated entries valid now.
    let k_now = s.reg(ENHED, u, &[("konsolider", "1")]).await;
    assert_eq!(
        periods(&state(&k_now, "organisationenhedgyldighed"), "gyldighed"),
        p3(&[("Aktiv", "2020-01-01 00:00:00+01", "infinity")])
    );
    assert_eq!(
        periods(&attr(&k_now, EG), "enhedsnavn"),
        p3(&[("L", "2022-01-01 00:00:00+01", "infinity")])
    );
    // A window inside the joined period shows it whole.
    let k_2020 = s
        .reg(
            ENHED,
            u,
            &[("virkningstid", "2020-06-01"), ("konsolider", "")],
        )
        .await;
    assert_eq!(
        periods(&attr(&k_2020, EG), "enhedsnavn"),
        p3(&[("K", "2020-01-01 00:00:00+01", "2022-01-01 00:00:00+01")])
    );
}
both!(konsolider);
