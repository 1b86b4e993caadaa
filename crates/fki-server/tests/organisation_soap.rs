//! Organisation and Klassifikation over SOAP (issue 5): every operation of every one of the
//! thirteen object types, on a secure server, with requests signed in the WS-Security shape of
//! KOMBIT's example. Every request sent and every answer received is validated with `xmllint`
//! against KOMBIT's schemas (`tests/fixtures/sf1500-v6-xsd/`), so the element names, namespaces
//! and order are checked by the schemas themselves, not by fki's reading of them. SQLite always;
//! PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.
//!
//! Also: tenancy (another CVR sees nothing), refusals (unsigned, wrong audience, not an
//! operation), and one truth with the REST API in both directions.

mod common;

use chrono::Utc;
use fki_organisation::typer::{
    self, Form, NS_ORGFAELLES, NS_SD, NS_STS, Ns, Objekttype, RelForm, Tilstand,
};
use fki_server::sts::{ENTITY_KLASSIFIKATION, ENTITY_ORGANISATION};
use fki_server::{Config, ServerHandle};
use fki_store::testing::{DropGuard, fresh_postgres};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use serde_json::{Value, json};
use uuid::Uuid;

const CVR_A: &str = "11111111";
const CVR_B: &str = "22222222";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const XSD_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1500-v6-xsd/6.0.STS-0"
);
/// KOMBIT's SF1510 Klasse v7 sample schemas.
const XSD_V7_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1500-v6-xsd/klasse-v7"
);
const FRA: &str = "2020-01-01T00:00:00+01:00";

// ------------------------------------------------------------------------------ schema check

/// Validate `element` (a standalone XML element) against the type's `…Operationer.xsd` with
/// xmllint; panic with xmllint's words if it is not valid.
fn valider(typ: &Objekttype, element: &str) {
    if typ.version >= 7 {
        valider_fil(
            &format!("{XSD_V7_DIR}/{}Operationer.xsd", typ.element),
            element,
        );
    } else {
        valider_mod(&format!("{}Operationer.xsd", typ.element), element);
    }
}

/// Validate `element` against the schema file `xsd` of the fixture.
fn valider_mod(xsd: &str, element: &str) {
    valider_fil(&format!("{XSD_DIR}/{xsd}"), element);
}

/// Validate `element` against the schema file at `xsd`.
fn valider_fil(xsd: &str, element: &str) {
    common::xmllint(xsd, element);
}

/// The Body's element of a SOAP answer, as a standalone string.
fn body_element(envelope: &str) -> String {
    let doc = roxmltree::Document::parse(envelope).unwrap();
    let body = doc
        .descendants()
        .find(|n| n.has_tag_name((SOAP12, "Body")))
        .unwrap_or_else(|| panic!("no SOAP 1.2 Body: {envelope}"));
    let el = body.children().find(|n| n.is_element()).unwrap();
    envelope[el.range()].to_owned()
}

/// The texts of every `{ns}local` element in `xml`.
fn texts(xml: &str, ns: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name((ns, local)))
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect()
}

/// As [`texts`], only elements directly in an `Egenskab` (not, say, in a Klasse `Soegeord`).
fn egenskab_texts(xml: &str, ns: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| {
            n.has_tag_name((ns, local))
                && n.parent_element()
                    .is_some_and(|p| p.tag_name().name() == "Egenskab")
        })
        .map(|n| n.text().unwrap_or("").trim().to_owned())
        .collect()
}

fn status(xml: &str) -> (u16, String) {
    let kode = texts(xml, NS_SD, "StatusKode")[0].parse().unwrap();
    let tekst = texts(xml, NS_SD, "FejlbeskedTekst")
        .first()
        .cloned()
        .unwrap_or_default();
    (kode, tekst)
}

// ------------------------------------------------------------------------------ requests

fn decl(typ: &Objekttype) -> String {
    format!(
        "xmlns:t=\"{}\" xmlns:sd=\"{NS_SD}\" xmlns:sts=\"{NS_STS}\" xmlns:orgfaelles=\"{NS_ORGFAELLES}\"",
        typ.ns
    )
}

fn prefix(ns: Ns) -> &'static str {
    match ns {
        Ns::Sd => "sd",
        Ns::Sts => "sts",
        Ns::Egen => "t",
    }
}

fn virkning(fra: &str) -> String {
    format!(
        "<sd:Virkning><sd:FraTidspunkt><sd:TidsstempelDatoTid>{fra}</sd:TidsstempelDatoTid></sd:FraTidspunkt>\
<sd:TilTidspunkt><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:TilTidspunkt></sd:Virkning>"
    )
}

/// A value the element's schema type accepts, distinct per `tag`.
fn vaerdi(element: &str, tag: &str) -> String {
    let n = tag.bytes().fold(0u64, |a, b| a * 31 + b as u64) % 1_000_000;
    match element {
        "CVR-NummerTekst" | "SE-NummerTekst" => format!("{:08}", 10_000_000 + n),
        "P-NummerTekst" | "CPR-NummerTekst" => format!("{:010}", 1_000_000_000 + n),
        "MyndighedsKode" => format!("{:03}", n % 1000),
        "PlanIdentifikator" | "Sortering" => format!("{}", 1 + n % 99),
        _ => format!("{element} {tag}"),
    }
}

/// The fields the test writes for `typ`: (field, element, value) of the text fields.
fn tekstfelter(typ: &Objekttype, tag: &str) -> Vec<(&'static str, &'static str, String)> {
    typ.egenskaber
        .iter()
        .filter(|f| f.form == Form::Tekst)
        .map(|f| (f.felt, f.element, vaerdi(f.element, tag)))
        .collect()
}

fn egenskab(typ: &Objekttype, tag: &str, fra: &str) -> String {
    let mut s = format!("<t:Egenskab>{}", virkning(fra));
    for f in typ.egenskaber {
        let p = prefix(f.ns);
        let el = f.element;
        match f.form {
            Form::Tekst => s.push_str(&format!("<{p}:{el}>{}</{p}:{el}>", vaerdi(el, tag))),
            Form::Liste => s.push_str(&format!(
                "<{p}:{el}>a-{tag}</{p}:{el}><{p}:{el}>b-{tag}</{p}:{el}>"
            )),
            Form::Soegeord => s.push_str(&format!(
                "<{p}:{el}><sd:SoegeordIdentifikator>id-{tag}</sd:SoegeordIdentifikator>\
<sd:BeskrivelseTekst>om {tag}</sd:BeskrivelseTekst><sd:SoegeordKategoriTekst>kat</sd:SoegeordKategoriTekst></{p}:{el}>"
            )),
        }
    }
    s.push_str("</t:Egenskab>");
    s
}

fn tilstand(typ: &Objekttype, aktiv: bool) -> String {
    let inner = match typ.tilstand {
        Tilstand::Ingen => String::new(),
        Tilstand::Gyldighed => format!(
            "<orgfaelles:Gyldighed>{}<orgfaelles:GyldighedStatusKode>{}</orgfaelles:GyldighedStatusKode></orgfaelles:Gyldighed>",
            virkning(FRA),
            if aktiv { "Aktiv" } else { "Inaktiv" }
        ),
        Tilstand::Publiceret => format!(
            "<t:PubliceretStatus>{}<sd:ErPubliceretIndikator>{aktiv}</sd:ErPubliceretIndikator></t:PubliceretStatus>",
            virkning(FRA)
        ),
    };
    format!("<t:TilstandListe>{inner}</t:TilstandListe>")
}

