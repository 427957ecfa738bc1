//! Styled lines for the terminal: ANSI colours on a TTY, plain text otherwise.

use super::style::{Group, SERVICE_COLOURS, StyledLine};

/// xterm-256 colours for the service palette: the Neovim defaults (`highlights.lua`),
/// which are all colours of the xterm cube.
const SERVICE_256: [u8; SERVICE_COLOURS as usize] =
    [215, 185, 113, 79, 80, 75, 105, 141, 177, 212, 180, 143, 151, 115, 109, 110, 146, 182, 179, 68];

fn sgr(group: Group) -> String {
    match group {
        Group::Title => "1".to_string(),
        Group::Dim => "2".to_string(),
        Group::Duration => "36".to_string(),
        Group::Error => "31".to_string(),
        Group::Warning => "33".to_string(),
        Group::Key => "35".to_string(),
        Group::Label => "34".to_string(),
        Group::Service(n) => format!("38;5;{}", SERVICE_256[n as usize % SERVICE_256.len()]),
        Group::Flame(n) => format!("48;5;{};38;5;16", SERVICE_256[n as usize % SERVICE_256.len()]),
        Group::FlameError => "41;97".to_string(),
        Group::Slower => "31".to_string(),
        Group::SlowerLabel => "41;97".to_string(),
        Group::Faster => "32".to_string(),
        Group::FasterLabel => "42;30".to_string(),
        Group::Neutral => "38;5;245".to_string(),
        Group::NeutralLabel => "48;5;245;38;5;16".to_string(),
        Group::Marked => "7".to_string(),
        Group::Healthy => "32".to_string(),
        Group::Degraded => "33".to_string(),
        Group::Critical => "1;31".to_string(),
        Group::CriticalLabel => "1;7".to_string(),
    }
}

/// Joins the lines into one string, with escape codes when `colour` is set.
pub fn to_terminal(lines: &[StyledLine], colour: bool) -> String {
    let mut out = String::new();
    for line in lines {
        if !colour {
            out.push_str(line.text.trim_end());
            out.push('\n');
            continue;
        }
        let mut at = 0;
        for h in &line.highlights {
            out.push_str(&line.text[at..h.start]);
            out.push_str(&format!("\x1b[{}m{}\x1b[0m", sgr(h.group), &line.text[h.start..h.end]));
            at = h.end;
        }
        out.push_str(line.text[at..].trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_wraps_highlights_and_plain_has_no_escapes() {
        let mut line = StyledLine::default();
        line.push("web", Some(Group::Service(0)));
        line.push(" ok", None);
        assert_eq!(to_terminal(std::slice::from_ref(&line), false), "web ok\n");
        assert_eq!(to_terminal(&[line], true), "\x1b[38;5;215mweb\x1b[0m ok\n");
    }
}
