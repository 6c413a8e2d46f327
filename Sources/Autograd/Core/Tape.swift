/// Whether ops record gradients. Off inside ``withNoGrad(_:)``.
public enum GradMode {
    @TaskLocal static var isEnabled = true

    /// True when ops record backward nodes.
    public static var enabled: Bool { isEnabled }
}

/// Runs `body` without recording any backward node (inference, evaluation, optimizer updates).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

/// One recorded op: its inputs and the closure that turns the output's gradient into input gradients.
final class Node {
    let op: String
    let inputs: [Tensor]
    /// Accumulates into `inputs[i].grad` given the output gradient. Set to nil once run, which frees
    /// everything the closure saved for backward.
    var backward: ((Tensor) -> Void)?

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// Records `self` as the output of `op` applied to `inputs`, if gradients are being recorded and any
    /// input needs one. `backward` must not capture `self` (capture `self.detached()` instead).
    @discardableResult
    func recorded(_ op: String, _ inputs: [Tensor], backward: @escaping (Tensor) -> Void) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return self }
        requiresGrad = true
        node = Node(op: op, inputs: inputs, backward: backward)
        return self
    }

    /// Back-propagates from this tensor. `seed` is d(objective)/d(self); it defaults to 1 for a
    /// one-element tensor. Gradients add into the `grad` of every tensor that requires one; those of
    /// intermediate tensors and everything their ops saved are released as soon as they are used.
    public func backward(seed: Tensor? = nil) {
        let seed = seed ?? {
            precondition(count == 1, "backward: tensor of shape \(shape) needs an explicit seed")
            return Tensor(repeating: 1, shape: shape)
        }()
        shapeCheck(seed.shape == shape, "backward: seed \(seed.shape) vs tensor \(shape)")
        guard requiresGrad else { return }
        if node != nil && grad == nil {
            grad = seed  // the root's gradient is only read (then released), so the seed needs no copy
        } else {
            accumulateGrad(seed)
        }
        for t in topologicalOrder().reversed() {
            guard let node = t.node else { continue }
            if let g = t.grad { node.backward?(g) }
            node.backward = nil
            t.node = nil
            t.grad = nil  // an intermediate's gradient is not needed past this point
        }
    }

    /// Tensors reachable through recorded nodes, inputs before the ops that use them.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative post-order DFS: (tensor, next input index to visit).
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (t, i) = stack.popLast() {
            let inputs = t.node?.inputs ?? []
            if i < inputs.count {
                stack.append((t, i + 1))
                let next = inputs[i]
                if next.requiresGrad, visited.insert(ObjectIdentifier(next)).inserted {
                    stack.append((next, 0))
                }
            } else {
                order.append(t)
            }
        }
        return order
    }

    /// Adds `g` into this tensor's gradient (copying it the first time).
    func accumulateGrad(_ g: Tensor) {
        shapeCheck(g.count == count, "gradient \(g.shape) for tensor \(shape)")
        withGradBuffer { dst, accumulate in
            if accumulate { Vector.add(g.data, into: dst, count) } else { Vector.copy(g.data, to: dst, count) }
        }
    }

    /// Hands a kernel this tensor's gradient buffer. `accumulate` is false when the buffer was just
    /// allocated and is uninitialised (the kernel must write every element), true when it must add.
    func withGradBuffer(_ body: (UnsafeMutablePointer<Float>, _ accumulate: Bool) -> Void) {
        if let grad {
            body(grad.data, true)
        } else {
            let g = Tensor(uninitialized: shape)
            body(g.data, false)
            grad = g
        }
    }

    /// ``withGradBuffer(_:)`` when `needed`, else `body(nil, false)`.
    func withGradBufferIf(_ needed: Bool, _ body: (UnsafeMutablePointer<Float>?, Bool) -> Void) {
        if needed { withGradBuffer { body($0, $1) } } else { body(nil, false) }
    }

    /// ``withGradBuffer(_:)`` when this tensor requires a gradient, else a throwaway scratch buffer, for
    /// kernels that produce several gradients in one pass.
    func withGradBufferOrScratch(_ body: (UnsafeMutablePointer<Float>, Bool) -> Void) {
        if requiresGrad { return withGradBuffer(body) }
        let scratch = Tensor(uninitialized: shape)
        withExtendedLifetime(scratch) { body(scratch.data, false) }
    }

    /// Makes `buffer` (same shape, usually a window of a flat gradient buffer) this tensor's gradient:
    /// backward then adds into it, and it is never released or replaced (zero it between steps).
    public func attachGradient(_ buffer: Tensor) {
        precondition(buffer.shape == shape, "attachGradient: buffer \(buffer.shape) for tensor \(shape)")
        grad = buffer
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}
