/// Activation recomputation (gradient checkpointing): `body(x)` whose inside is not kept for backward.
///
/// Forward runs `body` without recording, so only `x` (held by the node) and the output stay alive.
/// Backward runs `body` again with recording on, from a detached copy of `x` that shares its elements,
/// back-propagates the incoming gradient through that fresh graph (which adds into the `grad` of
/// `parameters`, the tensors `body` reads besides `x`) and adds the copy's gradient into `x`'s.
///
/// The gradients are bit for bit those of `body(x)` recorded directly, as long as `body` is
/// deterministic: the replayed graph is the same graph, and its backward visits its nodes in the same
/// relative order. `body` may contain collectives (``sumOverShards(_:_:)``): the replay enters them
/// again, in the same order on every rank, since every rank runs the same backward.
/// - Parameters:
///   - x: the input, e.g. a decoder block's residual stream `[N, D]`.
///   - parameters: every tensor `body` uses that may need a gradient, other than `x`.
///   - body: the computation; kept (with what it captures) until backward has run.
public func recomputed(_ x: Tensor, parameters: [Tensor], _ body: @escaping (Tensor) -> Tensor) -> Tensor {
    let inputs = [x] + parameters
    guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return body(x) }
    let out = withNoGrad { body(x) }
    precondition(out !== x, "recomputed: body must compute a new tensor, not return its input")
    return out.recorded("recomputed", inputs) { g in
        let replay = x.detached()
        replay.requiresGrad = x.requiresGrad
        let y = GradMode.$isEnabled.withValue(true) { body(replay) }
        y.backward(seed: g)
        if let dx = replay.grad { x.accumulateGrad(dx) }
    }
}
