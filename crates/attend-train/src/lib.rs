//! Training for attend: the loop, losses, learning-rate schedules, gradient
//! clipping, metrics (loss, perplexity, accuracy, sacreBLEU-exact BLEU),
//! checkpoints that lose nothing, and loading trained runs.

pub mod bench;
pub mod bleu;
pub mod checkpoint;
pub mod classify;
pub mod compare;
pub mod clip;
pub mod config;
pub mod ema;
pub mod ensemble;
pub mod error;
pub mod generate;
pub mod lm;
pub mod metrics;
pub mod plot;
pub mod prepare;
pub mod run;
pub mod schedule;
pub mod seq2seq;
pub mod trainer;
pub mod vector_seq;
pub mod word2vec;

pub use config::{RunConfig, Task};
pub use error::{Result, TrainError};
pub use run::LoadedRun;
pub use trainer::{train, Outcome, Report};
