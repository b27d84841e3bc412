//! The catalog files `build.rs` packs with brotli (the two large ones; the rest are `include_str!`).

/// `catalog/operations.json`: Atlassian's operations and the scopes each needs.
pub const OPERATIONS_JSON: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/operations.json.br"));
/// `catalog/scopes.toml`: the scopes generated from Atlassian's OpenAPI documents.
pub const SCOPES_TOML: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/scopes.toml.br"));

/// The text of a packed file. They are part of the build (a unit test unpacks each), so failure
/// here is a bug, reported as an error by the callers that have one.
pub fn unpack(packed: &[u8]) -> Result<String, String> {
    let mut text = Vec::with_capacity(packed.len() * 16);
    brotli_decompressor::BrotliDecompress(&mut &packed[..], &mut text)
        .map_err(|e| format!("unpacking: {e}"))?;
    String::from_utf8(text).map_err(|e| format!("not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_packed_file_unpacks_to_the_file_in_the_repository() {
        for (packed, plain) in [
            (
                OPERATIONS_JSON,
                include_str!("../../catalog/operations.json"),
            ),
            (SCOPES_TOML, include_str!("../../catalog/scopes.toml")),
        ] {
            assert!(
                packed.len() * 4 < plain.len(),
                "packed smaller than a quarter"
            );
            assert_eq!(unpack(packed).unwrap(), plain);
        }
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let mut damaged = SCOPES_TOML.to_vec();
        damaged.truncate(damaged.len() / 2);
        assert!(unpack(&damaged).is_err());
        assert!(unpack(b"not brotli at all").is_err());
    }
}
