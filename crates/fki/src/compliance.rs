//! `fki compliance report --system X [--package I-NN …]` (issue 8 item 5): what an
//! anvendersystem really did, per integration package and rule, as a report a municipality can
//! hand to the vendor. The observed checks come from a running server
//! (`GET /admin/compliance/{system}`, `fki_server::compliance`); the packages and their rules
//! from `data/integrationspakker.json`. A rule no check decides is listed as "not checked by
//! fki" (it needs a person: e.g. "the index usage guidelines are followed" beyond the rules fki
//! enforces, or an interface fki does not serve).
//!
//! Writes `report.md` and `report.json` to `--out`.
//!
//! `fki compliance probe --system X [--package I-NN …] [--wait S]` (item 4) has the server run
//! the active probes on the system now (`POST /admin/compliance/{system}/probe`,
//! `fki_server::compliance::probe`) and prints their verdicts; they are stored, so the next
//! report includes them. Exit status 1 when a probe fails.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::krav;

#[derive(Subcommand)]
pub enum ComplianceCommand {
    /// Write the report of one system (Markdown and JSON).
    Report(ReportArgs),
    /// Run the active probes on one system now (a repeated push delivery, irrelevant events
    /// against its subscriptions, expired tokens); exit status 1 if one fails.
    Probe(ProbeArgs),
}

#[derive(Args)]
pub struct ProbeArgs {
    /// The system: its UUID or name.
    #[arg(long)]
    system: String,
    /// Only the probes deciding a rule of these packages (I-01 … I-15); default: every probe.
    #[arg(long = "package")]
    pakker: Vec<String>,
    /// Seconds the token probe waits for the system's next calls (at most 600).
    #[arg(long = "wait", default_value_t = 60)]
    vent: u64,
    /// The running server (its plain HTTP listener).
    #[arg(long, env = "FKI_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's data directory (for its admin token).
    #[arg(long, env = "FKI_DATA_DIR", default_value = "./fki-data")]
    data_dir: PathBuf,
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
    match cmd {
        ComplianceCommand::Report(a) => report(a).await,
        ComplianceCommand::Probe(a) => probe(a).await,
    }
}

/// `<url>/admin/compliance/<system>[/<mere>]` with the admin token of `data_dir`.
fn adresse(
    url: &str,
    data_dir: &std::path::Path,
    system: &str,
    mere: Option<&str>,
) -> anyhow::Result<(reqwest::Url, String)> {
    let token_file = data_dir.join(fki_server::admin::TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).with_context(|| {
        format!(
            "cannot read the admin token {} (the server's --data-dir)",
            token_file.display()
        )
    })?;
    let mut u = reqwest::Url::parse(&format!("{}/admin/compliance/", url.trim_end_matches('/')))
        .context("--url")?;
    {
        let mut seg = u
            .path_segments_mut()
            .map_err(|_| anyhow::anyhow!("--url cannot be a base"))?;
        seg.pop_if_empty().push(system);
        if let Some(m) = mere {
            seg.push(m);
        }
    }
    Ok((u, token.trim().to_owned()))
}

/// The answer's JSON, or the server's reason for refusing.
async fn svar(r: reqwest::Response) -> anyhow::Result<Value> {
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the server refused: {}",
            v["detail"]
                .as_str()
                .or(v["message"].as_str())
                .or(v["error"].as_str())
                .unwrap_or("(no reason given)")
        );
    }
    Ok(v)
}

async fn probe(a: ProbeArgs) -> anyhow::Result<()> {
    let (url, token) = adresse(&a.url, &a.data_dir, &a.system, Some("probe"))?;
    eprintln!(
        "probing {} (the token probe waits up to {} s for the system's calls)…",
        a.system, a.vent
    );
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&json!({"pakker": a.pakker, "vent": a.vent}))
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", a.url))?;
    let v = svar(r).await?;
    let mut fejlet = 0;
    for p in v["prober"].as_array().into_iter().flatten() {
        let udfald = p["udfald"].as_str().unwrap_or("");
        if udfald == "fail" {
            fejlet += 1;
        }
        println!(
            "{} {}: {}",
            p["kontrol"].as_str().unwrap_or(""),
            ord(udfald).trim_matches('*'),
            p["begrundelse"].as_str().unwrap_or("")
        );
        for b in p["beviser"].as_array().into_iter().flatten() {
            println!("    {}", b["tekst"].as_str().unwrap_or(""));
        }
    }
    if fejlet > 0 {
        bail!("{fejlet} probes failed");
    }
    Ok(())
}

