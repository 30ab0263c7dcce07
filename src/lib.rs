//! attend: sequence models from word embeddings to the Transformer, in pure
//! Rust on Burn. This facade re-exports the four crates and the device
//! selection that maps cargo features and `--device` specs to a Burn `Device`.

pub mod device;

pub use attend_data as data;
pub use attend_model as model;
pub use attend_serve as serve;
pub use attend_train as train;
pub use burn;

/// The Burn version attend is built against (pinned in Cargo.toml).
pub const BURN_VERSION: &str = "0.22.1";
