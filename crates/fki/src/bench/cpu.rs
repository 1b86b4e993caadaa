//! Where the CPU time of a phase goes: the server process, the bench process itself, and the
//! whole machine (which also holds the database server and anything else running), from
//! `/proc`. Linux only; elsewhere every reading is `None`.

use serde_json::{Value, json};

/// CPU counters at one moment, in clock ticks.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    server: u64,
    bench: u64,
    machine_busy: u64,
    machine_total: u64,
}

/// CPU used between two snapshots, in core-seconds.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub server: f64,
    pub bench: f64,
    /// Busy time of all cores (server, bench, database and everything else).
    pub machine_busy: f64,
    /// Elapsed time times cores.
    pub machine_total: f64,
}

impl Snapshot {
    pub fn take(server_pid: u32) -> Option<Snapshot> {
        let (machine_busy, machine_total) = machine_ticks()?;
        Some(Snapshot {
            server: process_ticks(&server_pid.to_string())?,
            bench: process_ticks("self")?,
            machine_busy,
            machine_total,
        })
    }

    pub fn since(&self, earlier: &Snapshot) -> Usage {
        let tck = ticks_per_second();
        let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / tck;
        Usage {
            server: d(self.server, earlier.server),
            bench: d(self.bench, earlier.bench),
            machine_busy: d(self.machine_busy, earlier.machine_busy),
            machine_total: d(self.machine_total, earlier.machine_total),
        }
    }
}

impl Usage {
    /// CPU shares of the phase's wall time in percent of one core, and the server's CPU time per
    /// request.
    pub fn to_json(self, wall: f64, requests: u64) -> Value {
        let pct = |x: f64| (x / wall.max(1e-9) * 1000.0).round() / 10.0;
        let other = (self.machine_busy - self.server - self.bench).max(0.0);
        json!({
            "server_pct": pct(self.server),
            "bench_pct": pct(self.bench),
            "other_pct": pct(other),
            "idle_pct": pct((self.machine_total - self.machine_busy).max(0.0)),
            "server_cpu_ms_per_req": if requests == 0 {
                Value::Null
            } else {
                json!((self.server * 1e6 / requests as f64).round() / 1000.0)
            },
        })
    }

    /// `95/60/40/5`: server, bench, other and idle in percent of one core.
    pub fn shares(self, wall: f64) -> String {
        let pct = |x: f64| x / wall.max(1e-9) * 100.0;
        let other = (self.machine_busy - self.server - self.bench).max(0.0);
        format!(
            "{:.0}/{:.0}/{:.0}/{:.0}",
            pct(self.server),
            pct(self.bench),
            pct(other),
            pct((self.machine_total - self.machine_busy).max(0.0))
        )
    }
}

/// utime + stime of `/proc/<pid>/stat`.
fn process_ticks(pid: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total ticks of all cores from the first line of `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest times are inside user/nice).
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    let idle = get(3) + get(4);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    Some((busy, busy + idle))
}

#[cfg(unix)]
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

#[cfg(not(unix))]
fn ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_readable() {
        if cfg!(target_os = "linux") {
            assert!(process_ticks("self").is_some());
            let (busy, total) = machine_ticks().unwrap();
            assert!(total >= busy);
        }
    }
}
