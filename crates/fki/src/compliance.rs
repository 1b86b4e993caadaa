//! `fki compliance report --system X [--package I-NN …]` (issue 8 item 5): what an
//! anvendersystem really did, per integration package and rule, as a report a municipality can
//! hand to the vendor. The observed checks come from a running server
//! (`GET /admin/compliance/{system}`, `fki_server::compliance`); the packages and their rules
//! from `data/integrationspakker.json`. A rule no check decides is listed as "not checked by
//! fki" (it needs a person: e.g. "the index usage guidelines are followed" beyond the rules fki
//! enforces, or an interface fki does not serve).
//!
//! Writes `report.md` and `report.json` to `--out`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::krav;

#[derive(Subcommand)]
pub enum ComplianceCommand {
    /// Write the report of one system (Markdown and JSON).
    Report(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// The system: its UUID or name.
    #[arg(long)]
    system: String,
    /// Only these packages (I-01 … I-15); default: every package a check covers.
    #[arg(long = "package")]
    pakker: Vec<String>,
    /// Only what was recorded from this time on (ISO 8601).
    #[arg(long)]
    fra: Option<String>,
    /// Where report.md and report.json go.
    #[arg(long, default_value = "compliance-report")]
    out: PathBuf,
    /// The running server (its plain HTTP listener).
    #[arg(long, env = "FKI_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's data directory (for its admin token).
    #[arg(long, env = "FKI_DATA_DIR", default_value = "./fki-data")]
    data_dir: PathBuf,
}

pub async fn run(cmd: ComplianceCommand) -> anyhow::Result<()> {
    let ComplianceCommand::Report(a) = cmd;
    let token_file = a.data_dir.join(fki_server::admin::TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).with_context(|| {
        format!(
            "cannot read the admin token {} (the server's --data-dir)",
            token_file.display()
        )
    })?;
    let mut url = reqwest::Url::parse(&format!(
        "{}/admin/compliance/",
        a.url.trim_end_matches('/')
    ))
    .context("--url")?;
    url.path_segments_mut()
        .map_err(|_| anyhow::anyhow!("--url cannot be a base"))?
        .pop_if_empty()
        .push(&a.system);
    if let Some(f) = &a.fra {
        url.query_pairs_mut().append_pair("fra", f);
    }
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token.trim())
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", a.url))?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the server refused: {}",
            v["detail"]
                .as_str()
                .or(v["message"].as_str())
                .unwrap_or("(no reason given)")
        );
    }
    let rapport = rapport(&v, &a.pakker)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    std::fs::write(
        a.out.join("report.json"),
        serde_json::to_vec_pretty(&rapport)?,
    )?;
    std::fs::write(a.out.join("report.md"), markdown(&rapport))?;
    for p in rapport["pakker"].as_array().into_iter().flatten() {
        println!(
            "{} {}: {} pass, {} fail, {} not observed, {} not checked by fki",
            p["id"].as_str().unwrap_or(""),
            p["navn"].as_str().unwrap_or(""),
            p["antal"]["pass"],
            p["antal"]["fail"],
            p["antal"]["not_observed"],
            p["antal"]["not_checked"]
        );
    }
    println!("written to {}/report.md and report.json", a.out.display());
    Ok(())
}

/// The report: per package and rule, the verdict of the check that decides it.
pub fn rapport(v: &Value, valgte: &[String]) -> anyhow::Result<Value> {
    let data = krav::data()?;
    let kontroller = v["kontroller"].as_array().cloned().unwrap_or_default();
    let afgoer = |pakke: &str, regel: &str| -> Option<&Value> {
        kontroller.iter().find(|k| {
            k["regler"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r[0] == pakke && r[1] == regel)
        })
    };
    for p in valgte {
        if !data.packages.iter().any(|x| &x.id == p) {
            bail!("no package {p} (I-01 … I-15)");
        }
    }
    let mut pakker = Vec::new();
    for p in &data.packages {
        let daekket = p.rules.iter().any(|r| afgoer(&p.id, r).is_some());
        if (valgte.is_empty() && !daekket) || (!valgte.is_empty() && !valgte.contains(&p.id)) {
            continue;
        }
        let mut antal = json!({"pass": 0, "fail": 0, "not_observed": 0, "not_checked": 0});
        let regler: Vec<Value> = p
            .rules
            .iter()
            .map(|r| {
                let (udfald, k) = match afgoer(&p.id, r) {
                    Some(k) => (k["udfald"].as_str().unwrap_or("not_observed"), Some(k)),
                    None => ("not_checked", None),
                };
                antal[udfald] = json!(antal[udfald].as_u64().unwrap_or(0) + 1);
                json!({
                    "regel": r,
                    "udfald": udfald,
                    "kontrol": k.map(|k| k["kontrol"].clone()),
                    "begrundelse": k.map(|k| k["begrundelse"].clone()),
                    "beviser": k.map(|k| k["beviser"].clone()).unwrap_or(json!([])),
                })
            })
            .collect();
        pakker.push(json!({"id": p.id, "navn": p.name, "antal": antal, "regler": regler}));
    }
    Ok(json!({
        "system": v["system"],
        "tid": v["tid"],
        "fra": v["fra"],
        "pakker": pakker,
    }))
}

