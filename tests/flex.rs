//! The same model with the same weights gives the same outputs and gradients
//! on ndarray and on Burn's flex CPU backend (runs when built with
//! `--features flex`, as CI does). The checks are in `tests/common/parity.rs`.
#![cfg(all(feature = "flex", feature = "ndarray"))]

mod common;
use common::parity;

#[test]
fn transformer_agrees_on_ndarray_and_flex() {
    parity::transformer("flex");
}

#[test]
fn recurrent_encoder_decoder_with_attention_agrees_on_ndarray_and_flex() {
    parity::lstm_attention("flex");
}

#[test]
fn recurrent_lm_and_vector_decoder_agree_on_ndarray_and_flex() {
    parity::recurrent_lm_and_vector_decoder("flex");
}

#[test]
fn gpt_agrees_on_ndarray_and_flex() {
    parity::gpt("flex");
}

#[test]
fn word2vec_tensor_engine_agrees_on_ndarray_and_flex() {
    parity::word2vec_tensor_engine("flex");
}
