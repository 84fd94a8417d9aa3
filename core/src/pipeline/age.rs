//! Ages on the command line: `30s`, `30m`, `12h`, `7d`, `2w`.

/// Longest age accepted: 100 years, far past any snapshot, short of overflow.
const MAX_AGE_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Parses `<number><unit>` (unit `s`, `m`, `h`, `d` or `w`) into milliseconds.
pub(crate) fn parse_age(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not an age like 30m, 12h, 7d or 2w");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit_ms: u64 = match unit {
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        "d" => 24 * 3600 * 1000,
        "w" => 7 * 24 * 3600 * 1000,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit_ms) {
        Some(ms) if ms <= MAX_AGE_MS => Ok(ms),
        _ => Err(format!("`{text}` is longer than 100 years")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages_parse_in_every_unit_and_junk_is_refused() {
        assert_eq!(parse_age("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_age("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_age("30m"), Ok(1_800_000));
        assert_eq!(parse_age("2w"), Ok(14 * 86_400_000));
        assert_eq!(parse_age("0s"), Ok(0));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-7d",
            "7 d",
            "1.5h",
            "7dd",
            "99999999999999999999d",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_age("200000w").unwrap_err().contains("100 years"));
    }
}
