//! How much of what a server sends is read, whatever it sends. Each bound ends the operation with
//! an error naming the limit; none is a wall-clock limit. docs/security.md lists them.

/// One Graph answer (a page of 1,000 managed devices with every property is about 8 MiB).
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// Pages in one listing; with [`MAX_LISTING_BYTES`] this bounds a nextLink chain that never ends.
pub const MAX_PAGES: usize = 10_000;
/// Items in one listing (the largest Intune tenants hold a few hundred thousand devices).
pub const MAX_LISTING_ITEMS: usize = 1_000_000;
/// Answer bytes read for one listing, all pages together.
pub const MAX_LISTING_BYTES: usize = 1 << 30;
/// The export ZIP downloaded from the pre-signed URL.
pub const MAX_EXPORT_DOWNLOAD_BYTES: usize = 256 << 20;
/// The CSV entry inside the export ZIP, uncompressed (a zip bomb stops here).
pub const MAX_EXPORT_CSV_BYTES: u64 = 512 << 20;
/// Redirects the export download follows (https only, no `Referer`).
pub const MAX_EXPORT_REDIRECTS: usize = 1;

/// Reads `resp`'s body, refusing more than `limit` bytes (by `Content-Length` before reading, and
/// by count while reading). `Err(Ok(n))` is "over the limit after `n` bytes".
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Result<usize, reqwest::Error>> {
    if let Some(len) = resp.content_length()
        && len > limit as u64
    {
        return Err(Ok(usize::try_from(len).unwrap_or(usize::MAX)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Err)? {
        if body.len() + chunk.len() > limit {
            return Err(Ok(body.len() + chunk.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `n` bytes as MiB for messages.
pub(crate) fn mib(n: usize) -> String {
    format!("{} MiB", n >> 20)
}
