import Autograd

/// Every trainable tensor of a model in one flat Float32 buffer, with named views, and the gradients in a
/// second flat buffer of the same layout (llm.c style): the optimizer is one loop over the buffer, a
/// collective is one call, and checkpoints read and write by name.
///
/// Names are Hugging Face's (`model.layers.0.self_attn.q_proj.weight`), so the store is also the state
/// dict. Register every tensor with ``add(_:shape:decay:)`` before ``finalize()``; afterwards the views
/// are fixed and their `grad` accumulates into ``gradients``.
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
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    private var total = 0
    /// `[P]`: all parameter values, once finalised.
    public private(set) var values = Tensor(zeros: [0])
    /// `[P]`: all gradients, same layout as ``values``.
    public private(set) var gradients = Tensor(zeros: [0])
    private var views: [Tensor] = []

    public init() {}

    /// Number of parameters (elements).
    public var count: Int { total }

    /// Declares a tensor (this rank's shard of it when `sharding` is given); returns its index. Names
    /// must be unique.
    @discardableResult
    public func add(_ name: String, shape: [Int], decay: Bool, sharding: Sharding? = nil) -> Int {
        precondition(views.isEmpty, "ParameterStore.add(\(name)) after finalize()")
        precondition(index[name] == nil, "ParameterStore: duplicate parameter \(name)")
        let sharding = sharding ?? .replicated(shape)
        precondition(sharding.localShape == shape, "ParameterStore.add(\(name)): shape \(shape) is not the shard \(sharding.localShape)")
        let n = shape.reduce(1, *)
        entries.append(Entry(name: name, shape: shape, offset: total, count: n, decay: decay, sharding: sharding))
        index[name] = entries.count - 1
        total += n
        return entries.count - 1
    }

    /// Allocates the flat buffers (values zeroed) and the views.
    public func finalize() {
        values = Tensor(zeros: [total])
        gradients = Tensor(zeros: [total])
        views = entries.map { e in
            let v = values.window(offset: e.offset, shape: e.shape)
            v.requiresGrad = true
            v.attachGradient(gradients.window(offset: e.offset, shape: e.shape))
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
        gradients.data.update(repeating: 0, count: total)
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
