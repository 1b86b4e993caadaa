//! The Beskedfordeler's part of `/openapi.json`: afsend and pull over HTTP, the admin routes,
//! `/metrics`. (The SOAP port is described by KOMBIT's WSDL, not here.)

use serde_json::{Map, Value, json};

pub fn openapi_paths(paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let tag = "beskedfordeler";
    let hok = json!([{"holderOfKey": []}]);
    let admin = json!([{"adminToken": []}]);
    let xml = |d: &str| json!({"description": d, "content": {"application/xml": {"schema": {"type": "string"}}}});
    let problem = |d: &str| json!({"description": d, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let jsonr = |d: &str, schema: Value| json!({"description": d, "content": {"application/json": {"schema": schema}}});
    let uuid_p = json!({"name": "uuid", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    let loebenr_p =
        json!({"name": "loebenr", "in": "path", "required": true, "schema": {"type": "integer"}});
    let r = |n: &str| json!({"$ref": format!("#/components/schemas/{n}")});

    paths.insert("/beskedfordeler/afsend".into(), json!({
        "post": {"tags": [tag], "operationId": "bf_afsend", "security": hok,
            "summary": "AfsendBesked: deliver a Haendelsesbesked (token for http://entityid.kombit.dk/service/bfo_afsend/2)",
            "description": "Body: bf:AfsendBeskedInput (urn:oio:sts:beskedfordeler:1.0.0) or a bare besked:Haendelsesbesked (urn:oio:besked:kuvert:1.0), at most 4 MiB. Answer: bf:AfsendBeskedOutput with sd:StandardRetur. StatusKode 20 only after the message and its copies are stored durably; a repeated BeskedId is answered 20 and not distributed again.",
            "requestBody": {"required": true, "content": {"application/xml": {"schema": {"type": "string"}}}},
            "responses": {
                "200": xml("StatusKode 20"),
                "400": xml("StatusKode 40: invalid message (FejlbeskedTekst names the element)"),
                "401": xml("StatusKode 41: no valid token"),
                "403": xml("StatusKode 41: no active agreement"),
                "413": xml("StatusKode 44: larger than 4 MiB"),
                "500": xml("StatusKode 50: not stored, send again")}}
    }));
    paths.insert("/beskedfordeler/dueslag/{uuid}/beskeder".into(), json!({
        "get": {"tags": [tag], "operationId": "bf_hent", "security": hok,
            "summary": "Pull: the first messages waiting in one's own dueslag, in distribution order (token for bfo_modtag/2)",
            "parameters": [uuid_p.clone(), {"name": "antal", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1}},
                {"name": "vent", "in": "query", "required": false, "description": "Long poll: when the dueslag is empty, wait up to this many milliseconds for a message before answering (an empty list when none came)", "schema": {"type": "integer", "minimum": 0, "maximum": 30000, "default": 0}}],
            "responses": {"200": jsonr("Waiting messages", r("BeskedListe")), "404": problem("No such dueslag of the caller"), "401": problem("No valid token")}}
    }));
    paths.insert("/beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/kvitter".into(), json!({
        "post": {"tags": [tag], "operationId": "bf_kvitter", "security": hok,
            "summary": "Acknowledge a pulled message: it leaves the dueslag",
            "parameters": [uuid_p.clone(), loebenr_p.clone()],
            "responses": {"204": {"description": "Acknowledged"}, "404": problem("Not waiting in this dueslag")}}
    }));
    paths.insert("/beskedfordeler/dueslag/{uuid}/kvitter".into(), json!({
        "post": {"tags": [tag], "operationId": "bf_kvitter_mange", "security": hok,
            "summary": "Acknowledge many pulled messages at once (one store statement); those not waiting are skipped",
            "parameters": [uuid_p.clone()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["loebenr"], "additionalProperties": false,
                "properties": {"loebenr": {"type": "array", "maxItems": 1000, "items": {"type": "integer", "format": "int64"}}}}}}},
            "responses": {"200": jsonr("How many were acknowledged", json!({"type": "object", "required": ["kvitteret"], "properties": {"kvitteret": {"type": "integer", "format": "int64"}}})),
                "400": problem("Not {\"loebenr\": [..]} or more than 1000"), "404": problem("No such dueslag of the caller"), "401": problem("No valid token")}}
    }));
    paths.insert("/beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/fejlkoe".into(), json!({
        "post": {"tags": [tag], "operationId": "bf_fejlkoe", "security": hok,
            "summary": "FlytBeskedTilFejlkoe: the receiver gives up on a message (optional body {\"grund\": \"…\"})",
            "parameters": [uuid_p.clone(), loebenr_p.clone()],
            "responses": {"204": {"description": "Moved to the fejlkø"}, "404": problem("Not waiting in this dueslag")}}
    }));
    let admin_op = |id: &str, summary: &str| {
        json!({"tags": [tag], "operationId": id, "security": admin, "summary": summary,
        "responses": {"200": {"description": "OK"}, "201": {"description": "Created"}, "400": problem("Invalid input"), "401": problem("Missing or wrong admin token"), "404": problem("Unknown")}})
    };
    let with_params = |mut op: Value, params: Value| {
        op["parameters"] = params;
        op
    };
    paths.insert("/admin/beskedfordeler/dueslag".into(), json!({
        "get": admin_op("bf_admin_dueslag_list", "Dueslag with depth, oldest waiting message and fejlkø (?ejer=system)"),
        "post": admin_op("bf_admin_dueslag_create", "Create a dueslag: {navn, ejer (system UUID or name), myndighed, levering: push|pull, callbackUrl?, maksForsoeg?}")
    }));
    paths.insert("/admin/beskedfordeler/dueslag/{uuid}".into(), json!({
        "get": with_params(admin_op("bf_admin_dueslag_get", "One dueslag with its counts"), json!([uuid_p.clone()]))
    }));
    paths.insert("/admin/beskedfordeler/dueslag/{uuid}/aktiv".into(), json!({
        "post": with_params(admin_op("bf_admin_dueslag_aktiv", "Activate or deactivate: {aktiv: bool}"), json!([uuid_p.clone()]))
    }));
    paths.insert("/admin/beskedfordeler/dueslag/{uuid}/fejlkoe".into(), json!({
        "get": with_params(admin_op("bf_admin_dueslag_fejlkoe", "The dueslag's fejlkø"), json!([uuid_p.clone()]))
    }));
    paths.insert("/admin/beskedfordeler/dueslag/{uuid}/genafspil/{loebenr}".into(), json!({
        "post": with_params(admin_op("bf_admin_genafspil", "Replay a message at the end of the dueslag"), json!([uuid_p.clone(), loebenr_p]))
    }));
    paths.insert("/admin/beskedfordeler/abonnementer".into(), json!({
        "get": admin_op("bf_admin_abonnementer_list", "Abonnementer (?dueslag=uuid), filters in JSON and text form"),
        "post": admin_op("bf_admin_abonnement_create", "Subscribe: {dueslag, filter} (filter as text or JSON, see docs/beskedfordeler.md)")
    }));
    paths.insert("/admin/beskedfordeler/abonnementer/{uuid}/aktiv".into(), json!({
        "post": with_params(admin_op("bf_admin_abonnement_aktiv", "Stop or start: {aktiv: bool}"), json!([uuid_p.clone()]))
    }));
    paths.insert(
        "/admin/beskedfordeler/vaerdilister".into(),
        json!({
            "get": admin_op("bf_admin_vaerdilister_list", "Værdilister"),
            "post": admin_op("bf_admin_vaerdiliste_create", "Create: {navn, ejer, vaerdier?}")
        }),
    );
    paths.insert("/admin/beskedfordeler/vaerdilister/{uuid}/vaerdier".into(), json!({
        "get": with_params(admin_op("bf_admin_vaerdier", "All values"), json!([uuid_p.clone()])),
        "post": with_params(admin_op("bf_admin_vaerdier_add", "Add values: {vaerdier: [...]}"), json!([uuid_p.clone()]))
    }));
    paths.insert("/admin/beskedfordeler/vaerdilister/{uuid}/fjern".into(), json!({
        "post": with_params(admin_op("bf_admin_vaerdier_remove", "Remove values: {vaerdier: [...]}"), json!([uuid_p]))
    }));
    paths.insert("/admin/beskedfordeler/testbesked".into(), json!({
        "post": admin_op("bf_admin_testbesked", "Send a test message through the distribution: {myndighed, beskedtype?, objektId?, opgaveemne?, tilladtModtager?} -> {beskedId, statusKode, dueslag}")
    }));
    paths.insert("/metrics".into(), json!({
        "get": {"tags": ["admin"], "operationId": "metrics", "security": admin,
            "summary": "Prometheus metrics (text exposition format 0.0.4)",
            "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}, "401": problem("Missing or wrong admin token")}}
    }));
    schemas.insert("BeskedListe".into(), json!({
        "type": "object", "required": ["beskeder"],
        "properties": {"beskeder": {"type": "array", "items": {"type": "object",
            "required": ["loebenr", "beskedId", "fordelt", "haendelsesbesked"],
            "properties": {
                "loebenr": {"type": "integer", "description": "Position in the dueslag (delivery order)"},
                "beskedId": {"type": "string", "format": "uuid"},
                "fordelt": {"type": "string", "description": "When it was put in the dueslag"},
                "haendelsesbesked": {"type": "string", "description": "The Haendelsesbesked XML with the Beskedfordeler's Leverancerute"}}}}}
    }));
}
