//! Self-description and meta routes (contract §1.5), unknown routes and methods.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::*;
use crate::harness::*;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

/// `/site-map`, `/version`, `/`.
async fn site_map_and_version(s: &Srv) {
    let r = s.get("/site-map").await.expect(200);
    let paths = strings(&r.body["site-map"]);
    let mut sorted = paths.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(paths, sorted, "sorted, without duplicates");
    for p in [
        "/site-map",
        "/version",
        "/organisation/classes",
        "/sag/classes",
    ] {
        assert!(paths.contains(&p.to_owned()), "{p} missing");
    }
    for c in fki_oio::spec::classes() {
        let base = format!("/{}/{}", c.service, c.name);
        for p in [
            base.clone(),
            format!("{base}/fields"),
            format!("{base}/schema"),
        ] {
            assert!(paths.contains(&p), "{p} missing from the site map");
        }
    }
    // Every concrete GET route of the site map answers.
    for p in paths.iter().filter(|p| !p.contains('{')) {
        let r = s.get(p).await;
        if p == "/" {
            assert!((300..400).contains(&r.status), "/ answered {}", r.status);
        } else {
            assert_eq!(r.status, 200, "GET {p}: {}", r.text);
        }
    }

    let r = s.get("/version").await.expect(200);
    assert_eq!(r.body["lora_version"], "1.13.1");

    let r = s.get("/").await;
    assert!((300..400).contains(&r.status), "{}", r.status);
    assert_eq!(r.location.as_deref(), Some("/site-map"));
}
both!(site_map_and_version);

/// `/{service}/classes`, `/fields`, `/schema`.
async fn classes_fields_schema(s: &Srv) {
    let r = s.get("/organisation/classes").await.expect(200);
    let o = r.body.as_object().unwrap();
    for c in [
        "bruger",
        "interessefaellesskab",
        "itsystem",
        "organisation",
        "organisationenhed",
        "organisationfunktion",
    ] {
        let st = &o[c];
        assert!(
            strings(&st["attributter"]["egenskaber"]).contains(&"brugervendtnoegle".to_owned()),
            "{c}: {st}"
        );
        assert_eq!(
            st["tilstande"]["gyldighed"],
            json!(["Aktiv", "Inaktiv"]),
            "{c}"
        );
    }
    assert!(!o.contains_key("facet"));
    let r = s.get("/klassifikation/classes").await.expect(200);
    let mut keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["facet", "klasse", "klassifikation"]);
    s.get("/nope/classes").await.expect(404);

    let f = s
        .get("/klassifikation/klasse/fields")
        .await
        .expect(200)
        .body;
    let eg = strings(&f["attributter"]["egenskaber"]);
    for n in ["brugervendtnoegle", "titel", "beskrivelse", "soegeord"] {
        assert!(eg.contains(&n.to_owned()), "klasse fields lack {n}: {eg:?}");
    }
    assert_eq!(
        f["tilstande"],
        json!({"publiceret": ["Publiceret", "IkkePubliceret"]})
    );
    let one = strings(&f["relationer_nul_til_en"]);
    let many = strings(&f["relationer_nul_til_mange"]);
    for n in ["ejer", "ansvarlig", "overordnetklasse", "facet"] {
        assert!(one.contains(&n.to_owned()), "{n}");
    }
    for n in [
        "redaktoerer",
        "sideordnede",
        "mapninger",
        "tilfoejelser",
        "erstatter",
        "lovligekombinationer",
    ] {
        assert!(many.contains(&n.to_owned()), "{n}");
    }
    assert_eq!(
        f["attributter_metadata"]["egenskaber"]["titel"]["mandatory"],
        true
    );

    // tilstand, aktivitet and indsats list states as [state, values] pairs.
    let f = s.get("/tilstand/tilstand/fields").await.expect(200).body;
    let pairs = f["tilstande"].as_array().expect("pairs");
    assert!(
        pairs.contains(&json!(["status", ["Inaktiv", "Aktiv"]])),
        "{f}"
    );

    let schema = s.get("/sag/sag/schema").await.expect(200).body;
    assert_eq!(schema["type"], "object");
    let eg = &schema["properties"]["attributter"]["properties"]["sagegenskaber"];
    assert_eq!(eg["type"], "array");
    let req = strings(&eg["items"]["required"]);
    for n in [
        "brugervendtnoegle",
        "beskrivelse",
        "kassationskode",
        "sagsnummer",
        "titel",
        "virkning",
    ] {
        assert!(req.contains(&n.to_owned()), "{n} not required: {req:?}");
    }
    assert_eq!(
        eg["items"]["properties"]["afleveret"]["type"], "boolean",
        "{eg}"
    );
    assert!(
        schema["properties"]["tilstande"]["properties"]["sagfremdrift"].is_object(),
        "{schema}"
    );
    assert!(
        schema["properties"]["relationer"]["properties"]["journalpost"].is_object(),
        "{schema}"
    );
    assert!(strings(&schema["required"]).contains(&"attributter".to_owned()));

    // No query parameters on /fields and /schema.
    s.get("/sag/sag/fields?x=1").await.expect(400);
    s.get("/sag/sag/schema?x=1").await.expect(400);
}
both!(classes_fields_schema);

