//! Paging through `@odata.nextLink` only, followed verbatim.
//!
//! A nextLink whose origin is not the configured Graph origin is refused before any request is
//! made ([`GraphClient::execute`] checks every URL), so it never receives the bearer token.

use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::{GraphClient, Request};
use super::error::GraphError;
use super::models::Collection;
use super::retry::RetrySafety;

/// Upper bound on pages in one listing, so a server that loops its nextLink cannot hang a feed.
pub const MAX_PAGES: usize = 10_000;

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
        while let Some(url) = next.take() {
            if pages == MAX_PAGES {
                return Err(GraphError::Decode {
                    what: url.path().to_string(),
                    detail: format!("more than {MAX_PAGES} pages; the nextLink chain does not end"),
                    request_id: None,
                });
            }
            let answer = self
                .execute(Request {
                    method: Method::GET,
                    url: url.clone(),
                    body: None,
                    safety: RetrySafety::Idempotent,
                })
                .await?;
            let page: Collection<T> =
                serde_json::from_slice(&answer.body).map_err(|e| GraphError::Decode {
                    what: url.path().to_string(),
                    detail: e.to_string(),
                    request_id: answer.request_id.clone(),
                })?;
            pages += 1;
            f(page.value);
            if let Some(link) = page.next_link {
                let parsed = Url::parse(&link).map_err(|e| GraphError::Decode {
                    what: url.path().to_string(),
                    detail: format!("@odata.nextLink is not an absolute URL: {e}"),
                    request_id: answer.request_id.clone(),
                })?;
                if parsed == url {
                    return Err(GraphError::Decode {
                        what: url.path().to_string(),
                        detail: "@odata.nextLink points at the page just read".into(),
                        request_id: answer.request_id,
                    });
                }
                next = Some(parsed);
            }
        }
        Ok(pages)
    }
}
