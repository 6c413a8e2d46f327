import Autograd

/// Every trainable tensor of a model in one flat Float32 buffer, with named views, and the gradients in a
/// second flat buffer of the same layout (llm.c style): the optimizer is one loop over the buffer, a
/// collective is one call, and checkpoints read and write by name.
///
/// Names are Hugging Face's (`model.layers.0.self_attn.q_proj.weight`), so the store is also the state
/// dict. Register every tensor with ``add(_:shape:decay:sharding:trainable:)`` before ``finalize()``;
/// afterwards the views are fixed and their `grad` accumulates into ``gradients``.
///
/// Frozen tensors (a LoRA run's base weights) come first: the trainable ones form the suffix
/// ``trainable`` of the flat buffer, and ``gradients`` covers only that suffix, so frozen tensors have
/// no gradient memory and record no gradient.
public final class ParameterStore {
    /// One named tensor of the store.
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        /// First element in the flat buffers.
        public let offset: Int
        public let count: Int
        /// Whether weight decay applies (false for norms and embeddings by default).
        public let decay: Bool
        /// How this rank's tensor (`shape`) relates to the full one (replicated when not sharded).
        public let sharding: Sharding
        /// Whether the tensor is trained (has a gradient); false for a LoRA run's frozen base.
        public let trainable: Bool
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    private var total = 0
    /// `[P]`: all parameter values, once finalised.
    public private(set) var values = Tensor(zeros: [0])
    /// `[trainable.count]`: the gradients of the trainable suffix ``trainable`` of ``values`` (all of it
    /// unless some tensors are frozen); flat position `i` of the store is element `i - trainable.lowerBound`.
    public private(set) var gradients = Tensor(zeros: [0])
    /// The flat positions of the trainable tensors: every position after the frozen ones.
    public var trainable: Range<Int> { firstTrainable..<total }
    private var firstTrainable = 0
    private var views: [Tensor] = []

    public init() {}

    /// Number of parameters (elements).
    public var count: Int { total }

    /// Declares a tensor (this rank's shard of it when `sharding` is given); returns its index. Names
    /// must be unique; frozen tensors (`trainable: false`) must all be added before the trainable ones.
    @discardableResult
    public func add(_ name: String, shape: [Int], decay: Bool, sharding: Sharding? = nil, trainable: Bool = true) -> Int {
        precondition(views.isEmpty, "ParameterStore.add(\(name)) after finalize()")
        precondition(index[name] == nil, "ParameterStore: duplicate parameter \(name)")
        precondition(trainable || entries.allSatisfy { !$0.trainable }, "ParameterStore.add(\(name)): frozen after a trainable tensor")
        let sharding = sharding ?? .replicated(shape)
        precondition(sharding.localShape == shape, "ParameterStore.add(\(name)): shape \(shape) is not the shard \(sharding.localShape)")
        let n = shape.reduce(1, *)
        entries.append(Entry(name: name, shape: shape, offset: total, count: n, decay: decay, sharding: sharding, trainable: trainable))
        index[name] = entries.count - 1
        total += n
        if !trainable { firstTrainable = total }
        return entries.count - 1
    }

    /// Allocates the flat buffers (values zeroed) and the views; only trainable views record gradients.
    public func finalize() {
        values = Tensor(zeros: [total])
        gradients = Tensor(zeros: [trainable.count])
        views = entries.map { e in
            let v = values.window(offset: e.offset, shape: e.shape)
            guard e.trainable else { return v }
            v.requiresGrad = true
            v.attachGradient(gradients.window(offset: e.offset - firstTrainable, shape: e.shape))
            return v
        }
    }

    /// The view of the tensor called `name` (nil if absent).
    public subscript(name: String) -> Tensor? {
        index[name].map { views[$0] }
    }

    /// The view of entry `i`.
    public func tensor(_ i: Int) -> Tensor { views[i] }

    /// The entry called `name`.
    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Sets every gradient to zero (one pass over the flat buffer).
    public func zeroGradients() {
        gradients.data.update(repeating: 0, count: trainable.count)
    }

    /// The name of the first parameter holding a NaN or an infinity, or nil when every value is finite
    /// (one vectorised pass: `x - x` is 0 for a finite `x` and NaN otherwise).
    public func firstNonFinite() -> String? {
        for e in entries {
            let x = values.data + e.offset
            var acc = SIMD8<Float>()
            var i = 0
            while i + 8 <= e.count {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                acc += v - v
                i += 8
            }
            var tail: Float = 0
            while i < e.count { tail += x[i] - x[i]; i += 1 }
            if (acc.sum() + tail).isNaN { return e.name }
        }
        return nil
    }
}
