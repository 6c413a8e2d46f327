// swift-tools-version: 6.1
// GemmaTrain: train and fine-tune Gemma-architecture models on CPU clusters.
// Layering (arrows point down only; see Docs/Architecture.md):
//   gemma-train -> Training -> Datasets -> Gemma -> Checkpoint -> NN -> Autograd -> COpenBLAS;
//   Training -> Mesh -> CMPI
//   Checkpoint is the only importer of CHDF5, Mesh of CMPI, Autograd of COpenBLAS.
import PackageDescription

/// One settings array for every Swift target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // AVX2 + FMA, the same ISA as OpenBLAS's Haswell kernels (Docs/Performance.md).
    .unsafeFlags(["-target-cpu", "haswell"]),
]

let package = Package(
    name: "GemmaTrain",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gemma-train", targets: ["GemmaTrainCLI"]),
        .library(name: "Autograd", targets: ["Autograd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),

        .target(name: "Autograd", dependencies: ["COpenBLAS"], swiftSettings: swiftSettings),
        .target(name: "NN", dependencies: ["Autograd"], swiftSettings: swiftSettings),
        .target(name: "Mesh", dependencies: ["CMPI"], swiftSettings: swiftSettings),
        .target(name: "Checkpoint", dependencies: ["CHDF5", "NN"], swiftSettings: swiftSettings),
        .target(name: "Gemma", dependencies: ["Checkpoint", "NN", "Autograd"], swiftSettings: swiftSettings),
        .target(name: "Datasets", dependencies: ["Gemma", "Checkpoint"], swiftSettings: swiftSettings),
        .target(
            name: "Training",
            dependencies: ["Datasets", "Gemma", "NN", "Autograd", "Checkpoint", "Mesh", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "GemmaTrainCLI",
            dependencies: [
                "Autograd", "NN", "Mesh", "Checkpoint", "Gemma", "Datasets", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .testTarget(name: "AutogradTests", dependencies: ["Autograd"], swiftSettings: swiftSettings),
        .testTarget(name: "MeshTests", dependencies: ["Mesh"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CheckpointTests", dependencies: ["Checkpoint"], exclude: ["Fixtures"],
            swiftSettings: swiftSettings),
        .testTarget(name: "NNTests", dependencies: ["NN"], swiftSettings: swiftSettings),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        // Runs the built `gemma-train` executable the way a user does.
        .testTarget(name: "GemmaTrainCLITests", dependencies: ["GemmaTrainCLI"], swiftSettings: swiftSettings),
        .testTarget(
            name: "GemmaTests", dependencies: ["Gemma"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
    ]
)
