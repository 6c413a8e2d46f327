/// Reinterprets the elements under a new shape (one dimension may be -1, inferred). Shares storage
/// with `x`; backward hands `g` back under `x`'s shape.
public func reshape(_ x: Tensor, _ shape: [Int]) -> Tensor {
    var shape = shape
    if let hole = shape.firstIndex(of: -1) {
        let known = shape.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
        shapeCheck(known > 0 && x.count % known == 0, "reshape: cannot infer -1 in \(shape) from \(x.shape)")
        shape[hole] = x.count / known
    }
    shapeCheck(shape.reduce(1, *) == x.count, "reshape: \(x.shape) (\(x.count) elements) to \(shape)")
    let out = Tensor(storage: x.storage, offset: x.offset, shape: shape)
    return out.recorded("reshape", [x]) { g in x.accumulateGrad(g) }
}
