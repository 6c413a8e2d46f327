/// The 2-D process grid `data x model` of a run, TPU-pod style (Docs/Distributed.md):
///
///     world rank = d · M + m          d in 0..<D (data index), m in 0..<M (model index)
///
/// The ranks of one model group (same `d`) are contiguous, so `mpirun --map-by` places a model group
/// on one host; the `model` axis shards every layer inside the group (tensor parallel) and the `data`
/// axis replicates the model across groups (data parallel, ZeRO-1).
public struct DeviceMesh: CustomStringConvertible {
    /// Number of model replicas (`D`).
    public let dataParallel: Int
    /// Ranks sharing each layer (`M`).
    public let modelParallel: Int
    /// This rank's position on the `data` axis.
    public let dataRank: Int
    /// This rank's position on the `model` axis.
    public let modelRank: Int
    /// This rank in the world.
    public let worldRank: Int
    /// The ranks with this rank's model index: one per replica (gradients are reduced over it).
    public let dataAxis: Communicator
    /// The ranks of this rank's model group (activations are reduced over it).
    public let modelAxis: Communicator
    /// The job (for ending it when a rank fails).
    public let world: World

    /// A mesh on `world`, or an error naming both sizes when `data x model` differs from the
    /// number of ranks.
    /// - Throws: ``MeshError`` for a bad shape, ``MPIError`` if splitting the communicator fails.
    public init(world: World, data: Int, model: Int) throws {
        guard data > 0, model > 0 else { throw MeshError("mesh data=\(data),model=\(model): both sizes must be positive") }
        guard data * model == world.size else {
            throw MeshError("mesh data=\(data),model=\(model) needs \(data * model) ranks, but the job has \(world.size) (mpirun -np \(data * model))")
        }
        self.world = world
        dataParallel = data
        modelParallel = model
        worldRank = world.rank
        dataRank = world.rank / model
        modelRank = world.rank % model
        modelAxis = try world.communicator.split(color: dataRank, key: modelRank)
        dataAxis = try world.communicator.split(color: modelRank, key: dataRank)
    }

    /// Whether this rank writes files and logs (world rank 0).
    public var isLeader: Bool { worldRank == 0 }

    /// `data=D,model=M`, as the CLI spells a mesh.
    public var description: String { "data=\(dataParallel),model=\(modelParallel)" }
}

/// A mesh that does not fit the job, with a message naming the sizes.
public struct MeshError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
