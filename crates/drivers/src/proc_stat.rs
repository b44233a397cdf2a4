//! `/proc/<pid>/stat`: what the kernel says about one process, read in one place for
//! everyone who asks (whether a task still runs and is the process it was, what a
//! task's processes use, what the simulator's server costs).
//!
//! The command name (field 2) is in parentheses and may itself hold spaces and `)`, so
//! the fields are counted from the last `)`.

/// The fields of `/proc/<pid>/stat` Caravan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 5: the process group.
    pub pgrp: i32,
    /// Field 14: user CPU time, in clock ticks ([`clock_ticks`]).
    pub user_ticks: u64,
    /// Field 15: system CPU time, in clock ticks.
    pub system_ticks: u64,
    /// Field 22: when the process started, in clock ticks since boot. With the PID it
    /// names one process: a PID reused later starts later.
    pub start_time: u64,
    /// Field 24: resident set size, in pages.
    pub rss_pages: u64,
}

impl ProcStat {
    /// The fields of one `stat` file's text.
    pub fn parse(text: &str) -> Option<ProcStat> {
        let after_name = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // `fields[0]` is field 3.
        let field = |n: usize| fields.get(n - 3).copied();
        let number = |n: usize| field(n)?.parse::<u64>().ok();
        Some(ProcStat {
            state: field(3)?.chars().next()?,
            pgrp: field(5)?.parse().ok()?,
            user_ticks: number(14)?,
            system_ticks: number(15)?,
            start_time: number(22)?,
            rss_pages: number(24)?,
        })
    }

    /// Process `pid`'s, `None` when there is no such process.
    pub fn of(pid: i32) -> Option<ProcStat> {
        if pid <= 0 {
            return None;
        }
        ProcStat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Whether the process still runs: a zombie has exited, only not been reaped.
    pub fn running(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }

    /// User and system CPU time, in seconds.
    pub fn cpu_secs(&self) -> f64 {
        (self.user_ticks + self.system_ticks) as f64 / clock_ticks() as f64
    }
}

/// Every process's, with its PID, as `/proc` lists them; one that exits while the list
/// is read is left out.
pub fn all_processes() -> impl Iterator<Item = (i32, ProcStat)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            Some((pid, ProcStat::of(pid)?))
        })
}

/// Clock ticks per second (`USER_HZ`), the unit of `stat`'s times.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_after_the_last_parenthesis_of_the_name() {
        let stat = "1234 (sh (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 100 2000000 250 18446744073709551615";
        assert_eq!(
            ProcStat::parse(stat),
            Some(ProcStat {
                state: 'S',
                pgrp: 1234,
                user_ticks: 7,
                system_ticks: 3,
                start_time: 100,
                rss_pages: 250,
            })
        );
    }

    #[test]
    fn a_truncated_or_nameless_stat_is_none() {
        assert_eq!(ProcStat::parse("1234 (sh) S 1 1234"), None);
        assert_eq!(ProcStat::parse("1234 sh S 1 1234 1234"), None);
        assert_eq!(ProcStat::parse(""), None);
    }

    #[test]
    fn this_process_runs_and_has_used_memory() {
        let me = ProcStat::of(std::process::id() as i32).unwrap();
        assert!(me.running());
        assert!(me.rss_pages > 0 && me.start_time > 0);
        assert_eq!(ProcStat::of(0), None);
        let listed = all_processes().find(|(pid, _)| *pid == std::process::id() as i32);
        assert_eq!(listed.map(|(_, stat)| stat.pgrp), Some(me.pgrp));
    }
}
