//! The same model with the same weights gives the same outputs and gradients
//! on the CPU (ndarray) and on wgpu. Runs when built with `--features wgpu`;
//! CI runs it on Mesa's software Vulkan driver (lavapipe). The checks are in
//! `tests/common/parity.rs`, shared with the flex backend's `tests/flex.rs`.
#![cfg(all(feature = "wgpu", feature = "ndarray"))]

mod common;
use common::parity;

#[test]
fn transformer_agrees_on_cpu_and_wgpu() {
    parity::transformer("wgpu");
}

#[test]
fn recurrent_encoder_decoder_with_attention_agrees_on_cpu_and_wgpu() {
    parity::lstm_attention("wgpu");
}

#[test]
fn recurrent_lm_and_vector_decoder_agree_on_cpu_and_wgpu() {
    parity::recurrent_lm_and_vector_decoder("wgpu");
}

#[test]
fn gpt_agrees_on_cpu_and_wgpu() {
    parity::gpt("wgpu");
}

#[test]
fn word2vec_tensor_engine_agrees_on_cpu_and_wgpu() {
    parity::word2vec_tensor_engine("wgpu");
}
