//! `?per_page=&next_token=` (and `?reverse=`) of the lists Nomad pages by create index:
//! the token is the first entry of the next page as `<CreateIndex>.<ID>`, answered in
//! `X-Nomad-NextToken`.

use axum::http::HeaderValue;
use axum::response::Response;

use crate::{ApiError, RequestContext};

/// One page of a list and the token of the next, if there is one.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// Orders `items` by (create index, ID), ascending or with `?reverse=true` descending,
/// and cuts the page the request asks for.
pub(crate) fn by_create_index<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> (u64, String),
    context: &RequestContext,
) -> Result<Page<T>, ApiError> {
    let reverse = context.flag("reverse")?;
    let per_page = match context.param("per_page").filter(|p| !p.is_empty()) {
        None => 0,
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid per_page value {text:?}: must be a whole number"
            ))
        })?,
    };
    items.sort_by_key(&key);
    if reverse {
        items.reverse();
    }
    if let Some(token) = context.param("next_token").filter(|t| !t.is_empty()) {
        let start = parse_token(token);
        items.retain(|item| {
            let here = key(item);
            if reverse {
                here <= start
            } else {
                here >= start
            }
        });
    }
    if per_page == 0 || items.len() <= per_page {
        return Ok(Page {
            items,
            next_token: None,
        });
    }
    let rest = items.split_off(per_page);
    let next_token = rest.first().map(|item| {
        let (index, id) = key(item);
        format!("{index}.{id}")
    });
    Ok(Page { items, next_token })
}

/// `<CreateIndex>.<ID>`; a token without an index starts at the ID alone, as a token of
/// index 0 would.
fn parse_token(token: &str) -> (u64, String) {
    match token.split_once('.') {
        Some((index, id)) => match index.parse() {
            Ok(index) => (index, id.to_string()),
            Err(_) => (0, token.to_string()),
        },
        None => (0, token.to_string()),
    }
}

/// Adds `X-Nomad-NextToken` to an answer when there is a next page.
pub(crate) fn with_next_token(mut response: Response, next_token: Option<String>) -> Response {
    if let Some(token) = next_token
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        response.headers_mut().insert("X-Nomad-NextToken", value);
    }
    response
}
