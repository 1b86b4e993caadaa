//! `fki krav`: the packages, one package, JSON, and an unknown package refused.

use std::process::Command;

fn fki(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fki"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn krav_lists_packages_and_what_fki_implements() {
    let (ok, out, _) = fki(&["krav"]);
    assert!(ok);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("I-")).count(),
        15,
        "{out}"
    );
    assert!(
        out.contains("SF1520 ✓")
            && out.contains("SF1525 ✓")
            && out.contains("SF1470 ✓")
            && out.contains("SF1490 ✓"),
        "{out}"
    );

    let (ok, out, _) = fki(&["krav", "I-06", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], "I-06");
    assert_eq!(v["forretningssnitflader"][0]["sf"], "SF1500");
    assert_eq!(v["forretningssnitflader"][0]["implementeret"], true);
    assert!(
        v["forretningssnitflader"][0]["tjenester"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["sti"] == "/organisation/graphql")
    );

    let (ok, _, err) = fki(&["krav", "I-99"]);
    assert!(!ok);
    assert!(err.contains("no package \"I-99\""), "{err}");
}
