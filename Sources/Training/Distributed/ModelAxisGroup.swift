import Autograd
import Gemma
import Mesh

/// The mesh's `model` axis as the tensor-parallel ops see it (``ShardGroup``). A collective that fails
/// inside a forward or backward pass cannot be unwound through the tape, so it ends the whole job with
/// the rank and the failed call (`MPI_Abort`): no rank is left waiting.
final class ModelAxisGroup: ShardGroup {
    let communicator: Communicator
    let world: World

    init(_ communicator: Communicator, world: World) {
        self.communicator = communicator
        self.world = world
    }

    var rank: Int { communicator.rank }
    var size: Int { communicator.size }

    func sum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        do { try communicator.allReduceSum(buffer) } catch { world.abort(message: "model axis: \(error)") }
    }

    func max(_ buffer: UnsafeMutableBufferPointer<Float>) {
        do { try communicator.allReduceMax(buffer) } catch { world.abort(message: "model axis: \(error)") }
    }
}

extension DeviceMesh {
    /// This rank's split of a model over the `model` axis, from the model's config (nil, the whole model,
    /// when the axis has one rank).
    public var modelSplit: TensorParallel.Choice {
        let axis = modelParallel > 1 ? ModelAxisGroup(modelAxis, world: world) : nil
        return { config in try axis.map { try TensorParallel(config: config, group: $0) } }
    }
}
