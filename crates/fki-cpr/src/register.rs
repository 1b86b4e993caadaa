//! The person register the CPR services answer from: the people (and companies) of one or more
//! generated populations, by number.
//!
//! Its source is the JSON Lines file `fki population generate` writes
//! (`{"person": {...}}` and `{"virksomhed": {...}}` lines); the server reads every
//! `<data-dir>/cpr/*.jsonl` at start, then replays the CPR events' log
//! (`crate::haendelse::Logbog`) over it. The register is in memory: a generated population is
//! reproducible from its parameters and the log from its seeds, so the files are its whole
//! state.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::Deserialize;

use crate::nummer::Cpr;
use crate::population::{Person, Population, Virksomhed};

/// People by CPR number, companies by CVR number.
#[derive(Debug, Default, Clone)]
pub struct Register {
    personer: HashMap<Cpr, Person>,
    /// Every number in the order it was added: the deterministic order the CPR events pick
    /// people from.
    orden: Vec<Cpr>,
    virksomheder: HashMap<String, Virksomhed>,
}

/// Write `pop` in the form [`Register::laes_jsonl`] reads (the population file): a
/// `{"person": …}` line per person, then a `{"virksomhed": …}` line per company; `linje` is
/// called after each line (progress).
pub fn skriv_jsonl(
    pop: &Population,
    mut w: impl Write,
    mut linje: impl FnMut(),
) -> std::io::Result<()> {
    for x in &pop.personer {
        serde_json::to_writer(&mut w, &serde_json::json!({ "person": x }))?;
        w.write_all(b"\n")?;
        linje();
    }
    for v in &pop.virksomheder {
        serde_json::to_writer(&mut w, &serde_json::json!({ "virksomhed": v }))?;
        w.write_all(b"\n")?;
        linje();
    }
    w.flush()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Linje {
    person: Option<Person>,
    virksomhed: Option<Virksomhed>,
}

impl Register {
    pub fn new() -> Register {
        Register::default()
    }

    /// Add a generated population.
    pub fn tilfoej(&mut self, p: Population) {
        for x in p.personer {
            self.indsaet(x);
        }
        for v in p.virksomheder {
            self.virksomheder.insert(v.cvr.clone(), v);
        }
    }

    /// Add the lines of a population file; returns (people, companies) read. A line that is
    /// not a person or company is an error naming the line.
    pub fn laes_jsonl(&mut self, r: impl BufRead) -> Result<(usize, usize), String> {
        let (mut p, mut v) = (0, 0);
        for (i, linje) in r.lines().enumerate() {
            let linje = linje.map_err(|e| format!("line {}: {e}", i + 1))?;
            if linje.trim().is_empty() {
                continue;
            }
            let l: Linje =
                serde_json::from_str(&linje).map_err(|e| format!("line {}: {e}", i + 1))?;
            match (l.person, l.virksomhed) {
                (Some(x), None) => {
                    self.indsaet(x);
                    p += 1;
                }
                (None, Some(x)) => {
                    self.virksomheder.insert(x.cvr.clone(), x);
                    v += 1;
                }
                _ => {
                    return Err(format!(
                        "line {}: expected {{\"person\": …}} or {{\"virksomhed\": …}}",
                        i + 1
                    ));
                }
            }
        }
        Ok((p, v))
    }

    /// Add or replace a person.
    pub fn indsaet(&mut self, x: Person) {
        let cpr = x.cpr;
        if self.personer.insert(cpr, x).is_none() {
            self.orden.push(cpr);
        }
    }

    /// Every number, in the order the people were added.
    pub fn orden(&self) -> &[Cpr] {
        &self.orden
    }

    pub(crate) fn person_mut(&mut self, cpr: &Cpr) -> Option<&mut Person> {
        self.personer.get_mut(cpr)
    }

    pub fn person(&self, cpr: &Cpr) -> Option<&Person> {
        self.personer.get(cpr)
    }

    pub fn virksomhed(&self, cvr: &str) -> Option<&Virksomhed> {
        self.virksomheder.get(cvr)
    }

    /// Every person, in no particular order.
    pub fn personer(&self) -> impl Iterator<Item = &Person> {
        self.personer.values()
    }

    /// Every company, in no particular order.
    pub fn virksomheder(&self) -> impl Iterator<Item = &Virksomhed> {
        self.virksomheder.values()
    }

    pub fn antal_personer(&self) -> usize {
        self.personer.len()
    }

    pub fn antal_virksomheder(&self) -> usize {
        self.virksomheder.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{Parametre, generate};

    #[test]
    fn a_population_file_reads_back_into_the_same_people() {
        let pop = generate(&Parametre::new("0751", 200, 3), |_| {});
        let mut fil = Vec::new();
        for x in &pop.personer {
            fil.extend(serde_json::to_vec(&serde_json::json!({ "person": x })).unwrap());
            fil.push(b'\n');
        }
        for x in &pop.virksomheder {
            fil.extend(serde_json::to_vec(&serde_json::json!({ "virksomhed": x })).unwrap());
            fil.push(b'\n');
        }
        let mut r = Register::new();
        assert_eq!(
            r.laes_jsonl(&fil[..]).unwrap(),
            (pop.personer.len(), pop.virksomheder.len())
        );
        for x in &pop.personer {
            assert_eq!(r.person(&x.cpr), Some(x));
        }
        assert_eq!(
            r.laes_jsonl(&b"{\"person\": 1}\n"[..]).unwrap_err()[..6],
            *"line 1"
        );
        assert!(r.laes_jsonl(&b"{}\n"[..]).is_err());
    }
}
