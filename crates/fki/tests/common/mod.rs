//! Running the real `fki` binary against a temporary data directory.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub struct Cli<'a> {
    pub data_dir: &'a Path,
    pub database_url: Option<String>,
}

impl Cli<'_> {
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fki"));
        c.args(args)
            .env("FKI_DATA_DIR", self.data_dir)
            .env("FKI_LOG", "warn")
            .env_remove("RUST_BACKTRACE")
            .env_remove("FKI_DATABASE_URL");
        if let Some(u) = &self.database_url {
            c.env("FKI_DATABASE_URL", u);
        }
        c.output().expect("fki runs")
    }

    /// Run; assert success; stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "fki {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Run; assert failure; stderr.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            !o.status.success(),
            "fki {args:?} should fail but printed {}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stderr).unwrap()
    }
}

/// The value after `key` in `key   value` output.
pub fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}
