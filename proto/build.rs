//! Compiles the .proto files with protox (a protobuf compiler written in
//! Rust), so building needs no system `protoc`.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &["minikafka/v1/minikafka.proto", "protocol/minikafka.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Reflection serves these descriptors; `compile_fds` does not write them.
    std::fs::write(
        out_dir.join("minikafka_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // Payloads stay `bytes::Bytes` from the socket to the store: no copy.
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
