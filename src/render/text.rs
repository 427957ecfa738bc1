//! Fitting text into a number of terminal cells: its display width, cutting it (at the
//! end, at the start, or in the middle, the way people shorten names and URLs), keeping
//! cut names of one column apart, and wrapping prose.
//!
//! Widths are display cells, not bytes or characters: `é` is one cell, `界` two, a
//! combining accent none. Every view measures with [`width`], so a line that fits here
//! fits the editor window and the terminal.

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

use super::style::StyledLine;

/// The mark left where text was cut.
pub const ELLIPSIS: char = '…';

/// Display cells `text` takes in a terminal or an editor window.
pub fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// Display cells of one character; control characters count as one, because [`clean`]
/// turns them into a visible mark before they are drawn.
#[inline]
pub fn char_width(c: char) -> usize {
    // Every ASCII character is one cell (its control characters by the rule above); most
    // text drawn is ASCII, so it skips the Unicode tables.
    if c.is_ascii() {
        return 1;
    }
    if c.is_control() { 1 } else { c.width().unwrap_or(0) }
}

/// Text safe to draw as one line: a newline becomes `⏎`, other control characters a
/// space, so a span name or attribute from an untrusted trace cannot break a line (an
/// editor refuses a buffer line holding a newline) or move the terminal's cursor.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c == '\n' {
                    '⏎'
                } else if c.is_control() {
                    ' '
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Which part of a too-long text survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// The start (`checkout-serv…`): prose, where reading starts on the left.
    Start,
    /// Both ends (`GET 127.0.0.1…/cart/items`): names and URLs, whose start says what
    /// they are and whose end tells them apart.
    Ends,
    /// The end (`…cart LoadCart › postgres SELECT`): most specific last.
    End,
    /// The last levels of a call path, whole, with how many were left out
    /// (`…3 › cart LoadCart › postgres SELECT`): paths of different depths that end alike
    /// (recursion, a page calling itself) stay apart.
    LastLevels,
}

/// What separates the levels of a call path.
pub const LEVEL: &str = " › ";

/// Cuts `text` to at most `max` cells, marking the cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    elide(text, max, Keep::Start)
}

/// Keeps the end of `text` (the most specific part of a call path) when it is too long.
pub fn truncate_left(text: &str, max: usize) -> String {
    elide(text, max, Keep::End)
}

/// Cuts `text` in the middle to at most `max` cells: `GET 127.0.0.1:8…/cart/items`.
pub fn elide_middle(text: &str, max: usize) -> String {
    elide(text, max, Keep::Ends)
}

/// Shortens `text` to at most `max` cells, keeping the part `keep` says.
pub fn elide(text: &str, max: usize, keep: Keep) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    if max == 0 {
        return String::new();
    }
    if keep == Keep::LastLevels {
        let levels: Vec<&str> = text.split(LEVEL).collect();
        for dropped in 1..levels.len() {
            let shown = format!("{ELLIPSIS}{dropped}{LEVEL}{}", levels[dropped..].join(LEVEL));
            if width(&shown) <= max {
                return shown;
            }
        }
    }
    let room = max - 1;
    cut(&chars, preferred_head(room, keep), room)
}

/// Shortens each `(text, max)` as [`elide`] does, but moves the cut of texts that would
/// otherwise read the same so that different texts stay different: the ports of
/// `GET 127.0.0.1:8081/cart` and `GET 127.0.0.1:8082/cart`, the services of
/// `checkout-service GET` and `checkout-worker GET`. Equal texts stay equal.
pub fn elide_distinct(texts: &[(&str, usize)], keep: Keep) -> Vec<String> {
    if keep == Keep::LastLevels {
        // Whole levels and their count keep paths of different depths apart (see
        // [`Keep::LastLevels`]); paths that still read the same differ nearer their start,
        // which a cut that keeps some of the start shows.
        let mut out: Vec<String> = texts.iter().map(|&(text, max)| elide(text, max, keep)).collect();
        let mut by_text: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
        for (i, shown) in out.iter().enumerate() {
            by_text.entry(shown.clone()).or_default().push(i);
        }
        for group in by_text.into_values().filter(|g| g.iter().any(|&i| texts[i].0 != texts[g[0]].0)) {
            let clashing: Vec<(&str, usize)> = group.iter().map(|&i| texts[i]).collect();
            for (i, shown) in group.into_iter().zip(elide_distinct(&clashing, Keep::End)) {
                out[i] = shown;
            }
        }
        return out;
    }
    let mut heads: Vec<Option<usize>> = texts
        .iter()
        .map(|&(text, max)| (width(text) > max && max > 0).then(|| preferred_head(max - 1, keep)))
        .collect();
    // The characters of the texts to cut only: most fit, and a view can hold thousands.
    let chars: Vec<Vec<char>> = texts
        .iter()
        .zip(&heads)
        .map(|((t, _), head)| if head.is_some() { t.chars().collect() } else { Vec::new() })
        .collect();
    let draw = |i: usize, heads: &[Option<usize>]| match heads[i] {
        Some(head) => cut(&chars[i], head, texts[i].1 - 1),
        None => elide(texts[i].0, texts[i].1, keep),
    };
    let mut out: Vec<String> = (0..texts.len()).map(|i| draw(i, &heads)).collect();
    // Moving one cut can make it collide with a third text; a few rounds settle it.
    for _ in 0..3 {
        let mut by_text: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
        for (i, shown) in out.iter().enumerate() {
            by_text.entry(shown.as_str()).or_default().push(i);
        }
        let clashes: Vec<Vec<usize>> =
            by_text.into_values().filter(|group| group.iter().any(|&i| texts[i].0 != texts[group[0]].0)).collect();
        if clashes.is_empty() {
            break;
        }
        for group in clashes {
            for &i in &group {
                if let Some(preferred) = heads[i] {
                    let others: Vec<Vec<char>> = group
                        .iter()
                        .filter(|&&j| texts[j].0 != texts[i].0)
                        .map(|&j| texts[j].0.chars().collect())
                        .collect();
                    heads[i] = Some(distinct_head(&chars[i], &others, texts[i].1 - 1, preferred));
                }
            }
        }
        out = (0..texts.len()).map(|i| draw(i, &heads)).collect();
    }
    out
}