async fn report(a: ReportArgs) -> anyhow::Result<()> {
    let (mut url, token) = adresse(&a.url, &a.data_dir, &a.system, None)?;
    if let Some(f) = &a.fra {
        url.query_pairs_mut().append_pair("fra", f);
    }
    let r = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", a.url))?;
    let v = svar(r).await?;
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
    // The checks deciding a rule (an observed check and a probe may decide the same one).
    let afgoer = |pakke: &str, regel: &str| -> Vec<&Value> {
        kontroller
            .iter()
            .filter(|k| {
                k["regler"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r[0] == pakke && r[1] == regel)
            })
            .collect()
    };
    for p in valgte {
        if !data.packages.iter().any(|x| &x.id == p) {
            bail!("no package {p} (I-01 … I-15)");
        }
    }
    let mut pakker = Vec::new();
    for p in &data.packages {
        let daekket = p.rules.iter().any(|r| !afgoer(&p.id, r).is_empty());
        if (valgte.is_empty() && !daekket) || (!valgte.is_empty() && !valgte.contains(&p.id)) {
            continue;
        }
        let mut antal = json!({"pass": 0, "fail": 0, "not_observed": 0, "not_checked": 0});
        let regler: Vec<Value> = p
            .rules
            .iter()
            .map(|r| {
                let ks = afgoer(&p.id, r);
                let har = |u: &str| ks.iter().any(|k| k["udfald"] == u);
                // A failing check fails the rule; else a passing one passes it.
                let udfald = if ks.is_empty() {
                    "not_checked"
                } else if har("fail") {
                    "fail"
                } else if har("pass") {
                    "pass"
                } else {
                    "not_observed"
                };
                antal[udfald] = json!(antal[udfald].as_u64().unwrap_or(0) + 1);
                let kontrol = (!ks.is_empty()).then(|| {
                    ks.iter()
                        .map(|k| k["kontrol"].as_str().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                let begrundelse = (!ks.is_empty()).then(|| {
                    if ks.len() == 1 {
                        ks[0]["begrundelse"].as_str().unwrap_or("").to_owned()
                    } else {
                        ks.iter()
                            .map(|k| {
                                format!(
                                    "{}: {}",
                                    k["kontrol"].as_str().unwrap_or(""),
                                    k["begrundelse"].as_str().unwrap_or("")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                });
                let beviser: Vec<Value> = ks
                    .iter()
                    .flat_map(|k| k["beviser"].as_array().cloned().unwrap_or_default())
                    .collect();
                json!({
                    "regel": r,
                    "udfald": udfald,
                    "kontrol": kontrol,
                    "begrundelse": begrundelse,
                    "beviser": beviser,
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

    #[test]
    fn a_rule_decided_by_a_check_and_a_probe_fails_when_either_fails() {
        let regel = json!([["I-02", "security token (SF1514) always used"]]);
        let v = |token: &str, probe: &str| {
            json!({"system": {"uuid": "u", "navn": "n", "cvr": "1"}, "tid": "t", "fra": null,
            "kontroller": [
                {"kontrol": "TOKEN", "regler": regel, "udfald": token, "begrundelse": "a", "beviser": []},
                {"kontrol": "PROBE_TOKEN", "regler": regel, "udfald": probe, "begrundelse": "b", "beviser": [{"id": null, "tid": null, "tekst": "refused"}]}
            ]})
        };
        let udfald = |t: &str, p: &str| {
            let r = rapport(&v(t, p), &["I-02".into()]).unwrap();
            r["pakker"][0]["regler"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["regel"] == "security token (SF1514) always used")
                .unwrap()
                .clone()
        };
        assert_eq!(udfald("pass", "fail")["udfald"], "fail");
        assert_eq!(udfald("fail", "not_observed")["udfald"], "fail");
        assert_eq!(udfald("pass", "not_observed")["udfald"], "pass");
        assert_eq!(
            udfald("not_observed", "not_observed")["udfald"],
            "not_observed"
        );
        let g = udfald("pass", "fail");
        assert_eq!(g["kontrol"], "TOKEN, PROBE_TOKEN");
        assert_eq!(g["begrundelse"], "TOKEN: a; PROBE_TOKEN: b");
        assert_eq!(g["beviser"][0]["tekst"], "refused");
    }
}
