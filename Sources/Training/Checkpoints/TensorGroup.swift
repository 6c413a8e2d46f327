import Gemma

/// The tensor groups of a checkpoint. Each holds one full (unsharded) Float32 tensor per parameter,
/// named by its Hugging Face name, at `<group path>/<name>`.
public enum TensorGroup: String, CaseIterable, Sendable {
    /// The parameters: `/params/<name>`.
    case params
    /// AdamW's first moment: `/optimizer/m/<name>`.
    case adamM
    /// AdamW's second moment: `/optimizer/v/<name>`.
    case adamV
    /// What the training objective keeps (``TrainingObjective/checkpointTensors(step:)``): `/objective/<name>`.
    case objective

    /// The optimizer's group, which carries its step and hyper-parameters as attributes.
    public static let optimizerGroup = "/optimizer"

    /// The group's path in the file: `/params`, `/optimizer/m` or `/optimizer/v`.
    public var path: String {
        switch self {
        case .params: ModelFile.paramsGroup
        case .adamM: Self.optimizerGroup + "/m"
        case .adamV: Self.optimizerGroup + "/v"
        case .objective: "/objective"
        }
    }

    /// The dataset of tensor `name` in this group, e.g. `/optimizer/m/model.norm.weight`.
    public func dataset(_ name: String) -> String { path + "/" + name }
}
