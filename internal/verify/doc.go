// Package verify implements the face-verification evaluation protocol
// behind `facematch eval verify` and the project's published accuracy
// figures.
//
// # Protocol
//
// A pairs file lists image pairs labelled same or different person, each
// assigned to a fold. [ReadPairs] reads two formats:
//
//   - the official LFW pairs.txt: a "FOLDS<TAB>N" header, then per fold N
//     matched lines "name<TAB>n1<TAB>n2" and N mismatched lines
//     "name1<TAB>n1<TAB>name2<TAB>n2"; images are name/name_%04d.jpg and
//     the folds are those of the file;
//   - a TSV "image_a<TAB>image_b<TAB>same" with an optional header; folds
//     are 10 stratified random folds drawn from a fixed seed, so every run
//     on the same file uses the same split.
//
// The caller embeds the images and passes one similarity per pair (higher
// means more alike; NaN when no face was found) to [Evaluate]. Accuracy is
// measured by k-fold cross-validation: for each fold the decision threshold
// is the one with the best accuracy on the other folds, and the fold is
// scored at that threshold. A pair is accepted as "same" when its score is
// strictly greater than the threshold. Pairs without a score count as wrong
// at every threshold, as LFW reporting does for pipeline failures.
// TAR@FAR and AUC are computed over all scored pairs; with N impostor pairs
// no FAR below 1/N can be resolved (see [Report.MinResolvableFAR]).
//
// [FitLogistic] calibrates one recognizer's scores into log-likelihood
// ratios so that scores of several recognizers can be fused by addition.
//
// Everything in the package is a pure function of its inputs and safe for
// concurrent use.
package verify
