//! Print the demo municipality as JSON lines: `cargo run -p fki-demo --example dump [seed] [enheder] [brugere]`.
//! Each line is `{"service", "klasse", "uuid", "faelles", "body"}`; PUT `body` to
//! `/{service}/{klasse}/{uuid}` in the order given and every reference resolves.

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let cfg = fki_demo::DemoConfig::default();
    let seed = args.next().unwrap_or(cfg.seed);
    let enheder = args.next().map_or(cfg.enheder, |n| n as usize);
    let brugere = args.next().map_or(cfg.brugere, |n| n as usize);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for o in fki_demo::scaled(seed, enheder, brugere) {
        let linje = serde_json::json!({
            "service": o.service,
            "klasse": o.klasse,
            "uuid": o.uuid,
            "faelles": o.faelles,
            "body": o.body,
        });
        writeln!(out, "{linje}")?;
    }
    out.flush()
}
