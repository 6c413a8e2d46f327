import Autograd

extension GemmaModel {
    /// Per-token log-probabilities of `targets` (`[B*T]`, -100 = not scored, giving 0) under the model,
    /// fused with the output projection (``tokenLogProbs(hidden:weight:targets:chunkSize:shard:logitCacheBytes:)``);
    /// on a model split over ranks every rank gets the whole vocabulary's values. Returns `[B, T]`.
    public func tokenLogProbs(ids: [Int32], targets: [Int32], batch: Int, positions: [Int32]? = nil,
                              documents: [Int32]? = nil) -> Tensor {
        let h = hiddenStates(ids: ids, batch: batch, positions: positions, documents: documents)
        let logp = Autograd.tokenLogProbs(hidden: enterShards(h, tensorParallel?.group), weight: embed, targets: targets,
                                          shard: tensorParallel?.vocab)
        return reshape(logp, [batch, ids.count / batch])
    }

    /// The summed log-probability of each row's scored tokens: `[B]` (the log-likelihood of a completion
    /// given its prompt when only the completion is scored).
    public func sequenceLogProbs(ids: [Int32], targets: [Int32], batch: Int, positions: [Int32]? = nil,
                                 documents: [Int32]? = nil) -> Tensor {
        sum(tokenLogProbs(ids: ids, targets: targets, batch: batch, positions: positions, documents: documents), axis: 1)
    }
}
