//! Streaming list operations: each page is handed over as it arrives, so a 10,000-device fleet
//! never sits in memory as one `Vec` of entities (REFERENCE: `managedDevice` paging, docs/graph.md).

use serde::de::DeserializeOwned;

use super::super::client::GraphClient;
use super::super::error::GraphError;
use super::super::models::ImportedDeviceIdentity;
use super::super::odata::{DeviceFilter, Filterable, Query};

const DEVICES: &str = "/deviceManagement/managedDevices";
const IDENTITIES: &str = "/deviceManagement/importedDeviceIdentities";
const AUTOPILOT_DEVICES: &str = "/deviceManagement/windowsAutopilotDeviceIdentities";
/// `managedDevices` page size: Graph's default, and the most it is seen to hand out.
pub const DEVICE_PAGE: u32 = 1000;

impl GraphClient {
    /// Calls `f` with every managed device, page by page (`$top=1000`, `@odata.nextLink`), as
    /// the row type `T` (a full `ManagedDevice` or a compact summary). `select` limits the
    /// properties (empty: all); the filter's own property and `id` are added to a non-empty
    /// `select`. Rows that do not satisfy the filter are dropped here, because Intune ignores
    /// filters it does not support. Returns how many rows `f` got.
    pub async fn for_each_managed_device<T, F>(
        &self,
        filter: Option<&DeviceFilter>,
        select: &[&str],
        mut f: F,
    ) -> Result<usize, GraphError>
    where
        T: DeserializeOwned + Filterable,
        F: FnMut(T),
    {
        let mut fields: Vec<&str> = select.to_vec();
        let mut q = Query::new();
        if let Some(filter) = filter {
            filter.validate().map_err(GraphError::Invalid)?;
            q = q.filter(filter.to_odata());
            if !fields.is_empty() {
                for need in ["id", filter.field()] {
                    if !fields.contains(&need) {
                        fields.push(need);
                    }
                }
            }
        }
        let q = q.select(&fields).top(DEVICE_PAGE);
        let (mut kept, mut dropped) = (0usize, 0usize);
        self.for_each_page(self.beta(DEVICES, &q), |page: Vec<T>| {
            for d in page {
                if filter.is_none_or(|flt| flt.matches(&d)) {
                    kept += 1;
                    f(d);
                } else {
                    dropped += 1;
                }
            }
        })
        .await?;
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "Graph returned devices outside the filter; dropped them"
            );
        }
        Ok(kept)
    }

    /// Calls `f` with every corporate device identifier, page by page. Returns how many.
    pub async fn for_each_imported_identity<F>(&self, mut f: F) -> Result<usize, GraphError>
    where
        F: FnMut(ImportedDeviceIdentity),
    {
        let mut n = 0usize;
        self.for_each_page(
            self.beta(IDENTITIES, &Query::new()),
            |page: Vec<ImportedDeviceIdentity>| {
                n += page.len();
                page.into_iter().for_each(&mut f);
            },
        )
        .await?;
        Ok(n)
    }

    /// Calls `f` with every Windows Autopilot device (`windowsAutopilotDeviceIdentities`, beta),
    /// page by page, as the row type `T`: one listing answers for any number of devices, matched
    /// by serial on our side (Graph refuses `serialNumber eq`). Returns how many.
    pub async fn for_each_autopilot_device<T, F>(&self, mut f: F) -> Result<usize, GraphError>
    where
        T: DeserializeOwned,
        F: FnMut(T),
    {
        let mut n = 0usize;
        self.for_each_page(
            self.beta(AUTOPILOT_DEVICES, &Query::new()),
            |page: Vec<T>| {
                n += page.len();
                page.into_iter().for_each(&mut f);
            },
        )
        .await?;
        Ok(n)
    }
}
