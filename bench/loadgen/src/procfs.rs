//! CPU and memory of a process, read from `/proc` (Linux only).

use crate::Error;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux this runs on;
/// read without libc because the workspace forbids unsafe code).
const TICKS_PER_S: f64 = 100.0;

/// A process whose `/proc` entries are read.
pub struct ProcStat {
    dir: String,
}

/// User and system CPU time so far.
#[derive(Debug, Clone, Copy)]
pub struct Cpu {
    pub user_s: f64,
    pub system_s: f64,
}

impl ProcStat {
    pub fn new(pid: u32) -> ProcStat {
        ProcStat {
            dir: format!("/proc/{pid}"),
        }
    }

    pub fn myself() -> ProcStat {
        ProcStat {
            dir: "/proc/self".to_owned(),
        }
    }

    /// Fields 14 (utime) and 15 (stime) of `stat`. The command name (field 2) may hold spaces,
    /// so fields are counted from its closing parenthesis.
    pub fn cpu(&self) -> Result<Cpu, Error> {
        let path = format!("{}/stat", self.dir);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let rest = text
            .rsplit_once(") ")
            .map(|(_, r)| r)
            .ok_or_else(|| format!("{path}: no command name"))?;
        let fields: Vec<&str> = rest.split(' ').collect();
        let tick = |i: usize| -> Result<f64, Error> {
            let v: u64 = fields
                .get(i)
                .ok_or_else(|| format!("{path}: too few fields"))?
                .parse()?;
            Ok(v as f64 / TICKS_PER_S)
        };
        // After the name, field 3 is at index 0, so field n is at index n - 3.
        Ok(Cpu {
            user_s: tick(14 - 3)?,
            system_s: tick(15 - 3)?,
        })
    }

    /// `VmRSS` of `status`, in KiB.
    pub fn rss_kib(&self) -> Result<u64, Error> {
        let path = format!("{}/status", self.dir);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .ok_or_else(|| format!("{path}: no VmRSS"))?;
        let kib = line.trim().trim_end_matches("kB").trim().parse()?;
        Ok(kib)
    }
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minutes), or "?" off Linux.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}
