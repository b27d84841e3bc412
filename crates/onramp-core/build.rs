//! Packs the two large catalog files into the binary brotli-compressed (430 KB of text → ~30 KB):
//! the engine unpacks each once, when it first reads it (`catalog::packed`). The files in
//! `catalog/` stay plain text: they are what people read, review and regenerate.

use std::io::Write;
use std::path::PathBuf;

const PACKED: &[&str] = &["catalog/operations.json", "catalog/scopes.toml"];

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for source in PACKED {
        println!("cargo:rerun-if-changed={source}");
        let text = std::fs::read(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let name = source.rsplit('/').next().unwrap();
        let target = out_dir.join(format!("{name}.br"));
        let file = std::fs::File::create(&target).unwrap_or_else(|e| panic!("{target:?}: {e}"));
        // Quality 11, 4 MiB window: the smallest output; this runs once per build of the crate.
        let mut writer = brotli::CompressorWriter::new(file, 64 * 1024, 11, 22);
        writer
            .write_all(&text)
            .unwrap_or_else(|e| panic!("{target:?}: {e}"));
        writer.flush().unwrap_or_else(|e| panic!("{target:?}: {e}"));
    }
}
