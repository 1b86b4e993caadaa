//! The server under test: `fki serve` of this same binary as a child process, so its memory is
//! its own and can be read from `/proc/<pid>/status`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// How long the server may take to answer `/health`.
const STARTUP: Duration = Duration::from_secs(120);
/// How long the server may take to stop after SIGTERM before it is killed.
const STOP: Duration = Duration::from_secs(15);
/// The server's log filter: warnings, without the `--dev-open` warning every request logs (the
/// REST guard's, the Beskedfordeler's HTTP routes' and its AMQP afsend's), which would measure
/// the log file.
const LOG_FILTER: &str = "warn,fki_server::sts::guard=error,fki_server::beskedfordeler::afsend=error,\
     fki_server::beskedfordeler::amqp=error";

pub struct ServerProcess {
    child: Child,
    pid: u32,
    pub url: String,
    log: PathBuf,
}

impl ServerProcess {
    /// Start `fki serve` on a free loopback port with the given store, and wait until
    /// `GET /health` answers 2xx. Its stderr goes to `log`.
    pub async fn start(
        data_dir: &Path,
        database_url: Option<&str>,
        log: PathBuf,
        client: &reqwest::Client,
    ) -> anyhow::Result<ServerProcess> {
        Self::start_with_env(data_dir, database_url, log, client, &[]).await
    }

    /// [`ServerProcess::start`] with more environment variables for the server (e.g.
    /// `FKI_AMQP_URL`).
    pub async fn start_with_env(
        data_dir: &Path,
        database_url: Option<&str>,
        log: PathBuf,
        client: &reqwest::Client,
        env: &[(&str, &str)],
    ) -> anyhow::Result<ServerProcess> {
        let exe = std::env::current_exe().context("cannot find the fki executable")?;
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .arg("--listen")
            .arg(&listen)
            .arg("--data-dir")
            .arg(data_dir)
            // The engine and store are under test, not the token checks: no tokens, no HTTPS
            // listener, and the per-request --dev-open warning silenced (it would measure the
            // log file).
            .arg("--dev-open")
            .arg("--https-listen")
            .arg("off");
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        let logfile = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        cmd.env("FKI_LOG", LOG_FILTER)
            .env_remove("FKI_DATABASE_URL")
            .env_remove("FKI_LOG_FORMAT")
            .env_remove("FKI_AMQP_URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logfile)
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("cannot start the server process")?;
        let pid = child.id().context("the server process has no pid")?;
        let url = format!("http://{listen}");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the server exited during start-up ({status}); its log:\n{}",
                    tail(&log)
                );
            }
            let ok = client
                .get(format!("{url}/health"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if started.elapsed() > STARTUP {
                bail!(
                    "the server did not answer /health within {STARTUP:?}; its log:\n{}",
                    tail(&log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(ServerProcess {
            child,
            pid,
            url,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's memory now, in MiB.
    pub fn mem(&self) -> Option<Mem> {
        mem(self.pid)
    }

    /// Start sampling the anonymous RSS (heap and stacks, without file pages) every 100 ms; the
    /// sampler keeps the largest value it saw.
    pub fn anon_sampler(&self) -> AnonSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let (pid, p) = (self.pid, Arc::clone(&peak));
        let task = tokio::spawn(async move {
            loop {
                if let Ok(kb) = proc_status_kb(pid, "RssAnon") {
                    p.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        AnonSampler { peak, task }
    }

    /// Peak resident set size so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        proc_status_kb(self.pid, "VmHWM").map(|kb| kb * 1024)
    }

    /// SIGTERM, then SIGKILL after [`STOP`]. Returns the server's log tail when it did not
    /// stop cleanly.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            bail!(
                "the server had already exited; its log:\n{}",
                tail(&self.log)
            );
        }
        terminate(self.pid);
        match tokio::time::timeout(STOP, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    tracing::warn!("the server exited with {status}");
                }
                Ok(())
            }
            Err(_) => {
                tracing::warn!("the server did not stop within {STOP:?} of SIGTERM; killing it");
                self.child.kill().await?;
                Ok(())
            }
        }
    }
}

#[cfg(unix)]
fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a pid of our own child and a valid signal number has no memory
    // effects; failure (e.g. the child is already gone) is reported through the return value.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

#[cfg(not(unix))]
fn terminate(_pid: u32) {}

/// Memory figures of a process from `/proc/<pid>/status`, in MiB.
#[derive(Debug, Clone, Copy)]
pub struct Mem {
    /// VmRSS: resident now (anonymous + file-backed + shared).
    pub rss: f64,
    /// VmHWM: the peak of VmRSS.
    pub hwm: f64,
    /// RssAnon: heap, stacks and other anonymous memory.
    pub anon: f64,
    /// RssFile: resident file pages mapped by the process (e.g. SQLite's mmap), counted once per
    /// mapping.
    pub file: f64,
}

fn mem(pid: u32) -> Option<Mem> {
    let mb = |f| proc_status_kb(pid, f).ok().map(|kb| kb as f64 / 1024.0);
    Some(Mem {
        rss: mb("VmRSS")?,
        hwm: mb("VmHWM")?,
        anon: mb("RssAnon")?,
        file: mb("RssFile")?,
    })
}

/// See [`ServerProcess::anon_sampler`]. Stops sampling when dropped.
pub struct AnonSampler {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl AnonSampler {
    pub fn peak_mb(&self) -> f64 {
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for AnonSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// A `kB` field of `/proc/<pid>/status`.
fn proc_status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .with_context(|| format!("no {field} in {path}"))
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
