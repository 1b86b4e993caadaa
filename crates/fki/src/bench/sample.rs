//! What the load phases ask for, taken from the generated data itself: one pass over
//! `fki_demo::scaled` collects the UUIDs of units and users, the current parents of units, the
//! current (unit, user) pairs of organisationfunktioner and the brugervendtnøgler of the units,
//! from which it picks prefixes that match a handful of units.
//!
//! "Current" means valid today: a `virkning` with `from` ≤ today < `to`. A search without time
//! parameters looks at the present, so only current values make queries that find something.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

/// Longest accepted hit count of a bvn prefix.
const PREFIX_MAX_HITS: usize = 10;
/// Shortest prefix tried (so `bvn=%` and the like are never used).
const PREFIX_MIN_LEN: usize = 3;
/// How many bvn prefixes are prepared.
const PREFIXES: usize = 500;

/// A bvn prefix (already percent-encoded with its trailing `%`) and how many current units it
/// matches.
#[derive(Debug, Clone)]
pub struct Prefix {
    pub encoded: String,
    pub hits: usize,
}

/// Everything the load phases draw from.
#[derive(Debug, Default)]
pub struct Samples {
    /// Number of objects the generator yields (for the progress bar).
    pub objects: usize,
    pub units: Vec<Uuid>,
    pub users: Vec<Uuid>,
    /// Distinct current `overordnet` targets of units.
    pub parents: Vec<Uuid>,
    /// Current (tilknyttedeenheder, tilknyttedebrugere) pairs of active organisationfunktioner.
    pub pairs: Vec<(Uuid, Uuid)>,
    pub prefixes: Vec<Prefix>,
    /// Lower-cased current bvns of the units (sorted), kept until the prefixes are chosen.
    bvns: Vec<String>,
}

impl Samples {
    /// One pass over the generated objects.
    pub fn collect(objects: impl IntoIterator<Item = fki_demo::DemoObjekt>, seed: u64) -> Samples {
        let today = chrono::Local::now()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string();
        let mut s = Samples::default();
        for o in objects {
            s.observe(&o, &today);
        }
        s.parents.sort_unstable();
        s.parents.dedup();
        s.pairs.sort_unstable();
        s.pairs.dedup();
        s.choose_prefixes(seed);
        s
    }

    fn observe(&mut self, o: &fki_demo::DemoObjekt, today: &str) {
        self.objects += 1;
        if o.service != "organisation" {
            return;
        }
        let body = &o.body;
        match o.klasse {
            "organisationenhed" => {
                self.units.push(o.uuid);
                let egenskaber = &body["attributter"]["organisationenhedegenskaber"];
                if let Some(bvn) =
                    current(egenskaber, today).find_map(|e| e["brugervendtnoegle"].as_str())
                {
                    self.bvns.push(bvn.to_lowercase());
                }
                self.parents
                    .extend(current_targets(body, "overordnet", today));
            }
            "bruger" => self.users.push(o.uuid),
            "organisationfunktion" => {
                let aktiv = current(&body["tilstande"]["organisationfunktiongyldighed"], today)
                    .any(|t| t["gyldighed"] == "Aktiv");
                if !aktiv {
                    return;
                }
                let enheder: Vec<Uuid> =
                    current_targets(body, "tilknyttedeenheder", today).collect();
                for b in current_targets(body, "tilknyttedebrugere", today) {
                    self.pairs.extend(enheder.iter().map(|&e| (e, b)));
                }
            }
            _ => {}
        }
    }

    /// For random units, the shortest prefix of their bvn (at least [`PREFIX_MIN_LEN`]
    /// characters) that matches at most [`PREFIX_MAX_HITS`] current units.
    fn choose_prefixes(&mut self, seed: u64) {
        let mut bvns = std::mem::take(&mut self.bvns);
        bvns.sort_unstable();
        bvns.dedup();
        let usable: Vec<&String> = bvns
            .iter()
            .filter(|b| !b.contains(['%', '_', '\\']) && b.chars().count() >= PREFIX_MIN_LEN)
            .collect();
        if usable.is_empty() {
            return;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed_b0b5);
        let mut chosen: Vec<(String, usize)> = Vec::new();
        for _ in 0..PREFIXES.min(usable.len()) {
            let bvn = usable[rng.random_range(0..usable.len())];
            let ends: Vec<usize> = bvn
                .char_indices()
                .map(|(i, c)| i + c.len_utf8())
                .skip(PREFIX_MIN_LEN - 1)
                .collect();
            for end in ends {
                let p = &bvn[..end];
                let hits = count_prefix(&bvns, p, PREFIX_MAX_HITS + 1);
                if hits <= PREFIX_MAX_HITS {
                    chosen.push((p.to_owned(), hits));
                    break;
                }
            }
        }
        chosen.sort_unstable();
        chosen.dedup();
        chosen.shuffle(&mut rng);
        self.prefixes = chosen
            .into_iter()
            .map(|(p, hits)| Prefix {
                encoded: form_urlencoded::byte_serialize(format!("{p}%").as_bytes()).collect(),
                hits,
            })
            .collect();
    }

