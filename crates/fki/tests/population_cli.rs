//! `fki population generate`: deterministic output, clear refusals.

use std::process::Command;

fn fki() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fki"))
}

#[test]
fn the_same_parameters_write_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let st = fki()
            .args(["population", "generate", "--municipality", "0751"])
            .args(["--people", "1500", "--seed", "7", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        std::fs::read_to_string(out).unwrap()
    };
    let a = run("a.jsonl");
    let b = run("b.jsonl");
    assert_eq!(a, b);
    let lines: Vec<serde_json::Value> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let people = lines.iter().filter(|v| v.get("person").is_some()).count();
    let companies = lines
        .iter()
        .filter(|v| v.get("virksomhed").is_some())
        .count();
    assert_eq!((people, companies), (1500, 60));
    let first = &lines[0]["person"];
    assert_eq!(first["adresse"]["kommunekode"], "0751");
    assert_eq!(first["cpr"].as_str().map(str::len), Some(10));
}

#[test]
fn a_bad_municipality_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let st = fki()
        .args([
            "population",
            "generate",
            "--municipality",
            "751",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!st.status.success());
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(err.contains("kommunekode of 4 digits"), "{err}");
}
