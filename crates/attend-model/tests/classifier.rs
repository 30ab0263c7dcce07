//! Text classifiers: every pooling gives a text the same scores alone and in a
//! padded batch, the poolings differ from one another, and pooling choices an
//! architecture has no meaning for are refused.

use attend_model::classifier::{Classifier, ClassifierArch, ClassifierConfig, Pooling};
use burn::prelude::*;

#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn model(arch: ClassifierArch, pooling: Pooling, dev: &Device) -> Classifier {
    dev.seed(11);
    ClassifierConfig::new(30, 3)
        .with_arch(arch)
        .with_d_model(16)
        .with_n_heads(2)
        .with_d_ff(32)
        .with_layers(2)
        .with_dropout(0.0)
        .with_max_len(16)
        .with_pooling(pooling)
        .init(dev)
        .unwrap()
}

fn scores(m: &Classifier, rows: &[Vec<i64>], lengths: &[usize], dev: &Device) -> Vec<f32> {
    let seq = rows[0].len();
    let flat: Vec<i64> = rows.iter().flatten().copied().collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [rows.len(), seq]), dev);
    m.forward(ids, lengths).into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn padding_never_changes_a_texts_scores() {
    let dev = device();
    let cases = [
        (ClassifierArch::Transformer, Pooling::Mean),
        (ClassifierArch::Transformer, Pooling::Max),
        (ClassifierArch::Transformer, Pooling::Cls),
        (ClassifierArch::Lstm, Pooling::Final),
        (ClassifierArch::Lstm, Pooling::Mean),
        (ClassifierArch::Lstm, Pooling::Max),
        (ClassifierArch::Bag, Pooling::Mean),
        (ClassifierArch::Bag, Pooling::Max),
    ];
    let mut seen: Vec<(ClassifierArch, Vec<f32>)> = Vec::new();
    for (arch, pooling) in cases {
        let m = model(arch, pooling, &dev);
        let alone = scores(&m, &[vec![5, 9, 4]], &[3], &dev);
        // The same text next to a longer one, padded with ids that would change the result if read.
        let batched = scores(&m, &[vec![5, 9, 4, 17, 23, 8], vec![3, 12, 7, 21, 6, 14]], &[3, 6], &dev);
        for (a, b) in alone.iter().zip(&batched[..3]) {
            assert!((a - b).abs() < 1e-5, "{arch:?}/{pooling:?}: alone {alone:?}, batched {:?}", &batched[..3]);
        }
        // Same seed, same weights: another pooling of the same encoder must give other scores.
        for (other_arch, other) in &seen {
            if *other_arch == arch {
                assert!(alone.iter().zip(other).any(|(a, b)| (a - b).abs() > 1e-4), "{arch:?}/{pooling:?} equals another pooling");
            }
        }
        seen.push((arch, alone));
    }
}

#[test]
fn pooling_an_architecture_cannot_do_is_refused() {
    let dev = device();
    let lstm_cls = ClassifierConfig::new(30, 2).with_arch(ClassifierArch::Lstm).with_pooling(Pooling::Cls).init(&dev);
    assert!(lstm_cls.unwrap_err().to_string().contains("cls"));
    let tf_final = ClassifierConfig::new(30, 2).with_arch(ClassifierArch::Transformer).with_pooling(Pooling::Final).init(&dev);
    assert!(tf_final.unwrap_err().to_string().contains("final"));
    for pooling in [Pooling::Cls, Pooling::Final] {
        let bag = ClassifierConfig::new(30, 2).with_arch(ClassifierArch::Bag).with_pooling(pooling).init(&dev);
        assert!(bag.unwrap_err().to_string().contains("bag"));
    }
}

#[test]
fn a_bag_of_ngrams_scores_the_mean_embedding_and_ignores_word_order() {
    let dev = device();
    let m = model(ClassifierArch::Bag, Pooling::Mean, &dev);
    let Classifier::Bag(bag) = &m else { panic!("not a bag") };
    // The scores are the output layer applied to the mean of the rows of the text's ids.
    let table = bag.embed.weight.val().into_data().try_to_vec::<f32>().unwrap(); // [30, 16]
    let w = bag.output.weight.val().into_data().try_to_vec::<f32>().unwrap(); // [16, 3]
    let b = bag.output.bias.as_ref().unwrap().val().into_data().try_to_vec::<f32>().unwrap();
    let ids = [5usize, 9, 4];
    let mean: Vec<f32> = (0..16).map(|j| ids.iter().map(|&i| table[i * 16 + j]).sum::<f32>() / 3.0).collect();
    let want: Vec<f32> = (0..3).map(|k| b[k] + (0..16).map(|j| mean[j] * w[j * 3 + k]).sum::<f32>()).collect();
    let got = scores(&m, &[vec![5, 9, 4]], &[3], &dev);
    for (g, e) in got.iter().zip(&want) {
        assert!((g - e).abs() < 1e-5, "scores {got:?}, by hand {want:?}");
    }
    let shuffled = scores(&m, &[vec![4, 5, 9]], &[3], &dev);
    for (g, e) in got.iter().zip(&shuffled) {
        assert!((g - e).abs() < 1e-5, "word order changed a bag's scores");
    }
}
