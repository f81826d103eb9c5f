//! Rebuild when the embedded frontend or static files change (include_dir! does not track them).
fn main() {
    println!("cargo:rerun-if-changed=../../frontend/js");
    println!("cargo:rerun-if-changed=../../frontend/templates");
    println!("cargo:rerun-if-changed=../../static");
}
