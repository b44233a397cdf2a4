//! URL escaping as Go's `net/url` does it, so IDs with `/` or spaces reach the agent
//! whole (`report/dispatch-1` is `report%2Fdispatch-1` in a path).

/// Escapes one path segment (Go's `url.PathEscape`).
pub fn path_escape(segment: &str) -> String {
    escape(segment, |b| {
        b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@".contains(&b)
    })
}

/// Escapes a query key or value (Go's `url.QueryEscape`, but `%20` for spaces).
pub fn query_escape(value: &str) -> String {
    escape(value, |b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
}

fn escape(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_slashes_stay_one_segment() {
        assert_eq!(path_escape("my job/1"), "my%20job%2F1");
        assert_eq!(query_escape("x/y z"), "x%2Fy%20z");
    }
}
