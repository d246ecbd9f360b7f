//! Paging through `@odata.nextLink` only, followed verbatim.
//!
//! A nextLink whose origin is not the configured Graph origin is refused before any request is
//! made ([`GraphClient::execute`] checks every URL), so it never receives the bearer token.
//! A nextLink already followed in this listing ends it with an error (a loop A→B→A), and a listing
//! is bounded by pages, items and bytes ([`super::limits`]) whatever the server sends.

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::{GraphClient, Request};
use super::error::GraphError;
use super::models::Collection;
use super::retry::RetrySafety;

pub use super::limits::MAX_PAGES;
use super::limits::{MAX_LISTING_BYTES, MAX_LISTING_ITEMS};

impl GraphClient {
    /// Every item of a collection, following `@odata.nextLink` until it is absent.
    pub async fn get_all<T: DeserializeOwned>(&self, first: Url) -> Result<Vec<T>, GraphError> {
        let mut all = Vec::new();
        self.for_each_page(first, |page: Vec<T>| all.extend(page))
            .await?;
        Ok(all)
    }

    /// Calls `f` with each page in order; returns the number of pages read.
    pub async fn for_each_page<T: DeserializeOwned, F: FnMut(Vec<T>)>(
        &self,
        first: Url,
        mut f: F,
    ) -> Result<usize, GraphError> {
        let mut next = Some(first);
        let mut pages = 0;
        let mut items = 0usize;
        let mut bytes = 0usize;
        // Every URL read in this listing: a link back to any of them is a loop.
        let mut seen: HashSet<Url> = HashSet::new();
        while let Some(url) = next.take() {
            let what = url.path().to_string();
            let too_much = |detail: String, request_id: Option<String>| GraphError::Decode {
                what: what.clone(),
                detail,
                request_id,
            };
            if pages == MAX_PAGES {
                return Err(too_much(
                    format!("more than {MAX_PAGES} pages; the nextLink chain does not end"),
                    None,
                ));
            }
            let answer = self
                .execute(Request {
                    method: Method::GET,
                    url: url.clone(),
                    body: None,
                    safety: RetrySafety::Idempotent,
                })
                .await?;
            bytes = bytes.saturating_add(answer.body.len());
            if bytes > MAX_LISTING_BYTES {
                return Err(too_much(
                    format!(
                        "the listing passed {} over {} pages",
                        super::limits::mib(MAX_LISTING_BYTES),
                        pages + 1
                    ),
                    answer.request_id,
                ));
            }
            let page: Collection<T> = serde_json::from_slice(&answer.body)
                .map_err(|e| too_much(e.to_string(), answer.request_id.clone()))?;
            drop(answer.body);
            pages += 1;
            items = items.saturating_add(page.value.len());
            if items > MAX_LISTING_ITEMS {
                return Err(too_much(
                    format!("the listing passed {MAX_LISTING_ITEMS} items"),
                    answer.request_id,
                ));
            }
            f(page.value);
            seen.insert(url);
            if let Some(link) = page.next_link {
                let parsed = Url::parse(&link).map_err(|e| {
                    too_much(
                        format!("@odata.nextLink is not an absolute URL: {e}"),
                        answer.request_id.clone(),
                    )
                })?;
                if seen.contains(&parsed) {
                    return Err(too_much(
                        format!(
                            "@odata.nextLink loops back to a page already read (page {} of this listing)",
                            pages + 1
                        ),
                        answer.request_id,
                    ));
                }
                next = Some(parsed);
            }
        }
        Ok(pages)
    }
}