fn ord(udfald: &str) -> &'static str {
    match udfald {
        "pass" => "**pass**",
        "fail" => "**FAIL**",
        "not_observed" => "not observed",
        _ => "not checked by fki",
    }
}

/// The report as Markdown.
pub fn markdown(r: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").replace('|', "\\|");
    let mut m = format!(
        "# Compliance report: {} ({})\n\nAnvendersystem `{}`, CVR {}. Made by fki on {}, from what fki recorded {}.\n\n",
        s(&r["system"]["navn"]),
        s(&r["system"]["uuid"]),
        s(&r["system"]["uuid"]),
        s(&r["system"]["cvr"]),
        s(&r["tid"]),
        match r["fra"].as_str() {
            Some(f) => format!("since {f}"),
            None => "since its records begin".into(),
        }
    );
    m.push_str("Verdicts: **pass** (observed and satisfied), **FAIL** (observed and broken, with the evidence), not observed (fki saw nothing that decides it), not checked by fki (the rule needs a person, or concerns an interface fki does not serve).\n\n## Summary\n\n| package | pass | fail | not observed | not checked by fki |\n|---|---|---|---|---|\n");
    for p in r["pakker"].as_array().into_iter().flatten() {
        m.push_str(&format!(
            "| {} {} | {} | {} | {} | {} |\n",
            s(&p["id"]),
            s(&p["navn"]),
            p["antal"]["pass"],
            p["antal"]["fail"],
            p["antal"]["not_observed"],
            p["antal"]["not_checked"]
        ));
    }
    for p in r["pakker"].as_array().into_iter().flatten() {
        m.push_str(&format!(
            "\n## {} {}\n\n| rule | verdict | check | why |\n|---|---|---|---|\n",
            s(&p["id"]),
            s(&p["navn"])
        ));
        for g in p["regler"].as_array().into_iter().flatten() {
            m.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                s(&g["regel"]),
                ord(g["udfald"].as_str().unwrap_or("")),
                s(&g["kontrol"]),
                s(&g["begrundelse"])
            ));
        }
        for g in p["regler"].as_array().into_iter().flatten() {
            let beviser = g["beviser"].as_array().cloned().unwrap_or_default();
            if beviser.is_empty() {
                continue;
            }
            m.push_str(&format!("\nEvidence for \"{}\":\n\n", s(&g["regel"])));
            for b in beviser {
                let id = b["id"]
                    .as_i64()
                    .map(|i| format!("audit #{i}, "))
                    .unwrap_or_default();
                let tid = b["tid"]
                    .as_str()
                    .map(|t| format!("{t}: "))
                    .unwrap_or_default();
                m.push_str(&format!("- {id}{tid}{}\n", s(&b["tekst"])));
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every package rule a check claims to decide is a rule of that package, word for word.
    #[test]
    fn the_checks_name_real_package_rules() {
        let data = krav::data().unwrap();
        for k in fki_server::compliance::KONTROLLER {
            for (pakke, regel) in k.regler {
                let p = data
                    .packages
                    .iter()
                    .find(|p| p.id == *pakke)
                    .unwrap_or_else(|| panic!("{}: no package {pakke}", k.id));
                assert!(
                    p.rules.iter().any(|r| r == regel),
                    "{}: {pakke} has no rule {regel:?}",
                    k.id
                );
            }
        }
    }

    #[test]
    fn a_rule_takes_the_verdict_of_its_check_and_unchecked_rules_say_so() {
        let v = json!({"system": {"uuid": "u", "navn": "n", "cvr": "1"}, "tid": "t", "fra": null,
            "kontroller": [{"kontrol": "TOKEN", "regler": [["I-02", "security token (SF1514) always used"]],
                "udfald": "fail", "begrundelse": "1 refused", "beviser": [{"id": 7, "tid": "x", "tekst": "SF1520 PersonLookup"}]}]});
        let r = rapport(&v, &["I-02".into()]).unwrap();
        let p = &r["pakker"][0];
        assert_eq!(p["id"], "I-02");
        assert_eq!(p["antal"]["fail"], 1);
        assert_eq!(p["antal"]["not_checked"], 5);
        let md = markdown(&r);
        assert!(
            md.contains("| security token (SF1514) always used | **FAIL** | TOKEN | 1 refused |"),
            "{md}"
        );
        assert!(md.contains("audit #7"), "{md}");
        assert!(rapport(&v, &["I-99".into()]).is_err());
    }
}
