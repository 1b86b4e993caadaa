//! `fki validate sf1470 FILE` / `fki validate sf1490 FILE`: check a Sags- og dokumentindeks or
//! Ydelsesindeks request against the index rules of a running server without storing it
//! (`POST /admin/valider/sf1470`, `/admin/valider/sf1490`), as a vendor does before KOMBIT's
//! compliance test. The file is a SOAP envelope or the bare operation element
//! (`ImporterSagDokumentIndeksInput`, `ImporterYdelseIndeksInput` …). Every broken rule is
//! printed; the exit status is 1 if there is any.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ValidateCommand {
    /// A Sags- og dokumentindeks (SF1470) request.
    Sf1470(IndeksArgs),
    /// A Ydelsesindeks (SF1490) request.
    Sf1490(IndeksArgs),
}

#[derive(Args)]
pub struct IndeksArgs {
    /// The request: a SOAP envelope or the bare operation element.
    file: PathBuf,
    /// The myndighed (CVR) the request is for: references are looked up in its data.
    #[arg(long)]
    myndighed: String,
    /// The writing anvendersystem (UUID), for the ownership rule of an opdater.
    #[arg(long)]
    system: Option<String>,
    /// The running server (its plain HTTP listener).
    #[arg(long, env = "FKI_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's data directory (for its admin token).
    #[arg(long, env = "FKI_DATA_DIR", default_value = "./fki-data")]
    data_dir: PathBuf,
    /// Print the server's answer as JSON.
    #[arg(long)]
    json: bool,
}

/// Run it; `Ok(false)` when the request breaks a rule.
pub async fn run(cmd: ValidateCommand) -> anyhow::Result<bool> {
    let (sf, a) = match cmd {
        ValidateCommand::Sf1470(a) => ("sf1470", a),
        ValidateCommand::Sf1490(a) => ("sf1490", a),
    };
    let body = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let token_file = a.data_dir.join(fki_server::admin::TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).with_context(|| {
        format!(
            "cannot read the admin token {} (the server's --data-dir)",
            token_file.display()
        )
    })?;
    let mut url = reqwest::Url::parse(&format!(
        "{}/admin/valider/{sf}",
        a.url.trim_end_matches('/')
    ))
    .context("--url")?;
    url.query_pairs_mut().append_pair("myndighed", &a.myndighed);
    if let Some(s) = &a.system {
        url.query_pairs_mut().append_pair("system", s);
    }
    let r = reqwest::Client::new()
        .post(url)
        .bearer_auth(token.trim())
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", a.url))?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        bail!(
            "the server refused the validation: {}",
            v["detail"]
                .as_str()
                .or(v["message"].as_str())
                .unwrap_or("(no reason given)")
        );
    }
    if a.json {
        println!("{v}");
    } else {
        let brud = v["brud"].as_array().cloned().unwrap_or_default();
        if brud.is_empty() {
            println!("{}: valid, no index rule broken", a.file.display());
        } else {
            println!("{}: {} rule(s) broken", a.file.display(), brud.len());
            for b in &brud {
                println!(
                    "  [{}] {}: {}",
                    b["regel"].as_str().unwrap_or(""),
                    b["sti"].as_str().unwrap_or(""),
                    b["tekst"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(v["gyldig"].as_bool() == Some(true))
}
