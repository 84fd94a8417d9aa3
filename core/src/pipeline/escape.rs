//! Names in text output: a file name, tool name, package name or snapshot id
//! from outside (a package, the project tree, a config, a bucket) must not be
//! able to fake lines of a report or drive the terminal.

use std::borrow::Cow;

/// The text form of a name from outside: unchanged when it is harmless, else
/// quoted like `git` quotes paths, `"a\nb"`, with C-style escapes for the
/// unsafe characters (`\n`, `\r`, `\t`, `\0`, `\u{1b}`, …) and for `"` and
/// `\` inside the quotes. A harmless name never starts with `"`, so a quoted
/// name cannot be mistaken for a plain one. JSON output never goes through
/// this: it carries the exact name.
///
/// Unsafe: control characters (C0, DEL, C1: line breaks, carriage returns,
/// escape sequences) and the Unicode characters that break lines or reorder
/// text on screen (U+2028/9, bidirectional controls).
pub fn escape(name: &str) -> Cow<'_, str> {
    if !name.starts_with('"') && !name.chars().any(unsafe_char) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if unsafe_char(c) => out.extend(c.escape_debug()),
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn harmless_names_are_unchanged() {
        for name in ["src/app.tsx", "a b/c'd", "wa\\x", "é/ü.txt", "x\"y"] {
            assert_eq!(escape(name), name);
        }
    }

    #[test]
    fn unsafe_names_are_quoted_on_one_line() {
        assert_eq!(escape("a\nb.txt"), "\"a\\nb.txt\"");
        assert_eq!(escape("a\rb"), "\"a\\rb\"");
        assert_eq!(escape("\u{1b}[31mred"), "\"\\u{1b}[31mred\"");
        assert_eq!(escape("q\"\n\\"), "\"q\\\"\\n\\\\\"");
        assert_eq!(escape("\"quoted\""), "\"\\\"quoted\\\"\"");
        assert_eq!(escape("rtl\u{202e}txt"), "\"rtl\\u{202e}txt\"");
        for name in ["a\nb", "\u{85}", "x\u{2028}y", "\0", "\t"] {
            let shown = escape(name);
            assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        }
    }
}
