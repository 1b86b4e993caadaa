//! The Adgangsstyring CLI (`fki ca|system|service|aftale|audit`), run as the real binary against
//! a temporary data directory: SQLite always, PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Cli, field};
use fki_store::testing::fresh_postgres;

const ORG: &str = "http://stoettesystemerne.dk/service/organisation/3";

fn scenario(cli: &Cli<'_>, out_dir: &Path) {
    let out_s = out_dir.to_str().unwrap();

    // The CA.
    let pem = cli.ok(&["ca", "export"]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let ca_file = out_dir.join("root.pem");
    cli.ok(&["ca", "export", "--out", ca_file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&ca_file).unwrap(), pem);
    assert!(cli.ok(&["ca", "show"]).contains("sha256"));

    // A system with a fresh certificate, in seconds.
    let t = std::time::Instant::now();
    let created = cli.ok(&[
        "system",
        "create",
        "--name",
        "Test ESDH",
        "--cvr",
        "12345678",
        "--out",
        out_s,
        "--password",
        "hemmelig",
    ]);
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
    let uuid = field(&created, "system");
    let sha = field(&created, "sha256");
    let crt = out_dir.join("Test-ESDH.crt.pem");
    let key = out_dir.join("Test-ESDH.key.pem");
    let p12 = out_dir.join("Test-ESDH.p12");
    for f in [&crt, &key, &p12] {
        assert!(f.exists(), "{} missing; output: {created}", f.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The PKCS#12 file opens with its password and holds the certificate.
    let o = Command::new("openssl")
        .args([
            "pkcs12",
            "-in",
            p12.to_str().unwrap(),
            "-nokeys",
            "-clcerts",
        ])
        .args(["-passin", "pass:hemmelig"])
        .output()
        .expect("openssl runs");
    assert!(
        o.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("BEGIN CERTIFICATE"));
    // The certificate chains to the exported root.
    let o = Command::new("openssl")
        .args(["verify", "-CAfile", ca_file.to_str().unwrap()])
        .arg(&crt)
        .output()
        .expect("openssl runs");
    assert!(
        o.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // Never overwrites.
    let err = cli.fails(&[
        "system",
        "create",
        "--name",
        "Test ESDH",
        "--cvr",
        "12345678",
        "--out",
        out_s,
    ]);
    assert!(err.contains("exists already"), "{err}");

    let list = cli.ok(&["system", "list"]);
    assert!(list.contains(&uuid) && list.contains("Test ESDH") && list.contains(&sha));
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["system", "list", "--json"])).unwrap();
    assert_eq!(json[0]["uuid"], uuid.as_str());

    // Registering the same certificate again is refused; as a service provider it is fine
    // with another certificate.
    let err = cli.fails(&[
        "system",
        "register",
        "--name",
        "Again",
        "--cvr",
        "12345678",
        "--cert",
        crt.to_str().unwrap(),
    ]);
    assert!(err.contains("already registered"), "{err}");
    let reg = cli.ok(&[
        "system",
        "register",
        "--name",
        "Root as provider",
        "--cvr",
        "87654321",
        "--cert",
        ca_file.to_str().unwrap(),
        "--rolle",
        "serviceudbyder",
    ]);
    assert!(reg.contains("sha256"));

    // Validation.
    let err = cli.fails(&["system", "create", "--name", "X", "--cvr", "1234"]);
    assert!(err.contains("CVR must be exactly 8 digits"), "{err}");
    let err = cli.fails(&[
        "aftale",
        "create",
        "--system",
        &uuid,
        "--service",
        ORG,
        "--cvr",
        "abcdefgh",
    ]);
    assert!(err.contains("CVR"), "{err}");
    let err = cli.fails(&[
        "aftale",
        "create",
        "--system",
        &uuid,
        "--service",
        "http://nope/1",
        "--cvr",
        "29189846",
    ]);
    assert!(err.contains("no service"), "{err}");

    // Services.
    let services = cli.ok(&["service", "list"]);
    assert!(services.contains(ORG), "{services}");
    cli.ok(&[
        "service",
        "add",
        "--entity-id",
        "http://fki.dk/service/test/1",
        "--name",
        "Test",
        "--sf",
        "SF9999",
    ]);
    assert!(
        cli.ok(&["service", "list"])
            .contains("http://fki.dk/service/test/1")
    );

    // The agreement lifecycle.
    let a = cli.ok(&[
        "aftale",
        "create",
        "--system",
        "Test ESDH",
        "--service",
        ORG,
        "--cvr",
        "29189846",
        "--rolle",
        "urn:rolle:laes",
        "--begraensning",
        "KLE=27.*",
    ]);
    let aftale = field(&a, "aftale");
    assert_eq!(field(&a, "status"), "anmodet");
    let err = cli.fails(&["aftale", "activate", &aftale]);
    assert!(
        err.contains("'anmodet'") && err.contains("cannot become 'aktiv'"),
        "{err}"
    );
    assert_eq!(
        field(&cli.ok(&["aftale", "approve", &aftale]), "status"),
        "godkendt"
    );
    assert_eq!(
        field(&cli.ok(&["aftale", "activate", &aftale]), "status"),
        "aktiv"
    );
    let listed: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "aftale", "list", "--cvr", "29189846", "--status", "aktiv", "--json",
    ]))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["uuid"], aftale.as_str());
    assert_eq!(listed[0]["roller"][0], "urn:rolle:laes");
    assert_eq!(listed[0]["dataafgraensninger"][0]["vaerdi"], "27.*");
    assert_eq!(listed[0]["service_entity_id"], ORG);
    assert_eq!(
        field(&cli.ok(&["aftale", "revoke", &aftale]), "status"),
        "tilbagekaldt"
    );
    let err = cli.fails(&["aftale", "revoke", &aftale]);
    assert!(err.contains("cannot become 'tilbagekaldt'"), "{err}");
    let err = cli.fails(&["aftale", "approve", "not-a-uuid"]);
    assert!(err.contains("UUID"), "{err}");

    // grant: straight to aktiv.
    let g = cli.ok(&[
        "aftale",
        "grant",
        "--system",
        &uuid,
        "--service",
        ORG,
        "--cvr",
        "55133018",
    ]);
    assert_eq!(field(&g, "status"), "aktiv");
    let table = cli.ok(&["aftale", "list", "--system", "Test ESDH"]);
    assert_eq!(table.lines().count(), 3, "{table}");

    // The audit log is readable (empty: nothing asked for tokens yet).
    let audit = cli.ok(&["audit", "--since", "2020-01-01T00:00:00Z", "--limit", "5"]);
    assert!(audit.starts_with("TID"), "{audit}");
    assert_eq!(cli.ok(&["audit", "--json"]).trim(), "[]");
    let err = cli.fails(&["audit", "--since", "yesterday-ish"]);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let cli = Cli {
        data_dir: dir.path(),
        database_url: None,
    };
    scenario(&cli, out.path());
    assert!(dir.path().join("fki.sqlite").exists());
    assert!(dir.path().join("ca").join("root-ca.pem").exists());
}

#[test]
fn cli_on_postgres() {
    let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
        eprintln!("skipped cli_on_postgres: FKI_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, guard) = rt.block_on(fresh_postgres(&base)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let cli = Cli {
        data_dir: dir.path(),
        database_url: Some(url),
    };
    scenario(&cli, out.path());
    assert!(!dir.path().join("fki.sqlite").exists());
    rt.block_on(guard.cleanup()).unwrap();
}
