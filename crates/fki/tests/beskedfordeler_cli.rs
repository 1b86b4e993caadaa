//! The Beskedfordeler CLI (`fki dueslag|abonnement|vaerdiliste`), run as the real binary against
//! a temporary data directory: SQLite always, PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use common::Cli;
use fki_store::testing::fresh_postgres;
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn scenario(cli: &Cli<'_>, dir: &std::path::Path) {
    let d = dir.to_str().unwrap();
    cli.ok(&[
        "system",
        "create",
        "--name",
        "Fagsystem",
        "--cvr",
        "11111111",
        "--out",
        d,
    ]);

    // dueslag: pull and push; refusals name the problem
    let pull = json(&cli.ok(&[
        "dueslag",
        "create",
        "--name",
        "indbakke",
        "--system",
        "Fagsystem",
        "--cvr",
        "11111111",
    ]));
    assert_eq!(pull["levering"], "pull");
    let push = json(&cli.ok(&[
        "dueslag",
        "create",
        "--name",
        "push",
        "--system",
        "Fagsystem",
        "--cvr",
        "11111111",
        "--push",
        "http://127.0.0.1:9/modtag",
        "--max-attempts",
        "3",
    ]));
    assert_eq!(push["callbackUrl"], "http://127.0.0.1:9/modtag");
    assert_eq!(push["maksForsoeg"], 3);
    let err = cli.fails(&[
        "dueslag",
        "create",
        "--name",
        "x",
        "--system",
        "Fagsystem",
        "--cvr",
        "1",
    ]);
    assert!(err.contains("CVR"), "{err}");
    let err = cli.fails(&[
        "dueslag", "create", "--name", "x", "--system", "Ukendt", "--cvr", "11111111",
    ]);
    assert!(err.to_lowercase().contains("ukendt"), "{err}");
    let du = pull["uuid"].as_str().unwrap();

    // Værdiliste from a file; add and remove
    let file = dir.join("cpr.txt");
    std::fs::write(
        &file,
        "# mine borgere\nurn:oio:cpr-nr:0101011111\nurn:oio:cpr-nr:0202022222\n\n",
    )
    .unwrap();
    let l = json(&cli.ok(&[
        "vaerdiliste",
        "create",
        "--name",
        "borgere",
        "--system",
        "Fagsystem",
        "--file",
        file.to_str().unwrap(),
    ]));
    let lu = l["uuid"].as_str().unwrap();
    let v0 = l["version"].as_i64().unwrap();
    std::fs::write(&file, "urn:oio:cpr-nr:0303033333\n").unwrap();
    let out = cli.ok(&["vaerdiliste", "add", lu, file.to_str().unwrap()]);
    assert!(out.starts_with("1 values added"), "{out}");
    std::fs::write(
        &file,
        "urn:oio:cpr-nr:0101011111\nurn:oio:cpr-nr:9999999999\n",
    )
    .unwrap();
    let out = cli.ok(&["vaerdiliste", "remove", lu, file.to_str().unwrap()]);
    assert!(out.starts_with("1 values removed"), "{out}");
    let lists = json(&cli.ok(&["vaerdiliste", "list", "--json"]));
    assert!(lists["vaerdilister"][0]["version"].as_i64().unwrap() > v0);

    // abonnementer: text filter with the list; a bad filter says where it is wrong
    let a = json(&cli.ok(&[
        "abonnement",
        "create",
        "--dueslag",
        du,
        "--filter",
        &format!("relateretobjekt.objektid IN vaerdiliste(\"{lu}\")"),
    ]));
    assert_eq!(a["aktiv"], true);
    let au = a["uuid"].as_str().unwrap();
    let err = cli.fails(&[
        "abonnement",
        "create",
        "--dueslag",
        du,
        "--filter",
        "beskedtype = ",
    ]);
    assert!(err.contains("filter"), "{err}");
    cli.ok(&["abonnement", "stop", au]);
    let listed = json(&cli.ok(&["abonnement", "list", "--dueslag", du, "--json"]));
    assert_eq!(listed["abonnementer"][0]["aktiv"], false);
    cli.ok(&["abonnement", "start", au]);
    let listed = json(&cli.ok(&["abonnement", "list", "--json"]));
    assert_eq!(listed["abonnementer"][0]["aktiv"], true);

    // inspection
    let all = json(&cli.ok(&["dueslag", "list", "--json"]));
    assert_eq!(all["dueslag"].as_array().unwrap().len(), 2);
    assert_eq!(all["dueslag"][0]["status"]["klar"], 0);
    let table = cli.ok(&["dueslag", "list"]);
    assert!(table.contains("indbakke") && table.contains(du), "{table}");
    let shown = json(&cli.ok(&["dueslag", "show", du]));
    assert_eq!(shown["fejlkoe"], Value::Array(vec![]));
    cli.ok(&["dueslag", "deactivate", du]);
    let shown = json(&cli.ok(&["dueslag", "show", du]));
    assert_eq!(shown["aktiv"], false);
    cli.ok(&["dueslag", "activate", du]);
    let shown = json(&cli.ok(&["dueslag", "show", du]));
    assert_eq!(shown["aktiv"], true);
    let err = cli.fails(&["dueslag", "replay", du, "1"]);
    assert!(err.contains("no message 1"), "{err}");
}

#[test]
fn beskedfordeler_cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(
        &Cli {
            data_dir: dir.path(),
            database_url: None,
        },
        dir.path(),
    );
}

#[test]
fn beskedfordeler_cli_on_postgres() {
    let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, guard) = rt.block_on(fresh_postgres(&base)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    scenario(
        &Cli {
            data_dir: dir.path(),
            database_url: Some(url),
        },
        dir.path(),
    );
    rt.block_on(guard.cleanup()).unwrap();
}

/// `fki besked send` through a running server: the message reaches the dueslag its abonnement
/// selects, and the CLI says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn besked_send_through_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli {
        data_dir: dir.path(),
        database_url: None,
    };
    let d = dir.path().to_str().unwrap();
    cli.ok(&[
        "system",
        "create",
        "--name",
        "Fagsystem",
        "--cvr",
        "11111111",
        "--out",
        d,
    ]);
    let du = json(&cli.ok(&[
        "dueslag",
        "create",
        "--name",
        "ind",
        "--system",
        "Fagsystem",
        "--cvr",
        "11111111",
    ]))["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    cli.ok(&[
        "abonnement",
        "create",
        "--dueslag",
        &du,
        "--filter",
        "objektregistrering.opgaveemne ^= \"urn:oio:kle:27\"",
    ]);
    let port = common::free_port();
    let mut server = common::start(&cli, port);
    common::wait_ready(&server.url).await;
    let url = server.url.clone();
    let send = |kle: &'static str| {
        let args = [
            "besked",
            "send",
            "--url",
            &url,
            "--cvr",
            "11111111",
            "--opgaveemne",
            kle,
        ]
        .map(str::to_owned);
        let data_dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let c = Cli {
                data_dir: &data_dir,
                database_url: None,
            };
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            json(&c.ok(&a))
        })
    };
    let v = send("urn:oio:kle:27.35.04").await.unwrap();
    assert_eq!(v["statusKode"], 20);
    assert_eq!(v["dueslag"], serde_json::json!([du]));
    let v = send("urn:oio:kle:32.01").await.unwrap();
    assert_eq!(v["dueslag"], serde_json::json!([]));
    let err = cli.fails(&["besked", "send", "--url", &url, "--cvr", "1"]);
    assert!(err.contains("CVR"), "{err}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let shown = json(&cli.ok(&["dueslag", "show", &du]));
    assert_eq!(shown["status"]["klar"], 1);
}
