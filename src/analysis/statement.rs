//! Database statements reduced to their shape, so that the same query with different
//! values is recognised as one: literals and numbers become `?`, `IN (…)` lists `IN (?)`,
//! whitespace is collapsed.

/// `SELECT * FROM items WHERE order_id = 42 AND sku IN ('a', 'b')` →
/// `SELECT * FROM items WHERE order_id = ? AND sku IN (?)`, written into `out` (cleared
/// first) and returned from it: a trace's calls normalize thousands of distinct
/// statements, and most of their shapes are already known, so one reused buffer spares
/// an allocation per statement.
///
/// Read byte by byte: everything it looks for (quotes, digits, ASCII whitespace) is
/// ASCII, which never occurs inside a UTF-8 sequence; other characters are decoded only
/// where their kind matters (Unicode whitespace, a letter before a quote or digit). Runs
/// of other bytes are copied whole.
pub fn normalize_into<'o>(statement: &str, out: &'o mut Vec<u8>) -> &'o str {
    out.clear();
    // `""` becomes `"?"`, so a shape is at most half again as long as its statement:
    // reserved once, every push below stays within it.
    out.reserve(statement.len() + statement.len() / 2 + 1);
    let bytes = statement.as_bytes();
    let mut lists = false;
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if !SPECIAL[c as usize] {
            // Plain bytes one at a time: runs between spaces and digits are a few bytes
            // long, shorter than a slice copy's own cost.
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' if c == b'\'' || !last_char(out).is_some_and(char::is_alphanumeric) => {
                // A quoted literal ('' escapes a quote inside it).
                i += 1;
                loop {
                    let Some(at) = bytes[i..].iter().position(|&b| b == c) else {
                        i = bytes.len();
                        break;
                    };
                    i += at + 1;
                    if bytes.get(i) != Some(&c) {
                        break;
                    }
                    i += 1;
                }
                // Double quotes name identifiers in standard SQL: keep them as written.
                out.extend_from_slice(if c == b'"' { b"\"?\"" } else { b"?" });
            }
            b'0'..=b'9' if !last_char(out).is_some_and(in_identifier) => {
                i += 1;
                while bytes.get(i).is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'.') {
                    i += 1;
                }
                out.push(b'?');
            }
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => {
                space(out);
                i += 1;
            }
            0x80.. => {
                let ch = statement[i..].chars().next().unwrap_or(' ');
                if ch.is_whitespace() {
                    space(out);
                } else {
                    out.extend_from_slice(&bytes[i..i + ch.len_utf8()]);
                }
                i += ch.len_utf8();
            }
            _ => {
                lists |= c == b'(';
                out.push(c);
                i += 1;
            }
        }
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
    if lists {
        let collapsed = collapse_lists(as_text(out)).into_bytes();
        *out = collapsed;
    }
    as_text(out)
}

/// Bytes [`normalize_into`] looks at; the rest it copies as they are.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            matches!(b as u8, b'\'' | b'"' | b'0'..=b'9' | b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b'(' | 0x80..);
        b += 1;
    }
    table
};

/// The normalized bytes as text: whole characters were copied, so they are UTF-8 (an
/// empty text, were that ever not so, rather than a panic).
fn as_text(out: &[u8]) -> &str {
    std::str::from_utf8(out).unwrap_or_default()
}

/// One space for a run of whitespace, none at the start.
fn space(out: &mut Vec<u8>) {
    if !out.is_empty() && out.last() != Some(&b' ') {
        out.push(b' ');
    }
}

/// The last character of `text` (whole characters of UTF-8).
fn last_char(text: &[u8]) -> Option<char> {
    match text.last() {
        Some(&b) if b.is_ascii() => Some(b as char),
        Some(_) => {
            let start = text.iter().rposition(|&b| (b as i8) >= -0x40).unwrap_or(0);
            std::str::from_utf8(&text[start..]).ok().and_then(|s| s.chars().next())
        }
        None => None,
    }
}

/// Whether a character ends a name (`table1`, `$1`), where a digit is not a literal.
fn in_identifier(p: char) -> bool {
    p.is_alphanumeric() || p == '_' || p == '$' || p == ':' || p == '@'
}

/// `(?, ?, ?)` → `(?)`, wherever a parenthesised list holds only placeholders: `IN` lists
/// and multi-row `VALUES` differ in length from call to call.
fn collapse_lists(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(')').unwrap_or(rest.len());
        let inside = &rest[..close];
        let only_placeholders = !inside.trim().is_empty()
            && inside.split(',').all(|item| matches!(item.trim(), "?" | "\"?\"") || item.trim().starts_with('$'));
        if only_placeholders {
            out.push('?');
            rest = &rest[close..];
        }
    }
    out.push_str(rest);
    dedupe_value_rows(&out)
}

/// `VALUES (?), (?), (?)` → `VALUES (?)`.
fn dedupe_value_rows(text: &str) -> String {
    let mut out = text.to_string();
    while out.contains("(?), (?)") || out.contains("(?),(?)") {
        out = out.replace("(?), (?)", "(?)").replace("(?),(?)", "(?)");
    }
    out
}

