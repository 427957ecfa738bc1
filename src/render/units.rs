//! Human-readable times. Inside, times are integer nanoseconds; only here do they become
//! text, with three significant digits as trace UIs show them (`12.3ms`, `1.24s`).

/// Formats a duration: `850ns`, `12.3µs`, `4.56ms`, `1.24s`, `2m03s`, `1h05m`, `24h`,
/// `3d`, `2d12h`: three significant digits below a minute, then whole units, the
/// smaller one left out when it is zero. Hours up to two days (`36h` reads better than
/// `1d12h`), days beyond.
/// The `s` of a count's noun: `format!("{n} call{}", plural(n))`.
pub fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}

pub fn duration(ns: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let pair = |big: u64, big_unit: &str, small: u64, small_unit: &str, pad: bool| match (small, pad) {
        (0, _) => format!("{big}{big_unit}"),
        (_, true) => format!("{big}{big_unit}{small:02}{small_unit}"),
        (_, false) => format!("{big}{big_unit}{small}{small_unit}"),
    };
    let seconds = ns / S;
    match ns {
        0..US => format!("{ns}ns"),
        US..MS => scaled(ns as f64 / US as f64, "µs"),
        MS..S => scaled(ns as f64 / MS as f64, "ms"),
        _ if seconds < MINUTE => scaled(ns as f64 / S as f64, "s"),
        _ if seconds < HOUR => pair(seconds / MINUTE, "m", seconds % MINUTE, "s", true),
        _ if seconds < 2 * DAY => pair(seconds / HOUR, "h", seconds % HOUR / MINUTE, "m", true),
        _ => pair(seconds / DAY, "d", seconds % DAY / HOUR, "h", false),
    }
}

/// Formats an amount of memory in decimal units, three significant digits as durations
/// are: `850 B`, `12.3 kB`, `4.56 MB`, `1.24 GB`, `3.00 TB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = [" kB", " MB", " GB", " TB", " PB"];
    if n < 1_000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1_000.0;
    let mut unit = 0;
    while value >= 999.5 && unit + 1 < UNITS.len() {
        value /= 1_000.0;
        unit += 1;
    }
    scaled(value, UNITS[unit])
}

/// Formats a duration the analyses give in µs (findings, hot functions, report rows).
pub fn duration_us(us: u64) -> String {
    duration(us.saturating_mul(1_000))
}

fn scaled(value: f64, unit: &str) -> String {
    if value >= 100.0 {
        format!("{value:.0}{unit}")
    } else if value >= 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.2}{unit}")
    }
}

/// A count with its thousands grouped: `1,000,000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// How long ago something happened: `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`.
pub fn age(then_ns: u64, now_ns: u64) -> String {
    let seconds = now_ns.saturating_sub(then_ns) / 1_000_000_000;
    match seconds {
        0..5 => "just now".to_string(),
        5..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86_400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}

/// The time of day of a moment, `14:03:21`, `utc_offset_s` east of UTC (the render layer
/// has no time zones: the caller says where the user is).
pub fn clock(ns: u64, utc_offset_s: i64) -> String {
    let seconds = (ns / 1_000_000_000) as i64 + utc_offset_s;
    let of_day = seconds.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60)
}

/// A change in time: `+12.0ms`, `−230ms`, `0`.
pub fn signed_duration(delta_ns: i64) -> String {
    match delta_ns {
        0 => "0".to_string(),
        d if d > 0 => format!("+{}", duration(d as u64)),
        d => format!("−{}", duration(d.unsigned_abs())),
    }
}

/// A relative change: `+25%`, `−38%`, `+2.5%` (a true minus sign, as people write it).
pub fn signed_percent(p: f64) -> String {
    let sign = if p > 0.0 {
        "+"
    } else if p < 0.0 {
        "−"
    } else {
        ""
    };
    let magnitude = p.abs();
    if magnitude >= 10.0 { format!("{sign}{magnitude:.0}%") } else { format!("{sign}{magnitude:.1}%") }
}

pub use super::text::{truncate, truncate_left};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_trace_uis() {
        assert_eq!(duration(850), "850ns");
        assert_eq!(duration(12_345), "12.3µs");
        assert_eq!(duration(4_560_000), "4.56ms");
        assert_eq!(duration(712_400_000), "712ms");
        assert_eq!(duration(1_240_000_000), "1.24s");
        assert_eq!(duration(123_000_000_000), "2m03s");
    }

    #[test]
    fn long_durations_read_in_hours_and_days() {
        let s = 1_000_000_000u64;
        assert_eq!(duration(59 * s), "59.0s");
        assert_eq!(duration(120 * s), "2m");
        assert_eq!(duration(3599 * s), "59m59s");
        assert_eq!(duration(3600 * s), "1h");
        assert_eq!(duration(3900 * s), "1h05m");
        assert_eq!(duration(1440 * 60 * s), "24h", "the store's default retention");
        assert_eq!(duration(36 * 3600 * s), "36h");
        assert_eq!(duration(48 * 3600 * s), "2d");
        assert_eq!(duration(60 * 3600 * s), "2d12h");
        assert_eq!(duration(7 * 86_400 * s + 59 * 60 * s), "7d", "minutes are left out past two days");
        assert_eq!(duration(u64::MAX), "213503d23h");
    }

    #[test]
    fn clock_times_are_shifted_to_the_users_zone() {
        let s = 1_000_000_000;
        assert_eq!(clock((13 * 3600 + 5 * 60 + 9) * s, 0), "13:05:09");
        assert_eq!(clock((13 * 3600 + 5 * 60 + 9) * s, 2 * 3600), "15:05:09");
        assert_eq!(clock(30 * 60 * s, -3600), "23:30:00", "the day before");
    }

    #[test]
    fn bytes_read_in_decimal_units_with_three_digits() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_000), "1.00 kB");
        assert_eq!(bytes(12_400_000), "12.4 MB");
        assert_eq!(bytes(48_000_000), "48.0 MB");
        assert_eq!(bytes(999_600), "1.00 MB", "rounding up moves to the next unit");
        assert_eq!(bytes(1_240_000_000), "1.24 GB");
        assert_eq!(bytes(u64::MAX), "18447 PB");
    }

    #[test]
    fn ages() {
        let s = 1_000_000_000;
        assert_eq!(age(0, 2 * s), "just now");
        assert_eq!(age(0, 300 * s), "5m ago");
        assert_eq!(age(10 * s, 5 * s), "just now");
    }
}