/// Cells of a cut text's `room` given to its start.
fn preferred_head(room: usize, keep: Keep) -> usize {
    match keep {
        Keep::Start => room,
        Keep::Ends => room.div_ceil(2),
        Keep::End | Keep::LastLevels => 0,
    }
}

/// The first `head` cells of `chars`, `…`, then as many cells of its end as make
/// `room` in all.
fn cut(chars: &[char], head: usize, room: usize) -> String {
    let (front, back) = split_cells(chars, head, room - head.min(room));
    let mut out: String = chars[..front].iter().collect();
    out.push(ELLIPSIS);
    out.extend(&chars[chars.len() - back..]);
    out
}

/// How many characters of the front fit `head` cells, and of the back the cells left
/// of `head + tail`, without the two overlapping; cells a wide character could not use
/// go to the other end.
fn split_cells(chars: &[char], head: usize, tail: usize) -> (usize, usize) {
    let (front, front_cells) = fitting(chars.iter(), head);
    let (back, back_cells) = fitting(chars[front..].iter().rev(), head + tail - front_cells);
    let (more, _) = fitting(chars[front..chars.len() - back].iter(), head + tail - front_cells - back_cells);
    (front + more, back)
}

/// How many of `chars` fit in `cells`, and the cells they take.
fn fitting<'a>(chars: impl Iterator<Item = &'a char>, cells: usize) -> (usize, usize) {
    let (mut count, mut used) = (0, 0);
    for c in chars {
        if used + char_width(*c) > cells {
            break;
        }
        used += char_width(*c);
        count += 1;
    }
    (count, used)
}

/// The cells to keep at the start of `text` so that its cut differs from each of
/// `others` cut the same way: the head must reach past the prefix they share or the tail
/// past the suffix. The choice closest to `preferred` wins; when none separates them
/// all, the one that separates most.
fn distinct_head(text: &[char], others: &[Vec<char>], room: usize, preferred: usize) -> usize {
    let shared: Vec<(usize, usize)> = others
        .iter()
        .map(|other| {
            let prefix = text.iter().zip(other.iter()).take_while(|(a, b)| a == b).count();
            let suffix = text.iter().rev().zip(other.iter().rev()).take_while(|(a, b)| a == b).count();
            (prefix, suffix)
        })
        .collect();
    (0..=room)
        .max_by_key(|&head| {
            let (front, back) = split_cells(text, head, room - head);
            let separated = shared.iter().filter(|&&(prefix, suffix)| front > prefix || back > suffix).count();
            (separated, std::cmp::Reverse(head.abs_diff(preferred)))
        })
        .unwrap_or(preferred)
}

/// Breaks prose into lines of at most `width` cells at spaces; a word longer than a line
/// is split. Always at least one line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![String::new()];
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let current = lines.last_mut().expect("never empty");
        let used = self::width(current);
        if used > 0 && used + 1 + self::width(word) <= width {
            current.push(' ');
            current.push_str(word);
            continue;
        }
        if used > 0 {
            lines.push(String::new());
        }
        let mut rest: Vec<char> = word.chars().collect();
        while !rest.is_empty() {
            let line = lines.last_mut().expect("never empty");
            let fits = fitting(rest.iter(), width).0.max(1);
            line.extend(&rest[..fits]);
            rest.drain(..fits);
            if !rest.is_empty() {
                lines.push(String::new());
            }
        }
    }
    lines
}

