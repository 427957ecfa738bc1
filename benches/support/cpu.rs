//! How much CPU a benchmarked process used.

/// CPU seconds `pid` has used (user and system), from /proc: unlike a rate over wall-clock
/// time, hardly moved by other processes busy on the machine, so two builds measured at
/// different moments compare.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (in parentheses, maybe with spaces) start at the
    // third; utime and stime are the 14th and 15th.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(|f| f.parse().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default();
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    match (fields.get(11), fields.get(12)) {
        (Some(user), Some(system)) => (user + system) / ticks,
        _ => f64::NAN,
    }
}