    /// Mean number of units the prepared prefixes match.
    pub fn mean_prefix_hits(&self) -> f64 {
        if self.prefixes.is_empty() {
            return 0.0;
        }
        self.prefixes.iter().map(|p| p.hits as f64).sum::<f64>() / self.prefixes.len() as f64
    }

    /// What is missing for the phases to run, if anything.
    pub fn missing(&self) -> Option<&'static str> {
        if self.units.is_empty() {
            Some("no organisationenheder were generated")
        } else if self.users.is_empty() {
            Some("no brugere were generated")
        } else if self.parents.is_empty() {
            Some("no unit has a current overordnet")
        } else if self.pairs.is_empty() {
            Some("no active organisationfunktion links a unit and a user")
        } else if self.prefixes.is_empty() {
            Some("no usable brugervendtnøgle prefixes")
        } else {
            None
        }
    }
}

/// How many of the sorted `xs` start with `p`, counting no further than `cap`.
fn count_prefix(xs: &[String], p: &str, cap: usize) -> usize {
    let start = xs.partition_point(|x| x.as_str() < p);
    xs[start..]
        .iter()
        .take(cap)
        .take_while(|x| x.starts_with(p))
        .count()
}

/// Whether a LoRa `virkning` covers `today` (dates compare as text: `YYYY-MM-DD…`).
fn covers(virkning: &Value, today: &str) -> bool {
    let from = virkning["from"].as_str().unwrap_or("-infinity");
    let to = virkning["to"].as_str().unwrap_or("infinity");
    let from_ok = from == "-infinity" || from <= today;
    let to_ok = to == "infinity" || (to != "-infinity" && to > today);
    from_ok && to_ok
}

/// The entries of a LoRa array (attribute group, state, relation) whose virkning covers today.
fn current<'a>(entries: &'a Value, today: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    entries
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |e| covers(&e["virkning"], today))
}

/// Current UUID targets of relation `navn`.
fn current_targets<'a>(
    body: &'a Value,
    navn: &str,
    today: &'a str,
) -> impl Iterator<Item = Uuid> + 'a {
    current(&body["relationer"][navn], today)
        .filter_map(|r| r["uuid"].as_str().and_then(|u| Uuid::parse_str(u).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_counting() {
        let xs: Vec<String> = ["a-1", "a-10", "a-11", "a-2", "b-1"]
            .map(String::from)
            .to_vec();
        assert_eq!(count_prefix(&xs, "a-1", 10), 3);
        assert_eq!(count_prefix(&xs, "a-1", 2), 2);
        assert_eq!(count_prefix(&xs, "b", 10), 1);
        assert_eq!(count_prefix(&xs, "c", 10), 0);
    }

    #[test]
    fn virkning_covers_today() {
        let v = |f: &str, t: &str| serde_json::json!({"from": f, "to": t});
        assert!(covers(&v("2007-01-01", "infinity"), "2025-06-01"));
        assert!(!covers(&v("2007-01-01", "2020-01-01"), "2025-06-01"));
        assert!(!covers(&v("2030-01-01", "infinity"), "2025-06-01"));
        assert!(covers(&v("-infinity", "2025-06-02"), "2025-06-01"));
    }

    #[test]
    fn samples_from_a_small_municipality() {
        let s = Samples::collect(fki_demo::scaled(1, 120, 150), 1);
        assert_eq!(s.units.len(), 120);
        assert_eq!(s.users.len(), 150);
        assert!(s.missing().is_none(), "{:?}", s.missing());
        assert!(
            s.prefixes
                .iter()
                .all(|p| (1..=PREFIX_MAX_HITS).contains(&p.hits))
        );
        assert!(s.prefixes.iter().all(|p| p.encoded.ends_with("%25")));
        assert!(s.objects > 120 + 2 * 150);
    }
}
