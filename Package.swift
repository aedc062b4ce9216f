// swift-tools-version:6.0
import PackageDescription

// One target per part of the system: C bindings, the tensor core,
// the network (layers, models, objectives, optimisers), images and datasets, the communicator,
// training, and the `simclr` command line.
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

        .target(name: "Tensors", dependencies: ["CBLAS"], swiftSettings: optimized),
        // Built for AVX2 and FMA whatever the build machine; only called where `CPU.hasAVX2AndFMA`.
        .target(name: "AVX2Kernels", dependencies: ["Tensors"], swiftSettings: optimized + [.unsafeFlags(["-target-cpu", "haswell"])]),
        .target(name: "NN", dependencies: ["Tensors", "AVX2Kernels"], swiftSettings: optimized),
        .target(name: "Optim", dependencies: ["Tensors"], swiftSettings: optimized),
        .target(name: "Formats", dependencies: [], swiftSettings: optimized),
        .target(name: "Images", dependencies: ["Tensors", "CJPEG", "CZlib"], swiftSettings: optimized),
        .target(name: "Distributed", dependencies: ["CMPI"], swiftSettings: optimized),
        .target(name: "Training", dependencies: ["Tensors", "NN", "Optim", "Images", "Distributed", "Formats"],
                swiftSettings: optimized),
        .executableTarget(name: "simclr", dependencies: [
            "Training", "Tensors", "NN", "Images", "Distributed",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimized),

        // Exercised by the Distributed tests under mpirun: each collective on known data.
        .executableTarget(name: "simclr-commcheck", dependencies: ["Distributed"], path: "Sources/CommCheck"),

        .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"]),
        .testTarget(name: "OptimTests", dependencies: ["Optim", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"],
                    resources: [.copy("Fixtures")]),
    ],
    // Numeric kernels share raw pointers across worker threads by design; Swift 5 mode keeps the
    // data-race checker from demanding Sendable wrappers around every one of them.
    swiftLanguageModes: [.v5]
)