/// One entry per relation (in the schema's order), targets from `maal`.
fn relationer(typ: &Objekttype, maal: &[Uuid]) -> String {
    let mut s = String::from("<t:RelationListe>");
    for (r, m) in typ.relationer.iter().zip(maal) {
        let el = r.element;
        s.push_str(&format!(
            "<sd:{el}>{}<sd:ReferenceID><sd:UUIDIdentifikator>{m}</sd:UUIDIdentifikator></sd:ReferenceID>",
            virkning(FRA)
        ));
        match r.form {
            RelForm::Enkel => {}
            RelForm::Dynamisk => s.push_str(&format!(
                "<sd:Rolle><sd:UUIDIdentifikator>{m}</sd:UUIDIdentifikator><sd:Label>rolle-{el}</sd:Label></sd:Rolle>\
<sd:Type><sd:URNIdentifikator>urn:dk:type:{el}</sd:URNIdentifikator></sd:Type><sd:Indeks>indeks-{el}</sd:Indeks>"
            )),
            RelForm::DynamiskRolle => s.push_str(&format!(
                "<sd:Rolle><sd:UUIDIdentifikator>{m}</sd:UUIDIdentifikator><sd:Label>rolle-{el}</sd:Label></sd:Rolle>\
<sd:Type><sd:UUIDIdentifikator>{m}</sd:UUIDIdentifikator><sd:Label>type-{el}</sd:Label></sd:Type>\
<sd:Indeks><sd:UUIDIdentifikator>{m}</sd:UUIDIdentifikator></sd:Indeks>"
            )),
        }
        s.push_str(&format!("</sd:{el}>"));
    }
    s.push_str("</t:RelationListe>");
    s
}

fn lister(typ: &Objekttype, tag: &str, maal: &[Uuid]) -> String {
    format!(
        "<t:AttributListe>{}</t:AttributListe>{}{}",
        egenskab(typ, tag, FRA),
        tilstand(typ, true),
        relationer(typ, maal)
    )
}

fn opret(typ: &Objekttype, tag: &str, maal: &[Uuid]) -> String {
    format!(
        "<t:OpretInput {}><sd:NoteTekst>oprettet {tag}</sd:NoteTekst>{}</t:OpretInput>",
        decl(typ),
        lister(typ, tag, maal)
    )
}

fn uuid_op(typ: &Objekttype, op: &str, u: &str, rest: &str) -> String {
    format!(
        "<t:{op} {}><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator>{rest}</t:{op}>",
        decl(typ)
    )
}

fn soeg(typ: &Objekttype, egenskab: &str, tilstand: &str, relation: &str) -> String {
    format!(
        "<t:SoegInput {}><sd:MaksimalAntalKvantitet>100</sd:MaksimalAntalKvantitet>\
<t:AttributListe>{egenskab}</t:AttributListe><t:TilstandListe>{tilstand}</t:TilstandListe>\
<t:RelationListe>{relation}</t:RelationListe></t:SoegInput>",
        decl(typ)
    )
}

// ------------------------------------------------------------------------------ server

struct Env {
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    _dir: tempfile::TempDir,
}

struct System {
    cert: Issued,
    cvr: &'static str,
}

impl Env {
    async fn start(postgres: bool, secure: bool) -> Option<Env> {
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
        let config = if secure {
            Config::for_test_secure(dir.path().to_path_buf(), url)
        } else {
            Config::for_test(dir.path().to_path_buf(), url)
        };
        let handle = fki_server::start(config).await.unwrap();
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

    async fn system(&self, name: &str, cvr: &'static str, services: &[&str]) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        for s in services {
            common::active_agreement(st.adgang.as_ref(), uuid, s, cvr, vec![], vec![]).await;
        }
        System { cert, cvr }
    }

    /// POST `payload` in a SOAP 1.2 envelope to `typ`'s endpoint; signed with a token for
    /// `audience` when `s` is given. → (HTTP status, envelope text).
    async fn post(
        &self,
        typ: &Objekttype,
        s: Option<(&System, &str)>,
        payload: &str,
    ) -> (u16, String) {
        let transaction = Uuid::new_v4();
        let envelope = format!(
            "<env:Envelope xmlns:env=\"{SOAP12}\"><env:Header>\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">http://kombit.dk/sts/{}/{}/x</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">https://organisation.eksterntest-stoettesystemerne.dk{}/</To>\
<rh:RequestHeader xmlns:rh=\"http://kombit.dk/xml/schemas/RequestHeader/1/\"><rh:TransactionUUID>{transaction}</rh:TransactionUUID></rh:RequestHeader>\
</env:Header><env:Body>{payload}</env:Body></env:Envelope>",
            typ.service,
            typ.klasse,
            Uuid::new_v4(),
            typ.path(),
        );
        let body = match s {
            Some((s, audience)) => {
                let assertion = saml::issue_assertion(&AssertionSpec::new(
                    &self.h().state.sts.key,
                    s.cert.cert_der(),
                    audience,
                    s.cvr,
                    &PrivilegeList::for_cvr(s.cvr, &[]),
                    Utc::now(),
                ))
                .unwrap()
                .xml;
                fki_sts::wssec::sign_service_request(
                    &envelope,
                    &assertion,
                    s.cert.key_pem(),
                    Utc::now(),
                )
                .unwrap()
            }
            None => envelope,
        };
        let r = reqwest::Client::new()
            .post(format!("{}{}/", self.h().url(), typ.path()))
            .header("content-type", "application/soap+xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status == 200 {
            assert_eq!(
                texts(
                    &text,
                    "http://kombit.dk/xml/schemas/RequestHeader/1/",
                    "TransactionUUID"
                ),
                vec![transaction.to_string()],
                "the RequestHeader is answered back"
            );
        }
        (status, text)
    }

    /// A signed call whose request and answer are schema-valid and whose StatusKode is
    /// `kode`: the answer's Body element.
    async fn call(&self, typ: &Objekttype, s: &System, payload: &str, kode: u16) -> String {
        valider(typ, payload);
        let (http, text) = self.post(typ, Some((s, audience(typ))), payload).await;
        assert_eq!(http, 200, "{text}");
        let svar = body_element(&text);
        valider(typ, &svar);
        let (k, t) = status(&svar);
        assert_eq!(k, kode, "{}: {t}\n{payload}\n{svar}", typ.klasse);
        svar
    }
}

fn audience(typ: &Objekttype) -> &'static str {
    if typ.service == "klassifikation" {
        ENTITY_KLASSIFIKATION
    } else {
        ENTITY_ORGANISATION
    }
}

// ------------------------------------------------------------------------------ the tests