/// `/openapi.json` is an OpenAPI 3.1 document with the paths of every class and resolvable
/// references; `/docs` is HTML.
async fn openapi_and_docs(s: &Srv) {
    let r = s.get("/openapi.json").await.expect(200);
    assert!(r.content_type.starts_with("application/json"));
    let doc = &r.body;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for c in fki_oio::spec::classes() {
        let base = format!("/{}/{}", c.service, c.name);
        let coll = &paths[&base];
        assert!(
            coll["get"].is_object() && coll["post"].is_object(),
            "{base}"
        );
        let item = &paths[&format!("{base}/{{uuid}}")];
        for m in ["get", "put", "patch", "delete"] {
            assert!(item[m].is_object(), "{base}/{{uuid}} lacks {m}");
        }
        assert!(
            schemas.contains_key(&format!("{}-create", c.name)),
            "{}",
            c.name
        );
    }
    // The Beskedfordeler's HTTP operations, with the security schemes they name.
    for (p, m) in [
        ("/beskedfordeler/afsend", "post"),
        ("/beskedfordeler/dueslag/{uuid}/beskeder", "get"),
        (
            "/beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/kvitter",
            "post",
        ),
        ("/admin/beskedfordeler/abonnementer", "post"),
        ("/metrics", "get"),
    ] {
        assert!(paths[p][m].is_object(), "{m} {p}");
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            for req in op["security"].as_array().into_iter().flatten() {
                for name in req.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{m} {p}: unknown scheme {name}");
                }
            }
        }
    }
    // Every operation has a unique operationId and responses; every $ref resolves.
    let mut ids = Vec::new();
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            ids.push(
                op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{m} {p}"))
                    .to_owned(),
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{m} {p}"
            );
            for par in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    par["name"].is_string() && par["in"].is_string(),
                    "{m} {p}: {par}"
                );
                if par["in"] == "path" {
                    assert_eq!(par["required"], true, "{m} {p}: {par}");
                }
            }
        }
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "operationIds are unique");
    let text = r.text.clone();
    for piece in text.split("\"$ref\":\"").skip(1) {
        let target = &piece[..piece.find('"').unwrap()];
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(schemas.contains_key(name), "dangling $ref {target}");
    }

    let r = s.get("/docs").await.expect(200);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert!(r.text.to_lowercase().contains("<html"), "{}", r.text);
}
both!(openapi_and_docs);

/// `/openapi.json` deserialises as `utoipa::openapi::OpenApi`, as the crate's own unit test
/// (`meta::tests::the_openapi_document_parses_as_openapi_and_covers_every_class`) expects.
async fn openapi_parses_with_utoipa(s: &Srv) {
    let r = s.get("/openapi.json").await.expect(200);
    let doc: utoipa::openapi::OpenApi =
        serde_json::from_value(r.body.clone()).expect("the document parses as OpenAPI");
    for c in fki_oio::spec::classes() {
        let base = format!("/{}/{}", c.service, c.name);
        assert!(doc.paths.paths.contains_key(&base), "{base}");
    }
}
both!(openapi_parses_with_utoipa);

/// Unknown classes and paths → 404 (JSON for unknown classes); wrong methods → 405.
async fn unknown_routes_and_methods(s: &Srv) {
    let u = Uuid::new_v4();
    for (m, p) in [
        (Method::GET, "/organisation/nope".to_owned()),
        (Method::GET, format!("/organisation/nope/{u}")),
        (Method::GET, "/organisation/nope/fields".to_owned()),
        (Method::GET, "/organisation/nope/schema".to_owned()),
        (Method::GET, "/nope/organisationenhed".to_owned()),
        (Method::GET, "/klassifikation/organisationenhed".to_owned()),
        (Method::DELETE, format!("/organisation/nope/{u}")),
    ] {
        let r = s.send(m, &p, None).await.expect(404);
        assert!(!r.message().is_empty());
    }
    let r = s
        .post("/organisation/nope", &enhed("x", "x"))
        .await
        .expect(404);
    assert!(!r.message().is_empty());
    s.get("/a/b/c/d").await.expect(404);
    s.get("/nope").await.expect(404);

    for (m, p) in [
        (Method::DELETE, format!("/{ENHED}")),
        (Method::PATCH, format!("/{ENHED}")),
        (Method::PUT, format!("/{ENHED}")),
        (Method::POST, format!("/{ENHED}/{u}")),
        (Method::POST, "/site-map".to_owned()),
        (Method::PUT, "/version".to_owned()),
        (Method::DELETE, "/openapi.json".to_owned()),
    ] {
        s.send(m.clone(), &p, Some(("application/json", b"{}".to_vec())))
            .await
            .expect(405);
    }
}
both!(unknown_routes_and_methods);
