import Autograd
import NN

/// Low-rank adaptation (LoRA, Hu et al. 2021) as PEFT applies it to Gemma: each target weight
/// `W: [out, in]` gains two trainable matrices `A: [r, in]` and `B: [out, r]` and the projection becomes
///
///     y = x·Wᵀ + (alpha / r) · (x·Aᵀ)·Bᵀ          // x: [N, in], y: [N, out]
///
/// `A` starts Kaiming-uniform (PEFT's `kaiming_uniform_(a=sqrt(5))`: uniform(±1/sqrt(in))), `B` at zero,
/// so training starts from the base model's outputs. Targets are PEFT's module names (`q_proj` …
/// `down_proj`, ``GemmaParameter/Row/loraTarget``); the adapters of weight `….q_proj.weight` are called
/// `….q_proj.lora_A.weight` and `….q_proj.lora_B.weight`, PEFT's names without its
/// `base_model.model.` prefix.
public struct LoRA: Sendable, Equatable {
    /// The rank r (> 0).
    public let rank: Int
    /// PEFT's `lora_alpha`; the adapter's output is scaled by `alpha / rank`.
    public let alpha: Double
    /// PEFT module names of the adapted weights, in the table's order.
    public let targets: [String]

    /// Every module name LoRA can adapt, in the table's order.
    public static let targetNames: [String] = GemmaParameter.table.compactMap(\.loraTarget)

    /// - Precondition: `rank > 0` and every target is one of ``targetNames`` (callers validate first).
    public init(rank: Int, alpha: Double, targets: [String]) {
        precondition(rank > 0 && targets.allSatisfy(Self.targetNames.contains), "LoRA: rank \(rank), targets \(targets)")
        self.rank = rank
        self.alpha = alpha
        self.targets = Self.targetNames.filter(targets.contains)
    }

    /// `alpha / rank`, the factor on the adapter's output.
    public var scale: Float { Float(alpha / Double(rank)) }

    /// Whether `parameter` is adapted.
    public func adapts(_ parameter: GemmaParameter) -> Bool {
        parameter.loraTarget.map(targets.contains) ?? false
    }

    /// How `A: [r, in]` and `B: [out, r]` of the weight with sharding `weight` split over the `model` axis
    /// (Megatron's layout, Docs/Distributed.md): a column-parallel weight (rows split) splits B's rows
    /// and keeps A whole; a row-parallel weight (columns split) splits A's columns and keeps B whole (its
    /// rank's partial `B·(A_m·x_m)` joins the projection's sum over the axis); a whole kept tensor's
    /// gradient is summed over the axis, each rank having its part of it.
    public func shardings(of weight: Sharding) -> (a: Sharding, b: Sharding) {
        let (out, input) = (weight.fullShape[0], weight.fullShape[1])
        let (a, b) = ([rank, input], [out, rank])
        let (part, parts) = (weight.part, weight.parts)
        guard parts > 1 || weight.sumsGradient else { return (.replicated(a), .replicated(b)) }
        let whole = { (shape: [Int]) in Sharding(.replicated, fullShape: shape, sumsGradient: true) }
        switch weight.split {
        case .rows: return (whole(a), Sharding(.rows, fullShape: b, part: part, parts: parts))
        case .columns: return (Sharding(.columns, fullShape: a, part: part, parts: parts), whole(b))
        case .replicated: return (whole(a), whole(b))  // k/v shared by the ranks
        }
    }

    /// The names of the `A` and `B` matrices of the weight called `weight` (`….q_proj.weight`).
    public static func adapterNames(of weight: String) -> (a: String, b: String) {
        precondition(weight.hasSuffix(".weight"), "LoRA.adapterNames: \(weight) is not a weight")
        let module = weight.dropLast(".weight".count)
        return ("\(module).lora_A.weight", "\(module).lora_B.weight")
    }
}

extension GemmaModel {
    /// The trainable matrices of one adapted weight (views into ``parameters``).
    struct Adapter {
        let a: Tensor   // [r, in] (this rank's columns of A when the input is split)
        let b: Tensor   // [out, r]
        let role: GemmaParameter.Role
        /// Columns of the full input, and where this rank's start (for dropout masks).
        let fullInput: Int, inputOffset: Int
    }

