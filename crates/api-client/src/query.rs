//! Blocking queries: the `index`/`wait` parameters of a read and the `X-Nomad-Index`
//! of its answer.

use std::time::Duration;

/// A decoded read plus the `X-Nomad-Index` header (0 when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed<T> {
    /// The decoded body.
    pub value: T,
    /// The `X-Nomad-Index` response header, for the next blocking query.
    pub index: u64,
    /// The `X-Nomad-NextToken` response header of a paged list (empty: the last page).
    pub next_token: String,
}

/// How a read waits: a plain read by default, or a blocking query that waits up to
/// `wait` for the resource's index to pass `index`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// The index to wait past (`?index=`).
    pub index: u64,
    /// How long the agent may hold the answer (`?wait=`); the agent caps it at 5m.
    pub wait: Option<Duration>,
}

impl QueryOptions {
    /// A blocking query past `index`, or a plain read when `index` is 0 (as Nomad's
    /// monitors start).
    pub fn blocking(index: u64, wait: Duration) -> QueryOptions {
        if index == 0 {
            return QueryOptions::default();
        }
        QueryOptions {
            index,
            wait: Some(wait),
        }
    }

    /// The query parameters: both when waiting, `index` alone when only it is set.
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        match self.wait {
            Some(wait) => vec![
                ("index", self.index.to_string()),
                ("wait", go_duration(wait)),
            ],
            None if self.index > 0 => vec![("index", self.index.to_string())],
            None => Vec::new(),
        }
    }
}

/// A duration as Go writes it in a query: `5m`, `5s`, `250ms`.
pub fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 || !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_like_go() {
        assert_eq!(go_duration(Duration::from_secs(300)), "5m");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn a_first_read_does_not_block() {
        assert!(
            QueryOptions::blocking(0, Duration::from_secs(5))
                .params()
                .is_empty()
        );
        assert_eq!(
            QueryOptions::blocking(7, Duration::from_secs(5)).params(),
            [("index", "7".to_string()), ("wait", "5s".to_string())]
        );
    }
}
