//! OrganisationHent over GraphQL (issue 5 item 7), on a secure server over real TLS with
//! holder-of-key tokens: the required headers, the token and agreement checks, tenancy, the
//! three queries of the issue (`organisation`, `organisationEnhed`, `organisationEnhedListe`
//! with pages of at most 500) and `bruger`/`brugerListe`, against data written through the
//! engine as LoRa JSON (the same data the SOAP and REST front doors serve).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use fki_oio::json::{Mode, parse_write};
use fki_oio::store::Scope;
use fki_oio::{Kontekst, Skriv, spec};
use fki_server::sts::{ENTITY_KLASSIFIKATION, ENTITY_ORGANISATION};
use fki_server::{Config, ServerHandle};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use serde_json::{Value, json};
use uuid::Uuid;

const CVR_A: &str = "11111111";
const CVR_B: &str = "22222222";
/// Units below the root besides the two special ones: enough for more than one page.
const ENHEDER: usize = 600;

struct Env {
    handle: Option<ServerHandle>,
    _dir: tempfile::TempDir,
    https_addr: SocketAddr,
}

struct System {
    uuid: Uuid,
    cert: Issued,
    cvr: &'static str,
}

fn v() -> Value {
    json!({"from": "2020-01-01T00:00:00+01:00", "to": "infinity"})
}

fn rel(u: Uuid) -> Value {
    json!([{"uuid": u.to_string(), "virkning": v()}])
}

fn gyldighed(klasse: &str, aktiv: bool) -> Value {
    json!({format!("{klasse}gyldighed"): [{"gyldighed": if aktiv {"Aktiv"} else {"Inaktiv"}, "virkning": v()}]})
}

fn egenskaber(klasse: &str, felter: Value) -> Value {
    let mut f = felter;
    f["virkning"] = v();
    json!({format!("{klasse}egenskaber"): [f]})
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let handle = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), None))
            .await
            .unwrap();
        Env {
            https_addr: handle.https_addr.unwrap(),
            handle: Some(handle),
            _dir: dir,
        }
    }

    fn h(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h.shutdown()).await;
        }
    }

    /// A system with agreements for `services`; with the `SeNavn` and `SeCPR-nummer` data
    /// limitations when `persondata`.
    async fn system(
        &self,
        name: &str,
        cvr: &'static str,
        services: &[&str],
        persondata: bool,
    ) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        let afgr = |navn: &str| fki_store::adgang::Dataafgraensning {
            navn: navn.into(),
            vaerdi: "true".into(),
        };
        for s in services {
            let d = if persondata {
                vec![afgr("SeNavn"), afgr("SeCPR-nummer")]
            } else {
                vec![]
            };
            common::active_agreement(st.adgang.as_ref(), uuid, s, cvr, vec![], d).await;
        }
        System { uuid, cert, cvr }
    }

    fn token(&self, s: &System, entity_id: &str) -> String {
        let a = saml::issue_assertion(&AssertionSpec::new(
            &self.h().state.sts.key,
            s.cert.cert_der(),
            entity_id,
            s.cvr,
            &PrivilegeList::for_cvr(s.cvr, &[]),
            Utc::now(),
        ))
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(a.xml)
    }

    /// POST a query as `s` with `authorization` (None: no header) and the transaction headers
    /// when `headers` → (status, x-TransaktionsId answered, JSON).
    async fn post(
        &self,
        s: &System,
        authorization: Option<String>,
        headers: bool,
        query: &str,
        variables: Value,
    ) -> (u16, Option<String>, Value) {
        let client = common::tls_client(&self.h().state.ca, Some(&s.cert), self.https_addr);
        let mut r = client
            .post(format!(
                "https://localhost:{}/organisation/graphql",
                self.https_addr.port()
            ))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(a) = authorization {
            r = r.header("authorization", a);
        }
        let tid = Uuid::new_v4().to_string();
        if headers {
            r = r
                .header("x-TransaktionsId", &tid)
                .header("x-TransaktionsTid", Utc::now().to_rfc3339());
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let echo = r
            .headers()
            .get("x-transaktionsid")
            .map(|v| v.to_str().unwrap().to_owned());
        if status == 200 {
            assert_eq!(
                echo.as_deref(),
                Some(tid.as_str()),
                "x-TransaktionsId answered back"
            );
        }
        (status, echo, r.json().await.unwrap_or(Value::Null))
    }

    /// A query with a Bearer token for the Organisation service: its `data`, no errors.
    async fn q(&self, s: &System, query: &str, variables: Value) -> Value {
        let t = self.token(s, ENTITY_ORGANISATION);
        let (st, _, v) = self
            .post(s, Some(format!("Bearer {t}")), true, query, variables)
            .await;
        assert_eq!(st, 200, "{v}");
        assert!(v.get("errors").is_none(), "{v}");
        v["data"].clone()
    }

    /// Write objects as the myndighed `cvr` (`None`: fælleskommunale), in one transaction.
    async fn skriv(&self, cvr: Option<&str>, objekter: Vec<(&str, &str, Uuid, Value)>) {
        let ctx = Kontekst {
            scope: Scope::All,
            myndighed: cvr.map(str::to_owned),
            faelles: cvr.is_none(),
            brugerref: None,
        };
        let ops = objekter.into_iter().map(|(service, klasse, u, body)| {
            let spec = spec::class(service, klasse).unwrap();
            let a =
                parse_write(spec, &body, Mode::Create).unwrap_or_else(|e| panic!("{klasse}: {e}"));
            (spec, u, Skriv::Importer(a))
        });
        self.h()
            .state
            .engine
            .write_many(&ctx, ops.collect::<Vec<_>>())
            .await
            .unwrap();
    }
}