/// Wraps a styled line to `width` cells, continuation lines indented by `hanging`
/// cells; highlights follow the text they were on. Lines that fit come back unchanged.
pub fn wrap_styled(line: &StyledLine, width: usize, hanging: usize) -> Vec<StyledLine> {
    if line.width() <= width {
        return vec![line.clone()];
    }
    let hanging = hanging.min(width.saturating_sub(1) / 2);
    // Where each output line starts and ends in the original text (bytes).
    let mut breaks: Vec<(usize, usize)> = Vec::new();
    let text = &line.text;
    let mut start = 0;
    while start < text.len() {
        let room = if breaks.is_empty() { width } else { width - hanging };
        let mut end = start;
        let mut cells = 0;
        let mut last_space = None;
        for (at, c) in text[start..].char_indices() {
            let w = char_width(c);
            if cells + w > room.max(1) && end > start {
                break;
            }
            cells += w;
            end = start + at + c.len_utf8();
            if c == ' ' {
                last_space = Some(start + at);
            }
        }
        let (stop, next) = match last_space {
            Some(space) if end < text.len() && space > start => (space, space + 1),
            _ => (end, end),
        };
        breaks.push((start, stop));
        start = next;
        // Spaces a break falls on are not carried to the next line.
        while text[start..].starts_with(' ') && start < text.len() {
            start += 1;
        }
    }
    breaks
        .iter()
        .enumerate()
        .map(|(n, &(from, to))| {
            let indent = if n == 0 { 0 } else { hanging };
            let mut out = StyledLine::plain(" ".repeat(indent));
            for h in &line.highlights {
                let (s, e) = (h.start.max(from), h.end.min(to));
                if s < e {
                    out.highlights.push(super::style::Highlight {
                        start: s - from + indent,
                        end: e - from + indent,
                        group: h.group,
                    });
                }
            }
            out.text.push_str(&text[from..to]);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Group;

    #[test]
    fn widths_are_display_cells() {
        assert_eq!(width("checkout"), 8);
        assert_eq!(width("µs ·█"), 5);
        assert_eq!(width("注文サービス"), 12);
        assert_eq!(width("e\u{301}"), 1, "a combining accent takes no cell");
    }

    #[test]
    fn cutting_at_the_end_the_start_or_the_middle() {
        assert_eq!(truncate("checkout", 5), "chec…");
        assert_eq!(truncate("cart", 5), "cart");
        assert_eq!(truncate_left("web GET / › db SELECT", 10), "…db SELECT");
        assert_eq!(elide_middle("GET 127.0.0.1:18080/cart/items", 20), "GET 127.0.…art/items");
        assert_eq!(elide_middle("注文サービス", 7), "注…ビス", "wide characters are never split");
        for max in 0..12 {
            assert!(width(&elide_middle("注文サービス checkout", max)) <= max, "{max}");
        }
    }

    #[test]
    fn cut_names_of_one_column_stay_apart() {
        let urls =
            ["GET 127.0.0.1:18080/api/orders", "GET 127.0.0.1:18081/api/orders", "GET 127.0.0.1:9411/api/orders"];
        let plain: Vec<String> = urls.iter().map(|u| elide_middle(u, 16)).collect();
        assert_eq!(plain[0], plain[1], "a plain middle cut loses the port");
        let shown = elide_distinct(&urls.map(|u| (u, 16)), Keep::Ends);
        assert!(shown.iter().all(|s| width(s) <= 16), "{shown:?}");
        assert_ne!(shown[0], shown[1], "{shown:?}");
        assert_ne!(shown[0], shown[2], "{shown:?}");
        let services = ["checkout-service GET /cart", "checkout-worker GET /cart", "checkout-service GET /cart"];
        let shown = elide_distinct(&services.map(|s| (s, 12)), Keep::Ends);
        assert_ne!(shown[0], shown[1], "{shown:?}");
        assert_eq!(shown[0], shown[2], "equal names stay equal");
    }

    #[test]
    fn prose_wraps_at_spaces_and_long_words_are_split() {
        assert_eq!(wrap("the waterfall shows all spans", 14), ["the waterfall", "shows all", "spans"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn a_styled_line_wraps_with_its_highlights_and_a_hanging_indent() {
        let mut line = StyledLine::default();
        line.push("Status      ", Some(Group::Label));
        line.push("error: connection refused by the payment provider", Some(Group::Error));
        let lines = wrap_styled(&line, 30, 12);
        assert!(lines.iter().all(|l| l.width() <= 30), "{lines:?}");
        assert_eq!(lines[0].text, "Status      error: connection");
        assert_eq!(lines[1].text, "            refused by the");
        for l in &lines[1..] {
            assert!(l.text.starts_with("            "));
            let h = &l.highlights[0];
            assert_eq!((h.start, &l.text[h.start..h.end], h.group), (12, l.text.trim_start(), Group::Error));
        }
    }

    #[test]
    fn control_characters_cannot_break_a_line() {
        assert_eq!(clean("SELECT 1\nFROM t\tx"), "SELECT 1⏎FROM t x");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn call_paths_drop_whole_levels_from_the_start_and_count_them() {
        let path = "web GET / › a page › a page › a page › db SELECT";
        assert_eq!(elide(path, 32, Keep::LastLevels), "…2 › a page › a page › db SELECT");
        let shallow = "web GET / › a page › db SELECT";
        let shown = elide_distinct(&[(path, 24), (shallow, 24)], Keep::LastLevels);
        assert_ne!(shown[0], shown[1], "{shown:?}");
        assert!(shown.iter().all(|s| width(s) <= 24), "{shown:?}");
    }
}
