//! The Beskedfordeler's SOAP port (`/service/Beskedfordeler/1`): Værdilister (SF1460_B) and
//! FlytBeskedTilFejlkoe, with WS-Security requests signed as a KOMBIT client signs them, on a
//! secure server. SQLite always; PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use chrono::Utc;
use fki_beskedfordeler::retur::StandardRetur;
use fki_server::beskedfordeler::{BFO_AFSEND, BFO_MODTAG};
use fki_server::{Config, ServerHandle};
use fki_store::testing::{DropGuard, fresh_postgres};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use serde_json::{Value, json};
use uuid::Uuid;

/// KOMBIT's example request (copied from `../shared/specs/sf1460-beskedfordeler/example_messages/`).
const OPRET: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/vaerdiliste_opret.xml");
const BESKED: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
const VL: &str = "urn:oio:sts:beskedfordeler:vaerdiliste:1.0.0";
const SD: &str = "urn:oio:sagdok:3.0.0";
const CVR: &str = "11111111";

struct Env {
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    _dir: tempfile::TempDir,
}

struct System {
    uuid: Uuid,
    cert: Issued,
}

fn uden_deklaration(x: &str) -> &str {
    match x.trim_start().strip_prefix("<?xml") {
        Some(r) => &r[r.find("?>").unwrap() + 2..],
        None => x,
    }
}

impl Env {
    async fn start(postgres: bool) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        let (url, guard) = if postgres {
            let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
                eprintln!("skipped on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
                return None;
            };
            let (u, g) = fresh_postgres(&base).await.unwrap();
            (Some(u), Some(g))
        } else {
            (None, None)
        };
        let handle = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), url))
            .await
            .unwrap();
        Some(Env {
            handle: Some(handle),
            guard,
            _dir: dir,
        })
    }

    fn h(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
        if let Some(g) = self.guard.take() {
            g.cleanup().await.unwrap();
        }
    }

    async fn system(&self, name: &str, services: &[&str]) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, CVR).await;
        for s in services {
            common::active_agreement(st.adgang.as_ref(), uuid, s, CVR, vec![], vec![]).await;
        }
        System { uuid, cert }
    }

    fn assertion(&self, s: &System, entity_id: &str) -> String {
        saml::issue_assertion(&AssertionSpec::new(
            &self.h().state.sts.key,
            s.cert.cert_der(),
            entity_id,
            CVR,
            &PrivilegeList::for_cvr(CVR, &[]),
            Utc::now(),
        ))
        .unwrap()
        .xml
    }

    /// A SOAP call as `s`, signed with its key → (HTTP status, response text).
    async fn soap(&self, s: &System, payload: &str, signed: bool) -> (u16, String) {
        let body = common::soap11_request(
            self.h(),
            Some(&s.cert),
            &common::Soap11 {
                path: "/service/Beskedfordeler/1",
                to: Some(
                    "https://beskedfordeler.eksterntest-stoettesystemerne.dk/service/Beskedfordeler/1",
                ),
                action: "http://kombit.dk/sts/beskedfordeler/vaerdiliste/x",
                header: "",
                token: signed.then_some((BFO_MODTAG, CVR)),
                payload: uden_deklaration(payload),
            },
        );
        let r = reqwest::Client::new()
            .post(format!("{}/service/Beskedfordeler/1", self.h().url()))
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// A SOAP call that must answer StandardRetur `kode`; the response text.
    async fn call(&self, s: &System, payload: &str, kode: u16) -> String {
        let (status, text) = self.soap(s, payload, true).await;
        assert_eq!(status, 200, "{text}");
        let r = StandardRetur::find_in(&text).unwrap();
        assert_eq!(r.status_kode, kode, "{r:?}\n{text}");
        text
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let (status, v) = common::admin(self.h(), reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "{path}: {v}");
        v
    }
}

/// The texts of every `{ns}local` element in `xml`.
fn texts(xml: &str, ns: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name((ns, local)))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect()
}

fn uuid_op(op: &str, u: &str, extra: &str) -> String {
    format!(
        "<vl:{op} xmlns:vl=\"{VL}\" xmlns:sd=\"{SD}\"><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator>{extra}</vl:{op}>"
    )
}

fn laes(u: &str) -> String {
    uuid_op("LaesInput", u, "")
}

