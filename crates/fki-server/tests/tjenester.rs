//! The table of mounted KOMBIT services (`fki_server::tjenester`) is what the server exposes:
//! each entry's path answers on a running server (anything but 404 or 405: an empty request is
//! refused by the service itself), and a path no entry declares is 404.

use fki_server::Config;
use fki_server::tjenester::{TJENESTER, implementerede};

#[tokio::test]
async fn every_declared_service_answers() {
    let dir = tempfile::tempdir().unwrap();
    let h = fki_server::start(Config::for_test(dir.path().to_path_buf(), None))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for t in TJENESTER {
        let (method, path) = t.proeve;
        let r = client
            .request(method.parse().unwrap(), format!("{}{path}", h.url()))
            .body("")
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        assert!(
            s != 404 && s != 405,
            "{}: {method} {path} answered {s}",
            t.navn
        );
    }
    let r = client
        .post(format!("{}/service/CPR/Ukendt/1", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "an undeclared service is not there"
    );
    assert!(implementerede().contains(&"SF1520"));
    assert!(implementerede().contains(&"SF1530"));
    assert!(implementerede().contains(&"SF1525") && implementerede().contains(&"SF1320_A"));
    assert!(implementerede().contains(&"SF1470"));
    assert!(implementerede().contains(&"SF1490"));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
}
