import ArgumentParser
import Mesh
import Training

/// Runs `body` on this rank of the MPI job (a job of one process without mpirun) with the mesh that
/// `--mesh data=D,model=M` describes for a command without a run config: either size may be left out
/// (model 1, data the ranks over model). Errors are one line; on a job of several ranks they end it.
func onMesh(_ text: String?, _ body: (DeviceMesh) throws -> Void) throws {
    try reportingErrors {
        try inWorld { world in
            var sizes = ["data": 0, "model": 1]
            for override in try text.map(RunConfig.meshOverrides) ?? [] {  // mesh.data=2
                let parts = override.dropFirst("mesh.".count).split(separator: "=")
                guard let value = Int(parts[1]), value > 0 else {
                    throw ValidationError("--mesh \(text!): \(parts[0]) must be a positive integer, got '\(parts[1])'")
                }
                sizes[String(parts[0])] = value
            }
            let model = sizes["model"]!, data = sizes["data"]! > 0 ? sizes["data"]! : max(1, world.size / model)
            try body(try DeviceMesh(world: world, data: data, model: model))
        }
    }
}
