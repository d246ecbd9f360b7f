//! Serde types for the Graph resources stagehand reads and writes (docs/graph.md §1-10).
//!
//! Tolerant by design: unknown fields are ignored, `null` is accepted everywhere, and enums map
//! members they do not know (`unknownFutureValue` and later additions) to `Other`.

mod devices;
mod directory;
mod identities;
mod reports;
mod users;

pub use devices::*;
pub use directory::*;
pub use identities::*;
pub use reports::*;
pub use users::*;

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// `null` or absent → `T::default()` (for collections Graph sometimes sends as `null`).
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One page of a collection: `{"value": [...], "@odata.nextLink": "..."}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Collection<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

/// Parses a single entity, accepting the `{"value": {...}}` wrapper that Intune doc samples
/// (and possibly some Intune answers) use as well as the entity at top level. A `value` that is
/// an array is a collection and is left alone, so `Collection<T>` parses through here too.
pub fn parse_entity<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_slice(body)?;
    let inner = match &v {
        serde_json::Value::Object(m)
            if m.get("value").is_some_and(|v| !v.is_array())
                && m.keys().all(|k| k == "value" || k.starts_with("@odata.")) =>
        {
            m["value"].clone()
        }
        _ => v,
    };
    serde_json::from_value(inner)
}

/// Declares a Graph enum: camelCase members, unknown members become `Other`.
macro_rules! graph_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            /// A member this build does not know (`unknownFutureValue` or newer).
            #[serde(other)]
            Other,
        }
    };
}
pub(crate) use graph_enum;

#[cfg(test)]
pub(crate) mod tests;