async fn scenario(postgres: bool) {
    let Some(env) = Env::start(postgres).await else {
        return;
    };
    let ejer = env.system("Fagsystem", &[BFO_MODTAG]).await;
    let anden = env.system("Andet system", &[BFO_MODTAG]).await;

    // opret: KOMBIT's example; the repeated List_8 is kept once
    let text = env.call(&ejer, OPRET, 20).await;
    assert!(text.contains("<o:OpretOutput"), "{text}");
    let u = texts(&text, SD, "UUIDIdentifikator")[0].clone();
    let text = env.call(&ejer, &laes(&u), 20).await;
    assert_eq!(texts(&text, VL, "Navn"), vec!["List 4003"]);
    assert_eq!(texts(&text, SD, "LivscyklusKode"), vec!["Opstaaet"]);
    assert_eq!(
        texts(&text, SD, "BrugervendtNoegleTekst"),
        vec!["Example text"]
    );
    let mut vaerdier = texts(&text, VL, "Vaerdi");
    assert_eq!(vaerdier.len(), 12, "{vaerdier:?}");
    vaerdier.dedup();
    assert_eq!(vaerdier.len(), 12);

    // values in and out
    env.call(
        &ejer,
        &uuid_op(
            "TilfoejVaerdierInput",
            &u,
            "<vl:Vaerdier>urn:oio:cpr-nr:0101011111</vl:Vaerdier><vl:Vaerdier>d</vl:Vaerdier>",
        ),
        20,
    )
    .await;
    env.call(
        &ejer,
        &uuid_op(
            "FjernVaerdierInput",
            &u,
            "<vl:Vaerdier>a</vl:Vaerdier><vl:Vaerdier>b</vl:Vaerdier>",
        ),
        20,
    )
    .await;
    let v = texts(&env.call(&ejer, &laes(&u), 20).await, VL, "Vaerdi");
    assert!(v.contains(&"urn:oio:cpr-nr:0101011111".to_owned()) && v.contains(&"d".to_owned()));
    assert!(!v.contains(&"a".to_owned()) && !v.contains(&"b".to_owned()));

    // soeg: by name with a wildcard and by a value; another system finds nothing
    let soeg = |navn: &str, vaerdi: &str| {
        format!(
            "<vl:SoegInput xmlns:vl=\"{VL}\" xmlns:sd=\"{SD}\"><sd:MaksimalAntalKvantitet>10</sd:MaksimalAntalKvantitet>\
<vl:SoegObjekt><vl:SoegAttributListe><vl:SoegEgenskab><vl:Vaerdiliste><vl:Navn>{navn}</vl:Navn>{vaerdi}</vl:Vaerdiliste>\
</vl:SoegEgenskab></vl:SoegAttributListe></vl:SoegObjekt></vl:SoegInput>"
        )
    };
    let ids = |t: String| texts(&t, SD, "UUIDIdentifikator");
    assert_eq!(
        ids(env.call(&ejer, &soeg("list%", ""), 20).await),
        vec![u.clone()]
    );
    assert_eq!(
        ids(env
            .call(&ejer, &soeg("%", "<vl:Vaerdi>d</vl:Vaerdi>"), 20)
            .await),
        vec![u.clone()]
    );
    assert!(
        ids(env
            .call(&ejer, &soeg("%", "<vl:Vaerdi>zzz</vl:Vaerdi>"), 20)
            .await)
        .is_empty()
    );
    assert!(ids(env.call(&anden, &soeg("%", ""), 20).await).is_empty());
    // another system cannot read or change it: unknown to it
    env.call(&anden, &laes(&u), 42).await;
    env.call(&anden, &uuid_op("SletInput", &u, ""), 42).await;

    // ret, then list (with the UUID), then passiver
    let ret = format!(
        "<vl:RetInput xmlns:vl=\"{VL}\" xmlns:sd=\"{SD}\"><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator><sd:NoteTekst>omdøbt</sd:NoteTekst>\
<vl:AttributListe><vl:Egenskab><vl:Vaerdiliste><vl:Navn>Mine borgere</vl:Navn><vl:Vaerdi>urn:oio:cpr-nr:0202022222</vl:Vaerdi></vl:Vaerdiliste>\
<sd:Virkning><sd:AktoerRef><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator></sd:AktoerRef><sd:AktoerTypeKode>ItSystem</sd:AktoerTypeKode></sd:Virkning></vl:Egenskab></vl:AttributListe></vl:RetInput>",
        ejer.uuid
    );
    env.call(&ejer, &ret, 20).await;
    let list = format!(
        "<vl:ListInput xmlns:vl=\"{VL}\" xmlns:sd=\"{SD}\"><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator></vl:ListInput>"
    );
    let text = env.call(&ejer, &list, 20).await;
    assert!(text.contains("FiltreretOejebliksbillede"), "{text}");
    assert_eq!(texts(&text, VL, "Navn"), vec!["Mine borgere"]);
    assert_eq!(
        texts(&text, VL, "Vaerdi"),
        vec!["urn:oio:cpr-nr:0202022222"]
    );
    assert_eq!(
        texts(&env.call(&ejer, &laes(&u), 20).await, SD, "LivscyklusKode"),
        vec!["Rettet"]
    );

    // the list in a filter: matches now, nothing once passivated
    let afsender = env.system("CPR", &[BFO_AFSEND]).await;
    let d = env
        .admin("/admin/beskedfordeler/dueslag", json!({"navn": "ind", "ejer": ejer.uuid.to_string(), "myndighed": CVR, "levering": "pull"}))
        .await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    env.admin(
        "/admin/beskedfordeler/abonnementer",
        json!({"dueslag": d, "filter": format!("relateretobjekt.objektid IN vaerdiliste(\"{u}\")")}),
    )
    .await;
    let send = |cpr: &'static str| {
        let afsender = &afsender;
        let env = &env;
        async move {
            let tok = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                env.assertion(afsender, BFO_AFSEND),
            );
            let body = BESKED
                .replace(
                    "01157488-c45c-4fd2-b076-1de12effbf66",
                    &Uuid::new_v4().to_string(),
                )
                .replace("99999999", CVR)
                .replace("2512484916", cpr);
            let st = &env.h().state;
            let https = env.h().https_addr.unwrap();
            let r = common::tls_client(&st.ca, Some(&afsender.cert), https)
                .post(format!(
                    "https://localhost:{}/beskedfordeler/afsend",
                    https.port()
                ))
                .header("authorization", format!("Holder-of-key {tok}"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.text()
                    .await
                    .unwrap()
                    .contains("<StatusKode>20</StatusKode>")
            );
        }
    };
    let klar = || async {
        let d: Uuid = d.parse().unwrap();
        env.h()
            .state
            .beskedfordeler
            .store
            .status(d, i64::MAX)
            .await
            .unwrap()
            .klar
    };
    send("0202022222").await;
    send("0101011111").await;
    assert_eq!(klar().await, 1);
    env.call(&ejer, &uuid_op("PassiverInput", &u, ""), 20).await;
    assert_eq!(
        texts(&env.call(&ejer, &laes(&u), 20).await, SD, "LivscyklusKode"),
        vec!["Passiveret"]
    );
    send("0202022222").await;
    assert_eq!(klar().await, 1);

    // FlytBeskedTilFejlkoe: the receiver moves its waiting copy to the fejlkø
    let d_uuid: Uuid = d.parse().unwrap();
    let waiting = env
        .h()
        .state
        .beskedfordeler
        .store
        .klar(d_uuid, i64::MAX, 1)
        .await
        .unwrap();
    let flyt = format!(
        "<bf:FlytBeskedTilFejlkoeInput xmlns:bf=\"urn:oio:sts:beskedfordeler:1.0.0\">{}</bf:FlytBeskedTilFejlkoeInput>",
        uden_deklaration(&waiting[0].besked.xml)
    );
    let text = env.call(&ejer, &flyt, 20).await;
    assert!(text.contains("FlytBeskedTilFejlkoeOutput"), "{text}");
    assert_eq!(klar().await, 0);
    assert_eq!(
        env.h()
            .state
            .beskedfordeler
            .store
            .fejlkoe(d_uuid, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    env.call(&ejer, &flyt, 42).await;

    // import under a chosen UUID, slet
    let ny = Uuid::new_v4();
    let import = format!(
        "<vl:ImportInput xmlns:vl=\"{VL}\" xmlns:sd=\"{SD}\"><vl:Vaerdiliste><sd:UUIDIdentifikator>{ny}</sd:UUIDIdentifikator>\
<vl:Registrering><sd:FraTidspunkt><sd:TidsstempelDatoTid>2024-01-01T00:00:00</sd:TidsstempelDatoTid></sd:FraTidspunkt><sd:LivscyklusKode>Opstaaet</sd:LivscyklusKode>\
<vl:AttributListe><vl:Egenskab><vl:Vaerdiliste><vl:Navn>Importeret</vl:Navn><vl:Vaerdi>x</vl:Vaerdi></vl:Vaerdiliste>\
<sd:Virkning><sd:AktoerRef><sd:UUIDIdentifikator>{ny}</sd:UUIDIdentifikator></sd:AktoerRef><sd:AktoerTypeKode>ItSystem</sd:AktoerTypeKode></sd:Virkning></vl:Egenskab></vl:AttributListe>\
<vl:TilstandListe/><vl:RelationListe/></vl:Registrering></vl:Vaerdiliste></vl:ImportInput>"
    );
    env.call(&ejer, &import, 20).await;
    let text = env.call(&ejer, &laes(&ny.to_string()), 20).await;
    assert_eq!(texts(&text, SD, "LivscyklusKode"), vec!["Importeret"]);
    assert_eq!(texts(&text, VL, "Vaerdi"), vec!["x"]);
    env.call(&ejer, &uuid_op("SletInput", &ny.to_string(), ""), 20)
        .await;
    env.call(&ejer, &laes(&ny.to_string()), 42).await;

    // bad input names the element; an unsigned request is a SOAP fault, not an answer
    let text = env
        .call(
            &ejer,
            &format!("<vl:OpretInput xmlns:vl=\"{VL}\"><vl:AttributListe/></vl:OpretInput>"),
            40,
        )
        .await;
    assert!(text.contains("Egenskab"), "{text}");
    let (status, text) = env.soap(&ejer, &laes(&u), false).await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("Fault"), "{text}");
    env.finish().await;
}

#[tokio::test]
async fn vaerdilister_and_fejlkoe_over_soap_sqlite() {
    scenario(false).await;
}

#[tokio::test]
async fn vaerdilister_and_fejlkoe_over_soap_postgres() {
    scenario(true).await;
}
