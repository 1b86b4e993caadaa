//! Running the real `fki` binary against a temporary data directory.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// `fki serve --dev-open` of the built binary on a free loopback port, and waiting for it.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    /// A failing test must not leave its server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(cli: &Cli<'_>, port: u16) -> Server {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fki"));
    c.args(["serve", "--dev-open", "--https-listen", "off", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("FKI_DATA_DIR", cli.data_dir)
        .env("FKI_LOG", "error")
        .env_remove("FKI_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(u) = &cli.database_url {
        c.env("FKI_DATABASE_URL", u);
    }
    Server {
        child: c.spawn().expect("fki serve starts"),
        url: format!("http://127.0.0.1:{port}"),
    }
}

pub async fn wait_ready(url: &str) {
    fki_server::tls::install_crypto_provider();
    let deadline = Instant::now() + Duration::from_secs(60);
    let c = reqwest::Client::new();
    while Instant::now() < deadline {
        if let Ok(r) = c.get(format!("{url}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fki serve did not come up at {url}");
}
