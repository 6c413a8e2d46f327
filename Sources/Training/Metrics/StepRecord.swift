/// What one optimizer step reports: one line of `metrics.jsonl`, one TensorBoard event, one progress
/// update.
public struct StepRecord: Sendable {
    /// The optimizer step just taken, counting from 1.
    public var step: Int
    /// The step's training loss (token-weighted mean over the global batch).
    public var loss: Float
    /// The learning rate the step used.
    public var lr: Float
    /// The global gradient L2 norm before clipping.
    public var gradNorm: Float
    /// Tokens trained on so far in the run, this step included (the checkpoint's `tokens_seen`).
    public var tokens: Int
    /// This step's throughput: its global tokens over its wall time.
    public var tokensPerSecond: Double
    /// Wall seconds since training started.
    public var elapsedSeconds: Double
    /// Further values, written after the fixed ones in this order: `accuracy` and `margin` for reward
    /// runs, `eval_loss` on evaluation steps. Names must differ from ``fixedKeys`` and each other.
    public var extra: [(String, Double)]

    /// The fixed keys, in the order they are written.
    public static let fixedKeys = ["step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s"]

    public init(step: Int, loss: Float, lr: Float, gradNorm: Float, tokens: Int, tokensPerSecond: Double,
                elapsedSeconds: Double, extra: [(String, Double)] = []) {
        self.step = step
        self.loss = loss
        self.lr = lr
        self.gradNorm = gradNorm
        self.tokens = tokens
        self.tokensPerSecond = tokensPerSecond
        self.elapsedSeconds = elapsedSeconds
        self.extra = extra
    }
}
