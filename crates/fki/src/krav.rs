//! `fki krav [I-NN] [--json]`: SKI 02.19's integration packages (issue 8 item 1), from
//! `data/integrationspakker.json` compiled into the binary, with which of each package's
//! interfaces fki implements: read from `fki_server::tjenester::TJENESTER`, the table the
//! server mounts its KOMBIT services from.

use anyhow::bail;
use clap::Args;
use fki_server::tjenester;
use serde::Deserialize;
use serde_json::json;

const DATA: &str = include_str!("../data/integrationspakker.json");

#[derive(Args)]
pub struct KravArgs {
    /// One package (I-01 … I-15); without it, all of them in a table.
    pakke: Option<String>,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Deserialize)]
pub(crate) struct Data {
    source: String,
    pub(crate) packages: Vec<Pakke>,
}

#[derive(Deserialize)]
pub(crate) struct Pakke {
    pub(crate) id: String,
    pub(crate) name: String,
    business: Vec<String>,
    prerequisites: Vec<String>,
    conditional: Vec<String>,
    pub(crate) rules: Vec<String>,
}

pub(crate) fn data() -> anyhow::Result<Data> {
    Ok(serde_json::from_str(DATA)?)
}

/// `SF1520 ✓` when fki implements it, else `SF1470 -`.
fn mark(sf: &str) -> String {
    let ja = !tjenester::for_sf(sf).is_empty();
    format!("{sf} {}", if ja { "✓" } else { "-" })
}

fn snitflader(list: &[String]) -> serde_json::Value {
    json!(list
        .iter()
        .map(|sf| json!({
            "sf": sf,
            "implementeret": !tjenester::for_sf(sf).is_empty(),
            "tjenester": tjenester::for_sf(sf).iter().map(|t| json!({"navn": t.navn, "sti": t.proeve.1})).collect::<Vec<_>>(),
        }))
        .collect::<Vec<_>>())
}

fn pakke_json(p: &Pakke) -> serde_json::Value {
    json!({
        "id": p.id,
        "navn": p.name,
        "forretningssnitflader": snitflader(&p.business),
        "forudsaetninger": snitflader(&p.prerequisites),
        "betingede_forudsaetninger": snitflader(&p.conditional),
        "regler": p.rules,
    })
}

pub fn run(a: KravArgs) -> anyhow::Result<()> {
    let d = data()?;
    match a.pakke {
        None if a.json => {
            let v = json!({
                "kilde": d.source,
                "implementeret": tjenester::implementerede(),
                "pakker": d.packages.iter().map(pakke_json).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        None => {
            println!("SKI 02.19 integration packages (✓: fki implements the interface)\n");
            for p in &d.packages {
                let b: Vec<String> = p.business.iter().map(|s| mark(s)).collect();
                let f: Vec<String> = p.prerequisites.iter().map(|s| mark(s)).collect();
                println!(
                    "{:<5} {:<34} {}  | needs {}",
                    p.id,
                    p.name,
                    b.join(", "),
                    f.join(", ")
                );
            }
            println!(
                "\nfki implements: {}",
                tjenester::implementerede().join(", ")
            );
        }
        Some(id) => {
            let Some(p) = d.packages.iter().find(|p| p.id.eq_ignore_ascii_case(&id)) else {
                bail!(
                    "no package {id:?}; the packages are {}",
                    d.packages
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            if a.json {
                println!("{}", serde_json::to_string_pretty(&pakke_json(p))?);
                return Ok(());
            }
            println!("{} {}\n", p.id, p.name);
            for (titel, list) in [
                ("Business interfaces", &p.business),
                ("Prerequisites", &p.prerequisites),
                ("Conditional prerequisites", &p.conditional),
            ] {
                println!("{titel}:");
                if list.is_empty() {
                    println!("  (none)");
                }
                for sf in list {
                    let t = tjenester::for_sf(sf);
                    if t.is_empty() {
                        println!("  {sf:<12} not implemented by fki");
                    } else {
                        for t in t {
                            println!(
                                "  {sf:<12} implemented: {} ({} {})",
                                t.navn, t.proeve.0, t.proeve.1
                            );
                        }
                    }
                }
            }
            println!("\nRules:");
            for r in &p.rules {
                println!("  - {r}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packages_load_and_name_fifteen() {
        let d = data().unwrap();
        let ids: Vec<&str> = d.packages.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), 15, "{ids:?}");
        assert!(ids.contains(&"I-02") && ids.contains(&"I-15"));
        let i02 = d.packages.iter().find(|p| p.id == "I-02").unwrap();
        let v = pakke_json(i02);
        let b = v["forretningssnitflader"].as_array().unwrap();
        let sf1520 = b.iter().find(|x| x["sf"] == "SF1520").unwrap();
        assert_eq!(sf1520["implementeret"], true);
        let sf1525 = b.iter().find(|x| x["sf"] == "SF1525").unwrap();
        assert_eq!(sf1525["implementeret"], true);
        let i04 = d.packages.iter().find(|p| p.id == "I-04").unwrap();
        let v04 = pakke_json(i04);
        let sf1470 = v04["forretningssnitflader"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["sf"] == "SF1470")
            .unwrap();
        assert_eq!(sf1470["implementeret"], true);
        let i05 = d.packages.iter().find(|p| p.id == "I-05").unwrap();
        let v05 = pakke_json(i05);
        let sf1490 = v05["forretningssnitflader"]
            .as_array()
            .unwrap()
            .iter()
            .chain(v05["forudsaetninger"].as_array().unwrap())
            .find(|x| x["sf"] == "SF1490")
            .unwrap();
        assert_eq!(sf1490["implementeret"], true);
        assert_eq!(v["forudsaetninger"][0]["sf"], "SF1514");
        assert_eq!(v["forudsaetninger"][0]["implementeret"], true);
    }
}
