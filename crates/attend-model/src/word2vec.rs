//! Word2vec with negative sampling (Mikolov et al., 2013, "Distributed
//! Representations of Words and Phrases and their Compositionality"), as
//! tensor operations so that it runs on any Burn backend.
//!
//! Two tables: `input` holds the word vectors one keeps, `output` the vectors
//! that words are predicted against. For a batch of examples, each a context
//! (one word for skip-gram, the window's mean for CBOW) and 1 + k targets (the
//! true word, label 1, and k noise words, label 0), the loss is
//! −Σ log σ(±u_t·h). Its gradient touches only the rows in the batch, so a step
//! gathers them, computes the update in closed form and adds it back with a
//! scatter-add ([`Word2Vec::sgd_step`]); [`Word2Vec::loss`] is the same loss
//! for autodiff, against which the closed form is tested.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::IndexingUpdateOp;

/// The two embedding tables of word2vec.
#[derive(Module, Debug)]
pub struct Word2Vec {
    /// Word vectors, `[vocab, dim]`.
    pub input: Param<Tensor<2>>,
    /// Output ("context") vectors, `[vocab, dim]`.
    pub output: Param<Tensor<2>>,
}

/// One batch of examples, as tensors.
#[derive(Debug, Clone)]
pub struct Word2VecBatch {
    /// Context word ids, `[batch, slots]` (1 slot for skip-gram, 2·window for CBOW).
    pub context: Tensor<2, Int>,
    /// Weight of each slot in the context vector (1/count, 0 for padding).
    pub weight: Tensor<2>,
    /// Target ids: the true word then the noise words, `[batch, 1 + k]`.
    pub targets: Tensor<2, Int>,
    /// 1 for the true word, 0 for noise, `[batch, 1 + k]`.
    pub labels: Tensor<2>,
    /// 1 for a real target, 0 for one to ignore (a noise draw equal to the word).
    pub target_mask: Tensor<2>,
}

impl Word2Vec {
    /// Wraps existing tables (the trainer starts from input vectors uniform in
    /// ±1/dim and zero output vectors, as gensim).
    pub fn from_tables(input: Tensor<2>, output: Tensor<2>) -> Self {
        Self { input: Param::from_tensor(input), output: Param::from_tensor(output) }
    }

    /// Gathers the context vector h and the target rows U of a batch.
    fn gather(&self, b: &Word2VecBatch) -> (Tensor<2>, Tensor<3>) {
        let [batch, slots] = b.context.dims();
        let k1 = b.targets.dims()[1];
        let dim = self.input.dims()[1];
        let ctx = self.input.val().select(0, b.context.clone().reshape([batch * slots])); // [batch*slots, dim]
        let h = (ctx.reshape([batch, slots, dim]) * b.weight.clone().unsqueeze_dim::<3>(2)).sum_dim(1); // [batch, 1, dim]
        let u = self.output.val().select(0, b.targets.clone().reshape([batch * k1])).reshape([batch, k1, dim]); // [batch, 1+k, dim]
        (h.reshape([batch, dim]), u)
    }

    /// Scores h·u of every target, `[batch, 1 + k]`.
    fn scores(h: &Tensor<2>, u: &Tensor<3>) -> Tensor<2> {
        let [batch, k1, _] = u.dims();
        (u.clone() * h.clone().unsqueeze_dim::<3>(1)).sum_dim(2).reshape([batch, k1]) // [batch, 1+k]
    }

    /// Negative-sampling loss summed over the batch: −Σ mask·log σ(±score).
    pub fn loss(&self, b: &Word2VecBatch) -> Tensor<1> {
        let (h, u) = self.gather(b);
        let s = Self::scores(&h, &u);
        let sign = b.labels.clone().mul_scalar(2.0).sub_scalar(1.0); // +1 true word, −1 noise
        (log_sigmoid(s * sign) * b.target_mask.clone()).sum().neg()
    }

    /// One step of plain SGD with learning rate `lr`, in closed form: with
    /// g = lr·(label − σ(score))·mask, every target row moves by g·h and every
    /// context word by Σ g·u, summed over the batch. For skip-gram this is
    /// exactly −lr times the gradient of [`Self::loss`]; for CBOW, as in
    /// word2vec.c, each context word gets the whole Σ g·u, not its 1/count
    /// share. Returns the batch's loss before the step.
    pub fn sgd_step(&mut self, b: &Word2VecBatch, lr: f64) -> Tensor<1> {
        let [batch, slots] = b.context.dims();
        let k1 = b.targets.dims()[1];
        let dim = self.input.dims()[1];
        let (h, u) = self.gather(b);
        let s = Self::scores(&h, &u);
        let sign = b.labels.clone().mul_scalar(2.0).sub_scalar(1.0);
        let loss = (log_sigmoid(s.clone() * sign) * b.target_mask.clone()).sum().neg();
        let g = ((b.labels.clone() - sigmoid(s)) * b.target_mask.clone()).mul_scalar(lr); // [batch, 1+k]
        let g3 = g.unsqueeze_dim::<3>(2); // [batch, 1+k, 1]
        let dh = (g3.clone() * u).sum_dim(1).reshape([batch, 1, dim]); // [batch, 1, dim]
        let du = g3 * h.unsqueeze_dim::<3>(1); // [batch, 1+k, dim]
        let dctx = dh * b.weight.clone().greater_elem(0.0).float().unsqueeze_dim::<3>(2); // [batch, slots, dim]
        let (in_id, out_id) = (self.input.id, self.output.id);
        let input = self.input.val().select_assign(
            0,
            b.context.clone().reshape([batch * slots]),
            dctx.reshape([batch * slots, dim]),
            IndexingUpdateOp::Add,
        );
        let output = self.output.val().select_assign(
            0,
            b.targets.clone().reshape([batch * k1]),
            du.reshape([batch * k1, dim]),
            IndexingUpdateOp::Add,
        );
        self.input = Param::initialized(in_id, input);
        self.output = Param::initialized(out_id, output);
        loss
    }
}
