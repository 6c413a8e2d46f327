import Checkpoint
import Foundation
import Gemma

/// Writes one training checkpoint (version 2, layout in Docs/Checkpoints.md), a tensor at a time, on
/// the rank that saves (rank 0): the mesh gathers each sharded tensor there and passes it to
/// ``write(_:name:shape:values:)``, so memory holds one full tensor at most.
///
/// Nothing is visible under the final name until ``commit(state:tokenizer:)``: the file is written under
/// a hidden temporary name (``AtomicPath``), then flushed, closed, `fsync`ed and renamed over the final
/// name, and the directory's `latest` marker is updated the same way. A crash at any point leaves the
/// previous checkpoint and marker intact. ``abandon()``, an error, or releasing an uncommitted writer
/// removes the temporary file.
///
/// ```swift
/// let writer = try CheckpointWriter(path: directory.checkpointPath(step: 100))
/// for entry in store.entries { try writer.write(.params, name: entry.name, shape: entry.shape, values: ...) }
/// ... the same for .adamM and .adamV ...
/// try writer.commit(state: state, tokenizer: tokenizerBytes)
/// ```
public final class CheckpointWriter {
    /// The final path; errors name it.
    public let path: String
    private let atomic: AtomicPath
    private var file: H5File?
    /// Names and shapes written so far, per group.
    private var written: [TensorGroup: [String: [Int]]] = [:]

    /// Creates the temporary file next to `path` (whose directory must exist).
    /// - Throws: ``CheckpointError`` naming `path` if it cannot be created.
    public init(path: String) throws {
        self.path = path
        atomic = AtomicPath(path)
        do {
            file = try H5File.create(atomic.temporaryPath)
        } catch let error as H5Error {
            throw CheckpointError(file: path, error)
        }
    }

    deinit { abandon() }

    /// Writes one full tensor as `<group>/<name>`, Fletcher-32 checksummed.
    /// - Parameters:
    ///   - group: `.params`, `.adamM` or `.adamV`.
    ///   - name: The Hugging Face name, e.g. `model.layers.0.mlp.up_proj.weight`.
    ///   - shape: The full tensor's shape; `values.count` must equal its product.
    ///   - values: The elements in row-major order.
    /// - Throws: ``CheckpointError`` naming the file and dataset (e.g. a name given twice, a full disk);
    ///   the writer stays usable for ``abandon()`` only.
    public func write(_ group: TensorGroup, name: String, shape: [Int], values: UnsafeBufferPointer<Float>) throws {
        guard let file else { preconditionFailure("CheckpointWriter.write after commit or abandon: \(path)") }
        let dataset = group.dataset(name)
        guard written[group]?[name] == nil else {
            throw CheckpointError(file: path, object: "dataset \(dataset)", reason: "written twice")
        }
        do {
            try file.writeFloats(values, shape: shape, to: dataset)
        } catch let error as H5Error {
            throw CheckpointError(file: path, error, objectKind: "dataset")
        }
        written[group, default: [:]][name] = shape
    }

    /// Finishes the checkpoint: writes `state` and the tokenizer, closes the file, publishes it under
    /// ``path`` (`fsync`, rename, directory `fsync`), then points the directory's `latest` marker at it.
    /// - Parameters:
    ///   - state: Everything besides tensors.
    ///   - tokenizer: The SentencePiece model file's bytes, stored as `/tokenizer/model`.
    ///   - adapters: For a LoRA run, its adaptation and base (root attribute `lora`); `/params` then holds
    ///     only the trainable tensors.
    /// - Throws: ``CheckpointError`` naming the file if a tensor is missing (every parameter needs both
    ///   moments, of its shape) or a write fails: the temporary file is removed and nothing is published.
    ///   If only the marker update fails, the checkpoint is in place and the error names the marker.
    public func commit(state: CheckpointState, tokenizer: [UInt8], adapters: ModelFile.AdapterHeader? = nil) throws {
        guard let file else { preconditionFailure("CheckpointWriter.commit after commit or abandon: \(path)") }
        defer { abandon() }
        try checkComplete()
        do {
            try state.write(to: file)
            if let adapters { try file.setAttribute(ModelFile.loraAttribute, try adapters.jsonText()) }
            try file.writeBytes(tokenizer, to: ModelFile.tokenizerDataset)
            try file.flush()
            try file.close()
        } catch let error as H5Error {
            throw CheckpointError(file: path, error)
        }
        self.file = nil
        do {
            try atomic.commit()
        } catch let error as FileSystemError {
            throw CheckpointError(file: path, reason: error.reason)
        }
        try CheckpointDirectory(containing: path).setLatest(fileName: (path as NSString).lastPathComponent)
    }

    /// Discards (``H5File/discard()``: nothing stays open in HDF5, even on a full disk) and removes the
    /// temporary file unless the checkpoint was committed. Idempotent.
    public func abandon() {
        if let file {
            file.discard()
            self.file = nil
        }
        atomic.abandon()
    }

    /// Throws unless parameters were written and each has both moments of the same shape, and no moment
    /// lacks its parameter.
    private func checkComplete() throws {
        let params = written[.params] ?? [:]
        guard !params.isEmpty else {
            throw CheckpointError(file: path, object: "group \(TensorGroup.params.path)", reason: "no parameters written")
        }
        for group in [TensorGroup.adamM, .adamV] {
            let moments = written[group] ?? [:]
            for (name, shape) in params.sorted(by: { $0.key < $1.key }) where moments[name] != shape {
                throw CheckpointError(
                    file: path, object: "dataset \(group.dataset(name))",
                    reason: moments[name].map { "shape \($0) differs from the parameter's \(shape)" } ?? "not written")
            }
            if let extra = moments.keys.sorted().first(where: { params[$0] == nil }) {
                throw CheckpointError(file: path, object: "dataset \(group.dataset(extra))",
                                      reason: "written, but \(TensorGroup.params.dataset(extra)) was not")
            }
        }
    }
}
