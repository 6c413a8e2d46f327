import Autograd

/// Dropout on the adapters' input (PEFT's `lora_dropout`), only while gradients are recorded (training).
///
/// Every mask element is a pure function of a key: (seed, ``stream``, the forward pass's number within
/// the stream, layer, projection, row, column of the full input) hashed with SplitMix64. Nothing else
/// influences it, so a resumed run that sets the same stream for a step draws the same masks (resume stays
/// bitwise), a recomputed block (`train.recompute: block`) replays the masks of its forward pass, and
/// ranks of a `model` axis agree on the masks of replicated and split inputs alike. Ranks of a `data` axis
/// draw their own masks (their streams differ), so with dropout a run's curve depends on its data size.
public struct LoRADropout: Sendable {
    /// The probability of zeroing an element; kept elements are scaled by `1 / (1 - probability)`.
    public let probability: Float
    public let seed: UInt64
    /// Which masks the next forward passes draw; the trainer sets it per step and data rank.
    public var stream: UInt64 = 0
    /// Forward passes recorded in this stream so far.
    var passes: UInt64 = 0

    public init(probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability < 1, "LoRADropout: probability \(probability)")
        (self.probability, self.seed) = (probability, seed)
    }

    /// Starts the masks of stream `stream` (e.g. a step on a data rank) from its first forward pass.
    public mutating func start(stream: UInt64) {
        self.stream = stream
        passes = 0
    }

    /// SplitMix64's finaliser of `x`: a well-mixed 64-bit value.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The key of the next recorded forward pass, or nil when nothing is dropped (probability 0, or no
    /// gradient recorded: evaluation, generation, reference passes).
    mutating func nextPass() -> UInt64? {
        guard probability > 0, GradMode.enabled else { return nil }
        defer { passes += 1 }
        return Self.mix(Self.mix(Self.mix(seed) ^ stream) ^ passes)
    }

    /// The mask `[rows, columns]` of the input to `projection` of `layer` in the pass `pass`, as the
    /// function that writes it (threaded over rows): `0` or `1 / (1 - p)` per element; `columnOffset`
    /// places a rank's split input (`in/M` columns) in the full one.
    func mask(pass: UInt64, layer: Int, projection: Int, rows: Int, columns: Int, fullColumns: Int, columnOffset: Int) -> DropoutMask {
        let key = Self.mix(pass ^ Self.mix(UInt64(layer) << 8 | UInt64(projection)))
        let (keep, probability) = (1 / (1 - probability), probability)
        return { out in
            Parallel.chunks(rows, grain: max(1, (1 << 15) / max(columns, 1))) { r0, r1 in
                for r in r0..<r1 {
                    for c in 0..<columns {
                        let bits = Self.mix(key ^ UInt64(r * fullColumns + columnOffset + c))
                        out[r * columns + c] = Float(bits >> 40) * 0x1p-24 < probability ? 0 : keep
                    }
                }
            }
        }
    }
}
