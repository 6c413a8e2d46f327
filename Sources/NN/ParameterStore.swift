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
/// no gradient memory and record no gradient. A store made with `frozen: .bfloat16` keeps its frozen
/// tensors as bf16 in a buffer of their own (``weight(_:)`` gives them as ``Weight/bfloat16(_:)``), so
/// ``values`` holds only the trainable ones.
public final class ParameterStore {
    /// How the frozen tensors are stored (`model.frozen_dtype`).
    public enum FrozenDType: String, Codable, CaseIterable, Sendable {
        case float32 = "f32", bfloat16 = "bf16"
    }
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
        /// Whether it is stored as bf16 (`offset` is then into the bf16 buffer, not ``values``).
        public let isBFloat16: Bool
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    /// Elements in ``values`` (Float32) and in the bf16 buffer.
    private var total = 0, bfloat16Total = 0
    /// How frozen tensors are stored.
    public let frozenDType: FrozenDType
    private var bfloat16Values = BFloat16Buffer(count: 0)
    /// `[P]`: all parameter values, once finalised.
    public private(set) var values = Tensor(zeros: [0])
    /// `[trainable.count]`: the gradients of the trainable suffix ``trainable`` of ``values`` (all of it
    /// unless some tensors are frozen); flat position `i` of the store is element `i - trainable.lowerBound`.
    public private(set) var gradients = Tensor(zeros: [0])
    /// The flat positions of the trainable tensors: every position after the frozen ones.
    public var trainable: Range<Int> { firstTrainable..<total }
    private var firstTrainable = 0
    private var views: [Tensor] = []

    /// An empty store; frozen tensors will be stored as `frozen`.
    public init(frozen: FrozenDType = .float32) { frozenDType = frozen }

    /// Number of parameters (elements), Float32 and bf16.
    public var count: Int { total + bfloat16Total }

    /// Bytes the parameter values take (4 per Float32 element, 2 per bf16 one).
    public var valueBytes: Int { 4 * total + 2 * bfloat16Total }

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
        let bf16 = !trainable && frozenDType == .bfloat16
        entries.append(Entry(name: name, shape: shape, offset: bf16 ? bfloat16Total : total, count: n, decay: decay,
                             sharding: sharding, trainable: trainable, isBFloat16: bf16))
        index[name] = entries.count - 1
        if bf16 { bfloat16Total += n } else { total += n }
        if !trainable && !bf16 { firstTrainable = total }
        return entries.count - 1
    }

    /// Allocates the flat buffers (values zeroed) and the views; only trainable views record gradients.
    public func finalize() {
        values = Tensor(zeros: [total])
        gradients = Tensor(zeros: [trainable.count])
        bfloat16Values = BFloat16Buffer(count: bfloat16Total)
        views = entries.map { e in
            guard !e.isBFloat16 else { return Tensor(zeros: [0]) }
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

    /// The Float32 view of entry `i`.
    /// - Precondition: entry `i` is not stored as bf16 (use ``weight(_:)``, ``withValues(_:_:)``).
    public func tensor(_ i: Int) -> Tensor {
        precondition(!entries[i].isBFloat16, "ParameterStore.tensor: \(entries[i].name) is stored as bf16")
        return views[i]
    }

    /// Entry `i` as the ops read it: its Float32 view, or its bf16 tensor.
    public func weight(_ i: Int) -> Weight {
        let e = entries[i]
        return e.isBFloat16 ? .bfloat16(BFloat16Tensor(bfloat16Values, offset: e.offset, shape: e.shape)) : .float32(views[i])
    }

    /// Calls `body` with entry `i`'s values as Float32 (`count` elements): the view itself, or a widened
    /// copy of a bf16 entry.
    public func withValues<R>(_ i: Int, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        guard case .bfloat16(let t) = weight(i) else { return try body(views[i].data) }
        let widened = t.widened()
        return try withExtendedLifetime(widened) { try body(widened.data) }
    }

    /// Writes `count` values into entry `i` from its element `offset` on (rounded when it is bf16).
    public func write(_ i: Int, at offset: Int, from source: UnsafePointer<Float>, count: Int) {
        let e = entries[i]
        precondition(offset >= 0 && offset + count <= e.count, "ParameterStore.write: \(count) values at \(offset) of \(e.name)")
        if e.isBFloat16 {
            BFloat16.round(source, count: count, into: bfloat16Values.base + e.offset + offset)
        } else {
            (views[i].data + offset).update(from: source, count: count)
        }
    }

    /// Calls `body` with a buffer for entry `i`'s values (`count` Float32 elements) that it must fill
    /// entirely: the view itself, or a scratch buffer rounded to bf16 afterwards.
    public func setValues<R>(_ i: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let e = entries[i]
        guard e.isBFloat16 else { return try body(views[i].data) }
        let scratch = Tensor(zeros: e.shape)
        defer { withExtendedLifetime(scratch) {} }
        let result = try body(scratch.data)
        write(i, at: 0, from: scratch.data, count: e.count)
        return result
    }

    /// The position of the entry called `name` (nil if absent).
    public func index(of name: String) -> Int? { index[name] }

    /// The entry called `name`.
    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Sets every gradient to zero (one pass over the flat buffer).
    public func zeroGradients() {
        gradients.data.update(repeating: 0, count: trainable.count)
    }

    /// The name of the first parameter holding a NaN or an infinity, or nil when every value is finite
    /// (one vectorised pass: `x - x` is 0 for a finite `x` and NaN otherwise).
    public func firstNonFinite() -> String? {
        for e in entries where !e.isBFloat16 {  // bf16 entries are frozen (and loaded finite)
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