    /// `x·Wᵀ`, plus the adapter's `(alpha/r)·(dropout(x)·Aᵀ)·Bᵀ` when `weight` is adapted (one fused
    /// ``lowRankLinear(_:_:a:b:scale:dropout:blockElements:)``, which regenerates the mask in backward).
    /// `x: [N, in]` → `[N, out]`; `dropout` is the recorded pass's key and the layer (nil: no dropout).
    func project(_ x: Tensor, _ weight: Weight, _ adapter: Adapter?, dropout: (pass: UInt64, layer: Int)? = nil) -> Tensor {
        guard let adapter, let lora, adaptersEnabled else { return linear(x, weight) }
        let mask = dropout.flatMap { dropout in
            loraDropout?.mask(pass: dropout.pass, layer: dropout.layer, projection: GemmaParameter.Role.allCases.firstIndex(of: adapter.role)!,
                              rows: x.shape[0], columns: x.shape[1], fullColumns: adapter.fullInput, columnOffset: adapter.inputOffset)
        }
        return lowRankLinear(x, weight, a: adapter.a, b: adapter.b, scale: lora.scale, dropout: mask)
    }

    /// PEFT's initialisation of every adapter: `A` uniform(±1/sqrt(in)) from `seed`, drawn over the full
    /// matrices in store order (so any split over a `model` axis starts from the same adapters), `B` zero.
    public func initializeAdapters(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for (i, e) in parameters.entries.enumerated().dropFirst(parameterTable.count) {
            let values = parameters.tensor(i).data
            guard e.name.hasSuffix(".lora_A.weight") else { values.update(repeating: 0, count: e.count); continue }
            let full = e.sharding.fullShape
            let bound = 1 / Float(full[1]).squareRoot()
            let drawn = (0..<full.reduce(1, *)).map { _ in (2 * rng.nextUniform() - 1) * bound }
            drawn.withUnsafeBufferPointer { e.sharding.extract(from: $0.baseAddress!, into: values) }
        }
    }

    /// A model without adapters whose weights are this model's with every adapter merged in
    /// (`W + (alpha/r)·B·A`), the same head and every other tensor copied: what `eval`, `generate`,
    /// `chat` and the merged export run.
    public func merged() -> GemmaModel {
        precondition(tensorParallel == nil, "merged: not available on a model split over ranks")
        let plain = GemmaModel(config: config, head: head)
        plain.copyParameters(from: self)
        guard let lora else { return plain }
        withNoGrad {
            for p in parameterTable where lora.adapts(p) {
                let names = LoRA.adapterNames(of: p.name)
                let delta = matmul(parameters[names.b]!, parameters[names.a]!) * lora.scale  // [out, in]
                let w = plain.parameters[p.name]!.data
                for j in 0..<p.count { w[j] += delta.data[j] }
            }
        }
        return plain
    }

    /// A checksum of the base weights (the tensors of ``parameterTable`` but a reward model's `score`
    /// head, which a LoRA run trains; never the adapters): FNV-1a over the Float32 bit patterns in store
    /// order (of the widened values when the base is stored as bf16), as 16 hex digits. A LoRA checkpoint records it to find the base it adapts.
    /// - Precondition: the model is whole (a split model's ranks use
    ///   ``ModelFile/baseChecksum(of:config:frozen:)`` on the base's file).
    public func baseChecksum() -> String {
        precondition(tensorParallel == nil, "baseChecksum: the model is split over ranks")
        var checksum = BaseChecksum(rounding: false)
        for (i, p) in parameterTable.enumerated() where p.role != .score {
            switch parameters.weight(i) {
            case .float32(let t): checksum.add(UnsafeBufferPointer(start: t.data, count: t.count))
            case .bfloat16(let t): checksum.add(bfloat16: UnsafeBufferPointer(start: t.bits, count: t.count))
            }
        }
        return checksum.hex
    }
}

/// FNV-1a over Float32 bit patterns, fed in order: ``GemmaModel/baseChecksum()``.
struct BaseChecksum {
    private var h: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Whether values are rounded to bf16 before hashing (a base that will be stored as bf16).
    let rounding: Bool

    init(rounding: Bool) { self.rounding = rounding }

    mutating func add(_ values: UnsafeBufferPointer<Float>) {
        for x in values {
            let bits = rounding ? UInt32(BFloat16.bits(x)) << 16 : x.bitPattern
            h = (h ^ UInt64(bits)) &* 0x100_0000_01b3
        }
    }

    /// bf16 values, hashed as their widened Float32 bits.
    mutating func add(bfloat16 bits: UnsafeBufferPointer<UInt16>) {
        for b in bits { h = (h ^ UInt64(UInt32(b) << 16)) &* 0x100_0000_01b3 }
    }

    /// 16 hex digits.
    var hex: String { String(h, radix: 16).leftPadded(to: 16) }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
