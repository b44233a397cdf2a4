//! Nomad's colored output markup (`mitchellh/colorstring`, as `Meta.Colorize()` sets it up).
//!
//! Renderers that follow Nomad line for line (`job plan`) write `[green]+[reset] ` the
//! way Nomad's source does; [`color`] turns the markup into ANSI escapes on a terminal
//! and strips it otherwise. Brackets that do not name a color (`port_map[0][db]`) are
//! left as they are, exactly as colorstring leaves them.

/// colorstring's `DefaultColors`: markup name to SGR code.
const COLORS: &[(&str, &str)] = &[
    // Foreground.
    ("default", "39"),
    ("black", "30"),
    ("red", "31"),
    ("green", "32"),
    ("yellow", "33"),
    ("blue", "34"),
    ("magenta", "35"),
    ("cyan", "36"),
    ("light_gray", "37"),
    ("dark_gray", "90"),
    ("light_red", "91"),
    ("light_green", "92"),
    ("light_yellow", "93"),
    ("light_blue", "94"),
    ("light_magenta", "95"),
    ("light_cyan", "96"),
    ("white", "97"),
    // Background.
    ("_default_", "49"),
    ("_black_", "40"),
    ("_red_", "41"),
    ("_green_", "42"),
    ("_yellow_", "43"),
    ("_blue_", "44"),
    ("_magenta_", "45"),
    ("_cyan_", "46"),
    ("_light_gray_", "47"),
    ("_dark_gray_", "100"),
    ("_light_red_", "101"),
    ("_light_green_", "102"),
    ("_light_yellow_", "103"),
    ("_light_blue_", "104"),
    ("_light_magenta_", "105"),
    ("_light_cyan_", "106"),
    ("_white_", "107"),
    // Attributes.
    ("bold", "1"),
    ("dim", "2"),
    ("underline", "4"),
    ("blink_slow", "5"),
    ("blink_fast", "6"),
    ("invert", "7"),
    ("hidden", "8"),
    ("reset", "0"),
    ("reset_bold", "21"),
];

fn code(name: &str) -> Option<&'static str> {
    COLORS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// colorstring's `Colorize{Reset: true, Disable: !enabled}.Color(text)`: every `[name]`
/// naming a color becomes its escape (or nothing when disabled); when any did and color
/// is on, a final reset is appended.
///
/// ```
/// use caravan_cli::colorstring::color;
/// assert_eq!(color("[green]+[reset] a[0]", false), "+ a[0]");
/// assert_eq!(color("[bold]x", true), "\x1b[1mx\x1b[0m");
/// ```
pub fn color(text: &str, enabled: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut colored = false;
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // colorstring's token: `\[[a-z0-9_-]+\]`, case-insensitive.
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            .count();
        let closes = name_len > 0 && after.as_bytes().get(name_len) == Some(&b']');
        match closes.then(|| code(&after[..name_len])).flatten() {
            Some(sgr) => {
                colored = true;
                if enabled {
                    out.push_str("\x1b[");
                    out.push_str(sgr);
                    out.push('m');
                }
                rest = &after[name_len + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if colored && enabled {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool, &str)] = &[
            ("plain_text_untouched", "abc", true, "abc"),
            ("strip_when_disabled", "[bold]Job[reset]", false, "Job"),
            ("escape_and_final_reset", "[red]-", true, "\x1b[31m-\x1b[0m"),
            (
                "unknown_brackets_kept",
                "port_map[0][db]",
                true,
                "port_map[0][db]",
            ),
            ("unclosed_bracket_kept", "a [green", false, "a [green"),
            (
                "adjacent_tokens",
                "[bold][yellow]W",
                true,
                "\x1b[1m\x1b[33mW\x1b[0m",
            ),
            ("light_yellow", "[light_yellow]+/-", false, "+/-"),
        ];
        for (name, input, enabled, want) in cases {
            assert_eq!(color(input, *enabled), *want, "case {name}");
        }
    }
}
