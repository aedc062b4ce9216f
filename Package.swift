// swift-tools-version:6.0
import PackageDescription

// One target per part of the system: C bindings, the tensor core, the network (layers, models,
// objectives, optimisers), evaluation probes, file formats, reports (charts, metrics, pages), images
// and datasets, the communicator, training (options, runs), child processes, the pipelines that run
// `simclr` itself, and the `simclr` command line.
let optimized: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "SimCLRSwift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "simclr", targets: ["simclr"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "pkgconf"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin", "pkgconf"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CSpawn"),

        .target(name: "Tensors", dependencies: ["CBLAS"], swiftSettings: optimized),
        // Built for AVX2 and FMA whatever the build machine; only called where `CPU.hasAVX2AndFMA`.
        .target(name: "AVX2Kernels", dependencies: ["Tensors"], swiftSettings: optimized + [.unsafeFlags(["-target-cpu", "haswell"])]),
        .target(name: "NN", dependencies: ["Tensors", "AVX2Kernels"], swiftSettings: optimized),
        .target(name: "Optim", dependencies: ["Tensors"], swiftSettings: optimized),
        .target(name: "Probes", dependencies: ["Tensors", "Optim"], swiftSettings: optimized),
        .target(name: "Formats", dependencies: [], swiftSettings: optimized),
        .target(name: "Report", dependencies: ["Formats"], swiftSettings: optimized),
        .target(name: "Images", dependencies: ["Tensors", "CJPEG", "CPNG", "CZlib"], swiftSettings: optimized),
        .target(name: "Distributed", dependencies: ["CMPI"], swiftSettings: optimized),
        .target(name: "Training", dependencies: [
            "Tensors", "NN", "Optim", "Probes", "Images", "Distributed", "Formats", "Report",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
                swiftSettings: optimized),
        // Child processes, started one way: by `simclr` for its demo and sweeps, and by the tests.
        .target(name: "Spawn", dependencies: ["CSpawn"]),
        // The demo and the sweep: runs of `simclr` itself, as child processes.
        .target(name: "Pipelines", dependencies: ["Training", "Formats", "Images", "Spawn"]),
        .executableTarget(name: "simclr", dependencies: [
            "Training", "Pipelines", "Tensors", "NN", "Images", "Distributed", "Formats",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimized),

        // Exercised by the integration tests under mpirun: each collective on known data.
        .executableTarget(name: "simclr-commcheck", dependencies: ["Distributed"], path: "Sources/CommCheck"),
        // Exercised by the Spawn tests: a parent that is killed while its child runs.
        .executableTarget(name: "simclr-spawncheck", dependencies: ["Spawn"], path: "Sources/SpawnCheck"),

        .target(name: "TestSupport", dependencies: ["Tensors", "NN", "Formats", "Training", "Spawn"],
                path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Tensors", "TestSupport"]),
        .testTarget(name: "OptimTests", dependencies: ["Optim", "Tensors", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "Tensors", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Formats", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "Tensors", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
        .testTarget(name: "SpawnTests", dependencies: ["Spawn", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: [
            "Training", "Pipelines", "Tensors", "NN", "Images", "Distributed", "Formats", "Report", "TestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], resources: [.copy("Fixtures")]),
        // Slow: runs of the simclr binary (alone and under mpirun), simclr-commcheck under mpirun,
        // in-process fine-tuning runs and whole-network gradient checks. `./launch test --fast` skips them.
        .testTarget(name: "IntegrationTests", dependencies: [
            "Training", "Pipelines", "Tensors", "NN", "Optim", "Probes", "Images", "Distributed", "Formats", "TestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ],
    // Numeric kernels share raw pointers across worker threads by design; Swift 5 mode keeps the
    // data-race checker from demanding Sendable wrappers around every one of them.
    swiftLanguageModes: [.v5]
)