struct Data {
    org: Uuid,
    rod: Uuid,
    c1: Uuid,
    inaktiv: Uuid,
    adresse: Uuid,
    email_rolle: Uuid,
    adresse_type: Uuid,
    kle: Uuid,
    itsystem: Uuid,
    funktion: Uuid,
    bruger: Uuid,
}

async fn data(env: &Env) -> Data {
    let d = Data {
        org: Uuid::new_v4(),
        rod: Uuid::new_v4(),
        c1: Uuid::new_v4(),
        inaktiv: Uuid::new_v4(),
        adresse: Uuid::new_v4(),
        email_rolle: Uuid::new_v4(),
        adresse_type: Uuid::new_v4(),
        kle: Uuid::new_v4(),
        itsystem: Uuid::new_v4(),
        funktion: Uuid::new_v4(),
        bruger: Uuid::new_v4(),
    };
    let (virksomhed, myndighed, person) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (ansat_i, henv_type, henv) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    // Fælleskommunale Klasser: a KLE number and two function types.
    let klasse = |bvn: &str, titel: &str| {
        json!({"attributter": egenskaber("klasse", json!({"brugervendtnoegle": bvn, "titel": titel})),
               "tilstande": {"klassepubliceret": [{"publiceret": "Publiceret", "virkning": v()}]}})
    };
    env.skriv(
        None,
        vec![
            (
                "klassifikation",
                "klasse",
                d.kle,
                klasse("02.05.01", "Hundetoiletter i almindelighed"),
            ),
            (
                "klassifikation",
                "klasse",
                ansat_i,
                klasse("ansat", "Ansat i"),
            ),
            (
                "klassifikation",
                "klasse",
                henv_type,
                klasse("henv", "Henvendelsessted"),
            ),
        ],
    )
    .await;

    let enhed = |bvn: &str, navn: &str, overordnet: Option<Uuid>, aktiv: bool| {
        let mut r = json!({"tilhoerer": rel(d.org)});
        if let Some(o) = overordnet {
            r["overordnet"] = rel(o);
        }
        json!({"attributter": egenskaber("organisationenhed", json!({"brugervendtnoegle": bvn, "enhedsnavn": navn})),
               "tilstande": gyldighed("organisationenhed", aktiv),
               "relationer": r})
    };
    let mut c1 = enhed("c-0001", "Borgerservice", Some(d.rod), true);
    c1["relationer"]["adresser"] = json!([{
        "uuid": d.adresse.to_string(),
        "rolle": {"uuid": d.email_rolle.to_string(), "label": "E-mail"},
        "type": {"uuid": d.adresse_type.to_string()},
        "indeks": "1", "virkning": v()}]);
    c1["relationer"]["opgaver"] = json!([{
        "uuid": d.kle.to_string(), "rolle": {"uuid": Uuid::new_v4().to_string(), "label": "Ansvarlig"},
        "virkning": v()}]);
    c1["relationer"]["tilknyttedeitsystemer"] = rel(d.itsystem);
    let funktion = |navn: &str, typ: Uuid, extra: Value| {
        let mut r =
            json!({"organisatoriskfunktionstype": rel(typ), "tilknyttedeenheder": rel(d.c1)});
        for (k, val) in extra.as_object().unwrap() {
            r[k] = val.clone();
        }
        json!({"attributter": egenskaber("organisationfunktion", json!({"brugervendtnoegle": navn, "funktionsnavn": navn})),
               "tilstande": gyldighed("organisationfunktion", true),
               "relationer": r})
    };
    let mut objekter = vec![
        (
            "organisation",
            "virksomhed",
            virksomhed,
            json!({"attributter": egenskaber("virksomhed", json!({"brugervendtnoegle": "v", "cvr-nummer": CVR_A}))}),
        ),
        (
            "organisation",
            "myndighed",
            myndighed,
            json!({"attributter": egenskaber("myndighed", json!({"brugervendtnoegle": "m", "cvrnr": CVR_A, "myndighedskode": "101"}))}),
        ),
        (
            "organisation",
            "organisation",
            d.org,
            json!({"attributter": egenskaber("organisation", json!({"brugervendtnoegle": "TK", "organisationsnavn": "Testkommune"})),
                "tilstande": gyldighed("organisation", true),
                "relationer": {"virksomhed": rel(virksomhed), "myndighed": rel(myndighed)}}),
        ),
        (
            "organisation",
            "organisationenhed",
            d.rod,
            enhed("zzz-rod", "Testkommune", None, true),
        ),
        ("organisation", "organisationenhed", d.c1, c1),
        (
            "organisation",
            "organisationenhed",
            d.inaktiv,
            enhed("c-nedlagt", "Nedlagt", Some(d.rod), false),
        ),
        (
            "organisation",
            "adresse",
            d.adresse,
            json!({"attributter": egenskaber("adresse", json!({"brugervendtnoegle": "mail", "adresse": "borgerservice@testkommune.dk"}))}),
        ),
        (
            "organisation",
            "itsystem",
            d.itsystem,
            json!({"attributter": egenskaber("itsystem", json!({"brugervendtnoegle": "fs", "itsystemnavn": "Fagsystem"})),
                "tilstande": gyldighed("itsystem", true)}),
        ),
        (
            "organisation",
            "person",
            person,
            json!({"attributter": egenskaber("person", json!({"brugervendtnoegle": "p", "navn": "Anne Hansen", "cprnr": "0101011234"}))}),
        ),
        (
            "organisation",
            "bruger",
            d.bruger,
            json!({"attributter": egenskaber("bruger", json!({"brugervendtnoegle": "abc", "brugernavn": "abc"})),
                "tilstande": gyldighed("bruger", true),
                "relationer": {"tilhoerer": rel(d.org), "tilknyttedepersoner": rel(person)}}),
        ),
        (
            "organisation",
            "organisationfunktion",
            d.funktion,
            funktion(
                "Sagsbehandler",
                ansat_i,
                json!({"tilknyttedebrugere": rel(d.bruger)}),
            ),
        ),
        (
            "organisation",
            "organisationfunktion",
            henv,
            funktion(
                "Borgerservice, skranken",
                henv_type,
                json!({"opgaver": rel(d.kle)}),
            ),
        ),
    ];
    for i in 0..ENHEDER {
        objekter.push((
            "organisation",
            "organisationenhed",
            Uuid::new_v4(),
            enhed(
                &format!("e-{i:04}"),
                &format!("Enhed {i}"),
                Some(d.rod),
                true,
            ),
        ));
    }
    env.skriv(Some(CVR_A), objekter).await;

    // Another municipality, with the same shape.
    let (vb, ob) = (Uuid::new_v4(), Uuid::new_v4());
    env.skriv(
        Some(CVR_B),
        vec![
            ("organisation", "virksomhed", vb,
             json!({"attributter": egenskaber("virksomhed", json!({"brugervendtnoegle": "v", "cvr-nummer": CVR_B}))})),
            ("organisation", "organisation", ob,
             json!({"attributter": egenskaber("organisation", json!({"brugervendtnoegle": "B", "organisationsnavn": "B-kommune"})),
                    "tilstande": gyldighed("organisation", true),
                    "relationer": {"virksomhed": rel(vb)}})),
        ],
    )
    .await;
    d
}

