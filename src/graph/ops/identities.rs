//! Corporate device identifiers (docs/graph.md §1.2).

use reqwest::Method;
use serde::Serialize;

use super::super::client::GraphClient;
use super::super::error::GraphError;
use super::super::models::{Collection, ImportedDeviceIdentity, ImportedDeviceIdentityResult};
use super::super::odata::{Query, literal};
use super::super::retry::RetrySafety;
use super::seg;

const BASE: &str = "/deviceManagement/importedDeviceIdentities";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportBody<'a> {
    imported_device_identities: &'a [ImportedDeviceIdentity],
    #[serde(skip_serializing_if = "Option::is_none")]
    overwrite_imported_device_identities: Option<bool>,
}

impl GraphClient {
    /// `POST importDeviceIdentityList`. With `overwrite` the import is an upsert keyed by the
    /// identifier, so a repeat after an unclear outcome converges to the same state: retried.
    /// Without it a repeat would report "already exists" for rows the first attempt created,
    /// so it is only retried when certainly unprocessed (429).
    pub async fn import_device_identities(
        &self,
        identities: &[ImportedDeviceIdentity],
        overwrite: bool,
    ) -> Result<Vec<ImportedDeviceIdentityResult>, GraphError> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let body = ImportBody {
            imported_device_identities: identities,
            overwrite_imported_device_identities: Some(overwrite),
        };
        let safety = if overwrite {
            RetrySafety::Idempotent
        } else {
            RetrySafety::NotIdempotent
        };
        let page: Collection<ImportedDeviceIdentityResult> = self
            .send_json(
                Method::POST,
                self.beta(&format!("{BASE}/importDeviceIdentityList"), &Query::new()),
                Some(&body),
                safety,
            )
            .await?;
        Ok(page.value)
    }

    /// `POST searchExistingIdentities`: a read despite the verb, so retried freely.
    pub async fn search_existing_identities(
        &self,
        identities: &[ImportedDeviceIdentity],
    ) -> Result<Vec<ImportedDeviceIdentity>, GraphError> {
        let body = ImportBody {
            imported_device_identities: identities,
            overwrite_imported_device_identities: None,
        };
        let page: Collection<ImportedDeviceIdentity> = self
            .send_json(
                Method::POST,
                self.beta(&format!("{BASE}/searchExistingIdentities"), &Query::new()),
                Some(&body),
                RetrySafety::Idempotent,
            )
            .await?;
        Ok(page.value)
    }

    /// Lists identities, optionally `contains(importedDeviceIdentifier,'…')`; every page is
    /// followed and every row re-checked (case-insensitive substring) in case the filter is ignored.
    pub async fn list_imported_identities(
        &self,
        contains: Option<&str>,
    ) -> Result<Vec<ImportedDeviceIdentity>, GraphError> {
        let q = match contains {
            Some(c) => {
                Query::new().filter(format!("contains(importedDeviceIdentifier,{})", literal(c)))
            }
            None => Query::new(),
        };
        let all: Vec<ImportedDeviceIdentity> = self.get_all(self.beta(BASE, &q)).await?;
        Ok(match contains {
            Some(c) => {
                let needle = c.to_lowercase();
                all.into_iter()
                    .filter(|i| {
                        i.imported_device_identifier
                            .as_deref()
                            .is_some_and(|v| v.to_lowercase().contains(&needle))
                    })
                    .collect()
            }
            None => all,
        })
    }

    /// `DELETE importedDeviceIdentities/{id}`: idempotent; a 404 means it is already gone (for
    /// example a retry whose first attempt succeeded) and counts as success.
    pub async fn delete_imported_identity(&self, id: &str) -> Result<(), GraphError> {
        let r: Result<(), GraphError> = self
            .send_json::<(), ()>(
                Method::DELETE,
                self.beta(&format!("{BASE}/{}", seg(id)), &Query::new()),
                None,
                RetrySafety::Idempotent,
            )
            .await;
        match r {
            Err(GraphError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }
}