async fn every_operation_of_every_type(postgres: bool) {
    let Some(env) = Env::start(postgres, true).await else {
        return;
    };
    let a = env
        .system(
            "Fagsystem A",
            CVR_A,
            &[ENTITY_ORGANISATION, ENTITY_KLASSIFIKATION],
        )
        .await;
    let b = env
        .system(
            "Fagsystem B",
            CVR_B,
            &[ENTITY_ORGANISATION, ENTITY_KLASSIFIKATION],
        )
        .await;
    for typ in typer::alle() {
        let maal: Vec<Uuid> = typ.relationer.iter().map(|_| Uuid::new_v4()).collect();

        // opret
        let svar = env.call(typ, &a, &opret(typ, "en", &maal), 20).await;
        let u = texts(&svar, NS_SD, "UUIDIdentifikator")[0].clone();

        // laes: every field, the state and every relation come back where the schema puts them
        let laes = uuid_op(typ, "LaesInput", &u, "");
        let svar = env.call(typ, &a, &laes, 20).await;
        // v7 names the owner (DataEjer); v6 has no place for it.
        let ejer = texts(&svar, NS_SD, "CVR");
        if typ.version >= 7 {
            assert_eq!(ejer, vec![CVR_A], "{svar}");
        } else {
            assert!(ejer.is_empty());
        }
        for (felt, element, v) in tekstfelter(typ, "en") {
            let ns = typ.egenskaber.iter().find(|f| f.felt == felt).unwrap().ns;
            assert_eq!(
                egenskab_texts(&svar, typ.uri(ns), element),
                vec![v.clone()],
                "{}.{felt}\n{svar}",
                typ.klasse
            );
        }
        assert_eq!(texts(&svar, NS_SD, "LivscyklusKode"), vec!["Opstaaet"]);
        assert_eq!(texts(&svar, NS_SD, "NoteTekst"), vec!["oprettet en"]);
        match typ.tilstand {
            Tilstand::Gyldighed => assert_eq!(
                texts(&svar, NS_ORGFAELLES, "GyldighedStatusKode"),
                vec!["Aktiv"]
            ),
            Tilstand::Publiceret => {
                assert_eq!(texts(&svar, NS_SD, "ErPubliceretIndikator"), vec!["true"])
            }
            Tilstand::Ingen => {}
        }
        for (r, m) in typ.relationer.iter().zip(&maal) {
            let doc = roxmltree::Document::parse(&svar).unwrap();
            let el = doc
                .descendants()
                .find(|n| n.has_tag_name((NS_SD, r.element)))
                .unwrap_or_else(|| panic!("{}: no {} in {svar}", typ.klasse, r.element));
            let ids: Vec<_> = el
                .descendants()
                .filter(|n| n.has_tag_name((NS_SD, "UUIDIdentifikator")))
                .map(|n| n.text().unwrap().to_owned())
                .collect();
            assert_eq!(ids[0], m.to_string(), "{}.{}", typ.klasse, r.element);
            if r.form != RelForm::Enkel {
                let label = el
                    .descendants()
                    .find(|n| n.has_tag_name((NS_SD, "Label")))
                    .and_then(|n| n.text());
                assert_eq!(label, Some(format!("rolle-{}", r.element).as_str()));
            }
        }
        if let Some(f) = typ.egenskaber.iter().find(|f| f.form == Form::Soegeord) {
            assert_eq!(
                texts(&svar, NS_SD, "SoegeordIdentifikator"),
                vec!["id-en"],
                "{}",
                f.felt
            );
        }
        if let Some(f) = typ.egenskaber.iter().find(|f| f.form == Form::Liste) {
            assert_eq!(texts(&svar, NS_SD, f.element), vec!["a-en", "b-en"]);
        }

        // ret: a new Egenskab from 2024 on; the old one stays before it
        let ret = uuid_op(
            typ,
            "RetInput",
            &u,
            &format!(
                "<t:AttributListe>{}</t:AttributListe>",
                egenskab(typ, "to", "2024-01-01T00:00:00+01:00")
            ),
        );
        env.call(typ, &a, &ret, 20).await;
        let svar = env.call(typ, &a, &laes, 20).await;
        assert_eq!(
            texts(&svar, NS_SD, "BrugervendtNoegleTekst"),
            vec![vaerdi("BrugervendtNoegleTekst", "to")],
            "the present shows the change"
        );
        assert!(
            texts(&svar, NS_SD, "LivscyklusKode").is_empty(),
            "v6 has no LivscyklusKode Rettet: none is written"
        );
        let historisk = uuid_op(
            typ,
            "LaesInput",
            &u,
            "<sd:VirkningFraFilter><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:VirkningFraFilter>\
<sd:VirkningTilFilter><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:VirkningTilFilter>",
        );
        let svar = env.call(typ, &a, &historisk, 20).await;
        assert_eq!(
            texts(&svar, NS_SD, "BrugervendtNoegleTekst"),
            vec![
                vaerdi("BrugervendtNoegleTekst", "en"),
                vaerdi("BrugervendtNoegleTekst", "to")
            ],
            "all of virkning shows both periods"
        );

        // list: the known one, an unknown one left out
        let list = format!(
            "<t:ListInput {}><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator></t:ListInput>",
            decl(typ),
            Uuid::new_v4()
        );
        let svar = env.call(typ, &a, &list, 20).await;
        assert_eq!(texts(&svar, typ.ns, "FiltreretOejebliksbillede").len(), 1);

        // soeg: by BrugervendtNoegleTekst (wildcard), by the state, by a relation
        let bvn = vaerdi("BrugervendtNoegleTekst", "to");
        let ids = |svar: String| texts(&svar, NS_SD, "UUIDIdentifikator");
        let by_bvn = soeg(
            typ,
            &format!(
                "<t:Egenskab><sd:BrugervendtNoegleTekst>{}%</sd:BrugervendtNoegleTekst></t:Egenskab>",
                &bvn[..bvn.len() - 1]
            ),
            "",
            "",
        );
        assert_eq!(ids(env.call(typ, &a, &by_bvn, 20).await), vec![u.clone()]);
        assert!(
            ids(env.call(typ, &b, &by_bvn, 20).await).is_empty(),
            "another CVR finds nothing"
        );
        match typ.tilstand {
            Tilstand::Gyldighed => {
                let q = |k: &str| {
                    soeg(
                        typ,
                        "",
                        &format!(
                            "<orgfaelles:Gyldighed><orgfaelles:GyldighedStatusKode>{k}</orgfaelles:GyldighedStatusKode></orgfaelles:Gyldighed>"
                        ),
                        "",
                    )
                };
                assert_eq!(
                    ids(env.call(typ, &a, &q("Aktiv"), 20).await),
                    vec![u.clone()]
                );
                assert!(ids(env.call(typ, &a, &q("Inaktiv"), 20).await).is_empty());
            }
            Tilstand::Publiceret => {
                let q = |k: bool| {
                    soeg(
                        typ,
                        "",
                        &format!(
                            "<t:PubliceretStatus><sd:ErPubliceretIndikator>{k}</sd:ErPubliceretIndikator></t:PubliceretStatus>"
                        ),
                        "",
                    )
                };
                assert_eq!(ids(env.call(typ, &a, &q(true), 20).await), vec![u.clone()]);
                assert!(ids(env.call(typ, &a, &q(false), 20).await).is_empty());
            }
            Tilstand::Ingen => {}
        }
        if let (Some(r), Some(m)) = (typ.relationer.last(), maal.last()) {
            let q = |m: &Uuid| {
                soeg(
                    typ,
                    "",
                    "",
                    &format!(
                        "<sd:{0}><sd:ReferenceID><sd:UUIDIdentifikator>{m}</sd:UUIDIdentifikator></sd:ReferenceID></sd:{0}>",
                        r.element
                    ),
                )
            };
            assert_eq!(ids(env.call(typ, &a, &q(m), 20).await), vec![u.clone()]);
            assert!(ids(env.call(typ, &a, &q(&Uuid::new_v4()), 20).await).is_empty());
        }

        // another CVR cannot read, change or delete it
        assert_eq!(status(&env.call(typ, &b, &laes, 44).await).0, 44);
        env.call(typ, &b, &ret, 44).await;
        env.call(typ, &b, &uuid_op(typ, "SletInput", &u, ""), 44)
            .await;

        // passiver
        env.call(
            typ,
            &a,
            &uuid_op(
                typ,
                "PassiverInput",
                &u,
                "<sd:NoteTekst>passiv</sd:NoteTekst>",
            ),
            20,
        )
        .await;
        let svar = env.call(typ, &a, &laes, 20).await;
        assert_eq!(texts(&svar, NS_SD, "LivscyklusKode"), vec!["Passiveret"]);

        // importer: a given UUID
        let ny = Uuid::new_v4();
        let import = format!(
            "<t:ImportInput {}><t:{el}><sd:UUIDIdentifikator>{ny}</sd:UUIDIdentifikator><t:Registrering>\
<sd:NoteTekst>importeret</sd:NoteTekst>{}</t:Registrering></t:{el}></t:ImportInput>",
            decl(typ),
            lister(typ, "tre", &maal),
            el = typ.element
        );
        env.call(typ, &a, &import, 20).await;
        let svar = env
            .call(typ, &a, &uuid_op(typ, "LaesInput", &ny.to_string(), ""), 20)
            .await;
        assert_eq!(texts(&svar, NS_SD, "LivscyklusKode"), vec!["Importeret"]);
        assert_eq!(
            texts(&svar, NS_SD, "BrugervendtNoegleTekst"),
            vec![vaerdi("BrugervendtNoegleTekst", "tre")]
        );

        // slet: afterwards it is not found
        env.call(typ, &a, &uuid_op(typ, "SletInput", &ny.to_string(), ""), 20)
            .await;
        env.call(typ, &a, &uuid_op(typ, "LaesInput", &ny.to_string(), ""), 44)
            .await;

        malformed(&env, typ, &a, &u).await;
        // Out of the way of the next type of the same class (Klasse v6 and v7 share the data).
        env.call(typ, &a, &uuid_op(typ, "SletInput", &u, ""), 20)
            .await;
    }
    env.finish().await;
}