const ORGANISATION: &str = "query($cvr: CVR!) { organisation(cvr: $cvr) {
    uuid organisationsnavn brugervendtNoegle
    myndighed { myndighedskode } virksomhed { cvrNummerTekst }
    organisationEnhed { uuid enhedsnavn overordnetEnhed { uuid } underliggendeEnheder { uuid } } } }";

#[tokio::test]
async fn organisation_hent() {
    let env = Env::start().await;
    let a = env.system("A", CVR_A, &[ENTITY_ORGANISATION], true).await;
    let b = env.system("B", CVR_B, &[ENTITY_ORGANISATION], true).await;
    let uden = env
        .system("Uden aftale", CVR_A, &[ENTITY_KLASSIFIKATION], true)
        .await;
    let uden_persondata = env
        .system("Uden persondata", CVR_A, &[ENTITY_ORGANISATION], false)
        .await;
    let d = data(&env).await;
    let vars = json!({"cvr": CVR_A});

    // ---- refusals
    let t = env.token(&a, ENTITY_ORGANISATION);
    let (st, _, body) = env
        .post(
            &a,
            Some(format!("Bearer {t}")),
            false,
            ORGANISATION,
            vars.clone(),
        )
        .await;
    assert_eq!(st, 400, "no transaction headers: {body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("x-TransaktionsId")
    );
    let (st, _, _) = env.post(&a, None, true, ORGANISATION, vars.clone()).await;
    assert_eq!(st, 401, "no token");
    let (st, _, _) = env
        .post(
            &a,
            Some("Bearer nonsense".into()),
            true,
            ORGANISATION,
            vars.clone(),
        )
        .await;
    assert_eq!(st, 401, "unknown token");
    let t_kla = env.token(&a, ENTITY_KLASSIFIKATION);
    let (st, _, _) = env
        .post(
            &a,
            Some(format!("Bearer {t_kla}")),
            true,
            ORGANISATION,
            vars.clone(),
        )
        .await;
    assert_eq!(st, 401, "token for another service");
    let t_uden = env.token(&uden, ENTITY_ORGANISATION);
    let (st, _, body) = env
        .post(
            &uden,
            Some(format!("Bearer {t_uden}")),
            true,
            ORGANISATION,
            vars.clone(),
        )
        .await;
    assert_eq!(st, 403, "no agreement for the Organisation service: {body}");
    // A's token presented by B's certificate.
    let (st, _, _) = env
        .post(
            &b,
            Some(format!("Bearer {t}")),
            true,
            ORGANISATION,
            vars.clone(),
        )
        .await;
    assert_eq!(st, 401, "holder-of-key mismatch");
    // Bad input is a GraphQL error, not a crash.
    let t = env.token(&a, ENTITY_ORGANISATION);
    let (st, _, body) = env
        .post(
            &a,
            Some(format!("Bearer {t}")),
            true,
            ORGANISATION,
            json!({"cvr": "123"}),
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("CVR"),
        "{body}"
    );

    // ---- organisation(cvr), Holder-of-key scheme too
    let (st, _, body) = env
        .post(
            &a,
            Some(format!("Holder-of-key {t}")),
            true,
            ORGANISATION,
            vars.clone(),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let o = &body["data"]["organisation"];
    assert_eq!(o["uuid"], json!(d.org.to_string()));
    assert_eq!(o["organisationsnavn"], json!("Testkommune"));
    assert_eq!(o["brugervendtNoegle"], json!("TK"));
    assert_eq!(o["myndighed"]["myndighedskode"], json!("101"));
    assert_eq!(o["virksomhed"]["cvrNummerTekst"], json!(CVR_A));
    let rod = &o["organisationEnhed"];
    assert_eq!(rod["uuid"], json!(d.rod.to_string()), "the root unit");
    assert_eq!(rod["overordnetEnhed"], Value::Null);
    assert_eq!(
        rod["underliggendeEnheder"].as_array().unwrap().len(),
        ENHEDER + 2,
        "every unit below the root, the inactive one too"
    );
    // Another CVR's organisation is invisible; B sees its own.
    assert_eq!(
        env.q(&a, ORGANISATION, json!({"cvr": CVR_B})).await["organisation"],
        Value::Null
    );
    assert_eq!(
        env.q(&b, ORGANISATION, vars.clone()).await["organisation"],
        Value::Null
    );
    assert_eq!(
        env.q(
            &b,
            "query { organisation(cvr: \"22222222\") { organisationsnavn } }",
            json!({})
        )
        .await["organisation"]["organisationsnavn"],
        json!("B-kommune")
    );

    // ---- organisationEnhed(uuid)
    let enhed = env
        .q(
            &a,
            "query($u: [UUID!]!) { organisationEnhed(uuid: $u) {
                uuid enhedsnavn brugervendtNoegle tilstand { status fraTidspunkt tilTidspunkt }
                overordnetEnhed { uuid } tilhoerer { uuid }
                adresser { uuid adresseTekst adresseRolleTitel klassifikation { type rolle indeks } }
                filtreret: adresser(rolle: [\"00000000-0000-0000-0000-000000000001\"]) { uuid }
                opgaver { uuid kleEmneNummer kleEmneTitel opgaveRolleTitel }
                itSystemer { uuid itSystemNavn }
                medlemskaber { uuid medlemskabRolleTitel funktionsTypeTitel start slut
                    bruger { brugernavn person { navn cpr } harMedlemskab { medlemAf { uuid } } } }
                henvendelsessteder { navn henvendelsesOrganisationEnhed { uuid } opgave { kleEmneNummer } } } }",
            json!({"u": [d.c1, Uuid::new_v4(), d.org]}),
        )
        .await;
    let l = enhed["organisationEnhed"].as_array().unwrap();
    assert_eq!(l.len(), 3);
    assert_eq!(l[1], Value::Null, "unknown UUID");
    assert_eq!(
        l[2],
        Value::Null,
        "an Organisation is not an OrganisationEnhed"
    );
    let e = &l[0];
    assert_eq!(e["enhedsnavn"], json!("Borgerservice"));
    assert_eq!(e["tilstand"]["status"], json!("AKTIV"));
    assert!(
        e["tilstand"]["fraTidspunkt"]
            .as_str()
            .unwrap()
            .starts_with("2020-01-01T00:00:00")
    );
    assert_eq!(e["tilstand"]["tilTidspunkt"], Value::Null);
    assert_eq!(e["overordnetEnhed"]["uuid"], json!(d.rod.to_string()));
    assert_eq!(e["tilhoerer"]["uuid"], json!(d.org.to_string()));
    assert_eq!(
        e["adresser"],
        json!([{"uuid": d.adresse.to_string(), "adresseTekst": "borgerservice@testkommune.dk",
                "adresseRolleTitel": "E-mail",
                "klassifikation": {"type": d.adresse_type.to_string(), "rolle": d.email_rolle.to_string(), "indeks": "1"}}])
    );
    assert_eq!(e["filtreret"], json!([]));
    assert_eq!(
        e["opgaver"],
        json!([{"uuid": d.kle.to_string(), "kleEmneNummer": "02.05.01",
                "kleEmneTitel": "Hundetoiletter i almindelighed", "opgaveRolleTitel": "Ansvarlig"}])
    );
    assert_eq!(
        e["itSystemer"],
        json!([{"uuid": d.itsystem.to_string(), "itSystemNavn": "Fagsystem"}])
    );
    let m = e["medlemskaber"].as_array().unwrap();
    assert_eq!(m.len(), 2, "both functions of the unit: {m:?}");
    let sb = m
        .iter()
        .find(|m| m["uuid"] == json!(d.funktion.to_string()))
        .unwrap();
    assert_eq!(sb["medlemskabRolleTitel"], json!("Sagsbehandler"));
    assert_eq!(sb["funktionsTypeTitel"], json!("Ansat i"));
    assert_eq!(sb["slut"], Value::Null);
    assert_eq!(sb["bruger"]["brugernavn"], json!("abc"));
    assert_eq!(
        sb["bruger"]["person"],
        json!({"navn": "Anne Hansen", "cpr": "0101011234"})
    );
    assert_eq!(
        sb["bruger"]["harMedlemskab"],
        json!([{"medlemAf": {"uuid": d.c1.to_string()}}])
    );
    assert_eq!(
        e["henvendelsessteder"],
        json!([{"navn": "Borgerservice, skranken",
                "henvendelsesOrganisationEnhed": {"uuid": d.c1.to_string()},
                "opgave": {"kleEmneNummer": "02.05.01"}}])
    );
    // B cannot read A's unit.
    let b_ser = env
        .q(
            &b,
            "query($u: [UUID!]!) { organisationEnhed(uuid: $u) { uuid } }",
            json!({"u": [d.c1]}),
        )
        .await;
    assert_eq!(b_ser["organisationEnhed"], json!([null]));

    // ---- organisationEnhedListe: pages of at most 500, the root first, each unit once
    let liste = "query($cvr: CVR!, $status: TilstandStatus!, $first: Int, $after: Cursor, $last: Int, $before: Cursor,
                       $opgaver: KleFilter, $it: [UUID!]) {
        organisationEnhedListe(cvr: $cvr, status: $status, first: $first, after: $after, last: $last,
                               before: $before, opgaver: $opgaver, itSystemer: $it) {
            edges { cursor node { uuid } } pageInfo { startCursor endCursor hasNextPage hasPreviousPage } } }";
    let side = |vars: Value| {
        let env = &env;
        let a = &a;
        async move { env.q(a, liste, vars).await["organisationEnhedListe"].clone() }
    };
    let s1 = side(json!({"cvr": CVR_A, "status": "AKTIV"})).await;
    let e1 = s1["edges"].as_array().unwrap();
    assert_eq!(e1.len(), 500, "the default and largest page");
    assert_eq!(
        e1[0]["node"]["uuid"],
        json!(d.rod.to_string()),
        "the root first"
    );
    assert_eq!(s1["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(s1["pageInfo"]["hasPreviousPage"], json!(false));
    let s2 = side(json!({"cvr": CVR_A, "status": "AKTIV", "first": 500, "after": s1["pageInfo"]["endCursor"]})).await;
    let e2 = s2["edges"].as_array().unwrap();
    assert_eq!(
        e1.len() + e2.len(),
        ENHEDER + 2,
        "root + c1 + the others, not the inactive one"
    );
    assert_eq!(s2["pageInfo"]["hasNextPage"], json!(false));
    let mut alle: Vec<String> = e1
        .iter()
        .chain(e2)
        .map(|e| e["node"]["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert!(!alle.contains(&d.inaktiv.to_string()));
    alle.sort();
    alle.dedup();
    assert_eq!(alle.len(), ENHEDER + 2, "no unit twice");
    // Backwards: the last 3 before the second page's first.
    let s0 =
        side(json!({"cvr": CVR_A, "status": "AKTIV", "last": 3, "before": e2[0]["cursor"]})).await;
    let bagud: Vec<&Value> = s0["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["uuid"])
        .collect();
    let forventet: Vec<&Value> = e1[497..].iter().map(|e| &e["node"]["uuid"]).collect();
    assert_eq!(bagud, forventet);
    // Status INAKTIV; the KLE and IT-system filters.
    let s = side(json!({"cvr": CVR_A, "status": "INAKTIV"})).await;
    assert_eq!(
        s["edges"],
        json!([{"cursor": s["edges"][0]["cursor"], "node": {"uuid": d.inaktiv.to_string()}}])
    );
    for (filter, forventet) in [
        (json!({"opgaver": {"kleNummer": ["02.*"]}}), vec![d.c1]),
        (json!({"opgaver": {"kleNummer": ["02.05.01"]}}), vec![d.c1]),
        (json!({"opgaver": {"kleNummer": ["03.*"]}}), vec![]),
        (
            json!({"opgaver": {"kleNummer": ["02.*"], "rolle": Uuid::new_v4()}}),
            vec![],
        ),
        (json!({"it": [d.itsystem]}), vec![d.c1]),
    ] {
        let mut vars = json!({"cvr": CVR_A, "status": "AKTIV"});
        for (k, v) in filter.as_object().unwrap() {
            vars[k] = v.clone();
        }
        let s = side(vars).await;
        let fundne: Vec<String> = s["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["uuid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            fundne,
            forventet.iter().map(Uuid::to_string).collect::<Vec<_>>(),
            "{filter}"
        );
    }
    // More than 500 asked for: an error.
    let t = env.token(&a, ENTITY_ORGANISATION);
    let (_, _, body) = env
        .post(
            &a,
            Some(format!("Bearer {t}")),
            true,
            liste,
            json!({"cvr": CVR_A, "status": "AKTIV", "first": 501}),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{body}"
    );

    // ---- bruger, brugerListe
    let br = env
        .q(&a, "query($u: [UUID!]!) { bruger(uuid: $u) { brugernavn tilstand { status } person { cpr } } }", json!({"u": [d.bruger]}))
        .await;
    assert_eq!(
        br["bruger"],
        json!([{"brugernavn": "abc", "tilstand": {"status": "AKTIV"}, "person": {"cpr": "0101011234"}}])
    );
    let bl = "query($f: BrugerFilter) { brugerListe(cvr: \"11111111\", status: AKTIV, brugerFilter: $f) { edges { node { uuid } } } }";
    for (f, n) in [
        (json!(null), 1),
        (json!({"brugernavn": "ABC"}), 1),
        (json!({"brugernavn": "xyz"}), 0),
        (json!({"personFilter": {"cpr": "0101011234"}}), 1),
        (json!({"personFilter": {"cpr": "0101019999"}}), 0),
    ] {
        let v = env.q(&a, bl, json!({"f": f})).await;
        assert_eq!(
            v["brugerListe"]["edges"].as_array().unwrap().len(),
            n,
            "{f}"
        );
    }

    // ---- @PersonDataConstraint: without SeNavn/SeCPR-nummer the fields are null, with an error
    let t = env.token(&uden_persondata, ENTITY_ORGANISATION);
    let (st, _, body) = env
        .post(
            &uden_persondata,
            Some(format!("Bearer {t}")),
            true,
            "query($u: [UUID!]!) { bruger(uuid: $u) { brugernavn person { uuid navn cpr } } }",
            json!({"u": [d.bruger]}),
        )
        .await;
    assert_eq!(st, 200);
    let p = &body["data"]["bruger"][0]["person"];
    assert_eq!(p["navn"], Value::Null, "{body}");
    assert_eq!(p["cpr"], Value::Null, "{body}");
    assert!(p["uuid"].is_string(), "the rest is there: {body}");
    let fejl: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        fejl.iter().any(|f| f.contains("SeNavn"))
            && fejl.iter().any(|f| f.contains("SeCPR-nummer")),
        "{fejl:?}"
    );
    let (_, _, body) = env
        .post(
            &uden_persondata,
            Some(format!("Bearer {t}")),
            true,
            bl,
            json!({"f": {"personFilter": {"cpr": "0101011234"}}}),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SeCPR-nummer"),
        "{body}"
    );

    // ---- the schema
    let sdl = reqwest::get(format!("{}/organisation/graphql/schema", env.h().url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sdl.contains("type OrganisaionEnhedEdge"), "{sdl}");
    let _ = a.uuid;
    env.finish().await;
}