/// Whether a statement as sent holds bind parameters (`?`, `$1`, `%s`, `%(name)s`,
/// `:name`, `@name`) outside its quoted literals: its values travel separately, so the
/// text alone does not say what it asked.
pub fn has_placeholders(statement: &str) -> bool {
    // Most statements hold none of the characters a parameter starts with: two vector
    // scans, where a loop over the bytes took a tenth of classifying a trace's calls.
    let bytes = statement.as_bytes();
    if memchr::memchr3(b'?', b'$', b'%', bytes).is_none() && memchr::memchr2(b':', b'@', bytes).is_none() {
        return false;
    }
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            previous = c;
            continue;
        }
        let next = chars.peek().copied().unwrap_or(' ');
        let named = next.is_ascii_alphabetic() || next == '_';
        let placeholder = match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                false
            }
            '?' => true,
            '$' => next.is_ascii_digit(),
            '%' => matches!(next, 's' | 'd' | '('),
            // `::int` is a cast and `:=` an assignment, not parameters.
            ':' => named && previous != ':',
            '@' => named && previous != '@' && !previous.is_alphanumeric(),
            _ => false,
        };
        if placeholder {
            return true;
        }
        previous = c;
    }
    false
}

/// The columns a statement filters on (`WHERE a = ? AND b > ?` → `a`, `b`), for index advice.
pub fn filtered_columns(normalized: &str) -> Vec<String> {
    let upper = normalized.to_ascii_uppercase();
    let Some(start) = upper.find(" WHERE ") else { return Vec::new() };
    let end = [" GROUP BY ", " ORDER BY ", " LIMIT ", " HAVING "]
        .iter()
        .filter_map(|k| upper[start..].find(k).map(|i| start + i))
        .min()
        .unwrap_or(upper.len());
    let clause = &normalized[start + 7..end];
    let mut columns: Vec<String> = Vec::new();
    for part in clause.split(['(', ')']).flat_map(|p| p.split(" AND ")).flat_map(|p| p.split(" and ")) {
        let name: String = part
            .trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.' || *c == '"' || *c == '`')
            .collect();
        let name = name.trim_matches(|c| c == '"' || c == '`').to_string();
        let is_keyword = matches!(name.to_ascii_uppercase().as_str(), "" | "OR" | "NOT" | "EXISTS" | "SELECT" | "?");
        if !is_keyword && !columns.contains(&name) {
            columns.push(name);
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(statement: &str) -> String {
        normalize_into(statement, &mut Vec::new()).to_string()
    }

    #[test]
    fn values_become_placeholders_and_names_stay() {
        assert_eq!(
            normalize("SELECT * FROM customer WHERE customer_id=731"),
            "SELECT * FROM customer WHERE customer_id=?"
        );
        assert_eq!(
            normalize("select  name from t1\n where id = 42 and note = 'it''s' and price > 3.5"),
            "select name from t1 where id = ? and note = ? and price > ?"
        );
        assert_eq!(normalize("SELECT * FROM items WHERE id IN (1, 2, 3, 4)"), "SELECT * FROM items WHERE id IN (?)");
        assert_eq!(
            normalize("SELECT * FROM items WHERE id IN (7)"),
            normalize("SELECT * FROM items WHERE id IN (8, 9)")
        );
        assert_eq!(
            normalize("SELECT * FROM t WHERE a = $1 AND b = :name"),
            "SELECT * FROM t WHERE a = $1 AND b = :name"
        );
        assert_eq!(normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')"), "INSERT INTO t (a, b) VALUES (?)");
    }

    #[test]
    fn letters_of_any_alphabet_are_names_and_any_whitespace_is_one_space() {
        assert_eq!(
            normalize("SELECT * FROM café\u{a0}WHERE naïve1 = 'x' AND prix2€ = 3 AND é\"q\" = \"v\"\n"),
            "SELECT * FROM café WHERE naïve1 = ? AND prix2€ = ? AND é\"q\" = \"?\""
        );
        assert!(!has_placeholders("SELECT * FROM t WHERE note = 'é?' AND é@name = 1"));
        assert!(has_placeholders("SELECT * FROM t WHERE é = @name"));
    }

    #[test]
    fn the_columns_a_query_filters_on() {
        let q = normalize("SELECT * FROM items WHERE order_id = 5 AND (status = 'open') ORDER BY id LIMIT 10");
        assert_eq!(filtered_columns(&q), ["order_id", "status"]);
        assert!(filtered_columns("SELECT 1").is_empty());
    }

    #[test]
    fn bind_parameters_are_told_from_literals() {
        for parameterized in [
            "SELECT * FROM t WHERE id = ?",
            "SELECT * FROM t WHERE id = $1",
            "SELECT * FROM t WHERE id = %s",
            "SELECT * FROM t WHERE id = %(id)s",
            "SELECT * FROM t WHERE id = :id",
            "SELECT * FROM t WHERE id = @id",
        ] {
            assert!(has_placeholders(parameterized), "{parameterized}");
        }
        for literal in [
            "SELECT * FROM t WHERE id = 42",
            "SELECT * FROM t WHERE note = 'why?' AND id::int = 3",
            "SELECT @@version",
            "SELECT * FROM t WHERE a = 'x:y' AND mail = 'a@b.c'",
        ] {
            assert!(!has_placeholders(literal), "{literal}");
        }
    }
}