/// One malformed request per operation: StatusKode 40 and a text naming what is wrong. (The
/// requests are not schema-valid, so they are not validated; the answers are.)
async fn malformed(env: &Env, typ: &Objekttype, a: &System, u: &str) {
    let call = |payload: String, expect: &'static str| async move {
        let (http, text) = env.post(typ, Some((a, audience(typ))), &payload).await;
        assert_eq!(http, 200, "{text}");
        let svar = body_element(&text);
        valider(typ, &svar);
        let (k, t) = status(&svar);
        assert_eq!(k, 40, "{}: {payload}\n{svar}", typ.klasse);
        assert!(
            t.contains(expect),
            "{}: '{t}' should name {expect}",
            typ.klasse
        );
    };
    let maal: Vec<Uuid> = typ.relationer.iter().map(|_| Uuid::new_v4()).collect();
    // opret: the lists out of order
    call(
        format!(
            "<t:OpretInput {}>{}<t:AttributListe>{}</t:AttributListe>{}</t:OpretInput>",
            decl(typ),
            tilstand(typ, true),
            egenskab(typ, "x", FRA),
            relationer(typ, &maal)
        ),
        "AttributListe",
    )
    .await;
    // opret: no BrugervendtNoegleTekst (mandatory)
    call(
        format!(
            "<t:OpretInput {}><t:AttributListe><t:Egenskab>{}</t:Egenskab></t:AttributListe>{}{}</t:OpretInput>",
            decl(typ),
            virkning(FRA),
            tilstand(typ, true),
            relationer(typ, &maal)
        ),
        "brugervendtnoegle",
    )
    .await;
    // importer: no Registrering
    call(
        format!(
            "<t:ImportInput {}><t:{el}><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator></t:{el}></t:ImportInput>",
            decl(typ),
            Uuid::new_v4(),
            el = typ.element
        ),
        "Registrering",
    )
    .await;
    // ret: an element that does not belong
    call(uuid_op(typ, "RetInput", u, "<t:Ukendt/>"), "Ukendt").await;
    // passiver, slet, laes: not a UUID
    for op in ["PassiverInput", "SletInput", "LaesInput"] {
        call(uuid_op(typ, op, "ikke-en-uuid", ""), "ikke-en-uuid").await;
    }
    // list: no UUID at all
    call(
        format!("<t:ListInput {}></t:ListInput>", decl(typ)),
        "UUIDIdentifikator",
    )
    .await;
    // soeg: without its AttributListe
    call(
        format!(
            "<t:SoegInput {}><t:TilstandListe/><t:RelationListe/></t:SoegInput>",
            decl(typ)
        ),
        "AttributListe",
    )
    .await;
    // a Virkning whose end is before its start
    let baglaens = "<sd:Virkning><sd:FraTidspunkt><sd:TidsstempelDatoTid>2030-01-01T00:00:00Z</sd:TidsstempelDatoTid></sd:FraTidspunkt>\
<sd:TilTidspunkt><sd:TidsstempelDatoTid>2020-01-01T00:00:00Z</sd:TidsstempelDatoTid></sd:TilTidspunkt></sd:Virkning>";
    call(
        format!(
            "<t:OpretInput {}><t:AttributListe>{}</t:AttributListe>{}{}</t:OpretInput>",
            decl(typ),
            egenskab(typ, "x", FRA).replace(&virkning(FRA), baglaens),
            tilstand(typ, true),
            relationer(typ, &maal)
        ),
        "before",
    )
    .await;
}

#[tokio::test]
async fn every_operation_of_every_type_sqlite() {
    every_operation_of_every_type(false).await;
}

#[tokio::test]
async fn every_operation_of_every_type_postgres() {
    every_operation_of_every_type(true).await;
}

#[tokio::test]
async fn refusals() {
    let env = Env::start(false, true).await.unwrap();
    let typ = typer::ved_sti("organisation", "organisationenhed").unwrap();
    let klasse = typer::ved_sti("klassifikation", "klasse").unwrap();
    let a = env.system("A", CVR_A, &[ENTITY_ORGANISATION]).await;
    let laes = uuid_op(typ, "LaesInput", &Uuid::new_v4().to_string(), "");

    // Unsigned: a WS-Security fault, no answer.
    let (http, text) = env.post(typ, None, &laes).await;
    assert_ne!(http, 200, "{text}");
    assert!(text.contains("Fault") && text.contains("wsse:"), "{text}");

    // A token for Klassifikation is no token for Organisation, and A has no Klassifikation
    // agreement.
    let (http, text) = env
        .post(typ, Some((&a, ENTITY_KLASSIFIKATION)), &laes)
        .await;
    assert_ne!(http, 200, "{text}");
    assert!(text.contains("Fault"), "{text}");
    let (http, text) = env
        .post(
            klasse,
            Some((&a, ENTITY_KLASSIFIKATION)),
            &uuid_op(klasse, "LaesInput", &Uuid::new_v4().to_string(), ""),
        )
        .await;
    assert_ne!(http, 200, "{text}");
    assert!(text.contains("Fault"), "{text}");

    // A Klasse operation at the OrganisationEnhed address, and no operation at all: Sender
    // faults.
    let (http, text) = env
        .post(
            typ,
            Some((&a, ENTITY_ORGANISATION)),
            &uuid_op(klasse, "LaesInput", &Uuid::new_v4().to_string(), ""),
        )
        .await;
    assert_eq!(http, 400, "{text}");
    assert!(
        text.contains("env:Sender") && text.contains("not an operation"),
        "{text}"
    );
    let (http, text) = env
        .post(
            typ,
            Some((&a, ENTITY_ORGANISATION)),
            &format!("<t:Hej {}/>", decl(typ)),
        )
        .await;
    assert_eq!(http, 400, "{text}");
    assert!(text.contains("env:Sender"), "{text}");
    env.finish().await;
}

/// One truth: SOAP writes read back over REST and REST writes over SOAP (a `--dev-open`
/// server, so REST needs no token; the myndighed comes from `X-FKI-Myndighed` on both).
#[tokio::test]
async fn soap_and_rest_share_the_data() {
    let env = Env::start(false, false).await.unwrap();
    let typ = typer::ved_sti("organisation", "organisationenhed").unwrap();
    let http = reqwest::Client::new();
    let base = env.h().url();

    // SOAP → REST
    let maal: Vec<Uuid> = typ.relationer.iter().map(|_| Uuid::new_v4()).collect();
    let payload = opret(typ, "soap", &maal);
    valider(typ, &payload);
    let (_, text) = env.post(typ, None, &payload).await;
    let u = texts(&body_element(&text), NS_SD, "UUIDIdentifikator")[0].clone();
    let v: Value = http
        .get(format!("{base}/organisation/organisationenhed/{u}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reg = &v[&u][0]["registreringer"][0];
    let e = &reg["attributter"]["organisationenhedegenskaber"][0];
    assert_eq!(e["enhedsnavn"], json!(vaerdi("EnhedNavn", "soap")), "{v}");
    assert_eq!(
        e["brugervendtnoegle"],
        json!(vaerdi("BrugervendtNoegleTekst", "soap"))
    );
    assert_eq!(e["virkning"]["to"], json!("infinity"));
    assert_eq!(
        reg["tilstande"]["organisationenhedgyldighed"][0]["gyldighed"],
        json!("Aktiv")
    );
    let adresser = &reg["relationer"]["adresser"][0];
    assert_eq!(adresser["uuid"], json!(maal[0].to_string()));
    assert_eq!(adresser["rolle"]["label"], json!("rolle-Adresser"));
    assert_eq!(adresser["type"]["urn"], json!("urn:dk:type:Adresser"));
    assert_eq!(adresser["indeks"], json!("indeks-Adresser"));
    let overordnet = typ
        .relationer
        .iter()
        .position(|r| r.element == "Overordnet")
        .unwrap();
    assert_eq!(
        reg["relationer"]["overordnet"][0]["uuid"],
        json!(maal[overordnet].to_string())
    );
    assert_eq!(reg["note"], json!("oprettet soap"));

    // REST → SOAP
    let enhed = Uuid::new_v4();
    let r = http
        .post(format!("{base}/organisation/organisationenhed"))
        .json(&json!({
            "attributter": {"organisationenhedegenskaber": [{
                "brugervendtnoegle": "rest-bvn", "enhedsnavn": "Skoleafdelingen",
                "virkning": {"from": "2021-03-01", "to": "infinity"}}]},
            "tilstande": {"organisationenhedgyldighed": [{
                "gyldighed": "Inaktiv", "virkning": {"from": "2021-03-01", "to": "infinity"}}]},
            "relationer": {"overordnet": [{
                "uuid": enhed.to_string(), "virkning": {"from": "2021-03-01", "to": "infinity"}}],
                "adresser": [{"urn": "urn:magenta.dk:telefon:+4512345678",
                    "rolle": {"uuid": enhed.to_string(), "label": "Telefon"},
                    "virkning": {"from": "2021-03-01", "to": "infinity"}}]}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let rest_uuid = r.json::<Value>().await.unwrap()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let laes = uuid_op(typ, "LaesInput", &rest_uuid, "");
    valider(typ, &laes);
    let (_, text) = env.post(typ, None, &laes).await;
    let svar = body_element(&text);
    valider(typ, &svar);
    assert_eq!(status(&svar).0, 20, "{svar}");
    assert_eq!(texts(&svar, NS_SD, "EnhedNavn"), vec!["Skoleafdelingen"]);
    assert_eq!(
        texts(&svar, NS_SD, "BrugervendtNoegleTekst"),
        vec!["rest-bvn"]
    );
    assert_eq!(
        texts(&svar, NS_ORGFAELLES, "GyldighedStatusKode"),
        vec!["Inaktiv"]
    );
    assert_eq!(
        texts(&svar, NS_SD, "URNIdentifikator"),
        vec!["urn:magenta.dk:telefon:+4512345678", "urn:fki:ikke-angivet"]
    );
    assert_eq!(texts(&svar, NS_SD, "Label"), vec!["Telefon"]);
    // No Type and Indeks were given over REST; the schema requires them.
    assert!(
        texts(&svar, NS_SD, "URNIdentifikator").is_empty()
            || svar.contains("<sd:Type><sd:URNIdentifikator>urn:fki:ikke-angivet</sd:URNIdentifikator></sd:Type><sd:Indeks></sd:Indeks>"),
        "{svar}"
    );
    assert_eq!(
        texts(&svar, NS_SD, "TidsstempelDatoTid")
            .iter()
            .filter(|t| t.starts_with("2021-03-01T00:00:00+01:00"))
            .count(),
        4,
        "every period starts on 2021-03-01 (Copenhagen): {svar}"
    );
    env.finish().await;
}

// ------------------------------------------------------------------------------ hierarchies

const NS_ORGSYS: &str = "http://stoettesystemerne.dk/organisation/organisationsystem/6/";
const NS_KLASYS: &str = "http://stoettesystemerne.dk/klassifikation/klassifikationsystem/6/";

/// An object element to import: `<p:Element>` with its UUID and one Registrering, the type's
/// namespace bound to `p` on the element.
fn importobjekt(typ: &Objekttype, u: Uuid, tag: &str, maal: &[Uuid]) -> String {
    format!(
        "<t:{el} xmlns:t=\"{}\"><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator><t:Registrering>{}</t:Registrering></t:{el}>",
        typ.ns,
        lister(typ, tag, maal),
        el = typ.element
    )
}

async fn system_call(
    env: &Env,
    s: &System,
    xsd: &str,
    path_typ: &Objekttype,
    path: &'static str,
    payload: &str,
) -> String {
    valider_mod(xsd, payload);
    // Post to the hierarchy service's address, with the token for its service.
    let t = Objekttype {
        klasse: path,
        ..*path_typ
    };
    let (http, text) = env.post(&t, Some((s, audience(path_typ))), payload).await;
    assert_eq!(http, 200, "{text}");
    let svar = body_element(&text);
    valider_mod(xsd, &svar);
    svar
}

#[tokio::test]
async fn hierarchy_services() {
    let env = Env::start(false, true).await.unwrap();
    let a = env
        .system("A", CVR_A, &[ENTITY_ORGANISATION, ENTITY_KLASSIFIKATION])
        .await;
    let b = env.system("B", CVR_B, &[ENTITY_ORGANISATION]).await;
    let org = typer::ved_sti("organisation", "organisation").unwrap();
    let enhed = typer::ved_sti("organisation", "organisationenhed").unwrap();
    let xsd = "OrganisationSystemOperationer.xsd";
    let decl = format!(
        "xmlns:s=\"{NS_ORGSYS}\" xmlns:sd=\"{NS_SD}\" xmlns:sts=\"{NS_STS}\" xmlns:orgfaelles=\"{NS_ORGFAELLES}\""
    );
    let (o, e1, e2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let m = |t: &Objekttype| -> Vec<Uuid> { t.relationer.iter().map(|_| Uuid::new_v4()).collect() };
    let import = |e2_tag: &str| {
        format!(
            "<s:ImporterOrganisationSystemInput {decl}>{}<s:OrganisationEnhederInput>{}{}</s:OrganisationEnhederInput></s:ImporterOrganisationSystemInput>",
            importobjekt(org, o, "org", &m(org)),
            importobjekt(enhed, e1, "enhed1", &m(enhed)),
            importobjekt(enhed, e2, e2_tag, &m(enhed)),
        )
    };

    // Import: three UnikRetur with 20, in order.
    let svar = system_call(&env, &a, xsd, org, "organisationsystem", &import("enhed2")).await;
    assert_eq!(
        texts(&svar, NS_SD, "StatusKode"),
        vec!["20", "20", "20"],
        "{svar}"
    );
    assert_eq!(
        texts(&svar, NS_SD, "UUIDIdentifikator"),
        vec![o.to_string(), e1.to_string(), e2.to_string()]
    );
    assert_eq!(
        texts(&svar, NS_SD, "Type"),
        vec!["Organisation", "OrganisationEnhed", "OrganisationEnhed"]
    );

    // FremsoegObjekthierarki without criteria: the whole hierarchy (fki's export).
    let alle = format!("<s:FremsoegObjekthierarkiInput {decl}></s:FremsoegObjekthierarkiInput>");
    let svar = system_call(&env, &a, xsd, org, "organisationsystem", &alle).await;
    assert_eq!(status(&svar).0, 20);
    let ids_in = |svar: &str, liste: &str| -> Vec<String> {
        let doc = roxmltree::Document::parse(svar).unwrap();
        let mut v: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name((NS_ORGSYS, liste)))
            .flat_map(|l| {
                l.descendants()
                    .filter(|n| n.has_tag_name("ObjektType"))
                    .collect::<Vec<_>>()
            })
            .map(|n| n.first_element_child().unwrap().text().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids_in(&svar, "Organisationer"), vec![o.to_string()]);
    let mut enheder = vec![e1.to_string(), e2.to_string()];
    enheder.sort();
    assert_eq!(ids_in(&svar, "OrganisationEnheder"), enheder);
    assert_eq!(
        egenskab_texts(&svar, NS_SD, "EnhedNavn").len(),
        2,
        "the enheder come with their registreringer"
    );

    // With a criterion for OrganisationEnhed only.
    let en = format!(
        "<s:FremsoegObjekthierarkiInput {decl}><s:OrganisationEnhedSoegEgenskab><sd:EnhedNavn>{}</sd:EnhedNavn></s:OrganisationEnhedSoegEgenskab></s:FremsoegObjekthierarkiInput>",
        vaerdi("EnhedNavn", "enhed1")
    );
    let svar = system_call(&env, &a, xsd, org, "organisationsystem", &en).await;
    assert_eq!(ids_in(&svar, "OrganisationEnheder"), vec![e1.to_string()]);
    assert_eq!(ids_in(&svar, "Organisationer"), vec![o.to_string()]);

    // Another CVR sees an empty hierarchy.
    let svar = system_call(&env, &b, xsd, org, "organisationsystem", &alle).await;
    assert!(
        ids_in(&svar, "Organisationer").is_empty()
            && ids_in(&svar, "OrganisationEnheder").is_empty()
    );

    // An import with one bad object stores nothing.
    let (o2, e3) = (Uuid::new_v4(), Uuid::new_v4());
    let bad = format!(
        "<s:ImporterOrganisationSystemInput {decl}>{}<s:OrganisationEnhederInput>{}<t:OrganisationEnhed xmlns:t=\"{}\"><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator><t:Registrering><t:AttributListe><t:Egenskab>{}</t:Egenskab></t:AttributListe><t:TilstandListe/><t:RelationListe/></t:Registrering></t:OrganisationEnhed></s:OrganisationEnhederInput></s:ImporterOrganisationSystemInput>",
        importobjekt(org, o2, "org2", &m(org)),
        importobjekt(enhed, e3, "enhed3", &m(enhed)),
        enhed.ns,
        Uuid::new_v4(),
        virkning(FRA),
    );
    let svar = system_call(&env, &a, xsd, org, "organisationsystem", &bad).await;
    let (k, t) = status(&svar);
    assert_eq!(k, 40, "{svar}");
    assert!(t.contains("brugervendtnoegle"), "{t}");
    let svar = system_call(&env, &a, xsd, org, "organisationsystem", &alle).await;
    assert_eq!(
        ids_in(&svar, "Organisationer"),
        vec![o.to_string()],
        "nothing of the failed import"
    );

    // KlassifikationSystem: import a Klassifikation with a Facet and two Klasser, find one Klasse.
    let klf = typer::ved_sti("klassifikation", "klassifikation").unwrap();
    let facet = typer::ved_sti("klassifikation", "facet").unwrap();
    let klasse = typer::ved_sti("klassifikation", "klasse").unwrap();
    let kxsd = "KlassifikationSystemOperationer.xsd";
    let kdecl = format!("xmlns:s=\"{NS_KLASYS}\" xmlns:sd=\"{NS_SD}\"");
    let (k1, k2) = (Uuid::new_v4(), Uuid::new_v4());
    let kimport = format!(
        "<s:ImporterKlassifikationSystemInput {kdecl}>{}<s:FacetterInput>{}</s:FacetterInput><s:KlasserInput>{}{}</s:KlasserInput></s:ImporterKlassifikationSystemInput>",
        importobjekt(klf, Uuid::new_v4(), "kle", &m(klf)),
        importobjekt(facet, Uuid::new_v4(), "emne", &m(facet)),
        importobjekt(klasse, k1, "k1", &m(klasse)),
        importobjekt(klasse, k2, "k2", &m(klasse)),
    );
    let svar = system_call(&env, &a, kxsd, klasse, "klassifikationsystem", &kimport).await;
    assert_eq!(texts(&svar, NS_SD, "StatusKode"), vec!["20"; 4], "{svar}");
    let soeg = format!(
        "<s:FremsoegObjekthierarkiInput {kdecl}><s:KlasseSoegEgenskab><sd:TitelTekst>{}</sd:TitelTekst></s:KlasseSoegEgenskab></s:FremsoegObjekthierarkiInput>",
        vaerdi("TitelTekst", "k2")
    );
    let svar = system_call(&env, &a, kxsd, klasse, "klassifikationsystem", &soeg).await;
    let doc = roxmltree::Document::parse(&svar).unwrap();
    let klasser: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name((NS_KLASYS, "Klasser")))
        .flat_map(|l| {
            l.descendants()
                .filter(|n| n.has_tag_name((NS_SD, "UUIDIdentifikator")))
                .collect::<Vec<_>>()
        })
        .map(|n| n.text().unwrap().to_owned())
        .collect();
    assert_eq!(klasser.first(), Some(&k2.to_string()), "{svar}");
    assert!(!klasser.contains(&k1.to_string()));
    env.finish().await;
}

/// `?wsdl` carries this server's address; with `--schema-dir` the schemas it imports are served
/// next to it (and nothing outside that folder is).
#[tokio::test]
async fn wsdl_with_own_address_and_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        schema_dir: Some(std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sf1500-v6-xsd"
        ))),
        ..Config::for_test(dir.path().to_path_buf(), None)
    };
    let handle = fki_server::start(config).await.unwrap();
    let base = handle.url();
    let http = reqwest::Client::new();
    for typ in typer::alle() {
        let url = format!("{base}{}/", typ.path());
        let w = http
            .get(format!("{url}?wsdl"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let doc = roxmltree::Document::parse(&w).unwrap();
        const SOAP12WSDL: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
        let address = doc
            .descendants()
            .find(|n| n.has_tag_name((SOAP12WSDL, "address")))
            .and_then(|n| n.attribute("location"))
            .unwrap();
        assert_eq!(address, url, "{}", typ.klasse);
        // Every imported schema resolves relative to the WSDL, and is the schema itself.
        for imp in doc
            .descendants()
            .filter(|n| n.tag_name().name() == "import" && n.attribute("schemaLocation").is_some())
        {
            let loc = imp.attribute("schemaLocation").unwrap();
            let r = http.get(format!("{url}{loc}")).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{url}{loc}");
            let xsd = r.text().await.unwrap();
            assert!(
                xsd.contains(&format!(
                    "targetNamespace=\"{}\"",
                    imp.attribute("namespace").unwrap()
                )),
                "{loc}"
            );
        }
        // The schema's own relative imports resolve too (../common/SagDokObjekt.xsd).
        let r = http
            .get(format!("{url}xsd/6.0.STS-0/../common/SagDokObjekt.xsd"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "reqwest normalises the path");
    }
    // Nothing outside the folder, and only schemas.
    let enhed = format!("{base}/organisation/organisationenhed/6/");
    for bad in [
        "xsd/..%2F..%2FCargo.toml",
        "xsd/%2E%2E/README.md",
        "xsd/common/README.md",
    ] {
        let r = http.get(format!("{enhed}{bad}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{bad}");
    }
    // GET without ?wsdl is not a SOAP call.
    let r = http.get(&enhed).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    handle.shutdown().await.unwrap();

    // Without --schema-dir the WSDL is served and the schemas are explained, not faked.
    let dir = tempfile::tempdir().unwrap();
    let handle = fki_server::start(Config::for_test(dir.path().to_path_buf(), None))
        .await
        .unwrap();
    let url = format!("{}/organisation/organisationenhed/6/", handle.url());
    let r = http.get(format!("{url}?wsdl")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .get(format!("{url}xsd/common/RequestHeader.xsd"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.unwrap().contains("--schema-dir"));
    handle.shutdown().await.unwrap();
}

// ------------------------------------------------------------------------------ erasing data

const NS_ORGADM: &str = "http://stoettesystemerne.dk/organisation/organisationadministration/6/";

/// OrganisationAdministration `FysiskSlet` and OrganisationSystem `Anonymiser`: refused where
/// they would go wrong (unknown, another CVR's, a unit with units below it, a bad CPR), and
/// where they succeed nothing of the erased data is left at any registration time; both are in
/// the audit log.
#[tokio::test]
async fn fysisk_slet_and_anonymiser() {
    let env = Env::start(false, true).await.unwrap();
    let a = env.system("A", CVR_A, &[ENTITY_ORGANISATION]).await;
    let b = env.system("B", CVR_B, &[ENTITY_ORGANISATION]).await;
    let org = typer::ved_sti("organisation", "organisation").unwrap();
    let enhed = typer::ved_sti("organisation", "organisationenhed").unwrap();
    let person = typer::ved_sti("organisation", "person").unwrap();
    let store = env.h().state.engine.store().clone();
    let alt = fki_oio::store::RegWindow::Range(fki_oio::time::NEG_INF, fki_oio::time::POS_INF);

    // An Organisation with unit e1 and, below it, e2.
    let (o, e1, e2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let maal = |t: &Objekttype, overordnet: Uuid| -> Vec<Uuid> {
        t.relationer
            .iter()
            .map(|r| match r.element {
                "Tilhoerer" => o,
                "Overordnet" => overordnet,
                _ => Uuid::new_v4(),
            })
            .collect()
    };
    let sysdecl = format!(
        "xmlns:s=\"{NS_ORGSYS}\" xmlns:sd=\"{NS_SD}\" xmlns:sts=\"{NS_STS}\" xmlns:orgfaelles=\"{NS_ORGFAELLES}\""
    );
    let import = format!(
        "<s:ImporterOrganisationSystemInput {sysdecl}>{}<s:OrganisationEnhederInput>{}{}</s:OrganisationEnhederInput></s:ImporterOrganisationSystemInput>",
        importobjekt(org, o, "org", &maal(org, Uuid::new_v4())),
        importobjekt(enhed, e1, "e1", &maal(enhed, Uuid::new_v4())),
        importobjekt(enhed, e2, "e2", &maal(enhed, e1)),
    );
    let xsd = "OrganisationSystemOperationer.xsd";
    let svar = system_call(&env, &a, xsd, org, "organisationsystem", &import).await;
    assert_eq!(texts(&svar, NS_SD, "StatusKode"), vec!["20"; 3], "{svar}");

    let axsd = "OrganisationAdministrationOperationer.xsd";
    let fysisk_slet = |_: &str, org: Uuid, enhed: Uuid| {
        format!(
            "<a:FysiskSletInput xmlns:a=\"{NS_ORGADM}\"><a:OrganisationUUID>{org}</a:OrganisationUUID><a:OrganisationEnhedUUID>{enhed}</a:OrganisationEnhedUUID></a:FysiskSletInput>"
        )
    };
    async fn kald(
        env: &Env,
        s: &System,
        xsd: &str,
        sti: &'static str,
        payload: String,
    ) -> (u16, String) {
        let org = typer::ved_sti("organisation", "organisation").unwrap();
        status(&system_call(env, s, xsd, org, sti, &payload).await)
    }
    let slet = |s, payload| kald(&env, s, axsd, "organisationadministration", payload);
    // A unit with a unit below it: 40, and it stays.
    let (k, t) = slet(&a, fysisk_slet("", o, e1)).await;
    assert_eq!(k, 40, "{t}");
    assert!(t.contains(&e2.to_string()), "{t}");
    // Not of that Organisation, another CVR's, unknown: 44.
    assert_eq!(slet(&a, fysisk_slet("", Uuid::new_v4(), e2)).await.0, 44);
    assert_eq!(slet(&b, fysisk_slet("", o, e2)).await.0, 44);
    assert_eq!(slet(&a, fysisk_slet("", o, Uuid::new_v4())).await.0, 44);
    assert_eq!(store.read(&[e1, e2], alt).await.unwrap().len(), 2);

    // A deleted unit is erased: no registrering, no object; a read says 44.
    env.call(
        enhed,
        &a,
        &uuid_op(enhed, "SletInput", &e2.to_string(), ""),
        20,
    )
    .await;
    assert_eq!(slet(&a, fysisk_slet("", o, e2)).await.0, 20);
    assert!(store.read(&[e2], alt).await.unwrap().is_empty());
    env.call(
        enhed,
        &a,
        &uuid_op(enhed, "LaesInput", &e2.to_string(), ""),
        44,
    )
    .await;
    // Now e1 has nothing below it, and goes too; twice is 44.
    assert_eq!(slet(&a, fysisk_slet("", o, e1)).await.0, 20);
    assert_eq!(slet(&a, fysisk_slet("", o, e1)).await.0, 44);
    assert!(store.read(&[e1], alt).await.unwrap().is_empty());
    assert_eq!(
        store.read(&[o], alt).await.unwrap().len(),
        1,
        "the Organisation stays"
    );

    // Anonymiser. A's Person with two registreringer, and B's Person with the same CPR.
    let cpr = vaerdi("CPR-NummerTekst", "p");
    let mut personer = Vec::new();
    for s in [&a, &b] {
        let svar = env.call(person, s, &opret(person, "p", &[]), 20).await;
        personer.push(Uuid::parse_str(&texts(&svar, NS_SD, "UUIDIdentifikator")[0]).unwrap());
    }
    let (pa, pb) = (personer[0], personer[1]);
    let ret = uuid_op(
        person,
        "RetInput",
        &pa.to_string(),
        &format!(
            "<t:AttributListe>{}</t:AttributListe>",
            egenskab(person, "p", "2024-01-01T00:00:00+01:00")
        ),
    );
    env.call(person, &a, &ret, 20).await;
    let anonymiser =
        |id: &str| format!("<s:AnonymiserInput xmlns:s=\"{NS_ORGSYS}\">{id}</s:AnonymiserInput>");
    let anon = |s, id: String| kald(&env, s, xsd, "organisationsystem", anonymiser(&id));
    // Unknown CPR, B's person by UUID: 44.
    assert_eq!(
        anon(&a, "<s:PersonCPR>0000000000</s:PersonCPR>".into())
            .await
            .0,
        44
    );
    assert_eq!(
        anon(&a, format!("<s:PersonUUID>{pb}</s:PersonUUID>"))
            .await
            .0,
        44
    );
    // A bad CPR (not schema-valid, so sent unchecked): 40.
    let (http, text) = env
        .post(
            &Objekttype {
                klasse: "organisationsystem",
                ..*org
            },
            Some((&a, ENTITY_ORGANISATION)),
            &anonymiser("<s:PersonCPR>12</s:PersonCPR>"),
        )
        .await;
    assert_eq!(http, 200);
    assert_eq!(status(&body_element(&text)).0, 40, "{text}");

    assert_eq!(
        anon(&a, format!("<s:PersonCPR>{cpr}</s:PersonCPR>"))
            .await
            .0,
        20
    );
    let h = store.read(&[pa, pb], alt).await.unwrap();
    let (ha, hb) = (&h[0], &h[1]);
    assert_eq!(ha.registreringer.len(), 2);
    for r in &ha.registreringer {
        let json = serde_json::to_string(&r.data).unwrap();
        assert!(!json.contains(&cpr), "CPR left in a registrering: {json}");
        for e in &r.data.attributter["egenskaber"] {
            assert_eq!(e.felter["navn"], json!("Anonymiseret"));
            assert_eq!(e.felter["brugervendtnoegle"], json!(pa.to_string()));
        }
    }
    let json_b = serde_json::to_string(&hb.registreringer[0].data).unwrap();
    assert!(json_b.contains(&cpr), "B's Person is not A's to anonymise");
    // Searches by the old CPR no longer find A's Person, at any time.
    let laes = env
        .call(
            person,
            &a,
            &uuid_op(person, "LaesInput", &pa.to_string(), ""),
            20,
        )
        .await;
    assert!(texts(&laes, NS_STS, "CPR-NummerTekst").is_empty(), "{laes}");
    assert_eq!(
        anon(&b, format!("<s:PersonUUID>{pb}</s:PersonUUID>"))
            .await
            .0,
        20
    );

    let audit = env
        .h()
        .state
        .adgang
        .audit_query(&fki_store::adgang::AuditQuery::default())
        .await
        .unwrap();
    let count = |h: &str, cvr: &str| {
        audit
            .iter()
            .filter(|e| e.haendelse == h && e.myndighed.as_deref() == Some(cvr))
            .count()
    };
    assert_eq!(count("organisation_fysisk_slet", CVR_A), 2);
    assert_eq!(count("organisation_anonymiser", CVR_A), 1);
    assert_eq!(count("organisation_anonymiser", CVR_B), 1);
    assert!(
        audit
            .iter()
            .filter(|e| e.haendelse.starts_with("organisation_"))
            .all(|e| e.reference.is_some() && e.system.is_some())
    );
    env.finish().await;
}

/// Klasse v7 and v6 are two doors to the same Klasser: one written over v7 (with `Sortering`
/// and a dynamic `Mapninger`) reads back over v6 (schema-valid: no Rolle where v6 has none)
/// and over REST with every v7 detail.
#[tokio::test]
async fn klasse_v7_and_v6_share_the_data() {
    let env = Env::start(false, false).await.unwrap();
    let v6 = typer::ved_sti("klassifikation", "klasse").unwrap();
    let v7 = typer::alle()
        .iter()
        .find(|t| t.klasse == "klasse" && t.version == 7)
        .unwrap();
    assert_eq!(v7.path(), "/klassifikation/klasse/7");
    let maal: Vec<Uuid> = v7.relationer.iter().map(|_| Uuid::new_v4()).collect();
    let payload = opret(v7, "v7", &maal);
    valider(v7, &payload);
    let (_, text) = env.post(v7, None, &payload).await;
    let svar = body_element(&text);
    valider(v7, &svar);
    let u = texts(&svar, NS_SD, "UUIDIdentifikator")[0].clone();

    // v7 laes: ObjektID, Sortering, Mapninger with Rolle, Type and Indeks.
    let (_, text) = env.post(v7, None, &uuid_op(v7, "LaesInput", &u, "")).await;
    let svar = body_element(&text);
    valider(v7, &svar);
    assert_eq!(texts(&svar, v7.ns, "ObjektID").len(), 1, "{svar}");
    assert_eq!(
        texts(&svar, NS_SD, "Sortering"),
        vec![vaerdi("Sortering", "v7")]
    );
    assert_eq!(
        texts(&svar, NS_SD, "Label"),
        vec!["rolle-Mapninger", "type-Mapninger"]
    );

    // v6 laes of the same Klasse: valid v6, the v7-only parts left out.
    let (_, text) = env.post(v6, None, &uuid_op(v6, "LaesInput", &u, "")).await;
    let svar = body_element(&text);
    valider(v6, &svar);
    assert_eq!(status(&svar).0, 20);
    assert_eq!(texts(&svar, v6.ns, "ObjektType").len(), 1);
    assert!(texts(&svar, NS_SD, "Rolle").is_empty() && texts(&svar, NS_SD, "Sortering").is_empty());
    assert_eq!(
        texts(&svar, NS_SD, "TitelTekst"),
        vec![vaerdi("TitelTekst", "v7")]
    );

    // REST sees everything.
    let v: Value = reqwest::get(format!("{}/klassifikation/klasse/{u}", env.h().url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reg = &v[&u][0]["registreringer"][0];
    assert_eq!(
        reg["attributter"]["klasseegenskaber"][0]["sortering"],
        json!(vaerdi("Sortering", "v7"))
    );
    let mapning = &reg["relationer"]["mapninger"][0];
    let m = maal[v7
        .relationer
        .iter()
        .position(|r| r.element == "Mapninger")
        .unwrap()];
    assert_eq!(
        mapning["rolle"],
        json!({"uuid": m.to_string(), "label": "rolle-Mapninger"})
    );
    assert_eq!(mapning["indeks"], json!(m.to_string()));
    env.finish().await;
}
